"""UDPServer over real loopback datagrams: scripting, recording, strict mode, faults."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest
from _nethelp import has_ipv6, kinds

import sockfix
from sockfix import faults


def udp_socket(
    family: socket.AddressFamily = socket.AF_INET, timeout: float = 2.0
) -> socket.socket:
    """A client datagram socket bound to loopback (so its address is the peer the server sees)."""
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.bind(("::1" if family == socket.AF_INET6 else "127.0.0.1", 0))
    sock.settimeout(timeout)
    return sock


def replies(sock: socket.socket, quiet: float = 0.3, limit: int = 100) -> list[bytes]:
    """Every datagram until ``quiet`` seconds pass with none."""
    sock.settimeout(quiet)
    out = []
    for _ in range(limit):
        try:
            out.append(sock.recv(65536))
        except TimeoutError:
            break
    return out


def fault_notes(conn: sockfix.Connection) -> list[str]:
    return [e.note for e in conn.events if e.kind == "fault"]


# -- scripting --------------------------------------------------------------------------------


def test_expect_respond():
    with sockfix.UDPServer() as server, udp_socket() as client:
        assert server.host == "127.0.0.1"
        assert server.address == ("127.0.0.1", server.port)
        server.expect(b"ping").respond(b"pong")
        client.sendto(b"ping", server.address)
        data, peer = client.recvfrom(100)
        assert (data, peer) == (b"pong", server.address)


def test_several_pieces_are_several_datagrams():
    with sockfix.UDPServer() as server, udp_socket() as client:
        server.expect(b"list").respond(b"one").respond(b"two").respond(b"three")
        client.sendto(b"list", server.address)
        assert [client.recv(100) for _ in range(3)] == [b"one", b"two", b"three"]
        server.wait_until(lambda s: len(s.connections[0].sent) == 11)
        outs = [e.data for e in server.connections[0].events if e.kind == "out"]
        assert outs == [b"one", b"two", b"three"]


def test_callable_response_and_regex():
    import re

    with sockfix.UDPServer() as server, udp_socket() as client:
        server.expect(re.compile(rb"get (\w+)")).respond(lambda d: b"value of " + d[4:])
        client.sendto(b"get color", server.address)
        assert client.recv(100) == b"value of color"


def test_handler():
    with sockfix.UDPServer(handler=sockfix.echo(bytes.upper)) as server, udp_socket() as client:
        client.sendto(b"hello", server.address)
        assert client.recv(100) == b"HELLO"


def test_handler_must_be_callable():
    with pytest.raises(TypeError, match="handler must be a callable"):
        sockfix.UDPServer(handler=b"pong")  # type: ignore[arg-type]


def test_times_then_falls_through():
    with sockfix.UDPServer() as server, udp_socket() as client:
        server.expect(b"ask").respond(b"busy").times(1)
        server.expect(b"ask").respond(b"ok")
        for want in (b"busy", b"ok", b"ok"):
            client.sendto(b"ask", server.address)
            assert client.recv(100) == want


# -- recording --------------------------------------------------------------------------------


def test_every_datagram_is_recorded_answered_or_not():
    with sockfix.UDPServer(strict=False) as server, udp_socket() as client:
        server.expect(b"ping").respond(b"pong")
        t0 = time.perf_counter()
        for data in (b"ping", b"nobody answers this", b"ping"):
            client.sendto(data, server.address)
        got = server.wait_for_datagrams(3)
        assert [d.data for d in got] == [b"ping", b"nobody answers this", b"ping"]
        me = client.getsockname()
        for d in got:
            assert isinstance(d, sockfix.Datagram)
            assert d.peer == me
            assert 0 <= d.time <= time.perf_counter() - t0 + 1
        assert [d.time for d in got] == sorted(d.time for d in got)
        assert [client.recv(100) for _ in range(2)] == [b"pong", b"pong"]
    conn = server.connections[0]
    assert conn.peer == me
    assert conn.messages == [b"ping", b"nobody answers this", b"ping"]
    assert conn.received == b"pingnobody answers thisping"
    assert conn.sent == b"pongpong"


def test_each_peer_is_a_connection():
    with sockfix.UDPServer() as server, udp_socket() as a, udp_socket() as b:
        peers = [a.getsockname(), b.getsockname()]
        server.expect(b"ping").respond(b"pong")
        a.sendto(b"ping", server.address)
        assert a.recv(100) == b"pong"
        b.sendto(b"ping", server.address)
        assert b.recv(100) == b"pong"
        a.sendto(b"ping", server.address)
        assert a.recv(100) == b"pong"
        server.wait_for_datagrams(3)
    assert [c.peer for c in server.connections] == peers
    assert [len(c.messages) for c in server.connections] == [2, 1]
    assert server.received == b"pingpingping"


def test_wait_for_datagrams_times_out():
    with sockfix.UDPServer() as server:
        t0 = time.perf_counter()
        with pytest.raises(TimeoutError, match="2 datagram"):
            server.wait_for_datagrams(2, timeout=0.1)
        assert time.perf_counter() - t0 >= 0.1


def test_wait_for_datagrams_async():
    async def main(server: sockfix.UDPServer) -> list[sockfix.Datagram]:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, remote_addr=server.address
        )
        try:
            transport.sendto(b"a")
            transport.sendto(b"b")
            return await server.wait_for_datagrams_async(2)
        finally:
            transport.close()

    with sockfix.UDPServer(strict=False) as server:
        got = asyncio.run(main(server))
    assert [d.data for d in got] == [b"a", b"b"]


# -- strict -----------------------------------------------------------------------------------


def test_strict_unmatched_datagram_fails_at_stop():
    server = sockfix.UDPServer().start()
    try:
        server.expect(b"ping").respond(b"pong")
        with udp_socket() as client:
            client.sendto(b"pong?", server.address)
            server.wait_for_datagrams(1)
    finally:
        with pytest.raises(sockfix.StrictError) as info:
            server.stop()
    text = str(info.value)
    assert "no rule matched" in text
    assert "pong?" in text
    assert f"seed={server.seed}" in text
    assert "error" in kinds(server.connections[0])


def test_strict_unused_times_fails():
    server = sockfix.UDPServer().start()
    server.expect(b"ping").respond(b"pong").times(2)
    with udp_socket() as client:
        client.sendto(b"ping", server.address)
        assert client.recv(100) == b"pong"
    with pytest.raises(sockfix.StrictError, match="used 1 of 2 times"):
        server.stop()


# -- options ----------------------------------------------------------------------------------


@pytest.mark.skipif(not has_ipv6(), reason="no IPv6 loopback")
def test_ipv6():
    with sockfix.UDPServer(host="::1") as server, udp_socket(socket.AF_INET6) as client:
        server.expect(b"ping").respond(b"pong")
        assert server.address == ("::1", server.port)
        client.sendto(b"ping", server.address)
        assert client.recv(100) == b"pong"
        [d] = server.wait_for_datagrams(1)
        assert d.peer == client.getsockname()[:2]


def test_seed():
    with sockfix.UDPServer(seed=42) as server:
        assert server.seed == 42
        assert "seed=42" in server.transcript()
    with pytest.raises(TypeError, match="seed must be an int"):
        sockfix.UDPServer(seed="42")  # type: ignore[arg-type]


def test_stop_is_prompt_and_idempotent():
    server = sockfix.UDPServer().start()
    server.expect(b"ping").respond(b"pong").delay(30)
    with udp_socket() as client:
        client.sendto(b"ping", server.address)
        server.wait_for_datagrams(1)
        t0 = time.perf_counter()
        server.stop()
        assert time.perf_counter() - t0 < 0.5
    server.stop()
    assert fault_notes(server.connections[0]) == ["4 bytes never sent: the server stopped"]


def test_rule_delay_is_scheduled_not_slept():
    with sockfix.UDPServer() as server, udp_socket() as slow, udp_socket() as fast:
        server.expect(b"slow").respond(b"late").delay(0.3)
        server.expect(b"fast").respond(b"now")
        t0 = time.perf_counter()
        slow.sendto(b"slow", server.address)
        server.wait_for_datagrams(1)
        fast.sendto(b"fast", server.address)
        assert fast.recv(100) == b"now"  # not queued behind the delayed reply
        assert slow.recv(100) == b"late"
        assert time.perf_counter() - t0 >= 0.3


# -- faults -----------------------------------------------------------------------------------


def test_drop_all():
    with sockfix.UDPServer() as server, udp_socket(timeout=0.2) as client:
        server.expect(b"ping").respond(b"pong")
        server.fault(faults.Drop(1.0))
        client.sendto(b"ping", server.address)
        with pytest.raises(TimeoutError):
            client.recv(100)
        assert server.datagrams[0].data == b"ping"  # received and recorded all the same
        conn = server.connections[0]
        assert conn.sent == b""
        assert fault_notes(conn) == ["Drop(1.0): dropped a datagram of 4 bytes"]


def drop_pattern(seed: int) -> list[bytes]:
    with sockfix.UDPServer(seed=seed) as server, udp_socket() as client:
        server.expect(sockfix.ANY).respond(lambda d: d.upper())
        server.fault(faults.Drop(0.5))
        for i in range(20):
            client.sendto(b"n%d" % i, server.address)
        server.wait_for_datagrams(20)
        return replies(client)


def test_drop_half_is_seeded():
    seven = drop_pattern(7)
    assert drop_pattern(7) == seven
    assert drop_pattern(8) != seven
    assert 0 < len(seven) < 20


def test_duplicate():
    with sockfix.UDPServer() as server, udp_socket() as client:
        server.expect(b"ping").respond(b"pong")
        server.fault(faults.Duplicate(1.0))
        client.sendto(b"ping", server.address)
        assert [client.recv(100), client.recv(100)] == [b"pong", b"pong"]
        server.wait_until(lambda s: len(s.connections[0].sent) == 8)
        assert fault_notes(server.connections[0]) == [
            "Duplicate(1.0): sent a datagram of 4 bytes twice"
        ]


def test_reorder_swaps():
    with sockfix.UDPServer() as server, udp_socket() as client:
        server.expect(sockfix.ANY).respond(lambda d: b"re " + d)
        server.fault(faults.Reorder(1.0, window=1))
        for data in (b"1", b"2", b"3", b"4"):
            client.sendto(data, server.address)
        got = [client.recv(100) for _ in range(4)]
        assert got == [b"re 2", b"re 1", b"re 4", b"re 3"]


def test_reorder_releases_the_last_datagram_after_its_hold_time():
    with sockfix.UDPServer() as server, udp_socket() as client:
        server.expect(b"1").respond(b"one")
        server.fault(faults.Reorder(1.0, hold=0.05))
        client.settimeout(2.0)
        client.sendto(b"1", server.address)
        assert client.recv(100) == b"one"  # reordering never drops: no later datagram came
        assert fault_notes(server.connections[0]) == [
            "Reorder(1.0): holding a datagram back behind 1 later one(s)",
            "Reorder(1.0): released a held datagram after 0.05 s: 0 of 1 later one(s) came",
        ]
        assert server.connections[0].sent == b"one"


def test_reorder_a_datagram_still_held_at_stop_is_said():
    with sockfix.UDPServer() as server, udp_socket() as client:
        server.expect(b"1").respond(b"one")
        server.fault(faults.Reorder(1.0, hold=60.0))
        client.sendto(b"1", server.address)
        server.wait_until(lambda s: s.connections and fault_notes(s.connections[0]))
    # Nothing lost silently: what stayed held is said at stop.
    assert fault_notes(server.connections[0])[-1] == (
        "3 bytes held back, never sent: the server stopped"
    )


def test_latency():
    with sockfix.UDPServer() as server, udp_socket() as client:
        server.expect(b"ping").respond(b"pong")
        server.fault(faults.Latency(0.1))
        t0 = time.perf_counter()
        client.sendto(b"ping", server.address)
        assert client.recv(100) == b"pong"
        assert time.perf_counter() - t0 >= 0.1


def test_corrupt():
    with sockfix.UDPServer() as server, udp_socket() as client:
        server.expect(b"ping").respond(b"pong")
        server.fault(faults.Corrupt(1.0))
        client.sendto(b"ping", server.address)
        got = client.recv(100)
        assert len(got) == 4
        assert all(a != b for a, b in zip(got, b"pong", strict=True))


def test_fault_on_one_peer():
    with sockfix.UDPServer() as server, udp_socket(timeout=0.2) as a, udp_socket() as b:
        server.expect(b"ping").respond(b"pong")
        server.fault(faults.Drop(), connections=[1])
        a.sendto(b"ping", server.address)
        server.wait_for_datagrams(1)
        b.sendto(b"ping", server.address)
        assert b.recv(100) == b"pong"
        with pytest.raises(TimeoutError):
            a.recv(100)


def test_clear_faults():
    with sockfix.UDPServer() as server, udp_socket(timeout=0.2) as client:
        server.expect(b"ping").respond(b"pong")
        server.fault(faults.Drop())
        client.sendto(b"ping", server.address)
        with pytest.raises(TimeoutError):
            client.recv(100)
        server.clear_faults()
        client.sendto(b"ping", server.address)
        assert client.recv(100) == b"pong"


def test_tcp_faults_are_refused():
    with (
        sockfix.UDPServer() as server,
        pytest.raises(TypeError, match="not a UDP fault; UDP takes Corrupt, Drop"),
    ):
        server.fault(faults.Reset())


def test_stop_with_delayed_datagrams_pending():
    server = sockfix.UDPServer().start()
    server.expect(b"ping").respond(b"pong")
    server.fault(faults.Latency(30))
    with udp_socket() as client:
        client.sendto(b"ping", server.address)
        server.wait_until(lambda s: s.connections and fault_notes(s.connections[0]))
        t0 = time.perf_counter()
        server.stop()
        assert time.perf_counter() - t0 < 0.5
    assert fault_notes(server.connections[0]) == [
        "Latency(30): delayed 4 bytes by 30.000000 s",
        "4 bytes never sent: the server stopped",
    ]
