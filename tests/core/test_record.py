"""The recording model: events, and received/sent that equal the in/out events' bytes."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

import sockfix
from sockfix.core.record import Connection, Event


def counter_clock() -> Callable[[], float]:
    ticks = itertools.count()
    return lambda: float(next(ticks))


def make(on_change: Callable[[Connection, Event], None] | None = None) -> Connection:
    return Connection(1, ("127.0.0.1", 1), clock=counter_clock(), on_change=on_change)


# -- Event --------------------------------------------------------------------------------------


def test_event_fields_and_defaults() -> None:
    event = Event(1.5, "connect")
    assert (event.time, event.kind, event.data, event.note) == (1.5, "connect", b"", "")
    full = Event(2.0, "out", b"x", "rule 1")
    assert (full.time, full.kind, full.data, full.note) == (2.0, "out", b"x", "rule 1")
    assert sockfix.Event is Event


@pytest.mark.parametrize("field", ["time", "kind", "data", "note"])
def test_event_is_frozen(field: str) -> None:
    event = Event(1.0, "in", b"x", "n")
    with pytest.raises(AttributeError):
        setattr(event, field, None)
    assert event == Event(1.0, "in", b"x", "n")


def test_events_are_values() -> None:
    assert Event(1.0, "in", b"x") == Event(1.0, "in", b"x", "")
    assert Event(1.0, "in", b"x") != Event(1.0, "out", b"x")
    assert hash(Event(1.0, "in", b"x")) == hash(Event(1.0, "in", b"x"))


@pytest.mark.parametrize(
    ("kind", "direction"),
    [
        ("in", "in"),
        ("out", "out"),
        ("connect", None),
        ("eof", None),
        ("close", None),
        ("reset", None),
        ("fault", None),
        ("error", None),
    ],
)
def test_event_direction(kind: str, direction: str | None) -> None:
    assert Event(0.0, kind, b"x").direction == direction  # type: ignore[arg-type]


# -- Connection ---------------------------------------------------------------------------------


def test_a_new_connection() -> None:
    conn = make()
    assert (conn.number, conn.peer) == (1, ("127.0.0.1", 1))
    assert conn.events == []
    assert conn.messages == []
    assert conn.received == b""
    assert conn.sent == b""
    assert (conn.bytes_received, conn.bytes_sent) == (0, 0)
    assert not conn.closed
    assert sockfix.Connection is Connection


def test_record_returns_the_event_with_the_clock_time() -> None:
    conn = make()
    first = conn.record("connect")
    second = conn.record("in", b"abc", "note")
    assert first == Event(0.0, "connect", b"", "")
    assert second == Event(1.0, "in", b"abc", "note")
    assert conn.events == [first, second]


def test_received_and_sent_join_in_and_out_events() -> None:
    conn = make()
    conn.record("connect")
    conn.record("in", b"PI")
    conn.record("out", b"hello")
    conn.record("in", b"NG\r\n")
    conn.record("error", b"NOT DATA", "no rule matched")
    conn.record("fault", b"\xff", "Corrupt")
    conn.record("out", b"+PONG\r\n")
    assert conn.received == b"PING\r\n"
    assert conn.sent == b"hello+PONG\r\n"
    assert (conn.bytes_received, conn.bytes_sent) == (6, 12)


def test_the_cached_join_follows_later_chunks() -> None:
    conn = make()
    assert conn.received == b""
    conn.record("in", b"a")
    assert conn.received == b"a"
    assert conn.received == b"a"  # cached, still right
    conn.record("in", b"bc")
    conn.record("in", b"")
    conn.record("in", b"d")
    assert conn.received == b"abcd"
    conn.record("in", b"e")
    assert conn.received == b"abcde"
    assert conn.bytes_received == 5
    assert conn.sent == b""


def test_a_single_chunk_is_kept_once() -> None:
    conn = make()
    data = b"x" * 1000
    conn.record("out", data)
    assert conn.events[0].data is data
    assert conn.sent == data


@pytest.mark.parametrize(
    ("kind", "closed"),
    [
        ("close", True),
        ("reset", True),
        ("eof", False),
        ("error", False),
        ("fault", False),
        ("in", False),
        ("out", False),
        ("connect", False),
    ],
)
def test_close_and_reset_mark_closed(kind: str, closed: bool) -> None:
    conn = make()
    conn.record(kind)  # type: ignore[arg-type]
    assert conn.closed is closed


def test_on_change_sees_every_event_after_it_is_recorded() -> None:
    seen: list[tuple[Connection, Event, int, bytes]] = []

    def on_change(conn: Connection, event: Event) -> None:
        seen.append((conn, event, len(conn.events), conn.received))

    conn = make(on_change)
    a = conn.record("connect")
    b = conn.record("in", b"hi")
    c = conn.record("close")
    assert seen == [(conn, a, 1, b""), (conn, b, 2, b"hi"), (conn, c, 3, b"hi")]


def test_add_messages() -> None:
    conn = make()
    conn.add_messages([b"a\n", b"b\n"])
    conn.add_messages([])
    conn.add_messages([b"c\n"])
    assert conn.messages == [b"a\n", b"b\n", b"c\n"]


def test_repr() -> None:
    conn = Connection(7, ("::1", 4242), clock=counter_clock())
    conn.record("in", b"abc")
    conn.record("out", b"de")
    conn.add_messages([b"abc"])
    assert repr(conn) == "<Connection 7 from ::1:4242 open: 3 B in, 2 B out, 1 messages>"
    conn.record("close")
    assert repr(conn).startswith("<Connection 7 from ::1:4242 closed:")


RECORDS = st.lists(
    st.tuples(
        st.sampled_from(["in", "out", "fault", "error", "read"]),
        st.binary(max_size=5),
    ),
    max_size=40,
)


@given(records=RECORDS)
def test_received_and_sent_always_equal_the_events(records: list[tuple[str, bytes]]) -> None:
    conn = make()
    for kind, data in records:
        if kind == "read":  # reading between appends must not spoil the cache
            assert conn.received == b"".join(e.data for e in conn.events if e.kind == "in")
            assert conn.sent == b"".join(e.data for e in conn.events if e.kind == "out")
        else:
            conn.record(kind, data)  # type: ignore[arg-type]
    assert conn.received == b"".join(e.data for e in conn.events if e.direction == "in")
    assert conn.sent == b"".join(e.data for e in conn.events if e.direction == "out")
    assert conn.bytes_received == len(conn.received)
    assert conn.bytes_sent == len(conn.sent)
    assert [e.time for e in conn.events] == sorted(e.time for e in conn.events)


def test_amend_out_corrects_a_send_that_failed_part_way_or_wholly():
    conn = Connection(1, ("127.0.0.1", 1), clock=lambda: 1.0)
    partial = conn.record_out(b"abcdef", "rule 1")
    conn.amend_out(partial, b"abc")
    failed = conn.record_out(b"xyz")
    conn.amend_out(failed, b"")
    assert conn.sent == b"abc"
    assert conn.bytes_sent == 3
    assert [(e.kind, e.data, e.note) for e in conn.events] == [
        ("out", b"abc", "rule 1; send failed after 3 of 6 bytes"),
        ("error", b"", "send failed after 0 of 3 bytes"),
    ]


def test_amend_out_of_a_send_cut_by_stop_is_no_error():
    conn = Connection(1, ("127.0.0.1", 1), clock=lambda: 1.0)
    conn.amend_out(conn.record_out(b"xyz", "rule 1"), b"", stopped=True)
    conn.amend_out(conn.record_out(b"abcdef"), b"ab", "sendto: boom", stopped=True)
    assert conn.sent == b"ab"
    assert [(e.kind, e.data, e.note) for e in conn.events] == [
        ("fault", b"", "rule 1; send failed after 0 of 3 bytes (stop() shut the socket)"),
        ("out", b"ab", "send failed after 2 of 6 bytes (stop() shut the socket)"),
    ]
