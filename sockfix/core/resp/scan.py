"""Where a RESP message ends in a byte stream: the scanner behind
:func:`sockfix.framing.resp`. Pure: no I/O.

A message is one complete RESP value of any type, nested aggregates and attributes included
(a command is an array of bulk strings), or one inline command: a line that does not start
with a type byte, up to and including its LF. Empty lines (only spaces) before either belong
to it, as in :func:`sockfix.framing.http`.

Bytes that can never become valid still end a message, so that
:func:`sockfix.core.resp.codec.parse_command` raises ``RESPError`` on it and the server
answers ``-ERR Protocol error`` and closes, as redis does: the scanner never waits forever
on garbage and never raises. Where the message ends depends only on the bytes, never on how
they were split into reads:

- just past the first byte that no valid value has there: an unknown type byte inside an
  aggregate, a bad byte in a length line (``$x``, ``*-2``, ``$01``, a length over
  :data:`~sockfix.core.resp.codec.MAX_BULK`), or a bulk string not followed by CRLF;
- just past the LF of a bad line: a simple string, error or number that is malformed or
  ends with a bare LF, or an aggregate nested deeper than
  :data:`~sockfix.core.resp.codec.MAX_DEPTH`;
- after :data:`~sockfix.core.resp.codec.MAX_LINE` bytes (64 KiB) of a line without its LF,
  or of empty lines and the inline command after them.

:func:`~sockfix.core.resp.codec.decode` reads the same grammar with the same helpers: it
rejects a message ended at a fault (a ``RESPError``, never ``Incomplete``).
"""

from __future__ import annotations

from sockfix.core.resp.codec import (
    AGGREGATE_TYPES,
    BLOB_TYPES,
    LINE_TYPES,
    MAX_DEPTH,
    MAX_LINE,
    TYPE_NAMES,
    Buffer,
    Incomplete,
    RESPError,
    blob_end,
    depth_error,
    fast_command_length,
    length_line,
    line_end,
    type_error,
)

__all__ = ["RESPScanner", "value_length"]

_BLANK = frozenset(b" \t\n\v\f\r")
_BLANK_BYTES = b" \t\n\v\f\r"
_MAP, _ATTRIBUTE = b"%|"


def value_length(buf: Buffer, start: int) -> int | None:
    """The length of the first message in ``buf[start:]``, or None while it is incomplete.

    Stateless: each call scans from ``start`` again. :class:`RESPScanner` gives the same
    answers in linear time over the many reads of one stream.
    """
    return RESPScanner().scan(buf, start)


class RESPScanner:
    """:func:`value_length` for one stream, keeping its place between calls.

    After ``scan`` returns None, the next call must be for the same message, with more bytes
    (``buf[start:]`` then begins with the bytes it had): the scanner resumes where it
    stopped, in the middle of a bulk string, an aggregate or a line, so a large value arriving
    in many small reads costs time linear in its bytes. After it returns a length it starts
    afresh with the next message; each message costs time linear in its own length, so that
    thousands of pipelined commands in one read are cut in linear time too.
    """

    __slots__ = ("_blob", "_blob_at", "_lead", "_pos", "_resume", "_stack")

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        # Every offset is relative to the start of the message.
        self._lead = False  # the value has begun (the empty lines before it are behind)
        self._pos = 0  # where the next value (or the awaited bytes of a blob) starts
        self._blob = -1  # the length of the blob whose bytes are awaited, or -1
        self._blob_at = 0  # where that blob's length line starts
        self._resume = 0  # where the search for the current line's LF resumes
        self._stack: list[int] = []  # the values still due in each open aggregate

    def scan(self, buf: Buffer, start: int) -> int | None:
        """The length of the message at ``buf[start:]``, or None while it is incomplete."""
        if not self._lead and not self._pos:  # a fresh message: try the common shape first
            n = fast_command_length(buf, start)
            if n is not None:
                return n
        try:
            n = self._scan(buf, start)
        except Incomplete:
            return None
        except RESPError as fault:
            n = fault.end - start
        if n is not None:
            self._reset()
        return n

    def _scan(self, buf: Buffer, start: int) -> int | None:
        end = len(buf)
        stack = self._stack
        pos = start + self._pos
        try:
            if not self._lead:
                pos, n = self._lead_in(buf, start, pos, end)
                if not self._lead:
                    return n
            while True:
                if self._blob >= 0:
                    pos = blob_end(buf, pos, self._blob, end, start + self._blob_at)
                    self._blob = -1
                else:
                    if pos >= end:
                        return None
                    kind = buf[pos]
                    if kind in LINE_TYPES:
                        pos = self._line(buf, start, pos, end)
                    elif kind in BLOB_TYPES:
                        n, nxt = length_line(buf, pos, end)
                        if n >= 0:
                            self._blob, self._blob_at = n, pos - start
                            pos = nxt
                            continue
                        pos = nxt  # a null: $-1
                    elif kind in AGGREGATE_TYPES:
                        n, nxt = length_line(buf, pos, end)
                        count = 2 * n if kind in (_MAP, _ATTRIBUTE) else n
                        if kind == _ATTRIBUTE:
                            count += 1  # the value it annotates
                        if count > 0:
                            if len(stack) >= MAX_DEPTH:
                                raise depth_error(kind, pos, nxt)
                            stack.append(count)
                            pos = nxt
                            continue
                        pos = nxt  # empty, or a null: *-1
                    else:
                        raise type_error(buf, pos)
                # A value ended: count it in the aggregates it completes.
                while stack:
                    stack[-1] -= 1
                    if stack[-1]:
                        break
                    stack.pop()
                else:
                    return pos - start
        finally:
            self._pos = pos - start

    def _line(self, buf: Buffer, start: int, pos: int, end: int) -> int:
        """The end of the line-typed value at ``pos``, resuming the search for its LF."""
        try:
            nxt = line_end(buf, pos, end, start + self._resume)
        except Incomplete:
            self._resume = end - start
            raise
        self._resume = 0
        return nxt

    def _lead_in(self, buf: Buffer, start: int, pos: int, end: int) -> tuple[int, int | None]:
        """Past the empty lines at ``pos``: ``(where the value starts, None)``, with ``_lead``
        set; or ``(pos, the length of the message)`` when it is an inline command or too
        long; or ``(how far the empty lines go, None)`` while neither is known."""
        limit = start + MAX_LINE
        while pos < limit:
            if pos >= end:
                return pos, None
            c = buf[pos]
            if c in TYPE_NAMES:
                self._lead = True
                return pos, None
            hi = min(end, limit)
            i = buf.find(b"\n", max(pos, start + self._resume), hi)
            if i < 0:
                if hi == limit:
                    break
                self._resume = end - start
                return pos, None
            self._resume = 0
            if c not in _BLANK or bytes(buf[pos:i]).strip(_BLANK_BYTES):
                return pos, i + 1 - start
            pos = i + 1
        return pos, MAX_LINE
