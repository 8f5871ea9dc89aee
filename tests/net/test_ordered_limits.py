"""TCPServer(ordered=True) and TCPServer(max_connections=N) over real sockets, and in a report.

Ordered: the rules are steps, used in the order added (a rule is one step, ``times(n)`` is n
steps), across connections in arrival order; a message that is not the next step is unmatched.
max_connections: connection N+1 and later are reset on accept, recorded, and a strict problem.

What the kernel gives a client that the server resets on accept is ECONNRESET, and only that
(never an EOF): at its first recv(), or already at connect(). A client with a timeout connects
non-blocking and then reads SO_ERROR, which the RST may have set by then (about four times in
ten here), so :func:`reset_on_accept` accepts the error at either call.
"""

from __future__ import annotations

import errno
import socket

import pytest
from _nethelp import connect, kinds, recv_all, recv_until

import sockfix


def _stop_strict(server: sockfix.TCPServer) -> sockfix.StrictError:
    with pytest.raises(sockfix.StrictError) as info:
        server.stop()
    server.stop()  # raised once: a second stop() is quiet
    return info.value


def exchange(client: socket.socket, message: bytes) -> bytes:
    """Send ``message`` and read one line back."""
    client.sendall(message)
    return recv_until(client, b"\n")


def reset_on_accept(server: sockfix.TCPServer, number: int) -> str:
    """Connect a client the server resets on accept (connection ``number``); the call that
    raised ECONNRESET, ``"connect"`` or ``"recv"``."""
    error: OSError
    try:
        client = connect(server)
    except ConnectionResetError as exc:
        error, where = exc, "connect"
    else:
        with client:
            server.wait_until(lambda s: len(s.connections) >= number)
            server.wait_until(lambda s: s.connections[number - 1].closed)
            with pytest.raises(ConnectionResetError) as info:
                client.recv(100)  # ECONNRESET, not b"" (an EOF)
            error, where = info.value, "recv"
    assert error.errno == errno.ECONNRESET
    server.wait_until(lambda s: len(s.connections) >= number)
    server.wait_until(lambda s: s.connections[number - 1].closed)
    return where


def assert_reset_on_accept(conn: sockfix.Connection, limit: int) -> None:
    assert kinds(conn) == ["connect", "reset"]
    assert conn.events[0].note.startswith("from 127.0.0.1:")
    assert conn.events[1].note == f"max_connections={limit}"
    assert conn.closed
    assert conn.received == b""
    assert conn.sent == b""
    assert conn.messages == []


# ----------------------------------------------------------------------------- ordered=True


def test_steps_are_answered_in_order() -> None:
    with sockfix.TCPServer(ordered=True) as server:
        server.expect(b"HELLO\n").respond(b"hi\n")
        server.expect(b"GET\n").respond(b"data\n")
        server.expect(b"BYE\n").respond(b"bye\n").close()
        with connect(server) as client:
            assert exchange(client, b"HELLO\n") == b"hi\n"
            assert exchange(client, b"GET\n") == b"data\n"
            client.sendall(b"BYE\n")
            assert recv_all(client) == b"bye\n"
        server.wait_until(lambda s: s.connections[0].closed)
    conn = server.connections[0]
    assert conn.messages == [b"HELLO\n", b"GET\n", b"BYE\n"]
    assert [(e.data, e.note) for e in conn.events if e.kind == "out"] == [
        (b"hi\n", "rule 1"),
        (b"data\n", "rule 2"),
        (b"bye\n", "rule 3"),
    ]
    assert [r.used for r in server.rules] == [1, 1, 1]
    assert server.problems == []


def test_the_same_message_gets_the_answer_of_its_step() -> None:
    with sockfix.TCPServer(ordered=True) as server:
        server.expect(b"GET\n").respond(b"busy\n")
        server.expect(b"GET\n").respond(b"still busy\n")
        server.expect(b"GET\n").respond(b"ok\n")
        with connect(server) as client:
            answers = [exchange(client, b"GET\n") for _ in range(3)]
    assert answers == [b"busy\n", b"still busy\n", b"ok\n"]
    notes = [e.note for e in server.connections[0].events if e.kind == "out"]
    assert notes == ["rule 1", "rule 2", "rule 3"]


def test_a_message_out_of_order_is_unmatched_and_names_the_expected_step() -> None:
    server = sockfix.TCPServer(ordered=True).start()
    server.expect(b"A\n").respond(b"1\n")
    server.expect(b"B\n").respond(b"2\n")
    server.expect(b"C\n").respond(b"3\n")
    with connect(server) as client:
        assert exchange(client, b"A\n") == b"1\n"
        client.sendall(b"C\n")  # step 2 is B
        assert recv_all(client) == b""  # on_unmatched="close": EOF, no answer
    server.wait_until(lambda s: s.connections[0].closed)
    conn = server.connections[0]
    assert kinds(conn) == ["connect", "in", "out", "in", "error", "close"]
    assert conn.events[4].data == b"C\n"
    assert conn.events[4].note == "no rule matched"
    assert conn.events[5].note == "on_unmatched"
    assert [r.used for r in server.rules] == [1, 0, 0]  # the message took no rule
    err = _stop_strict(server)
    assert err.problems == [
        "connection 1: no rule matched message 2: b'C\\n'\n"
        "    00000000  43 0a" + " " * 45 + "|C.|\n"
        "rules:\n"
        "  ordered: expected step 2 of 3, rule 2: expect(b'B\\n').respond(b'2\\n')\n"
        "      missed: differs at byte 0: expected b'B\\n', got b'C\\n'",
        "rule expect(b'B\\n').respond(b'2\\n') was used 0 of 1 times "
        "(ordered: every step must be used)",
        "rule expect(b'C\\n').respond(b'3\\n') was used 0 of 1 times "
        "(ordered: every step must be used)",
    ]
    text = str(err)
    assert "saw 3 problem(s):" in text
    assert "expected step 2 of 3, rule 2: expect(b'B\\n').respond(b'2\\n')" in text


def test_the_first_message_must_be_step_one() -> None:
    server = sockfix.TCPServer(ordered=True).start()
    server.expect(b"A\n").respond(b"1\n")
    server.expect(b"B\n").respond(b"2\n")
    with connect(server) as client:
        client.sendall(b"B\n")  # would match rule 2 if the rules were not steps
        assert recv_all(client) == b""
    err = _stop_strict(server)
    assert (
        "  ordered: expected step 1 of 2, rule 1: expect(b'A\\n').respond(b'1\\n')\n"
        "      missed: differs at byte 0: expected b'A\\n', got b'B\\n'"
    ) in str(err)
    assert len(err.problems) == 3  # the message, and both steps unused


def test_times_n_is_n_steps() -> None:
    with sockfix.TCPServer(ordered=True) as server:
        server.expect(b"GET\n").respond(b"busy\n").times(2)
        server.expect(b"GET\n").respond(b"ok\n")
        server.expect(b"BYE\n").respond(b"bye\n")
        with connect(server) as client:
            answers = [exchange(client, m) for m in (b"GET\n", b"GET\n", b"GET\n", b"BYE\n")]
    assert answers == [b"busy\n", b"busy\n", b"ok\n", b"bye\n"]
    assert [r.used for r in server.rules] == [2, 1, 1]


def test_a_times_step_not_used_up_blocks_the_next_step() -> None:
    server = sockfix.TCPServer(ordered=True).start()
    server.expect(b"A\n").respond(b"a\n").times(2)
    server.expect(b"B\n").respond(b"b\n")
    with connect(server) as client:
        assert exchange(client, b"A\n") == b"a\n"
        client.sendall(b"B\n")  # step 2 is the second A
        assert recv_all(client) == b""
    err = _stop_strict(server)
    assert err.problems[0].endswith(
        "rules:\n"
        "  ordered: expected step 2 of 3, rule 1: expect(b'A\\n').respond(b'a\\n').times(2)\n"
        "      missed: differs at byte 0: expected b'A\\n', got b'B\\n'"
    )
    assert err.problems[1:] == [
        "rule expect(b'A\\n').respond(b'a\\n').times(2) was used 1 of 2 times",  # its own times
        "rule expect(b'B\\n').respond(b'b\\n') was used 0 of 1 times "
        "(ordered: every step must be used)",
    ]


def test_steps_run_across_connections_in_arrival_order() -> None:
    with sockfix.TCPServer(ordered=True) as server:
        server.expect(b"LOGIN\n").respond(b"token\n")
        server.expect(b"GET\n").respond(b"one\n")
        server.expect(b"GET\n").respond(b"two\n")
        server.expect(b"LOGOUT\n").respond(b"bye\n")
        with connect(server) as first, connect(server) as second:
            assert exchange(first, b"LOGIN\n") == b"token\n"
            assert exchange(second, b"GET\n") == b"one\n"
            assert exchange(first, b"GET\n") == b"two\n"
        with connect(server) as third:
            assert exchange(third, b"LOGOUT\n") == b"bye\n"
        server.wait_until(lambda s: len(s.connections) == 3)
    one, two, three = server.connections
    assert one.messages == [b"LOGIN\n", b"GET\n"]
    assert one.sent == b"token\ntwo\n"
    assert two.messages == [b"GET\n"]
    assert two.sent == b"one\n"
    assert three.sent == b"bye\n"


def test_a_step_already_taken_on_another_connection_is_not_there_any_more() -> None:
    server = sockfix.TCPServer(ordered=True).start()
    server.expect(b"LOGIN\n").respond(b"token\n")
    server.expect(b"GET\n").respond(b"data\n")
    with connect(server) as first:
        assert exchange(first, b"LOGIN\n") == b"token\n"
    with connect(server) as second:
        second.sendall(b"LOGIN\n")  # a client that logs in again: step 2 is GET
        assert recv_all(second) == b""
    err = _stop_strict(server)
    assert err.problems[0].startswith("connection 2: no rule matched message 1: b'LOGIN\\n'")
    assert "ordered: expected step 2 of 2, rule 2: expect(b'GET\\n')" in err.problems[0]


def test_an_unused_step_is_a_strict_problem_at_stop() -> None:
    server = sockfix.TCPServer(ordered=True).start()
    server.expect(b"A\n").respond(b"1\n")
    server.expect(b"B\n").respond(b"2\n")
    with connect(server) as client:
        assert exchange(client, b"A\n") == b"1\n"
    err = _stop_strict(server)
    assert err.problems == [
        "rule expect(b'B\\n').respond(b'2\\n') was used 0 of 1 times "
        "(ordered: every step must be used)"
    ]
    assert "was used 0 of 1 times (ordered: every step must be used)" in str(err)


def test_a_message_after_the_last_step_is_unmatched() -> None:
    server = sockfix.TCPServer(ordered=True).start()
    server.expect(b"A\n").respond(b"1\n")
    server.expect(b"A\n").respond(b"2\n")
    with connect(server) as client:
        assert exchange(client, b"A\n") == b"1\n"
        assert exchange(client, b"A\n") == b"2\n"
        client.sendall(b"A\n")
        assert recv_all(client) == b""
    err = _stop_strict(server)
    assert err.problems == [
        "connection 1: no rule matched message 3: b'A\\n'\n"
        "    00000000  41 0a" + " " * 45 + "|A.|\n"
        "rules:\n"
        "  ordered: all 2 steps were already used"
    ]


def test_greetings_are_not_steps() -> None:
    with sockfix.TCPServer(ordered=True) as server:
        greeting = server.on_connect().respond(b"hello\n")
        server.expect(b"A\n").respond(b"1\n")
        server.expect(b"B\n").respond(b"2\n")
        with connect(server) as first:
            assert recv_until(first, b"\n") == b"hello\n"
            assert exchange(first, b"A\n") == b"1\n"
        with connect(server) as second:
            assert recv_until(second, b"\n") == b"hello\n"
            assert exchange(second, b"B\n") == b"2\n"
    assert greeting.used == 2


def test_ordered_with_a_handler_answers_what_is_not_the_next_step() -> None:
    with sockfix.TCPServer(ordered=True, handler=sockfix.echo(bytes.upper)) as server:
        server.expect(b"a\n").respond(b"1\n")
        server.expect(b"b\n").respond(b"2\n")
        with connect(server) as client:
            assert exchange(client, b"b\n") == b"B\n"  # not step 1: the handler answers
            assert exchange(client, b"a\n") == b"1\n"
            assert exchange(client, b"a\n") == b"A\n"  # step 1 is used up
            assert exchange(client, b"b\n") == b"2\n"
    notes = [e.note for e in server.connections[0].events if e.kind == "out"]
    assert notes == ["handler", "rule 1", "handler", "rule 2"]


def test_ordered_not_strict_records_and_reports_nothing() -> None:
    with sockfix.TCPServer(ordered=True, strict=False) as server:
        server.expect(b"A\n").respond(b"1\n")
        server.expect(b"B\n").respond(b"2\n")
        server.expect(b"C\n").respond(b"3\n")
        with connect(server) as client:
            client.sendall(b"B\n")  # not step 1: ignored (the non-strict default)
            assert exchange(client, b"A\n") == b"1\n"
            assert exchange(client, b"B\n") == b"2\n"
        server.wait_until(lambda s: s.connections[0].closed)
    assert server.problems == []  # C unused, B out of order: neither is a problem
    assert server.connections[0].messages == [b"B\n", b"A\n", b"B\n"]
    assert server.connections[0].sent == b"1\n2\n"


def test_ordered_false_is_first_live_match_as_before() -> None:
    with sockfix.TCPServer(ordered=False) as server:
        server.expect(b"GET\n").respond(b"busy\n")
        server.expect(b"GET\n").respond(b"ok\n")  # shadowed: rule 1 has no times()
        server.expect(b"B\n").respond(b"b\n")
        with connect(server) as client:
            assert [exchange(client, b"GET\n") for _ in range(3)] == [b"busy\n"] * 3
            assert exchange(client, b"B\n") == b"b\n"
    assert [r.used for r in server.rules] == [3, 0, 1]
    assert server.problems == []  # rules without times() need no use


def test_ordered_is_false_by_default() -> None:
    with sockfix.TCPServer() as server:
        server.expect(b"A\n").respond(b"1\n")
        server.expect(b"B\n").respond(b"2\n")
        with connect(server) as client:
            assert exchange(client, b"B\n") == b"2\n"
            assert exchange(client, b"B\n") == b"2\n"


@pytest.mark.parametrize("value", [1, 0, "true", "False", None])
def test_ordered_must_be_a_bool(value: object) -> None:
    with pytest.raises(TypeError) as info:
        sockfix.TCPServer(ordered=value)  # type: ignore[arg-type]
    assert str(info.value) == (
        f"ordered must be a bool, ordered=True or ordered=False, got {value!r}"
    )


# ----------------------------------------------------------------------------- max_connections


def test_a_connection_past_the_limit_is_reset_on_accept() -> None:
    server = sockfix.TCPServer(max_connections=1).start()
    server.expect(b"PING\n").respond(b"PONG\n")
    with connect(server) as first:
        assert exchange(first, b"PING\n") == b"PONG\n"
        assert reset_on_accept(server, 2) in ("connect", "recv")
        assert exchange(first, b"PING\n") == b"PONG\n"  # the first one keeps working
    server.wait_until(lambda s: len(s.problems) == 1)
    assert len(server.connections) == 2
    one, two = server.connections
    assert one.messages == [b"PING\n", b"PING\n"]
    assert one.sent == b"PONG\nPONG\n"
    assert_reset_on_accept(two, 1)
    err = _stop_strict(server)
    assert err.problems == [
        "connection 2: reset on accept, past max_connections=1 "
        "(raise max_connections, or make the client reuse its connection)"
    ]
    assert "connection 2: reset on accept, past max_connections=1" in str(err)


def test_the_limit_counts_every_connection_not_the_open_ones() -> None:
    server = sockfix.TCPServer(max_connections=1).start()
    server.expect(b"PING\n").respond(b"PONG\n")
    with connect(server) as first:
        assert exchange(first, b"PING\n") == b"PONG\n"
    server.wait_until(lambda s: s.connections[0].closed)
    reset_on_accept(server, 2)  # a client that reconnects instead of reusing its connection
    err = _stop_strict(server)
    assert err.problems == [
        "connection 2: reset on accept, past max_connections=1 "
        "(raise max_connections, or make the client reuse its connection)"
    ]


def test_every_connection_past_the_limit_is_reset() -> None:
    server = sockfix.TCPServer(max_connections=2).start()
    server.expect(b"PING\n").respond(b"PONG\n")
    with connect(server) as first, connect(server) as second:
        assert exchange(first, b"PING\n") == b"PONG\n"
        assert exchange(second, b"PING\n") == b"PONG\n"
        reset_on_accept(server, 3)
        reset_on_accept(server, 4)
        assert exchange(second, b"PING\n") == b"PONG\n"
    server.wait_until(lambda s: len(s.problems) == 2)
    for conn in server.connections[2:]:
        assert_reset_on_accept(conn, 2)
    assert [c.sent for c in server.connections] == [b"PONG\n", b"PONG\nPONG\n", b"", b""]
    err = _stop_strict(server)
    assert err.problems == [
        f"connection {n}: reset on accept, past max_connections=2 "
        "(raise max_connections, or make the client reuse its connection)"
        for n in (3, 4)
    ]


def test_a_reset_connection_gets_no_greeting_and_takes_no_rule() -> None:
    server = sockfix.TCPServer(max_connections=1).start()
    greeting = server.on_connect().respond(b"hello\n").times(1)
    with connect(server) as first:
        assert recv_until(first, b"\n") == b"hello\n"
        reset_on_accept(server, 2)
    err = _stop_strict(server)
    assert len(err.problems) == 1  # the greeting went to connection 1 and is used up
    assert greeting.used == 1
    assert_reset_on_accept(server.connections[1], 1)


def test_the_limit_not_strict_records_the_reset_and_reports_nothing() -> None:
    with sockfix.TCPServer(max_connections=1, strict=False) as server:
        server.expect(b"PING\n").respond(b"PONG\n")
        with connect(server) as first:
            assert exchange(first, b"PING\n") == b"PONG\n"
            reset_on_accept(server, 2)
            assert exchange(first, b"PING\n") == b"PONG\n"
    assert server.problems == []
    assert len(server.connections) == 2
    assert_reset_on_accept(server.connections[1], 1)


def test_the_limit_on_a_handler_server() -> None:
    server = sockfix.TCPServer(handler=sockfix.echo(bytes.upper), max_connections=1).start()
    with connect(server) as first:
        assert exchange(first, b"one\n") == b"ONE\n"
        reset_on_accept(server, 2)
        assert exchange(first, b"two\n") == b"TWO\n"
    err = _stop_strict(server)
    assert err.problems == [
        "connection 2: reset on accept, past max_connections=1 "
        "(raise max_connections, or make the client reuse its connection)"
    ]
    assert_reset_on_accept(server.connections[1], 1)


def test_connections_up_to_the_limit_are_served() -> None:
    with sockfix.TCPServer(max_connections=3) as server:
        server.expect(b"PING\n").respond(b"PONG\n")
        for _ in range(3):
            with connect(server) as client:
                assert exchange(client, b"PING\n") == b"PONG\n"
        server.wait_until(lambda s: all(c.closed for c in s.connections))
    assert server.max_connections == 3
    assert [kinds(c)[-1] for c in server.connections] == ["close"] * 3


def test_the_limit_with_ordered_steps() -> None:
    server = sockfix.TCPServer(ordered=True, max_connections=1).start()
    server.expect(b"A\n").respond(b"1\n")
    server.expect(b"B\n").respond(b"2\n")
    with connect(server) as first:
        assert exchange(first, b"A\n") == b"1\n"
        reset_on_accept(server, 2)
        assert exchange(first, b"B\n") == b"2\n"
    err = _stop_strict(server)
    assert len(err.problems) == 1
    assert err.problems[0].startswith("connection 2: reset on accept, past max_connections=1")


def test_no_limit_by_default() -> None:
    with sockfix.TCPServer() as server:
        assert server.max_connections is None
        clients = [connect(server) for _ in range(5)]
        try:
            server.wait_until(lambda s: len(s.connections) == 5)
        finally:
            for client in clients:
                client.close()
        server.wait_until(lambda s: all(c.closed for c in s.connections))
    assert all("reset" not in kinds(c) for c in server.connections)


@pytest.mark.parametrize("value", [0, -1, True, False, "2", 1.5])
def test_max_connections_must_be_an_int_of_at_least_one(value: object) -> None:
    with pytest.raises(ValueError) as info:
        sockfix.TCPServer(max_connections=value)  # type: ignore[arg-type]
    assert str(info.value) == (
        f"max_connections must be an int >= 1 (or None for no limit), got {value!r}"
    )


# ----------------------------------------------------------------------------- the pytest plugin

_INNER_ARGS = (
    "-p",
    "no:cacheprovider",
    "-p",
    "no:hypothesispytest",
    "--timeout=20",
    "--timeout-method=thread",
)


@pytest.mark.leaks_ok
def test_the_report_of_a_failing_test_names_the_expected_step(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import socket

        def test_steps(make_tcp_server):
            server = make_tcp_server(ordered=True)
            server.expect(b"GET\\n").reset()
            server.expect(b"GET\\n").respond(b"ok\\n")
            with socket.create_connection(server.address, timeout=5) as sock:
                sock.sendall(b"PUT\\n")
                assert sock.recv(100) == b""
        """
    )
    result = pytester.runpytest(*_INNER_ARGS)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*sockfix.StrictError: sockfix TCPServer 127.0.0.1:* saw 3 problem(s):",
            "*1) connection 1: no rule matched message 1: b'PUT\\n'",
            "*ordered: expected step 1 of 2, rule 1: expect(b'GET\\n').reset()",
            "*missed: differs at byte 0: expected b'GET\\n', got b'PUT\\n'",
            "*2) rule expect(b'GET\\n').reset() was used 0 of 1 times"
            " (ordered: every step must be used)",
            "*3) rule expect(b'GET\\n').respond(b'ok\\n') was used 0 of 1 times"
            " (ordered: every step must be used)",
        ]
    )
    result.stdout.fnmatch_lines(["FAILED test_the_report_of_a_failing_test_names*::test_steps*"])
    result.stdout.no_fnmatch_line("*ERROR at teardown*")


@pytest.mark.leaks_ok
def test_the_report_of_a_failing_test_names_the_connection_past_the_limit(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import socket

        def test_pool(make_tcp_server):
            server = make_tcp_server(max_connections=1)
            server.expect(b"PING\\n").respond(b"PONG\\n")
            with socket.create_connection(server.address, timeout=5) as sock:
                sock.sendall(b"PING\\n")
                assert sock.recv(100) == b"PONG\\n"
            try:
                with socket.create_connection(server.address, timeout=5) as sock:
                    sock.recv(100)
            except ConnectionResetError:
                pass
            server.wait_until(lambda s: s.problems)
        """
    )
    result = pytester.runpytest(*_INNER_ARGS)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*sockfix.StrictError: sockfix TCPServer 127.0.0.1:* saw 1 problem(s):",
            "*1) connection 2: reset on accept, past max_connections=1"
            " (raise max_connections, or make the client reuse its connection)",
            "*connection 2 from 127.0.0.1:* (closed): 0 B in, 0 B out, 0 messages",
            "*-- reset    (max_connections=1)",
        ]
    )
