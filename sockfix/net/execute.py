"""Carry out a script's actions on one connected socket, recording every byte exactly.

One :class:`ConnectionRunner` per connection, on its own thread: it reads, feeds the script,
and runs the actions it returns. Every wait wakes early on ``stop()``; ``abort()`` (from the
stopping thread) shuts the socket down, which also wakes a blocked ``recv`` or ``send``.
"""

from __future__ import annotations

import contextlib
import fcntl
import socket
import ssl
import struct
import termios
import threading
import time
from collections.abc import Callable, Iterable

from sockfix.core.actions import Action, Close, HalfClose, Hang, Note, Reset, Send, Wait
from sockfix.core.faults.shaping import Shaper
from sockfix.core.record import Connection
from sockfix.core.script import Script

__all__ = ["RECV_SIZE", "ConnectionRunner", "send_recorded", "send_rst"]

RECV_SIZE = 256 * 1024
_LINGER_ZERO = struct.pack("ii", 1, 0)
_raw_shutdown = socket.socket.shutdown  # SSLSocket.shutdown would drop its SSL state mid-read


def send_rst(sock: socket.socket) -> None:
    """Close ``sock`` with a RST instead of a FIN (SO_LINGER on, timeout 0)."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_ZERO)
    sock.close()


def send_recorded(
    sock: socket.socket, rec: Connection, data: bytes, note: str = ""
) -> OSError | None:
    """Send all of ``data`` on ``sock`` as one ``"out"`` event of ``rec``; the error that
    stopped it, if any.

    The event is recorded *before* sending, so that no peer ever holds bytes that ``sent``
    does not show yet; if the send fails part way it is amended to the prefix that went.
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
        rec.amend_out(token, data[:done])
        return exc
    return None


class ConnectionRunner:
    """Drives one connection: read, feed the script, carry out its actions."""

    def __init__(
        self,
        sock: socket.socket,
        conn: Connection,
        stopping: threading.Event,
        make_script: Callable[[Connection], Script],
        handshake: Callable[[socket.socket], socket.socket] | None = None,
        shaper: Shaper | None = None,
    ) -> None:
        self.sock = sock
        self.conn = conn
        self.stopping = stopping
        self._make_script = make_script
        self._handshake = handshake
        self._shaper = shaper
        self._lock = threading.Lock()
        self._open = True
        self._muted = False  # hanging: keep reading, answer nothing
        self._reading = False  # blocked in recv(), all received bytes handled
        self._half_closed = False
        self.script: Script | None = None

    # -- called from other threads ------------------------------------------------------------

    def abort(self) -> None:
        """Wake the runner from any blocking call (stop() calls this)."""
        with self._lock:
            if self._open:
                with contextlib.suppress(OSError):
                    _raw_shutdown(self.sock, socket.SHUT_RDWR)

    def settled(self) -> bool:
        """True when the runner is over, or waits in recv() with no bytes pending."""
        if not self._open:
            return True
        if not self._reading:
            return False
        try:
            pending = self.sock.pending() if isinstance(self.sock, ssl.SSLSocket) else 0
            pending += struct.unpack(
                "i", fcntl.ioctl(self.sock.fileno(), termios.FIONREAD, b"\0" * 4)
            )[0]
        except (OSError, ValueError):
            return True
        return bool(pending == 0)

    # -- the connection's thread --------------------------------------------------------------

    def run(self) -> None:
        conn = self.conn
        try:
            if self._handshake is not None:
                try:
                    # Wrap under the lock, handshake outside it: abort() must reach the socket
                    # the handshake blocks on (wrapping detaches the plain one).
                    with self._lock:
                        self.sock = self._handshake(self.sock)
                    if self.stopping.is_set():
                        raise OSError("server stopped")
                    if isinstance(self.sock, ssl.SSLSocket):
                        self.sock.do_handshake()
                except (OSError, ValueError) as exc:
                    note = "server stopped" if self.stopping.is_set() else f"TLS handshake: {exc}"
                    conn.record("error", note=note)
                    return
            script = self.script = self._make_script(conn)
            shaper = self._shaper
            if shaper is not None and not self._do(shaper.on_connect()):
                return
            if not self._muted and not self._do(self._shape(script.connect())):
                return
            recv = self.sock.recv
            while True:
                self._reading = True
                try:
                    data = recv(RECV_SIZE)
                except ConnectionResetError:
                    self._peer_reset()
                    return
                except OSError as exc:
                    if not self.stopping.is_set():
                        conn.record("error", note=f"recv: {exc}")
                    return
                self._reading = False
                if not data:
                    if not self.stopping.is_set():
                        conn.record("eof", note="peer closed its side")
                    return
                actions = script.feed(data)
                if actions and not self._muted and not self._do(self._shape(actions)):
                    return
        finally:
            if self.script is not None:
                self.script.finish()
            self._close("server stopped" if self.stopping.is_set() else "")

    def _shape(self, actions: list[Action]) -> list[Action]:
        shaper = self._shaper
        if shaper is None or not shaper.active:
            return actions
        return shaper.shape(actions)

    def _do(self, actions: Iterable[Action]) -> bool:
        """Run actions; False once the connection is over."""
        for action in actions:
            if type(action) is Send and action.chunks is None and not self._half_closed:
                if not self._send_bytes(action.data, action.note):  # the hot path
                    return False
            elif isinstance(action, Send):
                if self._half_closed:
                    self.conn.record(
                        "fault", note=f"{len(action.data)} bytes not sent: the write side is closed"
                    )
                elif not self._send(action):
                    return False
            elif isinstance(action, Wait):
                if self.stopping.wait(action.seconds):
                    return False
            elif isinstance(action, Close):
                self._close(action.note)
                return False
            elif isinstance(action, Reset):
                self._reset(action.note)
                return False
            elif isinstance(action, Note):
                self.conn.record("fault", note=action.text)
            elif isinstance(action, Hang):
                if self.script is not None:  # what comes now is recorded, never answered
                    self.script.hanging = True
                if action.seconds is None:
                    self._muted = True
                    return True
                if not self._hang_for(action.seconds):
                    return False
            elif isinstance(action, HalfClose):
                self._half_closed = True
                with contextlib.suppress(OSError):
                    _raw_shutdown(self.sock, socket.SHUT_WR)
        return True

    def _hang_for(self, seconds: float) -> bool:
        """Read (recording, answering nothing) for ``seconds``; False if the connection ended."""
        script = self.script
        assert script is not None
        sock = self.sock
        deadline = time.monotonic() + seconds
        try:
            while (left := deadline - time.monotonic()) > 0:
                sock.settimeout(left)
                self._reading = True
                try:
                    data = sock.recv(RECV_SIZE)
                except TimeoutError:
                    return True
                except ConnectionResetError:
                    self._peer_reset()
                    return False
                except OSError:
                    return False
                finally:
                    self._reading = False
                if not data:
                    if not self.stopping.is_set():
                        self.conn.record("eof", note="peer closed its side")
                    return False
                script.feed(data)
            return True
        finally:
            with contextlib.suppress(OSError):
                sock.settimeout(None)

    def _send(self, action: Send) -> bool:
        if action.chunks is None:
            return self._send_bytes(action.data, action.note)
        for i, piece in enumerate(action.pieces()):  # lazily: Chunked(1) of 1 MB is many views
            if i and action.gap and self.stopping.wait(action.gap):
                return False
            if not self._send_exact(piece, action.data, action.note):
                return False
        return True

    def _send_exact(self, view: memoryview, whole: bytes, note: str = "") -> bool:
        """Send one piece of ``whole``; see :meth:`_send_bytes`."""
        whole_view = view.obj is whole and len(view) == len(whole)
        return self._send_bytes(whole if whole_view else bytes(view), note)

    def _send_bytes(self, data: bytes, note: str = "") -> bool:
        """Send all of ``data`` (see :func:`send_recorded`); False once the connection is over."""
        exc = send_recorded(self.sock, self.conn, data, note)
        if exc is not None:
            if self.stopping.is_set():
                pass  # stop() shut the socket down (EPIPE): not the peer's doing
            elif isinstance(exc, ConnectionResetError | BrokenPipeError):
                self._peer_reset()
            else:
                self.conn.record("error", note=f"send: {exc}")
            return False
        return True

    def _peer_reset(self) -> None:
        self.conn.record("reset", note="by peer")
        with self._lock:
            if self._open:
                self._open = False
                self.sock.close()

    def _close(self, note: str) -> None:
        with self._lock:
            if not self._open:
                return
            self._open = False
            with contextlib.suppress(OSError):
                _raw_shutdown(self.sock, socket.SHUT_WR)
            self.sock.close()
        self.conn.record("close", note=note)

    def _reset(self, note: str) -> None:
        with self._lock:
            if not self._open:
                return
            self._open = False
            send_rst(self.sock)
        self.conn.record("reset", note=note)
