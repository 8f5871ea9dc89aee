"""The ``sockfix`` command: fake peers in the foreground, with a live transcript.

``sockfix serve`` runs a :class:`sockfix.TCPServer` until Ctrl-C or SIGTERM and prints every
event as it happens. With no arguments it serves the upper-casing echo of the classic
socketserver example on 127.0.0.1:9001.

``main(argv)`` is the console script and ``python -m sockfix``. :func:`serve` is the same
command as a function that a ``threading.Event`` can stop, for tests and embedding.
"""

from __future__ import annotations

import _thread
import argparse
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING, Any, TextIO

from sockfix import __version__
from sockfix import framing as framings
from sockfix.core.errors import PortInUseError
from sockfix.core.handlers import echo
from sockfix.core.record import Connection, Event
from sockfix.core.transcript import render_event
from sockfix.net.tcp import TCPServer

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "main", "serve"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9001
DEFAULT_MAX_BYTES = 4096

EXIT_OK = 0
EXIT_USAGE = 2  # bad arguments, unknown framing, a port that cannot be listened on

_MAIN_EPILOG = """\
examples:
  sockfix serve                      upper-casing echo on 127.0.0.1:9001
  sockfix serve --port 0             the same on a free port (printed first)
  sockfix serve --framing fixed:4    cut what arrives into 4-byte messages

  then, in another terminal:
  printf 'give me five\\n' | nc 127.0.0.1 9001      answers GIVE ME FIVE

run 'sockfix COMMAND --help' for the options of a command.
"""

_SERVE_DESCRIPTION = """\
Run a fake TCP server in the foreground and print a live transcript of every connection.
With no arguments it serves the upper-casing echo of the classic socketserver example: each
message is answered with itself in upper case.

The first line printed is 'listening on HOST:PORT' (the real port, also with --port 0); then
one entry per event, prefixed with the connection number: connects, bytes in (<<) and out (>>)
as escaped text and hex rows, closes and resets. Ctrl-C or SIGTERM stops it (exit status 0)."""

_SERVE_EPILOG = """\
examples:
  sockfix serve
      listening on 127.0.0.1:9001
      [1] +0.000000s -- connect  (from 127.0.0.1:53412)
      [1] +0.000213s << in      13 B  give me five\\n
      [1]              00000000  67 69 76 65 20 6d 65 20  66 69 76 65 0a           |give me five.|
      [1] +0.000257s >> out     13 B  GIVE ME FIVE\\n
      ...
  sockfix serve --port 0 --host ::1
  sockfix serve --framing delimited:'\\r\\n'
  sockfix serve --framing length_prefixed:!H

exit status: 0 when stopped by Ctrl-C or SIGTERM, 2 for bad arguments, an unknown framing,
or a port that cannot be listened on.
"""

_FRAMING_HELP = (
    "how received bytes are cut into messages: lines (the default, up to and including \\n), "
    "raw (whatever has arrived), fixed:N, delimited:SEP (escapes such as \\r\\n allowed), "
    "length_prefixed:FMT (a struct format such as !I or !H; the prefix is part of the message)"
)


# -- the command line --------------------------------------------------------------------------


def _port(text: str) -> int:
    try:
        port = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not in 0..65535 (0 picks a free port)")
    return port


def _non_negative(text: str) -> int:
    try:
        n = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"{n} is negative (0 shows everything)")
    return n


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that prints help and usage errors to the streams ``main`` was given."""

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


def _add_serve(commands: argparse._SubParsersAction[_Parser], parent: _Parser) -> None:
    parser = commands.add_parser(
        "serve",
        streams=parent.streams,
        help="run a fake TCP server with a live transcript (default: upper-casing echo)",
        description=_SERVE_DESCRIPTION,
        epilog=_SERVE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    # Issue 4 adds the optional positional SCENARIO.toml here; _serve_config reads it.
    parser.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"address to listen on (default {DEFAULT_HOST}; ::1 for IPv6)",
    )
    parser.add_argument(
        "--port",
        type=_port,
        default=None,
        metavar="PORT",
        help=f"port to listen on (default {DEFAULT_PORT}; 0 picks a free one)",
    )
    parser.add_argument("--framing", default="lines", metavar="SPEC", help=_FRAMING_HELP)
    parser.add_argument(
        "--max-bytes",
        type=_non_negative,
        default=DEFAULT_MAX_BYTES,
        metavar="N",
        help=f"show at most N bytes of each event (default {DEFAULT_MAX_BYTES}; 0: no limit)",
    )
    parser.set_defaults(command=_serve_command)


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
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    stop: threading.Event | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run the ``sockfix`` command line; returns the exit status.

    ``stop`` ends a running ``serve`` when set (Ctrl-C and SIGTERM set it too, when called from
    the main thread); ``stdout`` / ``stderr`` default to the process's own.
    """
    out = sys.stdout if stdout is None else stdout
    err = sys.stderr if stderr is None else stderr
    parser = build_parser(stdout, stderr)
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
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


# -- serve -----------------------------------------------------------------------------------


class _ServeConfig:
    """What ``serve`` runs: the server's options, resolved from the arguments."""

    def __init__(self, host: str, port: int, framing: framings.Framing, max_bytes: int) -> None:
        self.host = host
        self.port = port
        self.framing = framing
        self.max_bytes = max_bytes

    def make_server(self, on_event: Callable[[Connection, Event], None]) -> TCPServer:
        # The embedded default: the classic socketserver example, upper-casing each message.
        return TCPServer(
            host=self.host,
            port=self.port,
            framing=self.framing,
            handler=echo(bytes.upper),
            on_event=on_event,
        )


def _serve_config(args: argparse.Namespace) -> _ServeConfig:
    """Resolve the arguments; ValueError (one line) for a bad one.

    A scenario file (issue 4) is resolved here too: its rules, faults and framing, and its
    port when ``--port`` is not given (``--port``, else the scenario's port, else 9001).
    """
    framing = framings.parse(args.framing)
    port = DEFAULT_PORT if args.port is None else args.port
    return _ServeConfig(args.host, port, framing, args.max_bytes)


def _serve_command(
    args: argparse.Namespace, stop: threading.Event | None, out: TextIO, err: TextIO
) -> int:
    try:
        config = _serve_config(args)
    except ValueError as exc:
        print(f"sockfix serve: {exc}", file=err, flush=True)
        return EXIT_USAGE
    return _run(config, stop, out, err)


def serve(
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    framing: str | framings.Framing = "lines",
    max_bytes: int = DEFAULT_MAX_BYTES,
    stop: threading.Event | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """``sockfix serve`` as a function: serve the upper-casing echo until ``stop`` is set.

    Prints ``listening on HOST:PORT``, every event as it happens, then ``stopped``, and
    returns the exit status (2 when the port cannot be listened on). ``framing`` is a spec
    such as ``"fixed:4"`` or a framing callable. Called from the main thread, SIGINT and
    SIGTERM stop it too.
    """
    cut = framings.parse(framing) if isinstance(framing, str) else framing
    config = _ServeConfig(host, port, cut, max_bytes)
    out = sys.stdout if stdout is None else stdout
    err = sys.stderr if stderr is None else stderr
    return _run(config, stop, out, err)


def _run(config: _ServeConfig, stop: threading.Event | None, out: TextIO, err: TextIO) -> int:
    """Start the server, print until ``stop`` is set (or a signal comes), stop it cleanly."""
    stop = threading.Event() if stop is None else stop
    printer = _Printer(out, color=_wants_color(out), max_bytes=config.max_bytes or None)
    try:
        server = config.make_server(printer.event)
    except (TypeError, ValueError) as exc:  # e.g. an empty --host
        print(f"sockfix serve: {exc}", file=err, flush=True)
        return EXIT_USAGE
    with _stop_on_signals(stop):
        try:
            server.start()
        except PortInUseError:
            print(
                f"sockfix serve: port {config.port} on {config.host} is already in use; "
                "pick another with --port PORT (0 picks a free one)",
                file=err,
                flush=True,
            )
            return EXIT_USAGE
        except OSError as exc:
            print(
                f"sockfix serve: cannot listen on {config.host} port {config.port}: {exc} "
                "(check --host and --port)",
                file=err,
                flush=True,
            )
            return EXIT_USAGE
        try:
            printer.line(f"listening on {_host_port(server.host, server.port)}")
            stop.wait()
        finally:
            server.stop(check=False)
    for problem in server.problems:
        printer.line("problem: " + problem.replace("\n", "\n  "))
    printer.line("stopped")
    printer.detach_if_broken()
    return EXIT_OK


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

    def __init__(self, out: TextIO, *, color: bool, max_bytes: int | None) -> None:
        self._out = out
        self._color = color
        self._max_bytes = max_bytes
        self._lock = threading.Lock()
        self.broken = False

    def line(self, text: str) -> None:
        self._write(text + "\n")

    def event(self, conn: Connection, event: Event) -> None:
        """The server's ``on_event``: one event, each line prefixed with its connection."""
        prefix = f"[{conn.number}] "
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
