"""TCPServer lifecycle: binding, addresses, start/stop, port errors, listen backlog, NODELAY."""

from __future__ import annotations

import errno
import socket
import struct
import sys
import threading

import pytest
from _nethelp import connect, has_ipv6, recv_until

import sockfix
from sockfix.net.endpoint import Endpoint
from sockfix.net.lifecycle import Lifecycle, Phase, StuckThreadsError


def test_with_binds_loopback_on_an_ephemeral_port() -> None:
    with sockfix.TCPServer() as server:
        server.expect(b"PING\n").respond(b"PONG\n")
        assert server.host == "127.0.0.1"
        assert 0 < server.port < 65536
        assert server.address == ("127.0.0.1", server.port)
        assert server._listener is not None
        assert server._listener.socket.getsockname() == ("127.0.0.1", server.port)
        with socket.create_connection(server.address, timeout=5) as client:
            client.sendall(b"PING\n")
            assert recv_until(client, b"\n") == b"PONG\n"


def test_start_and_stop_without_with() -> None:
    server = sockfix.TCPServer()
    try:
        assert server.start() is server
        server.expect(b"hi\n").respond(b"there\n")
        with connect(server) as client:
            client.sendall(b"hi\n")
            assert recv_until(client, b"\n") == b"there\n"
    finally:
        server.stop()
    assert server.connections[0].received == b"hi\n"


def test_port_and_address_before_start_raise() -> None:
    server = sockfix.TCPServer()
    with pytest.raises(RuntimeError, match="not started"):
        _ = server.port
    with pytest.raises(RuntimeError, match="not started"):
        _ = server.address
    assert server.host == "127.0.0.1"
    server.stop()  # stopping a server never started is harmless


def test_start_twice_raises() -> None:
    with sockfix.TCPServer() as server, pytest.raises(RuntimeError, match="already started"):
        server.start()


def test_start_after_stop_raises() -> None:
    server = sockfix.TCPServer().start()
    server.stop()
    with pytest.raises(RuntimeError, match="already stopped"):
        server.start()


def test_stop_is_idempotent() -> None:
    server = sockfix.TCPServer().start()
    port = server.port
    server.stop()
    server.stop()
    server.stop(check=False)
    assert server.port == port  # the address stays readable for reports
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass


def test_stopped_server_refuses_connections() -> None:
    with sockfix.TCPServer() as server:
        address = server.address
    with pytest.raises(ConnectionRefusedError), socket.create_connection(address, timeout=2):
        pass


@pytest.mark.skipif(not has_ipv6(), reason="IPv6 loopback ::1 cannot be bound here")
def test_ipv6_loopback() -> None:
    with sockfix.TCPServer(host="::1") as server:
        server.expect(b"PING\n").respond(b"PONG\n")
        assert server.host == "::1"
        assert server.address == ("::1", server.port)
        assert server._listener is not None
        assert server._listener.socket.family == socket.AF_INET6
        assert server._listener.socket.getsockname()[:2] == ("::1", server.port)
        with socket.create_connection(server.address, timeout=5) as client:
            client.sendall(b"PING\n")
            assert recv_until(client, b"\n") == b"PONG\n"
        conn = server.wait_for_connections(1)[0]
        assert conn.peer[0] == "::1"
    assert server.received == b"PING\n"


def test_port_in_use_raises_port_in_use_error() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        server = sockfix.TCPServer(port=port)
        with pytest.raises(sockfix.PortInUseError) as info:
            server.start()
        server.stop()
    err = info.value
    assert isinstance(err, OSError)
    assert err.errno == errno.EADDRINUSE
    assert str(port) in str(err)
    assert "port=0" in str(err)
    assert "127.0.0.1" in str(err)


def test_port_in_use_with_the_with_form() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        with (
            pytest.raises(sockfix.PortInUseError, match=rf"port {port}\b"),
            sockfix.TCPServer(port=port),
        ):
            pass


def test_explicit_free_port_is_used() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with sockfix.TCPServer(port=port) as server:
        assert server.port == port
        with connect(server):
            server.wait_for_connections(1)


def test_listen_backlog_is_at_least_128() -> None:
    with sockfix.TCPServer() as server:
        assert server._listener is not None
        assert server._listener.request_queue_size >= 128
        if sys.platform != "linux":
            return
        # On Linux, TCP_INFO of a listening socket holds the backlog in tcpi_sacked.
        info = server._listener.socket.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
        _unacked, sacked = struct.unpack_from("II", info, 24)
        assert sacked >= 128


def test_accepted_sockets_have_tcp_nodelay() -> None:
    with sockfix.TCPServer(strict=False) as server, connect(server) as client:
        server.wait_until(lambda s: len(s._served) == 1)
        sock = server._served[0].sock
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        client.sendall(b"x\n")
        server.wait_until(lambda s: s.connections and s.connections[0].bytes_received == 2)
    assert server.connections[0].received == b"x\n"


def test_repr_says_state() -> None:
    server = sockfix.TCPServer()
    assert "new" in repr(server)
    with server:
        assert "started" in repr(server)
        assert str(server.port) in repr(server)
    assert "stopped" in repr(server)


def test_stop_reports_stuck_threads_with_one_error() -> None:
    life = Lifecycle("TCPServer 127.0.0.1:1")
    release = threading.Event()
    life.start(lambda: release.wait(5.0), "loop")
    assert life.begin_stop()
    stuck = life.join(timeout=0.05)
    release.set()
    assert [t.name for t in stuck] == ["sockfix TCPServer 127.0.0.1:1 loop"]
    with pytest.raises(StuckThreadsError, match=r"threads still running .*: sockfix TCPServer"):
        life.finish(stuck)
    assert life.phase is Phase.STOPPED
    assert life.join() == []


@pytest.mark.parametrize("cls", [sockfix.TCPServer, sockfix.UDPServer, sockfix.TCPProxy])
def test_every_endpoint_stops_the_same_way(cls: type) -> None:
    # One stop path (Endpoint._shutdown: begin, wake, abort, join, close down, finish), so a
    # stuck thread is reported the same everywhere; endpoints only say what to abort and close.
    assert cls.stop is Endpoint.stop
    assert cls._shutdown is Endpoint._shutdown
