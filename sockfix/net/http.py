"""HTTPServer: a :class:`~sockfix.TCPServer` that speaks HTTP/1.1.

A thin server: the framing is :func:`sockfix.framing.http`, each connection's script is an
:class:`~sockfix.core.http.script.HTTPScript`, and everything else (the listener, the one
executor, faults, recording, strict mode, transcripts) is the TCP server's.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Callable
from typing import Any, cast
from urllib.parse import quote

from sockfix.core.http.codec import HTTPRequest
from sockfix.core.http.rules import HTTPRule, RequestMatcher
from sockfix.core.http.script import HTTPHandler, HTTPScript
from sockfix.core.patterns import ANY
from sockfix.core.record import Connection
from sockfix.core.script import OnUnmatched, Script
from sockfix.framing import Framing, http
from sockfix.net.endpoint import EventListener
from sockfix.net.tcp import TCPServer
from sockfix.net.tls import ClientCert
from sockfix.net.unix import UnixPath

__all__ = ["HTTPServer"]

_MISSING: Any = object()


class HTTPServer(TCPServer):
    """A fake HTTP/1.1 server on loopback: ``expect(method, path, ...)`` then ``respond(...)``.

    Takes every :class:`~sockfix.TCPServer` option but ``framing`` (it frames HTTP requests
    itself), and:

    - ``handler=``: a callable ``(request) -> (status, headers, body)`` (or raw response bytes,
      or None for "unmatched") answering what no rule matches.
    - ``on_unmatched=None``: an unmatched request gets a ``500`` whose body names it and the
      rules, then the connection closes (strict: the test fails with it). ``"close"``,
      ``"reset"``, ``"ignore"`` or bytes act as on TCP.

    ``server.url(path)`` is the URL a client uses; ``server.requests`` every request parsed, in
    arrival order over all connections.
    """

    kind = "HTTPServer"

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        handler: HTTPHandler | None = None,
        strict: bool = True,
        on_unmatched: OnUnmatched | None = None,
        tls: bool | str | ssl.SSLContext | None = None,
        seed: int | None = None,
        on_event: EventListener | None = None,
        name: str | None = None,
        ordered: bool = False,
        max_connections: int | None = None,
        client_cert: ClientCert = None,
        unix: bool | UnixPath | None = None,
        framing: Framing | None = _MISSING,
    ) -> None:
        if framing is not _MISSING:
            raise TypeError(
                "HTTPServer frames HTTP requests itself and takes no framing=; for another "
                "framing use sockfix.TCPServer(framing=...), or framing=sockfix.framing.http() "
                "on a TCPServer to script raw bytes per request"
            )
        self._requests: list[HTTPRequest] = []
        self._http_unmatched = on_unmatched
        super().__init__(
            host=host,
            port=port,
            handler=cast(Any, handler),  # called with the request, by HTTPScript
            strict=strict,
            on_unmatched=on_unmatched,
            tls=tls,
            seed=seed,
            on_event=on_event,
            name=name,
            ordered=ordered,
            max_connections=max_connections,
            client_cert=client_cert,
            unix=unix,
        )

    def _default_framing(self) -> Framing:
        return http()

    def _make_script(self, conn: Connection) -> Script:
        return HTTPScript(
            conn,
            self._book,
            self.framing,
            cast(HTTPHandler | None, self.handler),
            self.strict,
            self._report.found,
            self._http_unmatched,
            self._requests,
        )

    # -- scripting ------------------------------------------------

    def expect(
        self,
        method: str | Any = ANY,
        path: str | re.Pattern[str] | Callable[[str], bool] | Any = ANY,
        *,
        query: dict[str, Any] | None = None,
        headers: dict[str, Any] | None = None,
        body: bytes | re.Pattern[bytes] | Callable[[bytes], bool] | None = None,
        json: Any = _MISSING,
    ) -> HTTPRule:
        """Add a rule for requests matching all that is given: ``method`` (a str, or ANY);
        ``path`` (a str equal to the path without its query, a compiled str regex that must
        fullmatch, a callable, or ANY); ``query`` (each item present: a str among the key's
        values, a list equal to them, or ANY); ``headers`` (each present, names
        case-insensitive); ``body`` (bytes, a bytes regex, a callable); ``json`` (equal after
        parsing the body)."""
        self._check_not_stopped()
        extra: dict[str, Any] = {} if json is _MISSING else {"json": json}
        matcher = RequestMatcher(method, path, query=query, headers=headers, body=body, **extra)
        return self._book.add(matcher, HTTPRule)

    # -- what tests read ------------------------------------------------

    def url(self, path: str = "/") -> str:
        """The URL of ``path`` on this server: ``http://127.0.0.1:PORT/path`` (``[::1]`` for
        IPv6; ``https`` with ``tls=``; ``http+unix://%2Ftmp%2F...%2Fs/path`` on a Unix socket)."""
        if not isinstance(path, str):
            raise TypeError(f"url() takes the path as a str such as '/users/1', got {path!r}")
        if not path.startswith("/"):
            raise ValueError(f"url({path!r}): a path starts with '/': write url({'/' + path!r})")
        scheme = "https" if self.tls is not None else "http"
        if self._unix_wanted:  # the requests-unixsocket / httpie form: the path, %-encoded
            return f"{scheme}+unix://{quote(self.path, safe='')}{path}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}{path}"

    @property
    def requests(self) -> list[HTTPRequest]:
        """Every request parsed, in arrival order over all connections."""
        return list(self._requests)

    def _title_details(self) -> str:
        tls = self._tls_text()
        handler = "a handler" if self.handler is not None else "no handler"
        return f", HTTP/1.1{tls}, {handler}"
