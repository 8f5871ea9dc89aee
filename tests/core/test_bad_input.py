"""Bad input to the rule builder fails at the call, names the fix, and leaves no half-built rule."""

from __future__ import annotations

import pytest

from sockfix.core.rules import RuleBook

NO_ANSWER = "for no answer, leave out respond() or attach sockfix.faults.Drop()"


def test_times_twice_is_refused_and_the_rule_withdrawn() -> None:
    book = RuleBook()
    with pytest.raises(ValueError) as info:
        book.expect(b"PING").respond(b"PONG").times(2).times(3)
    assert str(info.value) == (
        "times() was already set to 2 on this rule: call times() once, "
        "with the total number of matches, e.g. times(3)"
    )
    assert book.rules == []
    assert book.unused() == []


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            "close",
            f"datagrams have no connection: a UDP rule cannot .close(); drop it ({NO_ANSWER})",
        ),
        (
            "reset",
            f"datagrams have no connection: a UDP rule cannot .reset(); drop it ({NO_ANSWER})",
        ),
        ("hang", f"datagrams have no connection: a UDP rule cannot .hang(); {NO_ANSWER}"),
    ],
)
def test_a_datagram_rule_has_no_ending(call: str, message: str) -> None:
    book = RuleBook(datagrams=True)
    rule = book.expect(b"ping").respond(b"pong")
    with pytest.raises(TypeError) as info:
        getattr(rule, call)()
    assert str(info.value) == message
    assert rule.ending is None
    assert book.rules == []


def test_a_datagram_rule_is_not_chunked() -> None:
    book = RuleBook(datagrams=True)
    with pytest.raises(TypeError) as info:
        book.expect(b"get").respond(b"abcdefg").chunked([2, 2, 3])
    assert str(info.value) == (
        "datagrams have no connection: a UDP rule cannot .chunked(); "
        "give several respond() pieces to send several datagrams"
    )
    assert book.rules == []


def test_a_stream_rule_still_ends_and_chunks() -> None:
    rule = RuleBook().expect(b"get").respond(b"abc").chunked(1).close()
    assert (rule.chunks, rule.ending) == (1, "close")


def test_a_failed_respond_leaves_no_rule_and_numbers_stay_unique() -> None:
    book = RuleBook()
    first = book.expect(b"A")
    with pytest.raises(TypeError, match=r"respond\(\) takes bytes"):
        book.expect(b"B").respond("str")  # type: ignore[arg-type]
    assert book.rules == [first]
    second = book.expect(b"C").times(1)
    assert [r.number for r in book.rules] == [1, 2]
    assert book.unused() == [second]


def test_a_failed_call_on_an_earlier_rule_keeps_numbers_unique() -> None:
    book = RuleBook()
    first = book.expect(b"A")
    book.expect(b"B")
    with pytest.raises(ValueError, match=r"times\(n\) needs n >= 1"):
        first.times(0)
    book.expect(b"C")
    assert [r.number for r in book.rules] == [2, 3]


def test_a_failed_greeting_is_withdrawn() -> None:
    book = RuleBook()
    with pytest.raises(ValueError, match="delay"):
        book.on_connect().respond(b"hi").delay(-1)
    assert book.greetings == []


def test_a_rule_that_already_answered_is_kept_unchanged() -> None:
    book = RuleBook()
    rule = book.expect(b"A").respond(b"a")
    assert book.claim(b"A") is rule
    with pytest.raises(TypeError):
        rule.respond("b")  # type: ignore[arg-type]
    assert book.rules == [rule]
    assert rule.pieces == [b"a"]
