"""The one executor and the one read loop, used by every stream: a server's connection and
both ways of a proxied link.

- :class:`Reader` reads one socket until EOF, a reset, an error or ``stop()``, records how the
  stream ended, and knows when everything that arrived has been handled (:meth:`settled`).
- :class:`Executor` carries out actions (send, wait, close, reset, half-close, hang, note) on an
  :class:`End`: the socket written to and its recording. What "close" and "reset" mean (one
  socket, or a whole proxied link) is the end's; everything else is the same wherever it runs.
- :func:`send_recorded` records before it sends; :func:`send_rst` closes with a RST.

Every wait wakes early on ``stop()``; aborting (from the stopping thread) shuts the socket
down, which also wakes a blocked ``recv`` or ``send``.
"""

from __future__ import annotations

import contextlib
import fcntl
import math
import select
import socket
import ssl
import struct
import termios
import threading
import time
from collections.abc import Callable, Iterable
from typing import Protocol

from sockfix.core.actions import (
    Action,
    Close,
    HalfClose,
    Hang,
    Note,
    Reset,
    Send,
    StartTLS,
    steps,
)
from sockfix.core.record import Connection, EventKind

__all__ = [
    "RECV_SIZE",
    "SMALL_RECV",
    "End",
    "Executor",
    "Reader",
    "handshake_fault",
    "next_recv_size",
    "pending_bytes",
    "raw_shutdown",
    "send_recorded",
    "send_rst",
]

RECV_SIZE = 1024 * 1024  # the most one read takes: a bulk stream comes in few, large chunks
# The first read, and any after a small one: under glibc's 128 KiB mmap threshold, so a small
# message costs a heap block, not an mmap + mremap (and a 4 KiB mapping kept per recorded read).
SMALL_RECV = 64 * 1024


def next_recv_size(size: int, got: int) -> int:
    """The size of the next read, after one of ``size`` that brought ``got`` bytes."""
    if got == size:
        return RECV_SIZE
    if got < 16 * 1024:
        return SMALL_RECV
    return size


_LINGER_ZERO = struct.pack("ii", 1, 0)
raw_shutdown = socket.socket.shutdown  # SSLSocket.shutdown would drop its SSL state mid-read


def send_rst(sock: socket.socket) -> tuple[EventKind, str]:
    """Close ``sock`` with a RST instead of a FIN (SO_LINGER on, timeout 0); the event that
    close is for the peer, and what to add to its note.

    On TCP: ``("reset", "")``. A Unix socket has no RST: closing it resets the peer
    (ECONNRESET) only when bytes it sent are still unread here (``"reset"``), else the peer
    sees a plain EOF (``"close"``); the text says which.
    """
    if sock.family == socket.AF_UNIX:
        try:
            unread = pending_bytes(sock)
        except (OSError, ValueError):
            unread = 0
        sock.close()
        if unread:
            return "reset", (
                f"a Unix socket, closed with {unread} bytes unread: the peer sees ECONNRESET"
            )
        return "close", "a Unix socket has no RST and nothing was unread: closed, the peer sees EOF"
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_ZERO)
    sock.close()
    return "reset", ""


def send_recorded(
    sock: socket.socket,
    rec: Connection,
    data: bytes,
    note: str = "",
    stopping: threading.Event | None = None,
) -> OSError | None:
    """Send all of ``data`` on ``sock`` as one ``"out"`` event of ``rec``; the error that
    stopped it, if any.

    The event is recorded *before* sending, so that no peer ever holds bytes that ``sent``
    does not show yet; if the send fails part way it is amended to the prefix that went
    (and said to be cut by ``stop()`` when ``stopping`` is set).
    """
    token = rec.record_out(data, note)
    done = 0
    try:
        done = sock.send(data)  # a blocking send nearly always takes it all at once
        if done < len(data):
            view = memoryview(data)
            while done < len(data):
                done += sock.send(view[done:])
    except OSError as exc:
        rec.amend_out(token, data[:done], stopped=stopping is not None and stopping.is_set())
        return exc
    return None


def handshake_fault(reader: Reader, rec: Connection, actions: list[Action]) -> bool:
    """Carry out a handshake fault (``HandshakeHang``, ``HandshakeReset``) in place of a TLS
    handshake: its notes, then the client's first bytes (its ClientHello) recorded as a
    ``"fault"`` event (it is the handshake, not application bytes: ``received`` stays empty).
    True when the caller must now reset the stream; else the fault hangs: every later byte is
    recorded the same way until the client or ``stop()`` ends the stream.

    A Unix socket resets its peer only with bytes unread, so there the ClientHello is peeked
    at, not taken: the client sees ECONNRESET as on TCP.
    """
    for action in actions:
        if isinstance(action, Note):
            rec.record("fault", note=action.text)
    resetting = any(isinstance(a, Reset) for a in actions)
    sock = reader.sock
    if resetting and sock.family == socket.AF_UNIX:
        with contextlib.suppress(OSError, ValueError):
            select.select([sock], [], [])  # readable: the hello, or stop()'s shutdown
            hello = sock.recv(65536, socket.MSG_PEEK)
            if hello and not reader.stopping.is_set():
                rec.record("fault", hello, f"TLS ClientHello ({len(hello)} bytes), not answered")
        return True
    got = reader.read()
    if got is not None:
        rec.record("fault", got, f"TLS ClientHello ({len(got)} bytes), not answered")
    if resetting:
        return True
    while got is not None and (got := reader.read()) is not None:
        rec.record("fault", got, f"TLS handshake bytes ({len(got)}), not answered")
    return False


def pending_bytes(sock: socket.socket) -> int:
    """Bytes that arrived on ``sock`` and were not read yet (decrypted ones included)."""
    pending = sock.pending() if isinstance(sock, ssl.SSLSocket) else 0
    raw = fcntl.ioctl(sock.fileno(), termios.FIONREAD, b"\0" * 4)
    return pending + int(struct.unpack("i", raw)[0])


def _never() -> bool:
    return False


_TCP_INFO_SIZE = 136  # struct tcp_info up to tcpi_bytes_received (Linux 4.1 and later)


def received_bytes(sock: socket.socket) -> int | None:
    """The bytes TCP socket ``sock`` received so far, by the kernel's count (a FIN counts
    one), or None where it cannot say (not Linux, not TCP)."""
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _TCP_INFO_SIZE)
    except (OSError, AttributeError):
        return None
    if len(info) < _TCP_INFO_SIZE:
        return None
    return int(struct.unpack_from("Q", info, 128)[0])


class Reader:
    """The one read loop of a stream: :meth:`read` gives chunks until the stream ends.

    How it ended is recorded on ``rec`` (``"eof"``, ``"reset"`` by peer, ``"error"``) and kept
    in :attr:`ended`, unless the endpoint is stopping or ``over()`` says the stream was ended
    on purpose elsewhere (the other way of a proxied link).

    :meth:`settled` never sees a moment where a chunk has left the socket but is not handled
    yet. On a plain TCP socket on Linux the reader counts what it took, and compares it with
    what the kernel counts as received (``TCP_INFO``): a chunk waiting, or taken but not yet
    counted, shows as a difference. Elsewhere (TLS, other systems) it waits for the socket to
    be readable *before* it takes bytes out, which costs a system call per read.
    """

    __slots__ = (
        "_counted",
        "_over",
        "_poll",
        "_size",
        "busy",
        "ended",
        "pausing",
        "rec",
        "sock",
        "stopping",
        "taken",
    )

    def __init__(
        self,
        sock: socket.socket,
        rec: Connection,
        stopping: threading.Event,
        over: Callable[[], bool] = _never,
    ) -> None:
        self.sock = sock
        self.rec = rec
        self.stopping = stopping
        self._over = over
        self.busy = True  # handling what it read (or not reading yet)
        self.pausing = False  # the stream's executor waits out a delay
        self.ended = ""
        self.taken = 0  # bytes taken out of the socket
        self._size = SMALL_RECV
        self._poll = select.poll()
        fd = sock.fileno()
        self._counted = False
        if fd < 0:  # closed before the loop began (the other way of a link ended it)
            self.ended = "stopped"
        else:
            self._poll.register(fd, select.POLLIN)
            if type(sock) is socket.socket and sock.type == socket.SOCK_STREAM:
                self._counted = received_bytes(sock) is not None  # the kernel counts too

    def use(self, sock: socket.socket) -> None:
        """Read from ``sock`` from now on (the same stream, upgraded to TLS by STARTTLS)."""
        self.sock = sock
        self._counted = False  # the kernel counts encrypted bytes: wait for readable instead
        self._poll = select.poll()
        self._poll.register(sock.fileno(), select.POLLIN)

    def read(self) -> bytes | None:
        """The next chunk; None once the stream ended."""
        if self.ended:
            return None
        self.busy = False
        if not self._counted and not self._decrypted():
            self._poll.poll()
            self.busy = True
        return self._recv()

    def drain(self, seconds: float, sink: Callable[[bytes], object]) -> bool:
        """Read for ``seconds``, giving each chunk to ``sink`` (nothing is answered); False
        once the stream ended."""
        if self.ended:
            return False
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if not self._decrypted():
                self.busy = False
                ready = self._poll.poll(max(1, math.ceil(left * 1000)))
                self.busy = True
                if not ready:
                    continue
            data = self._recv()
            if data is None:
                return False
            sink(data)
        return True

    def settled(self) -> bool:
        """True when the stream is over, waits out a delay (``settle()`` never waits one out:
        what comes meanwhile cannot be handled before it ends), or waits for bytes with none
        pending.

        The socket is asked first, the flag second: a reader woken for bytes that were
        pending is busy by the time the flag is read (or the bytes are still pending).
        """
        if self.ended or self.pausing:
            return True
        taken = self.taken  # first, then the socket, then the flag (see the class docstring)
        try:
            if self._counted:  # all that came was taken (and counted), none waits
                idle = received_bytes(self.sock) == taken
            else:
                idle = pending_bytes(self.sock) == 0
        except (OSError, ValueError):  # closed meanwhile: over
            return True
        return idle and not self.busy

    def _decrypted(self) -> bool:
        sock = self.sock
        return isinstance(sock, ssl.SSLSocket) and sock.pending() > 0

    def _recv(self) -> bytes | None:
        size = self._size
        try:
            data = self.sock.recv(size)
            self.busy = True  # before the count: counted but idle would look settled
        except ConnectionResetError:
            self._end("reset", "by peer")
            return None
        except OSError as exc:
            self._end("error", f"recv: {exc}")
            return None
        if not data:
            self._end("eof", "peer closed its side")
            return None
        got = len(data)
        self.taken += got
        if got == size or got < 16384:
            self._size = next_recv_size(size, got)
        return data

    def _end(self, kind: str, note: str) -> None:
        self.ended = kind
        if kind == "error" and self.stopping.is_set():
            self.ended = "stopped"  # stop() shut the socket down: not the peer's doing
        elif not (self.stopping.is_set() or self._over()):
            self.rec.record(kind, note=note)  # type: ignore[arg-type]
        else:
            self.ended = "stopped"


class End(Protocol):
    """Where an executor's actions act: ``sock`` is written to, ``rec`` records it."""

    sock: socket.socket
    rec: Connection

    def note(self, text: str) -> None:
        """Record a ``"fault"`` event saying what a fault did."""

    def close(self, note: str) -> None:
        """End the stream with a FIN."""

    def reset(self, note: str) -> None:
        """End the stream with a RST."""

    def peer_gone(self) -> None:
        """A send found the peer gone (ECONNRESET, EPIPE): record it and end the stream."""

    def over(self) -> bool:
        """True once the stream was ended elsewhere (nothing more is sent)."""

    def hang(self) -> None:
        """What comes from now on is recorded, never answered (a hang for good)."""

    def absorb(self, data: bytes) -> None:
        """Record ``data`` read during a timed hang (nothing answers it, now or later)."""

    def starttls(self, note: str) -> bool:
        """Upgrade the stream to TLS (server side) here; False when it could not (recorded)."""


class Executor:
    """Carries out actions on one :class:`End`, reading from ``reader`` while it hangs."""

    __slots__ = ("end", "muted", "reader", "stopping", "write_closed")

    def __init__(self, end: End, stopping: threading.Event, reader: Reader | None) -> None:
        self.end = end
        self.stopping = stopping
        self.reader = reader
        self.muted = False  # hanging for good: read and record, answer nothing
        self.write_closed = False  # half-closed: nothing more is sent

    def run(self, actions: Iterable[Action]) -> bool:
        """Carry out ``actions`` in order; False once the stream is over."""
        end = self.end
        for delay, action in steps(actions):
            if delay and self._pause(delay):
                return False
            kind = type(action)
            if kind is Send:
                assert isinstance(action, Send)
                if self.write_closed:
                    end.note(f"{len(action.data)} bytes not sent: the write side is closed")
                elif end.over() or not self.send(action.data, action.note):
                    return False
            elif kind is Note:
                assert isinstance(action, Note)
                end.note(action.text)
            elif kind is Close:
                assert isinstance(action, Close)
                end.close(action.note)
                return False
            elif kind is Reset:
                assert isinstance(action, Reset)
                end.reset(action.note)
                return False
            elif kind is Hang:
                assert isinstance(action, Hang)
                if action.seconds is None:  # for good: what comes is recorded, never answered
                    end.hang()
                    self.muted = True
                    return True
                if not self._hang_for(action.seconds):  # a stall: then the next action
                    return False
            elif kind is StartTLS:
                assert isinstance(action, StartTLS)
                if not end.starttls(action.note):
                    return False
            elif kind is HalfClose:
                self.write_closed = True
                close_notify = getattr(end.sock, "close_notify", None)  # a shared TLS socket
                if close_notify is not None:
                    close_notify()
                with contextlib.suppress(OSError):
                    raw_shutdown(end.sock, socket.SHUT_WR)
            # a Wait step is only its delay
        return True

    def send(self, data: bytes, note: str = "") -> bool:
        """Send all of ``data`` (see :func:`send_recorded`); False once the stream is over."""
        end = self.end
        exc = send_recorded(end.sock, end.rec, data, note, self.stopping)
        if exc is None:
            return True
        if self.stopping.is_set() or end.over():
            return False  # stop() (or the other way of a link) shut the socket down
        if isinstance(exc, ConnectionResetError | BrokenPipeError):
            end.peer_gone()
        else:
            end.rec.record("error", note=f"send: {exc}")
        return False

    def _pause(self, seconds: float) -> bool:
        """Wait ``seconds`` (a delay, a gap between pieces); True if stop() came first."""
        reader = self.reader
        if reader is None:
            return self.stopping.wait(seconds)
        reader.pausing = True
        try:
            return self.stopping.wait(seconds)
        finally:
            reader.pausing = False

    def _hang_for(self, seconds: float) -> bool:
        if self.reader is None:
            return not self.stopping.wait(seconds)
        return self.reader.drain(seconds, self.end.absorb)
