"""Shared test helpers: every test is checked for leaked threads and file descriptors."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator

import pytest

pytest_plugins = ["pytester"]


def _fds() -> set[str]:
    try:
        return set(os.listdir("/proc/self/fd"))
    except FileNotFoundError:  # pragma: no cover - not Linux
        return set()


def _threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.is_alive()}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "leaks_ok: skip the thread and fd leak check (for tests that run pytester)"
    )


@pytest.fixture(autouse=True)
def no_leaks(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test that leaves a thread running or a file descriptor open."""
    if request.node.get_closest_marker("leaks_ok"):
        yield
        return
    threads, fds = _threads(), _fds()
    yield
    deadline = time.monotonic() + 2.0
    while True:  # threads that were told to end may take a moment to be gone
        new_threads = _threads() - threads
        new_fds = _fds() - fds
        if not new_threads and not new_fds:
            return
        if time.monotonic() > deadline:
            break
        for t in new_threads:
            t.join(0.05)
        if not new_threads:
            time.sleep(0.01)  # sleep-ok: fds are closed by GC/other threads, nothing to wait on
    details = []
    if new_threads:
        details.append(f"threads left running: {sorted(t.name for t in new_threads)}")
    if new_fds:
        targets = []
        for fd in sorted(new_fds):
            try:
                targets.append(f"{fd} -> {os.readlink(f'/proc/self/fd/{fd}')}")
            except OSError:
                continue
        if targets:
            details.append(f"file descriptors left open: {targets}")
    if details:
        pytest.fail("leak check: " + "; ".join(details), pytrace=False)
