"""TCPProxy: a fault-injecting, recording proxy in front of a real server.

Each client connection is a :class:`~sockfix.net.link.Link`: an upstream connection and one
thread per direction. Each way reads a chunk, records it, passes it through the faults of its
direction (read afresh at every chunk, so ``fault()`` and ``clear_faults()`` act live on open
connections) and has the one executor send what they make of it. An upstream that refuses or
resets is passed on to the client as a reset; an EOF on either side is passed on as a
half-close (through the faults: ``SlowClose`` delays it).
"""

from __future__ import annotations

import contextlib
import os
import select
import selectors
import socket
import ssl
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

from sockfix.core.faults import Direction, Fault
from sockfix.core.http.codec import describe_request, parse_request
from sockfix.core.record import ProxyConnection
from sockfix.core.resp.codec import describe_command, parse_command
from sockfix.core.strict import StrictReport
from sockfix.framing import _HTTP, _RESP, Framing, lines
from sockfix.net.endpoint import Endpoint, EventListener, bind_error, check_host_port, family_of
from sockfix.net.link import Link, where
from sockfix.net.tls import ClientCert, resolve_tls, session
from sockfix.net.unix import SUN_PATH_MAX

__all__ = ["ProxyConnection", "TCPProxy"]


def _describer(framing: Framing) -> Callable[[bytes], str] | None:
    """How a kit's framing reads a message for transcripts: a Redis command, an HTTP
    request; None for other framings."""
    if isinstance(framing, _RESP):
        return lambda message: describe_command(parse_command(message))
    if isinstance(framing, _HTTP):
        return lambda message: describe_request(parse_request(message))
    return None


def _upstream_context(value: object) -> ssl.SSLContext | None:
    """The client-side context toward the upstream for ``upstream_tls=``."""
    if value is None or value is False:
        return None
    if isinstance(value, ssl.SSLContext):
        return value
    if value is True:
        ctx = ssl.create_default_context()
        with contextlib.suppress(ImportError):  # a sockfix TLS server upstream is trusted too
            ctx.load_verify_locations(cafile=session().ca_path)
        return ctx
    raise TypeError(
        "upstream_tls must be True (verify the upstream's certificate with the system's CAs and "
        f"sockfix's session CA) or a client-side ssl.SSLContext, got {value!r}"
    )  # ProxyConnection is defined in sockfix.core.record


class TCPProxy(Endpoint):
    """A recording, fault-injecting TCP proxy on loopback in front of ``upstream``.

    ``TCPProxy(upstream=("127.0.0.1", 6379))``: point the client at ``proxy.address``; a str
    upstream is a Unix socket path (``TCPProxy(upstream="/run/app.sock")``: TCP in front, the
    socket file behind). Options:
    ``host="127.0.0.1"``, ``port=0``, ``seed=None``, ``framing=lines()`` (how
    :meth:`save_scenario` cuts requests), ``connect_timeout=5.0``, ``on_event``.
    ``fault(f, direction="upstream" | "downstream" | "both", connections=[...])`` acts live.
    ``tls=`` (True, a preset, or a server-side ``ssl.SSLContext``) terminates TLS toward the
    client; ``upstream_tls=`` (True: trust the system's CAs and sockfix's session CA, or a
    client-side ``ssl.SSLContext``) speaks TLS to the upstream: the recording holds the
    plaintext of both sides.
    Not strict: a proxy has no script to break.
    """

    kind = "TCPProxy"
    transport = "tcp"

    def __init__(
        self,
        *,
        upstream: tuple[str, int] | str | os.PathLike[str],
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int | None = None,
        framing: Framing | None = None,
        connect_timeout: float = 5.0,
        on_event: EventListener | None = None,
        name: str | None = None,
        tls: bool | str | ssl.SSLContext | None = None,
        upstream_tls: bool | ssl.SSLContext | None = None,
        client_cert: ClientCert = None,
    ) -> None:
        if isinstance(upstream, str | os.PathLike):  # a Unix socket path: (path, 0) inside
            path = os.fspath(upstream)
            named, _, digits = path.rpartition(":")
            if named and digits.isdecimal() and "/" not in path:
                raise TypeError(
                    f"upstream={path!r} looks like host:port: pass a pair, upstream="
                    f"({named.strip('[]')!r}, {int(digits)}); a str upstream is a Unix socket path"
                )
            if not path.startswith(("/", ".")):
                path = os.path.join(".", path)
            size = len(os.fsencode(path))
            if size >= SUN_PATH_MAX:
                raise ValueError(
                    f"upstream={path!r} is {size} bytes: a Unix socket path must be under "
                    f"{SUN_PATH_MAX} bytes on this platform"
                )
            self.upstream: tuple[str, int] = (path, 0)
        elif not isinstance(upstream, tuple | list) or len(upstream) != 2:
            raise TypeError(
                "upstream must be a (host, port) pair such as ('127.0.0.1', 6379), or a Unix "
                f"socket path (a str), got {upstream!r}"
            )
        else:
            up_host, up_port = check_host_port(upstream[0], upstream[1])
            if up_port == 0:
                raise ValueError(f"upstream={upstream!r}: port 0 is no server to connect to")
            self.upstream = (up_host, up_port)
        self.framing: Framing = framing if framing is not None else lines()
        self.tls, self._tls_material = resolve_tls(tls, client_cert)
        self.upstream_tls = _upstream_context(upstream_tls)
        self.connect_timeout = float(connect_timeout)
        self._links: list[Link] = []
        self._accepting = False  # the accept loop is handing a connection over
        self._refusing = False  # refuse() closed the listener; resume() opens a new one
        self._accept_thread: threading.Thread | None = None
        self._sock: socket.socket | None = None
        self._port_bound: int | None = None  # kept after stop(): the socket is closed by then
        super().__init__(
            host=host,
            port=port,
            seed=seed,
            on_event=on_event,
            name=name,
            report=StrictReport(strict=False),
            directional=True,
        )

    # -- lifecycle -------------------------------------------------

    def start(self) -> Self:
        """Listen and start accepting; returns the proxy."""
        self._life.check_new(self.kind)
        self._sock = self._listen(self._port)
        self._port_bound = int(self._sock.getsockname()[1])
        self._accept_thread = self._life.start(self._accept_loop, "accept")
        return self

    def _listen(self, port: int) -> socket.socket:
        sock = socket.socket(family_of(self._host), socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self._host, port))
            sock.listen(128)
        except OSError as exc:
            sock.close()
            raise bind_error(exc, self._host, port) from None
        return sock

    def _abort(self) -> None:
        for link in self._all_links():
            link.abort()

    def _close_down(self) -> None:
        for link in self._all_links():
            link.finish()
            link.release()
        if self._sock is not None:
            self._sock.close()

    def _all_links(self) -> list[Link]:
        with self._life.lock:
            return list(self._links)

    def _settled(self) -> bool:
        sock = None if self._refusing else self._sock
        # The listener first, the flag second: a connection taken off the queue is either
        # being handed over (accepting) or already listed.
        if sock is not None and (select.select([sock], [], [], 0)[0] or self._accepting):
            return False  # a connection waits to be accepted
        return all(link.settled() for link in self._all_links())

    def _bound_port(self) -> int | None:
        return self._port_bound

    def _accept_loop(self) -> None:
        sock = self._sock
        life = self._life
        assert sock is not None
        assert life.wake_r is not None
        with selectors.DefaultSelector() as sel:
            sel.register(sock, selectors.EVENT_READ, "accept")
            sel.register(life.wake_r, selectors.EVENT_READ, "wake")
            while not life.stopping.is_set():
                for key, _ in sel.select():
                    if key.data == "wake":
                        with contextlib.suppress(OSError):
                            life.wake_r.recv(64)
                        if life.stopping.is_set() or self._refusing:
                            return
                        continue
                    self._accepting = True
                    try:
                        client, peer = sock.accept()
                    except OSError:
                        continue
                    else:
                        self._accepted(client, peer)
                    finally:
                        self._accepting = False

    def _accepted(self, client: socket.socket, peer: Any) -> None:
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        life = self._life
        with life.lock:
            if life.stopping.is_set():
                client.close()
                return
            conn = ProxyConnection(
                len(self._connections) + 1,
                (peer[0], peer[1]),
                self._life.clock,
                self._on_change,
                self.upstream,
                self.framing,
                _describer(self.framing),
            )
            self._connections.append(conn)
            link = Link(
                client,
                conn,
                upstream=self.upstream,
                connect_timeout=self.connect_timeout,
                faults=self._faults,
                seed=self.seed,
                life=life,
                tls=self.tls,
                upstream_tls=self.upstream_tls,
            )
            self._links.append(link)
        conn.record("connect", note=f"from {peer[0]}:{peer[1]}")
        life.threads.start(link.run, name=f"link {conn.number}")

    # -- faults -----------------------------------------------------

    def fault(
        self,
        fault: Fault,
        connections: list[int] | None = None,
        direction: Direction = "both",
        *,
        toxicity: float = 1.0,
    ) -> Fault:
        """Attach a fault to one direction (``"upstream"``: client to server,
        ``"downstream"``: server to client) or ``"both"`` (the default); live on open
        connections from their next chunk. ``toxicity`` (toxiproxy's word) is the chance that
        it acts on a connection, drawn once per connection and direction from the seed:
        ``0`` never acts and draws nothing."""
        return self._faults.add(fault, connections, direction, toxicity)

    def remove_fault(self, fault: Fault) -> None:
        """Detach one fault (the object ``fault()`` returned); live, like ``clear_faults()``.
        ValueError when it is not attached."""
        if not self._faults.remove(fault):
            raise ValueError(f"{fault!r} is not attached to this proxy (see proxy.faults)")

    # -- accepting ----------------------------------------------------

    def refuse(self) -> None:
        """Stop listening: connects fail with ECONNREFUSED until :meth:`resume` (same port).
        Open connections carry on (see :meth:`drop_connections`)."""
        life = self._life
        with life.lock:
            if not life.running or self._refusing:
                return
            self._refusing = True
            accept = self._accept_thread
        life.wake()
        if accept is not None:
            accept.join()
        if self._sock is not None:
            self._sock.close()

    def resume(self) -> None:
        """Listen again on the same port after :meth:`refuse`."""
        life = self._life
        with life.lock:
            if not life.running or not self._refusing:
                return
            self._sock = self._listen(self._port_bound or self._port)
            self._refusing = False
            self._accept_thread = life.threads.start(self._accept_loop, name="accept")

    def drop_connections(self) -> None:
        """Close every open connection, both sides (toxiproxy's ``enabled: false`` does this
        after refusing); they are recorded as closed by the proxy."""
        for link in self._all_links():
            link.finish()

    # -- the recording -----------------------------------------------

    @property
    def connections(self) -> list[ProxyConnection]:  # type: ignore[override]
        """Every client connection, in accept order; ``.upstream`` holds the other side."""
        return [c for c in self._connections if isinstance(c, ProxyConnection)]

    def _title_details(self) -> str:
        tls = ", TLS" if self.tls is not None else ""
        up_tls = " (TLS)" if self.upstream_tls is not None else ""
        return f"{tls}, upstream {where(self.upstream)}{up_tls}"

    def save_scenario(self, path: str | Path) -> Path:
        """Write what the proxy saw as a scenario file that a fake server replays.

        Each client request (cut by the proxy's framing) becomes a rule answering with what
        the real server sent back before the next request; a greeting becomes an
        ``on_connect`` rule. See docs/scenarios.md.
        """
        from sockfix.core.scenario import exchanges_from, write_scenario

        records = [(c.events, c.upstream.events) for c in self.connections]
        return write_scenario(path, exchanges_from(records, self.framing), framing=self.framing)
