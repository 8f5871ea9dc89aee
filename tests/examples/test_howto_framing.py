"""The examples of docs/framing.md: built-in framings, parse(), your own framing."""

from __future__ import annotations

import socket
import struct

import pytest

import sockfix
from sockfix.framing import Framer, delimited, fixed, length_prefixed, lines, parse, raw


def test_the_framing_contract():
    framing = lines()
    assert framing(b"PING\r\nPO") == 6  # the first message is 6 bytes: b"PING\r\n"
    assert framing(b"PO") is None  # no complete message yet: wait for more bytes


def test_builtin_framings():
    assert Framer(lines()).feed(b"PING\r\n\nPO") == [b"PING\r\n", b"\n"]
    assert Framer(delimited(b"\0")).feed(b"a\0bc\0d") == [b"a\0", b"bc\0"]
    assert Framer(length_prefixed()).feed(b"\0\0\0\2hi\0\0\0\0") == [b"\0\0\0\2hi", b"\0\0\0\0"]
    assert Framer(length_prefixed("!H")).feed(b"\0\3abc\0") == [b"\0\3abc"]
    assert Framer(fixed(4)).feed(b"abcdefghij") == [b"abcd", b"efgh"]
    assert Framer(raw()).feed(b"whatever arrived") == [b"whatever arrived"]


def test_framer_keeps_the_rest():
    framer = Framer(lines())
    assert framer.feed(b"one\ntw") == [b"one\n"]
    assert framer.pending == b"tw"
    assert framer.feed(b"o\n") == [b"two\n"]


def test_length_prefixed_server():
    with sockfix.TCPServer(framing=length_prefixed("!H")) as server:
        server.expect(b"\x00\x04ping").respond(b"\x00\x04pong")
        with socket.create_connection(server.address, timeout=2) as sock:
            sock.sendall(struct.pack("!H", 4) + b"ping")
            assert sock.recv(100) == b"\x00\x04pong"
    assert server.connections[0].messages == [b"\x00\x04ping"]


def test_parse_specs():
    assert repr(parse("lines")) == "lines()"
    assert repr(parse("raw")) == "raw()"
    assert repr(parse("fixed:8")) == "fixed(8)"
    assert repr(parse(r"delimited:\r\n")) == r"delimited(b'\r\n')"
    assert repr(parse("length_prefixed:!H")) == "length_prefixed('!H')"
    assert repr(parse("length_prefixed")) == "length_prefixed('!I')"
    with pytest.raises(ValueError, match="unknown framing 'json'"):
        parse("json")


def tlv(buffer: bytes) -> int | None:
    """One type byte, a 2-byte big-endian length, then that many bytes."""
    if len(buffer) < 3:
        return None
    size = 3 + int.from_bytes(buffer[1:3], "big")
    return size if len(buffer) >= size else None


def test_own_framing():
    with sockfix.TCPServer(framing=tlv) as server:
        server.expect(lambda msg: msg[0] == 1).respond(b"\x02\x00\x02ok")
        with socket.create_connection(server.address, timeout=2) as sock:
            for byte in b"\x01\x00\x03abc":  # one byte per send: framing still cuts one message
                sock.sendall(bytes([byte]))
            assert sock.recv(100) == b"\x02\x00\x02ok"
    assert server.connections[0].messages == [b"\x01\x00\x03abc"]


def test_splits_do_not_matter():
    data = b"GET a\r\nGET b\r\n"
    with sockfix.TCPServer(strict=False, framing=delimited(b"\r\n")) as server:
        for step in (1, 2, 5, len(data)):
            with socket.create_connection(server.address, timeout=2) as sock:
                for i in range(0, len(data), step):
                    sock.sendall(data[i : i + step])
        server.wait_until(
            lambda s: len(s.connections) == 4 and all(c.closed for c in s.connections)
        )
    for conn in server.connections:
        assert conn.messages == [b"GET a\r\n", b"GET b\r\n"]


def test_raw_depends_on_reads():
    with sockfix.TCPServer(strict=False, framing=raw()) as server:
        with socket.create_connection(server.address, timeout=2) as sock:
            sock.sendall(b"GET a\r\n")
            server.wait_until(lambda s: s.connections and s.connections[0].bytes_received == 7)
            sock.sendall(b"GET b\r\n")
        server.wait_until(lambda s: s.connections[0].closed)
    conn = server.connections[0]
    # Usually [b"GET a\r\n", b"GET b\r\n"], but a slow reader may see one 14-byte message.
    assert b"".join(conn.messages) == conn.received == b"GET a\r\nGET b\r\n"


def test_bad_framing_length():
    def broken(buffer: bytes) -> int | None:
        return 0  # must be in 1..len(buffer), or None

    server = sockfix.TCPServer(framing=broken).start()
    with socket.create_connection(server.address, timeout=2) as sock:
        sock.sendall(b"hello\n")
        assert sock.recv(100) == b""  # the server closed the connection
    with pytest.raises(sockfix.StrictError, match=r"framing .*broken returned 0 for a buffer"):
        server.stop()
    assert server.connections[0].received == b"hello\n"  # still recorded
