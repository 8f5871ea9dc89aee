"""One proxied connection: the upstream connect, the two pumps and how a link ends.

A :class:`_Link` joins a client socket to its upstream socket. Each pump reads a chunk,
records it, passes it through the faults of its direction and carries out the actions they
make of it; the link is finished once, with a close or a RST.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import socket
import threading
import time
from typing import TYPE_CHECKING

from sockfix.core.actions import Action, Close, HalfClose, Hang, Note, Reset, Send, Wait
from sockfix.core.faults import Direction
from sockfix.core.faults.shaping import Shaper
from sockfix.core.record import Connection
from sockfix.net.execute import RECV_SIZE, send_recorded, send_rst

if TYPE_CHECKING:
    from sockfix.net.proxy import ProxyConnection, TCPProxy

_raw_shutdown = socket.socket.shutdown


class _Link:
    """One client connection, its upstream socket and its two pumps."""

    def __init__(self, proxy: TCPProxy, client: socket.socket, conn: ProxyConnection) -> None:
        self.proxy = proxy
        self.client = client
        self.conn = conn
        self.upstream: socket.socket | None = None
        self._lock = threading.Lock()
        self._closed = False
        self._done = 0

    def abort(self) -> None:
        with self._lock:
            if self._closed:
                return
            for s in (self.client, self.upstream):
                if s is not None:
                    with contextlib.suppress(OSError):
                        _raw_shutdown(s, socket.SHUT_RDWR)

    def run(self) -> None:
        """Connect upstream, then pump both ways (downstream on a second thread)."""
        proxy = self.proxy
        conn = self.conn
        try:
            up = _connect(proxy.upstream, proxy.connect_timeout, proxy._stopping)
        except OSError as exc:
            if proxy._stopping.is_set():  # stop() came first: a stop, not an upstream failure
                conn.upstream.record("close", note="proxy stopped while connecting")
                self._finish()
                return
            conn.upstream.record("error", note=f"upstream {_where(proxy.upstream)}: {exc}")
            conn.record("error", note=f"upstream unreachable ({exc}); resetting the client")
            self._finish(reset=self.client)
            return
        up.settimeout(None)
        up.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            closed = self._closed  # stop() finished this link while we were connecting
            if not closed:
                self.upstream = up
            stopping = proxy._stopping.is_set()
        if closed:
            up.close()
            conn.upstream.record("close", note="proxy stopped before the upstream connect ended")
            return
        if stopping:
            self._finish()
            return
        conn.upstream.record("connect", note=f"to {_where(proxy.upstream)}")
        proxy._threads.start(self._pump, "downstream", name=f"link {conn.number} downstream")
        self._pump("upstream")

    def _pump(self, direction: Direction) -> None:
        conn = self.conn
        up = self.upstream
        assert up is not None
        src_rec: Connection
        dst_rec: Connection
        if direction == "upstream":
            src, dst, src_rec, dst_rec = self.client, up, conn, conn.upstream
        else:
            src, dst, src_rec, dst_rec = up, self.client, conn.upstream, conn
        shaper = Shaper(self.proxy._faults, self.proxy.seed, conn.number, direction)
        stopping = self.proxy._stopping
        muted = False
        try:
            started = self._carry(shaper.on_connect(), dst, dst_rec, direction)
            if started == "end":
                return
            muted = started == "hang"
            while True:
                try:
                    data = src.recv(RECV_SIZE)
                except ConnectionResetError:
                    if self._closed or stopping.is_set():
                        return
                    src_rec.record("reset", note="by peer")
                    self._finish(reset=dst)
                    return
                except OSError:
                    return
                if not data:
                    if stopping.is_set() or self._closed:
                        return
                    src_rec.record("eof", note="peer closed its side")
                    if not muted:
                        with contextlib.suppress(OSError):
                            _raw_shutdown(dst, socket.SHUT_WR)
                    return
                src_rec.record_in(data)
                if muted:
                    continue
                result = self._carry(shaper.shape([Send(data)]), dst, dst_rec, direction)
                if result == "hang":
                    muted = True
                elif result == "end":
                    return
        finally:
            self._pump_done()

    def _carry(self, actions: list[Action], dst: socket.socket, rec: Connection, way: str) -> str:
        stopping = self.proxy._stopping
        for action in actions:
            if isinstance(action, Send):
                for i, piece in enumerate(action.pieces()):
                    if i and action.gap and stopping.wait(action.gap):
                        return "end"
                    if self._closed:  # the other pump ended the link meanwhile
                        return "end"
                    whole = len(piece) == len(action.data)
                    error = send_recorded(dst, rec, action.data if whole else bytes(piece))
                    if error is not None:
                        if stopping.is_set() or self._closed:
                            return "end"
                        if isinstance(error, ConnectionResetError | BrokenPipeError):
                            rec.record("reset", note="by peer")
                            self._finish(reset=self.client if way == "upstream" else None)
                        return "end"
            elif isinstance(action, Wait):
                if stopping.wait(action.seconds):
                    return "end"
            elif isinstance(action, Note):
                self.conn.record("fault", note=f"{way}: {action.text}")
            elif isinstance(action, Close):
                self._finish()
                return "end"
            elif isinstance(action, Reset):
                # A reset through the proxy reaches both peers, as an upstream RST does.
                self._finish(reset_both=True)
                return "end"
            elif isinstance(action, Hang):
                if action.seconds is None:
                    return "hang"
                if stopping.wait(action.seconds):
                    return "end"
            elif isinstance(action, HalfClose):
                with contextlib.suppress(OSError):
                    _raw_shutdown(dst, socket.SHUT_WR)
                return "hang"
        return "ok"

    def _pump_done(self) -> None:
        with self._lock:
            self._done += 1
            both = self._done >= 2
        if both or self.proxy._stopping.is_set():
            self._finish()

    def _finish(self, reset: socket.socket | None = None, *, reset_both: bool = False) -> None:
        """Close both sockets (one, or both, with a RST if asked) and record it, once."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            up = self.upstream
        stopped = self.proxy._stopping.is_set()
        # The upstream side first: once the client's side shows closed, both do.
        for s, rec in ((up, self.conn.upstream), (self.client, self.conn)):
            if s is None:
                continue
            if s is reset or reset_both:
                # The other pump may be blocked reading this socket, and a close() from this
                # thread would not release it (so no RST) until that read returns: SHUT_RD wakes
                # the reader and sends nothing, then the close with SO_LINGER 0 sends the RST.
                with contextlib.suppress(OSError):
                    _raw_shutdown(s, socket.SHUT_RD)
                send_rst(s)
                rec.record("reset", note="by proxy")
            else:
                with contextlib.suppress(OSError):
                    _raw_shutdown(s, socket.SHUT_RDWR)
                s.close()
                rec.record("close", note="proxy stopped" if stopped else "")


def _connect(address: tuple[str, int], timeout: float, stopping: threading.Event) -> socket.socket:
    """Connect without blocking ``stop()``: a non-blocking connect, watched in short steps."""
    last: OSError | None = None
    for family, kind, proto, _, where in socket.getaddrinfo(*address, type=socket.SOCK_STREAM):
        sock = socket.socket(family, kind, proto)
        try:
            sock.setblocking(False)
            err = sock.connect_ex(where)
            deadline = time.monotonic() + timeout
            while err in (errno.EINPROGRESS, errno.EALREADY, errno.EWOULDBLOCK):
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


def _where(address: tuple[str, int]) -> str:
    return f"{address[0]}:{address[1]}"
