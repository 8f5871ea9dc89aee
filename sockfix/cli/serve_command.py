"""``sockfix serve``: the upper-casing echo or a scenario file, and :func:`serve`, the same
command as a function."""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections.abc import Callable
from typing import Any, TextIO

from sockfix import framing as framings
from sockfix.cli.args import _one_line
from sockfix.cli.defaults import (
    DEFAULT_HOST,
    DEFAULT_MAX_BYTES,
    DEFAULT_PORT,
    EXIT_OK,
    EXIT_PROBLEMS,
    EXIT_USAGE,
)
from sockfix.cli.output import _Printer
from sockfix.cli.run import _Config, _run
from sockfix.core.handlers import echo
from sockfix.core.record import Connection, Event
from sockfix.core.scenario import load as load_scenario
from sockfix.net.endpoint import Endpoint
from sockfix.net.tcp import TCPServer


class _ServeConfig(_Config):
    """``serve``: the upper-casing echo, or a scenario file."""

    command = "serve"

    def __init__(
        self,
        host: str,
        port: int,
        framing: framings.Framing,
        max_bytes: int,
        scenario: str | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(host, port, max_bytes)
        self.framing = framing
        self.scenario = scenario
        self.seed = seed

    def make_endpoint(self, on_event: Callable[[Connection, Event], None]) -> TCPServer:
        options: dict[str, Any] = {"host": self.host, "port": self.port, "on_event": on_event}
        if self.seed is not None:
            options["seed"] = self.seed
        if self.scenario is not None:
            return TCPServer.from_scenario(self.scenario, **options)
        # The embedded default: the classic socketserver example, upper-casing each message.
        return TCPServer(framing=self.framing, handler=echo(bytes.upper), **options)

    def finish(self, endpoint: Endpoint, printer: _Printer, err: TextIO) -> int:
        problems = endpoint.problems
        for problem in problems:
            printer.line("problem: " + problem.replace("\n", "\n  "))
        # A scenario is a script that the traffic broke; the echo has no script to break.
        if self.scenario is not None and endpoint.strict and problems:
            return EXIT_PROBLEMS
        return EXIT_OK


def _resolve_serve(
    scenario: str | os.PathLike[str] | None,
    host: str | None,
    port: int | None,
    framing: str | framings.Framing | None,
    seed: int | None,
    max_bytes: int,
) -> _ServeConfig:
    """``serve``'s options, the scenario file's where not given; ValueError (one line).

    The port is ``port``, else the scenario's port, else 9001; the host likewise. A framing
    together with a scenario is an error: the file's rules were written for its own framing.
    """
    if scenario is None:
        cut = framings.parse(framing) if isinstance(framing, str) else framing
        return _ServeConfig(
            DEFAULT_HOST if host is None else host,
            DEFAULT_PORT if port is None else port,
            framings.lines() if cut is None else cut,
            max_bytes,
            seed=seed,
        )
    path = os.fspath(scenario)
    loaded = load_scenario(path)  # ScenarioError (a ValueError) naming the file and key
    if framing is not None:
        raise ValueError(
            f"--framing cannot be used with a scenario file: {path} sets its own framing "
            f"({loaded.framing!r}) and its rules are cut by it; change 'framing' in the file"
        )
    if host is None:
        host = DEFAULT_HOST if loaded.host is None else loaded.host
    if port is None:
        port = DEFAULT_PORT if loaded.port is None else loaded.port
    return _ServeConfig(host, port, framings.lines(), max_bytes, scenario=path, seed=seed)


def _serve_command(
    args: argparse.Namespace, stop: threading.Event | None, out: TextIO, err: TextIO
) -> int:
    try:
        config = _resolve_serve(
            args.scenario, args.host, args.port, args.framing, args.seed, args.max_bytes
        )
    except ValueError as exc:
        print(f"sockfix serve: {_one_line(exc)}", file=err, flush=True)
        return EXIT_USAGE
    return _run(config, stop, out, err)


def serve(
    scenario: str | os.PathLike[str] | None = None,
    *,
    host: str | None = None,
    port: int | None = None,
    framing: str | framings.Framing | None = None,
    seed: int | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    stop: threading.Event | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """``sockfix serve`` as a function: serve until ``stop`` is set.

    Serves the upper-casing echo, or the ``scenario`` file when given (on ``port``, else the
    scenario's port, else 9001). Prints ``listening on HOST:PORT``, every event as it happens,
    any problems, then ``stopped``, and returns the exit status: 0, 1 when a scenario saw
    problems, 2 when the port cannot be listened on. ``framing`` is a spec such as
    ``"fixed:4"`` or a framing callable (not with a scenario). A scenario file that cannot be
    read raises :class:`sockfix.ScenarioError`, other bad arguments ValueError. Called from
    the main thread, SIGINT and SIGTERM stop it too.
    """
    config = _resolve_serve(scenario, host, port, framing, seed, max_bytes)
    out = sys.stdout if stdout is None else stdout
    err = sys.stderr if stderr is None else stderr
    return _run(config, stop, out, err)
