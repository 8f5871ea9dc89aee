"""What the ``sockfix`` command prints and how it is stopped: the thread-safe printer, the
colour choice, and SIGINT / SIGTERM setting the stop event."""

from __future__ import annotations

import _thread
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TextIO

from sockfix.core.record import Connection, Event, ProxyConnection
from sockfix.core.transcript import render_event


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
