"""UDPServer: a scripted fake UDP peer, one thread, every datagram recorded.

Each peer address is a :class:`~sockfix.Connection` numbered by first contact (so faults'
``connections=[...]`` and transcripts work as for TCP); ``datagrams`` lists every datagram
received, answered or not. Delays (rule ``.delay()``, ``faults.Latency``, ``faults.Reorder``)
are scheduled, never slept: the loop lays the actions out with the same
:func:`~sockfix.core.actions.steps` as the stream executor, sends each datagram when it is due
and keeps receiving. A datagram that ``Reorder`` holds back is released after ``window`` later
ones, or after its ``hold`` time when fewer follow.
"""

from __future__ import annotations

import contextlib
import heapq
import math
import select
import socket
import socketserver
import time
from typing import Any, Self

from sockfix.core.actions import Action, Note, Send, steps
from sockfix.core.faults.shaping import Shaper
from sockfix.core.handlers import handler_text
from sockfix.core.patterns import Pattern
from sockfix.core.record import Connection, Datagram
from sockfix.core.rules import Rule
from sockfix.core.script import Handler, Script
from sockfix.net.endpoint import EventListener, ScriptedServer, bind_error, family_of
from sockfix.net.execute import pending_bytes

__all__ = ["UDPServer"]

MAX_DATAGRAM = 65535


class _Socket(socketserver.UDPServer):
    """socketserver's UDPServer, used to bind; the loop is ours."""

    max_packet_size = MAX_DATAGRAM

    def __init__(self, address: tuple[str, int]) -> None:
        self.address_family = family_of(address[0])
        super().__init__(address, socketserver.BaseRequestHandler, bind_and_activate=True)


class _Peer:
    """One peer address: its recording, script and shaper, and when its held datagrams go."""

    __slots__ = ("address", "conn", "release_at", "script", "shaper")

    def __init__(self, address: Any, conn: Connection, script: Script, shaper: Shaper) -> None:
        self.address = address
        self.conn = conn
        self.script = script
        self.shaper = shaper
        self.release_at: float | None = None


class UDPServer(ScriptedServer):
    """A fake UDP peer on loopback: one datagram in, scripted datagrams out.

    Options as for :class:`sockfix.TCPServer`: ``host``, ``port``, ``strict``, ``seed``,
    ``on_event``, and ``handler=`` (a callable ``(datagram) -> bytes | None``). Rules:
    ``server.expect(b"ping").respond(b"pong")``; several ``respond()`` pieces are several
    datagrams (a UDP rule has no ``.chunked()``, ``.close()``, ``.reset()`` or ``.hang()``:
    datagrams have no connection).
    """

    kind = "UDPServer"
    transport = "udp"

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        handler: Handler | None = None,
        strict: bool = True,
        seed: int | None = None,
        on_event: EventListener | None = None,
        name: str | None = None,
    ) -> None:
        if handler is not None and not callable(handler):
            raise TypeError(
                f"handler must be a callable (datagram) -> bytes | None, got {handler!r}"
            )
        self.handler = handler
        self._sock: _Socket | None = None
        self._peers: dict[Any, _Peer] = {}
        self._datagrams: list[Datagram] = []
        self._due: list[tuple[float, int, _Peer, bytes | None]] = []  # None: release held
        self._seq = 0
        self._busy = True  # the loop is handling a datagram (or not waiting yet)
        super().__init__(
            host=host, port=port, strict=strict, seed=seed, on_event=on_event, name=name
        )

    # -- lifecycle -------------------------------------------------

    def start(self) -> Self:
        """Bind and start serving; returns the server."""
        self._life.check_new(self.kind)
        try:
            self._sock = _Socket((self._host, self._port))
        except OSError as exc:
            raise bind_error(exc, self._host, self._port) from None
        self._life.start(self._loop, "loop", wake_pair=False)
        return self

    def _abort(self) -> None:
        """Wake the blocking receive with an empty datagram (the loop sees it is stopping)."""
        if self._sock is None:
            return
        with (
            contextlib.suppress(OSError),
            socket.socket(self._sock.address_family, socket.SOCK_DGRAM) as waker,
        ):
            waker.sendto(b"", self._sock.server_address[:2])

    def _close_down(self) -> None:
        for _, _, peer, data in sorted(self._due, key=lambda d: d[:2]):
            if data is not None:
                peer.conn.record("fault", note=f"{len(data)} bytes never sent: the server stopped")
        self._due.clear()
        for peer in self._peers.values():
            for send in peer.shaper.held():
                peer.conn.record(
                    "fault",
                    note=f"{len(send.data)} bytes held back, never sent: the server stopped",
                )
        if self._sock is not None:
            self._sock.server_close()

    def _settled(self) -> bool:
        if self._sock is None:
            return True
        try:  # the socket first, the flag second (see Reader.settled)
            pending = pending_bytes(self._sock.socket)
        except (OSError, ValueError):
            return True
        return pending == 0 and not self._busy

    def _bound_port(self) -> int | None:
        if self._sock is None:
            return None
        return int(self._sock.server_address[1])

    # -- scripting -------------------------------------------------

    def expect(self, pattern: Pattern) -> Rule:
        """Add a rule for datagrams matching ``pattern``: bytes, a bytes regex, a callable, ANY."""
        self._check_not_stopped()
        return self._book.expect(pattern)

    @property
    def rules(self) -> list[Rule]:
        """The rules, in the order added."""
        return list(self._book.rules)

    # -- the recording ---------------------------------------------

    @property
    def datagrams(self) -> list[Datagram]:
        """Every datagram received, answered or not, in arrival order."""
        return list(self._datagrams)

    def wait_for_datagrams(self, n: int, timeout: float = 5.0) -> list[Datagram]:
        """Block until ``n`` datagrams were received; returns the first ``n``."""
        self._changes.wait_until(
            lambda: len(self._datagrams) >= n, timeout, f"{n} datagram(s) to {self._name()}"
        )
        return self.datagrams[:n]

    async def wait_for_datagrams_async(self, n: int, timeout: float = 5.0) -> list[Datagram]:
        """``wait_for_datagrams`` for asyncio: never blocks the event loop."""
        await self._changes.wait_until_async(
            lambda: len(self._datagrams) >= n, timeout, f"{n} datagram(s) to {self._name()}"
        )
        return self.datagrams[:n]

    def _title_details(self) -> str:
        return f", {handler_text(self.handler)}"

    # -- the loop --------------------------------------------------

    def _loop(self) -> None:
        """Wait for a datagram (with a timeout only while sends are due), then take it: one
        wait and one receive a datagram. :meth:`_abort` sends an empty datagram to stop it."""
        sock = self._sock
        assert sock is not None
        raw = sock.socket
        poll = select.poll()
        poll.register(raw.fileno(), select.POLLIN)
        stopping = self._life.stopping
        while not stopping.is_set():
            due = self._due
            wait_ms: int | None = None
            if due:
                want = due[0][0] - time.monotonic()
                if want <= 0:
                    self._send_due()
                    continue
                wait_ms = max(1, math.ceil(want * 1000))
            self._busy = False
            ready = poll.poll(wait_ms)
            self._busy = True
            if not ready:
                continue
            try:
                data, address = raw.recvfrom(MAX_DATAGRAM)
            except OSError as exc:  # e.g. ECONNREFUSED from an earlier send's ICMP error
                if stopping.is_set():
                    return
                self._note_error(exc)
                continue
            if stopping.is_set():
                return
            peer = self._peer(address)
            self._datagrams.append(Datagram(data, peer.conn.peer, self._life.clock()))
            actions = peer.script.datagram(data)
            if actions:
                self._run(peer, peer.shaper.shape(actions))

    def _peer(self, address: Any) -> _Peer:
        peer = self._peers.get(address)
        if peer is None:
            conn = Connection(
                len(self._connections) + 1,
                (address[0], address[1]),
                self._life.clock,
                self._on_change,
            )
            self._connections.append(conn)
            script = Script(conn, self._book, _whole, self.handler, self.strict, self._report.found)
            shaper = Shaper(self._faults, self.seed, conn.number, "downstream")
            peer = _Peer(address, conn, script, shaper)
            self._peers[address] = peer
        return peer

    def _run(self, peer: _Peer, actions: list[Action]) -> None:
        """Send now what is due now; schedule what a wait put later."""
        if len(actions) == 1 and type(actions[0]) is Send and actions[0].chunks is None:
            self._send(peer, actions[0].data)  # the common case: one reply, now
        else:
            now = time.monotonic()
            at = now
            for delay, step in steps(actions):
                at += delay
                if type(step) is Send:
                    if at <= now:
                        self._send(peer, step.data)
                    else:
                        self._schedule(at, peer, step.data)
                elif type(step) is Note:
                    peer.conn.record("fault", note=step.text)
                # close / reset / hang / half-close mean nothing for datagrams
        hold = peer.shaper.holds()
        if hold is None:
            peer.release_at = None  # a release still scheduled is stale: ignored when due
        elif peer.release_at is None:  # let a held datagram go even if no later one comes
            peer.release_at = time.monotonic() + hold
            self._schedule(peer.release_at, peer, None)

    def _schedule(self, at: float, peer: _Peer, data: bytes | None) -> None:
        self._seq += 1
        heapq.heappush(self._due, (at, self._seq, peer, data))

    def _send_due(self) -> None:
        now = time.monotonic()
        while self._due and self._due[0][0] <= now:
            at, _, peer, data = heapq.heappop(self._due)
            if data is not None:
                self._send(peer, data)
            elif at == peer.release_at:
                peer.release_at = None
                self._run(peer, peer.shaper.release())

    def _send(self, peer: _Peer, data: bytes) -> None:
        """Send one datagram, recorded before it goes (as every send is: a client never
        holds a datagram that ``sent`` does not show); a failed send is amended to an
        ``"error"`` event."""
        assert self._sock is not None
        token = peer.conn.record_out(data)
        try:
            self._sock.socket.sendto(data, peer.address)
        except OSError as exc:
            peer.conn.amend_out(token, b"", f"sendto: {exc}")

    def _note_error(self, exc: OSError) -> None:
        if self._connections:
            self._connections[-1].record("error", note=f"recvfrom: {exc}")


def _whole(buffer: bytes) -> int | None:
    """Each datagram is one message (never called: datagrams skip framing)."""
    return len(buffer) or None
