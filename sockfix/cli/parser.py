"""The ``sockfix`` argument parser: one subcommand per command, with their help texts."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from sockfix import __version__
from sockfix.cli.args import (
    _argtype,
    _count,
    _non_negative,
    _port,
    _positive,
    _seed,
    parse_address,
    parse_duration,
    parse_fault,
    parse_rate,
)
from sockfix.cli.defaults import DEFAULT_HOST, DEFAULT_MAX_BYTES, DEFAULT_PORT, EXIT_USAGE
from sockfix.cli.proxy_command import _proxy_command
from sockfix.cli.serve_command import _serve_command
from sockfix.cli.toxiproxy_command import DEFAULT_TOXIPROXY_PORT, _toxiproxy_command

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

_MAIN_EPILOG = """\
examples:
  sockfix serve                      upper-casing echo on 127.0.0.1:9001
  sockfix serve --port 0             the same on a free port (printed first)
  sockfix serve --framing fixed:4    cut what arrives into 4-byte messages
  sockfix serve redis.toml           serve a scenario file (rules, faults, framing)
  sockfix proxy --upstream 127.0.0.1:6379 --framing resp --latency 50ms --record redis.toml
                                     a slow proxy in front of Redis, recording a scenario
  sockfix toxiproxy                  toxiproxy's HTTP API on 127.0.0.1:8474, for its clients

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
  sockfix proxy --upstream 127.0.0.1:6379 --framing resp --latency 50ms --record redis.toml
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
    "length_prefixed:FMT (a struct format such as !I or !H; the prefix is part of the message), "
    "http (one HTTP/1.1 request per message) or resp (one Redis command per message: record "
    "Redis with it, so that each command is a rule that replays in any order)"
)


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


def _add_toxiproxy(commands: argparse._SubParsersAction[_Parser], parent: _Parser) -> None:
    parser = commands.add_parser(
        "toxiproxy",
        streams=parent.streams,
        help="serve toxiproxy's HTTP API: its clients make sockfix proxies and toxics",
        description="Serve toxiproxy's HTTP API in the foreground, in place of the toxiproxy "
        "daemon: toxiproxy clients create proxies and toxics, carried out by sockfix proxies "
        "and faults. The first line printed is 'listening on HOST:PORT'; then one line per "
        "change made through the API and per connect, close, reset or toxic acting. Ctrl-C or "
        "SIGTERM stops it (exit status 0); 2 for bad arguments or a port in use. See "
        "docs/toxiproxy.md.",
    )
    parser.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"address of the API (default {DEFAULT_HOST}); proxies asked for on 0.0.0.0 "
        "listen here too",
    )
    parser.add_argument(
        "--port",
        type=_port,
        default=DEFAULT_TOXIPROXY_PORT,
        metavar="PORT",
        help=f"port of the API (default {DEFAULT_TOXIPROXY_PORT}, toxiproxy's; 0 picks a free one)",
    )
    parser.add_argument(
        "--seed",
        type=_seed,
        default=None,
        metavar="N",
        help="seed of every toxicity draw (default: random, printed): same seed, same draws",
    )
    parser.set_defaults(command=_toxiproxy_command, parser=parser)


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
    _add_toxiproxy(commands, parent=parser)
    return parser
