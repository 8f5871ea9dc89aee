"""The ``sockfix`` command: fake peers in the foreground, with a live transcript.

``sockfix serve`` runs a :class:`sockfix.TCPServer` until Ctrl-C or SIGTERM and prints every
event as it happens. With no arguments it serves the upper-casing echo of the classic
socketserver example on 127.0.0.1:9001; ``sockfix serve FILE.toml`` serves a scenario file.
``sockfix proxy --upstream HOST:PORT`` runs a :class:`sockfix.TCPProxy` the same way, with
faults from options, and ``--record FILE`` saves what it saw as a scenario to serve later.

``main(argv)`` is the console script and ``python -m sockfix``; ``main(..., stop=event)``
runs any command until ``event`` is set. :func:`serve` is ``sockfix serve`` as a function.
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Callable, Sequence
from typing import TextIO

# Every name the single-module ``sockfix.cli`` had stays reachable from here.
from sockfix.cli.args import _DURATION as _DURATION
from sockfix.cli.args import _RATE as _RATE
from sockfix.cli.args import _RATE_UNITS as _RATE_UNITS
from sockfix.cli.args import _argtype as _argtype
from sockfix.cli.args import _count as _count
from sockfix.cli.args import _fault_value as _fault_value
from sockfix.cli.args import _non_negative as _non_negative
from sockfix.cli.args import _one_line as _one_line
from sockfix.cli.args import _port as _port
from sockfix.cli.args import _positive as _positive
from sockfix.cli.args import _seed as _seed
from sockfix.cli.args import parse_address as parse_address
from sockfix.cli.args import parse_duration as parse_duration
from sockfix.cli.args import parse_fault as parse_fault
from sockfix.cli.args import parse_rate as parse_rate
from sockfix.cli.defaults import DEFAULT_HOST, DEFAULT_PORT, EXIT_USAGE
from sockfix.cli.defaults import DEFAULT_MAX_BYTES as DEFAULT_MAX_BYTES
from sockfix.cli.defaults import EXIT_OK as EXIT_OK
from sockfix.cli.defaults import EXIT_PROBLEMS as EXIT_PROBLEMS
from sockfix.cli.output import _host_port as _host_port
from sockfix.cli.output import _Printer as _Printer
from sockfix.cli.output import _stop_on_signals as _stop_on_signals
from sockfix.cli.output import _wants_color as _wants_color
from sockfix.cli.parser import _FRAMING_HELP as _FRAMING_HELP
from sockfix.cli.parser import _MAIN_EPILOG as _MAIN_EPILOG
from sockfix.cli.parser import _PROXY_DESCRIPTION as _PROXY_DESCRIPTION
from sockfix.cli.parser import _PROXY_EPILOG as _PROXY_EPILOG
from sockfix.cli.parser import _SERVE_DESCRIPTION as _SERVE_DESCRIPTION
from sockfix.cli.parser import _SERVE_EPILOG as _SERVE_EPILOG
from sockfix.cli.parser import _add_proxy as _add_proxy
from sockfix.cli.parser import _add_serve as _add_serve
from sockfix.cli.parser import _Parser, build_parser
from sockfix.cli.proxy_command import _proxy_command as _proxy_command
from sockfix.cli.proxy_command import _proxy_config as _proxy_config
from sockfix.cli.proxy_command import _ProxyConfig as _ProxyConfig
from sockfix.cli.run import _Config as _Config
from sockfix.cli.run import _run as _run
from sockfix.cli.serve_command import _resolve_serve as _resolve_serve
from sockfix.cli.serve_command import _serve_command as _serve_command
from sockfix.cli.serve_command import _ServeConfig as _ServeConfig
from sockfix.cli.serve_command import serve

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "main", "serve"]


def main(
    argv: Sequence[str] | None = None,
    *,
    stop: threading.Event | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run the ``sockfix`` command line; returns the exit status.

    ``stop`` ends a running ``serve`` or ``proxy`` when set (Ctrl-C and SIGTERM set it too,
    when called from the main thread); ``stdout`` / ``stderr`` default to the process's own.
    """
    out = sys.stdout if stdout is None else stdout
    err = sys.stderr if stderr is None else stderr
    parser = build_parser(stdout, stderr)
    try:
        args, extra = parser.parse_known_args(list(sys.argv[1:] if argv is None else argv))
        if extra:  # name the command whose options they are not
            where: _Parser = getattr(args, "parser", parser)
            where.error(f"unrecognized arguments: {' '.join(extra)}")
    except SystemExit as exc:  # --help, --version and usage errors: argparse printed already
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    command: Callable[[argparse.Namespace, threading.Event | None, TextIO, TextIO], int] | None
    command = getattr(args, "command", None)
    if command is None:
        parser.print_help(err)
        return EXIT_USAGE
    try:
        status: int = command(args, stop, out, err)
    except KeyboardInterrupt:  # Ctrl-C before the handlers were in place, or after
        return 130
    return status
