"""The HTTP/1.1 side of one connection, as a sans-IO :class:`~sockfix.core.script.Script`.

Messages come cut by :func:`sockfix.framing.http` (one request each, pipelined ones apart); each
is parsed into an :class:`~sockfix.core.http.codec.HTTPRequest`, matched against the server's
HTTP rules, and answered in order on the same connection (keep-alive) until a request or a
response says ``Connection: close``. ``Expect: 100-continue`` gets its interim answer as soon
as the head is in. A request that matches no rule gets a ``500`` saying so, then the connection
closes; one that is not HTTP gets a ``400`` (or the status its error names), then closes.
The socket layer carries out the actions as for any script: no second executor.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from sockfix.core.actions import Action, Close, Send
from sockfix.core.http.codec import (
    BadRequest,
    HTTPRequest,
    describe_request,
    encode_response,
    parse_head,
    parse_request,
)
from sockfix.core.http.rules import HTTPRule, render_result
from sockfix.core.record import Connection, Decoded
from sockfix.core.rules import RuleBook
from sockfix.core.script import OnUnmatched, Script, _offending
from sockfix.framing import Framing

__all__ = ["CONTINUE", "HTTPHandler", "HTTPScript"]

HTTPHandler = Callable[[HTTPRequest], Any]
"""``handler=`` of an HTTPServer: ``(request) -> (status, headers, body)``, raw bytes, or None
(the request is then unmatched)."""

CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_TEXT = [("Content-Type", "text/plain; charset=utf-8")]


class HTTPScript(Script):
    """Answers one HTTP/1.1 connection from the server's HTTP rules (and an optional handler).

    ``on_unmatched=None`` answers an unmatched request with a ``500`` that names it, then
    closes; any other value acts as on TCP. Every parsed request is appended to ``requests``
    (the server's list, in arrival order over all connections).
    """

    def __init__(
        self,
        conn: Connection,
        book: RuleBook,
        framing: Framing,
        handler: HTTPHandler | None,
        strict: bool,
        problems: list[str],
        on_unmatched: OnUnmatched | None,
        requests: list[HTTPRequest],
    ) -> None:
        super().__init__(conn, book, framing, None, strict, problems, on_unmatched or "close")
        self.http_handler = handler
        self.answer_500 = on_unmatched is None
        self.requests = requests
        self._head_checked = False  # the pending request's head was looked at for Expect
        self._parsed = 0  # how many of the connection's messages were parsed into requests

    def feed(self, data: bytes) -> list[Action]:
        before = len(self.conn.messages)
        actions = super().feed(data)
        if len(self.conn.messages) != before:
            self._head_checked = False  # the pending bytes begin a new request
        if not (self._head_checked or self.done or self.hanging):
            actions += self._interim()
        return actions

    def _on_messages(self, messages: list[bytes]) -> list[Action]:
        actions = super()._on_messages(messages)
        # Requests cut but not answered (after a closing response, or while hanging) are
        # requests all the same: parse and list them.
        for message in self.conn.messages[self._parsed :]:
            with contextlib.suppress(BadRequest):  # said in its decoded line
                self._parse(message)
        return actions

    def _parse(self, message: bytes) -> HTTPRequest:
        """``message`` as a request, listed (raises BadRequest, listing nothing)."""
        self._parsed += 1
        try:
            request = parse_request(message, self.conn.number)
        except BadRequest as exc:
            self.conn.decoded.append(f"(not a valid HTTP request: {exc})")
            raise
        self.requests.append(request)
        self.conn.decoded.append(Decoded(describe_request, request))
        return request

    def _interim(self) -> list[Action]:
        """``100 Continue`` once the pending request's head (only) is in and it asks for it."""
        pending = self.framer.pending
        if not pending:
            return []
        try:
            head = parse_head(pending)
        except BadRequest:  # the framing cuts it as a message: the 400 comes then
            self._head_checked = True
            return []
        if head is None:
            return []
        self._head_checked = True
        headers = head[3]
        if "100-continue" not in headers.get("Expect", "").lower():
            return []
        return [Send(CONTINUE, note="100-continue")]

    def _on_message(self, message: bytes, number: int) -> list[Action]:
        try:
            request = self._parse(message)
        except BadRequest as exc:
            return self._bad_request(message, number, exc)
        try:
            rule = self.book.claim(request)
        except Exception as exc:  # an expect() predicate raised
            return self._failed(message, "an expect() predicate", exc)
        if rule is not None:
            assert isinstance(rule, HTTPRule)
            try:
                pieces, closing = rule.render(request)
            except Exception as exc:
                return self._failed(message, f"{rule.note}'s response", exc)
            return self._close_after(self._shape(rule, pieces), closing, rule.note)
        if self.http_handler is not None:
            try:
                result = self.http_handler(request)
                if result is not None:
                    pieces, closing = render_result(result, request)
                    sends: list[Action] = [Send(p, note="handler") for p in pieces if p]
                    return self._close_after(sends, closing, "handler")
            except Exception as exc:
                return self._failed(message, "the handler", exc)
        return self._unmatched_request(request, message, number)

    def _close_after(self, actions: list[Action], closing: bool, note: str) -> list[Action]:
        if closing and not (self.done or self.hanging):
            self.done = True  # pipelined requests after it are recorded, not answered
            actions.append(Close(note=f"{note}: Connection: close"))
        return actions

    def _unmatched_request(self, request: HTTPRequest, message: bytes, number: int) -> list[Action]:
        why = "\n".join(self.book.why_missed(request))
        if self.strict:
            self.conn.record("error", message, "no rule matched")
            self._problem(
                f"no rule matched request {number}: {request.line()}\n"
                f"  {_offending(message)}\nrules:\n{why}"
            )
        if not self.answer_500:
            return self._unmatched()
        body = (
            f"sockfix: no rule matched request {number} on connection {self.conn.number}: "
            f"{request.line()}\n\nrules:\n{why}\n"
        )
        self.done = True
        response = encode_response(
            500, _TEXT, body.encode(), head=request.method == "HEAD", close=True
        )
        return [Send(response, note="unmatched: 500"), Close(note="unmatched")]

    def _bad_request(self, message: bytes, number: int, exc: BadRequest) -> list[Action]:
        self.conn.record("error", message, f"bad request: {exc}"[:500])
        self._problem(
            f"request {number} is not valid HTTP/1.1 ({exc}); answered {exc.status} and "
            f"closed: {_offending(message)}"
        )
        self.done = True
        body = f"sockfix: request {number} is not valid HTTP/1.1: {exc}\n".encode()
        response = encode_response(exc.status, _TEXT, body, close=True)
        return [Send(response, note="bad request"), Close(note="bad request")]
