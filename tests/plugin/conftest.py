"""Helpers for the plugin tests: every test runs a user's test file through pytester.

In-process runs (``run``) are fast; they use pytest-timeout's thread method, because its signal
method would cancel the alarm of the outer test. ``run_subprocess`` is for ``-n 2`` (xdist
workers are processes anyway) and for anything that must not share this interpreter.

User files import ``sfx_client`` (written into the pytester directory): a line client whose
every socket call has a timeout, so a broken plugin fails fast instead of hanging.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

INNER_TIMEOUT = "20"  # seconds, for each test of the user's file (pytest-timeout)
SOCKET_TIMEOUT = 5.0  # seconds, for every socket call of the user's client

CLIENT = f'''
"""A user's small line client, bounded everywhere."""

import socket

TIMEOUT = {SOCKET_TIMEOUT}


def connect(address):
    return socket.create_connection(address, timeout=TIMEOUT)


def read_line(sock, limit=1 << 16):
    """Read up to and including b"\\n"; b"" on EOF before any byte."""
    out = bytearray()
    while not out.endswith(b"\\n") and len(out) < limit:
        chunk = sock.recv(1)
        if not chunk:
            break
        out += chunk
    return bytes(out)


def exchange(address, data):
    """Connect, send ``data``, return the first line of the reply."""
    with connect(address) as sock:
        sock.sendall(data)
        return read_line(sock)


def refused(address):
    """True when nothing accepts on ``address`` any more."""
    try:
        socket.create_connection(address, timeout=TIMEOUT).close()
    except ConnectionRefusedError:
        return True
    return False


def sockfix_threads():
    import threading

    return [t.name for t in threading.enumerate() if t.name.startswith("sockfix")]
'''

# The user files here never use Hypothesis, and its plugin costs more than a second a session.
INNER_ARGS = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", f"--timeout={INNER_TIMEOUT}")

Runner = Callable[..., pytest.RunResult]


@pytest.fixture
def run(pytester: pytest.Pytester) -> Runner:
    """Run pytest in-process on the pytester directory, with a per-test timeout."""
    pytester.makepyfile(sfx_client=CLIENT)

    def run_inline(*args: str) -> pytest.RunResult:
        return pytester.runpytest(*INNER_ARGS, "--timeout-method=thread", *args)

    return run_inline


@pytest.fixture
def run_subprocess(pytester: pytest.Pytester) -> Runner:
    """Run pytest in a fresh interpreter on the pytester directory, with a per-test timeout."""
    pytester.makepyfile(sfx_client=CLIENT)

    def run_sub(*args: str) -> pytest.RunResult:
        return pytester.runpytest_subprocess(*INNER_ARGS, *args, timeout=120)

    return run_sub
