"""The http() framing, the h11 way: whole, one byte at a time, with trailing bytes; pipelined
requests; any split of a stream; malformed input still ending a message; linear scanning."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sockfix.core.errors import ScenarioError
from sockfix.core.http.codec import MAX_CHUNK_LINE, MAX_HEAD, BadRequest, parse_request
from sockfix.core.http.scan import RequestScanner, request_length
from sockfix.core.scenario.write import framing_spec
from sockfix.framing import Framer, describe, fixed, http, lines, parse
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


GET = b"GET /a?x=1 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n"
POST = b'POST /items HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n{"a": "\r\n"}'
CHUNKED = (
    b"PUT /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5;ext=1\r\nhe\r\nl\r\n"
    b"3\r\n\n\r\n\r\n"
    b"0\r\nX-Sum: 1\r\nX-Other: 2\r\n\r\n"
)
HEAD = b"HEAD / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n"
BARE_LF = b"POST /lf HTTP/1.1\nTransfer-Encoding: chunked\n\n2\nab\n0\n\n"


@pytest.mark.parametrize(
    ("data", "expected", "trailing"),
    [
        (GET, [GET], b"GET / HTTP/1.1\r\nHost: x\r\n"),
        (GET, [GET], b"\r\n"),  # empty lines belong to the next request
        (GET, [GET], b"\r\n\r\n\r"),
        (POST, [POST], b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nab"),
        (CHUNKED, [CHUNKED], CHUNKED[:-1]),
        (HEAD, [HEAD], b"HEAD"),
        (BARE_LF, [BARE_LF], b"\n"),
        (b"\r\n\r\n" + GET, [b"\r\n\r\n" + GET], b""),
        (b"\n" + HEAD, [b"\n" + HEAD], b""),
        (b"GET / HTTP/1.1\n\n", [b"GET / HTTP/1.1\n\n"], b"GET / HTTP/1.1\n"),
        (b"GET / HTTP/1.1\r\n\n", [b"GET / HTTP/1.1\r\n\n"], b""),
        (b"", [], b"GET / HTTP/1.1\r\n\r"),
    ],
)
def test_one_request(data: bytes, expected: list[bytes], trailing: bytes) -> None:
    tr(http(), data, expected, trailing)


def test_pipelined_requests_in_one_buffer() -> None:
    stream = GET + POST + b"\r\n" + CHUNKED + HEAD + BARE_LF
    expected = [GET, POST, b"\r\n" + CHUNKED, HEAD, BARE_LF]
    tr(http(), stream, expected, b"GET / HT")
    requests = [parse_request(m) for m in expected]
    assert [r.line() for r in requests] == [
        "GET /a?x=1 HTTP/1.1",
        "POST /items HTTP/1.1",
        "PUT /up HTTP/1.1",
        "HEAD / HTTP/1.1",
        "POST /lf HTTP/1.1",
    ]
    assert [r.body for r in requests] == [b"", b'{"a": "\r\n"}', b"he\r\nl\n\r\n", b"", b"ab"]
    assert requests[2].trailers == {"X-Sum": "1", "X-Other": "2"}


def test_check_framing_passes() -> None:
    check_framing(
        http(),
        [
            b"GET / HTTP/1.1\r\nHost: h\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
            b"\r\nPOST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"2;x\r\nab\r\n0\r\nT: 1\r\n\r\n",
            b"HEAD / HTTP/1.0\n\n",
        ],
    )


def test_check_framing_catches_a_wrong_cut() -> None:
    # The head alone is not a message when a Content-Length says a body follows.
    with pytest.raises(AssertionError, match="framing http"):
        check_framing(http(), [b"POST / HTTP/1.1\r\nContent-Length: 1\r\n\r\n", b"x"])


def test_a_large_content_length_waits_for_its_body() -> None:
    framer = Framer(http())
    assert framer.feed(b"POST / HTTP/1.1\r\nContent-Length: 100000\r\n\r\n") == []
    for _ in range(99):
        assert framer.feed(b"x" * 1000) == []
    [message] = framer.feed(b"x" * 1000 + b"GET")
    assert parse_request(message).body == b"x" * 100000
    assert framer.pending == b"GET"


# -- any split of a stream -------------------------------------------------------------------------


@st.composite
def request_messages(draw: st.DrawFn) -> tuple[bytes, bytes]:
    """One valid request (as bytes) and its body."""
    kind = draw(st.sampled_from(["get", "head", "length", "chunked"]))
    eol = draw(st.sampled_from([b"\r\n", b"\n"]))
    lead = draw(st.sampled_from([b"", b"", b"\r\n", b"\n", b"\r\n\r\n"]))
    target = draw(st.sampled_from([b"/", b"/a?x=1&y=", b"/items/7", b"*"]))
    lines_ = draw(
        st.lists(st.sampled_from([b"Host: x", b"Accept: */*", b"X-A:\ta b ", b"Cookie:"]))
    )
    body = b""
    if kind in ("length", "chunked"):
        body = draw(st.binary(max_size=30) | st.sampled_from([b"\r\n", b"0\r\n\r\n", b"\n\n"]))
    method = {"get": b"GET", "head": b"HEAD", "length": b"POST", "chunked": b"PUT"}[kind]
    if kind == "length":
        lines_.append(b"Content-Length: %d" % len(body))
    payload = b""
    if kind == "chunked":
        lines_.append(b"Transfer-Encoding: chunked")
        cuts = sorted(draw(st.sets(st.integers(1, max(len(body) - 1, 1)), max_size=4)))
        bounds = [0, *(c for c in cuts if c < len(body)), len(body)]
        for a, b in itertools.pairwise(bounds):
            if b > a:
                ext = draw(st.sampled_from([b"", b";x=1", b" ; y"]))
                size = draw(st.sampled_from([b"%x", b"%X", b"00%x"])) % (b - a)
                payload += size + ext + eol + body[a:b] + eol
        trailers = draw(st.lists(st.sampled_from([b"X-Sum: 1", b"T:"]), max_size=2))
        payload += b"0" + eol + b"".join(t + eol for t in trailers) + eol
    else:
        payload = body
    head = lead + method + b" " + target + b" HTTP/1.1" + eol
    head += b"".join(line + eol for line in lines_) + eol
    return head + payload, body


@st.composite
def split_streams(draw: st.DrawFn) -> tuple[list[bytes], list[bytes], list[bytes]]:
    """(messages, their bodies, the stream split into pieces at random places)."""
    drawn = draw(st.lists(request_messages(), min_size=1, max_size=5))
    messages = [m for m, _ in drawn]
    stream = b"".join(messages)
    cuts = sorted(draw(st.sets(st.integers(1, max(len(stream) - 1, 1)), max_size=12)))
    bounds = [0, *(c for c in cuts if c < len(stream)), len(stream)]
    pieces = [stream[a:b] for a, b in itertools.pairwise(bounds)]
    return messages, [b for _, b in drawn], pieces


@given(split_streams())
def test_any_split_frames_identically(case: tuple[list[bytes], list[bytes], list[bytes]]) -> None:
    messages, bodies, pieces = case
    assert feed_all(http(), pieces) == (messages, b"")
    assert feed_all(plain(http()), pieces) == (messages, b"")
    assert cut(http(), pieces) == (messages, b"")
    assert [parse_request(m).body for m in messages] == bodies


# -- malformed input still ends a message ----------------------------------------------------------

TE = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"


@pytest.mark.parametrize(
    ("data", "first", "status"),
    [
        pytest.param(
            b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\nbody",
            b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n",
            400,
            id="bad-content-length",
        ),
        pytest.param(
            b"POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
            400,
            id="cl-and-te",
        ),
        pytest.param(
            b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n\x1f\x8b",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
            501,
            id="te-gzip",
        ),
        pytest.param(
            b"GET / HTTP/1.1\r\nHost : x\r\n\r\nGET / HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost : x\r\n\r\n",
            400,
            id="bad-header",
        ),
        pytest.param(TE + b"zz\r\nmore", TE + b"zz\r\n", 400, id="bad-chunk-size"),
        pytest.param(TE + b"2\r\nabc\r\n", TE + b"2\r\nabc", 400, id="chunk-then-no-crlf"),
        pytest.param(TE + b"2\r\nab\rX0\r\n\r\n", TE + b"2\r\nab\rX", 400, id="chunk-then-cr-x"),
    ],
)
def test_malformed_input_is_one_message_that_parse_rejects(
    data: bytes, first: bytes, status: int
) -> None:
    for f in (http(), plain(http())):
        whole, _ = feed_all(f, [data])
        by_byte, _ = feed_all(f, [data[i : i + 1] for i in range(len(data))])
        assert whole[0] == first
        assert by_byte[0] == first
    assert http()(data) == len(first)
    with pytest.raises(BadRequest) as info:
        parse_request(first)
    assert info.value.status == status


def test_a_bad_request_line_is_cut_once_it_has_arrived() -> None:
    # Whole, the head is one message; in small reads the request line is cut as soon as it is
    # complete (no header can make it valid). Either way parse_request answers 505.
    data = b"GET / HTTP/2.0\r\nHost: x\r\n\r\n"
    assert feed_all(http(), [data]) == ([data], b"")
    by_byte = feed_all(http(), [data[i : i + 1] for i in range(len(data))])
    assert by_byte == ([b"GET / HTTP/2.0\r\n", b"Host: x\r\n"], b"\r\n")
    for message in [data, by_byte[0][0]]:
        with pytest.raises(BadRequest) as info:
            parse_request(message)
        assert info.value.status == 505


@pytest.mark.parametrize(
    ("data", "status"),
    [
        pytest.param(b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03", 400, id="tls-hello"),
        pytest.param(b"\x00\x00\x00\x05hello", 400, id="binary"),
        pytest.param(b"HELLO\r\n", 400, id="a-line-protocol"),
        pytest.param(b"GET / HTTP/3\r\nHost: x\r\n", 400, id="bad-version-head-unended"),
        pytest.param(b"GET / HTTP/1.1\r\nX: " + b"a" * MAX_HEAD, 431, id="head-too-large"),
        pytest.param(b"\r\n" * (MAX_HEAD // 2 + 1), 431, id="only-empty-lines"),
        pytest.param(TE + b"1" * (MAX_CHUNK_LINE + 1), 400, id="chunk-line-too-long"),
        pytest.param(TE + b"0\r\nX: " + b"a" * MAX_HEAD, 431, id="trailers-too-large"),
    ],
)
def test_input_that_can_never_be_a_request_is_cut_without_its_end(data: bytes, status: int) -> None:
    # No empty line will ever make these valid: waiting would hang the client.
    assert http()(data) == len(data)
    assert feed_all(http(), [data]) == ([data], b"")
    with pytest.raises(BadRequest) as info:
        parse_request(data)
    assert info.value.status == status


def test_garbage_in_small_reads_is_cut_as_soon_as_it_is_known() -> None:
    framer = Framer(http())
    assert framer.feed(b"HEL") == []  # could still be a method
    assert framer.feed(b"LO\r") == []
    assert framer.feed(b"\n") == [b"HELLO\r\n"]
    assert Framer(http()).feed(b"\x16") == [b"\x16"]
    big = Framer(http())
    assert big.feed(b"GET / HTTP/1.1\r\nX: " + b"a" * (MAX_HEAD - 19)) == []
    assert big.feed(b"a") == [b"GET / HTTP/1.1\r\nX: " + b"a" * (MAX_HEAD - 18)]


FRAGMENTS = [
    b"GET / HTTP/1.1",
    b"POST",
    b" ",
    b"\r\n",
    b"\n",
    b"\r",
    b"Content-Length: 3",
    b"Content-Length: x",
    b"Transfer-Encoding: chunked",
    b"Host : x",
    b"0",
    b"3",
    b"zz",
    b";e",
    b"abc",
    b"\x16",
    b":",
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
    stateful = feed_all(http(), pieces)
    assert stateful == cut(http(), pieces)
    assert stateful == feed_all(plain(http()), pieces)
    assert b"".join(stateful[0]) + stateful[1] == stream
    for message in stateful[0]:
        with contextlib.suppress(BadRequest):
            parse_request(message)  # and never another exception


# -- linear time: a large chunked body in many small reads ----------------------------------------


class CountingBuffer(bytearray):
    """A bytearray that counts how many bytes its ``find`` calls may look at."""

    looked = 0

    def find(self, sub: Any, start: Any = None, end: Any = None) -> int:
        lo = 0 if start is None else int(start)
        hi = len(self) if end is None else int(end)
        CountingBuffer.looked += max(hi - lo, 0)
        return super().find(sub, start, end)


def chunked_request(size: int, chunk: int) -> bytes:
    body = bytes(i % 251 for i in range(size))
    parts = [body[i : i + chunk] for i in range(0, size, chunk)]
    coded = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts)
    return TE + coded + b"0\r\n\r\n"


def looked_at(scan: Callable[[CountingBuffer, int], int | None], message: bytes, step: int) -> int:
    """Feed ``message`` to ``scan`` ``step`` bytes at a time as a Framer would; the bytes its
    searches covered."""
    CountingBuffer.looked = 0
    buf = CountingBuffer()
    for i in range(0, len(message), step):
        buf += message[i : i + step]
        n = scan(buf, 0)
        assert n == (len(message) if len(buf) == len(message) else None)
    return CountingBuffer.looked


def test_the_scanner_looks_at_each_byte_a_bounded_number_of_times() -> None:
    message = chunked_request(2 * 1024 * 1024, 1000)
    assert looked_at(RequestScanner().scan, message, 100) < 2 * len(message)


def test_the_counter_sees_the_stateless_scan_rescanning() -> None:
    # The same measure on the stateless function: quadratic, so the test above can fail.
    message = chunked_request(64 * 1024, 100)
    stateful = looked_at(RequestScanner().scan, message, 100)
    assert stateful < 2 * len(message)
    assert looked_at(request_length, message, 100) > 50 * stateful


def test_through_a_framer_the_scanner_only_moves_forward() -> None:
    message = chunked_request(2 * 1024 * 1024, 4096)
    framer = Framer(http())
    scanner = framer._builtin._scanner  # type: ignore[union-attr]
    assert isinstance(scanner, RequestScanner)
    positions = []
    out: list[bytes] = []
    for i in range(0, len(message), 100):
        out += framer.feed(message[i : i + 100])
        if not out:
            positions.append(scanner._pos)
    assert out == [message]
    assert positions == sorted(positions)
    assert positions[-1] > len(message) - 4096 - 100  # it reached the last chunk
    assert scanner._pos == 0  # reset for the next request


def test_each_framer_has_its_own_scanner() -> None:
    framing = http()
    a, b = Framer(framing), Framer(framing)
    assert a.feed(TE + b"5\r\nab") == []
    assert b.feed(GET) == [GET]
    assert a.feed(b"cde\r\n0\r\n\r\n") == [TE + b"5\r\nabcde\r\n0\r\n\r\n"]


def test_fresh() -> None:
    stateless = lines()
    assert stateless.fresh() is stateless
    assert fixed(3).fresh() is not None
    framing = http()
    one, two = framing.fresh(), framing.fresh()
    assert one is not framing
    assert one is not two
    assert repr(one) == "http()"
    # Called directly, a per-stream object is stateless too.
    assert one(TE) is None
    assert one(GET) == len(GET)
    assert one(TE) is None


# -- names and specs ---------------------------------------------------------------------------


def test_names_and_specs() -> None:
    assert repr(http()) == "http()"
    assert describe(http()) == "http()"
    assert repr(parse("http")) == "http()"
    assert repr(parse(" http")) == "http()"
    assert framing_spec(http()) == "http"
    assert framing_spec(http().fresh()) == "http"
    assert repr(parse(framing_spec(http()))) == "http()"
    assert Framer(parse("http")).feed(GET + GET) == [GET, GET]


def test_the_parse_error_lists_http() -> None:
    with pytest.raises(ValueError) as info:
        parse("https")
    assert str(info.value) == (
        "unknown framing 'https': choose lines, raw, fixed:N, delimited:SEP "
        "or length_prefixed:FMT; or http for HTTP/1.1 requests; or resp for Redis (RESP) commands"
    )


def test_the_scenario_error_lists_http() -> None:
    def mine(buffer: bytes) -> int | None:
        return None

    with pytest.raises(ScenarioError) as info:
        framing_spec(mine)
    assert str(info.value).endswith(
        "use a built-in framing: lines(), delimited(sep), fixed(n), length_prefixed(fmt), "
        "http() or raw()"
    )
