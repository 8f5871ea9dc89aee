"""ToxiproxyServer: toxiproxy's HTTP control API in process, so toxiproxy clients drive sockfix.

Each proxy made through the API is a :class:`~sockfix.net.proxy.TCPProxy`; each toxic is the
fault :func:`sockfix.core.toxics.fault_of` maps it to, attached to the toxic's stream with its
toxicity. The API runs on the standard library's threading HTTP server, one request per
connection (``Connection: close``), every read bounded, requests handled one at a time. Routes,
codes, JSON shapes and error texts are toxiproxy's (see :mod:`sockfix.core.toxics`); sockfix
adds ``GET /proxies/{name}/connections``.
"""

from __future__ import annotations

import contextlib
import secrets
import socket
import socketserver
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self, cast

from sockfix.core import toxics as tx
from sockfix.core.faults import Fault
from sockfix.core.faults.shaping import pick_seed
from sockfix.core.record import Connection, Event
from sockfix.core.toxics import ApiError, Reply, Toxic
from sockfix.net import runtime
from sockfix.net.endpoint import bind_error, check_host_port, family_of
from sockfix.net.proxy import TCPProxy

__all__ = ["ToxiproxyServer"]

ProxyListener = Callable[[str, Connection, Event], None]
MAX_BODY = 1 << 20
POLL_S = 0.05
_NO_CONTENT: Reply = (204, "", b"")


@dataclass
class _Entry:
    """One proxy of the API: what toxiproxy shows, and the TCPProxy once it has listened."""

    name: str
    listen: str
    upstream: str
    enabled: bool = False
    proxy: TCPProxy | None = None
    toxics: list[Toxic] = field(default_factory=list)
    faults: dict[str, Fault] = field(default_factory=dict)  # toxic name -> attached fault

    def to_json(self) -> dict[str, Any]:
        return tx.proxy_json(self.name, self.listen, self.upstream, self.enabled, self.toxics)

    def describe(self) -> str:
        state = "listening on" if self.enabled else "disabled,"
        return f"{state} {self.listen}, upstream {self.upstream}"

    def find(self, toxic: str) -> int:
        for i, t in enumerate(self.toxics):
            if t.name == toxic:
                return i
        raise ApiError("toxic not found", 404)


class ToxiproxyServer:
    """toxiproxy's HTTP API (``api.url``) on loopback; ``api.proxies`` maps each proxy made
    through it to its :class:`~sockfix.TCPProxy`.

    ``ToxiproxyServer(host="127.0.0.1", port=0, seed=None)``: ``port=0`` picks a free port
    (toxiproxy's own is 8474); each proxy's seed derives from ``seed`` and its name, so one seed
    replays every toxicity draw. ``on_change(text)`` hears each change made through the API,
    ``on_event(proxy_name, connection, event)`` every event of every proxy (on the server's
    threads). ``start()`` and ``stop()`` are prompt and idempotent; stopping stops every proxy
    (their recordings stay readable). A server starts once.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int | None = None,
        on_change: Callable[[str], None] | None = None,
        on_event: ProxyListener | None = None,
    ) -> None:
        self._host, self._port = check_host_port(host, port)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise TypeError(f"seed must be an int or None, got {seed!r}")
        if seed is None:
            test = runtime.test_seed()  # inside a test: --sockfix-seed replays it
            seed = test.next() if test is not None else pick_seed()
        self.seed: int = seed
        self.on_change = on_change
        self.on_event = on_event
        self._wild = "127.0.0.1" if host == "localhost" else host  # where 0.0.0.0:N listens
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.RLock()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopped = False

    def start(self) -> Self:
        """Listen and serve the API; returns the server (again: does nothing)."""
        with self._lock:
            if self._stopped:
                raise RuntimeError("a ToxiproxyServer starts once: make a new one")
            if self._httpd is None:
                try:
                    self._httpd = _HTTPServer((self._host, self._port), self)
                except OSError as exc:
                    raise bind_error(exc, self._host, self._port) from None
                serve = partial(self._httpd.serve_forever, poll_interval=POLL_S)
                self._thread = threading.Thread(target=serve, name="sockfix toxiproxy api")
                self._thread.daemon = True
                self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the API and every proxy, join every thread; idempotent."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            httpd, thread = self._httpd, self._thread
        if httpd is not None and thread is not None:
            httpd.shutdown()  # returns within POLL_S
            thread.join()
        with self._lock:
            for entry in self._entries.values():
                if entry.proxy is not None:
                    entry.proxy.stop(check=False)
        if httpd is not None:
            httpd.close_all()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def host(self) -> str:
        return self._host

    @property
    def port(self) -> int:
        """The API's port (the one picked when ``port=0``)."""
        if self._httpd is None:
            raise RuntimeError("the ToxiproxyServer is not started: call start() or use `with`")
        return int(self._httpd.server_address[1])

    @property
    def address(self) -> tuple[str, int]:
        return (self._host, self.port)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``, for the toxiproxy client."""
        return f"http://{tx.hostport(self._host, self.port)}"

    @property
    def proxies(self) -> dict[str, TCPProxy]:
        """Each proxy made through the API that has listened, by name (a copy)."""
        with self._lock:
            return {n: e.proxy for n, e in self._entries.items() if e.proxy is not None}

    def __repr__(self) -> str:
        where = self.url if self._httpd is not None else "(not started)"
        return f"<sockfix ToxiproxyServer {where}, {len(self._entries)} proxies, seed={self.seed}>"

    # -- the routes -----------------------------------------------------------------------

    def dispatch(self, method: str, target: str, raw: bytes) -> Reply:
        """One request, answered as toxiproxy answers it."""
        found = tx.route(method, target)
        if not isinstance(found, tx.Route):
            return found
        handler: Callable[..., Reply] = getattr(self, f"_{found.handler}")
        with self._lock:
            try:
                if self._stopped:
                    raise ApiError("the server is stopping", 503)
                return handler(*found.names, raw)
            except ApiError as exc:
                return tx.reply_json(exc.status, exc.body(), "\n")

    def _say(self, text: str) -> None:
        if self.on_change is not None:
            self.on_change(text)

    def _get(self, name: str) -> _Entry:
        entry = self._entries.get(name)
        if entry is None:
            raise ApiError("proxy not found", 404)
        return entry

    def _version(self, raw: bytes) -> Reply:
        version = sys.modules["sockfix"].__version__  # the package: imported before this
        text = f'{{"version": "sockfix-{version}"}}\n'
        return 200, "application/json;charset=utf-8", text.encode()

    def _index(self, raw: bytes) -> Reply:
        return tx.reply_json(200, {n: self._entries[n].to_json() for n in sorted(self._entries)})

    def _show(self, name: str, raw: bytes) -> Reply:
        return tx.reply_json(200, self._get(name).to_json())

    def _create(self, raw: bytes) -> Reply:
        got = tx.proxy_fields(tx.decode_json(raw), {"listen": "", "enabled": True})
        tx.upstream_of(got["upstream"])
        if got["name"] in self._entries:
            raise ApiError("proxy already exists", 409)
        entry = _Entry(got["name"], got["listen"], got["upstream"])
        if got["enabled"]:
            self._enable(entry)
        self._entries[entry.name] = entry
        self._say(f"proxy {entry.name} created: {entry.describe()}")
        return tx.reply_json(201, entry.to_json())

    def _populate(self, raw: bytes) -> Reply:
        done: list[_Entry] = []
        try:  # errors come with the proxies made so far (null: none), as toxiproxy says them
            wanted = tx.populate_fields(tx.decode_json(raw))
            for got in wanted:  # every address checked before anything changes
                if got["enabled"]:
                    self._listen_at(got["listen"])
            for got in wanted:
                old = self._entries.get(got["name"])
                if old is not None and not self._moved(old, got["listen"], got["upstream"]):
                    done.append(old)  # the same proxy: kept as it is, toxics included
                    continue
                if old is not None:  # replaced: its toxics go with it, as in toxiproxy
                    self._drop(old)
                entry = _Entry(got["name"], got["listen"], got["upstream"])
                if got["enabled"]:
                    self._enable(entry)
                self._entries[entry.name] = entry
                done.append(entry)
        except ApiError as exc:
            body = {**exc.body(), "proxies": [e.to_json() for e in done] or None}
            return tx.reply_json(exc.status, body)
        self._say(f"populate: {', '.join(e.name for e in done) or 'no proxies'}")
        return tx.reply_json(201, {"proxies": [e.to_json() for e in done]})

    def _update(self, name: str, raw: bytes) -> Reply:
        entry = self._get(name)
        now = {"name": name, "listen": entry.listen, "upstream": entry.upstream}
        got = tx.proxy_fields(tx.decode_json(raw), {**now, "enabled": entry.enabled})
        tx.upstream_of(got["upstream"])
        if self._moved(entry, got["listen"], got["upstream"]):
            if entry.proxy is not None:
                entry.proxy.stop(check=False)
            entry.proxy, entry.enabled = None, False
            entry.listen, entry.upstream = got["listen"], got["upstream"]
        if got["enabled"] and not entry.enabled:
            self._enable(entry)
        elif not got["enabled"] and entry.enabled and entry.proxy is not None:
            entry.proxy.refuse()  # connects get ECONNREFUSED; the port stays the proxy's
            entry.proxy.drop_connections()
            entry.enabled = False
        self._say(f"proxy {name} updated: {entry.describe()}")
        return tx.reply_json(200, entry.to_json())

    def _delete(self, name: str, raw: bytes) -> Reply:
        self._drop(self._get(name))
        self._say(f"proxy {name} deleted")
        return _NO_CONTENT

    def _reset(self, raw: bytes) -> Reply:
        for entry in self._entries.values():
            if not entry.enabled:
                self._enable(entry)
            entry.toxics, entry.faults = [], {}
            if entry.proxy is not None:
                entry.proxy.clear_faults()
        self._say("reset: every proxy enabled, every toxic removed")
        return _NO_CONTENT

    def _toxics(self, name: str, raw: bytes) -> Reply:
        return tx.reply_json(200, self._get(name).to_json()["toxics"])

    def _toxic(self, name: str, toxic: str, raw: bytes) -> Reply:
        entry = self._get(name)
        return tx.reply_json(200, entry.toxics[entry.find(toxic)].to_json())

    def _add(self, name: str, raw: bytes) -> Reply:
        entry = self._get(name)
        toxic = tx.new_toxic(tx.decode_json(raw), {t.name for t in entry.toxics})
        entry.toxics.append(toxic)
        self._attach(entry, [toxic])
        self._say(f"toxic {toxic.name} added to {name}: {toxic.describe()}")
        return tx.reply_json(200, toxic.to_json())

    def _change(self, name: str, toxic: str, raw: bytes) -> Reply:
        entry = self._get(name)
        i = entry.find(toxic)
        updated = tx.updated_toxic(entry.toxics[i], tx.decode_json(raw))
        # Re-attached with the later ones of its stream: the chain keeps toxiproxy's order.
        later = [t for t in entry.toxics[i:] if t.direction == updated.direction]
        self._detach(entry, later)
        entry.toxics[i] = updated
        self._attach(entry, [updated, *later[1:]])
        self._say(f"toxic {toxic} of {name} updated: {updated.describe()}")
        return tx.reply_json(200, updated.to_json())

    def _remove(self, name: str, toxic: str, raw: bytes) -> Reply:
        entry = self._get(name)
        self._detach(entry, [entry.toxics.pop(entry.find(toxic))])
        self._say(f"toxic {toxic} removed from {name}")
        return _NO_CONTENT

    def _connections(self, name: str, raw: bytes) -> Reply:
        proxy = self._get(name).proxy
        return tx.reply_json(
            200, [tx.connection_json(c) for c in (proxy.connections if proxy else [])]
        )

    # -- carrying it out ------------------------------------------------------------------

    def _listen_at(self, listen: str) -> tuple[str, int]:
        try:
            host, port = tx.parse_address(listen, "listen")
        except ValueError as exc:
            raise ApiError(str(exc), 500) from None
        return (host or self._wild), port

    def _moved(self, entry: _Entry, listen: str, upstream: str) -> bool:
        """Whether ``listen`` / ``upstream`` name another place than the entry's (port 0:
        any port, the one bound stays)."""
        if upstream != entry.upstream:
            return True
        if listen == entry.listen:
            return False
        host, port = self._listen_at(listen)
        proxy = entry.proxy
        return proxy is None or host != proxy.host or port not in (0, proxy.port)

    def _drop(self, entry: _Entry) -> None:
        if entry.proxy is not None:
            entry.proxy.stop(check=False)
        del self._entries[entry.name]

    def _enable(self, entry: _Entry) -> None:
        """Listen: on the entry's TCPProxy's port again, or on a new TCPProxy."""
        if entry.proxy is not None:
            try:
                entry.proxy.resume()
            except OSError as exc:
                raise ApiError(tx.bind_text(exc, *entry.proxy.address), 500) from None
            entry.enabled = True
            return
        host, port = self._listen_at(entry.listen)
        fits = entry.name.strip() and len(entry.name) <= 60 and entry.name.isprintable()
        try:
            proxy = TCPProxy(
                upstream=tx.upstream_of(entry.upstream),
                host=host,
                port=port,
                seed=tx.proxy_seed(self.seed, entry.name),
                name=entry.name if fits else None,
                on_event=None if self.on_event is None else partial(self.on_event, entry.name),
            )
        except (TypeError, ValueError) as exc:
            raise ApiError(f"bad request body: {exc}", 400) from None
        try:
            proxy.start()
        except OSError as exc:
            raise ApiError(tx.bind_text(exc, host, port), 500) from None
        entry.proxy, entry.enabled, entry.faults = proxy, True, {}
        entry.listen = tx.hostport(host, proxy.port)
        self._attach(entry, entry.toxics)

    def _attach(self, entry: _Entry, toxics: list[Toxic]) -> None:
        for t in toxics:
            fault = tx.fault_of(t)
            if fault is not None and entry.proxy is not None:
                way, toxicity = t.direction, t.toxicity
                entry.faults[t.name] = entry.proxy.fault(fault, direction=way, toxicity=toxicity)

    def _detach(self, entry: _Entry, toxics: list[Toxic]) -> None:
        for t in toxics:
            fault = entry.faults.pop(t.name, None)
            if fault is not None and entry.proxy is not None:
                entry.proxy.remove_fault(fault)


class _Handler(BaseHTTPRequestHandler):
    """One request per connection, every read bounded by ``timeout``."""

    protocol_version = "HTTP/1.1"
    timeout = 5.0
    server_version = "sockfix-toxiproxy"

    def _any(self) -> None:
        self.close_connection = True
        if self.headers.get("User-Agent", "").startswith("Mozilla/"):  # as toxiproxy does
            reply: Reply = (403, "text/plain; charset=utf-8", b"User agent not allowed\n")
        else:
            try:
                raw = self._body()
            except ValueError as exc:
                reply = tx.reply_json(400, ApiError(f"bad request body: {exc}", 400).body(), "\n")
            else:
                reply = cast(_HTTPServer, self.server).api.dispatch(self.command, self.path, raw)
        status, content_type, body = reply
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        if status != 204:
            self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Toxiproxy-Request-Id", secrets.token_hex(10))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = do_HEAD = do_OPTIONS = _any

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding"):  # toxiproxy's clients all send a length
            raise ValueError("send the body with a Content-Length, not chunked")
        length = int(self.headers.get("Content-Length") or 0)
        if not 0 <= length <= MAX_BODY:
            raise ValueError(f"Content-Length {length}: at most {MAX_BODY} bytes")
        return self.rfile.read(length)

    def setup(self) -> None:
        super().setup()
        cast(_HTTPServer, self.server).track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            cast(_HTTPServer, self.server).track(self.connection, False)

    def log_message(self, format: str, *args: Any) -> None:  # quiet: on_change tells
        pass


class _HTTPServer(ThreadingHTTPServer):
    """The API's server: ``close_all()`` shuts the sockets of the requests being served (their
    reads fail at once; a request that starts later is shut as it starts), then joins them."""

    daemon_threads, block_on_close = False, True  # server_close() joins the request threads

    def __init__(self, address: tuple[str, int], api: ToxiproxyServer) -> None:
        self.address_family = family_of(address[0])
        self.api = api
        self._guard = threading.Lock()
        self._serving: set[socket.socket] = set()
        self._closing = False
        super().__init__(address, _Handler)

    def server_bind(self) -> None:  # without HTTPServer's reverse lookup of the host
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), self.server_address[1]

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that went away mid-request: nothing to tell

    def track(self, sock: socket.socket, serving: bool = True) -> None:
        with self._guard:
            (self._serving.add if serving else self._serving.discard)(sock)
            late = serving and self._closing
        if late:
            _shut(sock)

    def close_all(self) -> None:
        with self._guard:
            self._closing = True
            serving = list(self._serving)
        for sock in serving:
            _shut(sock)
        self.server_close()


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
