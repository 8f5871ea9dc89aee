"""What every sockfix server and the proxy share: options, life cycle, waiting, faults,
strict reporting and transcripts. Subclasses bind, serve and shut down."""

from __future__ import annotations

import contextlib
import errno
import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Self

from sockfix.core.errors import PortInUseError, StrictError
from sockfix.core.faults import Fault
from sockfix.core.faults.shaping import FaultSet, pick_seed
from sockfix.core.record import Connection, Event
from sockfix.core.rules import RuleBook
from sockfix.core.transcript import DEFAULT_LIMIT, render_server
from sockfix.net import runtime
from sockfix.net.runtime import Changes, ThreadSet, announce

__all__ = ["EventListener", "Peer", "bind_error", "check_host_port", "family_of"]

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


class Peer:
    """Base of TCPServer and UDPServer (not public): see those for the options."""

    kind = "server"
    transport = "tcp"

    def __init__(
        self,
        *,
        host: str,
        port: int,
        strict: bool,
        seed: int | None,
        on_event: EventListener | None,
    ) -> None:
        self._host, self._port = check_host_port(host, port)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise TypeError(f"seed must be an int or None, got {seed!r}")
        if on_event is not None and not callable(on_event):
            raise TypeError(f"on_event must be a callable (connection, event), got {on_event!r}")
        self.strict = bool(strict)
        if seed is None:
            seed = runtime.default_seed()
        self.seed_picked = seed is None
        self.seed: int = pick_seed() if seed is None else seed
        self.on_event = on_event
        self._faults = FaultSet(self.transport)
        self._lock = threading.Lock()
        self._book = RuleBook(guard=self._lock)
        self._connections: list[Connection] = []
        self._problems: list[str] = []
        self._changes = Changes()
        self._threads = ThreadSet(f"sockfix {self.kind}")
        self._stopping = threading.Event()
        self._stopped = threading.Event()
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._t0 = time.perf_counter()
        self._state = "new"
        self._reported: set[str] = set()
        announce(self)

    # -- what subclasses provide ------------------------------------------------

    def start(self) -> Self:
        raise NotImplementedError

    def _shutdown(self) -> None:
        raise NotImplementedError

    def _bound_port(self) -> int | None:
        raise NotImplementedError

    # -- lifecycle ------------------------------------------------

    def _begin_stop(self) -> bool:
        """True for the one caller that must do the stopping; the others wait for it."""
        with self._lock:
            elsewhere = self._state == "stopping"
            if self._state != "started" and not elsewhere:
                self._state = "stopped"
                return False
            if not elsewhere:
                self._state = "stopping"
                self._stopping.set()
        if elsewhere:
            # Another thread is stopping: return once it is done (unless we are one of the
            # threads it joins, e.g. stop() from an on_event callback).
            if threading.current_thread() not in self._threads:
                self._stopped.wait(10.0)
            return False
        return True

    def settle(self, timeout: float = 1.0) -> bool:
        """Wait (up to ``timeout``) until the server has handled every byte that reached it.

        The plugin calls this before its strict check, so that a message the client sent just
        before the test ended is judged in the test, not after. True when settled.
        """
        return True

    def _go(self, loop: Callable[[], None], name: str) -> threading.Thread:
        """Mark the server started (its clock from now) and start its ``loop`` thread; the
        loop watches ``self._wake_r``, which :meth:`_wake` writes to."""
        self._wake_r, self._wake_w = wake_pair()
        self._t0 = time.perf_counter()
        self._state = "started"
        return self._threads.start(loop, name=name)

    def _wake(self) -> None:
        """Wake the loop thread (to stop, or to stop accepting)."""
        if self._wake_w is not None:
            with contextlib.suppress(OSError):
                self._wake_w.send(b"x")

    def _close_wake(self) -> None:
        for s in (self._wake_r, self._wake_w):
            if s is not None:
                s.close()

    def _end_stop(self) -> None:
        self._state = "stopped"
        self._stopped.set()

    def _check_new(self) -> None:
        if self._state != "new":
            raise RuntimeError(f"this {self.kind} was already {self._state}; make a new one")

    def stop(self, *, check: bool = True) -> None:
        """Stop, close every client socket, join every thread; idempotent.

        Raises :class:`sockfix.StrictError` (once per problem) when a strict server saw a
        problem, unless ``check=False``.
        """
        self._shutdown()
        if check:
            self.check()
        else:  # looked at and waived: the plugin will not raise them either
            self._reported.update(self.problems)

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
        problems = self._unreported()
        text = self._problem_text(problems)
        if text:
            self._reported.update(problems)
            exc.add_note(text)

    def _clock(self) -> float:
        return time.perf_counter() - self._t0

    def _on_change(self, conn: Connection, event: Event) -> None:
        changes = self._changes
        if changes._waiting or changes._async:  # the hot path: usually nobody waits
            changes.notify()
        if self.on_event is not None:
            try:
                self.on_event(conn, event)
            except Exception as exc:  # the user's callback must not break the connection
                self._problems.append(
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

    def _name(self) -> str:
        where = f"{self._host}:{self.port}" if self._bound_port() is not None else "(not started)"
        return f"{self.kind} {where}"

    def __repr__(self) -> str:
        return f"<sockfix {self._name()} {self._state}, {len(self._connections)} connections>"

    # -- faults ------------------------------------------------

    def fault(self, fault: Fault, connections: list[int] | None = None) -> Fault:
        """Attach a fault (from ``sockfix.faults``) to what this server sends.

        ``connections=[1, 2]`` picks connections (for UDP: peers) by the order they came,
        counted from 1; omitted, it applies to all, open ones included (from their next send).
        Faults compose in the order added. Returns the fault.
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
        return list(self._problems) + self._unused_rule_problems()

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
        rules = self._book.greetings + self._book.rules
        usage = f"all rules, with their use:\n{self._book.describe()}\n" if rules else ""
        return (
            f"sockfix {self._name()} (strict, seed={self.seed}) saw {len(problems)} problem(s):\n"
            f"{body}\n{usage}(pass strict=False to record and ignore these)"
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

    def _title_details(self) -> str:
        return ""

    def transcript(self, limit: int = DEFAULT_LIMIT) -> str:
        """The rules, faults, strict problems and every connection's traffic as text and hex."""
        mode = "strict" if self.strict else "not strict"
        picked = " (picked; pass seed= or --sockfix-seed to replay)" if self.seed_picked else ""
        title = f"{self._name()} ({mode}{self._title_details()}, seed={self.seed}{picked})"
        rules = self._book.describe()
        faults = self._faults.describe()
        if faults:
            rules += "\nfaults:\n" + "\n".join("  " + f for f in faults)
        return render_server(
            title, self.connections, problems=self.problems, rules=rules, limit=limit
        )


def _describe(predicate: Callable[..., object]) -> str:
    name = getattr(predicate, "__qualname__", None) or repr(predicate)
    return f"predicate {name}"


def wake_pair() -> tuple[socket.socket, socket.socket]:
    """A socketpair whose write end wakes a selector loop."""
    r, w = socket.socketpair()
    r.setblocking(False)
    return r, w
