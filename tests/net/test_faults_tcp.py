"""TCP faults over real loopback sockets: what the client sees, and what the server records."""

from __future__ import annotations

import errno
import socket
import time

import pytest
from _nethelp import connect, kinds, recv_exactly, recv_until

import sockfix
from sockfix import faults

PAYLOAD = bytes(range(32, 127)) + b"\n"  # 96 bytes


def read_to_end(sock: socket.socket, limit: int = 1 << 20) -> tuple[bytes, OSError | None]:
    """Read until EOF or an error: (the bytes, the error or None)."""
    out = bytearray()
    try:
        for _ in range(limit):
            chunk = sock.recv(65536)
            if not chunk:
                return bytes(out), None
            out += chunk
            if len(out) > limit:
                break
    except OSError as exc:
        return bytes(out), exc
    raise AssertionError("no end within the limit")


def read_one(server: sockfix.TCPServer) -> bytes:
    with connect(server) as client:
        return client.recv(10)


def fault_notes(conn: sockfix.Connection) -> list[str]:
    return [e.note for e in conn.events if e.kind == "fault"]


def ask(address: tuple[str, int], request: bytes, attempts: int = 5) -> tuple[bytes, list[str]]:
    """A small client with retries: one request per connection, a new connection per retry."""
    errors: list[str] = []
    for _ in range(attempts):
        try:
            with socket.create_connection(address, timeout=2) as sock:
                sock.sendall(request)
                with sock.makefile("rb") as replies:
                    line = replies.readline()
        except ConnectionResetError as exc:
            errors.append(errno.errorcode[exc.errno])
            continue
        if line:
            return line, errors
        errors.append("EOF")
    raise AssertionError(f"no reply after {attempts} attempts: {errors}")


# -- the headline ---------------------------------------------------------------------------


def test_reset_connections_one_and_two_then_the_reply():
    with sockfix.TCPServer() as server:
        server.expect(b"GET\n").respond(b"VALUE 42\n")
        server.fault(faults.Reset(), connections=[1, 2])

        reply, errors = ask(server.address, b"GET\n")

        assert reply == b"VALUE 42\n"
        assert errors == ["ECONNRESET", "ECONNRESET"]
        server.wait_until(lambda s: len(s.connections) == 3 and s.connections[2].closed)
        first, second, third = server.connections
        for conn in (first, second):
            assert kinds(conn)[:3] == ["connect", "fault", "reset"]
            assert fault_notes(conn) == ["Reset(): reset on connect"]
            assert conn.sent == b""
        assert third.sent == b"VALUE 42\n"
        assert fault_notes(third) == []


def test_reset_is_a_real_rst():
    with sockfix.TCPServer(strict=False) as server:
        server.fault(faults.Reset())
        with pytest.raises(ConnectionResetError):  # even connect() may see it
            read_one(server)  # a plain close would read b"" here
        server.wait_until(lambda s: s.connections and "reset" in kinds(s.connections[0]))
        [reset] = [e for e in server.connections[0].events if e.kind == "reset"]
        assert reset.note == "fault"


def test_server_fault_checks_its_arguments():
    with sockfix.TCPServer() as server:
        with pytest.raises(TypeError, match="not a TCP fault"):
            server.fault(faults.Drop(0.5))
        with pytest.raises(ValueError, match="the first connection is 1"):
            server.fault(faults.Reset(), connections=[0])
        with pytest.raises(TypeError, match=r"sockfix\.faults"):
            server.fault("reset")  # type: ignore[arg-type]
        assert server.faults == []


def test_faults_are_described():
    with sockfix.TCPServer() as server:
        server.fault(faults.Reset(), connections=[1, 2])
        server.fault(faults.Latency(0.05, jitter=0.01))
        assert server.faults == [
            "Reset() on connections [1, 2]",
            "Latency(0.05, jitter=0.01) on all connections",
        ]
        transcript = server.transcript()
        assert "Reset() on connections [1, 2]" in transcript
        assert f"seed={server.seed}" in transcript


# -- shaping the bytes ------------------------------------------------------------------------


def test_chunked_one_byte_arrives_whole_as_one_byte_sends():
    with sockfix.TCPServer() as server:
        server.expect(b"GET\n").respond(PAYLOAD)
        server.fault(faults.Chunked(1, delay=0.001))
        with connect(server) as client:
            client.sendall(b"GET\n")
            assert recv_exactly(client, len(PAYLOAD)) == PAYLOAD
        server.wait_until(lambda s: s.connections[0].sent == PAYLOAD)
        conn = server.connections[0]
        outs = [e.data for e in conn.events if e.kind == "out"]
        assert outs == [bytes([b]) for b in PAYLOAD]
        assert fault_notes(conn) == ["Chunked(1, delay=0.001): 96 bytes as 96 sends"]


def test_chunked_big_reply_arrives_exact():
    big = bytes(range(256)) * (48 * 1024)  # 12 MiB
    with sockfix.TCPServer() as server:
        server.expect(b"BIG\n").respond(big)
        server.fault(faults.Chunked(1024))
        with connect(server, timeout=20) as client:
            client.sendall(b"BIG\n")
            got = recv_exactly(client, len(big), timeout=60)
        assert got == big
        server.wait_until(lambda s: len(s.connections[0].sent) == len(big), timeout=20)
        assert server.connections[0].sent == big
        outs = [e for e in server.connections[0].events if e.kind == "out"]
        assert len(outs) == len(big) // 1024


def test_latency_delays_every_reply():
    with sockfix.TCPServer() as server:
        server.expect(b"PING\n").respond(b"PONG\n")
        server.fault(faults.Latency(0.1))
        with connect(server) as client:
            for _ in range(2):
                t0 = time.perf_counter()
                client.sendall(b"PING\n")
                assert recv_exactly(client, 5) == b"PONG\n"
                assert time.perf_counter() - t0 >= 0.1
        notes = fault_notes(server.connections[0])
        assert notes == ["Latency(0.1): delayed 5 bytes by 0.100000 s"] * 2


def test_latency_with_jitter_is_at_least_its_low_end():
    with sockfix.TCPServer(seed=3) as server:
        server.expect(b"PING\n").respond(b"PONG\n")
        server.fault(faults.Latency(0.1, jitter=0.05))
        with connect(server) as client:
            t0 = time.perf_counter()
            client.sendall(b"PING\n")
            assert recv_exactly(client, 5) == b"PONG\n"
            assert time.perf_counter() - t0 >= 0.05
        [note] = fault_notes(server.connections[0])
        delay = float(note.split(" by ")[1].split()[0])
        assert 0.05 <= delay <= 0.15


def test_bandwidth_paces_the_reply():
    with sockfix.TCPServer() as server:
        server.expect(b"GET\n").respond(b"x" * 50)
        server.fault(faults.Bandwidth(1000))  # 10-byte sends, 10 ms apart
        with connect(server) as client:
            t0 = time.perf_counter()
            client.sendall(b"GET\n")
            assert recv_exactly(client, 50) == b"x" * 50
            assert time.perf_counter() - t0 >= 0.04
        server.wait_until(lambda s: len(s.connections[0].sent) == 50)
        outs = [e.data for e in server.connections[0].events if e.kind == "out"]
        assert outs == [b"x" * 10] * 5
        assert fault_notes(server.connections[0]) == ["Bandwidth(1000): 50 bytes at 1000 B/s"]


def test_corrupt_changes_every_byte_but_not_the_length():
    with sockfix.TCPServer() as server:
        server.expect(b"GET\n").respond(PAYLOAD)
        server.fault(faults.Corrupt(1.0))
        with connect(server) as client:
            client.sendall(b"GET\n")
            got = recv_exactly(client, len(PAYLOAD))
        assert all(a != b for a, b in zip(got, PAYLOAD, strict=True))
        server.wait_until(lambda s: len(s.connections[0].sent) == len(PAYLOAD))
        assert server.connections[0].sent == got
        assert fault_notes(server.connections[0]) == ["Corrupt(1.0): changed 96 of 96 bytes"]


# -- ending a connection ----------------------------------------------------------------------


def test_truncate_delivers_exactly_n_bytes_then_eof():
    with sockfix.TCPServer() as server:
        server.expect(b"GET\n").respond(b"0123456789\n")
        server.fault(faults.Truncate(4))
        with connect(server) as client:
            client.sendall(b"GET\n")
            assert read_to_end(client) == (b"0123", None)
        server.wait_until(lambda s: s.connections[0].closed)
        conn = server.connections[0]
        assert conn.sent == b"0123"
        assert fault_notes(conn) == ["Truncate(4): truncated after 4 bytes (7 bytes not sent)"]
        assert kinds(conn)[-1] == "close"


def test_byte_offsets_count_the_greeting():
    with sockfix.TCPServer() as server:
        server.on_connect().respond(b"HI\n")
        server.expect(b"GET\n").respond(b"0123456789\n")
        server.fault(faults.Truncate(5))
        with connect(server) as client:
            assert recv_exactly(client, 3) == b"HI\n"
            client.sendall(b"GET\n")
            assert read_to_end(client) == (b"01", None)


def test_truncate_zero_closes_at_once():
    with sockfix.TCPServer() as server:
        server.on_connect().respond(b"HI\n")
        server.fault(faults.Truncate(0))
        with connect(server) as client:
            assert read_to_end(client) == (b"", None)


def test_reset_after_bytes():
    with sockfix.TCPServer() as server:
        server.expect(b"GET\n").respond(b"0123456789\n")
        server.fault(faults.Reset(after_bytes=3))
        with connect(server) as client:
            client.sendall(b"GET\n")
            data, error = read_to_end(client)
        assert data == b"012"
        assert isinstance(error, ConnectionResetError)
        server.wait_until(lambda s: s.connections[0].closed)
        conn = server.connections[0]
        assert conn.sent == b"012"
        assert fault_notes(conn) == ["Reset(after_bytes=3): reset after 3 bytes (8 bytes not sent)"]
        assert kinds(conn)[-1] == "reset"


def test_close_after_bytes():
    with sockfix.TCPServer() as server:
        server.expect(b"GET\n").respond(b"0123456789\n")
        server.fault(faults.Close(after_bytes=3))
        with connect(server) as client:
            client.sendall(b"GET\n")
            assert read_to_end(client) == (b"012", None)
        server.wait_until(lambda s: s.connections[0].closed)
        assert fault_notes(server.connections[0]) == [
            "Close(after_bytes=3): closed after 3 bytes (8 bytes not sent)"
        ]


def test_close_on_connect():
    with sockfix.TCPServer() as server:
        server.fault(faults.Close())
        with connect(server) as client:
            assert read_to_end(client) == (b"", None)


def test_hang_never_answers_never_closes_but_records():
    server = sockfix.TCPServer().start()
    try:
        server.expect(b"PING\n").respond(b"PONG\n")
        server.fault(faults.Hang())
        with connect(server, timeout=0.2) as client:
            client.sendall(b"PING\n")
            with pytest.raises(TimeoutError):
                client.recv(10)
            server.wait_until(lambda s: s.connections[0].received == b"PING\n")
            t0 = time.perf_counter()
            server.stop()
            assert time.perf_counter() - t0 < 0.5
            client.settimeout(2)
            assert read_to_end(client)[0] == b""  # closed by stop(), never answered
    finally:
        server.stop()
    conn = server.connections[0]
    assert conn.sent == b""
    assert conn.messages == [b"PING\n"]
    assert fault_notes(conn) == ["Hang(): hanging: no answer, no close"]


def test_timeout_stalls_then_closes():
    with sockfix.TCPServer() as server:
        server.expect(b"PING\n").respond(b"PONG\n")
        server.fault(faults.Timeout(0.2))
        t0 = time.perf_counter()
        with connect(server) as client:
            client.sendall(b"PING\n")
            assert read_to_end(client) == (b"", None)
            assert time.perf_counter() - t0 >= 0.2
        server.wait_until(lambda s: s.connections[0].closed)
        conn = server.connections[0]
        assert conn.received == b"PING\n"  # recorded while stalling
        assert conn.sent == b""
        assert fault_notes(conn) == ["Timeout(0.2): stalling 0.2 s, then closing"]
        assert kinds(conn)[-1] == "close"


def test_slow_close_delays_the_fin_of_a_close_rule():
    with sockfix.TCPServer() as server:
        server.expect(b"QUIT\n").respond(b"BYE\n").close()
        server.fault(faults.SlowClose(0.2))
        with connect(server) as client:
            t0 = time.perf_counter()
            client.sendall(b"QUIT\n")
            assert recv_exactly(client, 4) == b"BYE\n"
            assert read_to_end(client) == (b"", None)
            assert time.perf_counter() - t0 >= 0.2
        server.wait_until(lambda s: s.connections[0].closed)
        assert fault_notes(server.connections[0]) == ["SlowClose(0.2): FIN delayed 0.2 s"]


def test_half_close_client_reads_eof_but_can_still_send():
    with sockfix.TCPServer() as server:
        server.expect(b"PING\n").respond(b"PONG\n")
        server.fault(faults.HalfClose())
        with connect(server) as client:
            assert client.recv(10) == b""  # the server's FIN
            client.sendall(b"PING\n")
            server.wait_until(lambda s: s.connections[0].received == b"PING\n")
            assert client.recv(10) == b""
        server.wait_until(lambda s: s.connections[0].closed)
        conn = server.connections[0]
        assert conn.messages == [b"PING\n"]
        assert conn.sent == b""
        notes = fault_notes(conn)
        assert notes[0] == "HalfClose(): FIN sent on connect, still reading"
        assert "5 bytes not sent" in notes[1]
        assert "eof" in kinds(conn)


def test_garbage_sends_random_bytes_then_closes():
    with sockfix.TCPServer(seed=1) as server:
        server.expect(b"GET\n").respond(b"VALUE 42\n")
        server.fault(faults.Garbage(16))
        with connect(server) as client:
            client.sendall(b"GET\n")
            data, error = read_to_end(client)
        assert error is None
        assert len(data) == 16
        assert data != b"VALUE 42\n"[:16]
        server.wait_until(lambda s: s.connections[0].closed)
        conn = server.connections[0]
        assert conn.sent == data
        assert fault_notes(conn) == ["Garbage(16): 16 random bytes instead of 9, then close"]


# -- choosing connections, live changes -----------------------------------------------------


def test_a_fault_on_one_connection_only():
    with sockfix.TCPServer() as server:
        server.expect(b"PING\n").respond(b"PONG\n")
        server.fault(faults.Close(), connections=[2])
        results = []
        for _ in range(3):
            with connect(server) as client:
                client.sendall(b"PING\n")
                results.append(
                    read_to_end(client, limit=5)[0] if _ == 1 else recv_exactly(client, 5)
                )
        assert results == [b"PONG\n", b"", b"PONG\n"]


def test_a_fault_reaches_open_connections_at_their_next_send():
    with sockfix.TCPServer() as server:
        server.expect(b"PING\n").respond(b"PONG\n")
        with connect(server) as client:
            client.sendall(b"PING\n")
            assert recv_exactly(client, 5) == b"PONG\n"
            server.fault(faults.Chunked(1))
            client.sendall(b"PING\n")
            assert recv_exactly(client, 5) == b"PONG\n"
            server.wait_until(lambda s: len(s.connections[0].sent) == 10)
            server.clear_faults()
            assert server.faults == []
            client.sendall(b"PING\n")
            assert recv_exactly(client, 5) == b"PONG\n"
            server.wait_until(lambda s: len(s.connections[0].sent) == 15)
        outs = [e.data for e in server.connections[0].events if e.kind == "out"]
        assert outs == [b"PONG\n", b"P", b"O", b"N", b"G", b"\n", b"PONG\n"]


def test_clear_faults_before_a_connection():
    with sockfix.TCPServer() as server:
        server.expect(b"PING\n").respond(b"PONG\n")
        server.fault(faults.Reset())
        server.clear_faults()
        assert ask(server.address, b"PING\n") == (b"PONG\n", [])


def test_probability_picks_connections_by_seed():
    def pattern(seed: int) -> list[bool]:
        with sockfix.TCPServer(seed=seed, strict=False) as server:
            server.expect(b"PING\n").respond(b"PONG\n").close()
            server.fault(faults.Close(probability=0.5))
            out = []
            for _ in range(12):
                with connect(server) as client:
                    client.sendall(b"PING\n")
                    out.append(read_to_end(client)[0] == b"PONG\n")
            return out

    first = pattern(7)
    assert first == pattern(7)
    assert first != pattern(8)
    assert 0 < sum(first) < 12


def test_probability_zero_is_a_no_op_on_the_wire():
    with sockfix.TCPServer() as server:
        server.expect(b"PING\n").respond(b"PONG\n").close()
        server.fault(faults.Reset(probability=0))
        server.fault(faults.Corrupt(0))
        with connect(server) as client:
            client.sendall(b"PING\n")
            assert read_to_end(client) == (b"PONG\n", None)
        server.wait_until(lambda s: s.connections[0].closed)
        assert "fault" not in kinds(server.connections[0])


# -- refusing ---------------------------------------------------------------------------------


def test_refuse_and_resume_on_the_same_port():
    with sockfix.TCPServer() as server:
        server.expect(b"PING\n").respond(b"PONG\n")
        port = server.port
        assert ask(server.address, b"PING\n") == (b"PONG\n", [])
        server.refuse()
        for _ in range(2):
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection(server.address, timeout=2).close()
        assert len(server.connections) == 1
        server.resume()
        assert server.port == port
        assert ask(server.address, b"PING\n") == (b"PONG\n", [])
        assert len(server.connections) == 2


def test_refuse_keeps_open_connections():
    with sockfix.TCPServer() as server:
        server.expect(b"PING\n").respond(b"PONG\n")
        with connect(server) as client:
            server.wait_for_connections(1)
            server.refuse()
            client.sendall(b"PING\n")
            assert recv_until(client, b"\n") == b"PONG\n"


def test_refuse_and_resume_are_idempotent_and_stop_works_while_refusing():
    server = sockfix.TCPServer().start()
    server.resume()  # not refusing: nothing to do
    server.refuse()
    server.refuse()
    t0 = time.perf_counter()
    server.stop()
    assert time.perf_counter() - t0 < 0.5


# -- stop() stays prompt ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [faults.Hang(), faults.Timeout(30), faults.Bandwidth(1000), faults.Latency(30),
     faults.SlowClose(30), faults.HalfClose(), faults.Chunked(1, delay=1.0)],
    ids=repr,
)  # fmt: skip
def test_stop_is_prompt_with_a_faulted_connection_active(fault):
    server = sockfix.TCPServer(strict=False).start()
    try:
        server.expect(b"GET\n").respond(b"x" * 100_000).close()
        server.fault(fault)
        with connect(server) as client:
            client.sendall(b"GET\n")
            server.wait_until(lambda s: s.connections and "fault" in kinds(s.connections[0]))
            t0 = time.perf_counter()
            server.stop()
            assert time.perf_counter() - t0 < 0.5
    finally:
        server.stop()


# -- determinism ----------------------------------------------------------------------------


def recording(seed: int, *attached: faults.Fault) -> list[tuple[bytes, list[str]]]:
    with sockfix.TCPServer(seed=seed) as server:
        server.expect(b"GET\n").respond(PAYLOAD * 2).close()
        for f in attached:
            server.fault(f)
        for _ in range(3):
            with connect(server) as client:
                client.sendall(b"GET\n")
                read_to_end(client)
        server.wait_until(lambda s: all(c.closed for c in s.connections))
        return [(c.sent, fault_notes(c)) for c in server.connections]


@pytest.mark.parametrize(
    "attached",
    [(faults.Corrupt(0.5),), (faults.Garbage(32),), (faults.Corrupt(0.2), faults.Truncate(100))],
    ids=repr,
)
def test_same_seed_same_bytes_other_seed_other_bytes(attached):
    seven = recording(7, *attached)
    assert recording(7, *attached) == seven
    assert recording(8, *attached) != seven
    assert len({sent for sent, _ in seven}) == 3  # each connection draws from its own stream
