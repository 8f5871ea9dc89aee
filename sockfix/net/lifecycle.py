"""When an endpoint runs: its phase, the event every wait wakes on, its wake pair, its threads.

Every server and the proxy compose one :class:`Lifecycle`. ``stop()`` goes the same way
everywhere: :meth:`Lifecycle.begin_stop` picks the one caller that does the work (the others
wait for it), the endpoint wakes and aborts what it runs, :meth:`Lifecycle.join` waits for its
threads, and :meth:`Lifecycle.finish` closes the wake pair and reports threads that did not stop.
"""

from __future__ import annotations

import contextlib
import enum
import socket
import threading
import time
from collections.abc import Callable

from sockfix.net.runtime import ThreadSet

__all__ = ["Lifecycle", "Phase", "StuckThreadsError"]

JOIN_TIMEOUT = 5.0


class Phase(enum.Enum):
    NEW = "new"
    STARTED = "started"
    STOPPING = "stopping"
    STOPPED = "stopped"


class StuckThreadsError(RuntimeError):
    """Threads of an endpoint were still running after ``stop()`` waited for them (a bug)."""


class Lifecycle:
    """The phase of one endpoint (behind its own lock), its stopping event, wake pair and
    threads."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.lock = threading.Lock()
        self.phase = Phase.NEW
        self.stopping = threading.Event()
        self.threads = ThreadSet(f"sockfix {name}")
        self.t0 = time.perf_counter()
        self._stopped = threading.Event()
        self.wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None

    @property
    def running(self) -> bool:
        """Started and not stopping."""
        return self.phase is Phase.STARTED

    def clock(self) -> float:
        """Seconds since the endpoint started (every event's time)."""
        return time.perf_counter() - self.t0

    def check_new(self, kind: str) -> None:
        if self.phase is not Phase.NEW:
            raise RuntimeError(f"this {kind} was already {self.phase.value}; make a new one")

    def start(
        self, loop: Callable[[], None], name: str, *, wake_pair: bool = True
    ) -> threading.Thread:
        """Mark the endpoint started (its clock from now) and start its ``loop`` thread; with
        ``wake_pair``, :attr:`wake_r` is the read end that :meth:`wake` writes to."""
        if wake_pair:
            self.wake_r, self._wake_w = socket.socketpair()
            self.wake_r.setblocking(False)
        self.t0 = time.perf_counter()
        self.phase = Phase.STARTED
        return self.threads.start(loop, name=name)

    def wake(self) -> None:
        """Wake the loop thread (to stop, or to stop accepting)."""
        if self._wake_w is not None:
            with contextlib.suppress(OSError):
                self._wake_w.send(b"x")

    def begin_stop(self) -> bool:
        """True for the one caller that must do the stopping; the others wait for it."""
        with self.lock:
            elsewhere = self.phase is Phase.STOPPING
            if self.phase is not Phase.STARTED and not elsewhere:
                self.phase = Phase.STOPPED
                return False
            if not elsewhere:
                self.phase = Phase.STOPPING
                self.stopping.set()
        if elsewhere:
            # Another thread is stopping: return once it is done (unless we are one of the
            # threads it joins, e.g. stop() from an on_event callback).
            if threading.current_thread() not in self.threads:
                self._stopped.wait(JOIN_TIMEOUT * 2)
            return False
        return True

    def join(self, timeout: float = JOIN_TIMEOUT) -> list[threading.Thread]:
        """Join every thread the endpoint started; those still running after ``timeout``."""
        return self.threads.join_all(timeout)

    def finish(self, stuck: list[threading.Thread]) -> None:
        """Close the wake pair and mark the endpoint stopped; raise if threads were stuck."""
        for s in (self.wake_r, self._wake_w):
            if s is not None:
                s.close()
        self.phase = Phase.STOPPED
        self._stopped.set()
        if stuck:
            names = ", ".join(sorted(t.name for t in stuck))
            raise StuckThreadsError(
                f"sockfix {self.name}: threads still running {JOIN_TIMEOUT:g} s after stop(): "
                f"{names} (a sockfix bug: please report it with the transcript)"
            )
