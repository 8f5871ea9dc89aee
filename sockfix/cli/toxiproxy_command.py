"""``sockfix toxiproxy``: toxiproxy's HTTP API (a :class:`sockfix.ToxiproxyServer`) in the
foreground, in place of the toxiproxy daemon: one line per change made through the API and per
connection event of its proxies (connects, closes, resets, toxics acting), until Ctrl-C or
SIGTERM."""

from __future__ import annotations

import argparse
import threading
from typing import TextIO

from sockfix.cli.args import _one_line
from sockfix.cli.defaults import EXIT_OK, EXIT_USAGE
from sockfix.cli.output import _host_port, _Printer, _stop_on_signals, _wants_color
from sockfix.cli.run import SIGNAL_CHECK_S
from sockfix.core.errors import PortInUseError
from sockfix.core.record import Connection, Event, ProxyConnection
from sockfix.core.transcript import render_event
from sockfix.net.toxiproxy import ToxiproxyServer

DEFAULT_TOXIPROXY_PORT = 8474  # toxiproxy's own, where its clients look by default
SHOWN = frozenset({"connect", "close", "reset", "fault", "error"})  # no data events


def _toxiproxy_command(
    args: argparse.Namespace, stop: threading.Event | None, out: TextIO, err: TextIO
) -> int:
    name = "sockfix toxiproxy"
    stop = threading.Event() if stop is None else stop
    color = _wants_color(out)
    printer = _Printer(out, color=color, max_bytes=None, proxy=True)

    def event(proxy: str, conn: Connection, ev: Event) -> None:
        if ev.kind in SHOWN:
            side = "" if isinstance(conn, ProxyConnection) else " up"
            line = render_event(ev, hexdump=False, color=color)[0]
            printer.line(f"[{proxy} {conn.number}{side}] {line}")

    try:
        api = ToxiproxyServer(
            host=args.host, port=args.port, seed=args.seed, on_change=printer.line, on_event=event
        )
    except (TypeError, ValueError) as exc:  # e.g. an empty --host
        print(f"{name}: {_one_line(exc)}", file=err, flush=True)
        return EXIT_USAGE
    with _stop_on_signals(stop):
        try:
            api.start()
        except PortInUseError:
            print(
                f"{name}: port {args.port} on {args.host} is already in use (a toxiproxy "
                "daemon?); pick another with --port PORT (0 picks a free one)",
                file=err,
                flush=True,
            )
            return EXIT_USAGE
        except OSError as exc:
            print(
                f"{name}: cannot listen on {args.host} port {args.port}: {exc} "
                "(check --host and --port)",
                file=err,
                flush=True,
            )
            return EXIT_USAGE
        try:
            printer.line(f"listening on {_host_port(api.host, api.port)}")
            printer.line(f"seed {api.seed} (--seed {api.seed} replays every toxicity draw)")
            while not stop.wait(SIGNAL_CHECK_S):  # wake now and then: see run.py
                pass
        finally:
            api.stop()
    printer.line("stopped")
    printer.detach_if_broken()
    return EXIT_OK
