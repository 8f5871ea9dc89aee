"""TCPProxy faults: per direction, per connection, live on open connections, seeded."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
from _nethelp import connect, kinds, recv_all, recv_exactly

import sockfix
from sockfix import faults

DELAY = 0.3  # latency under test; fast round trips on loopback take well under a millisecond


@pytest.fixture
def upstream() -> Iterator[sockfix.TCPServer]:
    """Answers whatever arrives upper-cased (raw framing: corrupted bytes have no newline)."""
    with sockfix.TCPServer(
        framing=sockfix.framing.raw(), handler=sockfix.echo(bytes.upper), strict=False
    ) as server:
        yield server


@pytest.fixture
def proxy(upstream: sockfix.TCPServer) -> Iterator[sockfix.TCPProxy]:
    with sockfix.TCPProxy(upstream=upstream.address, seed=1) as proxy:
        yield proxy


def _round_trip(client: socket.socket, line: bytes) -> tuple[bytes, float]:
    t0 = time.monotonic()
    client.sendall(line)
    reply = recv_exactly(client, len(line))
    return reply, time.monotonic() - t0


def _fault_notes(conn: sockfix.Connection) -> list[str]:
    return [e.note for e in conn.events if e.kind == "fault"]


def _closed(proxy: sockfix.TCPProxy, n: int = 1) -> None:
    """Wait until connection ``n`` is closed on both sides."""
    proxy.wait_until(
        lambda p: (
            len(p.connections) >= n
            and p.connections[n - 1].closed
            and p.connections[n - 1].upstream.closed
        )
    )


# -- direction ----------------------------------------------------------------------------------


def test_corrupt_upstream_changes_what_the_server_gets(
    proxy: sockfix.TCPProxy, upstream: sockfix.TCPServer
) -> None:
    proxy.fault(faults.Corrupt(1.0), direction="upstream")
    line = b"hello there\n"
    with connect(proxy) as client:
        client.sendall(line)
        upstream.wait_until(lambda s: s.connections and s.connections[0].bytes_received == 12)
        client.shutdown(socket.SHUT_WR)
        echoed = recv_all(client)
    _closed(proxy)
    conn = proxy.connections[0]
    assert conn.received == line  # what the client sent, before the fault
    bad = conn.upstream.sent
    assert len(bad) == len(line)
    assert all(a != b for a, b in zip(bad, line, strict=True))  # every byte changed
    assert upstream.connections[0].received == bad
    assert echoed == conn.sent == conn.upstream.received  # downstream untouched
    notes = _fault_notes(conn)
    assert notes == ["upstream: Corrupt(1.0): changed 12 of 12 bytes"]


def test_corrupt_downstream_changes_what_the_client_gets(
    proxy: sockfix.TCPProxy, upstream: sockfix.TCPServer
) -> None:
    proxy.fault(faults.Corrupt(1.0), direction="downstream")
    with connect(proxy) as client:
        reply, _ = _round_trip(client, b"ping\n")
    _closed(proxy)
    conn = proxy.connections[0]
    assert conn.upstream.sent == upstream.connections[0].received == b"ping\n"
    assert conn.upstream.received == b"PING\n"
    assert reply == conn.sent
    assert len(reply) == 5
    assert all(a != b for a, b in zip(reply, b"PING\n", strict=True))
    assert _fault_notes(conn) == ["downstream: Corrupt(1.0): changed 5 of 5 bytes"]


@pytest.mark.parametrize("direction", ["both", None])
def test_a_fault_without_direction_applies_both_ways(
    upstream: sockfix.TCPServer, direction: str | None
) -> None:
    with sockfix.TCPProxy(upstream=upstream.address, seed=1) as proxy:
        if direction is None:
            proxy.fault(faults.Corrupt(1.0))
        else:
            proxy.fault(faults.Corrupt(1.0), direction=direction)
        with connect(proxy) as client:
            client.sendall(b"abc")
            upstream.wait_until(lambda s: s.connections and s.connections[0].bytes_received == 3)
            reply = recv_exactly(client, 3)
        _closed(proxy)
    conn = proxy.connections[0]
    assert conn.received == b"abc"
    assert all(a != b for a, b in zip(conn.upstream.sent, b"abc", strict=True))
    assert conn.upstream.received == conn.upstream.sent.upper()
    assert all(a != b for a, b in zip(reply, conn.upstream.received, strict=True))
    assert [n.split(":")[0] for n in _fault_notes(conn)] == ["upstream", "downstream"]


def test_connections_picks_which_connections(proxy: sockfix.TCPProxy) -> None:
    proxy.fault(faults.Corrupt(1.0), connections=[2], direction="downstream")
    replies = []
    for _ in range(3):
        with connect(proxy) as client:
            replies.append(_round_trip(client, b"same\n")[0])
    proxy.wait_until(lambda p: len(p.connections) == 3 and all(c.closed for c in p.connections))
    assert replies[0] == replies[2] == b"SAME\n"
    assert replies[1] != b"SAME\n"
    assert len(replies[1]) == 5
    assert [bool(_fault_notes(c)) for c in proxy.connections] == [False, True, False]


def test_bad_direction_and_fault_fail_at_the_call(proxy: sockfix.TCPProxy) -> None:
    with pytest.raises(ValueError, match="direction"):
        proxy.fault(faults.Latency(0.1), direction="sideways")
    with pytest.raises(TypeError, match="not a TCP fault"):
        proxy.fault(faults.Drop(0.5))
    with pytest.raises(TypeError, match=r"sockfix\.faults"):
        proxy.fault("latency")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="connection numbers"):
        proxy.fault(faults.Latency(0.1), connections=[0])
    assert proxy.faults == []


def test_faults_are_described_with_their_direction(proxy: sockfix.TCPProxy) -> None:
    proxy.fault(faults.Latency(0.1), direction="upstream")
    proxy.fault(faults.Chunked(1), connections=[2])
    assert proxy.faults == [
        "Latency(0.1) on all connections, upstream",
        "Chunked(1) on connections [2]",
    ]
    proxy.clear_faults()
    assert proxy.faults == []


# -- timing and fragmentation --------------------------------------------------------------------


def test_latency_downstream_delays_the_reply(proxy: sockfix.TCPProxy) -> None:
    proxy.fault(faults.Latency(DELAY), direction="downstream")
    with connect(proxy) as client:
        reply, took = _round_trip(client, b"slow\n")
    assert reply == b"SLOW\n"
    assert took >= DELAY
    _closed(proxy)
    conn = proxy.connections[0]
    assert _fault_notes(conn) == [f"downstream: Latency({DELAY}): delayed 5 bytes by {DELAY:.6f} s"]
    up_in = next(e for e in conn.upstream.events if e.kind == "in")
    out = next(e for e in conn.events if e.kind == "out")
    assert out.time - up_in.time >= DELAY


def test_latency_upstream_delays_the_request(
    proxy: sockfix.TCPProxy, upstream: sockfix.TCPServer
) -> None:
    proxy.fault(faults.Latency(DELAY), direction="upstream")
    with connect(proxy) as client:
        reply, took = _round_trip(client, b"slow\n")
    assert reply == b"SLOW\n"
    assert took >= DELAY
    _closed(proxy)
    conn = proxy.connections[0]
    came = next(e for e in conn.events if e.kind == "in")
    went = next(e for e in conn.upstream.events if e.kind == "out")
    assert went.time - came.time >= DELAY
    assert _fault_notes(conn)[0].startswith("upstream: Latency(")


def test_chunked_downstream_sends_one_byte_at_a_time(proxy: sockfix.TCPProxy) -> None:
    proxy.fault(faults.Chunked(1), direction="downstream")
    line = b"fragment me please\n"
    with connect(proxy) as client:
        client.sendall(line)
        got = b"".join(recv_exactly(client, 1) for _ in range(len(line)))
    assert got == line.upper()
    _closed(proxy)
    conn = proxy.connections[0]
    assert conn.sent == line.upper()
    outs = [e.data for e in conn.events if e.kind == "out"]
    assert outs == [bytes([b]) for b in line.upper()]  # one recorded send per byte
    assert _fault_notes(conn) == [f"downstream: Chunked(1): {len(line)} bytes as {len(line)} sends"]


def test_chunked_upstream_reaches_the_server_intact(
    proxy: sockfix.TCPProxy, upstream: sockfix.TCPServer
) -> None:
    proxy.fault(faults.Chunked(2, delay=0.001), direction="upstream")
    with connect(proxy) as client:
        reply, _ = _round_trip(client, b"abcdefg\n")
    assert reply == b"ABCDEFG\n"
    _closed(proxy)
    conn = proxy.connections[0]
    assert [e.data for e in conn.upstream.events if e.kind == "out"] == [
        b"ab",
        b"cd",
        b"ef",
        b"g\n",
    ]
    assert upstream.connections[0].received == b"abcdefg\n"


# -- ending a connection ---------------------------------------------------------------------------


def test_reset_downstream_gives_the_client_econnreset(proxy: sockfix.TCPProxy) -> None:
    proxy.fault(faults.Reset(), direction="downstream")
    # Reset as the connection opens: no byte passes; a fast RST fails connect() itself.
    with pytest.raises(ConnectionResetError), connect(proxy) as client:
        recv_all(client)
    _closed(proxy)
    conn = proxy.connections[0]
    assert conn.sent == b""
    assert kinds(conn)[-1] == "reset"
    assert conn.events[-1].note == "by proxy"
    assert any("downstream: Reset()" in n for n in _fault_notes(conn))


def test_reset_after_bytes_downstream(proxy: sockfix.TCPProxy) -> None:
    proxy.fault(faults.Reset(after_bytes=3), direction="downstream")
    with connect(proxy) as client:
        client.sendall(b"hello\n")
        assert recv_exactly(client, 3) == b"HEL"
        with pytest.raises(ConnectionResetError):
            recv_all(client)
    _closed(proxy)
    conn = proxy.connections[0]
    assert conn.sent == b"HEL"
    assert conn.upstream.received == b"HELLO\n"
    assert _fault_notes(conn) == [
        "downstream: Reset(after_bytes=3): reset after 3 bytes (3 bytes not sent)"
    ]


def test_reset_upstream_resets_both_peers(
    proxy: sockfix.TCPProxy, upstream: sockfix.TCPServer
) -> None:
    proxy.fault(faults.Reset(after_bytes=4), direction="upstream")
    with connect(proxy) as client:
        client.sendall(b"abcdefgh\n")
        with pytest.raises(ConnectionResetError):
            recv_all(client)
    upstream.wait_until(lambda s: s.connections and s.connections[0].closed)
    assert upstream.connections[0].received == b"abcd"
    assert "reset" in kinds(upstream.connections[0])
    _closed(proxy)
    conn = proxy.connections[0]
    assert conn.upstream.sent == b"abcd"
    # Both sockets were reset by the proxy (the other pump may still record bytes it had read).
    assert ("reset", "by proxy") in [(e.kind, e.note) for e in conn.events]
    assert ("reset", "by proxy") in [(e.kind, e.note) for e in conn.upstream.events]


def test_truncate_downstream_gives_exactly_n_bytes_then_eof(proxy: sockfix.TCPProxy) -> None:
    proxy.fault(faults.Truncate(4), direction="downstream")
    with connect(proxy) as client:
        client.sendall(b"first\n")
        got = recv_all(client)
    assert got == b"FIRS"
    _closed(proxy)
    conn = proxy.connections[0]
    assert conn.sent == b"FIRS"
    assert kinds(conn)[-1] == "close"
    assert "eof" not in kinds(conn)  # the proxy closed; the client did not
    assert _fault_notes(conn) == [
        "downstream: Truncate(4): truncated after 4 bytes (2 bytes not sent)"
    ]


def test_truncate_counts_bytes_across_replies(proxy: sockfix.TCPProxy) -> None:
    proxy.fault(faults.Truncate(7), direction="downstream")
    with connect(proxy) as client:
        assert _round_trip(client, b"one\n")[0] == b"ONE\n"
        client.sendall(b"two\n")
        assert recv_all(client) == b"TWO"


def test_close_downstream_after_bytes(proxy: sockfix.TCPProxy) -> None:
    proxy.fault(faults.Close(after_bytes=2), direction="downstream")
    with connect(proxy) as client:
        client.sendall(b"bye\n")
        assert recv_all(client) == b"BY"
    _closed(proxy)
    assert proxy.connections[0].upstream.closed


def test_close_on_connect_closes_both_sides(
    proxy: sockfix.TCPProxy, upstream: sockfix.TCPServer
) -> None:
    proxy.fault(faults.Close())
    with connect(proxy) as client:
        assert recv_all(client) == b""
    upstream.wait_until(lambda s: s.connections and s.connections[0].closed)
    assert upstream.connections[0].received == b""
    _closed(proxy)
    assert any("closed on connect" in n for n in _fault_notes(proxy.connections[0]))


def test_hang_downstream_holds_the_reply_back(proxy: sockfix.TCPProxy) -> None:
    proxy.fault(faults.Hang(), direction="downstream")
    with connect(proxy, timeout=DELAY) as client:
        client.sendall(b"anyone?\n")
        proxy.wait_until(lambda p: p.connections and p.connections[0].upstream.received)
        with pytest.raises(TimeoutError):
            client.recv(100)
        conn = proxy.connections[0]
        assert conn.upstream.received == b"ANYONE?\n"  # the server answered
        assert conn.sent == b""  # the client got nothing
        assert not conn.closed
    _closed(proxy)
    assert _fault_notes(conn) == ["downstream: Hang(): hanging: no answer, no close"]


def test_hang_upstream_holds_the_request_back(
    proxy: sockfix.TCPProxy, upstream: sockfix.TCPServer
) -> None:
    proxy.fault(faults.Hang(), direction="upstream")
    with connect(proxy, timeout=DELAY) as client:
        upstream.wait_for_connections(1)
        client.sendall(b"hello?\n")
        proxy.wait_until(lambda p: p.connections and p.connections[0].received == b"hello?\n")
        with pytest.raises(TimeoutError):
            client.recv(100)
    # Hanging holds everything back, the client's FIN too: the upstream side stays open.
    proxy.wait_until(lambda p: "eof" in kinds(p.connections[0]))
    assert not proxy.connections[0].upstream.closed
    assert proxy.connections[0].upstream.sent == b""
    assert upstream.connections[0].received == b""


def test_timeout_downstream_stalls_then_closes(proxy: sockfix.TCPProxy) -> None:
    proxy.fault(faults.Timeout(DELAY), direction="downstream")
    t0 = time.monotonic()
    with connect(proxy) as client:
        client.sendall(b"hi\n")
        assert recv_all(client) == b""
    assert time.monotonic() - t0 >= DELAY


def test_half_close_downstream_sends_fin_and_keeps_forwarding(
    proxy: sockfix.TCPProxy, upstream: sockfix.TCPServer
) -> None:
    proxy.fault(faults.HalfClose(), direction="downstream")
    with connect(proxy) as client:
        assert recv_all(client) == b""  # EOF at once
        client.sendall(b"still here\n")
        upstream.wait_until(lambda s: s.connections and s.connections[0].bytes_received == 11)
    assert upstream.connections[0].received == b"still here\n"


def test_garbage_downstream(proxy: sockfix.TCPProxy) -> None:
    proxy.fault(faults.Garbage(16), direction="downstream")
    with connect(proxy) as client:
        client.sendall(b"x\n")
        junk = recv_all(client)
    assert len(junk) == 16
    _closed(proxy)
    assert proxy.connections[0].sent == junk


def test_bandwidth_downstream_paces_the_reply(proxy: sockfix.TCPProxy) -> None:
    proxy.fault(faults.Bandwidth(1000), direction="downstream")  # 10-byte sends, 10 ms apart
    line = b"x" * 39 + b"\n"
    with connect(proxy) as client:
        reply, took = _round_trip(client, line)
    assert reply == line.upper()
    assert took >= 0.03  # 4 sends, 3 gaps of 10 ms


def test_probability_zero_is_a_no_op(proxy: sockfix.TCPProxy) -> None:
    proxy.fault(faults.Corrupt(0.0))
    proxy.fault(faults.Reset(probability=0.0))
    with connect(proxy) as client:
        assert _round_trip(client, b"fine\n")[0] == b"FINE\n"
    _closed(proxy)
    assert _fault_notes(proxy.connections[0]) == []


# -- live on an open connection ------------------------------------------------------------------


def test_fault_and_clear_faults_act_live_on_an_open_connection(proxy: sockfix.TCPProxy) -> None:
    with connect(proxy) as client:
        reply, fast = _round_trip(client, b"one\n")
        assert reply == b"ONE\n"
        assert fast < DELAY
        proxy.fault(faults.Latency(DELAY), direction="downstream")
        reply, slow = _round_trip(client, b"two\n")
        assert reply == b"TWO\n"
        assert slow >= DELAY
        proxy.clear_faults()
        reply, fast_again = _round_trip(client, b"three\n")
        assert reply == b"THREE\n"
        assert fast_again < DELAY
    _closed(proxy)
    assert len(proxy.connections) == 1
    conn = proxy.connections[0]
    assert conn.sent == b"ONE\nTWO\nTHREE\n"
    notes = _fault_notes(conn)
    assert len(notes) == 1
    assert notes[0].startswith(f"downstream: Latency({DELAY})")
    fault_event = next(e for e in conn.events if e.kind == "fault")
    two = next(e for e in conn.events if e.kind == "out" and e.data == b"TWO\n")
    assert two.time - fault_event.time >= DELAY


def test_hang_attached_live_acts_at_the_next_chunk(proxy: sockfix.TCPProxy) -> None:
    with connect(proxy, timeout=DELAY) as client:
        assert _round_trip(client, b"one\n")[0] == b"ONE\n"
        proxy.fault(faults.Hang(), direction="downstream")
        client.sendall(b"two\n")
        proxy.wait_until(lambda p: p.connections[0].upstream.received == b"ONE\nTWO\n")
        with pytest.raises(TimeoutError):
            client.recv(100)
    assert proxy.connections[0].sent == b"ONE\n"


def test_reset_attached_live_resets_an_open_connection(proxy: sockfix.TCPProxy) -> None:
    with connect(proxy) as client:
        assert _round_trip(client, b"one\n")[0] == b"ONE\n"
        proxy.fault(faults.Reset(), direction="downstream")
        client.sendall(b"two\n")
        with pytest.raises(ConnectionResetError):
            recv_all(client)
    _closed(proxy)
    assert proxy.connections[0].sent == b"ONE\n"


# -- seeds ----------------------------------------------------------------------------------------


def _corrupted_run(upstream: sockfix.TCPServer, seed: int) -> bytes:
    with sockfix.TCPProxy(upstream=upstream.address, seed=seed) as proxy:
        proxy.fault(faults.Corrupt(0.5), direction="downstream")
        with connect(proxy) as client:
            for i in range(4):
                _round_trip(client, b"line number %d of the test\n" % i)
        _closed(proxy)
    return proxy.connections[0].sent


def test_same_seed_same_corruption(upstream: sockfix.TCPServer) -> None:
    first = _corrupted_run(upstream, seed=1)
    assert first == _corrupted_run(upstream, seed=1)
    assert first != _corrupted_run(upstream, seed=2)
    clean = b"".join(b"LINE NUMBER %d OF THE TEST\n" % i for i in range(4))
    assert len(first) == len(clean)
    assert first != clean


def test_directions_draw_from_separate_streams(upstream: sockfix.TCPServer) -> None:
    """Adding an upstream fault does not shift the downstream corruption."""
    alone = _corrupted_run(upstream, seed=7)
    with sockfix.TCPProxy(upstream=upstream.address, seed=7) as proxy:
        proxy.fault(faults.Corrupt(0.5), direction="downstream")
        proxy.fault(faults.Latency(0.0, jitter=0.001), direction="upstream")
        with connect(proxy) as client:
            for i in range(4):
                _round_trip(client, b"line number %d of the test\n" % i)
        _closed(proxy)
    assert proxy.connections[0].sent == alone
