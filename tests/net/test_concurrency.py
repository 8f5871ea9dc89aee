"""Many clients at once: exact per-connection recordings, exact times(n), pipelined bursts."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable

from _nethelp import connect, recv_exactly, recv_until

import sockfix

CLIENTS = 200


def _run_threads(n: int, target: Callable[[int], None], timeout: float = 60.0) -> None:
    """Run ``target(i)`` on ``n`` threads; re-raise the first failure."""
    errors: list[BaseException] = []
    lock = threading.Lock()

    def wrapped(i: int) -> None:
        try:
            target(i)
        except BaseException as exc:
            with lock:
                errors.append(exc)

    threads = [
        threading.Thread(target=wrapped, args=(i,), name=f"test client {i}") for i in range(n)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    assert not [t for t in threads if t.is_alive()], "client threads did not finish"
    if errors:
        raise errors[0]


def test_hundreds_of_concurrent_clients_record_exactly() -> None:
    rounds = 5
    sent_by: dict[int, bytes] = {}
    read_by: dict[int, bytes] = {}
    port_of: dict[int, int] = {}
    with sockfix.TCPServer(handler=sockfix.echo(bytes.upper)) as server:
        server.expect(sockfix.ANY).respond(lambda m: m.upper()).times(1)  # one racing claim

        def client(i: int) -> None:
            with connect(server, timeout=30) as c:
                port_of[i] = c.getsockname()[1]
                out, got = b"", b""
                for r in range(rounds):
                    line = b"client %d round %d %s\n" % (i, r, b"x" * (i % 37))
                    c.sendall(line)
                    out += line
                    got += recv_until(c, b"\n")
                sent_by[i], read_by[i] = out, got

        _run_threads(CLIENTS, client)
        server.wait_until(lambda s: sum(c.closed for c in s.connections) == CLIENTS, timeout=30)
    assert len(server.connections) == CLIENTS
    by_port = {c.peer[1]: c for c in server.connections}
    for i in range(CLIENTS):
        conn = by_port[port_of[i]]
        assert conn.received == sent_by[i]
        assert conn.sent == read_by[i] == sent_by[i].upper()
        assert len(conn.messages) == rounds
    assert [c.number for c in server.connections] == list(range(1, CLIENTS + 1))
    assert server.rules[0].used == 1


def test_times_counts_are_exact_under_concurrency() -> None:
    results: dict[int, bytes] = {}
    with sockfix.TCPServer() as server:
        server.expect(sockfix.ANY).respond(b"A\n").times(50)
        server.expect(sockfix.ANY).respond(b"B\n")
        start = threading.Barrier(CLIENTS, timeout=30)

        def client(i: int) -> None:
            with connect(server, timeout=30) as c:
                start.wait()
                c.sendall(b"go\n")
                results[i] = recv_until(c, b"\n")

        _run_threads(CLIENTS, client)
    values = list(results.values())
    assert len(values) == CLIENTS
    assert values.count(b"A\n") == 50
    assert values.count(b"B\n") == CLIENTS - 50
    assert server.rules[0].used == 50
    assert server.rules[1].used == CLIENTS - 50


def test_burst_of_pipelined_lines_gets_every_reply() -> None:
    n = 200_000
    burst = b"".join(b"%d\n" % i for i in range(n))
    expected = b"".join(b"ok %d\n" % i for i in range(n))
    with sockfix.TCPServer() as server:
        server.expect(sockfix.ANY).respond(lambda m: b"ok " + m)
        with connect(server, timeout=60) as client:
            got: list[bytes] = []
            reader_error: list[BaseException] = []

            def read() -> None:  # read while sending, or both sides fill their buffers
                try:
                    got.append(recv_exactly(client, len(expected), timeout=120))
                except BaseException as exc:
                    reader_error.append(exc)

            reader = threading.Thread(target=read, name="test burst reader")
            reader.start()
            try:
                client.sendall(burst)
            finally:
                reader.join(120)
            assert not reader.is_alive()
            assert not reader_error, reader_error
            assert got[0] == expected
    conn = server.connections[0]
    assert len(conn.messages) == n
    assert conn.messages[0] == b"0\n"
    assert conn.messages[-1] == b"%d\n" % (n - 1)
    assert conn.received == burst
    assert conn.sent == expected


def test_one_slow_client_does_not_hold_up_others() -> None:
    with sockfix.TCPServer() as server:
        server.expect(b"SLOW\n").delay(30).respond(b"late\n")
        server.expect(b"FAST\n").respond(b"now\n")
        with connect(server) as slow:
            slow.sendall(b"SLOW\n")
            server.wait_until(lambda s: s.connections and s.connections[0].messages)
            for _ in range(10):
                with connect(server, timeout=2) as fast:
                    fast.sendall(b"FAST\n")
                    assert recv_until(fast, b"\n") == b"now\n"
            server.stop(check=False)


def test_fifty_simultaneous_connects_are_all_accepted() -> None:
    with sockfix.TCPServer() as server:
        server.on_connect().respond(b"hi\n")
        barrier = threading.Barrier(50, timeout=30)

        def client(i: int) -> None:
            barrier.wait()
            with socket.create_connection(server.address, timeout=10) as c:
                assert recv_until(c, b"\n") == b"hi\n"

        _run_threads(50, client)
        server.wait_until(lambda s: sum(c.closed for c in s.connections) == 50, timeout=30)
    assert len(server.connections) == 50
