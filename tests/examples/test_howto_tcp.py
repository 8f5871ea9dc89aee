"""The examples of docs/tcp.md: starting a TCPServer, scripting it, handlers, strict mode."""

from __future__ import annotations

import re
import shutil
import socket
import ssl
import subprocess

import pytest

import sockfix


def test_with_block():
    with sockfix.TCPServer() as server:
        server.expect(b"PING\r\n").respond(b"+PONG\r\n")
        with (
            socket.create_connection(server.address, timeout=2) as sock,
            sock.makefile("rb") as replies,
        ):
            sock.sendall(b"PING\r\n")
            assert replies.readline() == b"+PONG\r\n"
    # Leaving the block stopped the server and checked its strict rules.


def test_start_and_stop():
    server = sockfix.TCPServer(host="127.0.0.1", port=0).start()
    try:
        assert server.host == "127.0.0.1"
        assert server.address == (server.host, server.port)
    finally:
        server.stop()
    server.stop()  # idempotent


def test_greeting(tcp_server):
    tcp_server.on_connect().respond(b"220 mail.example ESMTP\r\n")

    with (
        socket.create_connection(tcp_server.address, timeout=2) as sock,
        sock.makefile("rb") as replies,
    ):
        assert replies.readline() == b"220 mail.example ESMTP\r\n"


def test_patterns(tcp_server):
    tcp_server.expect(b"PING\r\n").respond(b"+PONG\r\n")
    tcp_server.expect(re.compile(rb"GET (\w+)\r\n")).respond(lambda msg: b"VALUE " + msg[4:])
    tcp_server.expect(lambda msg: msg.startswith(b"QUIT")).respond(b"BYE\r\n").close()
    tcp_server.expect(sockfix.ANY).respond(b"-ERR unknown\r\n")

    with (
        socket.create_connection(tcp_server.address, timeout=2) as sock,
        sock.makefile("rb") as replies,
    ):
        sock.sendall(b"PING\r\nGET color\r\nHELLO\r\nQUIT now\r\n")
        assert replies.readline() == b"+PONG\r\n"
        assert replies.readline() == b"VALUE color\r\n"
        assert replies.readline() == b"-ERR unknown\r\n"
        assert replies.readline() == b"BYE\r\n"
        assert replies.readline() == b""  # the server closed


def test_respond_pieces(tcp_server):
    tcp_server.expect(b"INFO\r\n").respond(b"$5\r\n").respond(b"hello\r\n")
    tcp_server.expect(ANY_NUMBER).respond(lambda msg: str(int(msg) * 2).encode() + b"\r\n")

    with (
        socket.create_connection(tcp_server.address, timeout=2) as sock,
        sock.makefile("rb") as replies,
    ):
        sock.sendall(b"INFO\r\n21\r\n")
        assert replies.readline() == b"$5\r\n"
        assert replies.readline() == b"hello\r\n"
        assert replies.readline() == b"42\r\n"
    # Two pieces are two sends, recorded as two "out" events.
    outs = [e.data for e in tcp_server.connections[0].events if e.kind == "out"]
    assert outs[:2] == [b"$5\r\n", b"hello\r\n"]


ANY_NUMBER = re.compile(rb"\d+\r\n")


def test_fail_twice_then_succeed(tcp_server):
    tcp_server.expect(b"GET\r\n").reset().times(2)
    tcp_server.expect(b"GET\r\n").respond(b"OK\r\n")

    answers = []
    for _ in range(3):
        with (
            socket.create_connection(tcp_server.address, timeout=2) as sock,
            sock.makefile("rb") as replies,
        ):
            sock.sendall(b"GET\r\n")
            try:
                answers.append(replies.readline())
            except ConnectionResetError:
                answers.append("reset")
    assert answers == ["reset", "reset", b"OK\r\n"]


def test_first_live_match(tcp_server):
    tcp_server.expect(b"A\n").respond(b"first\n").times(1)
    tcp_server.expect(sockfix.ANY).respond(b"catch-all\n")
    tcp_server.expect(b"A\n").respond(b"never\n")  # shadowed by ANY above

    with (
        socket.create_connection(tcp_server.address, timeout=2) as sock,
        sock.makefile("rb") as replies,
    ):
        sock.sendall(b"A\nA\n")
        assert replies.readline() == b"first\n"
        assert replies.readline() == b"catch-all\n"


def test_shaping_replies(tcp_server):
    payload = bytes(range(256)) * 4
    tcp_server.expect(b"SLOW\r\n").delay(0.05).respond(b"ok\r\n")
    tcp_server.expect(b"BIG\r\n").respond(payload).chunked(100, delay=0.001)
    tcp_server.expect(b"PARTS\r\n").respond(b"abcdef\r\n").chunked([1, 2, 5])

    with (
        socket.create_connection(tcp_server.address, timeout=2) as sock,
        sock.makefile("rb") as replies,
    ):
        sock.sendall(b"SLOW\r\nBIG\r\nPARTS\r\n")
        assert replies.readline() == b"ok\r\n"
        assert replies.read(len(payload)) == payload
        assert replies.readline() == b"abcdef\r\n"
    tcp_server.wait_until(lambda s: s.connections[0].closed)  # every send recorded
    sends = [len(e.data) for e in tcp_server.connections[0].events if e.kind == "out"]
    assert sends == [4] + [100] * 10 + [24] + [1, 2, 5]


def test_endings(tcp_server):
    tcp_server.expect(b"QUIT\r\n").respond(b"BYE\r\n").close()  # FIN after the reply
    tcp_server.expect(b"BOOM\r\n").reset()  # RST, no reply: the client sees ECONNRESET
    tcp_server.expect(b"STALL\r\n").hang()  # keep reading, never answer again

    with socket.create_connection(tcp_server.address, timeout=2) as sock:
        sock.sendall(b"BOOM\r\n")
        with pytest.raises(ConnectionResetError):
            sock.recv(100)

    with socket.create_connection(tcp_server.address, timeout=0.2) as sock:
        sock.sendall(b"STALL\r\nanything\r\n")
        with pytest.raises(TimeoutError):
            sock.recv(100)

    tcp_server.wait_until(lambda s: s.connections[1].messages == [b"STALL\r\n", b"anything\r\n"])


def test_handler_echo():
    with (
        sockfix.TCPServer(handler=sockfix.echo(bytes.upper)) as server,
        socket.create_connection(server.address, timeout=2) as sock,
        sock.makefile("rb") as replies,
    ):
        sock.sendall(b"give me five\n")
        assert replies.readline() == b"GIVE ME FIVE\n"


def test_handler_with_rules():
    def kv_store(message: bytes) -> bytes | None:
        if message.startswith(b"SET "):
            return b"OK\n"
        return None  # say nothing

    with sockfix.TCPServer(handler=kv_store) as server:
        server.expect(b"QUIT\n").respond(b"BYE\n").close()  # rules are tried first
        with (
            socket.create_connection(server.address, timeout=2) as sock,
            sock.makefile("rb") as replies,
        ):
            sock.sendall(b"SET a 1\nNOOP\nQUIT\n")
            assert replies.read() == b"OK\nBYE\n"


def test_strict_failure():
    server = sockfix.TCPServer().start()
    server.expect(b"PING\r\n").respond(b"+PONG\r\n")
    server.expect(b"QUIT\r\n").respond(b"BYE\r\n").times(1)
    with socket.create_connection(server.address, timeout=2) as sock:
        sock.sendall(b"PING\r\nPONG\r\n")
    server.wait_until(lambda s: s.connections and s.connections[0].closed)

    with pytest.raises(sockfix.StrictError) as failure:
        server.stop()
    message = str(failure.value)
    assert "no rule matched message 2: b'PONG\\r\\n'" in message
    assert "missed: differs at byte 1: expected b'ING\\r\\n', got b'ONG\\r\\n'" in message
    assert "was used 0 of 1 times" in message
    assert len(failure.value.problems) == 2


def test_not_strict():
    with sockfix.TCPServer(strict=False) as server:
        with socket.create_connection(server.address, timeout=2) as sock:
            sock.sendall(b"anything\nno newline")
        server.wait_until(lambda s: s.connections and s.connections[0].closed)
    assert server.connections[0].messages == [b"anything\n"]
    assert server.connections[0].received == b"anything\nno newline"


def test_on_unmatched():
    # Strict: an unmatched message is answered with a FIN, so the client never waits for its
    # timeout, and the test still fails with the unmatched bytes.
    server = sockfix.TCPServer().start()
    server.expect(b"PING\r\n").respond(b"+PONG\r\n")
    with (
        socket.create_connection(server.address, timeout=2) as sock,
        sock.makefile("rb") as replies,
    ):
        sock.sendall(b"PING\r\nPINK\r\n")
        assert replies.read() == b"+PONG\r\n"  # the reply that was due, then EOF
    with pytest.raises(sockfix.StrictError, match=r"no rule matched message 2: b'PINK\\r\\n'"):
        server.stop()

    # Bytes: the answer to every unmatched message; the connection stays open.
    with (
        sockfix.TCPServer(strict=False, on_unmatched=b"-ERR unknown\r\n") as server,
        socket.create_connection(server.address, timeout=2) as sock,
        sock.makefile("rb") as replies,
    ):
        sock.sendall(b"PINK\r\n")
        assert replies.readline() == b"-ERR unknown\r\n"


def test_bad_arguments_fail_at_the_call(tcp_server):
    with pytest.raises(TypeError, match=r"write b'PING' \(or 'PING'.encode\(\)\)"):
        tcp_server.expect("PING")
    with pytest.raises(TypeError, match=r"call it, framing=sockfix.framing.lines\(\)"):
        sockfix.TCPServer(framing=sockfix.framing.lines)


def _has_ipv6() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _has_ipv6(), reason="no IPv6 loopback")
def test_ipv6():
    with sockfix.TCPServer(host="::1") as server:
        server.expect(b"PING\n").respond(b"PONG\n")
        with (
            socket.create_connection(server.address, timeout=2) as sock,
            sock.makefile("rb") as replies,
        ):
            sock.sendall(b"PING\n")
            assert replies.readline() == b"PONG\n"


@pytest.fixture
def certificate(tmp_path):
    """A throwaway self-signed certificate for 127.0.0.1 (made with the openssl command)."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return cert, key


def test_tls(certificate):
    cert, key = certificate
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)
    client_context = ssl.create_default_context(cafile=cert)

    with sockfix.TCPServer(tls=server_context) as server:
        server.expect(b"PING\n").respond(b"PONG\n")
        with (
            socket.create_connection(server.address, timeout=2) as raw,
            client_context.wrap_socket(raw, server_hostname="127.0.0.1") as sock,
        ):
            sock.sendall(b"PING\n")
            assert sock.recv(100) == b"PONG\n"
    assert server.connections[0].received == b"PING\n"  # decrypted

    with sockfix.TCPServer(tls=server_context) as server:
        with socket.create_connection(server.address, timeout=2) as sock:
            sock.sendall(b"PING\n")  # plain text: the handshake fails
            assert sock.recv(100) == b""
        server.wait_until(lambda s: s.connections and s.connections[0].closed)
    error = next(e for e in server.connections[0].events if e.kind == "error")
    assert error.note.startswith("TLS handshake:")


def test_on_event():
    seen = []
    with sockfix.TCPServer(on_event=lambda conn, event: seen.append(event.kind)) as server:
        server.on_connect().respond(b"hi\n")
        with socket.create_connection(server.address, timeout=2) as sock:
            assert sock.recv(100) == b"hi\n"
        server.wait_until(lambda s: s.connections[0].closed)
    assert seen == ["connect", "out", "eof", "close"]


def test_ordered_steps():
    with sockfix.TCPServer(ordered=True) as server:
        server.expect(b"STATUS\r\n").respond(b"running\r\n").times(2)  # steps 1 and 2
        server.expect(b"STATUS\r\n").respond(b"done\r\n")  # step 3
        server.expect(b"RESULT\r\n").respond(b"42\r\n")  # step 4
        with (
            socket.create_connection(server.address, timeout=2) as sock,
            sock.makefile("rb") as replies,
        ):
            for expected in [b"running\r\n", b"running\r\n", b"done\r\n"]:
                sock.sendall(b"STATUS\r\n")
                assert replies.readline() == expected
            sock.sendall(b"RESULT\r\n")
            assert replies.readline() == b"42\r\n"


def test_fail_twice_then_succeed_as_steps():
    with sockfix.TCPServer(ordered=True) as server:
        server.expect(b"GET\r\n").reset()  # step 1
        server.expect(b"GET\r\n").reset()  # step 2
        server.expect(b"GET\r\n").respond(b"OK\r\n")  # step 3

        answers = []
        for _ in range(3):  # a client that retries on a new connection
            with (
                socket.create_connection(server.address, timeout=2) as sock,
                sock.makefile("rb") as replies,
            ):
                sock.sendall(b"GET\r\n")
                try:
                    answers.append(replies.readline())
                except ConnectionResetError:
                    answers.append("reset")
    assert answers == ["reset", "reset", b"OK\r\n"]


def test_ordered_failure():
    server = sockfix.TCPServer(ordered=True).start()
    server.expect(b"LOGIN\r\n").respond(b"+OK\r\n")
    server.expect(b"GET\r\n").respond(b"data\r\n")
    with (
        socket.create_connection(server.address, timeout=2) as sock,
        sock.makefile("rb") as replies,
    ):
        sock.sendall(b"GET\r\n")  # before LOGIN
        assert replies.read() == b""  # not the next step: unmatched, the connection closed

    with pytest.raises(sockfix.StrictError) as failure:
        server.stop()
    message = str(failure.value)
    assert "no rule matched message 1: b'GET\\r\\n'" in message
    assert "ordered: expected step 1 of 2, rule 1: expect(b'LOGIN\\r\\n')" in message
    assert "was used 0 of 1 times (ordered: every step must be used)" in message


def test_max_connections():
    with sockfix.TCPServer(max_connections=1) as server:
        server.expect(b"PING\r\n").respond(b"+PONG\r\n")
        with (
            socket.create_connection(server.address, timeout=2) as sock,
            sock.makefile("rb") as replies,
        ):
            for _ in range(3):  # three requests, one connection
                sock.sendall(b"PING\r\n")
                assert replies.readline() == b"+PONG\r\n"
    assert len(server.connections) == 1


def test_too_many_connections():
    server = sockfix.TCPServer(max_connections=1).start()
    server.expect(b"PING\r\n").respond(b"+PONG\r\n")
    with (
        socket.create_connection(server.address, timeout=2) as first,
        first.makefile("rb") as replies,
    ):
        first.sendall(b"PING\r\n")
        assert replies.readline() == b"+PONG\r\n"
        # A second connection (a pool that opens another) is reset at once: the client sees
        # ECONNRESET, in connect() or in its first recv().
        with (
            pytest.raises(ConnectionResetError),
            socket.create_connection(server.address, timeout=2) as second,
        ):
            second.recv(100)

    with pytest.raises(sockfix.StrictError) as failure:
        server.stop()
    assert "connection 2: reset on accept, past max_connections=1" in str(failure.value)
    events = server.connections[1].events
    assert [e.kind for e in events] == ["connect", "reset"]
    assert events[1].note == "max_connections=1"
