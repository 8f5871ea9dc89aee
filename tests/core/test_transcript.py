"""Transcripts and text helpers: escaped text, hexdump rows, timing, notes, limits."""

from __future__ import annotations

import itertools

import pytest

from sockfix.core.record import Connection, Event
from sockfix.core.text import escaped, hex_rows, short
from sockfix.core.transcript import (
    DEFAULT_LIMIT,
    LAST_EVENTS,
    render_connection,
    render_event,
    render_server,
)

PAD = " " * 13  # hex rows sit under the event line


def conversation() -> Connection:
    ticks = itertools.count()
    conn = Connection(2, ("127.0.0.1", 5555), clock=lambda: next(ticks) * 0.0015)
    conn.record("connect")
    conn.record("in", b"PING\r\n")
    conn.add_messages([b"PING\r\n"])
    conn.record("out", b"+PONG\r\n", "rule 1")
    conn.record("fault", note="Latency(0.05)")
    conn.record("in", bytes(range(20)))
    conn.record("close", note="rule 1")
    return conn


def padded(conn: Connection) -> Connection:
    """``conn`` with LAST_EVENTS more events: the last events always show in full, so the
    per-connection limit acts on the ones before."""
    for n in range(LAST_EVENTS):
        conn.record("fault", note=f"pad {n}")
    return conn


# -- text helpers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (b"PING\r\n", "PING\\r\\n"),
        (b"\x00\xff", "\\x00\\xff"),
        (b"it's", "it's"),
        (b'say "hi" it\'s', 'say "hi" it\\\'s'),
        (bytearray(b"ab"), "ab"),
        (b"", ""),
    ],
)
def test_escaped(data: bytes, text: str) -> None:
    assert escaped(data) == text


def test_short() -> None:
    assert short(b"abc") == "b'abc'"
    assert short(b"x" * 100) == "b'" + "x" * 54 + "...' (100 bytes)"
    assert short(b"x" * 100, 20) == "b'" + "x" * 14 + "...' (100 bytes)"
    assert short(b"x" * 57) == "b'" + "x" * 57 + "'"  # exactly 60 characters: kept whole


@pytest.mark.parametrize(
    ("data", "rows"),
    [
        (b"", []),
        (b"abc", ["00000000  61 62 63" + " " * 42 + "|abc|"]),
        (
            b"0123456789",
            ["00000000  30 31 32 33 34 35 36 37  38 39" + " " * 20 + "|0123456789|"],
        ),
        (
            bytes(range(20)),
            [
                "00000000  00 01 02 03 04 05 06 07  08 09 0a 0b 0c 0d 0e 0f  |................|",
                "00000010  10 11 12 13" + " " * 39 + "|....|",
            ],
        ),
        (
            b"Hello, World!\r\n\x7f~ ",
            [
                "00000000  48 65 6c 6c 6f 2c 20 57  6f 72 6c 64 21 0d 0a 7f  |Hello, World!...|",
                "00000010  7e 20" + " " * 45 + "|~ |",
            ],
        ),
    ],
)
def test_hex_rows_are_hexdump_c(data: bytes, rows: list[str]) -> None:
    assert hex_rows(data) == rows


def test_hex_rows_columns_line_up() -> None:
    for n in range(1, 33):
        for row in hex_rows(bytes(range(65, 65 + n))):
            assert row.index("|") == 60
            assert row.endswith("|")


def test_hex_rows_offset_and_width() -> None:
    assert hex_rows(b"ab", offset=0x100) == ["00000100  61 62" + " " * 45 + "|ab|"]
    rows = hex_rows(b"abcd", width=2)
    assert [(r[:15], r[-4:]) for r in rows] == [
        ("00000000  61 62", "|ab|"),
        ("00000002  63 64", "|cd|"),
    ]


# -- events -------------------------------------------------------------------------------------


def test_render_data_event() -> None:
    assert render_event(Event(0.0015, "in", b"PING\r\n")) == [
        "+0.001500s << in      6 B  PING\\r\\n",
        PAD + "00000000  50 49 4e 47 0d 0a" + " " * 33 + "|PING..|",
    ]
    assert render_event(Event(1.25, "out", b"ok", "rule 3"), hexdump=False) == [
        "+1.250000s >> out     2 B  ok  (rule 3)"
    ]


def test_render_other_events() -> None:
    assert render_event(Event(0.0, "connect")) == ["+0.000000s -- connect"]
    assert render_event(Event(2.0, "fault", note="Reset()")) == ["+2.000000s -- fault    (Reset())"]
    assert render_event(Event(3.0, "error", b"NOPE\n", "no rule matched"), hexdump=False) == [
        "+3.000000s -- error   NOPE\\n  (no rule matched)"
    ]


def test_render_event_max_bytes() -> None:
    lines = render_event(Event(0.0, "in", b"abcdef"), max_bytes=2)
    assert lines == [
        "+0.000000s << in      6 B  ab ... (+4 B)",
        PAD + "00000000  61 62" + " " * 45 + "|ab|",
    ]
    assert render_event(Event(0.0, "in", b"abc"), max_bytes=0) == [
        "+0.000000s << in      3 B   ... (+3 B)"
    ]


def test_render_event_colour() -> None:
    assert render_event(Event(0.0, "in", b"a"), color=True, hexdump=False) == [
        "\x1b[36m+0.000000s << in      1 B  a\x1b[0m"
    ]
    (reset,) = render_event(Event(0.0, "reset", note="by peer"), color=True)
    assert reset == "\x1b[31m+0.000000s -- reset    (by peer)\x1b[0m"
    assert render_event(Event(0.0, "connect"), color=True) == ["+0.000000s -- connect"]


# -- connections and servers --------------------------------------------------------------------


def test_render_connection() -> None:
    assert render_connection(conversation()).splitlines() == [
        "connection 2 from 127.0.0.1:5555 (closed): 26 B in, 7 B out, 1 message",
        "  +0.000000s -- connect",
        "  +0.001500s << in      6 B  PING\\r\\n",
        "  " + PAD + "00000000  50 49 4e 47 0d 0a" + " " * 33 + "|PING..|",
        "  +0.003000s >> out     7 B  +PONG\\r\\n  (rule 1)",
        "  " + PAD + "00000000  2b 50 4f 4e 47 0d 0a" + " " * 30 + "|+PONG..|",
        "  +0.004500s -- fault    (Latency(0.05))",
        "  +0.006000s << in      20 B  "
        "\\x00\\x01\\x02\\x03\\x04\\x05\\x06\\x07\\x08\\t\\n\\x0b\\x0c\\r\\x0e\\x0f\\x10\\x11\\x12\\x13",
        "  "
        + PAD
        + "00000000  00 01 02 03 04 05 06 07  08 09 0a 0b 0c 0d 0e 0f  |................|",
        "  " + PAD + "00000010  10 11 12 13" + " " * 39 + "|....|",
        "  +0.007500s -- close    (rule 1)",
    ]


def test_an_open_connection_header() -> None:
    conn = Connection(1, ("::1", 9), clock=lambda: 0.0)
    assert render_connection(conn) == "connection 1 from ::1:9 (open): 0 B in, 0 B out, 0 messages"


def test_the_per_connection_limit() -> None:
    text = render_connection(padded(conversation()), limit=8)
    lines = text.splitlines()
    assert "  +0.003000s >> out     7 B  +P ... (+5 B)  (rule 1)" in lines
    assert "  +0.004500s -- fault    (Latency(0.05))" in lines  # events without data still show
    assert "\\x00\\x01" not in text
    close = lines.index("  +0.007500s -- close    (rule 1)")
    assert lines[close + 1] == "  ... 20 more bytes in 1 event not shown (limit 8 B per connection)"
    assert lines[close + 2 : -1] == [
        f"  +{0.0015 * n:.6f}s -- fault    (pad {n - 6})" for n in range(6, 6 + LAST_EVENTS)
    ]
    assert lines[-1] == "  (25 bytes not shown in all; the recording keeps them all)"


def test_the_last_events_are_shown_whatever_the_limit() -> None:
    text = render_connection(conversation(), limit=8)
    assert "\\x00\\x01" in text  # the 20-byte "in" is among the last events: shown whole
    assert "not shown" not in text


def test_a_limit_used_up_exactly_hides_the_next_data_event() -> None:
    conn = Connection(1, ("127.0.0.1", 1), clock=lambda: 0.0)
    conn.record("in", b"abcd")
    conn.record("eof", note="peer closed its side")
    conn.record("out", b"efg")
    lines = render_connection(padded(conn), limit=4).splitlines()
    assert lines[1] == "  +0.000000s << in      4 B  abcd"
    assert lines[3] == "  +0.000000s -- eof      (peer closed its side)"
    assert lines[4] == "  ... 3 more bytes in 1 event not shown (limit 4 B per connection)"
    assert lines[-1] == "  (3 bytes not shown in all; the recording keeps them all)"


def test_the_default_limit() -> None:
    assert DEFAULT_LIMIT == 64 * 1024
    ticks = itertools.count()
    conn = Connection(1, ("127.0.0.1", 1), clock=lambda: float(next(ticks)))
    for _ in range(3):
        conn.record("in", b"x" * 40_000)
    text = render_connection(conn)
    assert text.count("... 39,872 bytes not shown ...") == 6  # each: in its line and its rows
    assert text.endswith("  (119,616 bytes not shown in all; the recording keeps them all)")
    assert conn.received == b"x" * 120_000  # the recording keeps everything


def test_render_server_with_problems_and_rules() -> None:
    text = render_server(
        "TCPServer 127.0.0.1:1",
        [padded(conversation())],
        problems=iter(["connection 2: first\nsecond line", "connection 2: other"]),
        rules="  expect(ANY)  [used 0]",
        limit=3,
    )
    lines = text.splitlines()
    assert lines[:8] == [
        "TCPServer 127.0.0.1:1",
        "rules:",
        "  expect(ANY)  [used 0]",
        "strict problems (2):",
        "  connection 2: first",
        "  second line",
        "  connection 2: other",
        "connection 2 from 127.0.0.1:5555 (closed): 26 B in, 7 B out, 1 message",
    ]
    assert "  +0.001500s << in      6 B  PIN ... (+3 B)" in lines
    assert "  ... 27 more bytes in 2 events not shown (limit 3 B per connection)" in lines


def test_render_server_without_connections() -> None:
    assert render_server("UDPServer", []) == "UDPServer\n(no connections)"


def test_render_server_several_connections_in_order() -> None:
    a = Connection(1, ("127.0.0.1", 1), clock=lambda: 0.0)
    b = Connection(2, ("127.0.0.1", 2), clock=lambda: 0.0)
    text = render_server("S", [a, b])
    assert text.index("connection 1 from") < text.index("connection 2 from")
    assert "strict problems" not in text
    assert "rules:" not in text
