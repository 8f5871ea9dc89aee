"""Reports stay short: long payloads as head and tail, identical hex rows collapsed, the first
and last events of a long connection, and each strict problem once, naming its connections."""

from __future__ import annotations

import itertools
from collections.abc import Callable

from sockfix.core.record import Connection, Event
from sockfix.core.rules import RuleBook
from sockfix.core.script import Script
from sockfix.core.strict import StrictReport
from sockfix.core.text import condense_problems, hex_rows, numbers
from sockfix.core.transcript import (
    FIRST_EVENTS,
    LAST_EVENTS,
    LONG_PAYLOAD,
    render_connection,
    render_event,
    render_server,
)
from sockfix.framing import lines

PAD = " " * 13
X_ROW = "78 78 78 78 78 78 78 78  78 78 78 78 78 78 78 78  |xxxxxxxxxxxxxxxx|"


def counter_clock() -> Callable[[], float]:
    ticks = itertools.count()
    return lambda: float(next(ticks))


# -- hex rows -----------------------------------------------------------------------------------


def test_identical_rows_collapse_like_hexdump() -> None:
    assert hex_rows(b"x" * 80, collapse=True) == ["00000000  " + X_ROW, "* (4 identical rows)"]
    rows = hex_rows(b"a" * 16 + b"x" * 64 + b"yz", collapse=True)
    assert rows[1:] == [
        "00000010  " + X_ROW,
        "* (3 identical rows)",
        "00000050  79 7a" + " " * 45 + "|yz|",
    ]


def test_one_repeated_row_is_kept_and_nothing_collapses_by_default() -> None:
    assert hex_rows(b"x" * 32, collapse=True) == hex_rows(b"x" * 32)
    assert len(hex_rows(b"x" * 80)) == 5
    assert hex_rows(b"x" * 17, collapse=True) == hex_rows(b"x" * 17)  # a short row differs


# -- long payloads ------------------------------------------------------------------------------


def test_a_long_payload_shows_its_head_and_tail() -> None:
    data = b"HEAD" + b"x" * 99_992 + b"TAIL"
    lines_ = render_event(Event(0.0, "in", data), condense=True)
    assert lines_[0] == (
        "+0.000000s << in      100000 B  HEAD"
        + "x" * 60
        + " ... 99,872 bytes not shown ... "
        + "x" * 60
        + "TAIL"
    )
    assert [line.removeprefix(PAD) for line in lines_[1:]] == [
        "00000000  48 45 41 44 78 78 78 78  78 78 78 78 78 78 78 78  |HEADxxxxxxxxxxxx|",
        "00000010  " + X_ROW,
        "* (2 identical rows)",
        "... 99,872 bytes not shown ...",
        "00018660  " + X_ROW,
        "* (2 identical rows)",
        "00018690  78 78 78 78 78 78 78 78  78 78 78 78 54 41 49 4c  |xxxxxxxxxxxxTAIL|",
    ]


def test_a_payload_up_to_the_threshold_is_shown_whole() -> None:
    data = bytes(range(256))[:LONG_PAYLOAD]
    assert render_event(Event(0.0, "out", data), condense=True) == render_event(
        Event(0.0, "out", data)
    )
    assert "not shown" not in "\n".join(render_event(Event(0.0, "in", b"x" * 5000)))  # off


def test_the_tail_starts_on_a_row() -> None:
    text = "\n".join(render_event(Event(0.0, "in", b"z" * 1000), condense=True))
    assert "... 864 bytes not shown ..." in text  # 1000 - 64 head - 72 tail (from 0x3a0)
    assert PAD + "000003a0  7a" in text


# -- events of a connection ---------------------------------------------------------------------


def upload_then_reply() -> Connection:
    """The 100 KB upload, then the small exchange that shows what went wrong."""
    conn = Connection(1, ("127.0.0.1", 4000), clock=counter_clock())
    conn.record("connect")
    for _ in range(40):
        conn.record("in", b"x" * 2500)
    conn.record("in", b"STAT\n")
    conn.record("out", b"+OK\r\n", "rule 2")
    conn.record("in", b"QUIT\n")
    conn.record("error", b"QUIT\n", "no rule matched")
    conn.record("close", note="on_unmatched")
    return conn


def test_a_long_connection_shows_its_first_and_last_events() -> None:
    lines_ = render_connection(upload_then_reply()).splitlines()
    events = [line for line in lines_ if line.startswith("  +")]
    assert len(events) == FIRST_EVENTS + LAST_EVENTS
    gap = "  ... 34 events not shown (85,000 B of data) ..."
    assert gap in lines_
    after = lines_[lines_.index(gap) + 1 :]
    assert [line.split(maxsplit=1)[1] for line in after if line.startswith("  +")] == [
        "<< in      2500 B  " + "x" * 64 + " ... 2,368 bytes not shown ... " + "x" * 68,
        "<< in      5 B  STAT\\n",
        ">> out     5 B  +OK\\r\\n  (rule 2)",
        "<< in      5 B  QUIT\\n",
        "-- error   QUIT\\n  (no rule matched)",
        "-- close    (on_unmatched)",
    ]
    assert lines_[-1] == "  (99,208 bytes not shown in all; the recording keeps them all)"
    assert len(lines_) < 70


def test_the_last_events_show_even_when_the_limit_is_used_up() -> None:
    text = render_connection(upload_then_reply(), limit=100)
    assert "+OK\\r\\n  (rule 2)" in text
    assert "  ... 10000 more bytes in 4 events not shown (limit 100 B per connection)" in text


def test_a_short_connection_is_shown_whole() -> None:
    conn = Connection(1, ("127.0.0.1", 1), clock=counter_clock())
    for n in range(FIRST_EVENTS + LAST_EVENTS + 1):  # one event more would save nothing
        conn.record("in", b"%d\n" % n)
    text = render_connection(conn)
    assert "not shown" not in text
    assert text.count("<< in") == FIRST_EVENTS + LAST_EVENTS + 1


def test_a_proxy_connection_is_condensed_over_both_sockets() -> None:
    ticks = counter_clock()
    down = Connection(1, ("127.0.0.1", 1), clock=ticks)
    up = Connection(1, ("127.0.0.1", 2), clock=ticks)
    for _ in range(20):
        down.record("in", b"q\n")
        up.record("in", b"a\n")
    down.upstream = up  # type: ignore[attr-defined]
    lines_ = render_connection(down).splitlines()
    assert "  ... 28 events not shown (56 B of data) ..." in lines_
    assert lines_[-3].startswith("  +39.000000s up << in")


# -- strict problems ----------------------------------------------------------------------------


def test_numbers() -> None:
    assert numbers([3, 1, 2]) == "1, 2, 3"
    assert numbers([*range(1, 41), 42, 44, 45, *range(50, 61)]) == "1-40, 42, 44, 45, 50-60"


def test_the_same_problem_on_several_connections_is_said_once() -> None:
    problems = [
        "connection 1: no rule matched message 1: b'PING\\n'\nrules:\n  rule 1",
        "connection 2: bytes left unframed",
        "connection 2: no rule matched message 1: b'PING\\n'\nrules:\n  rule 1",
        "rule expect(b'x') was used 0 of 1 times",
        "connection 3: no rule matched message 1: b'PING\\n'\nrules:\n  rule 1",
    ]
    assert condense_problems(problems) == [
        "connections 1, 2, 3: no rule matched message 1: b'PING\\n'\nrules:\n  rule 1",
        "connection 2: bytes left unframed",
        "rule expect(b'x') was used 0 of 1 times",
    ]
    text = render_server("S", [], problems=problems)
    assert text.splitlines()[1:3] == [
        "strict problems (5):",
        "  connections 1, 2, 3: no rule matched message 1: b'PING\\n'",
    ]


def five_retries() -> StrictReport:
    book = RuleBook()
    book.expect(b"PING\r\n").respond(b"+PONG\r\n")
    report = StrictReport(True, book)
    for number in range(1, 6):
        conn = Connection(number, ("127.0.0.1", number), clock=counter_clock())
        Script(conn, book, lines(), problems=report.found).feed(b"PING\n")
    return report


def test_take_says_a_shared_problem_once_and_the_rules_once() -> None:
    report = five_retries()
    text, problems = report.take("TCPServer 127.0.0.1:1 (strict, seed=1)")
    assert len(problems) == 5  # the StrictError keeps every one
    assert problems[0].startswith("connection 1: no rule matched message 1")
    lines_ = text.splitlines()
    assert lines_[:2] == [
        "sockfix TCPServer 127.0.0.1:1 (strict, seed=1) saw 5 problem(s):",
        "1) connections 1, 2, 3, 4, 5: no rule matched message 1: b'PING\\n'",
    ]
    assert text.count("no rule matched") == 1
    assert text.count("all rules, with their use:") == 1
    assert "2)" not in text
    assert len(lines_) < 12
    assert report.take("again") == ("", [])  # each problem raised once


def test_take_raises_a_later_connection_with_the_same_problem_on_its_own() -> None:
    report = five_retries()
    report.take("S")
    assert report.book is not None
    conn = Connection(6, ("127.0.0.1", 6), clock=counter_clock())
    Script(conn, report.book, lines(), problems=report.found).feed(b"PING\n")
    text, problems = report.take("S")
    assert problems == [report.found[-1]]
    assert "1) connection 6: no rule matched message 1" in text
