"""Fixtures for the CLI tests: ``sockfix`` in subprocesses and in threads, always cleaned up."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from cli_helpers import TIMEOUT, InProcess, ServeProcess

import sockfix


@pytest.fixture
def serve_process() -> Iterator[Callable[..., ServeProcess]]:
    """Start ``python -m sockfix`` subprocesses; each is killed and reaped at teardown."""
    started: list[ServeProcess] = []

    def start(
        *args: str, env: dict[str, str] | None = None, program: list[str] | None = None
    ) -> ServeProcess:
        p = ServeProcess(list(args), env, program)
        started.append(p)
        return p

    yield start
    for p in started:
        p.close()


@pytest.fixture
def in_process() -> Iterator[Callable[..., InProcess]]:
    """Run ``main([...])`` in threads; each is stopped and joined at teardown."""
    started: list[InProcess] = []

    def start(*args: str, tty: bool = False) -> InProcess:
        p = InProcess(list(args), tty)
        started.append(p)
        return p

    yield start
    for p in started:
        p.stop.set()
        p.thread.join(TIMEOUT)


@pytest.fixture
def upstream() -> Iterator[sockfix.TCPServer]:
    """A real server for the proxy to stand in front of: the upper-casing echo, on port 0."""
    with sockfix.TCPServer(handler=sockfix.echo(bytes.upper)) as server:
        yield server
