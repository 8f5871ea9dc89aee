"""One executor: the same actions act the same on a server connection and on either way of a
proxied link.

A fault defined here (:class:`Plays`) plays a fixed list of actions as the connection opens. It
runs three times per list: on a ``TCPServer``'s connection (toward its client), on a
``TCPProxy``'s downstream way (toward the client) and on its upstream way (toward a quiet
upstream ``TCPServer``). Each run gives

- what the receiving peer got, read by a real socket: the bytes, then ``"eof"``, ``"reset"`` or
  ``"open"`` (nothing more came for :data:`QUIET` seconds);
- what the sending side recorded: its ``"out"`` events, its fault notes (the proxy prefixes
  them with the direction: stripped here) and its ``"error"`` events.

The three must agree, and match what the list says. By design, a ``Close`` or a ``Reset`` in a
proxy ends the whole link (both sockets) where a server's ends its one connection: only the
receiving peer's view and the last event of the sending side's recording are compared then.

Last, what comes after a timed ``Hang(seconds=...)``: a server must answer again, as a proxy
passes bytes again.
"""

from __future__ import annotations

import copy
import itertools
import random
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, NamedTuple

import pytest
from _nethelp import TIMEOUT

import sockfix
from sockfix import faults
from sockfix.core.actions import Action, Close, HalfClose, Hang, Note, Reset, Send, Wait

QUIET = 0.5  # seconds without a byte after which a stream that did not end counts as "open"


@dataclass(frozen=True, repr=False)
class Plays(faults.Fault):
    """Plays a fixed list of actions as the connection opens."""

    name: ClassVar[str] = ""  # not registered: only catalogue faults are (@_register)
    actions: tuple[Action, ...] = ()

    def on_connect(self, rng: random.Random, state: faults.State) -> list[Action]:
        return [copy.copy(a) for a in self.actions]  # actions are mutable: fresh ones per run


class Peer(NamedTuple):
    """What the receiving peer got: the bytes, then how the stream stood."""

    data: bytes
    ending: str  # "eof", "reset" or "open"


class Seen(NamedTuple):
    """One run: the receiving peer's view and the sending side's recording, normalised."""

    peer: Peer
    out: list[tuple[str, bytes]]
    notes: list[str]
    errors: list[str]


class Run(NamedTuple):
    seen: Seen
    last: str  # the kind of the last event of the sending side's recording
    times: list[float]  # when the sending side opened, then when each "out" event came


# id: (actions, what the receiving peer gets)
CASES: dict[str, tuple[list[Action], Peer]] = {
    "send": ([Send(b"hello\n")], Peer(b"hello\n", "open")),
    "chunked-send": ([Send(b"abcdef", chunks=2, gap=0.01)], Peer(b"abcdef", "open")),
    "chunked-sizes": ([Send(b"abcdefg", chunks=(1, 2))], Peer(b"abcdefg", "open")),
    "note-wait-send": ([Note("x"), Send(b"a"), Wait(0.05), Send(b"b")], Peer(b"ab", "open")),
    "trailing-wait": ([Send(b"a"), Wait(0.05)], Peer(b"a", "open")),
    "notes-only": ([Note("one"), Note("two")], Peer(b"", "open")),
    "half-close-then-send": (
        [Send(b"a"), HalfClose(), Send(b"dropped")],
        Peer(b"a", "eof"),
    ),
    "half-close-first": ([HalfClose(), Send(b"xy")], Peer(b"", "eof")),
    "close": ([Send(b"a"), Close()], Peer(b"a", "eof")),
    "close-at-once": ([Close(), Send(b"never")], Peer(b"", "eof")),
    "reset": ([Send(b"a"), Reset()], Peer(b"a", "reset")),
    "hang": ([Hang()], Peer(b"", "open")),
    "send-then-hang": ([Send(b"a"), Hang(), Send(b"never")], Peer(b"a", "open")),
    "timed-hang-then-send": ([Hang(seconds=0.1), Send(b"late")], Peer(b"late", "open")),
    "timed-hang-then-close": ([Hang(seconds=0.05), Close()], Peer(b"", "eof")),
}


# -- the receiving peer -------------------------------------------------------------------------


def _connect(address: tuple[str, int]) -> tuple[socket.socket, bool]:
    """A client socket connected to ``address``, and whether ``connect()`` already saw a RST.

    Actions run as soon as the connection is accepted: a RST can come before the client's
    ``connect()`` returns, which then fails with ECONNRESET (consuming the error) although the
    bytes sent before the RST are still there to read. The socket is kept for reading them.
    """
    client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    client.settimeout(TIMEOUT)
    try:
        client.connect(address)
    except ConnectionResetError:
        return client, True
    except BaseException:
        client.close()
        raise
    return client, False


def _read_client(address: tuple[str, int]) -> Peer:
    """Connect to ``address`` and read until EOF, a reset, or QUIET seconds of nothing."""
    client, reset = _connect(address)
    got = bytearray()
    with client:
        client.settimeout(QUIET)
        for _ in range(10_000):
            try:
                chunk = client.recv(65536)
            except TimeoutError:
                return Peer(bytes(got), "reset" if reset else "open")
            except ConnectionResetError:
                return Peer(bytes(got), "reset")
            if not chunk:  # after a reset seen by connect(), the end reads as an EOF
                return Peer(bytes(got), "reset" if reset else "eof")
            got += chunk
    raise AssertionError(f"no end after 10000 reads: {bytes(got[:200])!r}")


def _ending(conn: sockfix.Connection) -> str:
    kinds = {e.kind for e in conn.events}
    if "reset" in kinds:
        return "reset"
    return "eof" if "eof" in kinds else "open"


def _read_upstream(upstream: sockfix.TCPServer) -> Peer:
    """What the upstream server got, once it ended or nothing came for QUIET seconds."""
    (conn,) = upstream.wait_for_connections(1, timeout=TIMEOUT)

    def now() -> tuple[int, str]:
        return conn.bytes_received, _ending(conn)

    for _ in range(10_000):
        seen = now()
        if seen[1] != "open":
            break
        try:
            upstream.wait_until(lambda s, seen=seen: now() != seen, timeout=QUIET)
        except TimeoutError:
            break
    else:
        raise AssertionError(f"the upstream never went quiet: {conn!r}")
    return Peer(conn.received, _ending(conn))


# -- the three places ---------------------------------------------------------------------------


def _summary(peer: Peer, rec: sockfix.Connection, notes: list[str]) -> Run:
    out = [(e.kind, e.data) for e in rec.events if e.kind == "out"]
    errors = [e.note for e in rec.events if e.kind == "error"]
    times = [rec.events[0].time] + [e.time for e in rec.events if e.kind == "out"]
    assert rec.events[0].kind == "connect"
    return Run(Seen(peer, out, notes, errors), rec.events[-1].kind, times)


def _on_server(actions: list[Action]) -> Run:
    with sockfix.TCPServer(strict=False) as server:
        server.fault(Plays(tuple(actions)))
        peer = _read_client(server.address)
    (rec,) = server.connections  # stopped: every thread joined, the recording is complete
    return _summary(peer, rec, [e.note for e in rec.events if e.kind == "fault"])


def _on_proxy(actions: list[Action], direction: str) -> Run:
    with (
        sockfix.TCPServer(strict=False) as upstream,  # no rules: it answers nothing
        sockfix.TCPProxy(upstream=upstream.address) as proxy,
    ):
        proxy.fault(Plays(tuple(actions)), direction=direction)  # type: ignore[arg-type]
        if direction == "downstream":
            peer = _read_client(proxy.address)
        else:
            client, _ = _connect(proxy.address)  # only opens the link: the upstream reads
            with client:
                peer = _read_upstream(upstream)
    (conn,) = proxy.connections
    prefix = f"{direction}: "
    notes = [e.note for e in conn.events if e.kind == "fault"]
    assert all(n.startswith(prefix) for n in notes), notes  # nothing from the other way
    rec = conn if direction == "downstream" else conn.upstream
    return _summary(peer, rec, [n.removeprefix(prefix) for n in notes])


PLACES: dict[str, Callable[[list[Action]], Run]] = {
    "server": _on_server,
    "proxy downstream": lambda actions: _on_proxy(actions, "downstream"),
    "proxy upstream": lambda actions: _on_proxy(actions, "upstream"),
}


class Plan(NamedTuple):
    """What ``actions`` should make, worked out here independently of sockfix."""

    out: list[tuple[bytes, float]]  # each send's bytes, and the least time since the last one
    notes: list[str]
    end: str | None  # "close", "reset" or None


def _plan(actions: list[Action]) -> Plan:
    out: list[tuple[bytes, float]] = []
    notes: list[str] = []
    delay, write_closed = 0.0, False
    for a in actions:
        if isinstance(a, Close | Reset):
            return Plan(out, notes, "close" if isinstance(a, Close) else "reset")
        if isinstance(a, Hang) and a.seconds is None:
            break
        if isinstance(a, Wait | Hang):
            delay += a.seconds or 0.0
        elif isinstance(a, Note):
            notes.append(a.text)
        elif isinstance(a, HalfClose):
            write_closed = True
        elif write_closed:
            notes.append(f"{len(a.data)} bytes not sent: the write side is closed")
        else:
            sizes = [a.chunks] * len(a.data) if isinstance(a.chunks, int) else a.chunks
            pos = 0
            for size in sizes or []:
                if pos < len(a.data):
                    out.append((a.data[pos : pos + size], delay if pos == 0 else a.gap))
                    pos += size
            if pos < len(a.data):
                out.append((a.data[pos:], delay if pos == 0 else a.gap))
            delay = 0.0
    return Plan(out, notes, None)


# -- the tests ----------------------------------------------------------------------------------


def test_plays_stays_out_of_the_registry():
    assert Plays not in faults.REGISTRY.values()
    assert "" not in faults.REGISTRY


@pytest.mark.parametrize("case", list(CASES))
def test_the_same_actions_give_the_same_events_everywhere(case: str) -> None:
    actions, expected_peer = CASES[case]
    runs = {where: play(actions) for where, play in PLACES.items()}
    seen = {where: run.seen for where, run in runs.items()}

    # Every place agrees with the server, field by field (pytest shows the difference).
    for where in ("proxy downstream", "proxy upstream"):
        assert seen[where] == seen["server"], where
    reference = seen["server"]
    plan = _plan(actions)
    assert reference.peer == expected_peer
    assert reference.out == [("out", data) for data, _ in plan.out]
    assert b"".join(data for data, _ in plan.out) == reference.peer.data  # all recorded
    assert reference.notes == plan.notes
    assert reference.errors == []

    # Waits, gaps and timed hangs are kept (a lower bound: a loaded machine is only slower).
    for where, run in runs.items():
        gaps = [b - a for a, b in itertools.pairwise(run.times)]
        least = [wait for _, wait in plan.out]
        assert all(g >= w - 0.002 for g, w in zip(gaps, least, strict=True)), (where, gaps, least)

    # A close or a reset ends what the sending side recorded, wherever it ran (in a proxy it
    # ends the whole link: by design, so nothing more of the link is compared).
    if plan.end is not None:
        assert {where: run.last for where, run in runs.items()} == dict.fromkeys(PLACES, plan.end)


@pytest.mark.parametrize("where", list(PLACES))
def test_a_chunked_send_is_one_out_event_per_piece(where: str) -> None:
    run = PLACES[where]([Send(b"abcdefg", chunks=(1, 2))])
    assert run.seen.out == [("out", b"a"), ("out", b"bc"), ("out", b"defg")]


def _ask_after_timed_hang(address: tuple[str, int], ended: Callable[[], None]) -> bytes | None:
    """Once ``ended()`` says the timed hang is over, send a request: the reply, None if none."""
    client, reset = _connect(address)
    with client:
        assert not reset
        ended()
        client.sendall(b"ping\n")
        client.settimeout(1.0)
        try:
            return client.recv(100)
        except TimeoutError:
            return None


def _noted(connections: list[sockfix.Connection], note: str) -> bool:
    return bool(connections) and note in [e.note for e in connections[0].events]


# A timed hang, then a note that says it is over (so the client knows when to ask).
TIMED_HANG = (Hang(seconds=0.05), Note("over"))


def test_after_a_timed_hang_a_server_answers_again():
    """``Hang(seconds=...)``: "stop hanging after that long" (sockfix.core.actions.Hang)."""
    with sockfix.TCPServer(strict=False) as server:
        server.expect(b"ping\n").respond(b"pong\n")
        server.fault(Plays(TIMED_HANG))

        def ended() -> None:
            server.wait_until(lambda s: _noted(s.connections, "over"))

        reply = _ask_after_timed_hang(server.address, ended)
        # A timed hang stalls, then the server answers again, as a proxy's way carries on.
        assert reply == b"pong\n", "after Hang(seconds=0.05) the server answered nothing"


@pytest.mark.parametrize("direction", ["downstream", "upstream"])
def test_after_a_timed_hang_a_proxy_passes_bytes_again(direction: str) -> None:
    with (
        sockfix.TCPServer(strict=False) as upstream,
        sockfix.TCPProxy(upstream=upstream.address) as proxy,
    ):
        upstream.expect(b"ping\n").respond(b"pong\n")
        proxy.fault(Plays(TIMED_HANG), direction=direction)  # type: ignore[arg-type]

        def ended() -> None:
            note = f"{direction}: over"
            proxy.wait_until(lambda p: _noted(p.connections, note))

        assert _ask_after_timed_hang(proxy.address, ended) == b"pong\n"
