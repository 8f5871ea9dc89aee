"""The sans-IO Script, driven directly: bytes in, actions out, problems collected."""

from __future__ import annotations

import itertools
import re
import struct
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sockfix.core.actions import Action, Close, Hang, Reset, Send, Wait
from sockfix.core.handlers import echo
from sockfix.core.patterns import ANY
from sockfix.core.record import Connection
from sockfix.core.rules import Rule, RuleBook
from sockfix.core.script import Script
from sockfix.framing import delimited, fixed, length_prefixed, lines

Framing = Callable[[bytes], "int | None"]


def counter_clock() -> Callable[[], float]:
    ticks = itertools.count()
    return lambda: float(next(ticks))


def make(
    book: RuleBook | None = None,
    framing: Framing | None = None,
    handler: Callable[[bytes], bytes | None] | None = None,
    strict: bool = True,
    number: int = 1,
) -> Script:
    conn = Connection(number, ("127.0.0.1", 1), clock=counter_clock())
    return Script(
        conn, book if book is not None else RuleBook(), framing or lines(), handler, strict
    )


def kinds(script: Script) -> list[str]:
    return [e.kind for e in script.conn.events]


# -- greeting -----------------------------------------------------------------------------------


def test_no_greeting() -> None:
    script = make()
    assert script.connect() == []
    assert script.conn.events == []


def test_greeting() -> None:
    book = RuleBook()
    book.on_connect().respond(b"220 ready\r\n")
    assert make(book).connect() == [Send(b"220 ready\r\n", note="on_connect 1")]


def test_greeting_times_then_the_next_greeting() -> None:
    book = RuleBook()
    book.on_connect().respond(b"busy\r\n").close().times(1)
    book.on_connect().respond(b"ready\r\n")
    first, second = make(book), make(book, number=2)
    assert first.connect() == [Send(b"busy\r\n", note="on_connect 1"), Close("on_connect 1")]
    assert first.done
    assert second.connect() == [Send(b"ready\r\n", note="on_connect 2")]
    assert not second.done


def test_a_greeting_callable_gets_empty_bytes() -> None:
    seen: list[bytes] = []

    def hello(message: bytes) -> bytes:
        seen.append(message)
        return b"hi"

    book = RuleBook()
    book.on_connect().respond(hello)
    assert make(book).connect() == [Send(b"hi", note="on_connect 1")]
    assert seen == [b""]


def test_a_failing_greeting_is_a_problem() -> None:
    book = RuleBook()
    book.on_connect().respond(lambda m: 1 / 0)  # type: ignore[arg-type, return-value]
    script = make(book)
    assert script.connect() == [Close(note="response error")]
    (problem,) = script.problems
    assert problem.startswith(
        "connection 1: on_connect 1's response failed on message b''; the connection was closed:\n"
        "Traceback (most recent call last):\n"
    )
    assert problem.endswith("ZeroDivisionError: division by zero")


# -- replies ------------------------------------------------------------------------------------


def test_a_reply() -> None:
    book = RuleBook()
    book.expect(b"PING\r\n").respond(b"+PONG\r\n")
    script = make(book)
    assert script.feed(b"PING\r\n") == [Send(b"+PONG\r\n", note="rule 1")]
    assert script.conn.messages == [b"PING\r\n"]
    assert script.problems == []


def test_several_messages_in_one_read_answer_in_order() -> None:
    book = RuleBook()
    book.expect(b"a\n").respond(b"A")
    book.expect(b"b\n").respond(b"B")
    script = make(book)
    assert script.feed(b"a\nb\na\n") == [
        Send(b"A", note="rule 1"),
        Send(b"B", note="rule 2"),
        Send(b"A", note="rule 1"),
    ]


def test_a_message_split_across_reads() -> None:
    book = RuleBook()
    book.expect(b"PING\n").respond(b"PONG\n")
    script = make(book)
    assert script.feed(b"PI") == []
    assert script.feed(b"NG") == []
    assert script.feed(b"\n") == [Send(b"PONG\n", note="rule 1")]
    assert script.conn.received == b"PING\n"
    assert kinds(script) == ["in", "in", "in"]


@pytest.mark.parametrize(
    ("build", "actions"),
    [
        (
            lambda r: r.respond(b"a").respond(b"b"),
            [Send(b"a", note="rule 1"), Send(b"b", note="rule 1")],
        ),
        (lambda r: r.respond(b"").respond(b"b"), [Send(b"b", note="rule 1")]),
        (lambda r: r, []),
        (lambda r: r.respond(b"abcd").chunked(1, delay=0.001), [Send(b"abcd", 1, 0.001, "rule 1")]),
        (
            lambda r: r.respond(b"ab").respond(b"cd").chunked([1, 3]),
            [Send(b"abcd", (1, 3), 0.0, "rule 1")],
        ),
        (lambda r: r.respond(b"").chunked(2), []),
        (lambda r: r.delay(0.2).respond(b"ok"), [Wait(0.2), Send(b"ok", note="rule 1")]),
        (
            lambda r: r.respond(b"x").chunked(1, delay=0.5).delay(1),
            [Wait(1.0), Send(b"x", 1, 0.5, "rule 1")],
        ),
        (lambda r: r.respond(b"BYE").close(), [Send(b"BYE", note="rule 1"), Close("rule 1")]),
        (lambda r: r.reset(), [Reset("rule 1")]),
        (lambda r: r.delay(0.5).close(), [Wait(0.5), Close("rule 1")]),
        (lambda r: r.respond(b"..").hang(), [Send(b"..", note="rule 1"), Hang("rule 1")]),
    ],
)
def test_reply_actions_for_each_rule_option(
    build: Callable[[Rule], Rule], actions: list[Action]
) -> None:
    book = RuleBook()
    build(book.expect(b"GO\n"))
    assert make(book).feed(b"GO\n") == actions


def test_a_callable_response_gets_the_message() -> None:
    pattern = re.compile(rb"GET (\w+)\r\n")
    book = RuleBook()
    book.expect(pattern).respond(
        lambda m: b"VALUE " + pattern.fullmatch(m).group(1) + b"\r\n"  # type: ignore[union-attr]
    )
    script = make(book)
    assert script.feed(b"GET key\r\nGET other\r\n") == [
        Send(b"VALUE key\r\n", note="rule 1"),
        Send(b"VALUE other\r\n", note="rule 1"),
    ]


def test_a_callable_may_return_a_bytearray() -> None:
    book = RuleBook()
    book.expect(ANY).respond(lambda m: bytearray(m.upper()))  # type: ignore[arg-type, return-value]
    (send,) = make(book).feed(b"hi\n")
    assert send == Send(b"HI\n", note="rule 1")
    assert isinstance(send, Send)
    assert type(send.data) is bytes


def test_a_raising_response_is_an_error_event_a_problem_and_a_close() -> None:
    def explode(message: bytes) -> bytes:
        raise ValueError("boom at " + message.decode().strip())

    book = RuleBook()
    book.expect(b"OK\n").respond(b"fine\n")
    book.expect(b"X\n").respond(explode)
    script = make(book)
    assert script.feed(b"OK\nX\nOK\n") == [Send(b"fine\n", note="rule 1"), Close("response error")]
    assert script.done
    error = script.conn.events[-1]
    assert (error.kind, error.data, error.note) == (
        "error",
        b"X\n",
        "rule 2's response raised: ValueError('boom at X')",
    )
    (problem,) = script.problems
    assert problem.startswith(
        "connection 1: rule 2's response failed on message b'X\\n'; the connection was closed:\n"
        "Traceback (most recent call last):\n"
    )
    assert "in explode\n" in problem
    assert 'raise ValueError("boom at " + message.decode().strip())' in problem
    assert problem.endswith("ValueError: boom at X")
    # the connection is over: bytes are still recorded, nothing is answered
    assert script.feed(b"OK\n") == []
    assert script.conn.received == b"OK\nX\nOK\nOK\n"


def test_a_callable_returning_str_names_encode() -> None:
    book = RuleBook()
    book.expect(ANY).respond(lambda m: "pong")  # type: ignore[arg-type, return-value]
    script = make(book)
    assert script.feed(b"ping\n") == [Close("response error")]
    assert script.problems == [
        "connection 1: rule 1's response failed on message b'ping\\n'; the connection was "
        "closed:\na respond() callable must return bytes, got str 'pong': "
        "return 'pong'.encode() instead"
    ]


def test_a_callable_returning_none_is_a_problem() -> None:
    book = RuleBook()
    book.expect(ANY).respond(lambda m: None)  # type: ignore[arg-type, return-value]
    script = make(book)
    assert script.feed(b"x\n") == [Close("response error")]
    assert script.problems[0].endswith("a respond() callable must return bytes, got NoneType None")


def test_chunks_that_do_not_cover_a_callable_reply_are_a_problem_but_it_is_sent() -> None:
    book = RuleBook()
    book.expect(ANY).respond(lambda m: m * 2).chunked([1, 2])
    script = make(book)
    assert script.feed(b"abc\n") == [Send(b"abc\nabc\n", (1, 2), 0.0, "rule 1")]
    assert script.problems == [
        "connection 1: rule 1: chunked([1, 2]) covers 3 bytes but the reply is 8 bytes; "
        "the rest was sent as one last chunk"
    ]


def test_a_raising_predicate_is_a_problem_not_a_crash() -> None:
    def picky(message: bytes) -> bool:
        raise RuntimeError("predicate broke")

    book = RuleBook()
    book.expect(picky).respond(b"never")
    script = make(book)
    assert script.feed(b"x\n") == [Close("response error")]
    (problem,) = script.problems
    assert problem.startswith("connection 1: an expect() predicate failed on message b'x\\n'")
    assert problem.endswith("RuntimeError: predicate broke")


# -- handlers -----------------------------------------------------------------------------------


def test_echo_handler() -> None:
    script = make(handler=echo())
    assert script.feed(b"hi\nthere\n") == [
        Send(b"hi\n", note="handler"),
        Send(b"there\n", note="handler"),
    ]
    assert script.problems == []


def test_echo_upper_is_the_socketserver_example() -> None:
    assert make(handler=echo(bytes.upper)).feed(b"hello\n") == [Send(b"HELLO\n", note="handler")]


def test_echo_checks_its_argument() -> None:
    with pytest.raises(TypeError) as info:
        echo(b"x")  # type: ignore[arg-type]
    assert str(info.value) == (
        "echo() takes a callable (bytes) -> bytes such as bytes.upper, got b'x'"
    )
    assert echo().__qualname__ == "echo()"
    assert echo(bytes.upper).__qualname__ == "echo(bytes.upper)"


def test_rules_come_before_the_handler() -> None:
    book = RuleBook()
    book.expect(b"QUIT\n").respond(b"BYE\n").close()
    script = make(book, handler=echo())
    assert script.feed(b"a\nQUIT\nb\n") == [
        Send(b"a\n", note="handler"),
        Send(b"BYE\n", note="rule 1"),
        Close("rule 1"),
    ]


def test_a_handler_returning_none_answers_nothing() -> None:
    seen: list[bytes] = []

    def quiet(message: bytes) -> bytes | None:
        seen.append(message)
        return None

    script = make(handler=quiet)
    assert script.feed(b"a\nb\n") == []
    assert seen == [b"a\n", b"b\n"]
    assert script.problems == []
    assert kinds(script) == ["in"]


def test_a_raising_handler() -> None:
    def handler(message: bytes) -> bytes:
        raise KeyError(message)

    script = make(handler=handler)
    assert script.feed(b"k\n") == [Close("response error")]
    (problem,) = script.problems
    assert problem.startswith(
        "connection 1: the handler failed on message b'k\\n'; the connection was closed:\n"
        "Traceback (most recent call last):\n"
    )
    assert problem.endswith("KeyError: b'k\\n'")
    assert script.conn.events[-1].note == "the handler raised: KeyError(b'k\\n')"


def test_a_handler_returning_str() -> None:
    script = make(handler=lambda m: m.decode())  # type: ignore[arg-type, return-value]
    assert script.feed(b"hi\n") == [Close("response error")]
    assert script.problems == [
        "connection 1: the handler failed on message b'hi\\n'; the connection was closed:\n"
        "the handler must return bytes, got str 'hi\\n': return 'hi\\n'.encode() instead"
    ]


# -- strictness ---------------------------------------------------------------------------------


def test_an_unmatched_message_lists_every_rule_and_why() -> None:
    book = RuleBook()
    book.expect(b"PING\r\n").respond(b"+PONG\r\n")
    book.expect(re.compile(rb"GET \w+\r\n"))
    book.expect(b"NOPE\r\n").times(1)
    script = make(book, number=3)
    assert script.feed(b"NOPE\r\nNOPE\r\n") == []
    assert script.problems == [
        "connection 3: no rule matched message 2: b'NOPE\\r\\n'\n"
        "    00000000  4e 4f 50 45 0d 0a" + " " * 33 + "|NOPE..|\n"
        "rules:\n"
        "  rule 1: expect(b'PING\\r\\n').respond(b'+PONG\\r\\n')\n"
        "      missed: differs at byte 0: expected b'PING\\r\\n', got b'NOPE\\r\\n'\n"
        "  rule 2: expect(re.compile(b'GET \\\\w+\\\\r\\\\n'))\n"
        "      missed: the regex does not fullmatch the message\n"
        "  rule 3: expect(b'NOPE\\r\\n').times(1)\n"
        "      missed: used up (times(1), used 1)"
    ]
    error = script.conn.events[-1]
    assert (error.kind, error.data, error.note) == ("error", b"NOPE\r\n", "no rule matched")


def test_a_long_unmatched_message_is_shown_in_part() -> None:
    script = make()
    message = b"z" * 100 + b"\n"
    script.feed(message)
    (problem,) = script.problems
    assert "\n    ... 37 more bytes\n" in problem
    assert problem.count("|zzzzzzzzzzzzzzzz|") == 4
    assert problem.endswith("rules:\n  (no expect() rules)")


def test_non_strict_records_and_ignores() -> None:
    script = make(strict=False)
    assert script.feed(b"what\n") == []
    assert script.problems == []
    assert script.conn.messages == [b"what\n"]
    script.feed(b"dangling")
    script.finish()
    assert script.problems == []


def test_problems_go_to_a_shared_list() -> None:
    shared: list[str] = []
    book = RuleBook()
    for n in (1, 2):
        conn = Connection(n, ("127.0.0.1", n), clock=counter_clock())
        Script(conn, book, lines(), problems=shared).feed(b"x\n")
    assert [p.split(":")[0] for p in shared] == ["connection 1", "connection 2"]


def test_bytes_left_unframed_at_finish() -> None:
    book = RuleBook()
    book.expect(ANY)
    script = make(book)
    script.feed(b"ok\nabc")
    script.finish()
    script.finish()  # idempotent
    assert script.problems == [
        "connection 1: 3 bytes left unframed at close by framing lines(): b'abc'\n"
        "    00000000  61 62 63" + " " * 42 + "|abc|\n"
        "  (did the client forget a terminator, or does the server need another framing?)"
    ]


def test_nothing_left_unframed_is_no_problem() -> None:
    script = make(handler=echo())
    script.feed(b"ok\n")
    script.finish()
    assert script.problems == []


def test_framing_error_is_a_problem_naming_the_framing_and_a_close() -> None:
    def zero(buffer: bytes) -> int | None:
        return 0

    script = make(framing=zero, handler=echo())
    assert script.feed(b"hi") == [Close(note="framing error")]
    assert script.done
    text = (
        "framing test_framing_error_is_a_problem_naming_the_framing_and_a_close.<locals>.zero "
        "returned 0 for a buffer of 2 bytes: it must return an int in 1..len(buffer), or None "
        "to wait for more bytes"
    )
    assert script.problems == [f"connection 1: {text}; the connection was closed"]
    assert script.conn.events[-1].kind == "error"
    assert script.conn.events[-1].note == text
    # its bytes stay recorded; nothing more is framed or reported
    assert script.feed(b"more") == []
    script.finish()
    assert script.conn.received == b"himore"
    assert len(script.problems) == 1


# -- hanging and closing ------------------------------------------------------------------------


def test_hanging_records_messages_but_never_answers() -> None:
    book = RuleBook()
    book.expect(b"STALL\n").respond(b"wait").hang()
    ping = book.expect(b"PING\n").respond(b"PONG\n")
    script = make(book)
    assert script.feed(b"STALL\nPING\n") == [Send(b"wait", note="rule 1"), Hang("rule 1")]
    assert script.hanging
    assert not script.done
    assert script.feed(b"PING\n") == []
    assert script.feed(b"PI") == []
    assert script.conn.messages == [b"STALL\n", b"PING\n", b"PING\n"]
    assert ping.used == 0
    assert script.problems == []
    script.finish()  # a hanging peer still frames: bytes left over are reported
    assert script.problems[0].startswith("connection 1: 2 bytes left unframed")


def test_after_close_no_more_actions() -> None:
    book = RuleBook()
    book.expect(b"QUIT\n").respond(b"BYE\n").close()
    ping = book.expect(b"PING\n").respond(b"PONG\n")
    script = make(book)
    assert script.feed(b"QUIT\nPING\n") == [Send(b"BYE\n", note="rule 1"), Close("rule 1")]
    assert script.done
    assert script.feed(b"PING\n") == []
    assert ping.used == 0
    assert script.conn.received == b"QUIT\nPING\nPING\n"
    assert script.problems == []


def test_after_reset_no_more_actions() -> None:
    book = RuleBook()
    book.expect(ANY).reset()
    script = make(book)
    assert script.feed(b"a\nb\n") == [Reset("rule 1")]
    assert script.feed(b"c\n") == []


def test_in_events_hold_each_read_with_clock_times() -> None:
    script = make(handler=echo())
    script.feed(b"a")
    script.feed(b"b\n")
    events = script.conn.events
    assert [(e.time, e.kind, e.data) for e in events] == [(0.0, "in", b"a"), (1.0, "in", b"b\n")]


# -- Hypothesis: any split answers the same -----------------------------------------------------


def p16(body: bytes) -> bytes:
    return struct.pack("!H", len(body)) + body


def p32(body: bytes) -> bytes:
    return struct.pack("!I", len(body)) + body


CASES = [
    (lines, st.sampled_from([b"PING\n", b"a\n", b"\n", b"x", b"PING"])),
    (lambda: delimited(b"\r\n"), st.sampled_from([b"PING\r\n", b"\r", b"\n", b"q\r\n", b"x"])),
    (lambda: fixed(3), st.sampled_from([b"PIN", b"abc", b"\x00", b"x"])),
    (length_prefixed, st.one_of(st.binary(max_size=6).map(p32), st.just(b"\x00"))),
]


def build_book() -> RuleBook:
    book = RuleBook()
    book.expect(lambda m: m.startswith(b"P")).respond(b"+P").times(2)
    book.expect(lambda m: m.startswith(b"P")).respond(lambda m: m[::-1]).respond(b";")
    book.expect(ANY).respond(lambda m: b"<" + m + b">").chunked(2)
    return book


def run(framing: Framing, pieces: list[bytes]) -> tuple[list[bytes], bytes, list[str]]:
    script = make(build_book(), framing=framing)
    sent = b""
    for piece in pieces:
        for action in script.feed(piece):
            assert isinstance(action, Send)
            sent += action.data
    script.finish()
    return script.conn.messages, sent, script.problems


@pytest.mark.parametrize(("framing", "atoms"), CASES, ids=["lines", "crlf", "fixed3", "prefix"])
@given(data=st.data())
def test_any_split_gives_the_same_messages_and_replies(
    framing: Callable[[], Framing], atoms: st.SearchStrategy[bytes], data: st.DataObject
) -> None:
    stream = b"".join(data.draw(st.lists(atoms, max_size=20), label="atoms"))
    points = data.draw(st.lists(st.integers(0, len(stream)), max_size=10).map(sorted), label="cuts")
    edges = [0, *points, len(stream)]
    pieces = [stream[a:b] for a, b in itertools.pairwise(edges)]
    whole = run(framing(), [stream])
    assert run(framing(), pieces) == whole
    messages, sent, _ = whole
    assert stream.startswith(b"".join(messages))
    if messages:
        assert sent
