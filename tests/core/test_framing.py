"""Framings, the h11 way: every case whole, one byte at a time, and with trailing bytes."""

from __future__ import annotations

import itertools
import struct
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sockfix.framing import (
    Framer,
    FramingError,
    delimited,
    describe,
    fixed,
    length_prefixed,
    lines,
    parse,
    raw,
)

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


def tr(framing: Framing, data: bytes, expected: list[bytes], trailing: bytes = b"") -> None:
    """``data`` frames as ``expected`` whole, byte by byte, and with ``trailing`` left pending.

    ``trailing`` must be bytes that do not complete a message after ``data``.
    """
    assert b"".join(expected) == data, "the test case itself is wrong"
    for f in (framing, plain(framing)):
        # whole buffer
        assert feed_all(f, [data]) == (expected, b"")
        # one byte at a time
        assert feed_all(f, [data[i : i + 1] for i in range(len(data))]) == (expected, b"")
        # trailing partial bytes stay pending, whole and byte by byte
        if trailing:
            assert feed_all(f, [data + trailing]) == (expected, trailing)
            tail_bytes = [trailing[i : i + 1] for i in range(len(trailing))]
            assert feed_all(f, [data, *tail_bytes]) == (expected, trailing)
            assert framing(trailing) is None
    # the callable contract on the same buffers
    assert framing(data) == (len(expected[0]) if expected else None)
    assert framing(data + trailing) == (len(expected[0]) if expected else None)


# -- the tr triple for every built-in ---------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected", "trailing"),
    [
        (b"PING\r\n", [b"PING\r\n"], b"PIN"),
        (b"a\nb\n", [b"a\n", b"b\n"], b"c"),
        (b"\n\n", [b"\n", b"\n"], b"\r"),
        (b"", [], b"partial"),
        (b"x" * 300 + b"\n", [b"x" * 300 + b"\n"], b"y" * 300),
    ],
)
def test_lines(data: bytes, expected: list[bytes], trailing: bytes) -> None:
    tr(lines(), data, expected, trailing)


@pytest.mark.parametrize(
    ("sep", "data", "expected", "trailing"),
    [
        (b"\r\n", b"a\r\nb\r\n", [b"a\r\n", b"b\r\n"], b"c\r"),
        (b"\r\n", b"\r\r\n", [b"\r\r\n"], b"\r"),
        (b"\r\n", b"a\nb\r\n", [b"a\nb\r\n"], b"\n\n"),
        (b"END", b"xENENDyEEND", [b"xENEND", b"yEEND"], b"EN"),
        (b"abab", b"ababab" + b"xabab", [b"abab", b"abxabab"], b"aba"),
        (b"\x00", b"one\x00two\x00", [b"one\x00", b"two\x00"], b"three"),
    ],
)
def test_delimited(sep: bytes, data: bytes, expected: list[bytes], trailing: bytes) -> None:
    tr(delimited(sep), data, expected, trailing)


def p32(body: bytes) -> bytes:
    return struct.pack("!I", len(body)) + body


@pytest.mark.parametrize(
    ("fmt", "data", "expected", "trailing"),
    [
        ("!I", p32(b"hi") + p32(b""), [p32(b"hi"), p32(b"")], b"\x00\x00\x00"),
        ("!I", p32(b"\n" * 5), [p32(b"\n" * 5)], p32(b"abc")[:-1]),
        ("!H", b"\x00\x03abc\x00\x01z", [b"\x00\x03abc", b"\x00\x01z"], b"\x01\x00" + b"q" * 255),
        ("<H", b"\x03\x00abc", [b"\x03\x00abc"], b"\x03"),
        ("B", b"\x02hi\x00", [b"\x02hi", b"\x00"], b"\x05abcd"),
        ("!Q", b"\x00" * 7 + b"\x01!", [b"\x00" * 7 + b"\x01!"], b"\x00" * 7),
    ],
)
def test_length_prefixed(fmt: str, data: bytes, expected: list[bytes], trailing: bytes) -> None:
    tr(length_prefixed(fmt), data, expected, trailing)


def test_length_prefixed_default_is_network_order_u32() -> None:
    tr(length_prefixed(), p32(b"hello"), [p32(b"hello")], p32(b"x")[:2])


@pytest.mark.parametrize(
    ("n", "data", "expected", "trailing"),
    [
        (3, b"abcdef", [b"abc", b"def"], b"gh"),
        (1, b"ab\n", [b"a", b"b", b"\n"], b""),
        (4, b"\x00\x00\x00\x00", [b"\x00" * 4], b"\x00"),
    ],
)
def test_fixed(n: int, data: bytes, expected: list[bytes], trailing: bytes) -> None:
    tr(fixed(n), data, expected, trailing)


def test_raw_takes_whatever_arrived() -> None:
    data = b"any\x00thing\n"
    assert feed_all(raw(), [data]) == ([data], b"")
    assert feed_all(raw(), [data[i : i + 1] for i in range(len(data))]) == (
        [bytes([b]) for b in data],
        b"",
    )
    assert feed_all(raw(), [b"ab", b"", b"cd"]) == ([b"ab", b"cd"], b"")
    assert raw()(b"") is None
    assert raw()(b"abc") == 3


# -- the callable contract ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("framing", "buffer", "expected"),
    [
        (lines(), b"", None),
        (lines(), b"ab", None),
        (lines(), b"a\nb\n", 2),
        (delimited(b"\r\n"), b"x\r", None),
        (delimited(b"\r\n"), b"x\r\ny\r\n", 3),
        (length_prefixed(), b"\x00\x00\x00", None),
        (length_prefixed(), b"\x00\x00\x00\x02h", None),
        (length_prefixed(), b"\x00\x00\x00\x02hi!", 6),
        (length_prefixed(), b"\x00\x00\x00\x00rest", 4),
        (fixed(2), b"a", None),
        (fixed(2), b"abc", 2),
        (raw(), b"", None),
        (raw(), b"abc", 3),
    ],
)
def test_builtins_are_plain_callables(
    framing: Framing, buffer: bytes, expected: int | None
) -> None:
    assert framing(buffer) == expected
    if expected is not None:
        assert type(framing(buffer)) is int


@pytest.mark.parametrize(
    ("framing", "text"),
    [
        (lines(), "lines()"),
        (delimited(b"\r\n"), "delimited(b'\\r\\n')"),
        (delimited(bytearray(b"|")), "delimited(b'|')"),  # type: ignore[arg-type]
        (length_prefixed(), "length_prefixed('!I')"),
        (length_prefixed("!H"), "length_prefixed('!H')"),
        (fixed(8), "fixed(8)"),
        (raw(), "raw()"),
    ],
)
def test_builtin_names(framing: Framing, text: str) -> None:
    assert repr(framing) == text
    assert describe(framing) == text


def test_delimited_copies_a_bytearray_separator() -> None:
    sep = bytearray(b"|")
    framing = delimited(sep)  # type: ignore[arg-type]
    sep[:] = b"#"
    assert feed_all(framing, [b"a|b#"]) == ([b"a|"], b"b#")


# -- parse() ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "text", "data", "expected"),
    [
        ("lines", "lines()", b"a\nb", [b"a\n"]),
        (" lines", "lines()", b"a\n", [b"a\n"]),
        ("raw", "raw()", b"abc", [b"abc"]),
        ("fixed:2", "fixed(2)", b"abcde", [b"ab", b"cd"]),
        ("delimited:\\r\\n", "delimited(b'\\r\\n')", b"a\r\nb\n", [b"a\r\n"]),
        ("delimited:END", "delimited(b'END')", b"aENDb", [b"aEND"]),
        ("delimited:\\x00", "delimited(b'\\x00')", b"a\x00b", [b"a\x00"]),
        ("length_prefixed", "length_prefixed('!I')", p32(b"xy") + b"\x00", [p32(b"xy")]),
        ("length_prefixed:!H", "length_prefixed('!H')", b"\x00\x01a\x00", [b"\x00\x01a"]),
        ("length-prefixed:B", "length_prefixed('B')", b"\x01a\x05", [b"\x01a"]),
    ],
)
def test_parse(spec: str, text: str, data: bytes, expected: list[bytes]) -> None:
    framing = parse(spec)
    assert repr(framing) == text
    assert Framer(framing).feed(data) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            "bogus",
            "unknown framing 'bogus': choose lines, raw, fixed:N, delimited:SEP "
            "or length_prefixed:FMT",
        ),
        ("", "unknown framing '': choose lines"),
        ("fixed", "framing 'fixed' needs a size after the colon, such as fixed:8"),
        (
            "delimited:",
            "framing 'delimited:' needs a delimiter after the colon, such as delimited:\\r\\n",
        ),
        ("fixed:0", "framing 'fixed:0': the size must be a whole number of bytes, at least 1"),
        ("fixed:-3", "framing 'fixed:-3': the size must be a whole number of bytes, at least 1"),
        ("fixed:eight", "framing 'fixed:eight': the size must be a whole number of bytes"),
        ("length_prefixed:!i", "framing 'length_prefixed:!i': length_prefixed('!i'): the format"),
        ("length_prefixed:zz", "framing 'length_prefixed:zz': length_prefixed('zz'): not a struct"),
        ("delimited:\\u1234", "framing 'delimited:\\\\u1234': "),
    ],
)
def test_parse_errors(spec: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse(spec)
    assert str(info.value).startswith(message)
    assert not isinstance(info.value, FramingError)


# -- bad arguments ------------------------------------------------------------------------------


def test_delimited_str_names_the_bytes_fix() -> None:
    with pytest.raises(TypeError) as info:
        delimited("\r\n")  # type: ignore[arg-type]
    assert str(info.value) == (
        "delimited() takes bytes, not str: "
        "write delimited(b'\\r\\n') instead of delimited('\\r\\n')"
    )
    with pytest.raises(TypeError, match=r"delimited\(b'x'\)"):
        delimited("x")  # type: ignore[arg-type]


@pytest.mark.parametrize("sep", [b"", bytearray(), 5, None, [b"\n"]])
def test_delimited_needs_a_non_empty_separator(sep: object) -> None:
    with pytest.raises(ValueError, match=r"delimited\(\) needs a non-empty bytes separator, got"):
        delimited(sep)  # type: ignore[arg-type]


@pytest.mark.parametrize("n", [0, -1, True, False, 1.5, "8", None])
def test_fixed_needs_a_positive_int(n: object) -> None:
    with pytest.raises(ValueError) as info:
        fixed(n)  # type: ignore[arg-type]
    assert str(info.value) == f"fixed(n) needs a positive int, got {n!r}"


def test_length_prefixed_needs_a_format_string() -> None:
    with pytest.raises(TypeError, match=r"struct format string such as '!I', got 4"):
        length_prefixed(4)  # type: ignore[arg-type]


@pytest.mark.parametrize("fmt", ["zz", "!Z", "!P"])
def test_length_prefixed_bad_struct_format(fmt: str) -> None:
    with pytest.raises(ValueError) as info:
        length_prefixed(fmt)
    text = str(info.value)
    assert text.startswith(f"length_prefixed({fmt!r}): not a struct format (")
    assert text.endswith("); use one like '!I' or '>H'")


@pytest.mark.parametrize(
    "fmt",
    [
        "!i",  # signed
        "!h",
        "<q",
        "b",
        "n",
        "!i ",  # signed, with trailing whitespace that struct ignores
        "!2i",
        "!?",  # a bool is not a length
        "!e",  # a float
        "!d",
        "!c",  # bytes
        "!4s",
        "!2I",  # two integers
        "!HH",
        "!x",  # no value at all
    ],
)
def test_length_prefixed_refuses_all_but_one_unsigned_int(fmt: str) -> None:
    with pytest.raises(ValueError) as info:
        length_prefixed(fmt)
    assert str(info.value) == (
        f"length_prefixed({fmt!r}): the format must hold one unsigned integer, "
        "such as '!I' (4 bytes), '!H' (2 bytes) or '!Q' (8 bytes)"
    )


@pytest.mark.parametrize("fmt", ["!I", "!H", "!Q", "B", ">L", "<H", "=I", "!xI", "@N", "!I "])
def test_length_prefixed_accepts_unsigned_formats(fmt: str) -> None:
    framing = length_prefixed(fmt)
    size = struct.calcsize(fmt)
    prefix = struct.pack(fmt, 2) if "x" not in fmt else b"\x00" + struct.pack("!I", 2)
    assert len(prefix) == size
    assert framing(prefix + b"ab!") == size + 2


def test_framer_needs_a_callable() -> None:
    with pytest.raises(TypeError) as info:
        Framer(b"\n")  # type: ignore[arg-type]
    assert str(info.value) == (
        "framing must be a callable (buffer) -> int | None, such as sockfix.framing.lines(), "
        "got b'\\n'"
    )


# -- user framings that break the contract ------------------------------------------------------


def returns_zero(buffer: bytes) -> int | None:
    return 0


def returns_too_many(buffer: bytes) -> int | None:
    return len(buffer) + 1


def returns_str(buffer: bytes) -> int | None:
    return "3"  # type: ignore[return-value]


def returns_true(buffer: bytes) -> int | None:
    return True


def returns_float(buffer: bytes) -> int | None:
    return 2.0  # type: ignore[return-value]


def returns_negative(buffer: bytes) -> int | None:
    return -1


@pytest.mark.parametrize(
    ("framing", "shown"),
    [
        (returns_zero, "0"),
        (returns_too_many, "6"),
        (returns_str, "'3'"),
        (returns_true, "True"),
        (returns_float, "2.0"),
        (returns_negative, "-1"),
    ],
)
def test_a_length_outside_the_buffer_raises_naming_the_framing(
    framing: Framing, shown: str
) -> None:
    framer = Framer(framing)
    with pytest.raises(FramingError) as info:
        framer.feed(b"hello")
    assert str(info.value) == (
        f"framing {framing.__name__} returned {shown} for a buffer of 5 bytes: it must return "
        "an int in 1..len(buffer), or None to wait for more bytes"
    )
    assert isinstance(info.value, ValueError)
    assert framer.pending == b"hello"  # the bytes are kept, not lost


def test_a_bad_length_after_good_messages_reports_the_remaining_buffer() -> None:
    def two_then_zero(buffer: bytes) -> int | None:
        return 2 if buffer.startswith(b"ok") else 0

    framer = Framer(two_then_zero)
    assert framer.feed(b"ok") == [b"ok"]
    with pytest.raises(FramingError, match=r"returned 0 for a buffer of 3 bytes"):
        framer.feed(b"bad")
    assert framer.pending == b"bad"


def test_a_callable_object_is_named_by_its_repr() -> None:
    class Broken:
        def __call__(self, buffer: bytes) -> int:
            return 0

        def __repr__(self) -> str:
            return "<Broken framing>"

    with pytest.raises(FramingError, match=r"^framing <Broken framing> returned 0 "):
        Framer(Broken()).feed(b"x")


def test_a_user_framing_sees_only_the_unframed_buffer() -> None:
    seen: list[bytes] = []

    def two(buffer: bytes) -> int | None:
        seen.append(buffer)
        assert type(buffer) is bytes
        return 2 if len(buffer) >= 2 else None

    framer = Framer(two)
    assert framer.feed(b"abc") == [b"ab"]
    assert framer.feed(b"de") == [b"cd"]
    assert seen == [b"abc", b"c", b"cde", b"e"]


# -- Framer.pending and no-copy -----------------------------------------------------------------


def test_pending() -> None:
    framer = Framer(lines())
    assert framer.pending == b""
    assert framer.feed(b"ab") == []
    assert framer.pending == b"ab"
    assert type(framer.pending) is bytes
    assert framer.feed(b"c\nd") == [b"abc\n"]
    assert framer.pending == b"d"
    assert framer.feed(b"") == []
    assert framer.pending == b"d"
    assert framer.feed(b"\n") == [b"d\n"]
    assert framer.pending == b""


def test_pending_is_a_snapshot() -> None:
    framer = Framer(fixed(4))
    framer.feed(b"ab")
    snapshot = framer.pending
    framer.feed(b"c")
    assert snapshot == b"ab"
    assert framer.pending == b"abc"


@pytest.mark.parametrize("framing", [raw(), lines(), delimited(b"\r\n")], ids=repr)
def test_a_whole_read_message_is_not_copied(framing: Framing) -> None:
    data = b"PING\r\n"
    (message,) = Framer(framing).feed(data)
    assert message is data


def test_messages_are_bytes_even_from_a_buffered_tail() -> None:
    framer = Framer(lines())
    framer.feed(b"a")
    (message,) = framer.feed(b"b\n")
    assert type(message) is bytes
    assert message == b"ab\n"


# -- Hypothesis: any split frames the same ------------------------------------------------------

SPLITTABLE = [
    (lines(), st.sampled_from([b"\n", b"\r", b"a", b"\x00"])),
    (delimited(b"\r\n"), st.sampled_from([b"\r\n", b"\r", b"\n", b"x"])),
    (delimited(b"END"), st.sampled_from([b"E", b"N", b"D", b"x", b"END"])),
    (delimited(b"abab"), st.sampled_from([b"a", b"b", b"x", b"abab"])),
    (fixed(1), st.binary(max_size=3)),
    (fixed(3), st.binary(max_size=5)),
    (length_prefixed("!H"), st.binary(max_size=20).map(lambda b: struct.pack("!H", len(b)) + b)),
    (length_prefixed(), st.binary(max_size=20).map(p32)),
    (length_prefixed("B"), st.binary(max_size=5).map(lambda b: bytes([len(b)]) + b)),
]


def cut(data: bytes, points: list[int]) -> list[bytes]:
    edges = [0, *sorted(p % (len(data) + 1) for p in points), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges)]


@pytest.mark.parametrize(("framing", "atoms"), SPLITTABLE, ids=[repr(f) for f, _ in SPLITTABLE])
@given(data=st.data())
def test_any_split_frames_the_same(
    framing: Framing, atoms: st.SearchStrategy[bytes], data: st.DataObject
) -> None:
    stream = b"".join(data.draw(st.lists(atoms, max_size=30), label="atoms"))
    stream += data.draw(st.binary(max_size=4), label="tail")
    points = data.draw(st.lists(st.integers(0, 10_000), max_size=12), label="cuts")
    whole, whole_pending = feed_all(framing, [stream])
    assert b"".join(whole) + whole_pending == stream
    assert all(whole)
    pieces = cut(stream, points)
    assert b"".join(pieces) == stream
    assert feed_all(framing, pieces) == (whole, whole_pending)
    # the generic path (the builtin as a plain user callable) agrees with the fast path
    assert feed_all(plain(framing), pieces) == (whole, whole_pending)
    # and so does asking the callable itself, one message at a time
    expected, rest = [], stream
    while (n := framing(rest)) is not None:
        expected.append(rest[:n])
        rest = rest[n:]
    assert (expected, rest) == (whole, whole_pending)


@given(sizes=st.lists(st.integers(0, 12), max_size=20), body=st.binary(min_size=1, max_size=60))
def test_raw_concatenates_to_the_stream(sizes: list[int], body: bytes) -> None:
    pieces = cut(body, sizes)
    messages, pending = feed_all(raw(), pieces)
    assert messages == [p for p in pieces if p]
    assert pending == b""


# -- linear time (correctness only) -------------------------------------------------------------

N = 200_000


def test_200k_pipelined_lines_in_one_feed() -> None:
    data = b"".join(b"%d\n" % i for i in range(N))
    messages = Framer(lines()).feed(data)
    assert len(messages) == N
    assert messages[0] == b"0\n"
    assert messages[12345] == b"12345\n"
    assert messages[-1] == b"%d\n" % (N - 1)
    assert b"".join(messages) == data


def test_200k_pipelined_lines_after_a_pending_tail() -> None:
    data = b"".join(b"%d\r\n" % i for i in range(N))
    framer = Framer(delimited(b"\r\n"))
    assert framer.feed(data[:2]) == []  # cut inside the separator of the first line
    assert framer.pending == b"0\r"
    messages = framer.feed(data[2:])
    assert len(messages) == N
    assert b"".join(messages) == data
    assert framer.pending == b""


@pytest.mark.parametrize(
    ("framing", "one"),
    [(fixed(4), b"abcd"), (length_prefixed("!H"), b"\x00\x02hi")],
    ids=["fixed", "length_prefixed"],
)
def test_200k_pipelined_messages(framing: Framing, one: bytes) -> None:
    messages = Framer(framing).feed(one * N)
    assert len(messages) == N
    assert set(messages) == {one}
