"""Where an HTTP/1.1 request ends in a byte stream: the scanner behind
:func:`sockfix.framing.http`. Pure: no I/O.

A request is its optional leading empty lines, its head up to the empty line, and its body:
Content-Length bytes, or a chunked body up to its last chunk and trailers, or nothing. Input
that can never become a valid request still ends a message (the head, or all the bytes there
are), so that :func:`sockfix.core.http.codec.parse_request` raises ``BadRequest`` on it and the
server answers 4xx and closes: the scanner never waits forever on garbage and never raises.
"""

from __future__ import annotations

import re

from sockfix.core.http.codec import (
    HEAD_END,
    MAX_CHUNK_LINE,
    MAX_HEAD,
    body_length,
    check_method,
    chunk_size,
    parse_head,
    request_line,
    skip_empty_lines,
)

__all__ = ["RequestScanner", "request_length"]

_CHUNKED = -1
# A head without either name has no body, whatever else is wrong with it.
_FRAMING_HEADER = re.compile(rb"(?i)content-length|transfer-encoding")
_SIZE, _DATA_END, _TRAILERS = range(3)


def request_length(buf: bytes | bytearray, start: int) -> int | None:
    """The length of the first request in ``buf[start:]``, or None while it is incomplete.

    Stateless: each call scans from ``start`` again. :class:`RequestScanner` gives the same
    answers in linear time over the many reads of one stream.
    """
    return RequestScanner().scan(buf, start)


class RequestScanner:
    """:func:`request_length` for one stream, keeping its place between calls.

    After ``scan`` returns None, the next call must be for the same message, with more bytes
    (``buf[start:]`` then begins with the bytes it had): the scanner resumes where it stopped,
    so a large body arriving in many small reads costs time linear in its bytes. After it
    returns a length it starts afresh with the next message.
    """

    __slots__ = ("_body", "_head", "_lead", "_line_ok", "_line_resume", "_phase", "_pos", "_resume")

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        # Every offset is relative to the start of the message.
        self._lead = -1  # where the request line starts, once known
        self._line_ok = False  # the request line has been checked
        self._line_resume = 0  # where the search for the request line's end resumes
        self._resume = 0  # where the search for the head's (or trailers') end resumes
        self._head = -1  # the length of the head, once it has all arrived
        self._body = 0  # the Content-Length, or _CHUNKED
        self._phase = _SIZE  # chunked: the part at _pos
        self._pos = 0  # chunked: where the next chunk size line (or CRLF, trailers) starts

    def scan(self, buf: bytes | bytearray, start: int) -> int | None:
        """The length of the request at ``buf[start:]``, or None while it is incomplete."""
        n = self._head_length(buf, start) if self._head < 0 else None
        if n is None and self._head >= 0:
            n = self._message_length(buf, start)
        if n is not None:
            self._reset()
        return n

    def _head_length(self, buf: bytes | bytearray, start: int) -> int | None:
        """None while the head is incomplete (or once it is, with ``_head`` set); the message
        length when the head is bad."""
        end = len(buf)
        avail = end - start
        if self._lead < 0:
            p = skip_empty_lines(buf, start, end)
            if p is None:
                return avail if avail > MAX_HEAD else None
            self._lead = self._resume = self._line_resume = p - start
            try:
                check_method(buf[p : p + 1], buf[p : p + 1])
            except ValueError:
                return avail  # not HTTP (TLS, say): it will never be a request
        match = HEAD_END.search(buf, start + max(self._lead, self._resume - 2))
        if match is None:
            if avail > MAX_HEAD:
                return avail
            if not self._line_ok and not self._request_line_ok(buf, start, end):
                return avail
            self._resume = avail
            return None
        head = match.end() - start
        if not _FRAMING_HEADER.search(buf, start, match.end()):
            return head  # no Content-Length, no Transfer-Encoding: no body (parse checks it)
        try:
            parsed = parse_head(buf, start)
            assert parsed is not None
            length = body_length(parsed[3])
        except ValueError:
            return head
        self._head = self._pos = self._resume = head
        self._body = _CHUNKED if length is None else length
        return None

    def _request_line_ok(self, buf: bytes | bytearray, start: int, end: int) -> bool:
        """False when the request line has arrived and is malformed."""
        i = buf.find(b"\n", start + self._line_resume, end)
        if i < 0:
            self._line_resume = end - start
            return True
        line = bytes(buf[start + self._lead : i])
        try:
            request_line(line[:-1] if line.endswith(b"\r") else line)
        except ValueError:
            return False
        self._line_ok = True
        return True

    def _message_length(self, buf: bytes | bytearray, start: int) -> int | None:
        """The length of the message whose head has arrived, or None."""
        avail = len(buf) - start
        if self._body != _CHUNKED:
            total = self._head + self._body
            return total if avail >= total else None
        pos = self._pos
        try:
            while True:
                if self._phase == _SIZE:
                    i = buf.find(b"\n", start + max(pos, self._resume))
                    if i < 0:
                        if avail - pos > MAX_CHUNK_LINE:
                            return avail
                        self._resume = avail
                        return None
                    line = bytes(buf[start + pos : i])
                    try:
                        size = chunk_size(line[:-1] if line.endswith(b"\r") else line)
                    except ValueError:
                        return i + 1 - start
                    pos = i + 1 - start
                    if size == 0:
                        self._phase = _TRAILERS
                        self._resume = pos
                    else:
                        pos += size
                        self._phase = _DATA_END
                elif self._phase == _DATA_END:
                    if avail <= pos:
                        return None
                    c = buf[start + pos]
                    if c == 0x0D:
                        if avail < pos + 2:
                            return None
                        if buf[start + pos + 1] != 0x0A:
                            return pos + 2
                        pos += 2
                    elif c == 0x0A:
                        pos += 1
                    else:
                        return pos + 1
                    self._phase = _SIZE
                    self._resume = pos
                else:
                    return self._trailers_end(buf, start, pos, avail)
        finally:
            self._pos = pos

    def _trailers_end(self, buf: bytes | bytearray, start: int, pos: int, avail: int) -> int | None:
        """The message length once the trailers starting at ``pos`` have ended, or None."""
        if avail <= pos:
            return None
        c = buf[start + pos]
        if c == 0x0A:
            return pos + 1
        if c == 0x0D:
            if avail < pos + 2:
                return None
            if buf[start + pos + 1] == 0x0A:
                return pos + 2
        match = HEAD_END.search(buf, start + max(pos, self._resume - 2))
        if match is not None:
            return match.end() - start
        if avail - pos > MAX_HEAD:
            return avail
        self._resume = avail
        return None
