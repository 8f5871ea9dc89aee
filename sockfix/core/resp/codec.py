"""The Redis serialization protocol, RESP2 and RESP3: values decoded from the bytes
:func:`sockfix.framing.resp` cuts, commands parsed, replies encoded. Pure: no I/O.

:func:`decode` reads one value of any type as a Python value:

====================  ======================================================================
``+OK``               ``str`` (simple string)
``-ERR boom``         :class:`Error` (``!`` bulk errors too)
``:42``, ``(1234``    ``int`` (integer, RESP3 big number)
``$3 foo``            ``bytes`` (bulk string); ``$-1`` is ``None``
``*2 ...``            ``list`` (array); ``*-1`` is ``None``
``_``                 ``None`` (RESP3 null)
``#t``, ``#f``        ``bool``
``,3.14``             ``float`` (``inf``, ``-inf`` and ``nan`` too)
``=15 txt:...``       :class:`Verbatim`, a ``str`` that keeps its 3-letter format
``%1 ...``            ``dict`` (map)
``~2 ...``            ``frozenset`` (set: hashable, so sets nest; it equals a ``set``)
``|1 ... <value>``    the value: an attribute annotating it is read and dropped
``>3 ...``            :class:`Push`
====================  ======================================================================

Lines end with CRLF and lengths are canonical decimals (``0``, ``17``; ``-1`` for the RESP2
nulls), as redis writes them; the streamed forms of RESP3 (``$?``, ``*?``) are not read.
Bad bytes raise :class:`RESPError`, whose text names the byte offset and what was expected;
bytes that stop inside a value raise :class:`Incomplete`.

:func:`parse_command` reads a command as a client sends it (an array of bulk strings, or an
inline command line with redis' quoting), :func:`encode` writes a reply for the protocol the
client negotiated (``HELLO 3`` switches to RESP3), and :func:`describe_command` and
:func:`describe_value` render both for transcripts, as ``redis-cli`` would.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sockfix.core.text import short

__all__ = [
    "MAX_BULK",
    "MAX_COUNT",
    "MAX_DEPTH",
    "MAX_LINE",
    "Error",
    "Incomplete",
    "Push",
    "RESPError",
    "Verbatim",
    "decode",
    "describe_command",
    "describe_value",
    "encode",
    "encode_command",
    "parse_command",
]

MAX_LINE = 64 * 1024
"""The longest line read, its CRLF included: an inline command, a simple string or error, a
number (redis' ``PROTO_INLINE_MAX_SIZE``)."""

MAX_BULK = 512 * 1024 * 1024
"""The largest bulk string (or bulk error, verbatim string) read: redis' default
``proto-max-bulk-len``."""

MAX_COUNT = 2**31 - 1
"""The most elements (pairs, for a map or attribute) an aggregate may announce, as redis."""

MAX_DEPTH = 128
"""The deepest nesting of aggregates read (an attribute counts as one level around the
value it annotates)."""

CR, LF = 0x0D, 0x0A
_PLUS, _MINUS, _COLON, _DOLLAR, _STAR = b"+-:$*"
_UNDERSCORE, _HASH, _COMMA, _PAREN, _BANG = b"_#,(!"
_EQUALS, _PERCENT, _TILDE, _PIPE, _GT = b"=%~|>"

TYPE_NAMES: dict[int, str] = {
    _PLUS: "simple string",
    _MINUS: "error",
    _COLON: "integer",
    _DOLLAR: "bulk string",
    _STAR: "array",
    _UNDERSCORE: "null",
    _HASH: "boolean",
    _COMMA: "double",
    _PAREN: "big number",
    _BANG: "bulk error",
    _EQUALS: "verbatim string",
    _PERCENT: "map",
    _TILDE: "set",
    _PIPE: "attribute",
    _GT: "push",
}
"""The RESP type bytes and what each begins."""

LINE_TYPES = frozenset(b"+-:_#,(")
"""Types whose value is the rest of their line."""
BLOB_TYPES = frozenset(b"$!=")
"""Types with a length line, then that many bytes and CRLF."""
AGGREGATE_TYPES = frozenset(b"*%~|>")
"""Types with a count line, then that many values (twice as many for a map or attribute)."""
_NULLABLE = frozenset(b"$*")  # the RESP2 nulls: $-1 and *-1
_TYPE_LIST = "+ - : $ * _ # , ( ! = % ~ | >"

_LENGTH = re.compile(rb"(-1|0|[1-9][0-9]{0,9})\r\n")
_INTEGER = re.compile(rb"[+-]?[0-9]+")
_DOUBLE = re.compile(rb"[+-]?(?:inf|nan|[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)")
_INT64 = range(-(2**63), 2**63)
_ONE_MESSAGE = "pass one whole message, as cut by sockfix.framing.resp()"


class RESPError(ValueError):
    """Bytes that are not RESP (or not a command): the text names the byte offset and what
    was expected, in one line. ``offset`` is that byte; ``end`` is the offset just past the
    bytes that show the fault (where :func:`sockfix.framing.resp` ends a message)."""

    def __init__(self, text: str, offset: int, end: int | None = None) -> None:
        super().__init__(text)
        self.offset = offset
        self.end = offset + 1 if end is None else end


class Incomplete(Exception):
    """The bytes end inside a value: call again once more have arrived. ``offset`` is where
    they end. Not a :class:`RESPError`: nothing is wrong with the bytes so far."""

    def __init__(self, text: str, offset: int) -> None:
        super().__init__(text)
        self.offset = offset


@dataclass(frozen=True)
class Error:
    """An error reply: ``Error("ERR unknown command")`` is ``-ERR unknown command\\r\\n``.

    A value like any other, so it can sit inside an array (as ``EXEC`` answers).
    """

    message: str

    def __post_init__(self) -> None:
        if not isinstance(self.message, str):
            raise TypeError(
                f"Error(message) takes str, such as Error('ERR boom'), got {self.message!r}"
            )

    @property
    def code(self) -> str:
        """The first word, by convention the kind of error: ``"ERR"``, ``"WRONGTYPE"``."""
        return self.message.split(" ", 1)[0]


@dataclass(frozen=True)
class Push:
    """A RESP3 push (out-of-band) message: ``Push("message", (b"news", b"hello"))`` is
    ``>3`` with the bulk strings ``message``, ``news`` and ``hello``. ``data`` may be given
    as a list; it is kept as a tuple."""

    kind: str
    data: tuple[object, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.kind, str):
            raise TypeError(
                f"Push(kind) takes str, such as Push('message', ...), got {self.kind!r}"
            )
        if isinstance(self.data, list):
            object.__setattr__(self, "data", tuple(self.data))
        elif not isinstance(self.data, tuple):
            raise TypeError(
                f"Push(data) takes a tuple or list of values, got {self.data!r}; "
                f"write Push({self.kind!r}, [{self.data!r}])"
            )


class Verbatim(str):
    """A RESP3 verbatim string: its text, and its 3-letter ``encoding`` (the RESP3 spec's
    name for its format: ``"txt"`` or ``"mkd"``).

    A ``str``, equal to its text whatever the encoding, so ``INFO`` answers compare as text.
    """

    encoding: str

    def __new__(cls, text: str, encoding: str = "txt") -> Verbatim:
        if not isinstance(text, str):
            raise TypeError(f"Verbatim(text) takes str, got {text!r}")
        if not (
            isinstance(encoding, str)
            and len(encoding) == 3
            and encoding.isascii()
            and encoding.isprintable()
            and " " not in encoding
            and ":" not in encoding
        ):
            raise ValueError(
                "Verbatim(encoding) takes 3 printable ASCII characters other than space and "
                f"colon, such as 'txt' or 'mkd', got {encoding!r}"
            )
        self = super().__new__(cls, text)
        self.encoding = encoding
        return self

    def __repr__(self) -> str:
        return f"Verbatim({str(self)!r}, encoding={self.encoding!r})"


# -- reading the parts of a value -----------------------------------------------------------------
#
# These take any buffer with ``find`` and item access (bytes, bytearray) and absolute offsets,
# so that the framing scanner (sockfix.core.resp.scan) reads exactly what decode() reads.

Buffer = bytes | bytearray


def _byte(buf: Buffer, i: int) -> str:
    return short(bytes(buf[i : i + 1]))


def _limit(kind: int) -> int:
    return MAX_BULK if kind in BLOB_TYPES else MAX_COUNT


def length_line(buf: Buffer, p: int, end: int) -> tuple[int, int]:
    """The length (or count) on the line at ``buf[p]``, a blob or aggregate type byte, and
    the offset just past its CRLF.

    Raises :class:`Incomplete` when ``buf[:end]`` stops first, and :class:`RESPError` at the
    first byte that no valid line has there (so its ``end`` is just past that byte).
    """
    kind = buf[p]
    match = _LENGTH.match(buf, p + 1, min(end, p + 14))
    if match is not None:
        n = int(match.group(1))
        if n <= _limit(kind) and (n >= 0 or kind in _NULLABLE):
            return n, match.end()
    return _length_line_slowly(buf, p, end, kind)


def _length_line_slowly(buf: Buffer, p: int, end: int, kind: int) -> tuple[int, int]:
    """:func:`length_line`, one byte at a time: finds where an incomplete or bad line stops."""
    name = TYPE_NAMES[kind]
    limit = _limit(kind)
    i = p + 1
    value = 0
    if i < end and buf[i] == _MINUS and kind in _NULLABLE:
        i += 1
        if i < end and buf[i] != ord("1"):
            raise RESPError(
                f"byte {i}: expected b'1' after the b'-' in the length of the {name} at byte "
                f"{p}, got {_byte(buf, i)}: the only negative length is -1 (null)",
                i,
            )
        i += 1
        value = -1
    elif i < end and buf[i] == ord("0"):
        i += 1
        if i < end and 0x30 <= buf[i] <= 0x39:
            raise RESPError(
                f"byte {i}: the length of the {name} at byte {p} has a leading zero: "
                f"expected CRLF after b'0', got {_byte(buf, i)}",
                i,
            )
    else:
        first = i
        while i < end and 0x30 <= buf[i] <= 0x39:
            value = value * 10 + buf[i] - 0x30
            if value > limit:
                unit = "bytes" if kind in BLOB_TYPES else "elements"
                raise RESPError(
                    f"byte {i}: the {name} at byte {p} is longer than sockfix reads: "
                    f"at most {limit} {unit}",
                    i,
                )
            i += 1
        if i == first and i < end:
            if buf[i] == ord("?"):
                raise RESPError(
                    f"byte {i}: the {name} at byte {p} is streamed ({chr(kind)}?), which "
                    "sockfix does not read: send its length",
                    i,
                )
            null = ", or -1 for null" if kind in _NULLABLE else ""
            raise RESPError(
                f"byte {i}: expected the length of the {name} at byte {p} (digits{null}), "
                f"got {_byte(buf, i)}",
                i,
            )
    if i < end and buf[i] != CR:
        raise RESPError(
            f"byte {i}: expected CRLF (b'\\r\\n') after the length of the {name} at byte {p}, "
            f"got {_byte(buf, i)}",
            i,
        )
    if i + 1 < end and buf[i + 1] != LF:
        raise RESPError(
            f"byte {i + 1}: expected CRLF (b'\\r\\n') after the length of the {name} at byte "
            f"{p}, got {short(bytes(buf[i : i + 2]))}",
            i + 1,
        )
    if i + 1 >= end:
        raise _incomplete(kind, p, end)
    return value, i + 2


def line_end(buf: Buffer, p: int, end: int, resume: int = 0) -> int:
    """The offset just past the line at ``buf[p]`` (a :data:`LINE_TYPES` byte), checked.

    The search for its LF starts at ``resume`` when that is further on (the scanner's place
    from an earlier call). Raises :class:`Incomplete` while the line has no LF within
    ``buf[:end]``; :class:`RESPError` (``end`` just past the LF) when the line is bad, or
    when it has no LF within :data:`MAX_LINE` bytes (``end`` at that many bytes).
    """
    kind = buf[p]
    hi = min(end, p + MAX_LINE)
    i = buf.find(b"\n", max(p + 1, resume), hi)
    if i < 0:
        if hi == p + MAX_LINE:
            raise RESPError(
                f"the {TYPE_NAMES[kind]} line at byte {p} has no line end within {MAX_LINE} bytes",
                p,
                hi,
            )
        raise _incomplete(kind, p, end)
    _check_line(buf, p, i, kind)
    return i + 1


_LINE_EXPECTED = {
    _COLON: "digits with an optional sign, such as b':42\\r\\n'",
    _PAREN: "digits with an optional sign, such as b'(3492890328409238509324850943850943825\\r\\n'",
    _COMMA: "a number such as b',3.14\\r\\n', b',1e-05\\r\\n', b',inf\\r\\n' or b',nan\\r\\n'",
    _UNDERSCORE: "nothing before the CRLF: b'_\\r\\n'",
    _HASH: "b'#t\\r\\n' or b'#f\\r\\n'",
}


def _check_line(buf: Buffer, p: int, i: int, kind: int) -> None:
    """Raise :class:`RESPError` unless the line ``buf[p : i + 1]`` (``i`` its LF) is valid."""
    name = TYPE_NAMES[kind]
    if buf[i - 1] != CR:
        raise RESPError(
            f"byte {i}: the {name} line at byte {p} ends with a bare LF: expected CRLF (b'\\r\\n')",
            i,
        )
    body = bytes(buf[p + 1 : i - 1])
    if kind in (_PLUS, _MINUS):
        k = body.find(b"\r")
        if k >= 0:
            instead = "bulk string ($)" if kind == _PLUS else "bulk error (!)"
            raise RESPError(
                f"byte {p + 1 + k}: the {name} at byte {p} holds a CR, which it cannot "
                f"(it would end the line): send a {instead}",
                p + 1 + k,
                i + 1,
            )
        return
    if kind in (_COLON, _PAREN):
        ok = _INTEGER.fullmatch(body) is not None
    elif kind == _COMMA:
        ok = _DOUBLE.fullmatch(body) is not None
    elif kind == _UNDERSCORE:
        ok = not body
    else:
        ok = body in (b"t", b"f")
    if not ok:
        raise RESPError(
            f"the {name} at byte {p} is {short(body)}: expected {_LINE_EXPECTED[kind]}", p, i + 1
        )


def blob_end(buf: Buffer, q: int, n: int, end: int, p: int) -> int:
    """The offset just past the ``n`` bytes at ``buf[q:]`` and the CRLF after them: the end
    of the blob whose length line starts at ``p``. :class:`Incomplete` while they have not
    all arrived; :class:`RESPError` at the first byte where the CRLF is not."""
    stop = q + n
    if end <= stop:
        raise _incomplete(buf[p], p, end)
    if buf[stop] != CR or (stop + 1 < end and buf[stop + 1] != LF):
        bad = stop if buf[stop] != CR else stop + 1
        raise RESPError(
            f"byte {bad}: expected CRLF (b'\\r\\n') after the {n} bytes of the "
            f"{TYPE_NAMES[buf[p]]} at byte {p}, got {short(bytes(buf[stop : bad + 1]))} "
            "(is its length right?)",
            bad,
        )
    if end <= stop + 1:
        raise _incomplete(buf[p], p, end)
    return stop + 2


def depth_error(kind: int, p: int, nxt: int) -> RESPError:
    """The aggregate at ``p`` (its count line ending at ``nxt``) opens one level too many."""
    return RESPError(
        f"the {TYPE_NAMES[kind]} at byte {p} is nested {MAX_DEPTH + 1} levels deep: sockfix "
        f"reads at most {MAX_DEPTH}",
        p,
        nxt,
    )


def type_error(buf: Buffer, p: int, hint: str = "") -> RESPError:
    """``buf[p]`` should begin a value and does not."""
    return RESPError(
        f"byte {p}: expected a RESP type byte ({_TYPE_LIST}), got {_byte(buf, p)}{hint}", p
    )


def _incomplete(kind: int, p: int, end: int) -> Incomplete:
    name = TYPE_NAMES[kind]
    return Incomplete(f"the data ends at byte {end}, inside the {name} at byte {p}", end)


# -- decoding --------------------------------------------------------------------------------------


def decode(data: bytes | bytearray, start: int = 0) -> tuple[object, int]:
    """The value at ``data[start:]`` and the offset just past it (see the module's table).

    Raises :class:`RESPError` when the bytes are not RESP (or hold something sockfix cannot
    give as Python: text that is not UTF-8, a map key or set member that is a list or dict),
    and :class:`Incomplete` when they stop inside the value: call again with more.
    """
    if isinstance(data, memoryview):
        data = bytes(data)
    if not isinstance(data, bytes | bytearray):
        raise TypeError(f"decode() takes bytes, got {data!r}")
    if isinstance(start, bool) or not isinstance(start, int) or not 0 <= start <= len(data):
        raise ValueError(f"decode(start=) must be an offset in 0..{len(data)}, got {start!r}")
    if start < len(data) and data[start] not in TYPE_NAMES:
        raise type_error(
            data, start, ": an inline command such as b'PING\\r\\n' is read by parse_command()"
        )
    return _read(data, start, len(data), 0)


def _read(buf: Buffer, p: int, end: int, depth: int) -> tuple[object, int]:
    """The value at ``buf[p]`` inside ``depth`` open aggregates, and the offset past it."""
    if p >= end:
        raise Incomplete(f"the data ends at byte {end}, where a value should start", end)
    kind = buf[p]
    if kind in LINE_TYPES:
        q = line_end(buf, p, end)
        body = bytes(buf[p + 1 : q - 2])
        if kind == _PLUS:
            return _text(body, kind, p, p + 1, q), q
        if kind == _MINUS:
            return Error(_text(body, kind, p, p + 1, q)), q
        if kind in (_COLON, _PAREN):
            return int(body), q
        if kind == _COMMA:
            return float(body), q
        if kind == _UNDERSCORE:
            return None, q
        return body == b"t", q
    if kind in BLOB_TYPES:
        n, q = length_line(buf, p, end)
        if n < 0:
            return None, q
        r = blob_end(buf, q, n, end, p)
        payload = bytes(buf[q : q + n])
        if kind == _DOLLAR:
            return payload, r
        if kind == _BANG:
            return Error(_text(payload, kind, p, q, r)), r
        return _verbatim(payload, p, q, r), r
    if kind not in AGGREGATE_TYPES:
        raise type_error(buf, p)
    n, q = length_line(buf, p, end)
    if n < 0:
        return None, q
    if (n or kind == _PIPE) and depth >= MAX_DEPTH:
        raise depth_error(kind, p, q)
    inner = depth + 1
    if kind == _STAR:
        items = []
        for _ in range(n):
            value, q = _read(buf, q, end, inner)
            items.append(value)
        return items, q
    if kind == _PERCENT:
        mapping: dict[Any, object] = {}
        for _ in range(n):
            at = q
            key, q = _read(buf, q, end, inner)
            _hashable(key, "map key", at, q)
            mapping[key], q = _read(buf, q, end, inner)
        return mapping, q
    if kind == _TILDE:
        members = []
        for _ in range(n):
            at = q
            member, q = _read(buf, q, end, inner)
            members.append(_hashable(member, "set member", at, q))
        return frozenset(members), q
    if kind == _PIPE:
        for _ in range(2 * n):
            _, q = _read(buf, q, end, inner)
        return _read(buf, q, end, inner)
    items = []
    for _ in range(n):
        value, q = _read(buf, q, end, inner)
        items.append(value)
    if not items:
        raise RESPError(
            f"the push at byte {p} is empty: expected its kind first, such as b'message'", p, q
        )
    first = items[0]
    if isinstance(first, bytes):
        first = _text(first, _GT, p, p, q)
    if not isinstance(first, str):
        raise RESPError(
            f"the push at byte {p} starts with {describe_value(first)}: expected its kind, "
            "a string such as b'message'",
            p,
            q,
        )
    return Push(str(first), tuple(items[1:])), q


def _text(data: bytes, kind: int, p: int, at: int, end: int) -> str:
    """``data`` (which starts at byte ``at``) as UTF-8 text, for the value at ``p``."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RESPError(
            f"byte {at + exc.start}: the {TYPE_NAMES[kind]} at byte {p} is not UTF-8 text: "
            f"{short(data)}",
            at + exc.start,
            end,
        ) from None


def _verbatim(payload: bytes, p: int, q: int, end: int) -> Verbatim:
    fmt = payload[:3]
    if (
        len(payload) < 4
        or payload[3] != _COLON
        or not all(0x20 < c < 0x7F and c != _COLON for c in fmt)
    ):
        raise RESPError(
            f"the verbatim string at byte {p} is {short(payload)}: expected a 3-letter format "
            "and a colon before its text, such as b'txt:'",
            q,
            end,
        )
    return Verbatim(_text(payload[4:], _EQUALS, p, q + 4, end), fmt.decode("ascii"))


def _hashable(value: object, what: str, p: int, end: int) -> object:
    try:
        hash(value)
    except TypeError:
        raise RESPError(
            f"the {what} at byte {p} is a {type(value).__name__}: sockfix reads maps as dicts "
            "and sets as frozensets, which hold only hashable values (strings, numbers, null, "
            "sets)",
            p,
            end,
        ) from None
    return value


# -- commands --------------------------------------------------------------------------------------


# The shape nearly every client sends: an array of bulk strings, each length canonical. Read
# with two anchored regexes; anything else (or anything cut short) takes the careful path.
_ARRAY_HEAD = re.compile(rb"\*([1-9][0-9]{0,8})\r\n")
_BULK_HEAD = re.compile(rb"\$(0|[1-9][0-9]{0,9})\r\n")


def fast_command_length(buf: Buffer, start: int) -> int | None:
    """The length of the array of bulk strings complete at ``buf[start:]``; None when the
    bytes there are anything else or not all in (the careful path then decides)."""
    m = _ARRAY_HEAD.match(buf, start)
    if m is None:
        return None
    bulk = _BULK_HEAD.match
    end = len(buf)
    pos = m.end()
    for _ in range(int(m.group(1))):
        m = bulk(buf, pos)
        if m is None:
            return None
        pos = m.end() + int(m.group(1))
        if pos + 2 > end or buf[pos] != 0x0D or buf[pos + 1] != 0x0A:
            return None
        pos += 2
    return pos - start


def _fast_command(data: bytes) -> list[bytes] | None:
    """``parse_command`` of an array of bulk strings that is the whole message, or None."""
    m = _ARRAY_HEAD.match(data)
    if m is None:
        return None
    bulk = _BULK_HEAD.match
    end = len(data)
    pos = m.end()
    args = []
    for _ in range(int(m.group(1))):
        m = bulk(data, pos)
        if m is None:
            return None
        a = m.end()
        pos = a + int(m.group(1))
        if pos + 2 > end or data[pos] != 0x0D or data[pos + 1] != 0x0A:
            return None
        args.append(data[a:pos])
        pos += 2
    return args if pos == end else None


def parse_command(message: bytes | bytearray) -> list[bytes]:
    """The arguments of one command, exactly as :func:`sockfix.framing.resp` cut it:
    ``b"*2\\r\\n$3\\r\\nGET\\r\\n$1\\r\\nk\\r\\n"`` is ``[b"GET", b"k"]``; never empty.

    A command is an array of bulk strings, or an inline command: a line (``b"PING\\r\\n"``)
    split at spaces with redis' quoting: ``"a b"`` with the escapes ``\\n \\r \\t \\b \\a
    \\xHH``, ``'a b'`` with only ``\\'``; a NUL byte ends the line. Empty lines (only spaces)
    before either belong to it and are skipped, as redis skips them. Anything else raises
    :class:`RESPError` naming the byte: an empty or null array, an argument that is not a
    bulk string (or is the null ``$-1``), unbalanced quotes, bytes after the command, a
    message cut short.
    """
    if isinstance(message, memoryview):
        message = bytes(message)
    if not isinstance(message, bytes | bytearray):
        raise TypeError(f"parse_command() takes bytes, got {message!r}")
    data = bytes(message)
    args = _fast_command(data)
    if args is not None:
        return args
    p = skip_empty_lines(data, 0, min(len(data), MAX_LINE))
    if p is None:
        what = "an empty message" if not data else "a message of empty lines"
        raise RESPError(f"{what} is not a command: {_ONE_MESSAGE}", 0, len(data))
    first = data[p]
    if first == _STAR:
        return _array_command(data, p)
    if first in TYPE_NAMES:
        raise RESPError(
            f"byte {p}: expected a command, an array of bulk strings (b'*') or an inline "
            f"command, got {_a(TYPE_NAMES[first])} ({short(data[p : p + 1])})",
            p,
        )
    return _inline_command(data, p)


def skip_empty_lines(buf: Buffer, p: int, end: int) -> int | None:
    """Where the first line of ``buf[p:end]`` that is not empty (or all blanks, which redis
    skips) starts; None when there is no such line, or it has not ended yet."""
    while p < end:
        if buf[p] not in _BLANK:
            return p
        i = buf.find(b"\n", p, end)
        if i < 0:
            break
        line = bytes(buf[p:i])
        if line.strip(_BLANK_BYTES):
            return p
        p = i + 1
    return None


def _array_command(data: bytes, p: int) -> list[bytes]:
    end = len(data)
    args: list[bytes] = []
    try:
        n, q = length_line(data, p, end)
        if n <= 0:
            raise RESPError(
                f"byte {p}: the command is {'an empty' if n == 0 else 'a null'} array "
                f"{short(data[p:q])}: a command is an array of its name and arguments, such "
                "as b'*1\\r\\n$4\\r\\nPING\\r\\n'",
                p,
                q,
            )
        p = q
        for k in range(1, n + 1):
            if p >= end:
                raise Incomplete(f"the data ends at byte {end}, before argument {k}", end)
            c = data[p]
            if c != _DOLLAR:
                got = _a(TYPE_NAMES[c]) if c in TYPE_NAMES else _byte(data, p)
                raise RESPError(
                    f"byte {p}: expected a bulk string (b'$') for argument {k} of the "
                    f"command, got {got}",
                    p,
                )
            size, q = length_line(data, p, end)
            if size < 0:
                raise RESPError(
                    f"byte {p}: argument {k} of the command is the null bulk string "
                    "(b'$-1'): arguments are bulk strings of 0 or more bytes",
                    p,
                    q,
                )
            p = blob_end(data, q, size, end, p)
            args.append(data[q : q + size])
    except Incomplete as exc:
        raise RESPError(f"the command is cut short: {exc}; {_ONE_MESSAGE}", end, end) from None
    if p != end:
        raise RESPError(
            f"{_count(end - p)} after the command, at byte {p}: {short(data[p:])}; {_ONE_MESSAGE}",
            p,
            end,
        )
    return args


def _inline_command(data: bytes, p: int) -> list[bytes]:
    end = len(data)
    nl = data.find(b"\n", p, MAX_LINE)
    if nl < 0:
        if end >= MAX_LINE:
            raise RESPError(
                f"the inline command {short(data[p : p + 40])} at byte {p} has no line end "
                f"within {MAX_LINE} bytes",
                p,
                MAX_LINE,
            )
        raise RESPError(
            f"the inline command {short(data[p:])} at byte {p} has no line end (b'\\n'); "
            f"{_ONE_MESSAGE}",
            end,
            end,
        )
    if nl + 1 != end:
        raise RESPError(
            f"{_count(end - nl - 1)} after the inline command, at byte {nl + 1}: "
            f"{short(data[nl + 1 :])}; {_ONE_MESSAGE}",
            nl + 1,
            end,
        )
    line = data[p:nl]
    if line.endswith(b"\r"):
        line = line[:-1]
    args = _split_args(line, p)
    if not args:
        raise RESPError(
            f"the inline command {short(line)} at byte {p} has no arguments (a NUL byte ends "
            "the line)",
            p,
            end,
        )
    return args


_BLANK_BYTES = b" \t\n\v\f\r"  # C isspace()
_BLANK = frozenset(_BLANK_BYTES)
_ARG_END = frozenset(b" \t\n\r")
_QUOTE, _APOSTROPHE, _BACKSLASH = b"\"'\\"
_ESCAPES = {ord("n"): 0x0A, ord("r"): 0x0D, ord("t"): 0x09, ord("b"): 0x08, ord("a"): 0x07}
_HEX = frozenset(b"0123456789abcdefABCDEF")


def _split_args(line: bytes, base: int) -> list[bytes]:
    """The arguments of an inline command's line (without its line end, starting at byte
    ``base`` of the message): redis' ``sdssplitargs``."""
    nul = line.find(b"\0")
    if nul >= 0:
        line = line[:nul]
    n = len(line)
    args: list[bytes] = []
    i = 0
    while True:
        while i < n and line[i] in _BLANK:
            i += 1
        if i >= n:
            return args
        arg = bytearray()
        while i < n and line[i] not in _ARG_END:
            c = line[i]
            if c in (_QUOTE, _APOSTROPHE):
                i = _quoted(line, i, arg, base)
                break
            arg.append(c)
            i += 1
        args.append(bytes(arg))


def _quoted(line: bytes, q: int, arg: bytearray, base: int) -> int:
    """Append the quoted part starting at ``line[q]`` (its quote) to ``arg``; the offset past
    its closing quote."""
    n = len(line)
    quote = line[q]
    i = q + 1
    while i < n:
        c = line[i]
        if c == _BACKSLASH and quote == _QUOTE and i + 1 < n:
            if line[i + 1] == ord("x") and i + 3 < n and {line[i + 2], line[i + 3]} <= _HEX:
                arg.append(int(line[i + 2 : i + 4], 16))
                i += 4
                continue
            arg.append(_ESCAPES.get(line[i + 1], line[i + 1]))
            i += 2
        elif c == _BACKSLASH and quote == _APOSTROPHE and line[i + 1 : i + 2] == b"'":
            arg.append(_APOSTROPHE)
            i += 2
        elif c == quote:
            if i + 1 < n and line[i + 1] not in _BLANK:
                raise RESPError(
                    f"byte {base + i + 1}: expected a space or the line end after the closing "
                    f"quote at byte {base + i} of the inline command {short(line)}, got "
                    f"{_byte(line, i + 1)}",
                    base + i + 1,
                )
            return i + 1
        else:
            arg.append(c)
            i += 1
    raise RESPError(
        f"byte {base + q}: unbalanced quotes in the inline command {short(line)}: the quote "
        f"at byte {base + q} is never closed",
        base + q,
        base + n,
    )


def _a(name: str) -> str:
    return f"an {name}" if name[0] in "aeiou" else f"a {name}"


def _count(n: int) -> str:
    return "1 byte" if n == 1 else f"{n} bytes"


def encode_command(*args: bytes | str | int) -> bytes:
    """A command as a client sends it, an array of bulk strings:
    ``encode_command("GET", "k")`` is ``b"*2\\r\\n$3\\r\\nGET\\r\\n$1\\r\\nk\\r\\n"``.

    str is sent as UTF-8 and int as its digits, as redis-py does.
    """
    if not args:
        raise ValueError("encode_command() needs at least the command name, such as 'PING'")
    parts = [b"*%d\r\n" % len(args)]
    for i, arg in enumerate(args):
        if isinstance(arg, bytes | bytearray | memoryview):
            data = bytes(arg)
        elif isinstance(arg, str):
            data = arg.encode("utf-8")
        elif isinstance(arg, int) and not isinstance(arg, bool):
            data = b"%d" % arg
        else:
            raise TypeError(
                f"encode_command(): argument {i} must be bytes, str or int, got {arg!r}"
                + ("; write 1 or 0" if isinstance(arg, bool) else "")
            )
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


# -- encoding --------------------------------------------------------------------------------------


def encode(value: object, protocol: int = 2) -> bytes:
    """``value`` as RESP for ``protocol`` (2, or 3 once the client sent ``HELLO 3``).

    ==========================  ===========================  ==============================
    Python                      RESP2                        RESP3
    ==========================  ===========================  ==============================
    bytes, bytearray            bulk string ``$``            bulk string ``$``
    str                         simple string ``+``          simple string ``+``
    :class:`Verbatim`           bulk string ``$``            verbatim string ``=``
    int                         integer ``:``                integer ``:``
    int outside 64 bits         bulk string of its digits    big number ``(``
    bool                        ``:1`` / ``:0``              ``#t`` / ``#f``
    float                       bulk string ``$4 3.14``      double ``,3.14`` (``inf``, ``nan``)
    None                        null bulk string ``$-1``     null ``_``
    list, tuple                 array ``*``                  array ``*``
    dict                        array of keys and values     map ``%``
    set, frozenset              array ``*``                  set ``~``
    :class:`Error`              error ``-``                  error ``-``
    :class:`Push`               ValueError                   push ``>``
    ==========================  ===========================  ==============================

    As redis does, RESP2 sends a float and a big int as bulk strings. Aggregates are encoded
    recursively; a set's members in sorted order when they sort (else in iteration order). A
    str or :class:`Error` holding CR or LF raises ValueError (send bytes, a bulk string); any
    other type raises TypeError.
    """
    if isinstance(protocol, bool) or protocol not in (2, 3):
        raise ValueError(
            f"protocol must be 2 or 3 (3 once the client sent HELLO 3), got {protocol!r}"
        )
    out: list[bytes] = []
    _encode(value, protocol == 3, out)
    return b"".join(out)


def _encode(value: object, resp3: bool, out: list[bytes]) -> None:
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    elif isinstance(value, Verbatim):
        text = value.encode("utf-8")
        if resp3:
            out.append(b"=%d\r\n%s:%s\r\n" % (len(text) + 4, value.encoding.encode(), text))
        else:
            out.append(b"$%d\r\n%s\r\n" % (len(text), text))
    elif isinstance(value, str):
        out.append(b"+%s\r\n" % _one_line(value, "the simple string"))
    elif isinstance(value, bool):
        if resp3:
            out.append(b"#t\r\n" if value else b"#f\r\n")
        else:
            out.append(b":1\r\n" if value else b":0\r\n")
    elif isinstance(value, int):
        if value in _INT64:
            out.append(b":%d\r\n" % value)
        elif resp3:
            out.append(b"(%d\r\n" % value)
        else:
            digits = b"%d" % value
            out.append(b"$%d\r\n%s\r\n" % (len(digits), digits))
    elif isinstance(value, float):
        text = _double(value)
        out.append(b",%s\r\n" % text if resp3 else b"$%d\r\n%s\r\n" % (len(text), text))
    elif value is None:
        out.append(b"_\r\n" if resp3 else b"$-1\r\n")
    elif isinstance(value, Error):
        out.append(b"-%s\r\n" % _one_line(value.message, "the error message"))
    elif isinstance(value, list | tuple):
        _aggregate(b"*", len(value), value, resp3, out)
    elif isinstance(value, dict):
        out.append(b"%%%d\r\n" % len(value) if resp3 else b"*%d\r\n" % (2 * len(value)))
        for key, item in value.items():
            _encode(key, resp3, out)
            _encode(item, resp3, out)
    elif isinstance(value, set | frozenset):
        _aggregate(b"~" if resp3 else b"*", len(value), _ordered(value), resp3, out)
    elif isinstance(value, Push):
        if not resp3:
            raise ValueError(
                f"{value!r} is a RESP3 push, which RESP2 does not have: in RESP2 pub/sub "
                "messages are arrays, such as [b'message', b'news', b'hello']"
            )
        _aggregate(b">", len(value.data) + 1, (value.kind.encode(), *value.data), resp3, out)
    else:
        raise TypeError(
            f"encode() cannot send {type(value).__name__} {value!r}: use bytes (a bulk string), "
            "str (a simple string), int, float, bool, None, a list or tuple, dict, set, "
            "sockfix.core.resp.codec.Error or Push"
        )


def _aggregate(head: bytes, n: int, items: Iterable[object], resp3: bool, out: list[bytes]) -> None:
    out.append(b"%s%d\r\n" % (head, n))
    for item in items:
        _encode(item, resp3, out)


def _one_line(text: str, what: str) -> bytes:
    if "\r" in text or "\n" in text:
        raise ValueError(
            f"{what} {text!r} holds a CR or LF, which would end its line: send bytes (a bulk "
            "string) instead"
        )
    return text.encode("utf-8")


def _double(value: float) -> bytes:
    if math.isnan(value):
        return b"nan"
    if math.isinf(value):
        return b"inf" if value > 0 else b"-inf"
    return repr(value).encode("ascii")


def _ordered(values: Iterable[object]) -> list[object]:
    """``values`` sorted when they sort (so that a set's bytes do not depend on hashing)."""
    items = list(values)
    try:
        return sorted(items)  # type: ignore[type-var]
    except TypeError:
        return items


# -- transcripts -----------------------------------------------------------------------------------

ARG_LIMIT = 40
"""The characters of an argument (or string) shown before it is cut."""
SHOWN = 10
"""The arguments of a command (elements of an aggregate) shown before ``... (N more)``."""
VALUE_LIMIT = 200
"""The longest :func:`describe_value` line."""

_CHAR_ESCAPES = {
    "\\": "\\\\",
    '"': '\\"',
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\a": "\\a",
    "\b": "\\b",
}


def describe_command(args: Sequence[bytes]) -> str:
    """A command for a transcript, as you would type it into ``redis-cli``:
    ``GET user:1``, ``SET k "a b"``, ``SET k "\\x00\\xff"``.

    An argument is shown as it is when it is printable UTF-8 without spaces or quotes, else in
    double quotes with escapes; one longer than 40 characters is cut, ``"aaaa..." (1000
    bytes)``; after 10 arguments the rest are counted, ``... (5 more)``.
    """
    if not args:
        return "(empty command)"
    shown = [_argument(bytes(arg)) for arg in args[:SHOWN]]
    if len(args) > SHOWN:
        shown.append(f"... ({len(args) - SHOWN} more)")
    return " ".join(shown)


def _argument(data: bytes) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return _quoted_text(data)
    if text and text.isprintable() and not any(ch in " \"'" for ch in text):
        if len(text) > ARG_LIMIT:
            return f"{text[:ARG_LIMIT]}... ({len(data)} bytes)"
        return text
    return _quoted_text(data)


def _quoted_text(data: bytes) -> str:
    """``data`` in double quotes, escaped as redis-cli does, cut after :data:`ARG_LIMIT`
    characters."""
    text = data.decode("utf-8", "surrogateescape")
    if len(text) > ARG_LIMIT:
        return f'"{_escape(text[:ARG_LIMIT])}..." ({len(data)} bytes)'
    return f'"{_escape(text)}"'


def _escape(text: str) -> str:
    out = []
    for ch in text:
        if ch in _CHAR_ESCAPES:
            out.append(_CHAR_ESCAPES[ch])
        elif "\udc80" <= ch <= "\udcff":  # an undecodable byte (surrogateescape)
            out.append(f"\\x{ord(ch) - 0xDC00:02x}")
        elif ch.isprintable():
            out.append(ch)
        else:
            out += [f"\\x{b:02x}" for b in ch.encode("utf-8", "surrogatepass")]
    return "".join(out)


def describe_value(value: object) -> str:
    """A value (a reply) for a transcript, on one line, as ``redis-cli`` shows it:
    ``OK`` (a simple string), ``"bar"`` (a bulk string), ``(integer) 42``, ``(nil)``,
    ``(error) ERR boom``, ``(true)``, ``(double) 3.14``, ``1) "a" 2) "b"`` (an array; one
    nested in it in brackets), ``1# "k" => "v"`` (a map), ``1~ "a"`` (a set),
    ``(push message) 1) "news"``. Cut at 200 characters.
    """
    text = _show(value)
    return text if len(text) <= VALUE_LIMIT else text[: VALUE_LIMIT - 3] + "..."


def _show(value: object, nested: bool = False) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return _quoted_text(bytes(value))
    if isinstance(value, Verbatim):
        return _quoted_text(value.encode("utf-8"))
    if isinstance(value, str):
        return _escape(value)
    if isinstance(value, bool):
        return "(true)" if value else "(false)"
    if isinstance(value, int):
        return f"(integer) {value}"
    if isinstance(value, float):
        return f"(double) {value!r}"
    if value is None:
        return "(nil)"
    if isinstance(value, Error):
        return f"(error) {_show(value.message)}"
    if isinstance(value, Push):
        items = _items(value.data, ")")
        return f"(push {_show(value.kind)})" + (f" {items}" if items else "")
    if isinstance(value, list | tuple):
        text = _items(value, ")") or "(empty array)"
    elif isinstance(value, dict):
        pairs = [f"{_show(k, True)} => {_show(v, True)}" for k, v in list(value.items())[:SHOWN]]
        text = _numbered(pairs, "#", len(value)) or "(empty map)"
    elif isinstance(value, set | frozenset):
        text = _items(_ordered(value), "~") or "(empty set)"
    else:
        text = repr(value)
        return text if len(text) <= ARG_LIMIT else text[: ARG_LIMIT - 3] + "..."
    return f"[{text}]" if nested and value else text


def _items(values: Sequence[object], mark: str) -> str:
    shown = [_show(v, True) for v in values[:SHOWN]]
    return _numbered(shown, mark, len(values))


def _numbered(shown: list[str], mark: str, total: int) -> str:
    text = " ".join(f"{i}{mark} {s}" for i, s in enumerate(shown, 1))
    if total > len(shown):
        text += f" ... ({total - len(shown)} more)"
    return text
