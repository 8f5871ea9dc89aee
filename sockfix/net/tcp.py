"""TCPServer: a scripted fake TCP peer on ``socketserver``, with exact recording.

The accept loop waits on the listening socket and a wake-up socketpair (no poll interval), so
``stop()`` returns in milliseconds: it wakes the loop, shuts every client socket down (which
wakes any thread blocked in ``recv`` or ``send``), and joins every thread it started.
"""

from __future__ import annotations

import os
import select
import selectors
import socket
import socketserver
import ssl
import threading
from collections.abc import Callable
from typing import Any, Self

from sockfix.core.faults.shaping import Shaper
from sockfix.core.patterns import Pattern
from sockfix.core.record import Connection
from sockfix.core.rules import Rule
from sockfix.core.script import Handler, Script
from sockfix.framing import Framing, describe, lines
from sockfix.net.base import EventListener, Peer, bind_error, family_of
from sockfix.net.execute import ConnectionRunner

__all__ = ["TCPServer"]

LISTEN_BACKLOG = 128


class _Listener(socketserver.TCPServer):
    """socketserver's TCPServer with a deep backlog, TCP_NODELAY, and our own dispatch."""

    request_queue_size = LISTEN_BACKLOG
    allow_reuse_address = True

    def __init__(self, owner: TCPServer, address: tuple[str, int]) -> None:
        self.address_family = family_of(address[0])
        self.owner = owner
        super().__init__(address, socketserver.BaseRequestHandler, bind_and_activate=True)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, peer = self.socket.accept()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock, peer

    def process_request(self, request: Any, client_address: Any) -> None:
        self.owner._accepted(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:  # pragma: no cover
        pass


class TCPServer(Peer):
    """A fake TCP peer on loopback: script it, point a client at it, read what crossed the wire.

    Use it as a context manager (``with TCPServer() as server:``) or call ``start()`` and
    ``stop()``. Options:

    - ``host="127.0.0.1"``, ``port=0`` (a free ephemeral port); ``host="::1"`` for IPv6.
    - ``framing=sockfix.framing.lines()``: how received bytes are cut into messages.
    - ``handler=``: a callable ``(message) -> bytes | None`` answering what no rule matches,
      such as ``sockfix.echo(bytes.upper)``.
    - ``strict=True``: unmatched messages, unframed leftovers, unused ``times(n)`` rules and
      failing response callables raise :class:`sockfix.StrictError` from ``stop()``.
    - ``tls=``: an ``ssl.SSLContext`` (server side); rules and recordings see the decrypted bytes.
    - ``seed=None``: the seed of every random choice faults make; None picks one (shown in the
      transcript and the failure report; ``--sockfix-seed`` sets it for a whole test run).
    - ``on_event=``: ``callback(connection, event)`` called from server threads for every event.
    """

    kind = "TCPServer"
    transport = "tcp"

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        framing: Framing | None = None,
        handler: Handler | None = None,
        strict: bool = True,
        tls: ssl.SSLContext | None = None,
        seed: int | None = None,
        on_event: EventListener | None = None,
    ) -> None:
        if framing is None:
            framing = lines()
        elif not callable(framing):
            raise TypeError(
                "framing must be a callable (buffer) -> int | None such as "
                f"sockfix.framing.lines(); got {framing!r} (for text, use sockfix.framing.parse)"
            )
        if handler is not None and not callable(handler):
            raise TypeError(
                f"handler must be a callable (message) -> bytes | None, got {handler!r}"
            )
        if tls is not None and not isinstance(tls, ssl.SSLContext):
            raise TypeError(f"tls must be an ssl.SSLContext (server side), got {tls!r}")
        self.framing = framing
        self.handler = handler
        self.tls = tls
        self._runners: list[ConnectionRunner] = []
        self._listener: _Listener | None = None
        self._accept_thread: threading.Thread | None = None
        self._refusing = False
        self._accepting = False
        super().__init__(host=host, port=port, strict=strict, seed=seed, on_event=on_event)

    @classmethod
    def from_scenario(cls, path: str | os.PathLike[str], **overrides: Any) -> Self:
        """A server set up from a scenario file (docs/scenarios.md), not yet started.

        The file's framing, strict, and host, port and seed when it sets them, are the
        options; keyword ``overrides`` (any ``TCPServer`` option, e.g. ``port=0``) win over
        them. Its rules are added in file order and its faults attached. A file that cannot be
        read or breaks the schema raises :class:`sockfix.ScenarioError` naming the key and fix.
        """
        from sockfix.core.scenario import load

        scenario = load(path)
        server = cls(**{**scenario.server_options(), **overrides})
        scenario.apply(server)
        return server

    # -- lifecycle ------------------------------------------------

    def start(self) -> Self:
        """Bind, listen and start accepting; returns the server."""
        self._check_new()
        try:
            self._listener = _Listener(self, (self._host, self._port))
        except OSError as exc:
            raise bind_error(exc, self._host, self._port) from None
        self._accept_thread = self._go(self._accept_loop, "accept")
        return self

    def _shutdown(self) -> None:
        if not self._begin_stop():
            return
        self._wake()
        with self._lock:
            runners = list(self._runners)
        for runner in runners:
            runner.abort()
        stuck = self._threads.join_all(timeout=5.0)
        # A connection accepted while we were stopping has been aborted by its own runner.
        for runner in self._runners:
            runner.abort()
        if self._listener is not None and not self._refusing:
            self._listener.server_close()
        self._close_wake()
        self._end_stop()
        if stuck:  # pragma: no cover - would be a sockfix bug
            raise RuntimeError(f"sockfix: threads did not stop: {stuck}")

    # -- the listening side ------------------------------------------------

    def _accept_loop(self) -> None:
        listener = self._listener
        assert listener is not None
        assert self._wake_r is not None
        with selectors.DefaultSelector() as sel:
            sel.register(listener.socket, selectors.EVENT_READ, "accept")
            sel.register(self._wake_r, selectors.EVENT_READ, "wake")
            while not self._stopping.is_set():
                for key, _ in sel.select():
                    if key.data == "wake":
                        self._wake_r.recv(64)
                    if self._stopping.is_set() or self._refusing:
                        return
                    if key.data == "wake":
                        continue
                    self._accepting = True
                    try:
                        listener._handle_request_noblock()  # type: ignore[attr-defined]
                    finally:
                        self._accepting = False

    def _accepted(self, sock: socket.socket, peer: Any) -> None:
        with self._lock:
            if self._stopping.is_set():
                sock.close()
                return
            conn = Connection(
                len(self._connections) + 1, (peer[0], peer[1]), self._clock, self._on_change
            )
            self._connections.append(conn)
            runner = ConnectionRunner(
                sock,
                conn,
                self._stopping,
                self._make_script,
                self._handshake_fn(),
                Shaper(self._faults, self.seed, conn.number, "downstream"),
            )
            self._runners.append(runner)
        conn.record("connect", note=f"from {peer[0]}:{peer[1]}")
        self._threads.start(runner.run, name=f"connection {conn.number}")

    def _handshake_fn(self) -> Callable[[socket.socket], socket.socket] | None:
        context = self.tls
        if context is None:
            return None

        def handshake(sock: socket.socket) -> socket.socket:
            # Only wraps: the connection's runner does the handshake where stop() can wake it.
            return context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)

        return handshake

    def _make_script(self, conn: Connection) -> Script:
        return Script(conn, self._book, self.framing, self.handler, self.strict, self._problems)

    # -- scripting ------------------------------------------------

    def expect(self, pattern: Pattern) -> Rule:
        """Add a rule for messages matching ``pattern``: bytes, a bytes regex, a callable, ANY."""
        return self._book.expect(pattern)

    def on_connect(self) -> Rule:
        """Add a rule that speaks first, as soon as a client connects (a greeting)."""
        return self._book.on_connect()

    # -- faults ------------------------------------------------

    def refuse(self) -> None:
        """Stop listening: connects fail with ECONNREFUSED until :meth:`resume` (same port).

        Refused attempts are not connections. Open connections carry on.
        """
        with self._lock:
            if self._state != "started" or self._refusing:
                return
            self._refusing = True
        self._wake()
        if self._accept_thread is not None:
            self._accept_thread.join()
        assert self._listener is not None
        self._listener.server_close()

    def resume(self) -> None:
        """Listen again on the same port after :meth:`refuse`."""
        with self._lock:
            if self._state != "started" or not self._refusing:
                return
            try:
                self._listener = _Listener(self, (self._host, self.port))
            except OSError as exc:
                raise bind_error(exc, self._host, self.port) from None
            self._refusing = False
        self._accept_thread = self._threads.start(self._accept_loop, name="accept")

    @property
    def rules(self) -> list[Rule]:
        """The ``on_connect()`` rules, then the ``expect()`` rules, in the order added."""
        return self._book.greetings + self._book.rules

    def settle(self, timeout: float = 1.0) -> bool:
        """Wait (up to ``timeout``) until every open connection waits for bytes, none pending."""

        def settled() -> bool:
            listener = self._listener
            if self._state != "started" or listener is None or self._refusing:
                return True
            if self._accepting or select.select([listener.socket], [], [], 0)[0]:
                return False  # a connection waits to be accepted
            with self._lock:
                runners = list(self._runners)
            return all(r.settled() for r in runners)

        try:
            self._changes.wait_until(settled, timeout, "the server to settle")
        except TimeoutError:
            return False
        return True

    def _bound_port(self) -> int | None:
        if self._listener is None:
            return None
        return int(self._listener.server_address[1])

    def _title_details(self) -> str:
        return f", framing {describe(self.framing)}" + (", TLS" if self.tls else "")
