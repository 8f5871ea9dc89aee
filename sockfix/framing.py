"""Framings: how a byte stream is cut into messages.

A framing is any callable ``(buffer: bytes) -> int | None`` that returns the length of the first
complete message at the start of ``buffer`` (separators and length prefixes included), or
``None`` while more bytes are needed. The built-ins below are such callables; they also carry a
fast path (``scan``) that the :class:`Framer` uses so that cutting costs time linear in the bytes,
however many messages arrive in one read.

Pure: no sockets, no threads.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from sockfix.core.http.scan import RequestScanner, request_length
from sockfix.core.resp.scan import RESPScanner, value_length

__all__ = [
    "Framer",
    "Framing",
    "FramingError",
    "delimited",
    "fixed",
    "http",
    "length_prefixed",
    "lines",
    "parse",
    "raw",
    "resp",
]

Framing = Callable[[bytes], "int | None"]


class FramingError(ValueError):
    """A framing returned a length outside ``1..len(buffer)``.

    ``messages`` holds the complete messages cut from the same read before the bad length.
    """

    def __init__(self, text: str, messages: list[bytes] | None = None) -> None:
        super().__init__(text)
        self.messages = messages or []


class BuiltinFraming:
    """Base of the built-in framings: callable on a buffer, with a linear-time ``scan``."""

    def __call__(self, buffer: bytes) -> int | None:
        return self.scan(buffer, 0)

    def scan(self, buf: bytes | bytearray, start: int) -> int | None:
        """Length of the first message in ``buf[start:]``, or None (needs more)."""
        raise NotImplementedError

    def fresh(self) -> BuiltinFraming:
        """The framing to cut one new stream with: ``self`` for a stateless framing; a framing
        whose ``scan`` keeps its place between reads (:func:`http`, :func:`resp`) gives a new
        object, so that each :class:`Framer` (each connection) has its own."""
        return self


class _Delimited(BuiltinFraming):
    __slots__ = ("_name", "sep")

    def __init__(self, sep: bytes, name: str) -> None:
        self.sep = sep
        self._name = name

    def scan(self, buf: bytes | bytearray, start: int) -> int | None:
        i = buf.find(self.sep, start)
        if i < 0:
            return None
        return i + len(self.sep) - start

    def __repr__(self) -> str:
        return self._name


class _LengthPrefixed(BuiltinFraming):
    __slots__ = ("_struct", "fmt")

    def __init__(self, fmt: str) -> None:
        self.fmt = fmt
        self._struct = struct.Struct(fmt)

    def scan(self, buf: bytes | bytearray, start: int) -> int | None:
        k = self._struct.size
        if len(buf) - start < k:
            return None
        (n,) = self._struct.unpack_from(buf, start)
        total = int(n) + k
        return total if len(buf) - start >= total else None

    def __repr__(self) -> str:
        return f"length_prefixed({self.fmt!r})"


class _Fixed(BuiltinFraming):
    __slots__ = ("n",)

    def __init__(self, n: int) -> None:
        self.n = n

    def scan(self, buf: bytes | bytearray, start: int) -> int | None:
        return self.n if len(buf) - start >= self.n else None

    def __repr__(self) -> str:
        return f"fixed({self.n})"


class _Raw(BuiltinFraming):
    __slots__ = ()

    def scan(self, buf: bytes | bytearray, start: int) -> int | None:
        n = len(buf) - start
        return n if n > 0 else None

    def __repr__(self) -> str:
        return "raw()"


class _HTTP(BuiltinFraming):
    """Stateless: calling it, or its ``scan``, rescans the message from its start."""

    __slots__ = ()

    def scan(self, buf: bytes | bytearray, start: int) -> int | None:
        return request_length(buf, start)

    def fresh(self) -> BuiltinFraming:
        return _HTTPStream()

    def __repr__(self) -> str:
        return "http()"


class _HTTPStream(_HTTP):
    """:func:`http` for one stream: ``scan`` resumes where the last call stopped."""

    __slots__ = ("_scanner",)

    def __init__(self) -> None:
        self._scanner = RequestScanner()

    def __call__(self, buffer: bytes) -> int | None:
        return request_length(buffer, 0)

    def scan(self, buf: bytes | bytearray, start: int) -> int | None:
        return self._scanner.scan(buf, start)


class _RESP(BuiltinFraming):
    """Stateless: calling it, or its ``scan``, rescans the message from its start."""

    __slots__ = ()

    def scan(self, buf: bytes | bytearray, start: int) -> int | None:
        return value_length(buf, start)

    def fresh(self) -> BuiltinFraming:
        return _RESPStream()

    def __repr__(self) -> str:
        return "resp()"


class _RESPStream(_RESP):
    """:func:`resp` for one stream: ``scan`` resumes where the last call stopped."""

    __slots__ = ("_scanner",)

    def __init__(self) -> None:
        self._scanner = RESPScanner()

    def __call__(self, buffer: bytes) -> int | None:
        return value_length(buffer, 0)

    def scan(self, buf: bytes | bytearray, start: int) -> int | None:
        return self._scanner.scan(buf, start)


def lines() -> BuiltinFraming:
    """Messages end with ``b"\\n"`` (included): ``b"PING\\r\\n"`` is one message."""
    return _Delimited(b"\n", "lines()")


def delimited(sep: bytes) -> BuiltinFraming:
    """Messages end with ``sep`` (included in the message)."""
    if isinstance(sep, str):
        raise TypeError(
            f"delimited() takes bytes, not str: write delimited({sep.encode()!r}) "
            f"instead of delimited({sep!r})"
        )
    if not isinstance(sep, bytes | bytearray) or not sep:
        raise ValueError(f"delimited() needs a non-empty bytes separator, got {sep!r}")
    return _Delimited(bytes(sep), f"delimited({bytes(sep)!r})")


def length_prefixed(fmt: str = "!I") -> BuiltinFraming:
    """A ``struct`` length prefix (``fmt``, one unsigned integer) then that many bytes.

    The message includes its prefix: ``b"\\x00\\x00\\x00\\x02hi"`` under ``"!I"``.
    """
    if not isinstance(fmt, str):
        raise TypeError(f"length_prefixed() takes a struct format string such as '!I', got {fmt!r}")
    try:
        st = struct.Struct(fmt)
    except struct.error as exc:
        raise ValueError(
            f"length_prefixed({fmt!r}): not a struct format ({exc}); use one like '!I' or '>H'"
        ) from None
    probe = st.unpack(bytes(st.size))
    # Signed formats unpack all-ones as -1; bool ('?') is not a length.
    if len(probe) != 1 or type(probe[0]) is not int or st.unpack(b"\xff" * st.size)[0] < 0:
        raise ValueError(
            f"length_prefixed({fmt!r}): the format must hold one unsigned integer, "
            "such as '!I' (4 bytes), '!H' (2 bytes) or '!Q' (8 bytes)"
        )
    return _LengthPrefixed(fmt)


def fixed(n: int) -> BuiltinFraming:
    """Every message is exactly ``n`` bytes."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"fixed(n) needs a positive int, got {n!r}")
    return _Fixed(n)


def raw() -> BuiltinFraming:
    """Whatever has arrived is one message: it depends on how the peer's bytes were split."""
    return _Raw()


def http() -> BuiltinFraming:
    """HTTP/1.1 requests: a head up to its empty line, then a Content-Length or chunked body
    (with trailers).

    Empty lines before a request belong to it. Bytes that can never become a valid request
    (a bad Content-Length, a bad chunk size line, a head larger than 64 KiB, not HTTP at all)
    still end a message, on which :func:`sockfix.core.http.codec.parse_request` raises
    ``BadRequest``: the framing never waits forever on garbage. Each :class:`Framer` keeps its
    own place in a chunked body, so cutting is linear in the bytes however they are split.
    """
    return _HTTP()


def resp() -> BuiltinFraming:
    """One RESP value (a command array) or inline command per message; pipelined commands are
    split.

    A message is one complete RESP2 or RESP3 value, nested aggregates and attributes included
    (clients send commands as arrays of bulk strings), or an inline command: a line that does
    not start with a type byte (``b"PING\\r\\n"``). Empty lines before a message belong to
    it. Bytes that can never become valid (a bad length, an unknown type byte inside an
    array, a line over 64 KiB) still end a message, on which
    :func:`sockfix.core.resp.codec.parse_command` raises ``RESPError``: the framing never
    waits forever on garbage. Each :class:`Framer` keeps its place in a value, so cutting is
    linear in the bytes however they are split.
    """
    return _RESP()


_NAMED: dict[str, Callable[[str], BuiltinFraming]] = {
    "lines": lambda arg: lines(),
    "raw": lambda arg: raw(),
    "fixed": lambda arg: fixed(int(arg)),
    "delimited": lambda arg: delimited(arg.encode().decode("unicode_escape").encode("latin-1")),
    "length_prefixed": lambda arg: length_prefixed(arg or "!I"),
    "http": lambda arg: http(),
    "resp": lambda arg: resp(),
}


def parse(spec: str) -> BuiltinFraming:
    """Build a built-in framing from text: ``lines``, ``raw``, ``fixed:8``, ``delimited:\\r\\n``,
    ``length_prefixed:!H``, ``http``, ``resp`` (for the command line and scenario files)."""
    name, _, arg = spec.partition(":")
    key = name.strip().replace("-", "_")
    if key not in _NAMED:
        raise ValueError(
            f"unknown framing {spec!r}: choose lines, raw, fixed:N, delimited:SEP "
            "or length_prefixed:FMT; or http for HTTP/1.1 requests; or resp for Redis "
            "(RESP) commands"
        )
    if key == "fixed" and not arg:
        raise ValueError(f"framing {spec!r} needs a size after the colon, such as fixed:8")
    if key == "delimited" and not arg:
        raise ValueError(
            f"framing {spec!r} needs a delimiter after the colon, such as delimited:\\r\\n"
        )
    size = arg.strip()
    if key == "fixed" and not (size.isascii() and size.isdecimal() and int(size) >= 1):
        raise ValueError(
            f"framing {spec!r}: the size must be a whole number of bytes, at least 1, "
            "such as fixed:8"
        )
    try:
        return _NAMED[key](arg)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"framing {spec!r}: {exc}") from None


def describe(framing: Framing) -> str:
    """A short name for error messages."""
    if isinstance(framing, BuiltinFraming):
        return repr(framing)
    return getattr(framing, "__qualname__", None) or repr(framing)


class Framer:
    """Cuts a stream into messages with a framing, in time linear in the bytes.

    ``feed(data)`` returns the complete messages that ``data`` finished; ``pending`` is what is
    left unframed. A framing that returns a length outside ``1..len(buffer)`` raises
    :class:`FramingError` naming it.
    """

    __slots__ = ("_buf", "_builtin", "_framing", "_hint")

    def __init__(self, framing: Framing) -> None:
        if not callable(framing):
            raise TypeError(
                f"framing must be a callable (buffer) -> int | None, such as "
                f"sockfix.framing.lines(), got {framing!r}"
            )
        self._framing = framing
        # Each Framer is one stream: a built-in that keeps scan state gets its own (fresh()).
        self._builtin = framing.fresh() if isinstance(framing, BuiltinFraming) else None
        self._buf = bytearray()
        self._hint = 0

    @property
    def pending(self) -> bytes:
        return bytes(self._buf)

    def feed(self, data: bytes) -> list[bytes]:
        buf = self._buf
        builtin = self._builtin
        if not buf and isinstance(builtin, _Delimited):
            # The common case: one read holding exactly one message.
            sep = builtin.sep
            i = data.find(sep)
            if i >= 0 and i + len(sep) == len(data):
                self._hint = 0
                return [data]
        src: bytes | bytearray
        if buf:
            buf += data
            src = buf
        else:
            # Nothing pending: cut ``data`` itself, so a message that is a whole read is that
            # very object (no copy), and only the unframed tail is buffered.
            src = data
        out: list[bytes] = []
        pos = 0
        end = len(src)
        if isinstance(builtin, _Delimited):
            # Resume the separator search where the last one gave up.
            sep = builtin.sep
            search = self._hint if src is buf else 0
            while pos < end:
                i = src.find(sep, max(pos, search))
                if i < 0:
                    break
                nxt = i + len(sep)
                out.append(bytes(src[pos:nxt]))
                pos = nxt
            self._hint = max(end - len(sep) + 1 - pos, 0)
        else:
            while pos < end:
                if builtin is not None:
                    n = builtin.scan(src, pos)
                    avail = end - pos
                else:
                    chunk = bytes(src[pos:]) if pos or src is buf else bytes(src)
                    avail = len(chunk)
                    n = self._framing(chunk)
                if n is None:
                    break
                if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= avail:
                    self._keep(src, pos)
                    raise FramingError(
                        f"framing {describe(self._framing)} returned {n!r} for a buffer of "
                        f"{avail} bytes: it must return an int in 1..len(buffer), or None "
                        "to wait for more bytes",
                        out,
                    )
                out.append(bytes(src[pos : pos + n]))
                pos += n
            self._hint = 0
        self._keep(src, pos)
        return out

    def _keep(self, src: bytes | bytearray, pos: int) -> None:
        """Keep ``src[pos:]`` as the pending buffer."""
        if src is self._buf:
            if pos:
                del self._buf[:pos]
        elif pos < len(src):
            self._buf = bytearray(src[pos:]) if pos else bytearray(src)
