"""The pytest plugin (entry point ``pytest11: sockfix``): options, fixtures, the report section.

No logic lives here: servers stop and check themselves, and transcripts render themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from typing import Any

import pytest

from sockfix.core.errors import StrictError
from sockfix.net.runtime import watch
from sockfix.net.tcp import TCPServer

__all__ = ["SECTION_TITLE", "TRANSCRIPT_CHOICES"]

SECTION_TITLE = "sockfix"
TRANSCRIPT_OPTION = "--sockfix-transcript"
TRANSCRIPT_CHOICES = ("on-failure", "always", "never")
TRANSCRIPT_DESC = (
    "when to add the traffic of every sockfix server a test used to its report: "
    "on-failure (default), always, never"
)
SEED_OPTION = "--sockfix-seed"
SEED_DESC = "seed for every server the sockfix fixtures make (replays the same faults)"
MAX_SERVERS_SHOWN = 8

_SEEN = pytest.StashKey[list[Any]]()
_MADE = pytest.StashKey[list[Any]]()
_CALL_FAILED = pytest.StashKey[bool]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sockfix", "sockfix fake network peers")
    group.addoption(
        TRANSCRIPT_OPTION,
        choices=TRANSCRIPT_CHOICES,
        default=None,
        dest="sockfix_transcript",
        help=TRANSCRIPT_DESC,
    )
    parser.addini("sockfix_transcript", TRANSCRIPT_DESC, default="on-failure")
    group.addoption(SEED_OPTION, type=int, default=None, dest="sockfix_seed", help=SEED_DESC)


def _transcript_mode(config: pytest.Config) -> str:
    mode = config.getoption("sockfix_transcript") or config.getini("sockfix_transcript")
    if mode not in TRANSCRIPT_CHOICES:
        raise pytest.UsageError(
            f"sockfix_transcript = {mode!r} in the ini file: choose one of "
            f"{', '.join(TRANSCRIPT_CHOICES)}"
        )
    return str(mode)


def pytest_configure(config: pytest.Config) -> None:
    _transcript_mode(config)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(
    item: pytest.Item, nextitem: pytest.Item | None
) -> Generator[None, object, object]:
    seen: list[Any] = []
    item.stash[_SEEN] = seen
    item.stash[_MADE] = []
    try:
        with watch(seen.append):
            return (yield)
    finally:
        for server in seen:  # servers a test started and never stopped: stop them, quietly
            server.stop(check=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    result = yield
    # The test body passed: report strict problems now, as a failure of the test itself.
    errors: list[StrictError] = []
    for server in item.stash.get(_MADE, []):
        try:
            server.check()
        except StrictError as exc:
            errors.append(exc)
    _raise_all(errors)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call":
        item.stash[_CALL_FAILED] = report.failed
    mode = _transcript_mode(item.config)
    servers = item.stash.get(_SEEN, [])
    wanted = (mode == "always" and report.when == "call") or (mode != "never" and report.failed)
    if servers and wanted:
        report.sections.append((SECTION_TITLE, _render(servers)))
    return report


def _render(servers: list[Any]) -> str:
    shown = servers[-MAX_SERVERS_SHOWN:]
    parts = []
    if len(servers) > len(shown):
        parts.append(
            f"({len(servers) - len(shown)} earlier servers of this test not shown; "
            f"the last {len(shown)} follow)"
        )
    parts += [s.transcript() for s in shown]
    return "\n\n".join(parts)


def _raise_all(errors: list[StrictError]) -> None:
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise StrictError(
            "\n\n".join(str(e) for e in errors), [p for e in errors for p in e.problems]
        )


def _factory(request: pytest.FixtureRequest, cls: type[Any]) -> Iterator[Callable[..., Any]]:
    made: list[Any] = []
    item_made = request.node.stash.get(_MADE, None)
    seed = request.config.getoption("sockfix_seed")

    def make(**kwargs: Any) -> Any:
        if seed is not None:
            kwargs.setdefault("seed", seed)
        server = cls(**kwargs)
        server.start()
        made.append(server)
        if item_made is not None:
            item_made.append(server)
        return server

    yield make
    errors: list[StrictError] = []
    for server in made:
        try:
            server.stop()
        except StrictError as exc:
            errors.append(exc)
    if not request.node.stash.get(_CALL_FAILED, False):
        _raise_all(errors)


@pytest.fixture
def make_tcp_server(request: pytest.FixtureRequest) -> Iterator[Callable[..., TCPServer]]:
    """A factory: ``make_tcp_server(**options)`` returns a started ``sockfix.TCPServer``.

    Takes the keywords of ``TCPServer``; everything it started is stopped at teardown, and a
    strict server's problems fail the test.
    """
    yield from _factory(request, TCPServer)


@pytest.fixture
def tcp_server(make_tcp_server: Callable[..., TCPServer]) -> TCPServer:
    """A started ``sockfix.TCPServer`` on 127.0.0.1 and an ephemeral port, stopped at teardown."""
    return make_tcp_server()
