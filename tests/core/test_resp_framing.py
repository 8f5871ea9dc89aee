"""The resp() framing, the h11 way: whole, one byte at a time, with trailing bytes; pipelined
commands; any split of a stream; malformed input still ending a message; linear scanning."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sockfix.core.errors import ScenarioError
from sockfix.core.resp.codec import (
    MAX_DEPTH,
    MAX_LINE,
    Error,
    Incomplete,
    Push,
    RESPError,
    Verbatim,
    decode,
    describe_command,
    encode,
    encode_command,
    parse_command,
)
from sockfix.core.resp.scan import RESPScanner, value_length
from sockfix.core.scenario.write import framing_spec
from sockfix.framing import Framer, describe, parse, resp
from sockfix.net.tcp import _check_framing
from sockfix.testing import check_framing

Framing = Callable[[bytes], "int | None"]


def plain(framing: Framing) -> Framing:
    """The same framing as a plain callable, so the Framer takes its generic path."""

    def user_framing(buffer: bytes) -> int | None:
        return framing(buffer)

    return user_framing


def feed_all(framing: Framing, pieces: list[bytes]) -> tuple[list[bytes], bytes]:
    framer = Framer(framing)
    out: list[bytes] = []
    for piece in pieces:
        out += framer.feed(piece)
    return out, framer.pending


def cut(framing: Framing, pieces: list[bytes]) -> tuple[list[bytes], bytes]:
    """Cut by calling ``framing`` directly on the unframed buffer after each piece."""
    out: list[bytes] = []
    buffer = b""
    for piece in pieces:
        buffer += piece
        while buffer:
            n = framing(buffer)
            if n is None:
                break
            assert 1 <= n <= len(buffer)
            out.append(buffer[:n])
            buffer = buffer[n:]
    return out, buffer


def tr(framing: Framing, data: bytes, expected: list[bytes], trailing: bytes = b"") -> None:
    """``data`` frames as ``expected`` whole, byte by byte, and with ``trailing`` left pending."""
    assert b"".join(expected) == data, "the test case itself is wrong"
    for f in (framing, plain(framing)):
        assert feed_all(f, [data]) == (expected, b"")
        assert feed_all(f, [data[i : i + 1] for i in range(len(data))]) == (expected, b"")
        if trailing:
            assert feed_all(f, [data + trailing]) == (expected, trailing)
            tail_bytes = [trailing[i : i + 1] for i in range(len(trailing))]
            assert feed_all(f, [data, *tail_bytes]) == (expected, trailing)
            assert framing(trailing) is None
    assert framing(data) == (len(expected[0]) if expected else None)
    assert framing(data + trailing) == (len(expected[0]) if expected else None)


PING = b"*1\r\n$4\r\nPING\r\n"
SET = b"*3\r\n$3\r\nSET\r\n$4\r\nk\r\nx\r\n$3\r\n\x00\r\n\r\n"
HELLO3 = b"*5\r\n$5\r\nHELLO\r\n$1\r\n3\r\n$4\r\nAUTH\r\n$7\r\ndefault\r\n$6\r\ns3cret\r\n"
MAP = b"%2\r\n$6\r\nserver\r\n$5\r\nredis\r\n$5\r\nproto\r\n:3\r\n"
ATTRIBUTED = b"|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.19\r\n*2\r\n:1\r\n:2\r\n"
PUSH = b">3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n"


@pytest.mark.parametrize(
    ("data", "expected", "trailing"),
    [
        (PING, [PING], b"*1\r\n$4\r\nPI"),
        (SET, [SET], b"*"),
        (HELLO3, [HELLO3], b"*5\r\n$5\r\nHELLO\r\n$1\r\n3"),
        (b"PING\r\n", [b"PING\r\n"], b"PIN"),
        (b"PING\n", [b"PING\n"], b"\r\n"),  # empty lines belong to the next message
        (b'SET k "a\r\nb"\n', [b'SET k "a\r\n', b'b"\n'], b""),  # inline lines end at LF
        (b"\r\n\r\n  \nPING\r\n", [b"\r\n\r\n  \nPING\r\n"], b"\r\n \r\n"),
        (b"\r\n" + PING, [b"\r\n" + PING], b"  "),
        (b"+OK\r\n", [b"+OK\r\n"], b"+OK\r"),
        (b"-ERR boom\r\n", [b"-ERR boom\r\n"], b"-"),
        (b":-42\r\n", [b":-42\r\n"], b":1"),
        (b"$-1\r\n", [b"$-1\r\n"], b"$-"),
        (b"$0\r\n\r\n", [b"$0\r\n\r\n"], b"$0\r\n\r"),
        (b"*-1\r\n", [b"*-1\r\n"], b"*-1\r"),
        (b"*0\r\n", [b"*0\r\n"], b"*2\r\n:1\r\n"),
        (b"_\r\n#t\r\n,inf\r\n(123\r\n", [b"_\r\n", b"#t\r\n", b",inf\r\n", b"(123\r\n"], b","),
        (b"!3\r\nERR\r\n", [b"!3\r\nERR\r\n"], b"!3\r\nERR"),
        (b"=8\r\ntxt:\r\n\r\n\r\n", [b"=8\r\ntxt:\r\n\r\n\r\n"], b"=8\r\ntxt:"),
        (MAP, [MAP], MAP[:-1]),
        (b"~2\r\n:1\r\n~0\r\n", [b"~2\r\n:1\r\n~0\r\n"], b"~1\r\n"),
        (ATTRIBUTED, [ATTRIBUTED], ATTRIBUTED[:-12]),  # the attribute alone is not a message
        (PUSH, [PUSH], PUSH[:-2]),
        (b"", [], b"*1\r\n$4\r\nPING\r"),
    ],
)
def test_one_message(data: bytes, expected: list[bytes], trailing: bytes) -> None:
    tr(resp(), data, expected, trailing)


def test_a_redis_py_connection_and_pipeline() -> None:
    # What redis-py 8 sends: the handshake one command at a time, then a transaction
    # pipeline in one write.
    handshake = [
        HELLO3,
        b"*4\r\n$6\r\nCLIENT\r\n$7\r\nSETINFO\r\n$8\r\nLIB-NAME\r\n$8\r\nredis-py\r\n",
        b"*4\r\n$6\r\nCLIENT\r\n$7\r\nSETINFO\r\n$7\r\nLIB-VER\r\n$5\r\n8.1.0\r\n",
        b"*2\r\n$6\r\nSELECT\r\n$1\r\n2\r\n",
    ]
    pipeline = [
        b"*1\r\n$5\r\nMULTI\r\n",
        b"*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n",
        b"*2\r\n$4\r\nINCR\r\n$1\r\na\r\n",
        b"*1\r\n$4\r\nEXEC\r\n",
    ]
    stream = b"".join(handshake + pipeline)
    tr(resp(), stream, handshake + pipeline, b"*1\r\n$4\r\nEX")
    framer = Framer(resp())
    out = [m for message in handshake for m in framer.feed(message)]
    out += framer.feed(b"".join(pipeline))
    assert [describe_command(parse_command(m)) for m in out] == [
        "HELLO 3 AUTH default s3cret",
        "CLIENT SETINFO LIB-NAME redis-py",
        "CLIENT SETINFO LIB-VER 8.1.0",
        "SELECT 2",
        "MULTI",
        "SET a 1",
        "INCR a",
        "EXEC",
    ]


def test_replies_in_one_buffer() -> None:
    # The same framing cuts a server's replies (for a client-side fake, or a proxy).
    replies = [b"+OK\r\n", b"+QUEUED\r\n", b"+QUEUED\r\n", b"*2\r\n+OK\r\n:1\r\n", MAP, PUSH]
    tr(resp(), b"".join(replies), replies, b"%1\r\n")


def test_check_framing_passes() -> None:
    check_framing(
        resp(),
        [PING, b"GET k\r\n", SET, b"\r\n" + PING, b"*2\r\n*1\r\n:1\r\n%0\r\n", ATTRIBUTED, PUSH],
    )


def test_check_framing_catches_a_wrong_cut() -> None:
    # The array's header alone is not a message.
    with pytest.raises(AssertionError, match="framing resp"):
        check_framing(resp(), [b"*1\r\n", b"$4\r\nPING\r\n"])


def test_a_large_bulk_string_waits_for_its_bytes() -> None:
    framer = Framer(resp())
    assert framer.feed(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100000\r\n") == []
    for _ in range(99):
        assert framer.feed(b"x" * 1000) == []
    assert framer.feed(b"x" * 1000 + b"\r") == []
    [message] = framer.feed(b"\n*1")
    assert parse_command(message) == [b"SET", b"k", b"x" * 100000]
    assert framer.pending == b"*1"


# -- any split of a stream -------------------------------------------------------------------------

inline_args = st.lists(st.binary(max_size=12), max_size=4)


@st.composite
def commands(draw: st.DrawFn) -> tuple[bytes, list[bytes]]:
    """One command as a client sends it (bytes) and its arguments."""
    lead = draw(st.sampled_from([b"", b"", b"", b"\r\n", b"\n", b" \t\r\n"]))
    name = draw(st.sampled_from([b"GET", b"SET", b"ping", b"CLIENT", b"HSET"]))
    args = [name, *draw(inline_args)]
    if draw(st.booleans()):
        return lead + encode_command(*args), args
    # An inline command, quoted as redis-cli would show it (which reads back the same).
    eol = draw(st.sampled_from([b"\r\n", b"\n"]))
    return lead + describe_command(args).encode() + eol, args


def split(draw: st.DrawFn, stream: bytes, most: int = 12) -> list[bytes]:
    cuts = sorted(draw(st.sets(st.integers(1, max(len(stream) - 1, 1)), max_size=most)))
    bounds = [0, *(c for c in cuts if c < len(stream)), len(stream)]
    return [stream[a:b] for a, b in itertools.pairwise(bounds)]


@st.composite
def command_streams(draw: st.DrawFn) -> tuple[list[bytes], list[list[bytes]], list[bytes]]:
    """(messages, their arguments, the stream split into pieces at random places)."""
    drawn = draw(st.lists(commands(), min_size=1, max_size=6))
    messages = [m for m, _ in drawn]
    return messages, [a for _, a in drawn], split(draw, b"".join(messages))


@given(command_streams())
def test_any_split_of_commands_frames_identically(
    case: tuple[list[bytes], list[list[bytes]], list[bytes]],
) -> None:
    messages, args, pieces = case
    assert feed_all(resp(), pieces) == (messages, b"")
    assert feed_all(plain(resp()), pieces) == (messages, b"")
    assert cut(resp(), pieces) == (messages, b"")
    assert [parse_command(m) for m in messages] == args


texts = st.text(
    st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)), max_size=6
)
keys = st.one_of(st.binary(max_size=6), texts, st.integers(), st.none())
scalars = st.one_of(
    st.binary(max_size=10),
    texts,
    st.integers(-(2**70), 2**70),
    st.booleans(),
    st.floats(),
    st.none(),
    st.builds(Error, texts),
    st.builds(Verbatim, st.text(st.characters(blacklist_categories=("Cs",)), max_size=6)),
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(keys, children, max_size=3),
        st.frozensets(keys, max_size=3),
        st.builds(Push, texts, st.lists(children, max_size=3)),
    ),
    max_leaves=15,
)


@st.composite
def value_streams(draw: st.DrawFn) -> tuple[list[bytes], list[bytes]]:
    protocol = draw(st.sampled_from([2, 3]))
    found = draw(st.lists(values, min_size=1, max_size=4))
    messages = []
    for value in found:
        with contextlib.suppress(ValueError):  # a Push in RESP2
            messages.append(encode(value, protocol))
    if not messages:
        messages = [b"+OK\r\n"]
    return messages, split(draw, b"".join(messages))


@settings(max_examples=100)
@given(value_streams())
def test_any_encoded_value_is_one_message(case: tuple[list[bytes], list[bytes]]) -> None:
    messages, pieces = case
    assert feed_all(resp(), pieces) == (messages, b"")
    assert cut(resp(), pieces) == (messages, b"")
    for message in messages:
        assert decode(message)[1] == len(message)
        for k in range(1, len(message), max(1, len(message) // 16)):
            assert resp()(message[:k]) is None


# -- malformed input still ends a message ----------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "first"),
    [
        pytest.param(b"*1\r\nPING\r\n", b"*1\r\nP", id="array-of-inline"),
        pytest.param(b"*2\r\n$3\r\nGET\r\nx\r\n", b"*2\r\n$3\r\nGET\r\nx", id="unknown-type"),
        pytest.param(b"*x\r\n$4\r\nPING\r\n", b"*x", id="non-digit-count"),
        pytest.param(b"*-2\r\n", b"*-2", id="negative-count"),
        pytest.param(b"*01\r\n", b"*01", id="leading-zero"),
        pytest.param(b"*?\r\n", b"*?", id="streamed"),
        pytest.param(b"*1 \r\n", b"*1 ", id="space-in-count"),
        pytest.param(b"*1\r\r\n", b"*1\r\r", id="cr-cr"),
        pytest.param(b"*1\n$4\r\nPING\r\n", b"*1\n", id="count-bare-lf"),
        pytest.param(b"*1\r\n$-1\r\n", b"*1\r\n$-1\r\n", id="null-argument"),
        pytest.param(b"*1\r\n$4\r\nPINGX\r\n", b"*1\r\n$4\r\nPINGX", id="bulk-too-long"),
        pytest.param(b"*1\r\n$4\r\nPIN\r\n\r\n", b"*1\r\n$4\r\nPIN\r\n", id="bulk-short"),
        pytest.param(b"$1000000000\r\n", b"$1000000000", id="bulk-over-512MiB"),
        pytest.param(b"*1\r\n:1x\r\n*1\r\n", b"*1\r\n:1x\r\n", id="bad-integer"),
        pytest.param(b"*1\r\n+OK\n*1", b"*1\r\n+OK\n", id="simple-bare-lf"),
        pytest.param(b"*1\r\n+O\rK\r\n", b"*1\r\n+O\rK\r\n", id="simple-with-cr"),
        pytest.param(b"_x\r\n", b"_x\r\n", id="bad-null"),
        pytest.param(b"%-1\r\n", b"%-", id="null-map"),
        pytest.param(b"*0\r\n", b"*0\r\n", id="empty-array"),
        pytest.param(b'SET "a\r\n', b'SET "a\r\n', id="unbalanced-quotes"),
        pytest.param(b"\x00\r\n", b"\x00\r\n", id="nul-line"),
        pytest.param(b"+OK\r\n", b"+OK\r\n", id="a-reply-is-not-a-command"),
        pytest.param(
            b"*1\r\n" * MAX_DEPTH + b"*1\r\n:1\r\n",
            b"*1\r\n" * (MAX_DEPTH + 1),
            id="too-deep",
        ),
    ],
)
def test_malformed_input_is_one_message_that_parse_command_rejects(
    data: bytes, first: bytes
) -> None:
    for f in (resp(), plain(resp())):
        whole, _ = feed_all(f, [data])
        by_byte, _ = feed_all(f, [data[i : i + 1] for i in range(len(data))])
        assert whole[0] == first
        assert by_byte[0] == first
    assert resp()(data) == len(first)
    with pytest.raises(RESPError):
        parse_command(first)
    if first[0] in b"+-:$*_#,(!=%~|>" and first not in (b"*0\r\n", b"+OK\r\n", b"*1\r\n$-1\r\n"):
        with pytest.raises(RESPError) as info:  # a RESPError, not Incomplete
            decode(first)
        assert info.value.end == len(first)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"GET " + b"k" * MAX_LINE, id="inline-too-long"),
        pytest.param(b"+" + b"a" * MAX_LINE, id="simple-string-too-long"),
        pytest.param(b"*1\r\n-" + b"a" * MAX_LINE, id="error-too-long-in-array"),
        pytest.param(b"\r\n" * (MAX_LINE // 2) + b"PI", id="only-empty-lines"),
        pytest.param(b"\r\n" * (MAX_LINE // 2 - 1) + b"PING" * 4, id="empty-lines-then-long"),
        pytest.param(b"\x16\x03\x01\x00\xa5" * (MAX_LINE // 5 + 1), id="binary-no-lf"),
    ],
)
def test_a_line_without_its_end_is_cut_after_64_kib(data: bytes) -> None:
    # No line end will ever make these valid: waiting would hang the client.
    length = data.index(b"\r\n") + 2 + MAX_LINE if data.startswith(b"*1") else MAX_LINE
    assert resp()(data) == length
    assert feed_all(resp(), [data]) == ([data[:length]], data[length:])
    pieces = [data[i : i + 1000] for i in range(0, len(data), 1000)]
    assert feed_all(resp(), pieces) == ([data[:length]], data[length:])
    with pytest.raises(RESPError):
        parse_command(data[:length])


def test_a_line_of_64_kib_with_its_end_is_read() -> None:
    line = b"SET k " + b"v" * (MAX_LINE - 8) + b"\r\n"
    assert len(line) == MAX_LINE
    assert feed_all(resp(), [line + b"+"]) == ([line], b"+")
    assert parse_command(line) == [b"SET", b"k", b"v" * (MAX_LINE - 8)]


def test_nesting_up_to_the_limit_is_one_message() -> None:
    data = b"*1\r\n" * MAX_DEPTH + b":1\r\n"
    tr(resp(), data + data, [data, data], b"*1\r\n")


def test_garbage_in_small_reads_is_cut_as_soon_as_it_is_known() -> None:
    framer = Framer(resp())
    assert framer.feed(b"*1\r\n$") == []
    assert framer.feed(b"4") == []
    assert framer.feed(b"\r\nPI") == []  # could still be PING\r\n
    assert framer.feed(b"N") == []
    assert framer.feed(b"GX") == [b"*1\r\n$4\r\nPINGX"]
    framer = Framer(resp())
    assert framer.feed(b"*3\r\n$3\r\nSET\r\n") == []
    assert framer.feed(b"k") == [b"*3\r\n$3\r\nSET\r\nk"]


FRAGMENTS = [
    b"*",
    b"$",
    b"%",
    b"~",
    b"|",
    b">",
    b"+",
    b"-",
    b":",
    b"_",
    b"#",
    b",",
    b"(",
    b"!",
    b"=",
    b"0",
    b"1",
    b"2",
    b"-1",
    b"\r\n",
    b"\n",
    b"\r",
    b" ",
    b"t",
    b"txt:",
    b"PING",
    b'"',
    b"?",
    b"\x00",
]


@settings(max_examples=300)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=25), st.data())
def test_any_bytes_frame_the_same_stateful_and_stateless_and_never_raise(
    fragments: list[bytes], data: st.DataObject
) -> None:
    stream = b"".join(fragments)
    cuts = sorted(data.draw(st.sets(st.integers(1, max(len(stream) - 1, 1)), max_size=10)))
    bounds = [0, *(c for c in cuts if c < len(stream)), len(stream)]
    pieces = [stream[a:b] for a, b in itertools.pairwise(bounds)]
    stateful = feed_all(resp(), pieces)
    assert stateful == cut(resp(), pieces)
    assert stateful == feed_all(plain(resp()), pieces)
    assert stateful == feed_all(resp(), [stream])  # the cuts depend on the bytes alone
    assert b"".join(stateful[0]) + stateful[1] == stream
    for message in stateful[0]:
        with contextlib.suppress(RESPError):
            assert parse_command(message)  # and never another exception, nor []
        if message[0] in b"+-:$*_#,(!=%~|>":
            with contextlib.suppress(RESPError):
                assert decode(message)[1] == len(message)  # never Incomplete
    rest = stateful[1]
    if rest and rest[0] in b"+-:$*_#,(!=%~|>":
        with pytest.raises((Incomplete, RESPError)):
            decode(rest)


# -- linear time -----------------------------------------------------------------------------------


class CountingBuffer(bytearray):
    """A bytearray that counts the bytes the scanner looks at: ``find`` up to what it finds
    (or to its end), ``buf[i]`` one, a slice its length. (Length lines are matched by an
    anchored regular expression that reads at most 13 bytes; it is not counted.)"""

    looked = 0

    def find(self, sub: Any, start: Any = None, end: Any = None) -> int:
        lo = 0 if start is None else int(start)
        hi = len(self) if end is None else int(end)
        i = super().find(sub, start, end)
        CountingBuffer.looked += (i + len(sub) - lo) if i >= 0 else max(hi - lo, 0)
        return i

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, slice):
            got = super().__getitem__(key)
            CountingBuffer.looked += len(got)
            return got
        CountingBuffer.looked += 1
        return super().__getitem__(key)


def frame_counting(scanner: RESPScanner, pieces: list[bytes]) -> tuple[int, int]:
    """Feed ``pieces`` to ``scanner`` as a Framer does; (messages cut, bytes looked at)."""
    CountingBuffer.looked = 0
    buf = CountingBuffer()
    count = 0
    for piece in pieces:
        buf += piece
        pos = 0
        while pos < len(buf):
            n = scanner.scan(buf, pos)
            if n is None:
                break
            count += 1
            pos += n
        del buf[:pos]
    return count, CountingBuffer.looked


PIPELINE = [encode_command("SET", f"key:{i}", b"v" * (i % 40)) for i in range(10_000)]


def test_ten_thousand_pipelined_commands_in_one_read_are_cut_in_linear_time() -> None:
    stream = b"".join(PIPELINE)
    count, looked = frame_counting(RESPScanner(), [stream])
    assert count == 10_000
    assert looked < len(stream)
    assert Framer(resp()).feed(stream) == PIPELINE


def test_ten_thousand_inline_commands_in_one_read_are_cut_in_linear_time() -> None:
    stream = b"".join(b"SET key:%d %d\r\n" % (i, i) for i in range(10_000))
    count, looked = frame_counting(RESPScanner(), [stream])
    assert count == 10_000
    assert looked < 2 * len(stream)


def test_a_4_mib_bulk_string_in_1000_byte_reads_is_scanned_in_linear_time() -> None:
    size = 4 * 1024 * 1024
    message = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n" % size + b"x" * size + b"\r\n"
    pieces = [message[i : i + 1000] for i in range(0, len(message), 1000)]
    count, looked = frame_counting(RESPScanner(), pieces)
    assert count == 1
    assert looked < 2 * len(pieces) + 100  # a byte or two a read: the string's are skipped
    framer = Framer(resp())
    out = [m for piece in pieces for m in framer.feed(piece)]
    assert out == [message]


def test_a_large_array_in_small_reads_is_scanned_once() -> None:
    message = encode([b"member:%d" % i for i in range(20_000)])
    pieces = [message[i : i + 100] for i in range(0, len(message), 100)]
    count, looked = frame_counting(RESPScanner(), pieces)
    assert count == 1
    assert looked < 2 * len(message)


def test_the_counter_sees_the_stateless_scan_rescanning() -> None:
    # The same measure on a fresh scanner for every call (the stateless function): quadratic,
    # so the tests above can fail.
    message = encode([b"member:%d" % i for i in range(1_000)])
    pieces = [message[i : i + 100] for i in range(0, len(message), 100)]

    class Stateless(RESPScanner):
        def scan(self, buf: Any, start: int) -> int | None:
            return value_length(buf, start)

    _, stateful = frame_counting(RESPScanner(), pieces)
    _, stateless = frame_counting(Stateless(), pieces)
    assert stateless > 50 * stateful


def test_through_a_framer_the_scanner_only_moves_forward() -> None:
    message = encode([b"x" * 1000] * 500)
    framer = Framer(resp())
    scanner = framer._builtin._scanner  # type: ignore[union-attr]
    assert isinstance(scanner, RESPScanner)
    positions = []
    out: list[bytes] = []
    for i in range(0, len(message), 100):
        out += framer.feed(message[i : i + 100])
        if not out:
            positions.append(scanner._pos)
    assert out == [message]
    assert positions == sorted(positions)
    assert positions[-1] > len(message) - 1100  # it reached the last element
    assert scanner._pos == 0  # reset for the next message
    assert scanner._stack == []


def test_each_framer_has_its_own_scanner() -> None:
    framing = resp()
    a, b = Framer(framing), Framer(framing)
    assert a.feed(b"*2\r\n$3\r\nGET\r\n$5\r\nab") == []
    assert b.feed(PING) == [PING]
    assert a.feed(b"cde\r\n") == [b"*2\r\n$3\r\nGET\r\n$5\r\nabcde\r\n"]


def test_fresh() -> None:
    framing = resp()
    one, two = framing.fresh(), framing.fresh()
    assert one is not framing
    assert one is not two
    assert repr(one) == "resp()"
    # Called directly, a per-stream object is stateless too.
    assert one(PING[:5]) is None
    assert one(PING) == len(PING)
    assert one(PING[:5]) is None
    assert value_length(b"xx" + PING, 2) == len(PING)


# -- names and specs -------------------------------------------------------------------------------


def test_names_and_specs() -> None:
    assert repr(resp()) == "resp()"
    assert describe(resp()) == "resp()"
    assert repr(parse("resp")) == "resp()"
    assert repr(parse(" resp")) == "resp()"
    assert framing_spec(resp()) == "resp"
    assert framing_spec(resp().fresh()) == "resp"
    assert repr(parse(framing_spec(resp()))) == "resp()"
    assert Framer(parse("resp")).feed(PING + b"PING\r\n") == [PING, b"PING\r\n"]


def test_the_parse_error_lists_resp() -> None:
    with pytest.raises(ValueError) as info:
        parse("redis")
    assert str(info.value) == (
        "unknown framing 'redis': choose lines, raw, fixed:N, delimited:SEP "
        "or length_prefixed:FMT; or http for HTTP/1.1 requests; or resp for Redis (RESP) "
        "commands"
    )


def test_a_scenario_can_be_written_with_resp() -> None:
    def mine(buffer: bytes) -> int | None:
        return None

    assert framing_spec(resp()) == "resp"
    with pytest.raises(ScenarioError):
        framing_spec(mine)


def test_passing_the_factory_names_the_call() -> None:
    with pytest.raises(TypeError) as info:
        _check_framing(resp)
    assert str(info.value) == (
        "framing=sockfix.framing.resp is the factory: call it, framing=sockfix.framing.resp()"
    )
