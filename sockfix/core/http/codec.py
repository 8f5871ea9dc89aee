"""The HTTP/1.1 codec: requests parsed from the bytes :func:`sockfix.framing.http` cuts,
responses encoded to bytes. Pure: no I/O.

Parsing is strict where leniency lets requests be smuggled or misread (RFC 9112): a header
line with whitespace before its colon, an obs-fold continuation line, both Content-Length and
Transfer-Encoding, or conflicting Content-Lengths are errors (:class:`BadRequest`, whose text
names the line or byte and whose ``status`` is the one to answer). CRLF and bare LF line ends
are both read, and empty lines before the request line are skipped (RFC 9112 2.2).

Encoding sends the headers a test gives as given, in order and case, and only adds the framing
headers it did not give, so a test can send a lying ``Content-Length`` on purpose.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from sockfix.core.text import escaped, short

__all__ = [
    "MAX_HEAD",
    "BadRequest",
    "HTTPRequest",
    "Headers",
    "describe_request",
    "encode_response",
    "parse_head",
    "parse_request",
    "reason_phrase",
]

MAX_HEAD = 64 * 1024
"""The largest request head read (request line and headers, with leading empty lines), and
the largest trailer section; a larger one is a 431."""

MAX_CHUNK_LINE = 4096
"""The longest chunk size line (size and extensions) read."""

# The end of a head (or of a trailer section): a line end, then an empty line.
HEAD_END = re.compile(rb"\n\r?\n")

_TCHAR = frozenset(b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_TCHAR_STR = frozenset(map(chr, _TCHAR))
_HEX = frozenset(b"0123456789abcdefABCDEF")
# Whole-field checks in C; the per-byte loops below only run to name the bad byte.
_TOKEN_RE = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_TARGET_RE = re.compile(rb"[\x21-\x7e]+")
_VALUE_RE = re.compile(rb"[^\x00-\x08\x0a-\x1f\x7f]*")
_VERSION = re.compile(rb"HTTP/([0-9])\.([0-9])")
_OUT_VERSION = re.compile(r"HTTP/[0-9]\.[0-9]")
_TLS_HANDSHAKE = 0x16
_ONE_MESSAGE = "pass one message, as cut by sockfix.framing.http()"


class BadRequest(ValueError):
    """The request cannot be parsed: the text says what is wrong in one line, naming the line
    or byte; ``status`` is the response to answer it with (400, or 431 for a head too large,
    501 for a Transfer-Encoding other than chunked, 505 for an HTTP version other than 1.x)."""

    def __init__(self, text: str, status: int = 400) -> None:
        super().__init__(text)
        self.status = status


class Headers(Mapping[str, str]):
    """Case-insensitive on names, keeps order and repeats as received.

    ``headers["content-type"]`` is the value (repeats joined with ``", "``), ``get_all(name)``
    every value in order, ``pairs`` the ``(name, value)`` pairs as received. It compares equal
    to another ``Headers`` with the same pairs (names compared case-insensitively) and to a
    dict with the same names and (joined) values.
    """

    __slots__ = ("_index", "pairs")

    pairs: tuple[tuple[str, str], ...]

    def __init__(self, pairs: Iterable[tuple[str, str]] | Mapping[str, str] = ()) -> None:
        if isinstance(pairs, Mapping):
            items: list[Any] = list(pairs.items())
        elif isinstance(pairs, str | bytes | bytearray):
            raise TypeError(
                f"Headers() takes (name, value) pairs or a dict, got {pairs!r}; "
                "write Headers([('Host', 'example.com')])"
            )
        else:
            items = list(pairs)
        index: dict[str, tuple[str, list[str]]] = {}
        for item in items:
            if not (
                isinstance(item, tuple)
                and len(item) == 2
                and isinstance(item[0], str)
                and isinstance(item[1], str)
            ):
                raise TypeError(
                    f"Headers() takes (name, value) pairs of str, got the item {item!r}; "
                    "write Headers([('Host', 'example.com')])"
                )
            name, value = item
            index.setdefault(name.lower(), (name, []))[1].append(value)
        self.pairs = tuple(items)
        self._index = index

    @classmethod
    def _of(cls, pairs: list[tuple[str, str]]) -> Headers:
        """Headers of pairs already checked (the parser's): no per-item checks."""
        self = cls.__new__(cls)
        index: dict[str, tuple[str, list[str]]] = {}
        for name, value in pairs:
            entry = index.get(low := name.lower())
            if entry is None:
                index[low] = (name, [value])
            else:
                entry[1].append(value)
        self.pairs = tuple(pairs)
        self._index = index
        return self

    def __getitem__(self, name: str) -> str:
        if not isinstance(name, str):
            raise KeyError(name)
        try:
            return ", ".join(self._index[name.lower()][1])
        except KeyError:
            raise KeyError(name) from None

    def get_all(self, name: str) -> list[str]:
        """Every value of ``name``, in the order received (``[]`` when absent)."""
        entry = self._index.get(name.lower())
        return list(entry[1]) if entry else []

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._index

    def __iter__(self) -> Iterator[str]:
        return (first for first, _ in self._index.values())

    def __len__(self) -> int:
        return len(self._index)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Headers):
            return [(n.lower(), v) for n, v in self.pairs] == [
                (n.lower(), v) for n, v in other.pairs
            ]
        if isinstance(other, dict):
            mine = {name.lower(): ", ".join(values) for name, (_, values) in self._index.items()}
            theirs = {str(k).lower(): v for k, v in other.items()}
            return mine == theirs and len(other) == len(theirs)
        return NotImplemented

    def __repr__(self) -> str:
        if len(self.pairs) == len(self._index):
            return f"Headers({dict(self.pairs)!r})"
        return f"Headers({list(self.pairs)!r})"


@dataclass(frozen=True, repr=False)
class HTTPRequest:
    """One parsed HTTP/1.x request (see :func:`parse_request`).

    Two requests are equal when all their fields are; a request hashes by ``raw`` and
    ``connection``, from which the rest follows.
    """

    method: str
    """``"GET"``."""
    target: str
    """The request target as sent: ``"/a/b?x=1"``."""
    path: str
    """The target without its query, percent-encoding kept as sent: ``"/a/b"``."""
    query: dict[str, list[str]]
    """The query, parsed: ``{"x": ["1"]}`` (blank values kept)."""
    version: str
    """``"HTTP/1.1"``."""
    headers: Headers
    body: bytes
    """The body, chunked coding removed."""
    trailers: Headers
    """The trailers of a chunked body (empty otherwise)."""
    raw: bytes
    """The bytes of the request as they came on the wire."""
    connection: int = 0
    """The number of the connection it came on."""

    def __hash__(self) -> int:
        return hash((self.raw, self.connection))

    def __repr__(self) -> str:
        more = f", connection={self.connection}" if self.connection else ""
        return f"HTTPRequest({self.line()!r}, body={short(self.body, 40)}{more})"

    def line(self) -> str:
        """The request line: ``"GET /a/b?x=1 HTTP/1.1"``."""
        return f"{self.method} {self.target} {self.version}"

    @property
    def text(self) -> str:
        """The body as UTF-8 text (undecodable bytes replaced)."""
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON; a ValueError saying so (and showing it) when it is not."""
        if not self.body:
            raise ValueError(f"the body of {self.line()!r} is empty, not JSON")
        try:
            return json.loads(self.body)
        except json.JSONDecodeError as exc:
            reason = f"{exc.msg} at byte {exc.pos}"
        except UnicodeDecodeError as exc:
            reason = f"not UTF-8 at byte {exc.start}"
        raise ValueError(
            f"the body of {self.line()!r} is not JSON ({reason}): {short(self.body[:60])}"
        )

    @property
    def keep_alive(self) -> bool:
        """Whether the connection stays open after the response: HTTP/1.1 unless
        ``Connection: close``; HTTP/1.0 only with ``Connection: keep-alive``."""
        tokens = _tokens(self.headers.get_all("Connection"))
        if self.version == "HTTP/1.0":
            return "keep-alive" in tokens and "close" not in tokens
        return "close" not in tokens

    @property
    def expects_continue(self) -> bool:
        """Whether the client sent ``Expect: 100-continue`` (and waits for it to send the body)."""
        return "100-continue" in _tokens(self.headers.get_all("Expect"))


def _tokens(values: list[str]) -> set[str]:
    """The comma-separated tokens of a list header's values, lowercased."""
    return {token.strip().lower() for value in values for token in value.split(",")}


# -- parsing -------------------------------------------------------------------------------------


def skip_empty_lines(data: bytes | bytearray, start: int, end: int) -> int | None:
    """Where the request line starts after the empty lines at ``data[start:end]``; None when
    the bytes so far are all empty lines (or end in the middle of a CRLF)."""
    p = start
    while p < end:
        c = data[p]
        if c == 0x0A:
            p += 1
        elif c == 0x0D and p + 1 < end and data[p + 1] == 0x0A:
            p += 2
        elif c == 0x0D and p + 1 == end:
            return None
        else:
            return p
    return None


def request_line(line: bytes) -> tuple[str, str, str]:
    """``(method, target, version)`` of a request line given without its line end."""
    method = line.partition(b" ")[0]
    if not method:
        raise BadRequest(
            f"the request line {short(line)} starts with whitespace: expected "
            "METHOD SP TARGET SP VERSION, such as b'GET / HTTP/1.1'"
        )
    check_method(method, line)
    parts = line.split(b" ")
    if len(parts) != 3 or not all(parts):
        raise BadRequest(
            f"malformed request line {short(line)}: expected METHOD SP TARGET SP VERSION "
            "with single spaces, such as b'GET / HTTP/1.1'"
        )
    _, target, version = parts
    match = _VERSION.fullmatch(version)
    if match is None:
        raise BadRequest(
            f"malformed request line {short(line)}: the version {short(version)} is not "
            "HTTP/<digit>.<digit>, such as b'HTTP/1.1'"
        )
    if match.group(1) != b"1":
        raise BadRequest(
            f"HTTP version {version.decode()!r} is not supported: sockfix reads HTTP/1.0 and "
            "HTTP/1.1 requests",
            505,
        )
    for i, c in enumerate(b"" if _TARGET_RE.fullmatch(target) else target):
        if not 0x21 <= c <= 0x7E:
            raise BadRequest(
                f"the request target {short(target)} has the byte {short(bytes([c]))} at byte "
                f"{i}: only visible ASCII is allowed, percent-encode the rest"
            )
    return method.decode("ascii"), target.decode("ascii"), version.decode("ascii")


def check_method(method: bytes | bytearray, line: bytes | bytearray) -> None:
    """Raise :class:`BadRequest` unless ``method`` (or the start of one) is a token."""
    if _TOKEN_RE.fullmatch(method):
        return
    for i, c in enumerate(method):
        if c not in _TCHAR:
            hint = ""
            if line[:1] == bytes([_TLS_HANDSHAKE]):
                hint = " (this looks like TLS: is an https:// client talking to a plain HTTP port?)"
            raise BadRequest(
                f"the method {short(bytes(method), 40)} is not a token: byte {i} is "
                f"{short(bytes([c]))}{hint}"
            )


def check_partial_head(data: bytes | bytearray, p: int, end: int) -> None:
    """Raise :class:`BadRequest` when ``data[p:end]``, the start of a head whose end has not
    arrived, can never become a valid request: its request line is complete and malformed, or
    its first byte cannot begin a method."""
    i = data.find(b"\n", p, end)
    if i >= 0:
        request_line(_line(data, p, i))
    elif p < end and data[p] not in _TCHAR:
        check_method(data[p : min(end, p + 16)], data[p:end])


def _line(data: bytes | bytearray, p: int, i: int) -> bytes:
    """``data[p:i]`` as bytes, one CR before the LF at ``i`` taken off."""
    line = bytes(data[p:i])
    return line[:-1] if line.endswith(b"\r") else line


def _fields(lines: list[bytes], what: str, first: int) -> list[tuple[str, str]]:
    """The ``(name, value)`` pairs of header (or trailer) lines; ``first`` numbers the first."""
    pairs = []
    for k, line in enumerate(lines, first):
        if line[:1] in (b" ", b"\t"):
            raise BadRequest(
                f"{what} line {k} {short(line)} starts with whitespace: an obs-fold "
                "continuation line, which sockfix rejects (RFC 9112 5.2); put the value on "
                "the line of its name"
            )
        name, colon, value = line.partition(b":")
        if not colon:
            raise BadRequest(f"{what} line {k} {short(line)} has no colon: expected Name: value")
        if name != name.rstrip(b" \t"):
            fixed = name.rstrip(b" \t") + b":" + value
            raise BadRequest(
                f"{what} line {k} {short(line)} has whitespace before its colon, which "
                f"RFC 9112 5.1 forbids: write {short(fixed)}"
            )
        if not name:
            raise BadRequest(f"{what} line {k} {short(line)} has an empty name")
        for i, c in enumerate(b"" if _TOKEN_RE.fullmatch(name) else name):
            if c not in _TCHAR:
                raise BadRequest(
                    f"{what} line {k}: the name {short(name)} is not a token: byte {i} is "
                    f"{short(bytes([c]))}"
                )
        value = value.strip(b" \t")
        for i, c in enumerate(b"" if _VALUE_RE.fullmatch(value) else value):
            if (c < 0x20 and c != 0x09) or c == 0x7F:
                raise BadRequest(
                    f"{what} line {k}: the value of {name.decode()!r} has the control byte "
                    f"{short(bytes([c]))} at byte {i} of the value"
                )
        pairs.append((name.decode("ascii"), value.decode("latin-1")))
    return pairs


def _split_lines(data: bytes | bytearray, p: int, q: int) -> list[bytes]:
    """The lines of ``data[p:q]`` (LF-separated), each without its CR."""
    return [line[:-1] if line.endswith(b"\r") else line for line in bytes(data[p:q]).split(b"\n")]


def parse_head(
    data: bytes | bytearray, start: int = 0
) -> tuple[str, str, str, Headers, int] | None:
    """The head of the request at ``data[start:]``, once it has all arrived.

    Returns ``(method, target, version, headers, end)``, where ``end`` is just past the empty
    line ending the head, relative to ``start`` (empty lines before the request line are
    skipped); None while the head is incomplete. Raises :class:`BadRequest` as
    :func:`parse_request` does, also on an incomplete head that can never become valid.
    """
    end = len(data)
    p = skip_empty_lines(data, start, end)
    match = None if p is None else HEAD_END.search(data, p)
    if match is None or match.end() - start > MAX_HEAD:
        if match is None and end - start <= MAX_HEAD:
            if p is not None:
                check_partial_head(data, p, end)
            return None
        raise BadRequest(
            f"the request head is larger than {MAX_HEAD} bytes (sockfix.core.http.codec."
            "MAX_HEAD): send fewer or shorter headers",
            431,
        )
    assert p is not None
    lines = _split_lines(data, p, match.start())
    method, target, version = request_line(lines[0])
    headers = Headers._of(_fields(lines[1:], "head", 2))
    return method, target, version, headers, match.end() - start


def body_length(headers: Headers) -> int | None:
    """The Content-Length of a request with these headers (0 when it has none), or None for a
    chunked body; :class:`BadRequest` when its framing headers are invalid or conflict."""
    codings = headers.get_all("Transfer-Encoding")
    lengths = headers.get_all("Content-Length")
    if codings and lengths:
        raise BadRequest(
            "the request has both Content-Length and Transfer-Encoding: send only one "
            "(RFC 9112 6.3; the two disagreeing is how requests are smuggled)"
        )
    if codings:
        shown = ", ".join(codings)
        tokens = [t.strip().lower() for value in codings for t in value.split(",")]
        tokens = [t for t in tokens if t]
        if tokens == ["chunked"]:
            return None
        if any(t != "chunked" for t in tokens):
            raise BadRequest(
                f"Transfer-Encoding {shown!r} is not supported: sockfix reads only 'chunked'",
                501,
            )
        raise BadRequest(f"Transfer-Encoding {shown!r}: 'chunked' must be given exactly once")
    if not lengths:
        return 0
    found = set()
    for value in lengths:
        for item in value.split(","):
            item = item.strip()
            if not (item.isascii() and item.isdecimal()):
                raise BadRequest(f"Content-Length {value!r} is not a number of bytes")
            if len(item) > 18:
                raise BadRequest(f"Content-Length {value!r} is too large")
            found.add(int(item))
    if len(found) > 1:
        raise BadRequest(f"conflicting Content-Length values {', '.join(lengths)!r}")
    return found.pop()


def chunk_size(line: bytes | bytearray) -> int:
    """The size of a chunk from its size line (without its line end); ``;ext`` is ignored."""
    size = bytes(line).split(b";", 1)[0].rstrip(b" \t")
    if not size or len(size) > 16 or any(c not in _HEX for c in size):
        raise BadRequest(
            f"bad chunk size line {short(bytes(line))}: expected hex digits, optionally then "
            ";extensions, such as b'1a' or b'1a;name=value'"
        )
    return int(size, 16)


def parse_request(raw: bytes | bytearray, connection: int = 0) -> HTTPRequest:
    """Parse one request, exactly as :func:`sockfix.framing.http` cut it.

    ``raw`` is the optional empty lines, the request line, the header lines, the empty line
    and the body (Content-Length bytes, or a chunked body with optional trailers). Anything
    wrong raises :class:`BadRequest` naming it, with the ``status`` to answer.
    """
    data = bytes(raw)
    head = parse_head(data, 0)
    if head is None:
        raise BadRequest(
            f"the request ends before its head does (no empty line after the headers): "
            f"{short(data)}"
        )
    method, target, version, headers, head_end = head
    length = body_length(headers)
    trailers = _NO_TRAILERS
    if length is None:
        body, trailers = _dechunk(data, head_end)
    else:
        got = len(data) - head_end
        if got < length:
            raise BadRequest(f"the body is {got} bytes, short of its Content-Length: {length}")
        if got > length:
            framing = (
                f"the {length}-byte body (Content-Length: {length})"
                if headers.get_all("Content-Length")
                else "the head (no Content-Length or Transfer-Encoding, so no body)"
            )
            raise BadRequest(
                f"{_count(got - length)} after {framing}: {short(data[head_end + length :])}; "
                f"{_ONE_MESSAGE}"
            )
        body = data[head_end:]
    path, query = _split_target(target)
    return HTTPRequest(
        method=method,
        target=target,
        path=path,
        query=query,
        version=version,
        headers=headers,
        body=body,
        trailers=trailers,
        raw=data,
        connection=connection,
    )


_NO_TRAILERS = Headers._of([])  # immutable: one for every request without trailers


def _dechunk(data: bytes, pos: int) -> tuple[bytes, Headers]:
    """The body and trailers of the chunked body at ``data[pos:]``, which must end with it."""
    end = len(data)
    parts: list[bytes] = []
    while True:
        i = data.find(b"\n", pos)
        if i < 0:
            if end - pos > MAX_CHUNK_LINE:
                raise BadRequest(
                    f"the chunk size line at byte {pos} is longer than {MAX_CHUNK_LINE} bytes: "
                    f"{short(data[pos:])}"
                )
            if pos == end:
                raise BadRequest(
                    f"the chunked body ends at byte {pos} before its last chunk, b'0\\r\\n\\r\\n'"
                )
            raise BadRequest(
                f"the chunked body ends inside the chunk size line at byte {pos}: "
                f"{short(data[pos:])}"
            )
        n = chunk_size(_line(data, pos, i))
        pos = i + 1
        if n == 0:
            break
        if end - pos < n:
            raise BadRequest(
                f"the chunked body ends inside the {n}-byte chunk at byte {pos}: only "
                f"{end - pos} bytes of it"
            )
        parts.append(data[pos : pos + n])
        pos += n
        if data.startswith(b"\r\n", pos):
            pos += 2
        elif data.startswith(b"\n", pos):
            pos += 1
        elif pos == end or (pos + 1 == end and data[pos] == 0x0D):
            raise BadRequest(f"the chunked body ends after the {n}-byte chunk at byte {pos - n}")
        else:
            raise BadRequest(
                f"the {n}-byte chunk at byte {pos - n} is not followed by CRLF: got "
                f"{short(data[pos : pos + 8])} after it (is its size right?)"
            )
    trailers: list[tuple[str, str]] = []
    if data.startswith(b"\r\n", pos):
        pos += 2
    elif data.startswith(b"\n", pos):
        pos += 1
    elif data[pos:] in (b"", b"\r"):
        raise BadRequest(
            f"the chunked body ends at byte {pos}, after its last chunk but before the empty "
            "line that ends it (b'\\r\\n')"
        )
    else:
        match = HEAD_END.search(data, pos)
        if match is None:
            if end - pos > MAX_HEAD:
                raise BadRequest(f"the trailers are larger than {MAX_HEAD} bytes", 431)
            raise BadRequest(
                f"the chunked body ends inside its trailers at byte {pos} (no empty line after "
                f"them): {short(data[pos:])}"
            )
        trailers = _fields(_split_lines(data, pos, match.start()), "trailer", 1)
        pos = match.end()
    if pos != end:
        raise BadRequest(
            f"{_count(end - pos)} after the end of the chunked body: {short(data[pos:])}; "
            f"{_ONE_MESSAGE}"
        )
    return b"".join(parts), Headers(trailers)


def _count(n: int) -> str:
    return "1 byte" if n == 1 else f"{n} bytes"


def _split_target(target: str) -> tuple[str, dict[str, list[str]]]:
    """The path and the parsed query of a request target (origin, absolute or other form)."""
    if target.startswith("/") or target == "*":
        path, _, query = target.partition("?")
    elif "://" in target:
        parts = urlsplit(target)
        path, query = parts.path or "/", parts.query
    else:  # authority form (CONNECT host:port)
        path, query = target, ""
    return path, parse_qs(query, keep_blank_values=True)


# -- encoding ------------------------------------------------------------------------------------


def reason_phrase(status: int) -> str:
    """The standard reason phrase of ``status`` (``"Not Found"``), or ``"Unknown"``."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def encode_response(
    status: int,
    headers: Iterable[tuple[str, str | int]] | Mapping[str, str | int] | None = None,
    body: bytes | Sequence[bytes] = b"",
    *,
    transfer: Literal["length", "chunked", "close"] = "length",
    head: bool = False,
    close: bool = False,
    reason: str | None = None,
    version: str = "HTTP/1.1",
) -> bytes:
    """The bytes of a response: status line, headers, empty line, body.

    ``headers`` are sent as given, in order and case; only the framing headers not given are
    added: ``transfer="length"`` adds ``Content-Length``, ``"chunked"`` adds
    ``Transfer-Encoding: chunked`` and chunk-codes the body (a list of bytes is one chunk
    each), ``"close"`` adds none (the body ends with the connection). ``close=True`` (or
    ``transfer="close"``) adds ``Connection: close`` unless a ``Connection`` header is given
    (never on a 1xx, an interim response).
    A given ``Content-Length`` or ``Transfer-Encoding`` sends the body exactly as given, with
    nothing added, so that a test can lie about the length on purpose. 1xx, 204 and 304
    responses have no body and get no framing headers. ``head=True`` answers a HEAD: the
    headers a GET would get, and no body bytes.
    """
    if isinstance(status, bool) or not isinstance(status, int):
        fix = f": write {int(status)}" if isinstance(status, str) and status.isdecimal() else ""
        raise TypeError(f"status must be an int such as 200, got {status!r}{fix}")
    if not 100 <= status <= 599:
        raise ValueError(f"status {status} is not an HTTP status: use 100..599, such as 200")
    if transfer not in ("length", "chunked", "close"):
        raise ValueError(f"transfer must be 'length', 'chunked' or 'close', got {transfer!r}")
    if not isinstance(version, str) or not _OUT_VERSION.fullmatch(version):
        raise ValueError(f"version must be like 'HTTP/1.1', got {version!r}")
    if reason is None:
        reason = reason_phrase(status)
    elif not isinstance(reason, str) or "\r" in reason or "\n" in reason:
        raise ValueError(f"reason must be one line of text, such as 'OK', got {reason!r}")
    pairs = _response_headers(headers)
    chunks = _body_chunks(body, transfer)
    data = b"".join(chunks)
    names = {name.lower() for name, _ in pairs}
    bodiless = status < 200 or status in (204, 304)
    if bodiless and data:
        raise ValueError(
            f"a {status} response has no body, got {len(data)} bytes: drop body= "
            "(1xx, 204 and 304 responses never carry one)"
        )
    user_framed = "content-length" in names or "transfer-encoding" in names
    if not bodiless and not user_framed:
        if transfer == "length":
            pairs.append(("Content-Length", str(len(data))))
        elif transfer == "chunked":
            pairs.append(("Transfer-Encoding", "chunked"))
    if (close or transfer == "close") and status >= 200 and "connection" not in names:
        pairs.append(("Connection", "close"))
    lines = [f"{version} {status} {reason}\r\n"]
    lines += [f"{name}: {value}\r\n" for name, value in pairs]
    lines.append("\r\n")
    out = "".join(lines).encode("latin-1")
    if head or bodiless:
        return out
    if transfer == "chunked" and not user_framed:
        coded = [b"%x\r\n%s\r\n" % (len(chunk), chunk) for chunk in chunks if chunk]
        return out + b"".join(coded) + b"0\r\n\r\n"
    return out + data


def _body_chunks(body: object, transfer: str) -> list[bytes]:
    """``body`` as a list of chunks (one for bytes), checked."""
    if isinstance(body, bytes | bytearray | memoryview):
        return [bytes(body)]
    if isinstance(body, str):
        raise TypeError(f"body must be bytes, not str: write body={body.encode()!r}")
    if isinstance(body, list | tuple):
        for i, chunk in enumerate(body):
            if not isinstance(chunk, bytes | bytearray | memoryview):
                raise TypeError(f"body chunk {i} must be bytes, got {chunk!r}")
        if transfer != "chunked":
            raise ValueError(
                f"a body given as a list of chunks needs transfer='chunked' (one chunk each), "
                f"got transfer={transfer!r}; to send it as one body, write b''.join(chunks)"
            )
        return [bytes(chunk) for chunk in body]
    raise TypeError(f"body must be bytes (or a list of bytes chunks), got {body!r}")


def _response_headers(headers: object) -> list[tuple[str, str]]:
    """The ``(name, value)`` pairs of ``headers``, checked; int values become text."""
    if headers is None:
        return []
    if isinstance(headers, Mapping):
        items: list[Any] = list(headers.items())
    elif isinstance(headers, str | bytes | bytearray) or not isinstance(headers, Iterable):
        raise TypeError(
            f"headers must be a dict or (name, value) pairs, got {headers!r}; "
            "write {'Content-Type': 'text/plain'}"
        )
    else:
        items = list(headers)
    out = []
    for item in items:
        if not (isinstance(item, tuple | list) and len(item) == 2):
            raise TypeError(
                f"headers must be a dict or (name, value) pairs, got the item {item!r}; "
                "write [('Content-Type', 'text/plain')]"
            )
        name, value = item
        if not isinstance(name, str):
            fix = f": write {name.decode('latin-1')!r}" if isinstance(name, bytes) else ""
            raise TypeError(f"header name {name!r} must be str{fix}")
        if "\r" in name or "\n" in name:
            raise ValueError(f"header name {name!r} holds a line break (\\r or \\n)")
        if not name or any(c not in _TCHAR_STR for c in name):
            raise ValueError(
                f"header name {name!r} is not a token: use letters, digits and "
                "!#$%&'*+-.^_`|~, such as 'X-Request-Id'"
            )
        if isinstance(value, bool) or not isinstance(value, str | int):
            fix = f": write {value.decode('latin-1')!r}" if isinstance(value, bytes) else ""
            raise TypeError(f"header {name!r}: the value must be str (or int), got {value!r}{fix}")
        text = str(value)
        if "\r" in text or "\n" in text:
            raise ValueError(
                f"header {name!r}: the value {text!r} holds a line break (\\r or \\n), which "
                "would end the header; send it on one line"
            )
        try:
            text.encode("latin-1")
        except UnicodeEncodeError:
            raise ValueError(
                f"header {name!r}: the value {text!r} is not Latin-1 text; percent-encode it "
                "(urllib.parse.quote) or send ASCII"
            ) from None
        out.append((name, text))
    return out


# -- transcripts ---------------------------------------------------------------------------------


def describe_request(request: HTTPRequest, body_limit: int = 80) -> str:
    """The request for a transcript: its line, each header indented, then its body in short.

    ::

        POST /items HTTP/1.1
          Host: example.com
          Content-Length: 7
          (body 7 B: {"a":1})
    """
    lines = [request.line()]
    lines += [f"  {name}: {value}" for name, value in request.headers.pairs]
    body = request.body
    if body:
        more = "..." if len(body) > body_limit else ""
        lines.append(f"  (body {len(body)} B: {escaped(body[:body_limit])}{more})")
    else:
        lines.append("  (no body)")
    lines += [f"  (trailer) {name}: {value}" for name, value in request.trailers.pairs]
    return "\n".join(lines)
