"""TCPServer: a scripted fake TCP peer on ``socketserver``, with exact recording.

The accept loop waits on the listening socket and a wake-up socketpair (no poll interval), so
``stop()`` returns in milliseconds: it wakes the loop, shuts every client socket down (which
wakes any thread blocked in ``recv`` or ``send``), and joins every thread it started. Each
connection is a :class:`~sockfix.net.served.Served` on its own thread.
"""

from __future__ import annotations

import os
import select
import selectors
import socket
import socketserver
import ssl
import threading
from typing import Any, Self

from sockfix.core.faults.shaping import Shaper
from sockfix.core.handlers import handler_text
from sockfix.core.patterns import Pattern
from sockfix.core.record import Connection, peer_text
from sockfix.core.rules import Rule
from sockfix.core.script import Handler, OnUnmatched, Script
from sockfix.framing import (
    Framing,
    delimited,
    describe,
    fixed,
    http,
    length_prefixed,
    lines,
    parse,
    raw,
    resp,
)
from sockfix.net.endpoint import EventListener, ScriptedServer, bind_error, family_of
from sockfix.net.execute import send_rst
from sockfix.net.served import Served
from sockfix.net.tls import ClientCert, resolve_tls
from sockfix.net.unix import (
    UnixPath,
    check_path,
    identity,
    make_path,
    peer_of,
    remove,
    unlink_stale,
)

__all__ = ["TCPServer"]

LISTEN_BACKLOG = 128

# The functions of sockfix.framing that make framings, and how a call to each reads.
_FACTORIES: tuple[tuple[object, str], ...] = (
    (lines, "lines()"),
    (raw, "raw()"),
    (fixed, "fixed(8)"),
    (delimited, "delimited(b'\\r\\n')"),
    (length_prefixed, "length_prefixed('!I')"),
    (parse, "parse('lines')"),
    (http, "http()"),
    (resp, "resp()"),
)
_UNMATCHED = ("close", "reset", "ignore")
_UNMATCHED_HELP = '"close", "reset", "ignore", or the bytes to answer with (e.g. b"ERR\\n")'


def _check_framing(framing: object) -> None:
    for factory, call in _FACTORIES:
        if framing is factory:
            name = call.partition("(")[0]
            raise TypeError(
                f"framing=sockfix.framing.{name} is the factory: call it, "
                f"framing=sockfix.framing.{call}"
            )
    if not callable(framing):
        raise TypeError(
            "framing must be a callable (buffer) -> int | None such as "
            f"sockfix.framing.lines(); got {framing!r} (for text, use sockfix.framing.parse)"
        )


def _on_unmatched(value: object, strict: object) -> OnUnmatched:
    """The checked ``on_unmatched=``; None is "close" on a strict server, else "ignore"."""
    if value is None:
        return "close" if strict else "ignore"
    if isinstance(value, str):
        if value in _UNMATCHED:
            return value  # type: ignore[return-value]
        raise ValueError(
            f"on_unmatched must be {_UNMATCHED_HELP}; got {value!r}"
            + (f" (to answer with it, pass bytes: {value.encode()!r})" if value.strip() else "")
        )
    if isinstance(value, bytes | bytearray):
        if not value:
            raise ValueError('on_unmatched=b"" answers nothing: use on_unmatched="ignore"')
        return bytes(value)
    raise TypeError(f"on_unmatched must be {_UNMATCHED_HELP}; got {value!r}")


class _Listener(socketserver.TCPServer):
    """socketserver's TCPServer with a deep backlog, TCP_NODELAY, and our own dispatch."""

    request_queue_size = LISTEN_BACKLOG
    allow_reuse_address = True

    def __init__(self, owner: TCPServer, address: tuple[str, int] | str) -> None:
        unix = isinstance(address, str)
        self.address_family = socket.AF_UNIX if unix else family_of(address[0])
        self.allow_reuse_address = not unix
        self.owner: TCPServer | None = owner  # None once the server stopped
        super().__init__(
            address,  # type: ignore[arg-type]  # socketserver binds a str on AF_UNIX too
            socketserver.BaseRequestHandler,
            bind_and_activate=True,
        )

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, peer = self.socket.accept()
        if self.address_family != socket.AF_UNIX:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock, peer

    def process_request(self, request: Any, client_address: Any) -> None:
        if self.owner is None:  # pragma: no cover - the server stopped meanwhile
            request.close()
            return
        self.owner._accepted(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:  # pragma: no cover
        pass


class TCPServer(ScriptedServer):
    """A fake TCP peer on loopback: script it, point a client at it, read what crossed the wire.

    Use it as a context manager (``with TCPServer() as server:``) or call ``start()`` and
    ``stop()``. Options:

    - ``host="127.0.0.1"``, ``port=0`` (a free ephemeral port); ``host="::1"`` for IPv6.
    - ``framing=sockfix.framing.lines()``: how received bytes are cut into messages.
    - ``handler=``: a callable ``(message) -> bytes | None`` answering what no rule matches,
      such as ``sockfix.echo(bytes.upper)``.
    - ``strict=True``: unmatched messages, unframed leftovers, unused ``times(n)`` rules and
      failing response callables or framings raise :class:`sockfix.StrictError` from ``stop()``.
    - ``on_unmatched=None``: what a message that no rule or handler answers gets: ``"close"``
      (a FIN after the replies already due), ``"reset"`` (a RST), ``"ignore"`` (nothing; keep
      reading) or bytes (sent as the answer). None is ``"close"`` when strict, else ``"ignore"``.
    - ``tls=``: ``True`` (a throwaway CA shared by the session and a certificate for
      ``localhost``, ``127.0.0.1`` and ``::1``: see ``client_context()`` and ``ca_path``), a
      preset that a correct client refuses (``"expired"``, ``"not-yet-valid"``,
      ``"wrong-host"``, ``"self-signed"``, ``"unknown-ca"``), or an ``ssl.SSLContext`` (server
      side) of your own. Rules and recordings see the decrypted bytes.
    - ``client_cert=None``: ``"required"`` (or ``"optional"``) asks clients for a certificate
      (mutual TLS); ``client_context()`` then carries one.
    - ``seed=None``: the seed of every random choice faults make; None picks one (shown in the
      transcript and the failure report; under pytest it derives from the test's seed, which
      ``--sockfix-seed`` sets).
    - ``ordered=False``: ``True`` makes the rules steps, used in the order added: each message
      must match the next step (a rule is one step, ``times(n)`` is n steps), across
      connections in arrival order; strict, every step must be used.
    - ``max_connections=None``: connection N+1 and later are reset on accept (recorded, with a
      ``"reset"`` event; a strict problem).
    - ``on_event=``: ``callback(connection, event)`` called from server threads for every event.
    - ``name=``: a short name (``name="db"``) shown in transcripts, the report and errors, so
      a test with several servers reads by names, not port numbers.
    """

    kind = "TCPServer"
    transport = "tcp"

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        framing: Framing | None = None,
        handler: Handler | None = None,
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
    ) -> None:
        self._unix: str | None = None  # the socket file's path, once known
        self._unix_folder: str | None = None  # the folder sockfix made for it
        self._unix_wanted: bool | str = False
        self._unix_bound: tuple[int, int, int] | None = None  # the socket file it made
        if unix is not None and unix is not False:
            if host != "127.0.0.1" or port != 0:
                raise ValueError(
                    "unix= listens on a socket file, not on a host and port: drop host= and "
                    "port= (or drop unix=)"
                )
            self._unix_wanted = True if unix is True else check_path(unix)
        if framing is None:
            framing = self._default_framing()
        else:
            _check_framing(framing)
        if max_connections is not None and (
            isinstance(max_connections, bool)
            or not isinstance(max_connections, int)
            or max_connections < 1
        ):
            raise ValueError(
                f"max_connections must be an int >= 1 (or None for no limit), "
                f"got {max_connections!r}"
            )
        self.max_connections = max_connections
        self.on_unmatched: OnUnmatched = _on_unmatched(on_unmatched, strict)
        if handler is not None and not callable(handler):
            raise TypeError(
                f"handler must be a callable (message) -> bytes | None, got {handler!r}"
            )
        self.tls, self._tls_material = resolve_tls(tls, client_cert)
        self.framing = framing
        self.handler = handler
        self._served: list[Served] = []
        self._listener: _Listener | None = None
        self._accept_thread: threading.Thread | None = None
        self._refusing = False  # refuse() closed the listener; resume() opens a new one
        self._accepting = False  # the accept loop is handing a connection over
        super().__init__(
            host=host,
            port=port,
            strict=strict,
            seed=seed,
            on_event=on_event,
            name=name,
            ordered=ordered,
        )

    def _default_framing(self) -> Framing:
        return lines()

    @classmethod
    def from_scenario(cls, path: str | os.PathLike[str], **overrides: Any) -> Self:
        """A server set up from a scenario file (docs/scenarios.md), not yet started.

        The file's framing, strict, and host, port and seed when it sets them, are the
        options; keyword ``overrides`` (any ``TCPServer`` option, e.g. ``port=0``) win over
        them. Its rules are added in file order and its faults attached. A file that cannot be
        read or breaks the schema raises :class:`sockfix.ScenarioError` naming the key and fix.
        """
        from sockfix.core.scenario import load

        scenario = load(path)
        server = cls(**{**scenario.server_options(), **overrides})
        scenario.apply(server)
        return server

    # -- lifecycle ------------------------------------------------

    def start(self) -> Self:
        """Bind, listen and start accepting; returns the server."""
        self._life.check_new(self.kind)
        try:
            self._listener = _Listener(self, self._listen_address())
            if self._unix is not None:
                self._unix_bound = identity(self._unix)
        except OSError as exc:
            remove(None, self._unix_folder)
            if self._unix is not None:
                raise
            raise bind_error(exc, self._host, self._port) from None
        self._accept_thread = self._life.start(self._accept_loop, "accept")
        return self

    def _listen_address(self) -> tuple[str, int] | str:
        """Where to bind: the host and port, or the socket file (made or checked here)."""
        if not self._unix_wanted:
            return (self._host, self._port)
        if self._unix is None:
            if self._unix_wanted is True:
                self._unix, self._unix_folder = make_path()
            else:
                assert isinstance(self._unix_wanted, str)
                self._unix = self._unix_wanted
        unlink_stale(self._unix)
        return self._unix

    def _abort(self) -> None:
        for served in self._all_served():
            served.abort()

    def _close_down(self) -> None:
        # A connection accepted while we were stopping has been aborted by its own thread.
        for served in self._all_served():
            served.abort()
        if self._listener is not None:
            if not self._refusing:
                self._listener.server_close()
            self._listener.owner = None  # no cycle: a dropped server is freed at once
        remove(self._unix, self._unix_folder, self._unix_bound)

    def _all_served(self) -> list[Served]:
        with self._life.lock:
            return list(self._served)

    # -- the listening side ------------------------------------------------

    def _accept_loop(self) -> None:
        listener = self._listener
        life = self._life
        assert listener is not None
        assert life.wake_r is not None
        with selectors.DefaultSelector() as sel:
            sel.register(listener.socket, selectors.EVENT_READ, "accept")
            sel.register(life.wake_r, selectors.EVENT_READ, "wake")
            while not life.stopping.is_set():
                for key, _ in sel.select():
                    if key.data == "wake":
                        life.wake_r.recv(64)
                    if life.stopping.is_set() or self._refusing:
                        return
                    if key.data == "wake":
                        continue
                    self._accepting = True
                    try:
                        listener._handle_request_noblock()  # type: ignore[attr-defined]
                    finally:
                        self._accepting = False

    def _accepted(self, sock: socket.socket, peer: Any) -> None:
        life = self._life
        with life.lock:
            if life.stopping.is_set():
                sock.close()
                return
            where = peer_of(peer) if self._unix is not None else (peer[0], peer[1])
            conn = Connection(len(self._connections) + 1, where, self._life.clock, self._on_change)
            self._connections.append(conn)
            served: Served | None = None
            if self.max_connections is None or conn.number <= self.max_connections:
                script = self._make_script(conn)
                shaper = Shaper(self._faults, self.seed, conn.number, "downstream")
                # A server with a .starttls() rule wraps later, when the rule says so.
                book = self._book
                upgrades = any(r.upgrade for r in (*book.greetings, *book.rules))
                accept_tls = None if upgrades else self.tls
                served = Served(sock, conn, life.stopping, script, shaper, accept_tls, self.tls)
                self._served.append(served)
        if served is None:
            self._over_limit(sock, conn)
            return
        conn.record("connect", note=f"from {peer_text(conn.peer)}")
        life.threads.start(served.run, name=f"connection {conn.number}")

    def _make_script(self, conn: Connection) -> Script:
        """The script that answers ``conn`` (a protocol kit's server makes its own)."""
        return Script(
            conn,
            self._book,
            self.framing,
            self.handler,
            self.strict,
            self._report.found,
            self.on_unmatched,
        )

    def _over_limit(self, sock: socket.socket, conn: Connection) -> None:
        """A connection past ``max_connections``: recorded, reset at once, reported."""
        conn.record("connect", note=f"from {peer_text(conn.peer)}")
        why = f"max_connections={self.max_connections}"
        if self.strict:  # reported before the "reset" event wakes anyone waiting on it
            self._report.found.append(
                f"connection {conn.number}: reset on accept, past {why} "
                f"(raise max_connections, or make the client reuse its connection)"
            )
        kind, said = send_rst(sock)
        conn.record(kind, note=f"{why}; {said}" if said else why)

    # -- scripting ------------------------------------------------

    def expect(self, pattern: Pattern) -> Rule:
        """Add a rule for messages matching ``pattern``: bytes, a bytes regex, a callable, ANY."""
        self._check_not_stopped()
        return self._book.expect(pattern)

    def on_connect(self) -> Rule:
        """Add a rule that speaks first, as soon as a client connects (a greeting)."""
        self._check_not_stopped()
        return self._book.on_connect()

    # -- faults ------------------------------------------------

    def refuse(self) -> None:
        """Stop listening: connects fail with ECONNREFUSED until :meth:`resume` (same port).

        Refused attempts are not connections. Open connections carry on.
        """
        life = self._life
        with life.lock:
            if not life.running or self._refusing:
                return
            self._refusing = True
            accept = self._accept_thread
        life.wake()
        if accept is not None:
            accept.join()
        assert self._listener is not None
        self._listener.server_close()

    def resume(self) -> None:
        """Listen again on the same port after :meth:`refuse`."""
        life = self._life
        with life.lock:
            if not life.running or not self._refusing:
                return
            try:
                if self._unix is not None:
                    self._listener = _Listener(self, self._listen_address())
                    self._unix_bound = identity(self._unix)
                else:
                    self._listener = _Listener(self, (self._host, self.port))
            except OSError as exc:
                if self._unix is not None:
                    raise
                raise bind_error(exc, self._host, self.port) from None
            self._refusing = False
            self._accept_thread = life.threads.start(self._accept_loop, name="accept")

    @property
    def rules(self) -> list[Rule]:
        """The ``on_connect()`` rules, then the ``expect()`` rules, in the order added."""
        return self._book.greetings + self._book.rules

    def _settled(self) -> bool:
        listener = self._listener
        if listener is None or self._refusing:
            return True
        # The listener first, the flag second: a connection taken off the queue is either
        # being handed over (accepting) or already listed.
        if select.select([listener.socket], [], [], 0)[0] or self._accepting:
            return False  # a connection waits to be accepted
        return all(served.settled() for served in self._all_served())

    def _bound_port(self) -> int | None:
        if self._listener is None:
            return None
        if self._unix is not None:
            return 0
        return int(self._listener.server_address[1])

    # -- where (a Unix socket file instead of a host and port) --------------------------------

    @property
    def path(self) -> str:
        """The socket file's path of a ``unix=`` server (RuntimeError on a TCP one)."""
        if not self._unix_wanted:
            raise RuntimeError(
                f"the {self.kind} listens on {self._host}, not on a socket file: pass unix=True "
                "for a Unix socket server"
            )
        if self._unix is None:
            raise RuntimeError(f"the {self.kind} is not started: call start() or use `with`")
        return self._unix

    @property
    def host(self) -> str:
        """The host listened on; for a ``unix=`` server, the socket file's path."""
        if self._unix_wanted:
            return self.path
        return super().host

    @property
    def port(self) -> int:
        """The port bound (the ephemeral one picked when ``port=0``)."""
        if self._unix_wanted:
            raise RuntimeError(
                f"the {self.kind} listens on a Unix socket file, not a port: use server.path "
                "(or server.address, the same path)"
            )
        return super().port

    @property
    def address(self) -> Any:
        """``(host, port)`` for ``socket.create_connection``; for a ``unix=`` server, the
        socket file's path (``socket.socket(AF_UNIX).connect(server.address)``)."""
        if self._unix_wanted:
            return self.path
        return super().address

    def _where(self) -> str:
        return f"unix:{self._unix}" if self._unix is not None else super()._where()

    def _title_details(self) -> str:
        return f", framing {describe(self.framing)}{self._tls_text()}, {handler_text(self.handler)}"

    def _tls_text(self) -> str:
        material = self._tls_material
        if self.tls is None:
            return ""
        if material is None or material.preset == "valid":
            return ", TLS"
        return f", TLS {material.preset!r}"
