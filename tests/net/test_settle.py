"""settle() on every endpoint: once it returns True, everything that had reached the endpoint
is recorded (and answered), with no window between a recv() and its recording.

Each test sends, then settles at once, without reading any reply first: the recording must
already hold the bytes sent and the replies to them. Loops are bounded in rounds and in time.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from _nethelp import connect, kinds, recv_exactly

import sockfix
import sockfix.net.execute
from sockfix import faults

ROUNDS = 300
BUDGET_S = 4.0  # wall-clock budget of one loop of rounds: a slow machine does fewer rounds
DATAGRAMS = 200


def _budget() -> float:
    return time.monotonic() + BUDGET_S


@pytest.fixture(autouse=True, params=["kernel count", "poll first"])
def reader_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test twice: with the reader's two ways of never missing a chunk (plain TCP on
    Linux compares its count with the kernel's; elsewhere it polls before it reads)."""
    if request.param == "poll first":
        monkeypatch.setattr(sockfix.net.execute, "received_bytes", lambda sock: None)
    return str(request.param)


@pytest.fixture
def echo_server() -> Iterator[sockfix.TCPServer]:
    """Answers every line upper-cased."""
    with sockfix.TCPServer(handler=sockfix.echo(bytes.upper)) as server:
        yield server


# -- TCPServer ----------------------------------------------------------------------------------


def test_tcp_settle_records_each_line_and_its_reply_before_the_client_reads(
    echo_server: sockfix.TCPServer,
) -> None:
    deadline = _budget()
    sent = bytearray()
    replies = bytearray()
    done = 0
    with connect(echo_server) as client:
        for i in range(ROUNDS):
            if time.monotonic() > deadline:
                break
            line = b"line %d\n" % i
            client.sendall(line)
            sent += line
            replies += line.upper()
            assert echo_server.settle(), f"round {i}: not settled within 1 s"
            conn = echo_server.connections[0]
            assert conn.received == sent, f"round {i}: {line!r} not recorded yet"
            assert len(conn.messages) == i + 1, f"round {i}: {conn.messages[-3:]!r}"
            assert conn.messages[i] == line
            assert conn.sent == replies, f"round {i}: reply to {line!r} not recorded yet"
            done += 1
        # What was recorded is what crossed the wire.
        assert recv_exactly(client, len(replies)) == bytes(replies)
    assert done > 0
    assert len(echo_server.connections) == 1


def test_tcp_settle_with_several_connections_at_once(echo_server: sockfix.TCPServer) -> None:
    n_clients = 4
    deadline = _budget()
    with (
        connect(echo_server) as c1,
        connect(echo_server) as c2,
        connect(echo_server) as c3,
        connect(echo_server) as c4,
    ):
        clients = [c1, c2, c3, c4]
        echo_server.wait_for_connections(n_clients)
        # Accept order is connect order only per listener queue: map each recording to its
        # client by the client's own port.
        by_port = {c.getsockname()[1]: k for k, c in enumerate(clients)}
        sent = [bytearray() for _ in clients]
        done = 0
        for i in range(ROUNDS // 3):
            if time.monotonic() > deadline:
                break
            for k, client in enumerate(clients):
                line = b"client %d round %d\n" % (k, i)
                client.sendall(line)
                sent[k] += line
            assert echo_server.settle(), f"round {i}: not settled within 1 s"
            conns = echo_server.connections
            assert len(conns) == n_clients
            for conn in conns:
                k = by_port[conn.peer[1]]
                assert conn.received == sent[k], f"round {i}, client {k}: not recorded yet"
                assert len(conn.messages) == i + 1
                assert conn.sent == sent[k].upper(), f"round {i}, client {k}: reply missing"
            done += 1
        for k, client in enumerate(clients):
            assert recv_exactly(client, len(sent[k])) == bytes(sent[k]).upper()
    assert done > 0


def test_tcp_settle_covers_a_fresh_connection_in_the_accept_queue(
    echo_server: sockfix.TCPServer,
) -> None:
    """Bytes sent right after connect(): settle() must see the connection still waiting to be
    accepted, or not yet reading, as not settled."""
    deadline = _budget()
    done = 0
    for i in range(ROUNDS // 3):
        if time.monotonic() > deadline:
            break
        line = b"fresh %d\n" % i
        with connect(echo_server) as client:
            client.sendall(line)
            assert echo_server.settle(), f"connection {i + 1}: not settled within 1 s"
            conns = echo_server.connections
            assert len(conns) == i + 1, f"connection {i + 1} not accepted when settled"
            assert conns[i].received == line, f"connection {i + 1}: {conns[i].events!r}"
            assert conns[i].messages == [line]
            assert conns[i].sent == line.upper()
            assert recv_exactly(client, len(line)) == line.upper()
        done += 1
    assert done > 0


def test_tcp_settle_sees_a_greeting_and_the_first_line() -> None:
    with sockfix.TCPServer(handler=sockfix.echo(bytes.upper)) as server:
        server.on_connect().respond(b"hello\n")
        deadline = _budget()
        for i in range(ROUNDS // 6):
            if time.monotonic() > deadline:
                break
            with connect(server) as client:
                client.sendall(b"first\n")
                assert server.settle(), f"connection {i + 1}: not settled within 1 s"
                conn = server.connections[i]
                assert conn.sent == b"hello\nFIRST\n"
                assert conn.messages == [b"first\n"]
                assert recv_exactly(client, 12) == b"hello\nFIRST\n"


# -- UDPServer ----------------------------------------------------------------------------------


def test_udp_settle_records_every_datagram_sent_without_waiting() -> None:
    payloads = [b"datagram %d" % i for i in range(DATAGRAMS)]
    with (
        sockfix.UDPServer(handler=sockfix.echo(bytes.upper)) as server,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client,
    ):
        client.settimeout(2)
        for data in payloads:
            client.sendto(data, server.address)
        assert server.settle(), "not settled within 1 s"
        assert len(server.datagrams) == DATAGRAMS
        assert [d.data for d in server.datagrams] == payloads
        assert len(server.connections) == 1
        conn = server.connections[0]
        assert conn.peer[1] == client.getsockname()[1]
        assert conn.messages == payloads
        assert [e.data for e in conn.events if e.kind == "in"] == payloads
        # Each reply is recorded before it is sent, so the replies are all there too.
        assert [e.data for e in conn.events if e.kind == "out"] == [p.upper() for p in payloads]
        assert client.recv(1024) == payloads[0].upper()


def test_udp_settle_in_rounds_from_two_peers() -> None:
    with (
        sockfix.UDPServer(handler=sockfix.echo(bytes.upper)) as server,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as first,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as second,
    ):
        first.settimeout(2)
        second.settimeout(2)
        first.sendto(b"hello", server.address)
        second.sendto(b"hello", server.address)
        server.wait_for_datagrams(2)
        assert first.recv(1024) == second.recv(1024) == b"HELLO"
        deadline = _budget()
        total = 2
        for i in range(30):
            if time.monotonic() > deadline:
                break
            for n in range(10):
                first.sendto(b"a %d %d" % (i, n), server.address)
                second.sendto(b"b %d %d" % (i, n), server.address)
            total += 20
            assert server.settle(), f"round {i}: not settled within 1 s"
            assert len(server.datagrams) == total, f"round {i}"
            a, b = server.connections
            assert a.messages[-1] == b"a %d 9" % i
            assert b.messages[-1] == b"b %d 9" % i
            assert len(a.messages) == len(b.messages) == total // 2
            for _ in range(10):  # drain the replies so the clients' buffers never fill
                assert first.recv(1024).startswith(b"A %d " % i)
                assert second.recv(1024).startswith(b"B %d " % i)


# -- TCPProxy -----------------------------------------------------------------------------------


@pytest.fixture
def proxy(echo_server: sockfix.TCPServer) -> Iterator[sockfix.TCPProxy]:
    with sockfix.TCPProxy(upstream=echo_server.address) as proxy:
        yield proxy


def test_proxy_settle_records_each_chunk_before_the_client_reads(
    proxy: sockfix.TCPProxy, echo_server: sockfix.TCPServer
) -> None:
    deadline = _budget()
    sent = bytearray()
    done = 0
    with connect(proxy) as client:
        # The link is set up first (a fresh connection is the next test's subject): this one
        # is about chunks on an open link.
        proxy.wait_until(lambda p: "connect" in kinds(p.connections[0].upstream), timeout=2)
        for i in range(ROUNDS):
            if time.monotonic() > deadline:
                break
            chunk = b"chunk %d\n" % i
            client.sendall(chunk)
            sent += chunk
            assert proxy.settle(), f"round {i}: proxy not settled within 1 s"
            conn = proxy.connections[0]
            assert conn.received == sent, f"round {i}: {chunk!r} not recorded by the proxy"
            # Settled, the proxy has passed the chunk on: the upstream has it, then its reply
            # is back at the proxy, then the proxy has recorded it and passed it on.
            assert conn.upstream.sent == sent, f"round {i}: not passed upstream"
            assert echo_server.settle(), f"round {i}: upstream not settled within 1 s"
            assert echo_server.connections[0].received == sent
            assert proxy.settle(), f"round {i}: proxy not settled within 1 s (reply)"
            assert conn.upstream.received == sent.upper(), f"round {i}: reply not recorded"
            assert conn.sent == sent.upper(), f"round {i}: reply not passed on"
            done += 1
        assert recv_exactly(client, len(sent)) == bytes(sent).upper()
    assert done > 0


def test_proxy_settle_covers_a_fresh_connection(proxy: sockfix.TCPProxy) -> None:
    """Bytes sent right after connect(): the proxy is settled only once it has accepted the
    connection, connected upstream and recorded them."""
    deadline = _budget()
    done = 0
    for i in range(ROUNDS // 3):
        if time.monotonic() > deadline:
            break
        chunk = b"fresh %d\n" % i
        with connect(proxy) as client:
            client.sendall(chunk)
            assert proxy.settle(), f"connection {i + 1}: not settled within 1 s"
            conns = proxy.connections
            assert len(conns) == i + 1, f"connection {i + 1} not accepted when settled"
            assert conns[i].received == chunk, f"connection {i + 1}: {conns[i].events!r}"
            assert conns[i].upstream.sent == chunk
            assert recv_exactly(client, len(chunk)) == chunk.upper()
        done += 1
    assert done > 0


# -- stopped, never started, busy ---------------------------------------------------------------


def _endpoints() -> list[sockfix.TCPServer | sockfix.UDPServer | sockfix.TCPProxy]:
    return [
        sockfix.TCPServer(),
        sockfix.UDPServer(),
        sockfix.TCPProxy(upstream=("127.0.0.1", 9)),  # never connects: no client comes
    ]


def test_settle_is_true_on_a_never_started_endpoint() -> None:
    for endpoint in _endpoints():
        started = time.monotonic()
        assert endpoint.settle() is True, repr(endpoint)
        assert endpoint.settle(0) is True, repr(endpoint)
        assert time.monotonic() - started < 0.9, f"{endpoint!r}: settle() waited"


def test_settle_is_true_on_a_stopped_endpoint() -> None:
    for endpoint in _endpoints():
        endpoint.start()
        endpoint.stop()
        started = time.monotonic()
        assert endpoint.settle() is True, repr(endpoint)
        assert time.monotonic() - started < 0.9, f"{endpoint!r}: settle() waited"


def test_settle_is_true_on_an_idle_server_with_an_idle_connection(
    echo_server: sockfix.TCPServer,
) -> None:
    with connect(echo_server) as client:
        client.sendall(b"one\n")
        assert recv_exactly(client, 4) == b"ONE\n"
        assert echo_server.settle(0.5) is True
        assert echo_server.settle(0.5) is True  # stays settled while nothing comes


def test_settle_never_waits_out_a_delayed_rule() -> None:
    # The end-of-test check settles first: a client that gave up on a .delay(5) must not cost
    # the test the delay (nor settle's whole timeout).
    with sockfix.TCPServer() as server:
        server.expect(b"SLOW\n").delay(5).respond(b"late\n")
        with connect(server) as client:
            client.sendall(b"SLOW\n")
            server.wait_until(lambda s: s.connections[0].messages == [b"SLOW\n"], timeout=2)
            started = time.monotonic()
            assert server.settle(2.0) is True
            took = time.monotonic() - started
            assert took < 0.5, f"settle() took {took:.3f} s"
            assert server.connections[0].sent == b""  # still waiting to answer
            stop_started = time.monotonic()
            server.stop()  # wakes the delay
            assert time.monotonic() - stop_started < 1.5
        assert server.settle() is True


def test_settle_still_waits_for_bytes_that_a_busy_connection_has_not_handled() -> None:
    def slow_framing(buffer: bytes) -> int | None:
        gate.wait(5)  # the connection is busy handling, not waiting out a delay
        return sockfix.framing.lines()(buffer)

    gate = threading.Event()
    with (
        sockfix.TCPServer(framing=slow_framing, handler=sockfix.echo()) as server,
        connect(server) as client,
    ):
        try:
            client.sendall(b"x\n")
            server.wait_until(lambda s: s.connections and s.connections[0].received, timeout=2)
            assert server.settle(0.2) is False
            gate.set()
            assert server.settle(2.0) is True
            assert server.connections[0].sent == b"x\n"
        finally:
            gate.set()


def test_proxy_settle_never_waits_out_latency(
    echo_server: sockfix.TCPServer,
) -> None:
    with sockfix.TCPProxy(upstream=echo_server.address) as proxy:
        with connect(proxy) as client:
            client.sendall(b"one\n")
            assert recv_exactly(client, 4) == b"ONE\n"
            proxy.fault(faults.Latency(5), direction="upstream")
            client.sendall(b"two\n")
            proxy.wait_until(lambda p: p.connections[0].received == b"one\ntwo\n", timeout=2)
            proxy.wait_until(lambda p: "fault" in kinds(p.connections[0]), timeout=2)
            started = time.monotonic()
            assert proxy.settle(2.0) is True
            took = time.monotonic() - started
            assert took < 0.5, f"settle() took {took:.3f} s"
            assert proxy.connections[0].upstream.sent == b"one\n"  # still held back
            proxy.stop()
        assert "fault" in kinds(proxy.connections[0])
