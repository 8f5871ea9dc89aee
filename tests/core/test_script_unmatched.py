"""The Script on an unmatched message (on_unmatched) and on a framing that raises: no sockets."""

from __future__ import annotations

import itertools

import pytest

from sockfix.core.actions import Action, Close, Reset, Send
from sockfix.core.record import Connection
from sockfix.core.rules import RuleBook
from sockfix.core.script import OnUnmatched, Script
from sockfix.framing import Framing, lines


def make(on_unmatched: OnUnmatched, strict: bool = True, framing: Framing | None = None) -> Script:
    ticks = itertools.count()
    conn = Connection(1, ("127.0.0.1", 1), clock=lambda: float(next(ticks)))
    book = RuleBook()
    book.expect(b"PING\n").respond(b"PONG\n")
    return Script(conn, book, framing or lines(), None, strict, None, on_unmatched)


@pytest.mark.parametrize(
    ("on_unmatched", "action"),
    [
        ("close", Close(note="on_unmatched")),
        ("reset", Reset(note="on_unmatched")),
        (b"ERR\n", Send(b"ERR\n", note="on_unmatched")),
    ],
)
def test_the_replies_already_due_then_the_unmatched_answer(
    on_unmatched: OnUnmatched, action: Action
) -> None:
    script = make(on_unmatched)
    assert script.feed(b"PING\nBAD\n") == [Send(b"PONG\n", note="rule 1"), action]
    assert len(script.problems) == 1
    assert "no rule matched message 2: b'BAD\\n'" in script.problems[0]


@pytest.mark.parametrize("on_unmatched", ["close", "reset"])
def test_close_and_reset_stop_answering_what_follows(on_unmatched: OnUnmatched) -> None:
    script = make(on_unmatched)
    actions = script.feed(b"BAD\nPING\n")
    assert len(actions) == 1
    assert script.done
    assert script.feed(b"PING\n") == []
    assert script.conn.received == b"BAD\nPING\nPING\n"
    assert len(script.problems) == 1  # the messages after it are not reported as unmatched


def test_bytes_keep_answering() -> None:
    script = make(b"ERR\n")
    assert script.feed(b"BAD\nPING\nBAD\n") == [
        Send(b"ERR\n", note="on_unmatched"),
        Send(b"PONG\n", note="rule 1"),
        Send(b"ERR\n", note="on_unmatched"),
    ]
    assert not script.done
    assert len(script.problems) == 2


def test_ignore_answers_nothing_and_keeps_reading() -> None:
    script = make("ignore")
    assert script.feed(b"BAD\n") == []
    assert script.feed(b"PING\n") == [Send(b"PONG\n", note="rule 1")]
    assert not script.done
    assert len(script.problems) == 1


def test_not_strict_closes_without_a_problem() -> None:
    script = make("close", strict=False)
    assert script.feed(b"BAD\n") == [Close(note="on_unmatched")]
    assert script.problems == []


# -- a framing that raises ----------------------------------------------------------------------


def broken(buf: bytes) -> int | None:
    raise ValueError("boom")


def test_a_framing_that_raises_is_reported_and_closes() -> None:
    script = make("ignore", framing=broken)
    assert script.feed(b"PING\n") == [Close(note="framing error")]
    assert script.done
    assert script.conn.received == b"PING\n"
    errors = [e for e in script.conn.events if e.kind == "error"]
    assert len(errors) == 1
    assert "broken" in errors[0].note
    assert "boom" in errors[0].note
    (problem,) = script.problems
    assert "framing broken raised" in problem
    assert "Traceback (most recent call last)" in problem
    assert 'raise ValueError("boom")' in problem
    assert script.feed(b"more") == []
    assert script.conn.received == b"PING\nmore"
    script.finish()
    assert len(script.problems) == 1  # no "left unframed" on top


def test_messages_cut_before_the_framing_raised_are_answered() -> None:
    def first_only(buf: bytes) -> int | None:
        if buf.startswith(b"PING\n"):
            return 5
        raise RuntimeError("cannot cut this")

    script = make("ignore", framing=first_only)
    assert script.feed(b"PING\nxyz") == [
        Send(b"PONG\n", note="rule 1"),
        Close(note="framing error"),
    ]
    assert script.conn.messages == [b"PING\n"]
    assert "cannot cut this" in script.problems[0]


def test_a_framing_returning_a_non_int_still_names_the_user_framing() -> None:
    def wrong(buf: bytes) -> int | None:
        return "5"  # type: ignore[return-value]

    script = make("ignore", framing=wrong)
    assert script.feed(b"PING\n") == [Close(note="framing error")]
    assert "wrong" in script.problems[0]
    assert "returned '5'" in script.problems[0]


def test_a_framing_that_raises_on_a_lenient_server_closes_without_a_problem() -> None:
    script = make("ignore", strict=False, framing=broken)
    assert script.feed(b"x\n") == [Close(note="framing error")]
    assert script.problems == []
    assert any(e.kind == "error" and "boom" in e.note for e in script.conn.events)
