"""``sockfix proxy``: a TCPProxy in front of ``--upstream``, with faults from options, maybe
recording what it saw as a scenario."""

from __future__ import annotations

import argparse
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from sockfix import faults as _faults
from sockfix import framing as framings
from sockfix.cli.args import _one_line
from sockfix.cli.defaults import EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE
from sockfix.cli.output import _Printer
from sockfix.cli.run import _Config, _run
from sockfix.core.faults import Direction
from sockfix.core.record import Connection, Event
from sockfix.net.endpoint import Endpoint
from sockfix.net.proxy import TCPProxy


class _ProxyConfig(_Config):
    """``proxy``: a TCPProxy in front of ``upstream``, with faults, maybe recording."""

    command = "proxy"

    def __init__(
        self,
        upstream: tuple[str, int],
        host: str,
        port: int,
        max_bytes: int,
        *,
        framing: framings.Framing,
        seed: int | None,
        faults: list[_faults.Fault],
        direction: Direction,
        record: str | None,
    ) -> None:
        super().__init__(host, port, max_bytes)
        self.upstream = upstream
        self.framing = framing
        self.seed = seed
        self.faults = faults
        self.direction = direction
        self.record = record

    def make_endpoint(self, on_event: Callable[[Connection, Event], None]) -> TCPProxy:
        proxy = TCPProxy(
            upstream=self.upstream,
            host=self.host,
            port=self.port,
            seed=self.seed,
            framing=self.framing,
            on_event=on_event,
        )
        for fault in self.faults:
            proxy.fault(fault, direction=self.direction)
        return proxy

    def finish(self, endpoint: Endpoint, printer: _Printer, err: TextIO) -> int:
        if self.record is None:
            return EXIT_OK
        assert isinstance(endpoint, TCPProxy)
        try:
            endpoint.save_scenario(self.record)
        except (OSError, ValueError) as exc:  # ScenarioError: the framing did not fit
            print(
                f"sockfix proxy: cannot record to {self.record}: {_one_line(exc)}",
                file=err,
                flush=True,
            )
            return EXIT_PROBLEMS
        n = len(endpoint.connections)
        printer.line(f"recorded {n} connection{'' if n == 1 else 's'} to {self.record}")
        return EXIT_OK


def _proxy_config(args: argparse.Namespace) -> _ProxyConfig:
    """Resolve the proxy's arguments; ValueError (one line) for a bad one or combination."""
    if args.jitter is not None and args.latency is None:
        raise ValueError(
            "--jitter needs --latency: the jitter spreads the latency, "
            "e.g. --latency 50ms --jitter 10ms"
        )
    framing = framings.parse(args.framing)
    chosen: list[_faults.Fault] = []
    if args.latency is not None:
        chosen.append(_faults.Latency(args.latency, jitter=args.jitter or 0.0))
    if args.chunked is not None:
        chosen.append(_faults.Chunked(args.chunked))
    if args.bandwidth is not None:
        chosen.append(_faults.Bandwidth(args.bandwidth))
    if args.truncate is not None:
        chosen.append(_faults.Truncate(args.truncate))
    if args.reset_after is not None:
        chosen.append(_faults.Reset(after_bytes=args.reset_after))
    chosen += args.fault
    record = args.record
    if record is not None:
        target = Path(record)
        if target.is_dir():
            raise ValueError(
                f"--record {record}: is a directory; name a file, e.g. {record}/x.toml"
            )
        if not target.parent.is_dir():
            raise ValueError(
                f"--record {record}: the directory {target.parent} does not exist; create it first"
            )
    return _ProxyConfig(
        args.upstream,
        args.host,
        args.port,
        args.max_bytes,
        framing=framing,
        seed=args.seed,
        faults=chosen,
        direction=args.direction,
        record=record,
    )


def _proxy_command(
    args: argparse.Namespace, stop: threading.Event | None, out: TextIO, err: TextIO
) -> int:
    try:
        config = _proxy_config(args)
    except ValueError as exc:
        print(f"sockfix proxy: {_one_line(exc)}", file=err, flush=True)
        return EXIT_USAGE
    return _run(config, stop, out, err)
