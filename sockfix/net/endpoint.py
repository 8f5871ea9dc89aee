"""What every endpoint (server or proxy) is made of: options, a :class:`Lifecycle`, the
recording, waits, faults, strict reporting (a pure :class:`StrictReport`) and transcripts.

:class:`Endpoint` is the base of :class:`sockfix.TCPProxy`; :class:`ScriptedServer` adds what a
scripted server has and a proxy has not (a rule book, strict mode), for ``TCPServer`` and
``UDPServer``. Subclasses bind, serve, abort and close down; ``stop()`` goes the same way
everywhere.
"""

from __future__ import annotations

import errno
import socket
import ssl
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Self

from sockfix.core.errors import PortInUseError, StrictError
from sockfix.core.faults import Fault
from sockfix.core.faults.shaping import FaultSet, pick_seed
from sockfix.core.handlers import handler_text
from sockfix.core.record import Connection, Event
from sockfix.core.rules import RuleBook
from sockfix.core.script import Handler
from sockfix.core.strict import StrictReport
from sockfix.core.transcript import DEFAULT_LIMIT, render_server
from sockfix.net import runtime
from sockfix.net.lifecycle import Lifecycle, Phase
from sockfix.net.runtime import Changes, announce
from sockfix.net.tls import TLSMaterial, no_material

__all__ = [
    "Endpoint",
    "EventListener",
    "ScriptedServer",
    "bind_error",
    "check_host_port",
    "family_of",
]

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


class Endpoint:
    """Base of every server and the proxy (not public): see those for the options."""

    kind = "endpoint"
    transport = "tcp"
    # A TLS endpoint sets these: its server context, and what sockfix made it from.
    tls: ssl.SSLContext | None = None
    _tls_material: TLSMaterial | None = None

    def __init__(
        self,
        *,
        host: str,
        port: int,
        seed: int | None,
        on_event: EventListener | None,
        report: StrictReport,
        directional: bool = False,
        name: str | None = None,
    ) -> None:
        if name is not None and (
            not isinstance(name, str) or not name.strip() or "\n" in name or len(name) > 60
        ):
            raise TypeError(
                f"name must be a short one-line str such as name='db' (shown in transcripts, "
                f"reports and errors), got {name!r}"
            )
        self.name = name
        self._host, self._port = check_host_port(host, port)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise TypeError(f"seed must be an int or None, got {seed!r}")
        if on_event is not None and not callable(on_event):
            raise TypeError(f"on_event must be a callable (connection, event), got {on_event!r}")
        self.test_seed: runtime.TestSeed | None = None  # the test's seed this one came from
        if seed is None:
            self.test_seed = runtime.test_seed()
            if self.test_seed is not None:
                seed = self.test_seed.next()
        self.seed_picked = seed is None or (self.test_seed is not None and self.test_seed.picked)
        self.seed: int = pick_seed() if seed is None else seed
        self.on_event = on_event
        self._life = Lifecycle(self.kind)
        self._report = report
        self._faults = FaultSet(self.transport, directional=directional)
        self._connections: list[Connection] = []
        self._changes = Changes()
        announce(self)

    # -- what subclasses provide ------------------------------------------------

    def start(self) -> Self:
        raise NotImplementedError

    def _bound_port(self) -> int | None:
        raise NotImplementedError

    def _abort(self) -> None:
        """Wake every thread of the endpoint (``stop()`` has begun)."""
        raise NotImplementedError

    def _close_down(self) -> None:
        """Close what is left once the threads are joined."""
        raise NotImplementedError

    def _settled(self) -> bool:
        """True when everything that reached the endpoint has been handled."""
        raise NotImplementedError

    # -- lifecycle ------------------------------------------------

    @property
    def strict(self) -> bool:
        """Whether problems raise :class:`sockfix.StrictError` (a proxy is never strict)."""
        return self._report.strict

    def _shutdown(self) -> None:
        life = self._life
        if not life.begin_stop():
            return
        life.wake()
        self._abort()
        stuck = life.join()
        self._close_down()
        if not stuck:
            self._detach()
        life.finish(stuck)

    def _detach(self) -> None:
        """Every thread is joined: drop the recordings' references back to this endpoint, so
        that a dropped endpoint frees its recording at once (by reference counting) instead of
        at some later cyclic GC: 64 MiB recordings piled up and slowed everything after them."""
        for conn in self._connections:
            conn.detach()

    def settle(self, timeout: float = 1.0) -> bool:
        """Wait (up to ``timeout``) until the endpoint has handled every byte that reached it:
        no connection waits to be accepted, and each open one waits for bytes with none
        pending. True when settled.

        The plugin calls this before its strict check, so that a message the client sent just
        before the test ended is judged in the test, not after.
        """

        def settled() -> bool:
            return not self._life.running or self._settled()

        try:
            # Readers going idle announce nothing (that would cost on the hot path): look often.
            self._changes.wait_until(settled, timeout, f"{self._name()} to settle", recheck=0.002)
        except TimeoutError:
            return False
        return True

    def stop(self, *, check: bool = True) -> None:
        """Stop, close every client socket, join every thread; idempotent.

        Raises :class:`sockfix.StrictError` (once per problem) when a strict server saw a
        problem, unless ``check=False``.
        """
        self._shutdown()
        if check:
            self.check()
        else:  # looked at and waived: the plugin will not raise them either
            self._report.waive()

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
        text, _ = self._report.take(self._strict_title())
        if text:
            exc.add_note(text)

    def _on_change(self, conn: Connection, event: Event) -> None:
        self._changes.notify()
        if self.on_event is not None:
            try:
                self.on_event(conn, event)
            except Exception as exc:  # the user's callback must not break the connection
                self._report.found.append(
                    f"on_event callback {_describe(self.on_event)} raised on a {event.kind!r} "
                    f"event of connection {conn.number}: {exc!r}"
                )

    # -- where ------------------------------------------------

    @property
    def host(self) -> str:
        return self._host

    @property
    def port(self) -> int:
        """The port bound (the ephemeral one picked when ``port=0``)."""
        port = self._bound_port()
        if port is None:
            raise RuntimeError(f"the {self.kind} is not started: call start() or use `with`")
        return port

    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)``, ready for ``socket.create_connection`` or ``sendto``."""
        return (self._host, self.port)

    def _where(self) -> str:
        """Where it listens, as shown in titles and errors."""
        return f"{self._host}:{self.port}"

    def _name(self) -> str:
        where = self._where() if self._bound_port() is not None else "(not started)"
        named = f" {self.name!r}" if self.name is not None else ""
        return f"{self.kind}{named} {where}"

    def __repr__(self) -> str:
        phase = self._life.phase.value
        n = len(self._connections)
        return f"<sockfix {self._name()} {phase}, {n} connection{'s' if n != 1 else ''}>"

    # -- TLS ------------------------------------------------

    def client_context(self) -> ssl.SSLContext:
        """A client-side ``ssl.SSLContext`` that trusts this endpoint's certificate (made with
        ``tls=True`` or a preset; with ``client_cert=``, it carries a client certificate)."""
        if self._tls_material is None:
            raise no_material(self.kind, self.tls)
        return self._tls_material.client_context()

    @property
    def ca_path(self) -> str:
        """The PEM file of the CA that signed this endpoint's certificate (for ``verify=``,
        ``REQUESTS_CA_BUNDLE``, ``SSL_CERT_FILE``, ``curl --cacert``)."""
        if self._tls_material is None:
            raise no_material(self.kind, self.tls)
        return self._tls_material.ca_path

    # -- faults ------------------------------------------------

    def fault(self, fault: Fault, connections: list[int] | None = None) -> Fault:
        """Attach a fault (from ``sockfix.faults``) to what this server sends.

        ``connections=[1, 2]`` picks connections (for UDP: peers) by the order they came,
        counted from 1; omitted, it applies to all. Faults act on open connections from their
        next send (``Hang()``, ``Timeout()`` or ``Reset()`` attached to an open connection
        hang, stall or reset it there). Faults compose in the order added. Returns the fault.
        """
        return self._faults.add(fault, connections)

    def clear_faults(self) -> None:
        """Remove every fault; open connections send unshaped from their next send on."""
        self._faults.clear()

    @property
    def faults(self) -> list[str]:
        """The attached faults, described."""
        return self._faults.describe()

    # -- the recording ------------------------------------------------

    @property
    def connections(self) -> list[Connection]:
        """Every connection, in accept order (``connections[0]`` is number 1)."""
        return list(self._connections)

    @property
    def received(self) -> bytes:
        """The bytes received over all connections, in accept order."""
        return b"".join(c.received for c in self._connections)

    def wait_for_connections(self, n: int, timeout: float = 5.0) -> list[Connection]:
        """Block until ``n`` connections were seen; returns the first ``n``."""
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

    # -- strict mode and reports ------------------------------------------------

    @property
    def problems(self) -> list[str]:
        """The strict problems seen so far (also the lines of a StrictError)."""
        return self._report.problems()

    def _strict_title(self) -> str:
        return f"{self._name()} (strict, seed={self.seed})"

    def check(self) -> None:
        """Raise :class:`sockfix.StrictError` now for strict problems not yet raised.

        ``stop()`` does this too; the pytest plugin calls it when the test body ends.
        """
        text, problems = self._report.take(self._strict_title())
        if text:
            raise StrictError(text, problems)

    def _title_details(self) -> str:
        return ""

    def _rules_text(self) -> str:
        return ""

    def transcript(self, limit: int = DEFAULT_LIMIT) -> str:
        """The rules, faults, strict problems and every connection's traffic as text and hex."""
        mode = "strict" if self.strict else "not strict"
        picked = " (picked; pass seed= or --sockfix-seed to replay)" if self.seed_picked else ""
        if self.test_seed is not None:  # the report's first line says how to replay the test
            picked = f" from test seed {self.test_seed.seed}"
        title = f"{self._name()} ({mode}{self._title_details()}, seed={self.seed}{picked})"
        rules = self._rules_text()
        faults = self._faults.describe()
        if faults:
            rules += ("\n" if rules else "") + "faults:\n" + "\n".join("  " + f for f in faults)
        return render_server(
            title, self.connections, problems=self.problems, rules=rules, limit=limit
        )


class ScriptedServer(Endpoint):
    """Base of TCPServer and UDPServer: an endpoint answering from a rule book, strict or
    not."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        strict: bool,
        seed: int | None,
        on_event: EventListener | None,
        name: str | None = None,
        ordered: bool = False,
    ) -> None:
        if not isinstance(strict, bool):
            raise TypeError(
                f"strict must be a bool, strict=True or strict=False, got {strict!r}"
                + (" (a str is not read as a bool)" if isinstance(strict, str) else "")
            )
        if not isinstance(ordered, bool):
            raise TypeError(
                f"ordered must be a bool, ordered=True or ordered=False, got {ordered!r}"
            )
        self._book = RuleBook(
            guard=threading.Lock(), datagrams=self.transport == "udp", ordered=ordered
        )
        super().__init__(
            host=host,
            port=port,
            seed=seed,
            on_event=on_event,
            name=name,
            report=StrictReport(strict, self._book),
        )

    handler: Handler | None  # set by each server before this base's __init__

    def _rules_text(self) -> str:
        return self._book.describe()

    def _strict_title(self) -> str:
        return f"{self._name()} (strict, {handler_text(self.handler)}, seed={self.seed})"

    def _check_not_stopped(self) -> None:
        if self._life.phase in (Phase.STOPPING, Phase.STOPPED):
            raise RuntimeError(
                "the server is stopped: add rules before stop(), or make a new server"
            )


def _describe(predicate: Callable[..., object]) -> str:
    name = getattr(predicate, "__qualname__", None) or repr(predicate)
    return f"predicate {name}"
