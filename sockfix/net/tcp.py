"""TCPServer: a scripted fake TCP peer on ``socketserver``, with exact recording.

The accept loop waits on the listening socket and a wake-up socketpair (no poll interval), so
``stop()`` returns in milliseconds: it wakes the loop, shuts every client socket down (which
wakes any thread blocked in ``recv`` or ``send``), and joins every thread it started.
"""

from __future__ import annotations

import contextlib
import errno
import selectors
import socket
import socketserver
import ssl
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

from sockfix.core.errors import PortInUseError, StrictError
from sockfix.core.record import Connection, Event
from sockfix.core.rules import Rule, RuleBook
from sockfix.core.script import Handler, Script
from sockfix.core.shaping import FaultSet, Shaper, pick_seed
from sockfix.core.transcript import DEFAULT_LIMIT, render_server
from sockfix.faults import Fault
from sockfix.framing import Framing, describe, lines
from sockfix.net import runtime
from sockfix.net.execute import ConnectionRunner
from sockfix.net.runtime import Changes, ThreadSet, announce

__all__ = ["TCPServer"]

LISTEN_BACKLOG = 128
EventListener = Callable[[Connection, Event], None]


def family_of(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def check_host_port(host: object, port: object) -> tuple[str, int]:
    if not isinstance(host, str) or not host:
        raise TypeError(f"host must be a non-empty str such as '127.0.0.1' or '::1', got {host!r}")
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueError(f"port must be an int in 0..65535 (0 picks a free port), got {port!r}")
    return host, port


def bind_error(exc: OSError, host: str, port: int) -> OSError:
    """A bind failure as an error that names the fix."""
    if exc.errno == errno.EADDRINUSE:
        return PortInUseError(
            errno.EADDRINUSE,
            f"port {port} on {host} is already in use: pass port=0 for a free ephemeral port, "
            "or stop whatever holds it",
        )
    return exc


class _Listener(socketserver.TCPServer):
    """socketserver's TCPServer with a deep backlog, TCP_NODELAY, and our own dispatch."""

    request_queue_size = LISTEN_BACKLOG
    allow_reuse_address = True

    def __init__(self, owner: TCPServer, address: tuple[str, int]) -> None:
        self.address_family = family_of(address[0])
        self.owner = owner
        super().__init__(address, socketserver.BaseRequestHandler, bind_and_activate=True)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, peer = self.socket.accept()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock, peer

    def process_request(self, request: Any, client_address: Any) -> None:
        self.owner._accepted(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:  # pragma: no cover
        pass


class TCPServer:
    """A fake TCP peer on loopback: script it, point a client at it, read what crossed the wire.

    Use it as a context manager (``with TCPServer() as server:``) or call ``start()`` and
    ``stop()``. Options:

    - ``host="127.0.0.1"``, ``port=0`` (a free ephemeral port); ``host="::1"`` for IPv6.
    - ``framing=sockfix.framing.lines()``: how received bytes are cut into messages.
    - ``handler=``: a callable ``(message) -> bytes | None`` answering what no rule matches,
      such as ``sockfix.echo(bytes.upper)``.
    - ``strict=True``: unmatched messages, unframed leftovers, unused ``times(n)`` rules and
      failing response callables raise :class:`sockfix.StrictError` from ``stop()``.
    - ``tls=``: an ``ssl.SSLContext`` (server side); rules and recordings see the decrypted bytes.
    - ``seed=None``: the seed of every random choice faults make; None picks one (shown in the
      transcript and the failure report; ``--sockfix-seed`` sets it for a whole test run).
    - ``on_event=``: ``callback(connection, event)`` called from server threads for every event.
    """

    kind = "TCPServer"

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        framing: Framing | None = None,
        handler: Handler | None = None,
        strict: bool = True,
        tls: ssl.SSLContext | None = None,
        seed: int | None = None,
        on_event: EventListener | None = None,
    ) -> None:
        self._host, self._port = check_host_port(host, port)
        if framing is None:
            framing = lines()
        elif not callable(framing):
            raise TypeError(
                "framing must be a callable (buffer) -> int | None such as "
                f"sockfix.framing.lines(); got {framing!r} (for text, use sockfix.framing.parse)"
            )
        if handler is not None and not callable(handler):
            raise TypeError(
                f"handler must be a callable (message) -> bytes | None, got {handler!r}"
            )
        if tls is not None and not isinstance(tls, ssl.SSLContext):
            raise TypeError(f"tls must be an ssl.SSLContext (server side), got {tls!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise TypeError(f"seed must be an int or None, got {seed!r}")
        self.framing = framing
        self.handler = handler
        self.strict = bool(strict)
        self.tls = tls
        if seed is None:
            seed = runtime.default_seed()
        self.seed_picked = seed is None
        self.seed: int = pick_seed() if seed is None else seed
        self.on_event = on_event
        self._faults = FaultSet("tcp", ("out",))
        self._lock = threading.Lock()
        self._book = RuleBook(guard=self._lock)
        self._connections: list[Connection] = []
        self._runners: list[ConnectionRunner] = []
        self._problems: list[str] = []
        self._changes = Changes()
        self._threads = ThreadSet(f"sockfix {self.kind}")
        self._stopping = threading.Event()
        self._listener: _Listener | None = None
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._accept_thread: threading.Thread | None = None
        self._refusing = False
        self._t0 = time.perf_counter()
        self._state = "new"
        self._reported: set[str] = set()
        announce(self)

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> Self:
        """Bind, listen and start accepting; returns the server."""
        if self._state != "new":
            raise RuntimeError(f"this {self.kind} was already {self._state}; make a new one")
        try:
            self._listener = _Listener(self, (self._host, self._port))
        except OSError as exc:
            raise bind_error(exc, self._host, self._port) from None
        self._wake_r, self._wake_w = socket.socketpair()
        self._t0 = time.perf_counter()
        self._state = "started"
        self._accept_thread = self._threads.start(self._accept_loop, name="accept")
        return self

    def stop(self, *, check: bool = True) -> None:
        """Stop accepting, close every client socket, join every thread; idempotent.

        Raises :class:`sockfix.StrictError` (once per problem) when a strict server saw a
        problem, unless ``check=False``.
        """
        self._shutdown()
        if check:
            self.check()

    def _shutdown(self) -> None:
        with self._lock:
            if self._state != "started":
                self._state = "stopped"
                return
            self._state = "stopping"
            self._stopping.set()
        assert self._wake_w is not None
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")
        with self._lock:
            runners = list(self._runners)
        for runner in runners:
            runner.abort()
        stuck = self._threads.join_all(timeout=5.0)
        # A connection accepted while we were stopping has been aborted by its own runner.
        for runner in self._runners:
            runner.abort()
        if self._listener is not None and not self._refusing:
            self._listener.server_close()
        for s in (self._wake_r, self._wake_w):
            if s is not None:
                s.close()
        self._state = "stopped"
        if stuck:  # pragma: no cover - would be a sockfix bug
            raise RuntimeError(f"sockfix: threads did not stop: {stuck}")

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.stop()
            return
        # Another error is on its way out: stop, and attach the strict problems to it.
        self._shutdown()
        text = self._problem_text(self._unreported())
        if text:
            self._reported.update(self.problems)
            exc.add_note(text)

    # -- the listening side ----------------------------------------------------------------------

    def _accept_loop(self) -> None:
        listener = self._listener
        assert listener is not None
        assert self._wake_r is not None
        with selectors.DefaultSelector() as sel:
            sel.register(listener.socket, selectors.EVENT_READ, "accept")
            sel.register(self._wake_r, selectors.EVENT_READ, "wake")
            while not self._stopping.is_set():
                for key, _ in sel.select():
                    if key.data == "wake":
                        self._wake_r.recv(64)
                    if self._stopping.is_set() or self._refusing:
                        return
                    if key.data == "wake":
                        continue
                    listener._handle_request_noblock()  # type: ignore[attr-defined]

    def _accepted(self, sock: socket.socket, peer: Any) -> None:
        with self._lock:
            if self._stopping.is_set():
                sock.close()
                return
            conn = Connection(
                len(self._connections) + 1, (peer[0], peer[1]), self._clock, self._on_change
            )
            self._connections.append(conn)
            runner = ConnectionRunner(
                sock,
                conn,
                self._stopping,
                self._make_script,
                self._handshake_fn(),
                Shaper(self._faults, self.seed, conn.number, "out"),
            )
            self._runners.append(runner)
        conn.record("connect", note=f"from {peer[0]}:{peer[1]}")
        self._threads.start(runner.run, name=f"connection {conn.number}")

    def _handshake_fn(self) -> Callable[[socket.socket], socket.socket] | None:
        context = self.tls
        if context is None:
            return None

        def handshake(sock: socket.socket) -> socket.socket:
            tls_sock = context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
            tls_sock.do_handshake()
            return tls_sock

        return handshake

    def _make_script(self, conn: Connection) -> Script:
        return Script(conn, self._book, self.framing, self.handler, self.strict, self._problems)

    def _clock(self) -> float:
        return time.perf_counter() - self._t0

    def _on_change(self, conn: Connection, event: Event) -> None:
        changes = self._changes
        if changes.waiting:
            changes.notify()
        if self.on_event is not None:
            self.on_event(conn, event)

    # -- scripting -------------------------------------------------------------------------------

    def expect(self, pattern: object) -> Rule:
        """Add a rule for messages matching ``pattern``: bytes, a bytes regex, a callable, ANY."""
        return self._book.expect(pattern)

    def on_connect(self) -> Rule:
        """Add a rule that speaks first, as soon as a client connects (a greeting)."""
        return self._book.on_connect()

    # -- faults -----------------------------------------------------------------------------------

    def fault(self, fault: Fault, connections: list[int] | None = None) -> Fault:
        """Attach a fault (from ``sockfix.faults``) to what this server sends.

        ``connections=[1, 2]`` picks connections by accept order, counted from 1; omitted, it
        applies to all, open ones included (from their next send). Faults compose in the order
        added. Returns the fault.
        """
        return self._faults.add(fault, connections, "out")

    def clear_faults(self) -> None:
        """Remove every fault; open connections are unaffected from their next send on."""
        self._faults.clear()

    @property
    def faults(self) -> list[str]:
        """The attached faults, described."""
        return self._faults.describe()

    def refuse(self) -> None:
        """Stop listening: connects fail with ECONNREFUSED until :meth:`resume` (same port).

        Refused attempts are not connections. Open connections carry on.
        """
        with self._lock:
            if self._state != "started" or self._refusing:
                return
            self._refusing = True
        assert self._wake_w is not None
        self._wake_w.send(b"r")
        if self._accept_thread is not None:
            self._accept_thread.join()
        assert self._listener is not None
        self._listener.server_close()

    def resume(self) -> None:
        """Listen again on the same port after :meth:`refuse`."""
        with self._lock:
            if self._state != "started" or not self._refusing:
                return
            try:
                self._listener = _Listener(self, (self._host, self.port))
            except OSError as exc:
                raise bind_error(exc, self._host, self.port) from None
            self._refusing = False
        self._accept_thread = self._threads.start(self._accept_loop, name="accept")

    @property
    def rules(self) -> list[Rule]:
        """The ``on_connect()`` rules, then the ``expect()`` rules, in the order added."""
        return self._book.greetings + self._book.rules

    # -- the recording ---------------------------------------------------------------------------

    @property
    def host(self) -> str:
        return self._host

    @property
    def port(self) -> int:
        """The port listened on (the ephemeral one picked when ``port=0``)."""
        if self._listener is None:
            raise RuntimeError(f"the {self.kind} is not started: call start() or use `with`")
        return int(self._listener.server_address[1])

    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)``, ready for ``socket.create_connection``."""
        return (self._host, self.port)

    @property
    def connections(self) -> list[Connection]:
        """Every connection, in accept order (``connections[0]`` is number 1)."""
        return list(self._connections)

    @property
    def received(self) -> bytes:
        """The bytes received over all connections, in accept order."""
        return b"".join(c.received for c in self._connections)

    @property
    def problems(self) -> list[str]:
        """The strict problems seen so far (also the lines of a StrictError)."""
        return list(self._problems) + self._unused_rule_problems()

    def wait_for_connections(self, n: int, timeout: float = 5.0) -> list[Connection]:
        """Block until ``n`` connections were accepted; returns the first ``n``."""
        self._changes.wait_until(
            lambda: len(self._connections) >= n, timeout, f"{n} connection(s) to {self._name()}"
        )
        return self.connections[:n]

    def wait_until(self, predicate: Callable[[Self], object], timeout: float = 5.0) -> None:
        """Block until ``predicate(server)`` is true; TimeoutError after ``timeout`` seconds."""
        self._changes.wait_until(lambda: bool(predicate(self)), timeout, _describe(predicate))

    async def wait_for_connections_async(self, n: int, timeout: float = 5.0) -> list[Connection]:
        """``wait_for_connections`` for asyncio: never blocks the event loop."""
        await self._changes.wait_until_async(
            lambda: len(self._connections) >= n, timeout, f"{n} connection(s) to {self._name()}"
        )
        return self.connections[:n]

    async def wait_until_async(
        self, predicate: Callable[[Self], object], timeout: float = 5.0
    ) -> None:
        """``wait_until`` for asyncio: never blocks the event loop."""
        await self._changes.wait_until_async(
            lambda: bool(predicate(self)), timeout, _describe(predicate)
        )

    # -- reporting ---------------------------------------------------------------------------------

    def _name(self) -> str:
        where = f"{self._host}:{self.port}" if self._listener is not None else "(not started)"
        return f"{self.kind} {where}"

    def transcript(self, limit: int = DEFAULT_LIMIT) -> str:
        """The rules, strict problems and every connection's traffic as text and hex."""
        mode = "strict" if self.strict else "not strict"
        picked = " (picked; pass seed= or --sockfix-seed to replay)" if self.seed_picked else ""
        title = (
            f"{self._name()} ({mode}, framing {describe(self.framing)}, seed={self.seed}{picked})"
        )
        faults = self._faults.describe()
        rules = self._book.describe()
        if faults:
            rules += "\nfaults:\n" + "\n".join("  " + f for f in faults)
        return render_server(
            title, self.connections, problems=self.problems, rules=rules, limit=limit
        )

    def _unused_rule_problems(self) -> list[str]:
        if not self.strict:
            return []
        return [
            f"rule {r.describe()} was used {r.used} of {r.limit} times" for r in self._book.unused()
        ]

    def _unreported(self) -> list[str]:
        return [p for p in self.problems if p not in self._reported]

    def _problem_text(self, problems: list[str]) -> str:
        if not self.strict or not problems:
            return ""
        body = "\n".join(f"{i}) {p}" for i, p in enumerate(problems, 1))
        return (
            f"sockfix {self._name()} (strict) saw {len(problems)} problem(s):\n{body}\n"
            f"all rules:\n{self._book.describe()}\n"
            "(pass strict=False to record and ignore these)"
        )

    def check(self) -> None:
        """Raise :class:`sockfix.StrictError` now for strict problems not yet raised.

        ``stop()`` does this too; the pytest plugin calls it when the test body ends.
        """
        problems = self._unreported()
        text = self._problem_text(problems)
        if text:
            self._reported.update(problems)
            raise StrictError(text, problems)

    def __repr__(self) -> str:
        return f"<sockfix {self._name()} {self._state}, {len(self._connections)} connections>"


def _describe(predicate: Callable[..., object]) -> str:
    name = getattr(predicate, "__qualname__", None) or repr(predicate)
    return f"predicate {name}"
