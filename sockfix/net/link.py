"""One proxied connection: the upstream connect, its two ways and how the link ends.

A :class:`Link` joins a client socket to its upstream socket. Each way reads a chunk with the
one read loop, records it, passes it through the faults of its direction and has the one
executor carry out what they make of it; the link is finished once, with a close or a RST.
The link gets what it needs passed in (the lifecycle, the faults, the seed): it knows nothing
of the proxy that made it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import socket
import ssl
import threading
import time

from sockfix.core.actions import Action, HalfClose, Send
from sockfix.core.faults import Direction
from sockfix.core.faults.shaping import FaultSet, Shaper
from sockfix.core.record import Connection, ProxyConnection
from sockfix.net.execute import Executor, Reader, handshake_fault, raw_shutdown, send_rst
from sockfix.net.lifecycle import Lifecycle
from sockfix.net.tls import SharedTLSSocket, share, shared_wrap

__all__ = ["Link", "where"]


class _Way:
    """One way of a link: reads ``src`` (recorded on ``src_rec``) and is the end its executor
    acts on: ``sock``, recorded on ``rec``. Faults' notes go on the client's recording, named
    by direction."""

    def __init__(
        self,
        link: Link,
        direction: Direction,
        src: socket.socket,
        src_rec: Connection,
        sock: socket.socket,
        rec: Connection,
    ) -> None:
        self.link = link
        self.direction = direction
        self.src = src
        self.src_rec = src_rec
        self.sock = sock
        self.rec = rec
        self.reader: Reader | None = None

    def note(self, text: str) -> None:
        self.link.conn.record("fault", note=f"{self.direction}: {text}")

    def close(self, note: str) -> None:
        self.link.finish()

    def reset(self, note: str) -> None:
        # A reset through the proxy reaches both peers, as an upstream RST does.
        self.link.finish(reset_both=True)

    def peer_gone(self) -> None:
        self.rec.record("reset", note="by peer")
        link = self.link
        link.finish(reset=link.client if self.direction == "upstream" else None)

    def over(self) -> bool:
        return self.link.closed

    def hang(self) -> None:
        pass  # the executor mutes this way: chunks are recorded, not passed on

    def absorb(self, data: bytes) -> None:
        self.src_rec.record_in(data)

    def starttls(self, note: str) -> bool:  # pragma: no cover - a proxy way has no rules
        self.note(f"{note}: STARTTLS is not carried out by the proxy")
        return True

    def settled(self) -> bool:
        reader = self.reader
        return self.link.closed or (reader is not None and reader.settled())


class Link:
    """One client connection, its upstream socket and its two ways."""

    def __init__(
        self,
        client: socket.socket,
        conn: ProxyConnection,
        *,
        upstream: tuple[str, int],
        connect_timeout: float,
        faults: FaultSet,
        seed: int,
        life: Lifecycle,
        tls: ssl.SSLContext | None = None,
        upstream_tls: ssl.SSLContext | None = None,
    ) -> None:
        self.client = client
        self.tls = tls  # toward the client (server side)
        self.upstream_tls = upstream_tls  # toward the upstream (client side)
        self.conn = conn
        self.upstream_address = upstream
        self.connect_timeout = connect_timeout
        self.faults = faults
        self.seed = seed
        self.life = life
        self.upstream: socket.socket | None = None
        self.closed = False
        self._lock = threading.Lock()
        self._done = 0
        self._ways: list[_Way] = []
        self._connecting = True

    def abort(self) -> None:
        """Wake both ways from any blocking call (stop() calls this)."""
        with self._lock:
            if self.closed:
                return
            for s in (self.client, self.upstream):
                if s is not None:
                    with contextlib.suppress(OSError):
                        raw_shutdown(s, socket.SHUT_RDWR)

    def release(self) -> None:
        """The link's threads are joined: drop its ways (each refers back to it)."""
        self._ways = []

    def settled(self) -> bool:
        """True when the link is over, or both ways wait for bytes with none pending."""
        if self.closed:
            return True
        if self._connecting:
            return False
        return all(way.settled() for way in list(self._ways))

    def run(self) -> None:
        """Connect upstream, then pump both ways (downstream on a second thread)."""
        conn = self.conn
        stopping = self.life.stopping
        if self.tls is not None and not self._client_handshake(self.tls):
            return
        try:
            up = _connect(self.upstream_address, self.connect_timeout, stopping)
        except OSError as exc:
            self._connecting = False
            if stopping.is_set():  # stop() came first: a stop, not an upstream failure
                conn.upstream.record("close", note="proxy stopped while connecting")
                self.finish()
                return
            conn.upstream.record("error", note=f"upstream {where(self.upstream_address)}: {exc}")
            conn.record("error", note=f"upstream unreachable ({exc}); resetting the client")
            self.finish(reset=self.client)
            return
        up.settimeout(None)
        if up.family != socket.AF_UNIX:
            up.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.upstream_tls is not None:
            wrapped = self._upstream_handshake(up, self.upstream_tls)
            if wrapped is None:
                return
            up = wrapped
        with self._lock:
            closed = self.closed  # stop() finished this link while we were connecting
            if not closed:
                self.upstream = up
                self._ways = [
                    _Way(self, "upstream", self.client, conn, up, conn.upstream),
                    _Way(self, "downstream", up, conn.upstream, self.client, conn),
                ]
            stopping_now = stopping.is_set()
        self._connecting = False
        if closed:
            up.close()
            conn.upstream.record("close", note="proxy stopped before the upstream connect ended")
            return
        if stopping_now:
            self.finish()
            return
        conn.upstream.record("connect", note=f"to {where(self.upstream_address)}")
        upstream_way, downstream_way = self._ways
        self.life.threads.start(self._pump, downstream_way, name=f"link {conn.number} downstream")
        self._pump(upstream_way)

    def _client_handshake(self, context: ssl.SSLContext) -> bool:
        """TLS toward the client (the proxy is the server); False (recorded, closed) if the
        handshake failed. Wrapped under the lock, handshaken outside it, so that ``abort()``
        reaches the socket the handshake blocks on."""
        faulted = Shaper(self.faults, self.seed, self.conn.number, "downstream").on_handshake()
        if faulted:
            self._handshake_fault(faulted)
            return False
        with self._lock:
            if self.closed:
                return False
            self.client = shared_wrap(context, self.client, server_side=True)
        try:
            if self.life.stopping.is_set():
                raise OSError("proxy stopped")
            assert isinstance(self.client, SharedTLSSocket)
            self.client.do_handshake()
            share(self.client)
        except (OSError, ValueError) as exc:
            self._connecting = False
            stopped = self.life.stopping.is_set()
            self.conn.record("error", note="proxy stopped" if stopped else f"TLS handshake: {exc}")
            self.finish()
            return False
        return True

    def _handshake_fault(self, actions: list[Action]) -> None:
        """``HandshakeHang`` / ``HandshakeReset`` toward the client, as a server does (see
        :func:`handshake_fault`); the upstream is never connected."""
        self._connecting = False
        reader = Reader(self.client, self.conn, self.life.stopping)
        if handshake_fault(reader, self.conn, actions):
            self.finish(reset=self.client)
        else:
            self.finish()

    def _upstream_handshake(
        self, up: socket.socket, context: ssl.SSLContext
    ) -> SharedTLSSocket | None:
        """TLS toward the upstream (the proxy is the client), bounded by the connect timeout
        and woken by ``stop()``; None (recorded, the client reset) if it failed."""
        host = self.upstream_address[0] if self.upstream_address[1] else "localhost"
        wrapped = shared_wrap(context, up, server_side=False, server_hostname=host)
        with self._lock:
            if not self.closed:
                self.upstream = wrapped  # abort() shuts it down: a stop wakes the handshake
        try:
            wrapped.settimeout(self.connect_timeout)
            wrapped.do_handshake()
            share(wrapped)
        except (OSError, ValueError) as exc:
            self._connecting = False
            if self.life.stopping.is_set():
                self.conn.upstream.record("close", note="proxy stopped during the TLS handshake")
                self.finish()
                return None
            self.conn.upstream.record("error", note=f"upstream TLS handshake: {exc}")
            self.conn.record("error", note=f"upstream TLS failed ({exc}); resetting the client")
            self.finish(reset=self.client)
            return None
        return wrapped

    def _pump(self, way: _Way) -> None:
        stopping = self.life.stopping
        reader = Reader(way.src, way.src_rec, stopping, way.over)
        executor = Executor(way, stopping, reader)
        shaper = Shaper(self.faults, self.seed, self.conn.number, way.direction)
        way.reader = reader
        try:
            if not executor.run(shaper.on_connect()):
                return
            record_in = way.src_rec.record_in
            while (data := reader.read()) is not None:
                record_in(data)
                if executor.muted:
                    continue
                if shaper.shaping or executor.write_closed:
                    ok = executor.run(shaper.shape([Send(data)]))
                else:
                    ok = executor.send(data)  # the hot path: no faults
                if not ok:
                    return
            if reader.ended == "eof" and not executor.muted:
                # Pass the FIN on, through the faults (SlowClose delays it).
                executor.run(shaper.shape([HalfClose("passed on")]))
            elif reader.ended == "reset":
                self.finish(reset=way.sock)
        finally:
            way.reader = None  # the reader holds way.over: no cycle left behind
            self._pump_done()

    def _pump_done(self) -> None:
        with self._lock:
            self._done += 1
            both = self._done >= 2
        if both or self.life.stopping.is_set():
            self.finish()

    def finish(self, reset: socket.socket | None = None, *, reset_both: bool = False) -> None:
        """Close both sockets (one, or both, with a RST if asked) and record it, once."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
            up = self.upstream
        stopped = self.life.stopping.is_set()
        # The upstream side first: once the client's side shows closed, both do.
        for s, rec in ((up, self.conn.upstream), (self.client, self.conn)):
            if s is None:
                continue
            if s is reset or reset_both:
                # The other way may be blocked reading this socket, and a close() from this
                # thread would not release it (so no RST) until that read returns: SHUT_RD wakes
                # the reader and sends nothing, then the close with SO_LINGER 0 sends the RST.
                with contextlib.suppress(OSError):
                    raw_shutdown(s, socket.SHUT_RD)
                kind, said = send_rst(s)
                sep = ": " if kind == "close" else "; "
                rec.record(kind, note=f"by proxy{sep}{said}" if said else "by proxy")
            else:
                with contextlib.suppress(OSError):
                    raw_shutdown(s, socket.SHUT_RDWR)
                s.close()
                rec.record("close", note="proxy stopped" if stopped else "")


def _connect(address: tuple[str, int], timeout: float, stopping: threading.Event) -> socket.socket:
    """Connect without blocking ``stop()``: a non-blocking connect, watched in short steps."""
    last: OSError | None = None
    if address[1] == 0 and address[0].startswith(("/", ".")):  # a Unix socket path
        targets = [(socket.AF_UNIX, socket.SOCK_STREAM, 0, "", address[0])]
    else:
        targets = socket.getaddrinfo(*address, type=socket.SOCK_STREAM)  # type: ignore[assignment]
    for family, kind, proto, _, addr in targets:
        sock = socket.socket(family, kind, proto)
        try:
            sock.setblocking(False)
            err = sock.connect_ex(addr)
            deadline = time.monotonic() + timeout
            while err in (errno.EINPROGRESS, errno.EALREADY, errno.EWOULDBLOCK, errno.EAGAIN):
                if stopping.is_set():
                    raise OSError(errno.ECANCELED, "the proxy is stopping")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(errno.ETIMEDOUT, f"no answer in {timeout:g} s")
                _, writable, _ = select.select([], [sock], [], min(left, 0.05))
                if writable:
                    err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                raise OSError(err, os.strerror(err))
            sock.setblocking(True)
            return sock
        except OSError as exc:
            sock.close()
            last = exc
    raise last if last is not None else OSError(f"cannot resolve {address!r}")


def where(address: tuple[str, int]) -> str:
    """``host:port``, or ``unix:PATH`` for a Unix socket upstream (port 0)."""
    return f"unix:{address[0]}" if address[1] == 0 else f"{address[0]}:{address[1]}"
