"""Real clients under faults: dnspython over UDP, http.client with retries, asyncio streams."""

from __future__ import annotations

import asyncio
import http.client
import re

import pytest

import sockfix
from sockfix import faults
from sockfix.framing import delimited

# -- dnspython --------------------------------------------------------------------------------


def dns_answer(address: str):
    """A handler answering every A query with ``address``, as a real DNS server would."""
    dns_message = pytest.importorskip("dns.message")
    dns_rrset = pytest.importorskip("dns.rrset")

    def handler(datagram: bytes) -> bytes:
        query = dns_message.from_wire(datagram)
        response = dns_message.make_response(query)
        question = query.question[0]
        response.answer.append(dns_rrset.from_text(question.name, 300, "IN", "A", address))
        return response.to_wire()

    return handler


def test_dnspython_gets_a_real_answer():
    pytest.importorskip("dns")
    import dns.message
    import dns.query

    with sockfix.UDPServer(handler=dns_answer("192.0.2.7")) as server:
        query = dns.message.make_query("db.example.", "A")
        response = dns.query.udp(query, server.host, port=server.port, timeout=2)
        [answer] = response.answer
        assert [rr.address for rr in answer] == ["192.0.2.7"]
        assert response.id == query.id
        [datagram] = server.wait_for_datagrams(1)
        assert datagram.data == query.to_wire()


def test_dnspython_times_out_when_every_answer_is_dropped():
    pytest.importorskip("dns")
    import dns.exception
    import dns.message
    import dns.query

    with sockfix.UDPServer(handler=dns_answer("192.0.2.7")) as server:
        server.fault(faults.Drop(1.0))
        query = dns.message.make_query("db.example.", "A")
        with pytest.raises(dns.exception.Timeout):
            dns.query.udp(query, server.host, port=server.port, timeout=0.3)
        assert len(server.datagrams) == 1
        notes = [e.note for e in server.connections[0].events if e.kind == "fault"]
        assert notes[0].startswith("Drop(1.0): dropped a datagram of")


def test_dnspython_duplicate_answers_are_harmless():
    pytest.importorskip("dns")
    import dns.message
    import dns.query

    with sockfix.UDPServer(handler=dns_answer("192.0.2.8")) as server:
        server.fault(faults.Duplicate(1.0))
        for name in ("a.example.", "b.example."):
            query = dns.message.make_query(name, "A")
            response = dns.query.udp(query, server.host, port=server.port, timeout=2)
            assert response.id == query.id
            assert str(response.answer[0].name) == name


# -- a client with retries --------------------------------------------------------------------


def get_with_retries(address: tuple[str, int], path: str, attempts: int = 5) -> tuple[bytes, int]:
    """GET ``path``, retrying on a reset connection: (the body, the number of retries)."""
    for attempt in range(attempts):
        conn = http.client.HTTPConnection(*address, timeout=2)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            return response.read(), attempt
        except ConnectionError:  # reset, broken pipe, RemoteDisconnected
            continue
        finally:
            conn.close()
    raise AssertionError(f"no answer after {attempts} attempts")


def test_http_client_with_retries_recovers_from_resets():
    with sockfix.TCPServer(framing=delimited(b"\r\n\r\n")) as server:
        server.expect(re.compile(rb"GET /status HTTP/1.1\r\n.*", re.S)).respond(
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
        ).close()
        server.fault(faults.Reset(), connections=[1, 2])
        body, retries = get_with_retries(server.address, "/status")
        assert (body, retries) == (b"ok", 2)
        assert len(server.connections) == 3
        for conn in server.connections[:2]:
            assert [e.note for e in conn.events if e.kind == "fault"] == [
                "Reset(): reset on connect"
            ]


def test_http_client_with_retries_recovers_from_a_reset_mid_reply():
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\nConnection: close\r\n\r\nhello world"
    with sockfix.TCPServer(framing=delimited(b"\r\n\r\n")) as server:
        server.expect(re.compile(rb"GET / HTTP/1.1\r\n.*", re.S)).respond(reply).close()
        server.fault(faults.Reset(after_bytes=30), connections=[1])
        assert get_with_retries(server.address, "/") == (b"hello world", 1)
        server.wait_until(lambda s: s.connections[0].closed)
        assert server.connections[0].sent == reply[:30]


# -- asyncio streams --------------------------------------------------------------------------


def test_asyncio_streams_read_a_one_byte_chunked_reply_with_readuntil():
    reply = b"+" + b"x" * 500 + b"\r\n"

    async def client(address: tuple[str, int]) -> bytes:
        reader, writer = await asyncio.open_connection(*address)
        try:
            writer.write(b"GET big\r\n")
            await writer.drain()
            return await asyncio.wait_for(reader.readuntil(b"\r\n"), timeout=10)
        finally:
            writer.close()
            await writer.wait_closed()

    with sockfix.TCPServer() as server:
        server.expect(b"GET big\r\n").respond(reply)
        server.fault(faults.Chunked(1))
        assert asyncio.run(client(server.address)) == reply
        server.wait_until(lambda s: s.connections[0].closed)
        outs = [e.data for e in server.connections[0].events if e.kind == "out"]
        assert len(outs) == len(reply)
        assert b"".join(outs) == reply


def test_asyncio_client_times_out_under_hang():
    async def client(address: tuple[str, int]) -> None:
        reader, writer = await asyncio.open_connection(*address)
        try:
            writer.write(b"PING\r\n")
            await writer.drain()
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(reader.readline(), timeout=0.2)
        finally:
            writer.close()
            await writer.wait_closed()

    with sockfix.TCPServer() as server:
        server.expect(b"PING\r\n").respond(b"+PONG\r\n")
        server.fault(faults.Hang())
        asyncio.run(client(server.address))
        server.wait_until(lambda s: s.connections[0].received == b"PING\r\n")
