"""Threads, wake-ups and waiting: what every socket-layer object shares.

- :class:`Changes` wakes ``wait_until`` callers (threads and asyncio tasks) when a recording
  changes; it costs nothing on the hot path while nobody waits.
- :class:`ThreadSet` starts and joins the threads a server owns.
- :func:`watch` lets the pytest plugin see every server a test creates.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from sockfix.core.faults.shaping import derive_seed, pick_seed

__all__ = ["Changes", "ThreadSet", "watch"]

# The longest a waiter sleeps before looking again, for predicates on state no event covers.
_RECHECK_S = 0.05


class Changes:
    """A change counter that blocked and async waiters can wait on."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._waiting = 0
        self._async: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()

    def notify(self) -> None:
        """Wake every waiter (costs two attribute checks when there are none)."""
        if self._waiting:
            with self._cond:
                self._cond.notify_all()
        if self._async:
            for loop, event in list(self._async):
                with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                    loop.call_soon_threadsafe(event.set)

    def wait_until(
        self,
        predicate: Callable[[], bool],
        timeout: float,
        what: str,
        recheck: float = _RECHECK_S,
    ) -> None:
        """Block until ``predicate()`` is true; TimeoutError naming ``what`` after ``timeout``.

        Woken by every change; ``recheck`` is the longest it sleeps before looking again (for
        predicates on state that no change announces)."""
        _check_timeout(timeout)
        predicate = _Guarded(predicate, what)
        deadline = time.monotonic() + timeout
        with self._cond:
            self._waiting += 1
            try:
                while not predicate():
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise predicate.timeout(timeout)
                    self._cond.wait(min(left, recheck))
            finally:
                self._waiting -= 1

    async def wait_until_async(
        self, predicate: Callable[[], bool], timeout: float, what: str
    ) -> None:
        """The asyncio twin of :meth:`wait_until`: never blocks the event loop."""
        _check_timeout(timeout)
        predicate = _Guarded(predicate, what)
        loop = asyncio.get_running_loop()
        event = asyncio.Event()
        key = (loop, event)
        deadline = loop.time() + timeout
        self._async.add(key)
        try:
            while not predicate():
                left = deadline - loop.time()
                if left <= 0:
                    raise predicate.timeout(timeout)
                event.clear()
                if predicate():
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), min(left, _RECHECK_S))
        finally:
            self._async.discard(key)


class _Guarded:
    """A predicate where a lookup error (``s.connections[0]`` before the first connect) counts
    as "not yet"; the last such error goes into the timeout message."""

    def __init__(self, predicate: Callable[[], bool], what: str) -> None:
        self.predicate = predicate
        self.what = what
        self.last: LookupError | None = None

    def __call__(self) -> bool:
        try:
            return self.predicate()
        except LookupError as exc:
            self.last = exc
            return False

    def timeout(self, seconds: float) -> TimeoutError:
        raised = f" (its last check raised {self.last!r})" if self.last is not None else ""
        return TimeoutError(f"timed out after {seconds:g} s waiting for {self.what}{raised}")


def _check_timeout(timeout: object) -> None:
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout < 0:
        raise ValueError(f"timeout must be a number of seconds >= 0, got {timeout!r}")


class ThreadSet:
    """The threads one server started; ``join_all`` waits for every one of them."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._lock = threading.Lock()
        self._threads: set[threading.Thread] = set()

    def start(self, target: Callable[..., Any], *args: Any, name: str = "") -> threading.Thread:
        thread = threading.Thread(
            target=self._run, args=(target, args), name=f"{self._name} {name}".strip(), daemon=True
        )
        # Started under the lock: join_all must never see a thread not yet started (join()
        # would raise). The new thread takes the lock only when its target returns.
        with self._lock:
            self._threads.add(thread)
            thread.start()
        return thread

    def __contains__(self, thread: object) -> bool:
        """Whether ``thread`` is one of these threads, still running."""
        with self._lock:
            return thread in self._threads

    def _run(self, target: Callable[..., Any], args: tuple[Any, ...]) -> None:
        try:
            target(*args)
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())

    def join_all(self, timeout: float = 5.0) -> list[threading.Thread]:
        """Join every thread; returns those still alive after ``timeout`` (normally none)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                threads = [t for t in self._threads if t is not threading.current_thread()]
            if not threads:
                return []
            for t in threads:
                t.join(max(0.0, deadline - time.monotonic()))
            if time.monotonic() >= deadline:
                with self._lock:
                    return [t for t in self._threads if t.is_alive()]


class TestSeed:
    """The seed of one test (``--sockfix-seed``, or one picked for it) and how many servers
    the test made so far: the n-th server made with ``seed=None`` takes
    ``derive_seed(seed, n)``, so this one seed replays every server of the test."""

    __test__ = False  # not a pytest test class

    def __init__(self, seed: int, picked: bool) -> None:
        self.seed = seed
        self.picked = picked
        self._made = 0
        self._lock = threading.Lock()

    def next(self) -> int:
        with self._lock:
            self._made += 1
            return derive_seed(self.seed, self._made)


_test_seed: list[TestSeed | None] = [None]


def test_seed() -> TestSeed | None:
    """The seed of the test running now (inside :func:`seeded`), if any."""
    return _test_seed[0]


@contextlib.contextmanager
def seeded(seed: int | None) -> Iterator[TestSeed]:
    """Within the block (one test), servers made with ``seed=None`` derive their seeds from
    ``seed`` (None: one picked for the test) and the order they were made in."""
    old = _test_seed[0]
    current = _test_seed[0] = TestSeed(pick_seed() if seed is None else seed, seed is None)
    try:
        yield current
    finally:
        _test_seed[0] = old


_watchers: list[Callable[[Any], None]] = []
_watchers_lock = threading.Lock()


@contextlib.contextmanager
def watch(callback: Callable[[Any], None]) -> Iterator[None]:
    """Call ``callback(server)`` for every server or proxy created inside the block."""
    with _watchers_lock:
        _watchers.append(callback)
    try:
        yield
    finally:
        with _watchers_lock:
            _watchers.remove(callback)


def announce(server: Any) -> None:
    """Tell the watchers a server was created."""
    if _watchers:
        with _watchers_lock:
            watchers = list(_watchers)
        for callback in watchers:
            callback(server)
