"""The examples of docs/udp.md: a scripted UDP peer, its recording, and datagram faults."""

from __future__ import annotations

import socket

import pytest

import sockfix
from sockfix import faults


def test_ping_pong():
    with sockfix.UDPServer() as server:
        server.expect(b"ping").respond(b"pong")  # one datagram in, one datagram out

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.settimeout(1)
            client.sendto(b"ping", server.address)
            assert client.recv(1024) == b"pong"


def test_several_datagrams_and_a_handler():
    with sockfix.UDPServer(handler=sockfix.echo(bytes.upper)) as server:
        server.expect(b"list").respond(b"a").respond(b"b")  # two datagrams

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.settimeout(1)
            client.sendto(b"list", server.address)
            assert [client.recv(1024), client.recv(1024)] == [b"a", b"b"]
            client.sendto(b"hello", server.address)  # no rule: the handler answers
            assert client.recv(1024) == b"HELLO"


def test_datagrams_are_recorded():
    with sockfix.UDPServer(strict=False) as server:
        server.expect(b"ping").respond(b"pong")

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.sendto(b"ping", server.address)
            client.sendto(b"unexpected", server.address)
            first, second = server.wait_for_datagrams(2)

    assert first.data == b"ping"
    assert second.data == b"unexpected"  # recorded, answered or not
    assert first.peer == second.peer  # (host, port) of the client
    assert first.time <= second.time  # seconds since the server started
    conn = server.connections[0]  # one connection per peer address
    assert conn.received == b"pingunexpected"
    assert conn.sent == b"pong"


def test_strict_udp_server():
    server = sockfix.UDPServer().start()
    server.expect(b"ping").respond(b"pong")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        client.sendto(b"PING?", server.address)
        server.wait_for_datagrams(1)
    with pytest.raises(sockfix.StrictError, match="no rule matched"):
        server.stop()


def test_dropped_replies():
    with sockfix.UDPServer() as server:
        server.expect(b"ping").respond(b"pong")
        server.fault(faults.Drop(1.0))  # every reply is lost

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.settimeout(0.2)
            client.sendto(b"ping", server.address)
            with pytest.raises(TimeoutError):
                client.recv(1024)


def test_duplicated_and_reordered_replies():
    with sockfix.UDPServer() as server:
        server.expect(sockfix.ANY).respond(lambda datagram: b"re:" + datagram)
        server.fault(faults.Duplicate(1.0), connections=[1])
        server.fault(faults.Reorder(1.0, window=1), connections=[2])

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as first:
            first.settimeout(1)
            first.sendto(b"1", server.address)
            assert [first.recv(1024), first.recv(1024)] == [b"re:1", b"re:1"]

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as second:
            second.settimeout(1)
            second.sendto(b"1", server.address)
            second.sendto(b"2", server.address)
            assert [second.recv(1024), second.recv(1024)] == [b"re:2", b"re:1"]


def test_seeded_loss():
    def replies(seed):
        with sockfix.UDPServer(seed=seed) as server:
            server.expect(sockfix.ANY).respond(lambda datagram: datagram)
            server.fault(faults.Drop(0.5))  # each reply lost with probability 0.5
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
                client.settimeout(0.2)
                for n in range(10):
                    client.sendto(b"%d" % n, server.address)
                got = []
                for _ in range(10):
                    try:
                        got.append(client.recv(1024))
                    except TimeoutError:
                        break
                return got

    assert replies(seed=5) == replies(seed=5)  # the same seed loses the same datagrams
