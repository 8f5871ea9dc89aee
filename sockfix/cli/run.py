"""What a ``sockfix`` command runs: an endpoint (server or proxy) made from its arguments,
started, printed until stopped, then stopped cleanly."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TextIO

from sockfix.cli.args import _one_line
from sockfix.cli.defaults import EXIT_USAGE
from sockfix.cli.output import _host_port, _Printer, _stop_on_signals, _wants_color
from sockfix.core.errors import PortInUseError
from sockfix.core.record import Connection, Event
from sockfix.net.endpoint import Endpoint


class _Config:
    """What a command runs: an endpoint (server or proxy) made from the arguments, and what to
    do once it stopped."""

    command = ""

    def __init__(self, host: str, port: int, max_bytes: int) -> None:
        self.host = host
        self.port = port
        self.max_bytes = max_bytes

    def make_endpoint(self, on_event: Callable[[Connection, Event], None]) -> Endpoint:
        raise NotImplementedError

    def finish(self, endpoint: Endpoint, printer: _Printer, err: TextIO) -> int:
        """After the endpoint stopped: print what is left to say; returns the exit status."""
        raise NotImplementedError


SIGNAL_CHECK_S = 0.1


def _run(config: _Config, stop: threading.Event | None, out: TextIO, err: TextIO) -> int:
    """Start the endpoint, print until ``stop`` is set (or a signal comes), stop it cleanly."""
    name = f"sockfix {config.command}"
    stop = threading.Event() if stop is None else stop
    printer = _Printer(
        out,
        color=_wants_color(out),
        max_bytes=config.max_bytes or None,
        proxy=config.command == "proxy",
    )
    try:
        endpoint = config.make_endpoint(printer.event)
    except (TypeError, ValueError) as exc:  # e.g. an empty --host, a fault for UDP only
        print(f"{name}: {_one_line(exc)}", file=err, flush=True)
        return EXIT_USAGE
    with _stop_on_signals(stop):
        try:
            endpoint.start()
        except PortInUseError:
            print(
                f"{name}: port {config.port} on {config.host} is already in use; "
                "pick another with --port PORT (0 picks a free one)",
                file=err,
                flush=True,
            )
            return EXIT_USAGE
        except OSError as exc:
            print(
                f"{name}: cannot listen on {config.host} port {config.port}: {exc} "
                "(check --host and --port)",
                file=err,
                flush=True,
            )
            return EXIT_USAGE
        try:
            printer.line(f"listening on {_host_port(endpoint.host, endpoint.port)}")
            # Wake now and then: a signal delivered to one of the server's threads only sets a
            # flag, and its Python handler runs when the main thread next runs bytecode; a
            # main thread blocked in an untimed wait would never see Ctrl-C or SIGTERM.
            while not stop.wait(SIGNAL_CHECK_S):
                pass
        finally:
            endpoint.stop(check=False)
    status = config.finish(endpoint, printer, err)
    printer.line("stopped")
    printer.detach_if_broken()
    return status
