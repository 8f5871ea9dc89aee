"""The HTTP/1.1 codec: requests as real clients send them, every BadRequest with its status and
text, responses for every transfer, and the transcript view of a request."""

from __future__ import annotations

import json

import pytest

from sockfix.core.http.codec import (
    MAX_HEAD,
    BadRequest,
    Headers,
    HTTPRequest,
    describe_request,
    encode_response,
    parse_head,
    parse_request,
    reason_phrase,
)

# -- requests as clients send them ---------------------------------------------------------------

REQUESTS_GET = (
    b"GET /get?a=1&b=two HTTP/1.1\r\n"
    b"Host: localhost:8080\r\n"
    b"User-Agent: python-requests/2.31.0\r\n"
    b"Accept-Encoding: gzip, deflate\r\n"
    b"Accept: */*\r\n"
    b"Connection: keep-alive\r\n"
    b"\r\n"
)

REQUESTS_POST_JSON = (
    b"POST /items HTTP/1.1\r\n"
    b"Host: localhost:8080\r\n"
    b"User-Agent: python-requests/2.31.0\r\n"
    b"Accept-Encoding: gzip, deflate\r\n"
    b"Accept: */*\r\n"
    b"Connection: keep-alive\r\n"
    b"Content-Length: 18\r\n"
    b"Content-Type: application/json\r\n"
    b"\r\n"
    b'{"name": "widget"}'
)

HTTPX_GET = (
    b"GET /search?q=caf%C3%A9&page=2&empty= HTTP/1.1\r\n"
    b"Host: example.com\r\n"
    b"Accept: */*\r\n"
    b"Accept-Encoding: gzip, deflate\r\n"
    b"Connection: keep-alive\r\n"
    b"User-Agent: python-httpx/0.27.0\r\n"
    b"\r\n"
)

CURL_PUT_EXPECT = (
    b"PUT /upload HTTP/1.1\r\n"
    b"Host: localhost:8080\r\n"
    b"User-Agent: curl/8.5.0\r\n"
    b"Accept: */*\r\n"
    b"Content-Length: 5\r\n"
    b"Expect: 100-continue\r\n"
    b"\r\n"
    b"hello"
)

CURL_CHUNKED = (
    b"POST / HTTP/1.1\r\n"
    b"Host: localhost\r\n"
    b"User-Agent: curl/8.5.0\r\n"
    b"Accept: */*\r\n"
    b"Transfer-Encoding: chunked\r\n"
    b"Content-Type: application/x-www-form-urlencoded\r\n"
    b"\r\n"
    b"b\r\nhello=world\r\n"
    b"0\r\n\r\n"
)

HTTP_CLIENT_GET = b"GET / HTTP/1.1\r\nHost: localhost:8080\r\nAccept-Encoding: identity\r\n\r\n"

HTTP_CLIENT_CHUNKED = (
    b"POST /stream HTTP/1.1\r\n"
    b"Host: localhost:8080\r\n"
    b"Accept-Encoding: identity\r\n"
    b"Transfer-Encoding: chunked\r\n"
    b"\r\n"
    b"4\r\nabcd\r\n"
    b"3\r\nefg\r\n"
    b"0\r\n\r\n"
)

HTTP10 = (
    b"GET /index.html HTTP/1.0\r\nHost: x\r\nUser-Agent: ApacheBench/2.3\r\nAccept: */*\r\n\r\n"
)


def test_requests_get() -> None:
    request = parse_request(REQUESTS_GET, connection=3)
    assert request.method == "GET"
    assert request.target == "/get?a=1&b=two"
    assert request.path == "/get"
    assert request.query == {"a": ["1"], "b": ["two"]}
    assert request.version == "HTTP/1.1"
    assert request.headers.pairs == (
        ("Host", "localhost:8080"),
        ("User-Agent", "python-requests/2.31.0"),
        ("Accept-Encoding", "gzip, deflate"),
        ("Accept", "*/*"),
        ("Connection", "keep-alive"),
    )
    assert request.body == b""
    assert request.trailers == {}
    assert request.raw == REQUESTS_GET
    assert request.connection == 3
    assert request.keep_alive is True
    assert request.expects_continue is False
    assert request.line() == "GET /get?a=1&b=two HTTP/1.1"


def test_requests_post_json() -> None:
    request = parse_request(REQUESTS_POST_JSON)
    assert request.method == "POST"
    assert request.path == "/items"
    assert request.query == {}
    assert request.headers["content-type"] == "application/json"
    assert request.body == b'{"name": "widget"}'
    assert request.json() == {"name": "widget"}
    assert request.text == '{"name": "widget"}'


def test_httpx_query_is_percent_decoded_with_blanks_kept_and_path_as_sent() -> None:
    request = parse_request(HTTPX_GET)
    assert request.query == {"q": ["café"], "page": ["2"], "empty": [""]}
    assert request.path == "/search"
    assert parse_request(b"GET /a%20b/c?x=1&x=2 HTTP/1.1\r\n\r\n").path == "/a%20b/c"
    assert parse_request(b"GET /a%20b/c?x=1&x=2 HTTP/1.1\r\n\r\n").query == {"x": ["1", "2"]}


def test_curl_put_expecting_continue() -> None:
    request = parse_request(CURL_PUT_EXPECT)
    assert request.expects_continue is True
    assert request.body == b"hello"
    assert request.headers["Expect"] == "100-continue"


def test_curl_chunked_form() -> None:
    request = parse_request(CURL_CHUNKED)
    assert request.body == b"hello=world"
    assert request.trailers == Headers()
    assert request.raw == CURL_CHUNKED


def test_http_client_requests() -> None:
    assert parse_request(HTTP_CLIENT_GET).headers == {
        "host": "localhost:8080",
        "accept-encoding": "identity",
    }
    assert parse_request(HTTP_CLIENT_CHUNKED).body == b"abcdefg"


def test_http10_closes_unless_keep_alive() -> None:
    request = parse_request(HTTP10)
    assert request.version == "HTTP/1.0"
    assert request.keep_alive is False
    kept = HTTP10.replace(b"Accept: */*", b"Connection: Keep-Alive")
    assert parse_request(kept).keep_alive is True


@pytest.mark.parametrize(
    ("connection", "version", "keep_alive"),
    [
        (None, "1.1", True),
        ("close", "1.1", False),
        ("Close", "1.1", False),
        ("keep-alive, CLOSE", "1.1", False),
        ("Upgrade", "1.1", True),
        (None, "1.0", False),
        ("keep-alive", "1.0", True),
        ("TE, Keep-Alive", "1.0", True),
        ("close", "1.0", False),
    ],
)
def test_keep_alive(connection: str | None, version: str, keep_alive: bool) -> None:
    header = f"Connection: {connection}\r\n" if connection else ""
    raw = f"GET / HTTP/{version}\r\n{header}\r\n".encode()
    assert parse_request(raw).keep_alive is keep_alive


@pytest.mark.parametrize(
    ("expect", "expected"), [("100-continue", True), ("100-Continue", True), ("x", False)]
)
def test_expects_continue_is_case_insensitive(expect: str, expected: bool) -> None:
    raw = f"PUT / HTTP/1.1\r\nExpect: {expect}\r\n\r\n".encode()
    assert parse_request(raw).expects_continue is expected


def test_repeated_headers_keep_order_and_join() -> None:
    raw = (
        b"GET / HTTP/1.1\r\n"
        b"Accept: text/html\r\n"
        b"X-Trace: a\r\n"
        b"accept: application/json\r\n"
        b"Cookie: a=1\r\n"
        b"ACCEPT:*/*\r\n"
        b"\r\n"
    )
    headers = parse_request(raw).headers
    assert headers["Accept"] == "text/html, application/json, */*"
    assert headers.get_all("accept") == ["text/html", "application/json", "*/*"]
    assert headers.get_all("Missing") == []
    assert list(headers) == ["Accept", "X-Trace", "Cookie"]
    assert len(headers) == 3
    assert headers.pairs[2] == ("accept", "application/json")
    assert headers.pairs[4] == ("ACCEPT", "*/*")
    assert "x-trace" in headers
    assert "X-TRACE" in headers
    assert 5 not in headers  # type: ignore[comparison-overlap]
    assert headers.get("cookie") == "a=1"
    assert headers.get("nope", "default") == "default"
    with pytest.raises(KeyError):
        headers["nope"]


def test_header_values_lose_surrounding_whitespace_and_keep_latin1() -> None:
    raw = b"GET / HTTP/1.1\r\nX-A:   spaced \t \r\nX-B:\tcaf\xe9\r\nX-C:\r\n\r\n"
    assert parse_request(raw).headers.pairs == (("X-A", "spaced"), ("X-B", "café"), ("X-C", ""))


def test_headers_equality_and_repr() -> None:
    a = Headers([("Host", "x"), ("Accept", "*/*")])
    assert a == Headers([("host", "x"), ("ACCEPT", "*/*")])
    assert a != Headers([("Accept", "*/*"), ("Host", "x")])  # order matters between Headers
    assert a != Headers([("Host", "X"), ("Accept", "*/*")])  # values are case-sensitive
    assert a == {"HOST": "x", "accept": "*/*"}
    assert a != {"Host": "x"}
    assert a != [("Host", "x"), ("Accept", "*/*")]
    assert repr(a) == "Headers({'Host': 'x', 'Accept': '*/*'})"
    repeated = Headers([("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")])
    assert repeated == {"set-cookie": "a=1, b=2"}
    assert repr(repeated) == "Headers([('Set-Cookie', 'a=1'), ('Set-Cookie', 'b=2')])"
    assert Headers({"A": "1"}).pairs == (("A", "1"),)
    assert repr(Headers()) == "Headers({})"


@pytest.mark.parametrize("bad", ["Host: x", [("Host", 1)], [("Host",)], [b"Host"]])
def test_headers_take_pairs_of_str(bad: object) -> None:
    with pytest.raises(TypeError, match=r"Headers\(\) takes \(name, value\) pairs"):
        Headers(bad)  # type: ignore[arg-type]


def test_chunked_with_extensions_and_trailers() -> None:
    raw = (
        b"POST /up HTTP/1.1\r\n"
        b"Transfer-Encoding: Chunked\r\n"
        b"Trailer: X-Checksum\r\n"
        b"\r\n"
        b"5;name=value\r\nhello\r\n"
        b'1A ; q="quoted"\r\n' + b"z" * 26 + b"\r\n"
        b"0;last\r\n"
        b"X-Checksum: abc\r\n"
        b"X-Other: 1\r\n"
        b"\r\n"
    )
    request = parse_request(raw)
    assert request.body == b"hello" + b"z" * 26
    assert request.trailers.pairs == (("X-Checksum", "abc"), ("X-Other", "1"))
    assert request.headers["Trailer"] == "X-Checksum"


def test_bare_lf_line_ends() -> None:
    raw = b"POST /x HTTP/1.1\nHost: h\nTransfer-Encoding: chunked\n\n3\nabc\n0\nT: 1\n\n"
    request = parse_request(raw)
    assert request.headers == {"Host": "h", "Transfer-Encoding": "chunked"}
    assert request.body == b"abc"
    assert request.trailers == {"T": "1"}
    mixed = b"GET / HTTP/1.1\r\nHost: h\n\r\n"
    assert parse_request(mixed).headers == {"Host": "h"}


def test_leading_empty_lines_are_skipped_but_kept_in_raw() -> None:
    raw = b"\r\n\n\r\nGET /a HTTP/1.1\r\nHost: h\r\n\r\n"
    request = parse_request(raw)
    assert request.line() == "GET /a HTTP/1.1"
    assert request.raw == raw


def test_other_target_forms() -> None:
    absolute = parse_request(b"GET http://example.com/a/b?x=1 HTTP/1.1\r\n\r\n")
    assert (absolute.path, absolute.query) == ("/a/b", {"x": ["1"]})
    assert parse_request(b"GET http://example.com HTTP/1.1\r\n\r\n").path == "/"
    star = parse_request(b"OPTIONS * HTTP/1.1\r\n\r\n")
    assert (star.path, star.query) == ("*", {})
    connect = parse_request(b"CONNECT example.com:443 HTTP/1.1\r\n\r\n")
    assert (connect.path, connect.query) == ("example.com:443", {})


def test_a_zero_content_length_and_no_body() -> None:
    request = parse_request(b"POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
    assert request.body == b""
    assert parse_request(b"POST / HTTP/1.1\r\nContent-Length: 007\r\n\r\n1234567").body == (
        b"1234567"
    )
    same = b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3, 3\r\n\r\nabc"
    assert parse_request(same).body == b"abc"


def test_parse_request_takes_a_bytearray() -> None:
    request = parse_request(bytearray(REQUESTS_GET))
    assert type(request.raw) is bytes
    assert request.raw == REQUESTS_GET


def test_request_json_errors() -> None:
    bad = parse_request(b"POST /j HTTP/1.1\r\nContent-Length: 9\r\n\r\n{'a': 1}\n")
    with pytest.raises(ValueError) as info:
        bad.json()
    assert str(info.value) == (
        "the body of 'POST /j HTTP/1.1' is not JSON (Expecting property name enclosed in "
        "double quotes at byte 1): b\"{'a': 1}\\n\""
    )
    assert not isinstance(info.value, json.JSONDecodeError)
    empty = parse_request(b"POST /j HTTP/1.1\r\n\r\n")
    with pytest.raises(ValueError) as info:
        empty.json()
    assert str(info.value) == "the body of 'POST /j HTTP/1.1' is empty, not JSON"
    binary = parse_request(b"POST /j HTTP/1.1\r\nContent-Length: 2\r\n\r\n\xff\xfe")
    with pytest.raises(ValueError, match=r"is not JSON \(.*\): b'\\xff\\xfe'$"):
        binary.json()


def test_text_replaces_undecodable_bytes() -> None:
    request = parse_request(b"POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nab\xffc")
    assert request.text == "ab\ufffdc"


def test_request_repr_equality_and_hash() -> None:
    request = parse_request(REQUESTS_POST_JSON, connection=2)
    assert repr(request) == (
        "HTTPRequest('POST /items HTTP/1.1', body=b'{\"name\": \"widget\"}', connection=2)"
    )
    assert repr(parse_request(HTTP_CLIENT_GET)) == "HTTPRequest('GET / HTTP/1.1', body=b'')"
    again = parse_request(REQUESTS_POST_JSON, connection=2)
    assert request == again
    assert hash(request) == hash(again)
    assert request != parse_request(REQUESTS_POST_JSON, connection=1)
    assert len({request, again}) == 1
    with pytest.raises(AttributeError):
        request.method = "PUT"  # type: ignore[misc]


# -- BadRequest: every case with its status and text ----------------------------------------------

CHUNKED = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
EXPECTED_HEX = "expected hex digits, optionally then ;extensions, such as b'1a' or b'1a;name=value'"
ONE = "pass one message, as cut by sockfix.framing.http()"
TOO_LARGE = (
    "the request head is larger than 65536 bytes (sockfix.core.http.codec.MAX_HEAD): "
    "send fewer or shorter headers"
)


@pytest.mark.parametrize(
    ("raw", "status", "text"),
    [
        pytest.param(
            b"GET / HTTP/1.1\r\n",
            400,
            "the request ends before its head does (no empty line after the headers): "
            "b'GET / HTTP/1.1\\r\\n'",
            id="no-empty-line",
        ),
        pytest.param(
            b"",
            400,
            "the request ends before its head does (no empty line after the headers): b''",
            id="empty",
        ),
        pytest.param(
            b" GET / HTTP/1.1\r\n\r\n",
            400,
            "the request line b' GET / HTTP/1.1' starts with whitespace: expected "
            "METHOD SP TARGET SP VERSION, such as b'GET / HTTP/1.1'",
            id="leading-space",
        ),
        pytest.param(
            b"G@T / HTTP/1.1\r\n\r\n",
            400,
            "the method b'G@T' is not a token: byte 1 is b'@'",
            id="method-not-token",
        ),
        pytest.param(
            b"GET /  HTTP/1.1\r\n\r\n",
            400,
            "malformed request line b'GET /  HTTP/1.1': expected METHOD SP TARGET SP VERSION "
            "with single spaces, such as b'GET / HTTP/1.1'",
            id="double-space",
        ),
        pytest.param(
            b"GET /\r\n\r\n",
            400,
            "malformed request line b'GET /': expected METHOD SP TARGET SP VERSION "
            "with single spaces, such as b'GET / HTTP/1.1'",
            id="http09-style",
        ),
        pytest.param(
            b"GET / HTTP/1.1 x\r\n\r\n",
            400,
            "malformed request line b'GET / HTTP/1.1 x': expected METHOD SP TARGET SP VERSION "
            "with single spaces, such as b'GET / HTTP/1.1'",
            id="four-parts",
        ),
        pytest.param(
            b"GET / http/1.1\r\n\r\n",
            400,
            "malformed request line b'GET / http/1.1': the version b'http/1.1' is not "
            "HTTP/<digit>.<digit>, such as b'HTTP/1.1'",
            id="lowercase-version",
        ),
        pytest.param(
            b"GET / HTTP/1.10\r\n\r\n",
            400,
            "malformed request line b'GET / HTTP/1.10': the version b'HTTP/1.10' is not "
            "HTTP/<digit>.<digit>, such as b'HTTP/1.1'",
            id="two-digit-minor",
        ),
        pytest.param(
            b"GET / HTTP/2.0\r\n\r\n",
            505,
            "HTTP version 'HTTP/2.0' is not supported: sockfix reads HTTP/1.0 and HTTP/1.1 "
            "requests",
            id="http2",
        ),
        pytest.param(
            b"GET / HTTP/0.9\r\n\r\n",
            505,
            "HTTP version 'HTTP/0.9' is not supported: sockfix reads HTTP/1.0 and HTTP/1.1 "
            "requests",
            id="http09",
        ),
        pytest.param(
            b"GET /caf\xc3\xa9 HTTP/1.1\r\n\r\n",
            400,
            "the request target b'/caf\\xc3\\xa9' has the byte b'\\xc3' at byte 4: only "
            "visible ASCII is allowed, percent-encode the rest",
            id="target-utf8",
        ),
        pytest.param(
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
            400,
            "the method b'\\x16\\x03\\x01\\x02\\x00\\x01\\x00\\x01\\x...' (11 bytes) is not a "
            "token: byte 0 is b'\\x16' (this looks like TLS: is an https:// client talking to "
            "a plain HTTP port?)",
            id="tls",
        ),
        pytest.param(
            b"GET / HTTP/1.1\r\nHost x\r\n\r\n",
            400,
            "head line 2 b'Host x' has no colon: expected Name: value",
            id="no-colon",
        ),
        pytest.param(
            b"GET / HTTP/1.1\r\nA: 1\r\nHost : x\r\n\r\n",
            400,
            "head line 3 b'Host : x' has whitespace before its colon, which RFC 9112 5.1 "
            "forbids: write b'Host: x'",
            id="space-before-colon",
        ),
        pytest.param(
            b"GET / HTTP/1.1\r\nHost\t: x\r\n\r\n",
            400,
            "head line 2 b'Host\\t: x' has whitespace before its colon, which RFC 9112 5.1 "
            "forbids: write b'Host: x'",
            id="tab-before-colon",
        ),
        pytest.param(
            b"GET / HTTP/1.1\r\nX-A: 1\r\n  continued\r\n\r\n",
            400,
            "head line 3 b'  continued' starts with whitespace: an obs-fold continuation "
            "line, which sockfix rejects (RFC 9112 5.2); put the value on the line of its name",
            id="obs-fold",
        ),
        pytest.param(
            b"GET / HTTP/1.1\r\n\tX: 1\r\n\r\n",
            400,
            "head line 2 b'\\tX: 1' starts with whitespace: an obs-fold continuation "
            "line, which sockfix rejects (RFC 9112 5.2); put the value on the line of its name",
            id="first-header-folded",
        ),
        pytest.param(
            b"GET / HTTP/1.1\r\n: x\r\n\r\n",
            400,
            "head line 2 b': x' has an empty name",
            id="empty-name",
        ),
        pytest.param(
            b"GET / HTTP/1.1\r\nX(y): 1\r\n\r\n",
            400,
            "head line 2: the name b'X(y)' is not a token: byte 1 is b'('",
            id="name-not-token",
        ),
        pytest.param(
            b"GET / HTTP/1.1\r\nX: a\x00b\r\n\r\n",
            400,
            "head line 2: the value of 'X' has the control byte b'\\x00' at byte 1 of the value",
            id="nul-in-value",
        ),
        pytest.param(
            b"GET / HTTP/1.1\r\nX: a\rb\r\n\r\n",
            400,
            "head line 2: the value of 'X' has the control byte b'\\r' at byte 1 of the value",
            id="bare-cr-in-value",
        ),
        pytest.param(
            b"POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            400,
            "the request has both Content-Length and Transfer-Encoding: send only one "
            "(RFC 9112 6.3; the two disagreeing is how requests are smuggled)",
            id="cl-and-te",
        ),
        pytest.param(
            b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
            400,
            "Content-Length '-1' is not a number of bytes",
            id="cl-negative",
        ),
        pytest.param(
            b"POST / HTTP/1.1\r\nContent-Length: +3\r\n\r\nabc",
            400,
            "Content-Length '+3' is not a number of bytes",
            id="cl-plus",
        ),
        pytest.param(
            b"POST / HTTP/1.1\r\nContent-Length:\r\n\r\n",
            400,
            "Content-Length '' is not a number of bytes",
            id="cl-empty",
        ),
        pytest.param(
            b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc",
            400,
            "conflicting Content-Length values '3, 4'",
            id="cl-conflicting-headers",
        ),
        pytest.param(
            b"POST / HTTP/1.1\r\nContent-Length: 3, 4\r\n\r\nabc",
            400,
            "conflicting Content-Length values '3, 4'",
            id="cl-conflicting-list",
        ),
        pytest.param(
            b"POST / HTTP/1.1\r\nContent-Length: 1234567890123456789\r\n\r\n",
            400,
            "Content-Length '1234567890123456789' is too large",
            id="cl-huge",
        ),
        pytest.param(
            b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
            501,
            "Transfer-Encoding 'gzip, chunked' is not supported: sockfix reads only 'chunked'",
            id="te-gzip-chunked",
        ),
        pytest.param(
            b"POST / HTTP/1.1\r\nTransfer-Encoding: identity\r\n\r\n",
            501,
            "Transfer-Encoding 'identity' is not supported: sockfix reads only 'chunked'",
            id="te-identity",
        ),
        pytest.param(
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked"
            b"\r\n\r\n0\r\n\r\n",
            400,
            "Transfer-Encoding 'chunked, chunked': 'chunked' must be given exactly once",
            id="te-twice",
        ),
        pytest.param(
            CHUNKED + b"zz\r\n",
            400,
            f"bad chunk size line b'zz': {EXPECTED_HEX}",
            id="chunk-size-not-hex",
        ),
        pytest.param(
            CHUNKED + b";x\r\n",
            400,
            f"bad chunk size line b';x': {EXPECTED_HEX}",
            id="chunk-size-missing",
        ),
        pytest.param(
            CHUNKED + b"-1\r\n",
            400,
            f"bad chunk size line b'-1': {EXPECTED_HEX}",
            id="chunk-size-negative",
        ),
        pytest.param(
            CHUNKED + b"0x5\r\n",
            400,
            f"bad chunk size line b'0x5': {EXPECTED_HEX}",
            id="chunk-size-0x",
        ),
        pytest.param(
            CHUNKED + b"1" * 17 + b"\r\n",
            400,
            f"bad chunk size line b'11111111111111111': {EXPECTED_HEX}",
            id="chunk-size-too-many-digits",
        ),
        pytest.param(
            CHUNKED + b"1" * 5000,
            400,
            "the chunk size line at byte 47 is longer than 4096 bytes: "
            "b'111111111111111111111111111111111111111111111111111111...' (5000 bytes)",
            id="chunk-size-line-too-long",
        ),
        pytest.param(
            CHUNKED,
            400,
            "the chunked body ends at byte 47 before its last chunk, b'0\\r\\n\\r\\n'",
            id="chunked-no-chunks",
        ),
        pytest.param(
            CHUNKED + b"5",
            400,
            "the chunked body ends inside the chunk size line at byte 47: b'5'",
            id="chunked-inside-size-line",
        ),
        pytest.param(
            CHUNKED + b"5\r\nabc",
            400,
            "the chunked body ends inside the 5-byte chunk at byte 50: only 3 bytes of it",
            id="chunked-inside-data",
        ),
        pytest.param(
            CHUNKED + b"3\r\nabcd\r\n0\r\n\r\n",
            400,
            "the 3-byte chunk at byte 50 is not followed by CRLF: got b'd\\r\\n0\\r\\n\\r\\n' "
            "after it (is its size right?)",
            id="chunk-longer-than-size",
        ),
        pytest.param(
            CHUNKED + b"3\r\nabc",
            400,
            "the chunked body ends after the 3-byte chunk at byte 50",
            id="chunked-ends-after-data",
        ),
        pytest.param(
            CHUNKED + b"3\r\nabc\r\n0\r\n",
            400,
            "the chunked body ends at byte 58, after its last chunk but before the empty line "
            "that ends it (b'\\r\\n')",
            id="chunked-no-final-crlf",
        ),
        pytest.param(
            CHUNKED + b"0\r\nX: 1\r\n",
            400,
            "the chunked body ends inside its trailers at byte 50 (no empty line after them): "
            "b'X: 1\\r\\n'",
            id="trailers-unended",
        ),
        pytest.param(
            CHUNKED + b"0\r\nX 1\r\n\r\n",
            400,
            "trailer line 1 b'X 1' has no colon: expected Name: value",
            id="trailer-no-colon",
        ),
        pytest.param(
            CHUNKED + b"0\r\nA: 1\r\n folded\r\n\r\n",
            400,
            "trailer line 2 b' folded' starts with whitespace: an obs-fold continuation "
            "line, which sockfix rejects (RFC 9112 5.2); put the value on the line of its name",
            id="trailer-obs-fold",
        ),
        pytest.param(
            CHUNKED + b"0\r\n" + b"X: " + b"a" * MAX_HEAD,
            431,
            "the trailers are larger than 65536 bytes",
            id="trailers-too-large",
        ),
        pytest.param(
            CHUNKED + b"0\r\n\r\nGET",
            400,
            f"3 bytes after the end of the chunked body: b'GET'; {ONE}",
            id="after-chunked",
        ),
        pytest.param(
            b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nabc",
            400,
            "the body is 3 bytes, short of its Content-Length: 5",
            id="body-short",
        ),
        pytest.param(
            b"POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nabc",
            400,
            f"1 byte after the 2-byte body (Content-Length: 2): b'c'; {ONE}",
            id="body-long",
        ),
        pytest.param(
            b"GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n",
            400,
            "18 bytes after the head (no Content-Length or Transfer-Encoding, so no body): "
            f"b'GET / HTTP/1.1\\r\\n\\r\\n'; {ONE}",
            id="two-requests",
        ),
        pytest.param(
            b"GET / HTTP/1.1\r\nX: " + b"a" * MAX_HEAD + b"\r\n\r\n",
            431,
            TOO_LARGE,
            id="head-too-large",
        ),
        pytest.param(
            b"GET / HTTP/1.1\r\nX: " + b"a" * MAX_HEAD,
            431,
            TOO_LARGE,
            id="head-too-large-unended",
        ),
        pytest.param(b"\r\n" * (MAX_HEAD // 2 + 1), 431, TOO_LARGE, id="only-empty-lines"),
    ],
)
def test_bad_requests(raw: bytes, status: int, text: str) -> None:
    with pytest.raises(BadRequest) as info:
        parse_request(raw)
    assert str(info.value) == text
    assert info.value.status == status
    assert isinstance(info.value, ValueError)


def test_a_head_of_exactly_max_head_bytes_is_read() -> None:
    start = b"GET / HTTP/1.1\r\nX: "
    filler = b"a" * (MAX_HEAD - len(start) - 4)
    raw = start + filler + b"\r\n\r\n"
    assert len(raw) == MAX_HEAD
    assert parse_request(raw).headers["X"] == filler.decode()
    with pytest.raises(BadRequest) as info:
        parse_request(start + filler + b"a\r\n\r\n")
    assert info.value.status == 431


def test_bad_request_default_status() -> None:
    assert BadRequest("x").status == 400
    assert BadRequest("x", 431).status == 431


# -- parse_head -----------------------------------------------------------------------------------


def test_parse_head_before_the_body_has_arrived() -> None:
    data = b"\r\nPUT /u HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhe"
    method, target, version, headers, end = parse_head(data) or ("", "", "", Headers(), 0)
    assert (method, target, version) == ("PUT", "/u", "HTTP/1.1")
    assert headers == {"Expect": "100-continue", "Content-Length": "5"}
    assert data[end:] == b"he"


def test_parse_head_from_an_offset() -> None:
    data = b"junk" + b"GET /x HTTP/1.1\nA: b\n\nrest"
    head = parse_head(bytearray(data), 4)
    assert head is not None
    assert head[:3] == ("GET", "/x", "HTTP/1.1")
    assert head[3] == {"A": "b"}
    assert head[4] == len(b"GET /x HTTP/1.1\nA: b\n\n")


@pytest.mark.parametrize(
    "data", [b"", b"\r", b"\r\n", b"GET / HTTP/1.1\r\nHost: x\r\n", b"GET / HTTP/1.1\r\n\r", b"G"]
)
def test_parse_head_waits_for_the_rest(data: bytes) -> None:
    assert parse_head(data) is None


@pytest.mark.parametrize(
    ("data", "status", "start"),
    [
        (b"GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400, "head line 2 b'Host : x' has whitespace"),
        (b"GET / HTTP/3\r\n", 400, "malformed request line b'GET / HTTP/3'"),  # head unended
        (b"\x16\x03", 400, "the method b'\\x16\\x03' is not a token"),
        (b"GET / HTTP/1.1\r\nX: " + b"a" * MAX_HEAD, 431, "the request head is larger"),
    ],
)
def test_parse_head_rejects_what_can_never_be_valid(data: bytes, status: int, start: str) -> None:
    with pytest.raises(BadRequest) as info:
        parse_head(data)
    assert str(info.value).startswith(start)
    assert info.value.status == status


# -- encode_response ------------------------------------------------------------------------------


def test_encode_length() -> None:
    assert encode_response(200, {"Content-Type": "text/plain"}, b"hello") == (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"
    )
    assert encode_response(404) == b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"


def test_encode_keeps_the_users_headers_in_order_case_and_repeats() -> None:
    headers: list[tuple[str, str | int]] = [
        ("set-cookie", "a=1"),
        ("X-Count", 3),
        ("SET-COOKIE", "b=2"),
    ]
    assert encode_response(201, headers, b"{}") == (
        b"HTTP/1.1 201 Created\r\n"
        b"set-cookie: a=1\r\n"
        b"X-Count: 3\r\n"
        b"SET-COOKIE: b=2\r\n"
        b"Content-Length: 2\r\n"
        b"\r\n"
        b"{}"
    )


def test_encode_chunked_bytes_and_chunks() -> None:
    assert encode_response(200, None, b"hello", transfer="chunked") == (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    )
    assert encode_response(200, None, b"", transfer="chunked") == (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    )
    chunks = [b"ab", b"", b"x" * 26]
    assert encode_response(200, None, chunks, transfer="chunked") == (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"2\r\nab\r\n1a\r\n" + b"x" * 26 + b"\r\n0\r\n\r\n"
    )
    assert encode_response(200, None, (b"a",), transfer="chunked").endswith(b"1\r\na\r\n0\r\n\r\n")


def test_encode_close_transfer() -> None:
    assert encode_response(200, None, b"until the end", transfer="close") == (
        b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end"
    )


def test_encode_close_adds_connection_close_unless_given() -> None:
    assert encode_response(200, None, b"x", close=True) == (
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx"
    )
    assert encode_response(200, {"connection": "keep-alive"}, b"x", close=True) == (
        b"HTTP/1.1 200 OK\r\nconnection: keep-alive\r\nContent-Length: 1\r\n\r\nx"
    )
    assert encode_response(200, {"Connection": "Close"}, b"", transfer="close") == (
        b"HTTP/1.1 200 OK\r\nConnection: Close\r\n\r\n"
    )


def test_encode_user_framing_headers_are_sent_as_given() -> None:
    # A lying Content-Length, on purpose: the body is not touched, nothing is added.
    assert encode_response(200, {"Content-Length": "10"}, b"short") == (
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"
    )
    assert encode_response(200, [("content-length", 0)], b"extra", transfer="chunked") == (
        b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\nextra"
    )
    own_chunks = b"3\r\nabc\r\n0\r\n\r\n"
    assert encode_response(200, {"Transfer-Encoding": "chunked"}, own_chunks) == (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + own_chunks
    )
    given = {"Transfer-Encoding": "chunked"}
    assert encode_response(200, given, [b"1\r\na\r\n", b"0\r\n\r\n"], transfer="chunked") == (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n"
    )


def test_encode_head_has_the_get_headers_and_no_body() -> None:
    assert encode_response(200, {"Content-Type": "text/html"}, b"<html></html>", head=True) == (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 13\r\n\r\n"
    )
    assert encode_response(200, None, b"abc", transfer="chunked", head=True) == (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    assert encode_response(200, {"Content-Length": "99"}, b"abc", head=True) == (
        b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n"
    )
    assert encode_response(200, None, b"abc", head=True, close=True) == (
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\n"
    )


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (100, b"HTTP/1.1 100 Continue\r\n\r\n"),
        (101, b"HTTP/1.1 101 Switching Protocols\r\n\r\n"),
        (204, b"HTTP/1.1 204 No Content\r\n\r\n"),
        (304, b"HTTP/1.1 304 Not Modified\r\n\r\n"),
    ],
)
def test_encode_bodiless_statuses_get_no_framing(status: int, expected: bytes) -> None:
    assert encode_response(status) == expected
    assert encode_response(status, transfer="chunked") == expected


def test_encode_bodiless_statuses() -> None:
    assert encode_response(204, None, b"", close=True) == (
        b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"
    )
    # an interim response never closes the connection
    assert encode_response(100, close=True) == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert encode_response(304, {"ETag": '"v1"', "Content-Length": "42"}) == (
        b'HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\nContent-Length: 42\r\n\r\n'
    )
    assert encode_response(204, None, [], transfer="chunked") == b"HTTP/1.1 204 No Content\r\n\r\n"


@pytest.mark.parametrize("status", [100, 204, 304])
def test_encode_bodiless_status_with_a_body_raises(status: int) -> None:
    with pytest.raises(ValueError) as info:
        encode_response(status, None, b"oops")
    assert str(info.value) == (
        f"a {status} response has no body, got 4 bytes: drop body= "
        "(1xx, 204 and 304 responses never carry one)"
    )


def test_encode_reason_and_version() -> None:
    assert encode_response(299) == b"HTTP/1.1 299 Unknown\r\nContent-Length: 0\r\n\r\n"
    assert encode_response(200, reason="Fine") == b"HTTP/1.1 200 Fine\r\nContent-Length: 0\r\n\r\n"
    assert encode_response(200, reason="") == b"HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n"
    assert encode_response(500, version="HTTP/1.0") == (
        b"HTTP/1.0 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n"
    )
    assert encode_response(200, {"X": "caf\xe9"}) == (
        b"HTTP/1.1 200 OK\r\nX: caf\xe9\r\nContent-Length: 0\r\n\r\n"
    )


@pytest.mark.parametrize(
    ("status", "phrase"),
    [(200, "OK"), (404, "Not Found"), (418, "I'm a Teapot"), (299, "Unknown"), (999, "Unknown")],
)
def test_reason_phrase(status: int, phrase: str) -> None:
    assert reason_phrase(status) == phrase


@pytest.mark.parametrize(
    ("kwargs", "error", "text"),
    [
        ({"status": "200"}, TypeError, "status must be an int such as 200, got '200': write 200"),
        ({"status": 200.0}, TypeError, "status must be an int such as 200, got 200.0"),
        ({"status": True}, TypeError, "status must be an int such as 200, got True"),
        (
            {"status": 99},
            ValueError,
            "status 99 is not an HTTP status: use 100..599, such as 200",
        ),
        (
            {"status": 600},
            ValueError,
            "status 600 is not an HTTP status: use 100..599, such as 200",
        ),
        (
            {"transfer": "gzip"},
            ValueError,
            "transfer must be 'length', 'chunked' or 'close', got 'gzip'",
        ),
        ({"version": "HTTP/2"}, ValueError, "version must be like 'HTTP/1.1', got 'HTTP/2'"),
        (
            {"reason": "OK\r\nX: y"},
            ValueError,
            "reason must be one line of text, such as 'OK', got 'OK\\r\\nX: y'",
        ),
        (
            {"body": "text"},
            TypeError,
            "body must be bytes, not str: write body=b'text'",
        ),
        (
            {"body": 5},
            TypeError,
            "body must be bytes (or a list of bytes chunks), got 5",
        ),
        (
            {"body": [b"a", "b"], "transfer": "chunked"},
            TypeError,
            "body chunk 1 must be bytes, got 'b'",
        ),
        (
            {"body": [b"a", b"b"]},
            ValueError,
            "a body given as a list of chunks needs transfer='chunked' (one chunk each), got "
            "transfer='length'; to send it as one body, write b''.join(chunks)",
        ),
        (
            {"body": [b"a"], "transfer": "close"},
            ValueError,
            "a body given as a list of chunks needs transfer='chunked' (one chunk each), got "
            "transfer='close'; to send it as one body, write b''.join(chunks)",
        ),
        (
            {"headers": "Content-Type: text/plain"},
            TypeError,
            "headers must be a dict or (name, value) pairs, got 'Content-Type: text/plain'; "
            "write {'Content-Type': 'text/plain'}",
        ),
        (
            {"headers": 5},
            TypeError,
            "headers must be a dict or (name, value) pairs, got 5; "
            "write {'Content-Type': 'text/plain'}",
        ),
        (
            {"headers": [("A", "1", "2")]},
            TypeError,
            "headers must be a dict or (name, value) pairs, got the item ('A', '1', '2'); "
            "write [('Content-Type', 'text/plain')]",
        ),
        (
            {"headers": {b"X-A": "1"}},
            TypeError,
            "header name b'X-A' must be str: write 'X-A'",
        ),
        ({"headers": {1: "1"}}, TypeError, "header name 1 must be str"),
        (
            {"headers": {"X-A": b"1"}},
            TypeError,
            "header 'X-A': the value must be str (or int), got b'1': write '1'",
        ),
        (
            {"headers": {"X-A": None}},
            TypeError,
            "header 'X-A': the value must be str (or int), got None",
        ),
        (
            {"headers": {"X-A": True}},
            TypeError,
            "header 'X-A': the value must be str (or int), got True",
        ),
        (
            {"headers": {"X-A": "1\r\nSet-Cookie: evil"}},
            ValueError,
            "header 'X-A': the value '1\\r\\nSet-Cookie: evil' holds a line break (\\r or \\n), "
            "which would end the header; send it on one line",
        ),
        (
            {"headers": {"X-A\n": "1"}},
            ValueError,
            "header name 'X-A\\n' holds a line break (\\r or \\n)",
        ),
        (
            {"headers": {"X A": "1"}},
            ValueError,
            "header name 'X A' is not a token: use letters, digits and !#$%&'*+-.^_`|~, "
            "such as 'X-Request-Id'",
        ),
        (
            {"headers": {"": "1"}},
            ValueError,
            "header name '' is not a token: use letters, digits and !#$%&'*+-.^_`|~, "
            "such as 'X-Request-Id'",
        ),
        (
            {"headers": {"X-A": "\u20ac"}},
            ValueError,
            "header 'X-A': the value '\u20ac' is not Latin-1 text; percent-encode it "
            "(urllib.parse.quote) or send ASCII",
        ),
    ],
)
def test_encode_bad_inputs(kwargs: dict[str, object], error: type[Exception], text: str) -> None:
    args: dict[str, object] = {"status": 200, **kwargs}
    with pytest.raises(error) as info:
        encode_response(**args)  # type: ignore[arg-type]
    assert str(info.value) == text


def test_encoded_responses_parse_back_with_http_client() -> None:
    import http.client
    import io

    class FakeSocket:
        def __init__(self, data: bytes) -> None:
            self._file = io.BytesIO(data)

        def makefile(self, mode: str) -> io.BytesIO:
            return self._file

    for transfer, body in [("length", b"hello"), ("chunked", [b"hel", b"lo"])]:
        data = encode_response(200, {"X-A": "1"}, body, transfer=transfer)  # type: ignore[arg-type]
        response = http.client.HTTPResponse(FakeSocket(data))  # type: ignore[arg-type]
        response.begin()
        assert (response.status, response.reason) == (200, "OK")
        assert response.getheader("X-A") == "1"
        assert response.read() == b"hello"


# -- describe_request -----------------------------------------------------------------------------


def test_describe_request() -> None:
    assert describe_request(parse_request(REQUESTS_POST_JSON)) == (
        "POST /items HTTP/1.1\n"
        "  Host: localhost:8080\n"
        "  User-Agent: python-requests/2.31.0\n"
        "  Accept-Encoding: gzip, deflate\n"
        "  Accept: */*\n"
        "  Connection: keep-alive\n"
        "  Content-Length: 18\n"
        "  Content-Type: application/json\n"
        '  (body 18 B: {"name": "widget"})'
    )


def test_describe_request_without_body() -> None:
    assert describe_request(parse_request(HTTP_CLIENT_GET)) == (
        "GET / HTTP/1.1\n  Host: localhost:8080\n  Accept-Encoding: identity\n  (no body)"
    )
    assert describe_request(parse_request(b"GET / HTTP/1.1\r\n\r\n")) == (
        "GET / HTTP/1.1\n  (no body)"
    )


def test_describe_request_cuts_and_escapes_the_body_and_shows_trailers() -> None:
    raw = CHUNKED + b"c\r\n\x00\x01bin\r\nary!!\r\n0\r\nX-Sum: 9\r\n\r\n"
    assert describe_request(parse_request(raw), body_limit=8) == (
        "POST / HTTP/1.1\n"
        "  Transfer-Encoding: chunked\n"
        "  (body 12 B: \\x00\\x01bin\\r\\na...)\n"
        "  (trailer) X-Sum: 9"
    )
    exact = parse_request(b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc")
    assert describe_request(exact, body_limit=3).endswith("  (body 3 B: abc)")


def test_request_fields_are_those_of_a_dataclass() -> None:
    request = HTTPRequest(
        method="GET",
        target="/",
        path="/",
        query={},
        version="HTTP/1.1",
        headers=Headers(),
        body=b"",
        trailers=Headers(),
        raw=b"GET / HTTP/1.1\r\n\r\n",
    )
    assert request == parse_request(b"GET / HTTP/1.1\r\n\r\n")
    assert request.connection == 0
