"""The RESP codec: every RESP2 and RESP3 type decoded, every Python type encoded for both
protocols byte for byte, round trips, commands as redis-py sends them and inline commands with
redis' quoting, the transcript views, and every error with its text."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sockfix.core.resp.codec import (
    MAX_BULK,
    MAX_DEPTH,
    MAX_LINE,
    Error,
    Incomplete,
    Push,
    RESPError,
    Verbatim,
    decode,
    describe_command,
    describe_value,
    encode,
    encode_command,
    parse_command,
)

# -- decoding --------------------------------------------------------------------------------------

NESTED = b"*3\r\n*2\r\n$1\r\na\r\n:1\r\n%1\r\n$4\r\nkeys\r\n~2\r\n$1\r\nx\r\n$1\r\ny\r\n*0\r\n"
HELLO3_REPLY = (
    b"%7\r\n"
    b"$6\r\nserver\r\n$5\r\nredis\r\n"
    b"$7\r\nversion\r\n$5\r\n7.2.4\r\n"
    b"$5\r\nproto\r\n:3\r\n"
    b"$2\r\nid\r\n:5\r\n"
    b"$4\r\nmode\r\n$10\r\nstandalone\r\n"
    b"$4\r\nrole\r\n$6\r\nmaster\r\n"
    b"$7\r\nmodules\r\n*0\r\n"
)


@pytest.mark.parametrize(
    ("data", "value"),
    [
        # RESP2
        (b"+OK\r\n", "OK"),
        (b"+\r\n", ""),
        (b"+caf\xc3\xa9\r\n", "café"),
        (b"-ERR unknown command 'FOO'\r\n", Error("ERR unknown command 'FOO'")),
        (b":0\r\n", 0),
        (b":-42\r\n", -42),
        (b":+7\r\n", 7),
        (b":9223372036854775807\r\n", 2**63 - 1),
        (b"$3\r\nfoo\r\n", b"foo"),
        (b"$0\r\n\r\n", b""),
        (b"$4\r\n\r\n\x00\xff\r\n", b"\r\n\x00\xff"),
        (b"$-1\r\n", None),
        (b"*0\r\n", []),
        (b"*-1\r\n", None),
        (b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", [b"GET", b"k"]),
        (b"*3\r\n:1\r\n$-1\r\n-WRONGTYPE x\r\n", [1, None, Error("WRONGTYPE x")]),
        (b"*1\r\n*1\r\n*0\r\n", [[[]]]),
        # RESP3
        (b"_\r\n", None),
        (b"#t\r\n", True),
        (b"#f\r\n", False),
        (b",3.14\r\n", 3.14),
        (b",-1.5e-05\r\n", -1.5e-05),
        (b",10\r\n", 10.0),
        (b",1E+100\r\n", 1e100),
        (b",inf\r\n", math.inf),
        (b",-inf\r\n", -math.inf),
        (
            b"(3492890328409238509324850943850943825024385\r\n",
            3492890328409238509324850943850943825024385,
        ),
        (b"(-12\r\n", -12),
        (b"!21\r\nSYNTAX invalid syntax\r\n", Error("SYNTAX invalid syntax")),
        (b"!0\r\n\r\n", Error("")),
        (b"=15\r\ntxt:Some string\r\n", Verbatim("Some string")),
        (b"=4\r\nmkd:\r\n", Verbatim("", "mkd")),
        (b"%0\r\n", {}),
        (b"%2\r\n+a\r\n:1\r\n$1\r\nb\r\n_\r\n", {"a": 1, b"b": None}),
        (b"~0\r\n", frozenset()),
        (b"~3\r\n$1\r\na\r\n:1\r\n#t\r\n", frozenset({b"a", 1})),  # 1 and True are one member
        (b"~1\r\n~1\r\n:1\r\n", frozenset({frozenset({1})})),
        (b"%1\r\n~1\r\n:1\r\n+set key\r\n", {frozenset({1}): "set key"}),
        (
            b">3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n",
            Push("message", [b"news", b"hello"]),
        ),
        (b">1\r\n+invalidate\r\n", Push("invalidate")),
        (b">2\r\n$10\r\ninvalidate\r\n*1\r\n$3\r\nkey\r\n", Push("invalidate", [[b"key"]])),
        (
            HELLO3_REPLY,
            {
                b"server": b"redis",
                b"version": b"7.2.4",
                b"proto": 3,
                b"id": 5,
                b"mode": b"standalone",
                b"role": b"master",
                b"modules": [],
            },
        ),
        (NESTED, [[b"a", 1], {b"keys": frozenset({b"x", b"y"})}, []]),
        # attributes: read, dropped, and the value they annotate given
        (b"|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.1923\r\n:2039\r\n", 2039),
        (b"|0\r\n$1\r\nx\r\n", b"x"),
        (b"*2\r\n|1\r\n+ttl\r\n:3600\r\n$1\r\nv\r\n:1\r\n", [b"v", 1]),
        (b"%1\r\n|1\r\n+a\r\n+b\r\n+k\r\n+v\r\n", {"k": "v"}),
        (b"|1\r\n+a\r\n+b\r\n|1\r\n+c\r\n+d\r\n#t\r\n", True),
    ],
)
def test_decode(data: bytes, value: object) -> None:
    got, end = decode(data)
    assert end == len(data)
    assert got == value
    assert type(got) is type(value)


def test_decode_nan_and_types() -> None:
    value, _ = decode(b",nan\r\n")
    assert isinstance(value, float)
    assert math.isnan(value)
    verbatim, _ = decode(b"=15\r\ntxt:Some string\r\n")
    assert isinstance(verbatim, Verbatim)
    assert verbatim == "Some string"
    assert verbatim.encoding == "txt"
    assert repr(verbatim) == "Verbatim('Some string', encoding='txt')"
    push, _ = decode(b">2\r\n$7\r\nmessage\r\n$1\r\nx\r\n")
    assert push == Push("message", (b"x",))
    assert isinstance(push, Push)
    assert push.data == (b"x",)


def test_decode_from_an_offset_and_with_bytes_after() -> None:
    data = b"+OK\r\n:1\r\n$1\r\nx\r\nGARBAGE"
    assert decode(data) == ("OK", 5)
    assert decode(data, 5) == (1, 9)
    assert decode(data, 9) == (b"x", 16)
    assert decode(bytearray(data), 5) == (1, 9)
    assert decode(memoryview(data), 5) == (1, 9)  # type: ignore[arg-type]


VALUES_FOR_PREFIXES = [
    b"+OK\r\n",
    b":-42\r\n",
    b"$3\r\nfoo\r\n",
    b"$-1\r\n",
    b"$0\r\n\r\n",
    b"*-1\r\n",
    b"_\r\n",
    b"#f\r\n",
    b",inf\r\n",
    b"=8\r\ntxt:abcd\r\n",
    b"!3\r\nERR\r\n",
    NESTED,
    HELLO3_REPLY,
    b"|1\r\n+a\r\n+b\r\n:1\r\n",
    b">2\r\n$7\r\nmessage\r\n$1\r\nx\r\n",
]


@pytest.mark.parametrize("data", VALUES_FOR_PREFIXES)
def test_every_proper_prefix_is_incomplete(data: bytes) -> None:
    for k in range(len(data)):
        with pytest.raises(Incomplete) as info:
            decode(data[:k])
        assert info.value.offset == k
        assert not isinstance(info.value, RESPError)


def test_incomplete_texts() -> None:
    cases = {
        b"": "the data ends at byte 0, where a value should start",
        b"*2\r\n:1\r\n": "the data ends at byte 8, where a value should start",
        b"$3\r\nab": "the data ends at byte 6, inside the bulk string at byte 0",
        b"*1\r\n$3\r\nabc\r": "the data ends at byte 12, inside the bulk string at byte 4",
        b"+OK\r": "the data ends at byte 4, inside the simple string at byte 0",
        b"%12": "the data ends at byte 3, inside the map at byte 0",
    }
    for data, text in cases.items():
        with pytest.raises(Incomplete) as info:
            decode(data)
        assert str(info.value) == text


_PAREN_EXAMPLE = "b'(3492890328409238509324850943850943825\\r\\n'"


@pytest.mark.parametrize(
    ("data", "text", "offset", "end"),
    [
        (
            b"PING\r\n",
            "byte 0: expected a RESP type byte (+ - : $ * _ # , ( ! = % ~ | >), got b'P': an "
            "inline command such as b'PING\\r\\n' is read by parse_command()",
            0,
            1,
        ),
        (
            b"*2\r\n:1\r\nx",
            "byte 8: expected a RESP type byte (+ - : $ * _ # , ( ! = % ~ | >), got b'x'",
            8,
            9,
        ),
        (
            b"$x\r\n",
            "byte 1: expected the length of the bulk string at byte 0 (digits, or -1 for "
            "null), got b'x'",
            1,
            2,
        ),
        (
            b"~\r\n",
            "byte 1: expected the length of the set at byte 0 (digits), got b'\\r'",
            1,
            2,
        ),
        (
            b"$-2\r\n",
            "byte 2: expected b'1' after the b'-' in the length of the bulk string at byte 0, "
            "got b'2': the only negative length is -1 (null)",
            2,
            3,
        ),
        (
            b"%-1\r\n",
            "byte 1: expected the length of the map at byte 0 (digits), got b'-'",
            1,
            2,
        ),
        (
            b"!-1\r\n",
            "byte 1: expected the length of the bulk error at byte 0 (digits), got b'-'",
            1,
            2,
        ),
        (
            b"*01\r\n",
            "byte 2: the length of the array at byte 0 has a leading zero: expected CRLF "
            "after b'0', got b'1'",
            2,
            3,
        ),
        (
            b"$1x\r\n",
            "byte 2: expected CRLF (b'\\r\\n') after the length of the bulk string at byte 0, "
            "got b'x'",
            2,
            3,
        ),
        (
            b"*1\rx",
            "byte 3: expected CRLF (b'\\r\\n') after the length of the array at byte 0, "
            "got b'\\rx'",
            3,
            4,
        ),
        (
            b"$-1x",
            "byte 3: expected CRLF (b'\\r\\n') after the length of the bulk string at byte 0, "
            "got b'x'",
            3,
            4,
        ),
        (
            b"$%d\r\n" % (MAX_BULK + 1),
            "byte 9: the bulk string at byte 0 is longer than sockfix reads: at most "
            "536870912 bytes",
            9,
            10,
        ),
        (
            b"*2147483648\r\n",
            "byte 10: the array at byte 0 is longer than sockfix reads: at most 2147483647 "
            "elements",
            10,
            11,
        ),
        (
            b"*?\r\n",
            "byte 1: the array at byte 0 is streamed (*?), which sockfix does not read: send "
            "its length",
            1,
            2,
        ),
        (
            b"$3\r\nabcd\r\n",
            "byte 7: expected CRLF (b'\\r\\n') after the 3 bytes of the bulk string at byte 0, "
            "got b'd' (is its length right?)",
            7,
            8,
        ),
        (
            b"*1\r\n$3\r\nabc\rx",
            "byte 12: expected CRLF (b'\\r\\n') after the 3 bytes of the bulk string at byte "
            "4, got b'\\rx' (is its length right?)",
            12,
            13,
        ),
        (
            b"+OK\n",
            "byte 3: the simple string line at byte 0 ends with a bare LF: expected CRLF "
            "(b'\\r\\n')",
            3,
            4,
        ),
        (
            b"*2\r\n:1\r\n:2\n",
            "byte 10: the integer line at byte 8 ends with a bare LF: expected CRLF (b'\\r\\n')",
            10,
            11,
        ),
        (
            b"+O\rK\r\n",
            "byte 2: the simple string at byte 0 holds a CR, which it cannot (it would end the "
            "line): send a bulk string ($)",
            2,
            6,
        ),
        (
            b"-E\rR\r\n",
            "byte 2: the error at byte 0 holds a CR, which it cannot (it would end the line): "
            "send a bulk error (!)",
            2,
            6,
        ),
        (
            b":4x\r\n",
            "the integer at byte 0 is b'4x': expected digits with an optional sign, such as "
            "b':42\\r\\n'",
            0,
            5,
        ),
        (
            b"(\r\n",
            "the big number at byte 0 is b'': expected digits with an optional sign, such as "
            + _PAREN_EXAMPLE,
            0,
            3,
        ),
        (
            b",1.\r\n",
            "the double at byte 0 is b'1.': expected a number such as b',3.14\\r\\n', "
            "b',1e-05\\r\\n', b',inf\\r\\n' or b',nan\\r\\n'",
            0,
            5,
        ),
        (
            b",Infinity\r\n",
            "the double at byte 0 is b'Infinity': expected a number such as b',3.14\\r\\n', "
            "b',1e-05\\r\\n', b',inf\\r\\n' or b',nan\\r\\n'",
            0,
            11,
        ),
        (
            b"_x\r\n",
            "the null at byte 0 is b'x': expected nothing before the CRLF: b'_\\r\\n'",
            0,
            4,
        ),
        (
            b"#T\r\n",
            "the boolean at byte 0 is b'T': expected b'#t\\r\\n' or b'#f\\r\\n'",
            0,
            4,
        ),
        (
            b"+" + b"a" * MAX_LINE,
            "the simple string line at byte 0 has no line end within 65536 bytes",
            0,
            65536,
        ),
        (
            b"+\xff\r\n",
            "byte 1: the simple string at byte 0 is not UTF-8 text: b'\\xff'",
            1,
            4,
        ),
        (
            b"!2\r\n\xff\xfe\r\n",
            "byte 4: the bulk error at byte 0 is not UTF-8 text: b'\\xff\\xfe'",
            4,
            8,
        ),
        (
            b"=6\r\ntxt:\xff\xfe\r\n",
            "byte 8: the verbatim string at byte 0 is not UTF-8 text: b'\\xff\\xfe'",
            8,
            12,
        ),
        (
            b"=3\r\nabc\r\n",
            "the verbatim string at byte 0 is b'abc': expected a 3-letter format and a colon "
            "before its text, such as b'txt:'",
            4,
            9,
        ),
        (
            b"=5\r\na::bc\r\n",
            "the verbatim string at byte 0 is b'a::bc': expected a 3-letter format and a colon "
            "before its text, such as b'txt:'",
            4,
            11,
        ),
        (
            b"%1\r\n*0\r\n:1\r\n",
            "the map key at byte 4 is a list: sockfix reads maps as dicts and sets as "
            "frozensets, which hold only hashable values (strings, numbers, null, sets)",
            4,
            8,
        ),
        (
            b"~1\r\n%0\r\n",
            "the set member at byte 4 is a dict: sockfix reads maps as dicts and sets as "
            "frozensets, which hold only hashable values (strings, numbers, null, sets)",
            4,
            8,
        ),
        (
            b">0\r\n",
            "the push at byte 0 is empty: expected its kind first, such as b'message'",
            0,
            4,
        ),
        (
            b">1\r\n:1\r\n",
            "the push at byte 0 starts with (integer) 1: expected its kind, a string such as "
            "b'message'",
            0,
            8,
        ),
        (
            b"*1\r\n" * MAX_DEPTH + b"%1\r\n",
            "the map at byte 512 is nested 129 levels deep: sockfix reads at most 128",
            512,
            516,
        ),
        (
            b"*1\r\n" * (MAX_DEPTH - 1) + b"*2\r\n*0\r\n*1\r\n",  # *0 opens no level
            "the array at byte 516 is nested 129 levels deep: sockfix reads at most 128",
            516,
            520,
        ),
    ],
)
def test_decode_errors(data: bytes, text: str, offset: int, end: int) -> None:
    with pytest.raises(RESPError) as info:
        decode(data)
    assert str(info.value) == text
    assert (info.value.offset, info.value.end) == (offset, end)
    assert "\n" not in str(info.value)


def test_nesting_up_to_the_limit_is_read() -> None:
    data = b"*1\r\n" * MAX_DEPTH + b":1\r\n"
    value, _ = decode(data)
    for _ in range(MAX_DEPTH):
        assert isinstance(value, list)
        value = value[0]
    assert value == 1
    assert decode(b"*1\r\n" * MAX_DEPTH + b"*0\r\n")[1] == 4 * MAX_DEPTH + 4


def test_decode_bad_arguments() -> None:
    with pytest.raises(TypeError, match=r"decode\(\) takes bytes, got '\+OK"):
        decode("+OK\r\n")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"decode\(start=\) must be an offset in 0..5, got 6"):
        decode(b"+OK\r\n", 6)
    with pytest.raises(ValueError, match="got -1"):
        decode(b"+OK\r\n", -1)


# -- encoding --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "resp2", "resp3"),
    [
        (b"bar", b"$3\r\nbar\r\n", b"$3\r\nbar\r\n"),
        (b"", b"$0\r\n\r\n", b"$0\r\n\r\n"),
        (b"a\r\nb", b"$4\r\na\r\nb\r\n", b"$4\r\na\r\nb\r\n"),
        (bytearray(b"x"), b"$1\r\nx\r\n", b"$1\r\nx\r\n"),
        (memoryview(b"xy"), b"$2\r\nxy\r\n", b"$2\r\nxy\r\n"),
        ("OK", b"+OK\r\n", b"+OK\r\n"),
        ("", b"+\r\n", b"+\r\n"),
        ("café", b"+caf\xc3\xa9\r\n", b"+caf\xc3\xa9\r\n"),
        (
            Verbatim("# Server\r\nx:1"),
            b"$13\r\n# Server\r\nx:1\r\n",
            b"=17\r\ntxt:# Server\r\nx:1\r\n",
        ),
        (Verbatim("*x*", "mkd"), b"$3\r\n*x*\r\n", b"=7\r\nmkd:*x*\r\n"),
        (0, b":0\r\n", b":0\r\n"),
        (-42, b":-42\r\n", b":-42\r\n"),
        (2**63 - 1, b":9223372036854775807\r\n", b":9223372036854775807\r\n"),
        (-(2**63), b":-9223372036854775808\r\n", b":-9223372036854775808\r\n"),
        (2**63, b"$19\r\n9223372036854775808\r\n", b"(9223372036854775808\r\n"),
        (-(2**64), b"$21\r\n-18446744073709551616\r\n", b"(-18446744073709551616\r\n"),
        (True, b":1\r\n", b"#t\r\n"),
        (False, b":0\r\n", b"#f\r\n"),
        (3.14, b"$4\r\n3.14\r\n", b",3.14\r\n"),
        (1.0, b"$3\r\n1.0\r\n", b",1.0\r\n"),
        (-0.0, b"$4\r\n-0.0\r\n", b",-0.0\r\n"),
        (1e100, b"$6\r\n1e+100\r\n", b",1e+100\r\n"),
        (1.5e-05, b"$7\r\n1.5e-05\r\n", b",1.5e-05\r\n"),
        (math.inf, b"$3\r\ninf\r\n", b",inf\r\n"),
        (-math.inf, b"$4\r\n-inf\r\n", b",-inf\r\n"),
        (math.nan, b"$3\r\nnan\r\n", b",nan\r\n"),
        (None, b"$-1\r\n", b"_\r\n"),
        ([], b"*0\r\n", b"*0\r\n"),
        ([b"a", 1, None], b"*3\r\n$1\r\na\r\n:1\r\n$-1\r\n", b"*3\r\n$1\r\na\r\n:1\r\n_\r\n"),
        ((b"a", "b"), b"*2\r\n$1\r\na\r\n+b\r\n", b"*2\r\n$1\r\na\r\n+b\r\n"),
        ([[True], []], b"*2\r\n*1\r\n:1\r\n*0\r\n", b"*2\r\n*1\r\n#t\r\n*0\r\n"),
        ({}, b"*0\r\n", b"%0\r\n"),
        (
            {b"k": b"v", "n": 1},
            b"*4\r\n$1\r\nk\r\n$1\r\nv\r\n+n\r\n:1\r\n",
            b"%2\r\n$1\r\nk\r\n$1\r\nv\r\n+n\r\n:1\r\n",
        ),
        (set(), b"*0\r\n", b"~0\r\n"),
        (
            {b"b", b"c", b"a"},
            b"*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n",
            b"~3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n",
        ),
        (frozenset({2, 1}), b"*2\r\n:1\r\n:2\r\n", b"~2\r\n:1\r\n:2\r\n"),
        (Error("ERR boom"), b"-ERR boom\r\n", b"-ERR boom\r\n"),
        (
            [b"OK", Error("WRONGTYPE Operation against a key")],
            b"*2\r\n$2\r\nOK\r\n-WRONGTYPE Operation against a key\r\n",
            b"*2\r\n$2\r\nOK\r\n-WRONGTYPE Operation against a key\r\n",
        ),
        (
            {"outer": [{b"inner": {1.5}}]},
            b"*2\r\n+outer\r\n*1\r\n*2\r\n$5\r\ninner\r\n*1\r\n$3\r\n1.5\r\n",
            b"%1\r\n+outer\r\n*1\r\n%1\r\n$5\r\ninner\r\n~1\r\n,1.5\r\n",
        ),
    ],
)
def test_encode(value: object, resp2: bytes, resp3: bytes) -> None:
    assert encode(value) == resp2
    assert encode(value, 2) == resp2
    assert encode(value, protocol=3) == resp3


def test_encode_push() -> None:
    push = Push("message", [b"news", b"hello"])
    assert encode(push, 3) == b">3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n"
    assert encode(Push("invalidate", [None]), 3) == b">2\r\n$10\r\ninvalidate\r\n_\r\n"
    assert encode([Push("x")], 3) == b"*1\r\n>1\r\n$1\r\nx\r\n"


def test_a_set_that_does_not_sort_is_sent_in_iteration_order() -> None:
    value = {b"a", 1}
    data = encode(value, 3)
    assert data in (b"~2\r\n$1\r\na\r\n:1\r\n", b"~2\r\n:1\r\n$1\r\na\r\n")
    assert decode(data)[0] == value


@pytest.mark.parametrize(
    ("value", "protocol", "error", "text"),
    [
        (
            "a\r\nb",
            2,
            ValueError,
            "the simple string 'a\\r\\nb' holds a CR or LF, which would end its line: send "
            "bytes (a bulk string) instead",
        ),
        (
            ["ok", "two\nlines"],
            3,
            ValueError,
            "the simple string 'two\\nlines' holds a CR or LF, which would end its line: send "
            "bytes (a bulk string) instead",
        ),
        (
            Error("ERR\r\nx"),
            3,
            ValueError,
            "the error message 'ERR\\r\\nx' holds a CR or LF, which would end its line: send "
            "bytes (a bulk string) instead",
        ),
        (
            Push("message", [b"x"]),
            2,
            ValueError,
            "Push(kind='message', data=(b'x',)) is a RESP3 push, which RESP2 does not have: in "
            "RESP2 pub/sub messages are arrays, such as [b'message', b'news', b'hello']",
        ),
        (
            object,
            3,
            TypeError,
            "encode() cannot send type <class 'object'>: use bytes (a bulk string), str (a "
            "simple string), int, float, bool, None, a list or tuple, dict, set, "
            "sockfix.core.resp.codec.Error or Push",
        ),
        (
            [1, {b"k": 2j}],
            2,
            TypeError,
            "encode() cannot send complex 2j: use bytes (a bulk string), str (a simple "
            "string), int, float, bool, None, a list or tuple, dict, set, "
            "sockfix.core.resp.codec.Error or Push",
        ),
        (b"x", 1, ValueError, "protocol must be 2 or 3 (3 once the client sent HELLO 3), got 1"),
        (
            b"x",
            True,
            ValueError,
            "protocol must be 2 or 3 (3 once the client sent HELLO 3), got True",
        ),
        (
            b"x",
            "3",
            ValueError,
            "protocol must be 2 or 3 (3 once the client sent HELLO 3), got '3'",
        ),
    ],
)
def test_encode_errors(value: object, protocol: Any, error: type[Exception], text: str) -> None:
    with pytest.raises(error) as info:
        encode(value, protocol)
    assert str(info.value) == text


def test_value_types_check_their_fields() -> None:
    assert Error("WRONGTYPE Operation").code == "WRONGTYPE"
    assert Error("").code == ""
    assert Push("message", [b"a"]) == Push("message", (b"a",))
    assert hash(Push("message", [b"a"])) == hash(Push("message", (b"a",)))
    assert Verbatim("x", "mkd") == "x"
    assert Verbatim("x").encoding == "txt"
    with pytest.raises(TypeError) as info:
        Error(b"ERR")  # type: ignore[arg-type]
    assert str(info.value) == "Error(message) takes str, such as Error('ERR boom'), got b'ERR'"
    with pytest.raises(TypeError) as info:
        Push(b"message")  # type: ignore[arg-type]
    assert str(info.value) == "Push(kind) takes str, such as Push('message', ...), got b'message'"
    with pytest.raises(TypeError) as info:
        Push("message", b"x")  # type: ignore[arg-type]
    assert str(info.value) == (
        "Push(data) takes a tuple or list of values, got b'x'; write Push('message', [b'x'])"
    )
    with pytest.raises(ValueError) as info:
        Verbatim("x", "text")
    assert str(info.value) == (
        "Verbatim(encoding) takes 3 printable ASCII characters other than space and colon, "
        "such as 'txt' or 'mkd', got 'text'"
    )
    with pytest.raises(TypeError, match=r"Verbatim\(text\) takes str, got b'x'"):
        Verbatim(b"x")  # type: ignore[arg-type]


# -- round trips -----------------------------------------------------------------------------------

any_texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=8)
texts = st.text(
    st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)), max_size=8
)
keys = st.one_of(st.binary(max_size=6), texts, st.integers(-(2**70), 2**70), st.none())
scalars = st.one_of(
    st.binary(max_size=12),
    texts,
    st.integers(-(2**70), 2**70),
    st.booleans(),
    st.floats(allow_nan=False),
    st.none(),
    st.builds(Error, texts),
    st.builds(Verbatim, any_texts, st.sampled_from(["txt", "mkd"])),
)


def aggregates(children: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    return st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(keys, children, max_size=3),
        st.frozensets(keys, max_size=3),
    )


resp2_values = st.recursive(scalars, aggregates, max_leaves=12)
resp3_values = st.recursive(
    scalars,
    lambda children: (
        aggregates(children) | st.builds(Push, any_texts, st.lists(children, max_size=3))
    ),
    max_leaves=12,
)


def same(a: object, b: object) -> bool:
    """Equal, and of the same types all the way down (so True is not 1, "x" not b"x")."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))  # type: ignore[arg-type]
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)  # type: ignore[attr-defined,index]
    if isinstance(a, Push):
        return same(a.kind, b.kind) and same(list(a.data), list(b.data))  # type: ignore[attr-defined]
    if isinstance(a, Verbatim):
        return a == b and a.encoding == b.encoding  # type: ignore[attr-defined]
    return a == b


def ordered(values: frozenset[Any]) -> list[Any]:
    try:
        return sorted(values)
    except TypeError:
        return list(values)


def as_resp2(value: object) -> object:
    """What a RESP2 client reads back for ``value``."""
    if isinstance(value, Verbatim):
        return value.encode()
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        return str(value).encode()
    if isinstance(value, float):
        return repr(value).encode()
    if isinstance(value, list):
        return [as_resp2(v) for v in value]
    if isinstance(value, dict):
        return [as_resp2(x) for k, v in value.items() for x in (k, v)]
    if isinstance(value, frozenset):
        return [as_resp2(v) for v in ordered(value)]
    return value


@given(resp3_values)
def test_resp3_round_trip(value: object) -> None:
    data = encode(value, 3)
    got, end = decode(data)
    assert end == len(data)
    assert same(got, value)
    assert decode(data + b"+next\r\n", 0) == (got, len(data))


@given(resp2_values)
def test_resp2_round_trip(value: object) -> None:
    data = encode(value, 2)
    got, end = decode(data)
    assert end == len(data)
    assert same(got, as_resp2(value))


# -- commands as clients send them -----------------------------------------------------------------

# Packed by redis-py 8.1 (redis.connection.Connection.pack_command), as it sends them on connect
# with protocol=3, a password, db=2 and client-side maintenance notifications.
REDIS_PY_HANDSHAKE = [
    (
        b"*5\r\n$5\r\nHELLO\r\n$1\r\n3\r\n$4\r\nAUTH\r\n$7\r\ndefault\r\n$6\r\ns3cret\r\n",
        [b"HELLO", b"3", b"AUTH", b"default", b"s3cret"],
    ),
    (b"*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n", [b"HELLO", b"3"]),
    (b"*2\r\n$4\r\nAUTH\r\n$6\r\ns3cret\r\n", [b"AUTH", b"s3cret"]),
    (
        b"*4\r\n$6\r\nCLIENT\r\n$7\r\nSETINFO\r\n$8\r\nLIB-NAME\r\n$8\r\nredis-py\r\n",
        [b"CLIENT", b"SETINFO", b"LIB-NAME", b"redis-py"],
    ),
    (
        b"*4\r\n$6\r\nCLIENT\r\n$7\r\nSETINFO\r\n$7\r\nLIB-VER\r\n$5\r\n8.1.0\r\n",
        [b"CLIENT", b"SETINFO", b"LIB-VER", b"8.1.0"],
    ),
    (
        b"*5\r\n$6\r\nCLIENT\r\n$19\r\nMAINT_NOTIFICATIONS\r\n$2\r\nON\r\n"
        b"$20\r\nmoving-endpoint-type\r\n$11\r\ninternal-ip\r\n",
        [b"CLIENT", b"MAINT_NOTIFICATIONS", b"ON", b"moving-endpoint-type", b"internal-ip"],
    ),
    (b"*2\r\n$6\r\nSELECT\r\n$1\r\n2\r\n", [b"SELECT", b"2"]),
    (b"*1\r\n$4\r\nPING\r\n", [b"PING"]),
    (b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\n1.5\r\n", [b"SET", b"k", b"1.5"]),
    (b"*3\r\n$3\r\nSET\r\n$3\r\nbin\r\n$4\r\n\x00\r\n\xff\r\n", [b"SET", b"bin", b"\x00\r\n\xff"]),
    (b"*3\r\n$3\r\nSET\r\n$5\r\nempty\r\n$0\r\n\r\n", [b"SET", b"empty", b""]),
]


@pytest.mark.parametrize(("message", "args"), REDIS_PY_HANDSHAKE)
def test_parse_command_as_redis_py_sends_them(message: bytes, args: list[bytes]) -> None:
    assert parse_command(message) == args
    assert parse_command(bytearray(message)) == args
    assert encode_command(*args) == message


def test_encode_command() -> None:
    assert encode_command("SET", b"k", 7) == b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\n7\r\n"
    assert encode_command("ECHO", "café") == b"*2\r\n$4\r\nECHO\r\n$5\r\ncaf\xc3\xa9\r\n"
    assert encode_command("INCRBY", "n", -3) == b"*3\r\n$6\r\nINCRBY\r\n$1\r\nn\r\n$2\r\n-3\r\n"
    with pytest.raises(ValueError) as info:
        encode_command()
    assert str(info.value) == "encode_command() needs at least the command name, such as 'PING'"
    with pytest.raises(TypeError) as info:
        encode_command("SET", "k", 1.5)  # type: ignore[arg-type]
    assert str(info.value) == "encode_command(): argument 2 must be bytes, str or int, got 1.5"
    with pytest.raises(TypeError) as info:
        encode_command("SET", "k", True)
    assert str(info.value) == (
        "encode_command(): argument 2 must be bytes, str or int, got True; write 1 or 0"
    )


@pytest.mark.parametrize(
    ("line", "args"),
    [
        (b"PING\r\n", [b"PING"]),
        (b"PING\n", [b"PING"]),
        (b"ping\r\n", [b"ping"]),
        (b"GET user:1\r\n", [b"GET", b"user:1"]),
        (b"  SET   k \t v  \r\n", [b"SET", b"k", b"v"]),
        (b'SET k "a b"\r\n', [b"SET", b"k", b"a b"]),
        (b'SET k ""\r\n', [b"SET", b"k", b""]),
        (b"SET k ''\r\n", [b"SET", b"k", b""]),
        (b'SET k "tab\\there\\nand\\r\\b\\a"\r\n', [b"SET", b"k", b"tab\there\nand\r\b\a"]),
        (b'SET k "\\x00\\xff\\x4A"\r\n', [b"SET", b"k", b"\x00\xff\x4a"]),
        (b'SET k "\\xZZ \\q \\" \\\\"\r\n', [b"SET", b"k", b'xZZ q " \\']),
        (b"SET k 'it\\'s \"x\" \\n'\r\n", [b"SET", b"k", b'it\'s "x" \\n']),
        (b'SET k a"b c"\r\n', [b"SET", b"k", b"ab c"]),
        (b"SET k a\\nb\r\n", [b"SET", b"k", b"a\\nb"]),  # no escapes outside quotes
        (b"SET k caf\xc3\xa9 \xff\r\n", [b"SET", b"k", b"caf\xc3\xa9", b"\xff"]),
        (b"SET k v\x00ignored\r\n", [b"SET", b"k", b"v"]),  # a NUL ends the line, as in redis
        (b"SET k a\rb\r\n", [b"SET", b"k", b"a", b"b"]),
        (b"SET k a\x0bb\r\n", [b"SET", b"k", b"a\x0bb"]),
        (b"\r\n\r\n  \t\nPING\r\n", [b"PING"]),  # empty lines before a command belong to it
        (b"\n*1\r\n$4\r\nPING\r\n", [b"PING"]),
    ],
)
def test_inline_commands(line: bytes, args: list[bytes]) -> None:
    assert parse_command(line) == args


@pytest.mark.parametrize(
    ("message", "text", "offset"),
    [
        (
            b"",
            "an empty message is not a command: pass one whole message, as cut by "
            "sockfix.framing.resp()",
            0,
        ),
        (
            b"\r\n \n",
            "a message of empty lines is not a command: pass one whole message, as cut "
            "by sockfix.framing.resp()",
            0,
        ),
        (
            b"*0\r\n",
            "byte 0: the command is an empty array b'*0\\r\\n': a command is an array of its "
            "name and arguments, such as b'*1\\r\\n$4\\r\\nPING\\r\\n'",
            0,
        ),
        (
            b"\r\n*-1\r\n",
            "byte 2: the command is a null array b'*-1\\r\\n': a command is an array of its "
            "name and arguments, such as b'*1\\r\\n$4\\r\\nPING\\r\\n'",
            2,
        ),
        (
            b"*1\r\n:1\r\n",
            "byte 4: expected a bulk string (b'$') for argument 1 of the command, got an integer",
            4,
        ),
        (
            b"*2\r\n$3\r\nGET\r\n*1\r\n$1\r\nk\r\n",
            "byte 13: expected a bulk string (b'$') for argument 2 of the command, got an array",
            13,
        ),
        (
            b"*1\r\nPING\r\n",
            "byte 4: expected a bulk string (b'$') for argument 1 of the command, got b'P'",
            4,
        ),
        (
            b"*2\r\n$3\r\nGET\r\n$-1\r\n",
            "byte 13: argument 2 of the command is the null bulk string (b'$-1'): arguments "
            "are bulk strings of 0 or more bytes",
            13,
        ),
        (
            b"*2\r\n$3\r\nGET\r\n",
            "the command is cut short: the data ends at byte 13, before argument 2; pass one "
            "whole message, as cut by sockfix.framing.resp()",
            13,
        ),
        (
            b"*1\r\n$4\r\nPIN",
            "the command is cut short: the data ends at byte 11, inside the bulk string at "
            "byte 4; pass one whole message, as cut by sockfix.framing.resp()",
            11,
        ),
        (
            b"*1\r\n$3\r\nPING\r\n",
            "byte 11: expected CRLF (b'\\r\\n') after the 3 bytes of the bulk string at byte 4, "
            "got b'G' (is its length right?)",
            11,
        ),
        (
            b"*x\r\n",
            "byte 1: expected the length of the array at byte 0 (digits, or -1 for null), got b'x'",
            1,
        ),
        (
            b"*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n",
            "14 bytes after the command, at byte 14: b'*1\\r\\n$4\\r\\nPING\\r\\n'; pass one "
            "whole message, as cut by sockfix.framing.resp()",
            14,
        ),
        (
            b"+OK\r\n",
            "byte 0: expected a command, an array of bulk strings (b'*') or an inline command, "
            "got a simple string (b'+')",
            0,
        ),
        (
            b"\r\n:1\r\n",
            "byte 2: expected a command, an array of bulk strings (b'*') or an inline command, "
            "got an integer (b':')",
            2,
        ),
        (
            b"PING",
            "the inline command b'PING' at byte 0 has no line end (b'\\n'); pass one whole "
            "message, as cut by sockfix.framing.resp()",
            4,
        ),
        (
            b"PING\r\nPING\r\n",
            "6 bytes after the inline command, at byte 6: b'PING\\r\\n'; pass one whole "
            "message, as cut by sockfix.framing.resp()",
            6,
        ),
        (
            b"GET " + b"k" * MAX_LINE,
            "the inline command b'GET kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk' at byte 0 has no "
            "line end within 65536 bytes",
            0,
        ),
        (
            b'SET k "a b\r\n',
            "byte 6: unbalanced quotes in the inline command b'SET k \"a b': the quote at byte "
            "6 is never closed",
            6,
        ),
        (
            b"\r\nSET k 'a\\'\r\n",
            "byte 8: unbalanced quotes in the inline command b\"SET k 'a\\\\'\": the quote at "
            "byte 8 is never closed",
            8,
        ),
        (
            b'SET k "a"b\r\n',
            "byte 9: expected a space or the line end after the closing quote at byte 8 of the "
            "inline command b'SET k \"a\"b', got b'b'",
            9,
        ),
        (
            b"\x00SET\r\n",
            "the inline command b'\\x00SET' at byte 0 has no arguments (a NUL byte ends the line)",
            0,
        ),
    ],
)
def test_parse_command_errors(message: bytes, text: str, offset: int) -> None:
    with pytest.raises(RESPError) as info:
        parse_command(message)
    assert str(info.value) == text
    assert info.value.offset == offset
    assert "\n" not in str(info.value)


def test_parse_command_takes_bytes() -> None:
    with pytest.raises(TypeError, match=r"parse_command\(\) takes bytes, got 'PING\\r\\n'"):
        parse_command("PING\r\n")  # type: ignore[arg-type]
    assert parse_command(memoryview(b"PING\r\n")) == [b"PING"]  # type: ignore[arg-type]


args_lists = st.lists(st.binary(max_size=40), max_size=9)


@given(args_lists)
def test_encode_command_then_parse_command(args: list[bytes]) -> None:
    assert parse_command(encode_command(b"SET", *args)) == [b"SET", *args]


@given(args_lists)
def test_describe_command_reads_back_as_an_inline_command(args: list[bytes]) -> None:
    # What the transcript shows can be typed into redis-cli (or nc) and means the same.
    line = describe_command([b"SET", *args])
    assert parse_command(line.encode() + b"\r\n") == [b"SET", *args]


# -- transcripts -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "text"),
    [
        ([b"GET", b"user:1"], "GET user:1"),
        ([b"set", b"k", b"a b"], 'set k "a b"'),
        ([b"SET", b"k", b""], 'SET k ""'),
        ([b"SET", b"k", b"\x00\xff"], 'SET k "\\x00\\xff"'),
        ([b"SET", b"k", b'say "hi"\n'], 'SET k "say \\"hi\\"\\n"'),
        ([b"SET", b"k", b"it's"], 'SET k "it\'s"'),
        ([b"SET", b"k", b"tab\t\r\a\b\\"], 'SET k "tab\\t\\r\\a\\b\\\\"'),
        ([b"SET", b"k", b"a\\b"], "SET k a\\b"),
        ([b"ECHO", "café".encode()], "ECHO café"),
        ([b"ECHO", "café au lait".encode()], 'ECHO "café au lait"'),
        ([b"ECHO", b"caf\xe9"], 'ECHO "caf\\xe9"'),
        ([b"ECHO", "\u200b".encode()], 'ECHO "\\xe2\\x80\\x8b"'),
        ([b"SET", b"k", b"v" * 41], "SET k " + "v" * 40 + "... (41 bytes)"),
        ([b"SET", b"k", b"v" * 40], "SET k " + "v" * 40),
        ([b"SET", b"k", b"\x00" * 1000], 'SET k "' + "\\x00" * 40 + '..." (1000 bytes)'),
        (
            [b"RPUSH", b"list", *[b"%d" % i for i in range(13)]],
            "RPUSH list 0 1 2 3 4 5 6 7 ... (5 more)",
        ),
        ([b"CMD", *[b"a"] * 9], "CMD a a a a a a a a a"),
        ([], "(empty command)"),
    ],
)
def test_describe_command(args: list[bytes], text: str) -> None:
    assert describe_command(args) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("OK", "OK"),
        ("PONG", "PONG"),
        ("two words", "two words"),
        (b"bar", '"bar"'),
        (b"", '""'),
        (b'\x00\xffa"b', '"\\x00\\xffa\\"b"'),
        (b"x" * 100, '"' + "x" * 40 + '..." (100 bytes)'),
        (Verbatim("# Server\r\n", "txt"), '"# Server\\r\\n"'),
        (42, "(integer) 42"),
        (-1, "(integer) -1"),
        (2**70, "(integer) 1180591620717411303424"),
        (True, "(true)"),
        (False, "(false)"),
        (3.14, "(double) 3.14"),
        (math.inf, "(double) inf"),
        (None, "(nil)"),
        (Error("ERR boom"), "(error) ERR boom"),
        (
            Error("WRONGTYPE Operation against a key holding the wrong kind of value"),
            "(error) WRONGTYPE Operation against a key holding the wrong kind of value",
        ),
        ([b"a", b"b"], '1) "a" 2) "b"'),
        ([], "(empty array)"),
        ([1, [b"x", None], [], "OK"], '1) (integer) 1 2) [1) "x" 2) (nil)] 3) (empty array) 4) OK'),
        (list(range(12)), " ".join(f"{i + 1}) (integer) {i}" for i in range(10)) + " ... (2 more)"),
        ({b"server": b"redis", b"proto": 3}, '1# "server" => "redis" 2# "proto" => (integer) 3'),
        ({}, "(empty map)"),
        ({b"k": {b"n": [1]}}, '1# "k" => [1# "n" => [1) (integer) 1]]'),
        (frozenset({b"b", b"a"}), '1~ "a" 2~ "b"'),
        (set(), "(empty set)"),
        (Push("message", [b"news", b"hello"]), '(push message) 1) "news" 2) "hello"'),
        (Push("invalidate"), "(push invalidate)"),
        ([Error("ERR a"), b"OK"], '1) (error) ERR a 2) "OK"'),
        (object, "<class 'object'>"),
    ],
)
def test_describe_value(value: object, text: str) -> None:
    assert describe_value(value) == text


def test_describe_value_is_one_line_of_at_most_200_characters() -> None:
    text = describe_value([b"line\n" * 30] * 10)
    assert len(text) == 200
    assert text.endswith("...")
    assert "\n" not in text
    assert describe_value("a\nb") == "a\\nb"
