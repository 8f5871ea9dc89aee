"""One accepted connection of a TCP server: the one read loop and the one executor of
:mod:`sockfix.net.execute`, with this connection's script and shaper, on its own thread."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading

from sockfix.core.actions import Action, Send
from sockfix.core.faults.shaping import Shaper
from sockfix.core.record import Connection
from sockfix.core.script import Script
from sockfix.net.execute import (
    Executor,
    Reader,
    handshake_fault,
    pending_bytes,
    raw_shutdown,
    send_rst,
)

__all__ = ["Served"]


class Served:
    """One accepted connection: reads, feeds the script, and is the end its executor acts on.

    ``abort()`` (from the stopping thread) shuts the socket down, which wakes the thread from
    any blocking call; ``settled()`` says whether what arrived has been handled.
    """

    def __init__(
        self,
        sock: socket.socket,
        rec: Connection,
        stopping: threading.Event,
        script: Script,
        shaper: Shaper,
        tls: ssl.SSLContext | None,
        upgrade: ssl.SSLContext | None = None,
    ) -> None:
        self.sock = sock
        self.rec = rec
        self.stopping = stopping
        self.script = script
        self.shaper = shaper
        self._tls = tls  # wrapped at accept
        self._upgrade = upgrade  # wrapped by a .starttls() rule
        self._lock = threading.Lock()
        self._open = True
        self.reader: Reader | None = None

    # -- the End an executor acts on -------------------------------------------------------

    def note(self, text: str) -> None:
        self.rec.record("fault", note=text)

    def close(self, note: str) -> None:
        with self._lock:
            if not self._open:
                return
            self._open = False
            unread = 0
            if self.sock.family == socket.AF_UNIX:  # closing with bytes unread resets the peer
                with contextlib.suppress(OSError, ValueError):
                    unread = pending_bytes(self.sock)
            with contextlib.suppress(OSError):
                raw_shutdown(self.sock, socket.SHUT_WR)
            self.sock.close()
        if unread:
            said = f"a Unix socket closed with {unread} bytes unread: the peer sees ECONNRESET"
            note = f"{note}; {said}" if note else said
        self.rec.record("close", note=note)

    def reset(self, note: str) -> None:
        with self._lock:
            if not self._open:
                return
            self._open = False
            kind, said = send_rst(self.sock)
        if said:  # a Unix socket: say what the peer saw
            note = f"{note}{': ' if kind == 'close' else '; '}{said}" if note else said
        self.rec.record(kind, note=note)

    def peer_gone(self) -> None:
        self.rec.record("reset", note="by peer")
        self._drop()

    def over(self) -> bool:
        return not self._open

    def hang(self) -> None:
        self.script.hanging = True  # what comes now is recorded, never answered

    def absorb(self, data: bytes) -> None:
        script = self.script
        hanging, script.hanging = script.hanging, True
        try:
            script.feed(data)
        finally:
            script.hanging = hanging

    def starttls(self, note: str) -> bool:
        context = self._upgrade
        if context is None:
            self.rec.record(
                "error", note=f"{note}: .starttls() on a server without tls=: pass tls=True"
            )
            self.script.problems.append(
                f"connection {self.rec.number}: {note} has .starttls() but the server has no "
                "TLS certificate: pass tls=True (or an ssl.SSLContext); the connection was closed"
            )
            self.close("no TLS for .starttls()")
            return False
        if not self._handshake(context):
            self.close("")
            return False
        reader = self.reader
        if reader is not None:
            reader.use(self.sock)
        return True

    # -- called from other threads ---------------------------------------------------------

    def abort(self) -> None:
        """Wake the connection's thread from any blocking call (stop() calls this)."""
        with self._lock:
            if self._open:
                with contextlib.suppress(OSError):
                    raw_shutdown(self.sock, socket.SHUT_RDWR)

    def settled(self) -> bool:
        """True when the connection is over, or waits for bytes with none pending."""
        reader = self.reader
        if not self._open:
            return True
        return reader is not None and reader.settled()

    # -- the connection's thread -----------------------------------------------------------

    def run(self) -> None:
        script = self.script
        try:
            if self._tls is not None:
                faulted = self.shaper.on_handshake()
                if faulted:
                    self._handshake_fault(faulted)
                    return
                if not self._handshake(self._tls):
                    return
            reader = Reader(self.sock, self.rec, self.stopping, self.over)
            self.reader = reader  # a STARTTLS in the greeting switches what it reads
            executor = Executor(self, self.stopping, reader)
            shaper = self.shaper
            if not executor.run(shaper.on_connect()):
                return
            if not executor.muted and not executor.run(shaper.shape(script.connect())):
                return
            self.reader = reader
            read = reader.read
            feed = script.feed
            send = executor.send
            while (data := read()) is not None:
                actions = feed(data)
                if not actions or executor.muted:
                    continue
                if shaper.shaping:
                    actions = shaper.shape(actions)
                elif len(actions) == 1:
                    one = actions[0]
                    if type(one) is Send and one.chunks is None and not executor.write_closed:
                        if not send(one.data, one.note):  # the hot path: one reply, no faults
                            return
                        continue
                if not executor.run(actions):
                    return
            if reader.ended == "reset":
                self._drop()
        finally:
            script.finish()
            self.close("server stopped" if self.stopping.is_set() else "")
            self.reader = None  # the reader holds self.over: no cycle left behind

    def _handshake(self, context: ssl.SSLContext) -> bool:
        try:
            # Wrap under the lock, handshake outside it: abort() must reach the socket the
            # handshake blocks on (wrapping detaches the plain one).
            with self._lock:
                self.sock = context.wrap_socket(
                    self.sock, server_side=True, do_handshake_on_connect=False
                )
            if self.stopping.is_set():
                raise OSError("server stopped")
            assert isinstance(self.sock, ssl.SSLSocket)
            self.sock.do_handshake()
        except (OSError, ValueError) as exc:
            note = "server stopped" if self.stopping.is_set() else f"TLS handshake: {exc}"
            self.rec.record("error", note=note)
            return False
        return True

    def _handshake_fault(self, actions: list[Action]) -> None:
        """A handshake fault instead of the handshake (see :func:`handshake_fault`)."""
        reader = Reader(self.sock, self.rec, self.stopping, self.over)
        self.reader = reader
        if handshake_fault(reader, self.rec, actions):
            self.reset("fault")
        elif reader.ended == "reset":
            self._drop()

    def _drop(self) -> None:
        """The peer reset the connection: close our socket without a FIN or a close event."""
        with self._lock:
            if self._open:
                self._open = False
                self.sock.close()
