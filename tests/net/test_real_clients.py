"""Standard-library clients against scripted servers: smtplib, http.client, asyncio streams."""

from __future__ import annotations

import asyncio
import http.client
import re
import smtplib
import socket

import pytest

import sockfix


def _smtp_server() -> sockfix.TCPServer:
    server = sockfix.TCPServer(host="127.0.0.1")
    server.on_connect().respond(b"220 fake.example ESMTP sockfix\r\n")
    server.expect(re.compile(rb"EHLO [^\r\n]+\r\n", re.I)).respond(
        b"250-fake.example greets you\r\n250 8BITMIME\r\n"
    )
    server.expect(b"mail FROM:<alice@example.com>\r\n").respond(b"250 OK\r\n")
    server.expect(re.compile(rb"rcpt TO:<[^>]+>\r\n")).respond(b"250 OK\r\n")
    server.expect(b"data\r\n").respond(b"354 End data with <CR><LF>.<CR><LF>\r\n")
    # smtplib sends lower-case verbs. The body is framed line by line; the lone "." ends it.
    server.expect(b".\r\n").respond(b"250 OK queued\r\n")
    server.expect(b"QUIT\r\n").respond(b"221 Bye\r\n").close()
    server.expect(sockfix.ANY)  # any body line: no answer
    return server


def test_smtplib_whole_conversation() -> None:
    body = "Subject: hi\r\n\r\nHello Bob.\r\n.leading dot\r\nBye.\r\n"
    with _smtp_server() as server:
        with smtplib.SMTP(*server.address, timeout=5) as smtp:
            refused = smtp.sendmail("alice@example.com", ["bob@example.com"], body)
            assert refused == {}
        server.wait_until(lambda s: s.connections and s.connections[0].closed)
    conn = server.connections[0]
    received = conn.received
    assert received.lower().startswith(b"ehlo ")
    data_start = received.index(b"data\r\n") + len(b"data\r\n")
    data_end = received.index(b"\r\n.\r\n", data_start) + len(b"\r\n.\r\n")
    # smtplib dot-stuffs the ".leading dot" line
    assert received[data_start:data_end] == (
        b"Subject: hi\r\n\r\nHello Bob.\r\n..leading dot\r\nBye.\r\n.\r\n"
    )
    assert received[data_end:] == b"QUIT\r\n"
    assert b"mail FROM:<alice@example.com>\r\n" in received
    assert b"rcpt TO:<bob@example.com>\r\n" in received
    assert conn.sent.startswith(b"220 fake.example")
    assert conn.sent.endswith(b"221 Bye\r\n")


def test_smtplib_sees_a_rejected_recipient() -> None:
    server = sockfix.TCPServer()
    server.on_connect().respond(b"220 hi\r\n")
    server.expect(re.compile(rb"(EHLO|HELO) .*\r\n", re.I)).respond(b"250 ok\r\n")
    server.expect(re.compile(rb"mail FROM:.*\r\n")).respond(b"250 ok\r\n")
    server.expect(re.compile(rb"rcpt TO:.*\r\n")).respond(b"550 no such user\r\n")
    server.expect(b"rset\r\n").respond(b"250 ok\r\n")
    server.expect(b"QUIT\r\n").respond(b"221 bye\r\n").close()
    with server:
        with (
            smtplib.SMTP(*server.address, timeout=5) as smtp,
            pytest.raises(smtplib.SMTPRecipientsRefused),
        ):
            smtp.sendmail("a@example.com", ["nobody@example.com"], "x")
        server.wait_until(lambda s: s.connections and s.connections[0].closed)


def test_http_client_reads_a_chunked_1_response_exactly() -> None:
    body = b'{"hello": "world", "n": 12345}'
    response = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    with sockfix.TCPServer(framing=sockfix.framing.delimited(b"\r\n\r\n")) as server:
        server.expect(re.compile(rb"GET /thing HTTP/1\.1\r\n.*", re.S)).respond(response).chunked(1)
        conn = http.client.HTTPConnection(*server.address, timeout=5)
        try:
            conn.request("GET", "/thing")
            resp = conn.getresponse()
            assert resp.status == 200
            assert resp.getheader("Content-Type") == "application/json"
            assert resp.read() == body
        finally:
            conn.close()
        server.wait_until(lambda s: s.connections and s.connections[0].closed)
    rec = server.connections[0]
    assert rec.sent == response
    assert sum(1 for e in rec.events if e.kind == "out") == len(response)
    assert rec.messages[0].startswith(b"GET /thing HTTP/1.1\r\nHost: 127.0.0.1:")
    assert rec.received == rec.messages[0]


def test_http_client_times_out_on_a_slow_reply() -> None:
    with sockfix.TCPServer(framing=sockfix.framing.delimited(b"\r\n\r\n")) as server:
        server.expect(sockfix.ANY).delay(2).respond(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        conn = http.client.HTTPConnection(*server.address, timeout=0.2)
        try:
            conn.request("GET", "/slow")
            with pytest.raises((socket.timeout, TimeoutError)):
                conn.getresponse()
        finally:
            conn.close()
    # stop() cut the delay short: nothing was sent
    assert server.connections[0].sent == b""


def test_http_client_keep_alive_two_requests() -> None:
    with sockfix.TCPServer(framing=sockfix.framing.delimited(b"\r\n\r\n")) as server:
        server.expect(re.compile(rb"GET /(\w+) .*", re.S)).respond(
            lambda m: (
                b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s"
                % (len(m.split(b" ")[1]), m.split(b" ")[1])
            )
        )
        conn = http.client.HTTPConnection(*server.address, timeout=5)
        try:
            for path in ("/a", "/bcd"):
                conn.request("GET", path)
                assert conn.getresponse().read() == path.encode()
        finally:
            conn.close()
        server.wait_until(lambda s: s.connections and s.connections[0].closed)
    assert len(server.connections) == 1
    assert len(server.connections[0].messages) == 2


def test_asyncio_streams_round_trips() -> None:
    async def main(address: tuple[str, int]) -> list[bytes]:
        reader, writer = await asyncio.open_connection(*address)
        try:
            replies = [await asyncio.wait_for(reader.readline(), 5)]
            for i in range(20):
                writer.write(b"INCR %d\n" % i)
                await writer.drain()
                replies.append(await asyncio.wait_for(reader.readline(), 5))
            writer.write(b"QUIT\n")
            await writer.drain()
            replies.append(await asyncio.wait_for(reader.read(), 5))
        finally:
            writer.close()
            await writer.wait_closed()
        return replies

    with sockfix.TCPServer() as server:
        server.on_connect().respond(b"READY\n")
        server.expect(re.compile(rb"INCR (\d+)\n")).respond(
            lambda m: b"%d\n" % (int(m.split()[1]) + 1)
        )
        server.expect(b"QUIT\n").respond(b"BYE\n").close()
        replies = asyncio.run(main(server.address))
    assert replies[0] == b"READY\n"
    assert replies[1:21] == [b"%d\n" % (i + 1) for i in range(20)]
    assert replies[21] == b"BYE\n"
    assert server.connections[0].received == b"".join(b"INCR %d\n" % i for i in range(20)) + (
        b"QUIT\n"
    )


def test_asyncio_concurrent_clients() -> None:
    async def one(address: tuple[str, int], i: int) -> bytes:
        reader, writer = await asyncio.open_connection(*address)
        try:
            writer.write(b"client %d\n" % i)
            await writer.drain()
            return await asyncio.wait_for(reader.readline(), 5)
        finally:
            writer.close()
            await writer.wait_closed()

    async def main(address: tuple[str, int]) -> list[bytes]:
        return list(await asyncio.gather(*(one(address, i) for i in range(30))))

    with sockfix.TCPServer(handler=sockfix.echo(bytes.upper)) as server:
        replies = asyncio.run(main(server.address))
        server.wait_until(lambda s: sum(c.closed for c in s.connections) == 30)
    assert replies == [b"CLIENT %d\n" % i for i in range(30)]
    assert sorted(c.received for c in server.connections) == sorted(
        b"client %d\n" % i for i in range(30)
    )
