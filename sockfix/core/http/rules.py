"""HTTP rules: what ``HTTPServer.expect(method, path, ...)`` matches, and the response it sends.

A :class:`RequestMatcher` matches a parsed :class:`~sockfix.core.http.codec.HTTPRequest` and says
which part missed; an :class:`HTTPRule` is a :class:`~sockfix.core.rules.Rule` whose
``respond(status, body, ...)`` encodes an HTTP response for the request it answers (a ``HEAD``
gets the headers without the body; a request that asked to close gets ``Connection: close``).
Every shaping call of TCP rules (``delay``, ``chunked``, ``close``, ``reset``, ``hang``,
``times``) applies to the response's bytes. Pure: no sockets, no threads.
"""

from __future__ import annotations

import json as jsonlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal

from sockfix.core.http.codec import HTTPRequest, encode_response, reason_phrase
from sockfix.core.patterns import ANY, Matcher, as_matcher
from sockfix.core.rules import ResponseError, Rule, _builder
from sockfix.core.text import short

__all__ = ["HTTPResponder", "HTTPRule", "RequestMatcher", "Transfer", "render_result"]

Transfer = Literal["length", "chunked", "close"]
_TRANSFERS = ("length", "chunked", "close")
HTTPResponder = Callable[[HTTPRequest], Any]
"""A callable response: ``(request) -> (status, headers, body)``, or the raw response bytes."""

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# A raw response (bytes from a callable) that says it closes: the server closes after it.
_RAW_CLOSE = re.compile(rb"(?im)^connection:[^\r\n]*\bclose\b")
_MISSING = object()


def _check_method(method: object) -> str | None:
    """The method to match (None for any)."""
    if method is ANY:
        return None
    if not isinstance(method, str):
        raise TypeError(
            f"expect() takes the method as a str such as 'GET' (or sockfix.ANY), got {method!r}"
        )
    if not _TOKEN.fullmatch(method):
        raise ValueError(f"expect({method!r}): an HTTP method is a token such as 'GET' or 'POST'")
    if method != method.upper() and method.upper() in _KNOWN_METHODS:
        raise ValueError(
            f"expect({method!r}): HTTP methods are case-sensitive and clients send them "
            f"upper-case: write expect({method.upper()!r}, ...)"
        )
    return method


_KNOWN_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT"}
)


class _PathMatcher:
    __slots__ = ("kind", "text", "value")

    def __init__(self, path: object) -> None:
        self.value: Any = path
        if path is ANY:
            self.kind, self.text = "any", "ANY"
        elif isinstance(path, str):
            if "?" in path:
                bare, _, query = path.partition("?")
                raise ValueError(
                    f"expect(..., {path!r}): the path is matched without its query; write "
                    f"expect(..., {bare!r}, query=...) for the query {query!r}"
                )
            if "://" in path:
                raise ValueError(
                    f"expect(..., {path!r}): give the path only, such as '/users/1', "
                    "not a whole URL (server.url(path) builds the URL for the client)"
                )
            if not path.startswith("/") and path != "*":
                raise ValueError(
                    f"expect(..., {path!r}): a request path starts with '/': write {'/' + path!r}"
                )
            self.kind, self.text = "str", repr(path)
        elif isinstance(path, re.Pattern):
            if isinstance(path.pattern, bytes):
                raise TypeError(
                    f"expect(..., re.compile({path.pattern!r})): HTTP paths are str: compile a "
                    f"str regex, re.compile({path.pattern.decode('latin-1')!r})"
                )
            self.kind, self.text = "regex", f"re.compile({path.pattern!r})"
        elif callable(path):
            name = getattr(path, "__qualname__", None) or repr(path)
            self.kind, self.text = "callable", f"<predicate {name}>"
        elif isinstance(path, bytes):
            raise TypeError(
                f"expect(..., {path!r}): HTTP paths are str: write {path.decode('latin-1')!r}"
            )
        else:
            raise TypeError(
                "expect() takes the path as a str ('/users/1'), a compiled str regex, a callable "
                f"(path) -> bool, or sockfix.ANY; got {type(path).__name__} {path!r}"
            )

    def miss(self, path: str) -> str | None:
        kind = self.kind
        if kind == "any":
            return None
        if kind == "str":
            return None if path == self.value else f"path {path!r} is not {self.value!r}"
        if kind == "regex":
            if self.value.fullmatch(path) is not None:
                return None
            return f"path {path!r} does not fullmatch {self.text}"
        return None if self.value(path) else f"the path predicate returned false for {path!r}"


def _value_text(value: object) -> str:
    return "ANY" if value is ANY else repr(value)


def _check_query(query: object) -> dict[str, object] | None:
    if query is None:
        return None
    if not isinstance(query, Mapping):
        raise TypeError(f"query= takes a dict such as {{'page': '2'}}, got {query!r}")
    out: dict[str, object] = {}
    for key, value in query.items():
        if not isinstance(key, str):
            raise TypeError(f"query= keys are str, got {key!r}")
        if isinstance(value, list | tuple):
            if not all(isinstance(v, str) for v in value):
                raise TypeError(f"query={{{key!r}: {value!r}}}: list the values as str")
            out[key] = list(value)
        elif isinstance(value, str) or value is ANY:
            out[key] = value
        elif isinstance(value, int | float) and not isinstance(value, bool):
            raise TypeError(
                f"query={{{key!r}: {value!r}}}: query values are str, as the client sends "
                f"them: write {{{key!r}: {str(value)!r}}}"
            )
        else:
            raise TypeError(
                f"query={{{key!r}: {value!r}}}: a value is a str (one of the key's values), a "
                "list of str (all of them, in order) or sockfix.ANY (the key is present)"
            )
    return out


def _check_headers(headers: object, call: str) -> list[tuple[str, object]] | None:
    if headers is None:
        return None
    pairs: Iterable[Any]
    if isinstance(headers, Mapping):
        pairs = headers.items()
    elif isinstance(headers, list | tuple):
        pairs = headers
    else:
        raise TypeError(f"{call} headers= takes a dict such as {{'X-Id': '1'}}, got {headers!r}")
    out: list[tuple[str, object]] = []
    for pair in pairs:
        if not (isinstance(pair, tuple) and len(pair) == 2):
            raise TypeError(f"{call} headers= takes (name, value) pairs, got {pair!r}")
        name, value = pair
        if not isinstance(name, str) or not _TOKEN.fullmatch(name):
            raise ValueError(f"{call} headers=: {name!r} is not a header name")
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) and value is not ANY and not isinstance(value, re.Pattern):
            raise TypeError(f"{call} headers={{{name!r}: {value!r}}}: header values are str")
        if isinstance(value, str) and ("\r" in value or "\n" in value):
            raise ValueError(f"{call} headers={{{name!r}: ...}}: a header value has no CR or LF")
        out.append((name, value))
    return out


class RequestMatcher:
    """``expect(method, path, query=, headers=, body=, json=)`` as a matcher of requests."""

    __slots__ = ("_body", "_headers", "_json", "_method", "_path", "_query", "text")

    def __init__(
        self,
        method: object = ANY,
        path: object = ANY,
        *,
        query: object = None,
        headers: object = None,
        body: object = None,
        json: object = _MISSING,
    ) -> None:
        self._method = _check_method(method)
        self._path = _PathMatcher(path)
        self._query = _check_query(query)
        self._headers = _check_headers(headers, "expect()")
        self._body: Matcher | None = None
        if body is not None:
            if isinstance(body, str):
                raise TypeError(
                    f"expect(..., body={short(body.encode(), 40)[1:]}): body= is bytes; "
                    f"write body={body.encode()!r}"
                )
            self._body = as_matcher(body)
        if json is not _MISSING and body is not None:
            raise ValueError("expect() takes body= or json=, not both: json= parses the body")
        self._json = json
        if json is not _MISSING:
            try:
                jsonlib.dumps(json)
            except (TypeError, ValueError) as exc:
                raise TypeError(f"expect(..., json={json!r}): not JSON data ({exc})") from None
        parts = [repr(method) if method is not ANY else "ANY", self._path.text]
        if self._query is not None:
            items = ", ".join(f"{k!r}: {_value_text(v)}" for k, v in self._query.items())
            parts.append(f"query={{{items}}}")
        if self._headers is not None:
            items = ", ".join(f"{k!r}: {_header_text(v)}" for k, v in self._headers)
            parts.append(f"headers={{{items}}}")
        if self._body is not None:
            parts.append(f"body={self._body.text}")
        if json is not _MISSING:
            shown = repr(json)
            parts.append(f"json={shown if len(shown) <= 60 else shown[:56] + ' ...'}")
        self.text = ", ".join(parts)

    def matches(self, request: Any) -> bool:
        return self.miss(request) is None

    def miss(self, request: Any) -> str | None:
        """None when ``request`` matches; otherwise what part of it missed."""
        assert isinstance(request, HTTPRequest)
        if self._method is not None and request.method != self._method:
            return f"method {request.method} is not {self._method}"
        why = self._path.miss(request.path)
        if why is not None:
            return why
        if self._query is not None:
            for key, want in self._query.items():
                got = request.query.get(key)
                if got is None:
                    return f"query has no {key!r} (it has {sorted(request.query) or 'nothing'})"
                if isinstance(want, str) and want not in got:
                    return f"query {key!r} is {got!r}, not {want!r}"
                if isinstance(want, list) and got != want:
                    return f"query {key!r} is {got!r}, not {want!r}"
        if self._headers is not None:
            for name, want in self._headers:
                if name not in request.headers:
                    return f"header {name!r} is missing"
                value = request.headers[name]
                if isinstance(want, str) and value != want:
                    return f"header {name!r} is {value!r}, not {want!r}"
                if isinstance(want, re.Pattern) and want.fullmatch(value) is None:
                    pattern = _header_text(want)
                    return f"header {name!r} is {value!r}: it does not fullmatch {pattern}"
        if self._body is not None:
            why = self._body.miss(request.body)
            if why is not None:
                return f"body {short(request.body, 60)}: {why}"
        if self._json is not _MISSING:
            try:
                got_json = jsonlib.loads(request.body)
            except ValueError:
                return f"body {short(request.body, 60)} is not JSON"
            if got_json != self._json:
                got_text, want_text = jsonlib.dumps(got_json), jsonlib.dumps(self._json)
                return f"json {got_text[:120]} is not {want_text[:120]}"
        return None

    def __repr__(self) -> str:
        return self.text


def _header_text(value: object) -> str:
    if isinstance(value, re.Pattern):
        return f"re.compile({value.pattern!r})"
    return _value_text(value)


class _Fixed:
    """One fixed response of an HTTP rule, checked when the rule was built."""

    __slots__ = ("body", "headers", "status", "transfer")

    def __init__(
        self,
        status: int,
        headers: list[tuple[str, str]],
        body: bytes | tuple[bytes, ...],
        transfer: Transfer,
    ) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.transfer = transfer

    def describe(self) -> str:
        parts = [str(self.status)]
        body = self.body if isinstance(self.body, bytes) else b"".join(self.body)
        if body:
            parts.append(f"body={short(body, 40)}")
        if self.headers:
            items = ", ".join(f"{k!r}: {v!r}" for k, v in self.headers)
            parts.append(f"headers={{{items}}}")
        if self.transfer != "length":
            parts.append(f"transfer={self.transfer!r}")
        return f"respond({', '.join(parts)})"


def _check_status(status: object) -> int:
    if isinstance(status, bool) or not isinstance(status, int):
        raise TypeError(f"respond() takes the status as an int such as 200, got {status!r}")
    if not 100 <= status <= 599:
        raise ValueError(f"respond({status}): an HTTP status is in 100..599")
    return status


def _body_of(
    status: int, body: object, text: object, json: object, transfer: str
) -> tuple[bytes | tuple[bytes, ...], str | None]:
    """The body bytes and the Content-Type they imply."""
    given = [name for name, v in (("body", body), ("text", text)) if v is not None]
    if json is not _MISSING:
        given.append("json")
    if len(given) > 1:
        raise ValueError(f"respond() takes one of body=, text= or json=, got {' and '.join(given)}")
    if text is not None:
        if not isinstance(text, str):
            raise TypeError(f"respond(text=...) takes a str, got {text!r}")
        return text.encode(), "text/plain; charset=utf-8"
    if json is not _MISSING:
        try:
            return jsonlib.dumps(json).encode(), "application/json"
        except (TypeError, ValueError) as exc:
            raise TypeError(f"respond(json={json!r}): not JSON data ({exc})") from None
    if body is None:
        return b"", None
    if isinstance(body, bytes | bytearray):
        return bytes(body), None
    if isinstance(body, str):
        raise TypeError(
            f"respond(body={short(body.encode(), 30)[1:]}): body= is bytes: pass text=... for "
            "a str (sent as UTF-8, Content-Type text/plain), or body=....encode()"
        )
    if isinstance(body, list | tuple) and all(isinstance(b, bytes | bytearray) for b in body):
        if transfer != "chunked":
            raise ValueError(
                "respond(body=[...]): a list of bytes is one chunk each, for "
                "transfer='chunked'; otherwise pass b''.join(...)"
            )
        return tuple(bytes(b) for b in body), None
    raise TypeError(f"respond() takes body= as bytes, got {type(body).__name__} {body!r}")


class HTTPRule(Rule):
    """A rule of an :class:`~sockfix.HTTPServer`: ``respond(status, body, ...)`` and every
    shaping call of TCP rules. Built by ``server.expect(method, path, ...)``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.responses: list[_Fixed | HTTPResponder] = []

    @_builder
    def respond(  # type: ignore[override]
        self,
        status: int | HTTPResponder = 200,
        body: bytes | Sequence[bytes] | None = None,
        *,
        text: str | None = None,
        json: Any = _MISSING,
        headers: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        transfer: Transfer = "length",
    ) -> HTTPRule:
        """Answer with this response: ``status`` (an int), then ``body`` bytes, ``text`` (a
        str, Content-Type text/plain) or ``json`` (Content-Type application/json), extra
        ``headers``, and ``transfer``: ``"length"`` (Content-Length), ``"chunked"`` (chunked
        coding; a list body is one chunk per item) or ``"close"`` (the body ends with the
        connection). Headers you give are sent as given: a ``Content-Length`` of your own is
        kept (to lie about the length on purpose).

        ``status`` may instead be a callable ``(request) -> (status, headers, body)`` (or the
        raw response bytes). Interim (1xx) responses may come before the final one.
        """
        if self.responses and (
            not isinstance(self.responses[-1], _Fixed) or self.responses[-1].status >= 200
        ):
            raise ValueError(
                f"rule {self.number} already has its response: an HTTP rule answers each "
                "request once (interim 1xx responses first). For another answer next time, use "
                ".times(n) on this rule and add a second expect() after it"
            )
        if callable(status):
            if body is not None or text is not None or json is not _MISSING or headers:
                raise TypeError(
                    "respond(callable) takes nothing else: the callable returns "
                    "(status, headers, body)"
                )
            self.responses.append(status)
            return self
        code = _check_status(status)
        if transfer not in _TRANSFERS:
            raise ValueError(
                f"respond(transfer={transfer!r}): choose 'length' (Content-Length), 'chunked' "
                "or 'close' (the body ends with the connection)"
            )
        data, content_type = _body_of(code, body, text, json, transfer)
        pairs = [(k, str(v)) for k, v in _check_headers(headers, "respond()") or []]
        if content_type and not any(k.lower() == "content-type" for k, _ in pairs):
            pairs.append(("Content-Type", content_type))
        if (code < 200 or code in (204, 304)) and data:
            raise ValueError(
                f"respond({code}) has a body, but a {code} {reason_phrase(code)} response never "
                "carries one: drop body=/text=/json="
            )
        fixed = _Fixed(code, pairs, data, transfer)
        encode_response(code, pairs, data, transfer=transfer)  # raises now, not per request
        self.responses.append(fixed)
        return self

    def render(self, request: HTTPRequest) -> tuple[list[bytes], bool]:
        """The response bytes for ``request`` (one per response, interim ones first) and
        whether the connection closes after them (the request or the response said so, or the
        body ends with the connection)."""
        if not self.responses:
            if self.ending is not None:  # expect(...).reset(): no answer, only the ending
                return [], False
            return render_result((200, None, b""), request)  # expect() alone: an empty 200
        out: list[bytes] = []
        closing = False
        for response in self.responses:
            if isinstance(response, _Fixed):
                data, closing = _encode(
                    response.status,
                    response.headers,
                    response.body,
                    response.transfer,
                    request,
                    closing,
                )
                out.append(data)
            else:
                pieces, closing = render_result(response(request), request, closing)
                out += pieces
        return out, closing

    def replies(self, subject: object) -> list[bytes]:
        assert isinstance(subject, HTTPRequest)
        return self.render(subject)[0]

    def _describe_pieces(self) -> list[str]:
        return [
            r.describe() if isinstance(r, _Fixed) else f"respond(<{_name(r)}>)"
            for r in self.responses
        ]


def _name(fn: object) -> str:
    return str(getattr(fn, "__qualname__", "callable"))


def _names(pairs: Iterable[tuple[str, str]], name: str) -> bool:
    return any(k.lower() == name for k, _ in pairs)


def _says_close(pairs: Iterable[tuple[str, str]]) -> bool:
    return any(
        k.lower() == "connection" and "close" in v.lower().replace(" ", "").split(",")
        for k, v in pairs
    )


def _encode(
    status: int,
    pairs: list[tuple[str, str]],
    body: bytes | tuple[bytes, ...],
    transfer: Transfer,
    request: HTTPRequest,
    closing: bool,
) -> tuple[bytes, bool]:
    """One response to ``request``; whether the connection closes after it."""
    if status >= 200:
        closing = closing or not request.keep_alive or transfer == "close" or _says_close(pairs)
        if request.version == "HTTP/1.0" and not closing and not _names(pairs, "connection"):
            pairs = [*pairs, ("Connection", "keep-alive")]  # 1.0 closes unless told otherwise
    head = request.method == "HEAD"
    return (
        encode_response(status, pairs, body, transfer=transfer, head=head, close=closing),
        closing,
    )


def render_result(
    result: object, request: HTTPRequest, closing: bool = False
) -> tuple[list[bytes], bool]:
    """What a response callable (or a handler) returned, as the response bytes for
    ``request``: ``(status, headers, body)`` encoded, raw bytes as they are. Raises
    :class:`ResponseError` naming the fix for anything else."""
    if isinstance(result, bytes | bytearray):
        data = bytes(result)
        head = data.split(b"\r\n\r\n", 1)[0]
        closing = closing or not request.keep_alive or bool(_RAW_CLOSE.search(head))
        return [data], closing
    shape = "an HTTP response callable must return (status, headers, body) or the raw bytes"
    if not isinstance(result, tuple) or len(result) != 3:
        raise ResponseError(f"{shape}, got {type(result).__name__} {result!r:.200}")
    status, headers, body = result
    try:
        code = _check_status(status)
        pairs = [(k, str(v)) for k, v in _check_headers(headers or {}, "respond()") or []]
    except (TypeError, ValueError) as exc:
        raise ResponseError(f"{shape}: {exc}") from None
    if isinstance(body, str):
        body = body.encode()
        if not any(k.lower() == "content-type" for k, _ in pairs):
            pairs.append(("Content-Type", "text/plain; charset=utf-8"))
    if body is None:
        body = b""
    if not isinstance(body, bytes | bytearray):
        raise ResponseError(f"{shape}: the body must be bytes or str, got {body!r:.100}")
    # A Transfer-Encoding or Content-Length header of the callable's own is sent as given.
    data, closing = _encode(code, pairs, bytes(body), "length", request, closing)
    return [data], closing
