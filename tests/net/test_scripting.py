"""Scripted answers over real sockets: patterns, responses, shaping, endings, handlers."""

from __future__ import annotations

import itertools
import re
import socket

import pytest
from _nethelp import connect, kinds, recv_all, recv_exactly, recv_until

import sockfix


def test_on_connect_greeting_is_sent_first() -> None:
    with sockfix.TCPServer() as server:
        server.on_connect().respond(b"220 ready\r\n")
        with connect(server) as client:
            assert recv_until(client, b"\r\n") == b"220 ready\r\n"
    assert server.connections[0].sent == b"220 ready\r\n"
    assert kinds(server.connections[0])[:2] == ["connect", "out"]


def test_expect_bytes_matches_the_whole_message() -> None:
    with sockfix.TCPServer() as server:
        server.expect(b"PING\r\n").respond(b"+PONG\r\n")
        with connect(server) as client:
            client.sendall(b"PING\r\n")
            assert recv_until(client, b"\r\n") == b"+PONG\r\n"


def test_expect_regex_uses_fullmatch_and_callable_response() -> None:
    with sockfix.TCPServer() as server:
        server.expect(re.compile(rb"GET (\w+)\r\n")).respond(lambda msg: b"VALUE " + msg[4:])
        server.expect(sockfix.ANY).respond(b"OTHER\r\n")
        with connect(server) as client:
            client.sendall(b"GET key\r\n")
            assert recv_until(client, b"\r\n") == b"VALUE key\r\n"
            client.sendall(b"XGET key\r\n")  # not a fullmatch
            assert recv_until(client, b"\r\n") == b"OTHER\r\n"
            client.sendall(b"GET key extra\r\n")
            assert recv_until(client, b"\r\n") == b"OTHER\r\n"


def test_expect_predicate() -> None:
    with sockfix.TCPServer() as server:
        server.expect(lambda msg: msg.startswith(b"QUIT")).respond(b"BYE\r\n").close()
        with connect(server) as client:
            client.sendall(b"QUIT now\r\n")
            assert recv_all(client) == b"BYE\r\n"


def test_any_matches_every_message() -> None:
    with sockfix.TCPServer() as server:
        server.expect(sockfix.ANY).respond(lambda m: b"<" + m.rstrip() + b">\n")
        with connect(server) as client:
            for word in (b"a", b"bb", b"", b"\x00\xff"):
                client.sendall(word + b"\n")
                assert recv_until(client, b">\n") == b"<" + word + b">\n"


def test_rules_are_tried_in_order_first_match_wins() -> None:
    with sockfix.TCPServer() as server:
        server.expect(b"A\n").respond(b"first\n")
        server.expect(sockfix.ANY).respond(b"fallback\n")
        server.expect(b"A\n").respond(b"never\n")
        with connect(server) as client:
            client.sendall(b"A\n")
            assert recv_until(client, b"\n") == b"first\n"
            client.sendall(b"B\n")
            assert recv_until(client, b"\n") == b"fallback\n"


def test_several_respond_pieces_are_sent_in_order() -> None:
    with sockfix.TCPServer() as server:
        server.expect(b"X\n").respond(b"one,").respond(lambda m: b"two(" + m[:1] + b"),").respond(
            b"three\n"
        )
        with connect(server) as client:
            client.sendall(b"X\n")
            assert recv_until(client, b"\n") == b"one,two(X),three\n"
    conn = server.connections[0]
    assert conn.sent == b"one,two(X),three\n"
    assert [e.data for e in conn.events if e.kind == "out"] == [b"one,", b"two(X),", b"three\n"]


def test_delay_then_respond() -> None:
    with sockfix.TCPServer() as server:
        server.expect(b"SLOW\n").delay(0.2).respond(b"ok\n")
        with connect(server) as client:
            client.settimeout(0.05)
            client.sendall(b"SLOW\n")
            with pytest.raises(TimeoutError):
                client.recv(10)
            client.settimeout(5)
            assert recv_until(client, b"\n") == b"ok\n"
    conn = server.connections[0]
    t_in = next(e.time for e in conn.events if e.kind == "in")
    t_out = next(e.time for e in conn.events if e.kind == "out")
    assert t_out - t_in >= 0.19  # a lower bound only: the delay is never cut short


def test_chunked_one_sends_every_byte_separately() -> None:
    payload = bytes(range(256)) * 2
    with sockfix.TCPServer() as server:
        server.expect(b"BIG\n").respond(payload).chunked(1)
        with connect(server) as client:
            client.sendall(b"BIG\n")
            assert recv_exactly(client, len(payload)) == payload
    conn = server.connections[0]
    outs = [e.data for e in conn.events if e.kind == "out"]
    assert outs == [bytes([b]) for b in payload]
    assert conn.sent == payload


def test_chunked_list_with_delay() -> None:
    reply = b"0123456789abcdef\n"
    with sockfix.TCPServer() as server:
        server.expect(b"GO\n").respond(reply).chunked([2, 3, 5, 100], delay=0.01)
        with connect(server) as client:
            client.sendall(b"GO\n")
            assert recv_exactly(client, len(reply)) == reply
    outs = [e.data for e in server.connections[0].events if e.kind == "out"]
    assert outs == [b"01", b"234", b"56789", b"abcdef\n"]
    times = [e.time for e in server.connections[0].events if e.kind == "out"]
    assert all(b - a >= 0.009 for a, b in itertools.pairwise(times))


def test_chunked_callable_response_pieces_are_joined_then_cut() -> None:
    with sockfix.TCPServer() as server:
        server.expect(sockfix.ANY).respond(b"[").respond(lambda m: m.rstrip()).respond(
            b"]\n"
        ).chunked(2)
        with connect(server) as client:
            client.sendall(b"hello\n")
            assert recv_exactly(client, 8) == b"[hello]\n"
    outs = [e.data for e in server.connections[0].events if e.kind == "out"]
    assert outs == [b"[h", b"el", b"lo", b"]\n"]


def test_close_sends_fin_after_reply() -> None:
    with sockfix.TCPServer() as server:
        server.expect(b"QUIT\n").respond(b"BYE\n").close()
        with connect(server) as client:
            client.sendall(b"QUIT\n")
            assert recv_all(client) == b"BYE\n"
        server.wait_until(lambda s: s.connections and s.connections[0].closed)
    conn = server.connections[0]
    assert kinds(conn) == ["connect", "in", "out", "close"]
    assert conn.events[-1].note == "rule 1"


def test_reset_gives_econnreset() -> None:
    with sockfix.TCPServer() as server:
        server.expect(b"BOOM\n").reset()
        with connect(server) as client:
            client.sendall(b"BOOM\n")
            with pytest.raises(ConnectionResetError):
                recv_all(client)
    conn = server.connections[0]
    assert kinds(conn) == ["connect", "in", "reset"]
    assert conn.closed


def test_respond_then_reset_delivers_the_reply_then_the_rst() -> None:
    with sockfix.TCPServer() as server:
        server.expect(b"X\n").respond(b"last words\n").reset()
        with connect(server) as client:
            client.sendall(b"X\n")
            assert recv_until(client, b"\n") == b"last words\n"
            with pytest.raises(ConnectionResetError):
                recv_all(client)
    assert kinds(server.connections[0]) == ["connect", "in", "out", "reset"]


def test_hang_never_answers_but_keeps_recording() -> None:
    with sockfix.TCPServer() as server:
        server.expect(b"STALL\n").hang()
        server.expect(sockfix.ANY).respond(b"never sent\n")
        with connect(server) as client:
            client.sendall(b"STALL\n")
            server.wait_for_connections(1)
            client.settimeout(0.2)
            client.sendall(b"more\n")
            client.sendall(b"and more\n")
            server.wait_until(lambda s: s.connections and len(s.connections[0].messages) == 3)
            with pytest.raises(TimeoutError):
                client.recv(10)
        server.wait_until(lambda s: s.connections and s.connections[0].closed)
    conn = server.connections[0]
    assert conn.messages == [b"STALL\n", b"more\n", b"and more\n"]
    assert conn.received == b"STALL\nmore\nand more\n"
    assert conn.sent == b""
    assert server.rules[1].used == 0


def test_hang_after_a_reply() -> None:
    with sockfix.TCPServer() as server:
        server.expect(b"A\n").respond(b"last words\n").hang()
        with connect(server) as client:
            client.sendall(b"A\n")
            assert recv_until(client, b"\n") == b"last words\n"
            client.settimeout(0.1)
            client.sendall(b"A\n")
            with pytest.raises(TimeoutError):
                client.recv(10)


def test_times_then_fall_through_fail_twice_then_succeed() -> None:
    with sockfix.TCPServer() as server:
        server.expect(b"GET\n").reset().times(2)
        server.expect(b"GET\n").respond(b"OK\n")
        outcomes = []
        for _ in range(4):
            with connect(server) as client:
                client.sendall(b"GET\n")
                try:
                    outcomes.append(recv_until(client, b"\n"))
                except ConnectionResetError:
                    outcomes.append(b"reset")
    assert outcomes == [b"reset", b"reset", b"OK\n", b"OK\n"]
    assert server.rules[0].used == 2
    assert server.rules[1].used == 2


def test_times_on_one_connection() -> None:
    with sockfix.TCPServer() as server:
        server.expect(sockfix.ANY).respond(b"first\n").times(1)
        server.expect(sockfix.ANY).respond(b"later\n")
        with connect(server) as client:
            replies = []
            for _ in range(3):
                client.sendall(b"x\n")
                replies.append(recv_until(client, b"\n"))
    assert replies == [b"first\n", b"later\n", b"later\n"]


def test_greeting_with_times_then_next_greeting() -> None:
    with sockfix.TCPServer() as server:
        server.on_connect().respond(b"first visitor\n").times(1)
        server.on_connect().respond(b"welcome back\n")
        greetings = []
        for _ in range(3):
            with connect(server) as client:
                greetings.append(recv_until(client, b"\n"))
    assert greetings == [b"first visitor\n", b"welcome back\n", b"welcome back\n"]


def test_greeting_that_closes() -> None:
    with sockfix.TCPServer() as server:
        server.on_connect().respond(b"421 busy\r\n").close()
        with connect(server) as client:
            assert recv_all(client) == b"421 busy\r\n"
        server.wait_until(lambda s: s.connections and s.connections[0].closed)
    assert kinds(server.connections[0]) == ["connect", "out", "close"]


def test_handler_echo() -> None:
    with sockfix.TCPServer(handler=sockfix.echo()) as server, connect(server) as client:
        for line in (b"hello\n", b"\x00binary\xff\n"):
            client.sendall(line)
            assert recv_until(client, b"\n") == line
    assert server.connections[0].sent == server.connections[0].received


def test_handler_echo_upper() -> None:
    with sockfix.TCPServer(handler=sockfix.echo(bytes.upper)) as server, connect(server) as client:
        client.sendall(b"Hello World\n")
        assert recv_until(client, b"\n") == b"HELLO WORLD\n"


def test_handler_returning_none_sends_nothing() -> None:
    seen = []

    def handler(message: bytes) -> bytes | None:
        seen.append(message)
        return None if message.startswith(b"quiet") else b"loud\n"

    with sockfix.TCPServer(handler=handler) as server, connect(server) as client:
        client.sendall(b"quiet\n")
        client.sendall(b"speak\n")
        assert recv_until(client, b"\n") == b"loud\n"
    assert seen == [b"quiet\n", b"speak\n"]
    assert server.connections[0].sent == b"loud\n"


def test_rules_come_before_the_handler() -> None:
    with sockfix.TCPServer(handler=sockfix.echo(bytes.upper)) as server:
        server.expect(b"special\n").respond(b"from the rule\n")
        with connect(server) as client:
            client.sendall(b"special\n")
            assert recv_until(client, b"\n") == b"from the rule\n"
            client.sendall(b"plain\n")
            assert recv_until(client, b"\n") == b"PLAIN\n"


def test_pipelined_messages_in_one_send_are_each_answered() -> None:
    with sockfix.TCPServer() as server:
        server.expect(re.compile(rb"(\d+)\n")).respond(lambda m: b"n" + m)
        with connect(server) as client:
            client.sendall(b"1\n2\n3\n")
            assert recv_exactly(client, 9) == b"n1\nn2\nn3\n"
    assert server.connections[0].messages == [b"1\n", b"2\n", b"3\n"]


def test_message_split_across_sends_matches_the_same() -> None:
    with sockfix.TCPServer() as server:
        server.expect(b"PING\r\n").respond(b"PONG\r\n")
        with connect(server) as client:
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for byte in b"PING\r\n":
                client.sendall(bytes([byte]))
            assert recv_until(client, b"\r\n") == b"PONG\r\n"
    assert server.connections[0].messages == [b"PING\r\n"]


@pytest.mark.parametrize(
    ("framing", "payload", "messages"),
    [
        (
            sockfix.framing.delimited(b"\r\n\r\n"),
            b"a\r\nb\r\n\r\nc\r\n\r\n",
            [b"a\r\nb\r\n\r\n", b"c\r\n\r\n"],
        ),
        (
            sockfix.framing.length_prefixed("!H"),
            b"\x00\x02hi\x00\x00",
            [b"\x00\x02hi", b"\x00\x00"],
        ),
        (sockfix.framing.fixed(3), b"abcdef", [b"abc", b"def"]),
    ],
)
def test_other_framings_over_a_socket(
    framing: sockfix.framing.Framing, payload: bytes, messages: list[bytes]
) -> None:
    with sockfix.TCPServer(framing=framing) as server:
        server.expect(sockfix.ANY).respond(b"!")
        with connect(server) as client:
            client.sendall(payload)
            assert recv_exactly(client, len(messages)) == b"!" * len(messages)
    assert server.connections[0].messages == messages


def test_raw_framing_echo() -> None:
    with (
        sockfix.TCPServer(framing=sockfix.framing.raw(), handler=sockfix.echo()) as server,
        connect(server) as client,
    ):
        client.sendall(b"no terminator")
        assert recv_exactly(client, 13) == b"no terminator"
