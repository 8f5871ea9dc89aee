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

import _thread
import argparse
import os
import re
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from sockfix import __version__
from sockfix import faults as _faults
from sockfix import framing as framings
from sockfix.core.errors import PortInUseError
from sockfix.core.handlers import echo
from sockfix.core.record import Connection, Event
from sockfix.core.scenario import load as load_scenario
from sockfix.core.transcript import render_event
from sockfix.net.base import Peer
from sockfix.net.proxy import ProxyConnection, TCPProxy
from sockfix.net.tcp import TCPServer

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "main", "serve"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9001
DEFAULT_MAX_BYTES = 4096

EXIT_OK = 0
EXIT_PROBLEMS = 1  # a strict scenario saw problems; a recording could not be written
EXIT_USAGE = 2  # bad arguments or scenario file, unknown framing, a port that cannot be used

_MAIN_EPILOG = """\
examples:
  sockfix serve                      upper-casing echo on 127.0.0.1:9001
  sockfix serve --port 0             the same on a free port (printed first)
  sockfix serve --framing fixed:4    cut what arrives into 4-byte messages
  sockfix serve redis.toml           serve a scenario file (rules, faults, framing)
  sockfix proxy --upstream 127.0.0.1:6379 --latency 50ms --record redis.toml
                                     a slow proxy in front of Redis, recording a scenario

  then, in another terminal:
  printf 'give me five\\n' | nc 127.0.0.1 9001      answers GIVE ME FIVE

run 'sockfix COMMAND --help' for the options of a command.
"""

_SERVE_DESCRIPTION = """\
Run a fake TCP server in the foreground and print a live transcript of every connection.
With no arguments it serves the upper-casing echo of the classic socketserver example: each
message is answered with itself in upper case. With SCENARIO.toml it serves that scenario
file instead (its rules, faults, framing and seed; see docs/scenarios.md), strict unless the
file says strict = false.

The first line printed is 'listening on HOST:PORT' (the real port, also with --port 0); then
one entry per event, prefixed with the connection number: connects, bytes in (<<) and out (>>)
as escaped text and hex rows, closes and resets. Ctrl-C or SIGTERM stops it; problems the
server saw are printed as 'problem: ...' lines, then 'stopped'."""

_SERVE_EPILOG = """\
examples:
  sockfix serve
      listening on 127.0.0.1:9001
      [1] +0.000000s -- connect  (from 127.0.0.1:53412)
      [1] +0.000213s << in      13 B  give me five\\n
      [1]              00000000  67 69 76 65 20 6d 65 20  66 69 76 65 0a           |give me five.|
      [1] +0.000257s >> out     13 B  GIVE ME FIVE\\n  (handler)
      ...
  sockfix serve --port 0 --host ::1
  sockfix serve --framing delimited:'\\r\\n'
  sockfix serve --framing length_prefixed:!H
  sockfix serve redis.toml                  replay what 'sockfix proxy --record' saved
  sockfix serve redis.toml --port 0         the same on a free port

exit status: 0 when stopped by Ctrl-C or SIGTERM; 1 when a scenario (strict) saw problems:
a message no rule matched, a rule with 'times' not used up, bytes left unframed; 2 for bad
arguments, a scenario file that cannot be read or breaks the schema, an unknown framing, or
a port that cannot be listened on.
"""

_PROXY_DESCRIPTION = """\
Run the recording, fault-injecting TCP proxy in the foreground: clients connect to it, it
connects to --upstream for each of them and passes the bytes both ways, through the faults
given as options, printing a live transcript.

The first line printed is 'listening on HOST:PORT' (127.0.0.1 and a free port unless --host
and --port say otherwise). Each event line is prefixed with its connection: '[1]' for the
client's side (<< in: what the client sent, >> out: what it was sent), '[1 up]' for the
upstream side (>> out: what went to the server, << in: what the server answered). Ctrl-C or
SIGTERM stops it; with --record FILE it then writes what it saw as a scenario file that
'sockfix serve FILE' replays."""

_PROXY_EPILOG = """\
examples:
  sockfix proxy --upstream 127.0.0.1:6379
      listening on 127.0.0.1:40211
      [1] +0.000000s -- connect  (from 127.0.0.1:53412)
      [1 up] +0.000300s -- connect  (to 127.0.0.1:6379)
      [1] +0.000512s << in      14 B  *1\\r\\n$4\\r\\nPING\\r\\n
      [1 up] +0.000601s >> out     14 B  *1\\r\\n$4\\r\\nPING\\r\\n
      [1 up] +0.000890s << in       7 B  +PONG\\r\\n
      [1] +0.000950s >> out      7 B  +PONG\\r\\n
      ...
  sockfix proxy --upstream 127.0.0.1:6379 --latency 50ms --record redis.toml
  sockfix serve redis.toml                   then: replay it offline, no Redis needed
  sockfix proxy --upstream db.internal:5432 --port 15432 --chunked 1 --direction downstream
  sockfix proxy --upstream 127.0.0.1:8080 --latency 0.2s --jitter 50ms --seed 7
  sockfix proxy --upstream 127.0.0.1:8080 --bandwidth 64k --reset-after 10000
  sockfix proxy --upstream [::1]:8080 --fault corrupt:0.01 --fault garbage:16

durations: 50ms, 0.05s or 0.05 (seconds). rates: bytes per second, with k (1000),
M (1000000), Ki (1024) or Mi (1048576): 64k, 1.5M, 64Ki. Byte counts (--reset-after,
--truncate) count the bytes passing in each direction the fault applies to.

exit status: 0 when stopped by Ctrl-C or SIGTERM; 1 when --record could not be written;
2 for bad arguments (an --upstream without a port, a bad duration, --jitter without
--latency, an unknown fault) or a port that cannot be listened on.
"""

_FRAMING_HELP = (
    "how received bytes are cut into messages: lines (the default, up to and including \\n), "
    "raw (whatever has arrived), fixed:N, delimited:SEP (escapes such as \\r\\n allowed), "
    "length_prefixed:FMT (a struct format such as !I or !H; the prefix is part of the message)"
)


# -- argument types ------------------------------------------------------------------------------


def _port(text: str) -> int:
    try:
        port = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not in 0..65535 (0 picks a free one)")
    return port


def _non_negative(text: str) -> int:
    try:
        n = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"{n} is negative (0 shows everything)")
    return n


def _count(text: str) -> int:
    """A byte count: a whole number >= 0."""
    try:
        n = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of bytes") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"{n} is negative: write a number of bytes >= 0")
    return n


def _positive(text: str) -> int:
    try:
        n = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"{n} is not positive: write a size >= 1")
    return n


def _seed(text: str) -> int:
    try:
        return int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer seed") from None


_DURATION = re.compile(r"(?P<n>\d+(?:\.\d*)?|\.\d+)\s*(?P<unit>ms|s)?")


def parse_duration(text: str) -> float:
    """Seconds from ``50ms``, ``0.05s``, ``0.05`` or ``1s``; ValueError otherwise."""
    m = _DURATION.fullmatch(text.strip())
    if m is None:
        raise ValueError(
            f"{text!r} is not a duration: write seconds (0.05, 1s) or milliseconds (50ms)"
        )
    seconds = float(m["n"])
    return seconds / 1000 if m["unit"] == "ms" else seconds


_RATE = re.compile(r"(?P<n>\d+(?:\.\d*)?|\.\d+)\s*(?P<unit>k|K|M|Ki|Mi)?(?:B)?(?:/s)?")
_RATE_UNITS = {None: 1, "k": 1000, "K": 1000, "M": 1_000_000, "Ki": 1024, "Mi": 1024 * 1024}


def parse_rate(text: str) -> int:
    """Bytes per second from ``65536``, ``64k`` (x1000), ``1.5M``, ``64Ki`` (x1024), ``1Mi``."""
    m = _RATE.fullmatch(text.strip())
    if m is None:
        raise ValueError(
            f"{text!r} is not a rate: write bytes per second, e.g. 65536, 64k (x1000), "
            "1.5M (x1000000), 64Ki (x1024)"
        )
    rate = round(float(m["n"]) * _RATE_UNITS[m["unit"]])
    if rate < 1:
        raise ValueError(f"{text!r} is below 1 byte per second")
    return rate


def parse_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (IPv6 as ``[::1]:PORT``) as a pair; ValueError naming the fix."""
    example = "write HOST:PORT, e.g. 127.0.0.1:6379 or [::1]:6379"
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or not rest.startswith(":"):
            raise ValueError(f"{text!r} has no port: {example}")
        port_text = rest[1:]
    else:
        host, colon, port_text = text.rpartition(":")
        if not colon:
            raise ValueError(f"{text!r} has no port: {example}")
        if ":" in host:
            raise ValueError(f"{text!r}: write an IPv6 address in brackets, e.g. [{host}]:PORT")
    if not host:
        raise ValueError(f"{text!r} has no host: {example}")
    try:
        port = int(port_text, 10)
    except ValueError:
        raise ValueError(f"{text!r}: {port_text!r} is not a port number; {example}") from None
    if not 1 <= port <= 65535:
        raise ValueError(f"{text!r}: port {port} is not in 1..65535")
    return host, port


def _argtype(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """An argparse ``type=`` from a parser that raises ValueError with a message."""

    def convert(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = parse.__name__
    return convert


def _fault_value(text: str) -> int | float:
    try:
        return int(text, 10)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return parse_duration(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None


def parse_fault(spec: str) -> _faults.Fault:
    """``NAME`` or ``NAME:ARG,ARG,KEY=VALUE`` as a fault (``sockfix.faults.build``)."""
    name, _, arg_text = spec.partition(":")
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    names = ", ".join(sorted(_faults.REGISTRY))
    try:
        for part in filter(None, (p.strip() for p in arg_text.split(","))):
            key, equals, value = part.partition("=")
            if equals:
                kwargs[key.strip()] = _fault_value(value.strip())
            else:
                args.append(_fault_value(part))
        return _faults.build(name.strip(), *args, **kwargs)
    except (TypeError, ValueError) as exc:
        hint = "" if "choose from" in str(exc) else f" (faults: {names})"
        raise ValueError(
            f"{spec!r}: {_one_line(exc)}; write NAME or NAME:ARG,KEY=VALUE, e.g. corrupt:0.01{hint}"
        ) from None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split("\n"))


# -- the command line --------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that prints to the streams ``main`` was given, errors as one line."""

    def __init__(
        self, *args: Any, streams: tuple[TextIO | None, TextIO | None] = (None, None), **kw: Any
    ) -> None:
        super().__init__(*args, **kw)
        self.streams = streams

    def _print_message(self, message: str, file: SupportsWrite[str] | None = None) -> None:
        out, err = self.streams
        if file is sys.stdout and out is not None:
            file = out
        elif file is sys.stderr and err is not None:
            file = err
        super()._print_message(message, file)

    def error(self, message: str) -> NoReturn:
        """One line on stderr that names the problem and where the help is; exit status 2."""
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see '{self.prog} --help')\n")


def _add_serve(commands: argparse._SubParsersAction[_Parser], parent: _Parser) -> None:
    parser = commands.add_parser(
        "serve",
        streams=parent.streams,
        help="run a fake TCP server with a live transcript (default: upper-casing echo)",
        description=_SERVE_DESCRIPTION,
        epilog=_SERVE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "scenario",
        nargs="?",
        default=None,
        metavar="SCENARIO.toml",
        help="a scenario file to serve (rules, faults, framing, seed); without it, the "
        "upper-casing echo",
    )
    parser.add_argument(
        "--host",
        default=None,
        help=f"address to listen on (default: the scenario's host, else {DEFAULT_HOST}; "
        "::1 for IPv6)",
    )
    parser.add_argument(
        "--port",
        type=_port,
        default=None,
        metavar="PORT",
        help=f"port to listen on (default: the scenario's port, else {DEFAULT_PORT}; "
        "0 picks a free one)",
    )
    parser.add_argument(
        "--framing",
        default=None,
        metavar="SPEC",
        help=_FRAMING_HELP + ". Not with a scenario file: it sets its own framing",
    )
    parser.add_argument(
        "--seed",
        type=_seed,
        default=None,
        metavar="N",
        help="seed for the scenario's random faults (default: the scenario's seed, else random)",
    )
    parser.add_argument(
        "--max-bytes",
        type=_non_negative,
        default=DEFAULT_MAX_BYTES,
        metavar="N",
        help=f"show at most N bytes of each event (default {DEFAULT_MAX_BYTES}; 0: no limit)",
    )
    parser.set_defaults(command=_serve_command, parser=parser)


def _add_proxy(commands: argparse._SubParsersAction[_Parser], parent: _Parser) -> None:
    parser = commands.add_parser(
        "proxy",
        streams=parent.streams,
        help="run the fault-injecting, recording TCP proxy with a live transcript",
        description=_PROXY_DESCRIPTION,
        epilog=_PROXY_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--upstream",
        required=True,
        type=_argtype(parse_address),
        metavar="HOST:PORT",
        help="the real server to pass connections to (IPv6 as [::1]:PORT)",
    )
    parser.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"address to listen on (default {DEFAULT_HOST}; ::1 for IPv6)",
    )
    parser.add_argument(
        "--port",
        type=_port,
        default=0,
        metavar="PORT",
        help="port to listen on (default 0: a free one, printed first)",
    )
    parser.add_argument(
        "--record",
        default=None,
        metavar="FILE",
        help="on stop, write what the proxy saw to FILE as a scenario ('sockfix serve FILE' "
        "replays it)",
    )
    parser.add_argument(
        "--framing",
        default="lines",
        metavar="SPEC",
        help="how --record cuts the client's bytes into requests (default lines): "
        + _FRAMING_HELP.split(": ", 1)[1],
    )
    parser.add_argument(
        "--seed",
        type=_seed,
        default=None,
        metavar="N",
        help="seed for random faults (--jitter, --fault corrupt...): same seed, same faults",
    )
    parser.add_argument(
        "--max-bytes",
        type=_non_negative,
        default=DEFAULT_MAX_BYTES,
        metavar="N",
        help=f"show at most N bytes of each event (default {DEFAULT_MAX_BYTES}; 0: no limit)",
    )
    group = parser.add_argument_group(
        "faults", "applied to every connection, in the directions --direction names"
    )
    group.add_argument(
        "--direction",
        choices=("upstream", "downstream", "both"),
        default="both",
        help="where the faults act: upstream (client to server), downstream (server to "
        "client) or both (the default, each direction on its own)",
    )
    group.add_argument(
        "--latency",
        type=_argtype(parse_duration),
        default=None,
        metavar="DURATION",
        help="delay every chunk passed on: 50ms, 0.05s or 0.05",
    )
    group.add_argument(
        "--jitter",
        type=_argtype(parse_duration),
        default=None,
        metavar="DURATION",
        help="with --latency: each delay is drawn from [latency - jitter, latency + jitter]",
    )
    group.add_argument(
        "--chunked",
        type=_positive,
        default=None,
        metavar="N",
        help="pass bytes on in separate sends of N bytes (partial reads for the peer)",
    )
    group.add_argument(
        "--bandwidth",
        type=_argtype(parse_rate),
        default=None,
        metavar="RATE",
        help="limit to RATE bytes per second: 65536, 64k (x1000), 1.5M, 64Ki (x1024)",
    )
    group.add_argument(
        "--reset-after",
        type=_count,
        default=None,
        metavar="N",
        help="reset both sides (a real RST) once N bytes have passed (0: on connect)",
    )
    group.add_argument(
        "--truncate",
        type=_count,
        default=None,
        metavar="N",
        help="pass N bytes, then close the connection",
    )
    group.add_argument(
        "--fault",
        type=_argtype(parse_fault),
        action="append",
        default=[],
        metavar="NAME[:ARGS]",
        help="any fault of sockfix.faults by name, repeatable: corrupt:0.01, garbage:16, "
        "close:100, hang, timeout:2, slow_close:1, half_close, latency:0.1,jitter=0.02",
    )
    parser.set_defaults(command=_proxy_command, parser=parser)


def build_parser(stdout: TextIO | None = None, stderr: TextIO | None = None) -> _Parser:
    """The ``sockfix`` argument parser (one subcommand per command)."""
    parser = _Parser(
        prog="sockfix",
        streams=(stdout, stderr),
        description="Throwaway fake network peers: run them from the command line.",
        epilog=_MAIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"sockfix {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    _add_serve(commands, parent=parser)
    _add_proxy(commands, parent=parser)
    return parser


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


# -- what runs ---------------------------------------------------------------------------------


class _Config:
    """What a command runs: a peer made from the arguments, and what to do once it stopped."""

    command = ""

    def __init__(self, host: str, port: int, max_bytes: int) -> None:
        self.host = host
        self.port = port
        self.max_bytes = max_bytes

    def make_peer(self, on_event: Callable[[Connection, Event], None]) -> Peer:
        raise NotImplementedError

    def finish(self, peer: Peer, printer: _Printer, err: TextIO) -> int:
        """After the peer stopped: print what is left to say; returns the exit status."""
        raise NotImplementedError


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

    def make_peer(self, on_event: Callable[[Connection, Event], None]) -> TCPServer:
        options: dict[str, Any] = {"host": self.host, "port": self.port, "on_event": on_event}
        if self.seed is not None:
            options["seed"] = self.seed
        if self.scenario is not None:
            return TCPServer.from_scenario(self.scenario, **options)
        # The embedded default: the classic socketserver example, upper-casing each message.
        return TCPServer(framing=self.framing, handler=echo(bytes.upper), **options)

    def finish(self, peer: Peer, printer: _Printer, err: TextIO) -> int:
        problems = peer.problems
        for problem in problems:
            printer.line("problem: " + problem.replace("\n", "\n  "))
        # A scenario is a script that the traffic broke; the echo has no script to break.
        if self.scenario is not None and peer.strict and problems:
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
        direction: str,
        record: str | None,
    ) -> None:
        super().__init__(host, port, max_bytes)
        self.upstream = upstream
        self.framing = framing
        self.seed = seed
        self.faults = faults
        self.direction = direction
        self.record = record

    def make_peer(self, on_event: Callable[[Connection, Event], None]) -> TCPProxy:
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

    def finish(self, peer: Peer, printer: _Printer, err: TextIO) -> int:
        if self.record is None:
            return EXIT_OK
        assert isinstance(peer, TCPProxy)
        try:
            peer.save_scenario(self.record)
        except (OSError, ValueError) as exc:  # ScenarioError: the framing did not fit
            print(
                f"sockfix proxy: cannot record to {self.record}: {_one_line(exc)}",
                file=err,
                flush=True,
            )
            return EXIT_PROBLEMS
        n = len(peer.connections)
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


def _run(config: _Config, stop: threading.Event | None, out: TextIO, err: TextIO) -> int:
    """Start the peer, print until ``stop`` is set (or a signal comes), stop it cleanly."""
    name = f"sockfix {config.command}"
    stop = threading.Event() if stop is None else stop
    printer = _Printer(
        out,
        color=_wants_color(out),
        max_bytes=config.max_bytes or None,
        proxy=isinstance(config, _ProxyConfig),
    )
    try:
        peer = config.make_peer(printer.event)
    except (TypeError, ValueError) as exc:  # e.g. an empty --host, a fault for UDP only
        print(f"{name}: {_one_line(exc)}", file=err, flush=True)
        return EXIT_USAGE
    with _stop_on_signals(stop):
        try:
            peer.start()
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
            printer.line(f"listening on {_host_port(peer.host, peer.port)}")
            stop.wait()
        finally:
            peer.stop(check=False)
    status = config.finish(peer, printer, err)
    printer.line("stopped")
    printer.detach_if_broken()
    return status


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _wants_color(out: TextIO) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (non-empty, https://no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    try:
        return out.isatty()
    except (AttributeError, ValueError):  # closed or not a real stream
        return False


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """While inside, SIGINT and SIGTERM set ``stop`` (only the main thread can catch them)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        if not stop.is_set():
            # Not stop.set() here: the handler runs in the main thread between two bytecodes,
            # possibly while that thread holds the event's own lock inside stop.wait(), and
            # the lock is not reentrant. A bare thread (no threading locks) sets it instead.
            _thread.start_new_thread(stop.set, ())

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


class _Printer:
    """Writes whole lines from any thread: one lock, a flush per entry, quiet once broken."""

    def __init__(
        self, out: TextIO, *, color: bool, max_bytes: int | None, proxy: bool = False
    ) -> None:
        self._out = out
        self._color = color
        self._max_bytes = max_bytes
        self._proxy = proxy
        self._lock = threading.Lock()
        self.broken = False

    def line(self, text: str) -> None:
        self._write(text + "\n")

    def event(self, conn: Connection, event: Event) -> None:
        """The peer's ``on_event``: one event, each line prefixed with its connection.

        A proxy reports its client side with the :class:`ProxyConnection` and its upstream side
        with ``conn.upstream``, a plain connection of the same number: marked ``[N up]``.
        """
        upstream = self._proxy and not isinstance(conn, ProxyConnection)
        prefix = f"[{conn.number} up] " if upstream else f"[{conn.number}] "
        lines = render_event(event, color=self._color, max_bytes=self._max_bytes)
        self._write("".join(prefix + line + "\n" for line in lines))

    def _write(self, text: str) -> None:
        with self._lock:
            if self.broken:
                return
            try:
                self._out.write(text)
                self._out.flush()
            except (OSError, ValueError):  # the reader went away (EPIPE) or the stream closed
                self.broken = True

    def detach_if_broken(self) -> None:
        """After a broken stdout pipe, point fd 1 at /dev/null so exiting stays quiet."""
        if not self.broken or self._out is not sys.stdout:
            return
        try:
            fd = sys.stdout.fileno()
            devnull = os.open(os.devnull, os.O_WRONLY)
        except (OSError, ValueError):
            return
        try:
            os.dup2(devnull, fd)
        finally:
            os.close(devnull)
