"""CLI test helpers: `sockfix serve` in a subprocess or a thread, read line by line.

Fixtures built on these are in conftest.py.
Nothing here sleeps: every read waits on a queue with a deadline, and everything started is
stopped, waited for and closed at teardown.
"""

from __future__ import annotations

import io
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable

import pytest

TIMEOUT = 10.0
LISTENING = re.compile(r"^listening on (?P<host>\S+):(?P<port>\d+)$")


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for a subprocess: no NO_COLOR unless asked for."""
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env.update(extra)
    return env


class Lines:
    """Lines pushed by another thread, read with a deadline."""

    def __init__(self) -> None:
        self.queue: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        self.ended = False

    def next(self, timeout: float = TIMEOUT) -> str:
        """The next line (without its newline); EOFError at the end, TimeoutError if none."""
        if self.ended:
            raise EOFError(f"output ended; seen so far: {self.seen}")
        try:
            line = self.queue.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"no line within {timeout} s; seen so far: {self.seen}") from None
        if line is None:
            self.ended = True
            raise EOFError(f"output ended; seen so far: {self.seen}")
        self.seen.append(line)
        return line

    def until(self, predicate: Callable[[str], bool], timeout: float = TIMEOUT) -> str:
        """Read lines until one satisfies ``predicate``; returns it."""
        deadline = time.monotonic() + timeout
        for _ in range(10_000):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            line = self.next(left)
            if predicate(line):
                return line
        raise TimeoutError(f"no matching line within {timeout} s; seen: {self.seen}")

    def rest(self, timeout: float = TIMEOUT) -> list[str]:
        """Every line up to the end of the output."""
        deadline = time.monotonic() + timeout
        out: list[str] = []
        for _ in range(100_000):
            try:
                out.append(self.next(max(deadline - time.monotonic(), 0.001)))
            except EOFError:
                return out
        raise AssertionError("too many lines")  # pragma: no cover

    def all(self, timeout: float = TIMEOUT) -> list[str]:
        """Every line of the output, those already read included."""
        self.rest(timeout)
        return list(self.seen)


def listening_port(line: str) -> int:
    m = LISTENING.match(line)
    assert m, f"first line is not 'listening on HOST:PORT': {line!r}"
    return int(m["port"])


class ServeProcess:
    """``python -m sockfix ARGS`` with its stdout and stderr read line by line."""

    def __init__(
        self, args: list[str], env: dict[str, str] | None = None, program: list[str] | None = None
    ) -> None:
        program = [sys.executable, "-m", "sockfix"] if program is None else program
        self.proc = subprocess.Popen(
            [*program, *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            env=clean_env() if env is None else env,
        )
        self.out = Lines()
        self.err = Lines()
        assert self.proc.stdout is not None
        assert self.proc.stderr is not None
        self._readers = [
            threading.Thread(target=_pump, args=(self.proc.stdout, self.out), daemon=True),
            threading.Thread(target=_pump, args=(self.proc.stderr, self.err), daemon=True),
        ]
        for t in self._readers:
            t.start()

    def port(self) -> int:
        """Read the first line, ``listening on 127.0.0.1:PORT``, and return PORT."""
        return listening_port(self.out.next())

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def wait(self, timeout: float = TIMEOUT) -> int:
        return self.proc.wait(timeout)

    def close(self) -> None:
        try:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait(TIMEOUT)
        finally:
            for t in self._readers:
                t.join(TIMEOUT)
            for pipe in (self.proc.stdout, self.proc.stderr):
                if pipe is not None:
                    pipe.close()


def _pump(pipe: io.TextIOBase, lines: Lines) -> None:
    try:
        for line in pipe:
            lines.queue.put(line.rstrip("\n"))
    except (OSError, ValueError):  # pragma: no cover - closed under us
        pass
    finally:
        lines.queue.put(None)


class LineStream(io.TextIOBase):
    """A text stream for ``main(stdout=...)``: each complete line goes to ``lines``."""

    def __init__(self, tty: bool = False) -> None:
        self.lines = Lines()
        self.text = ""
        self._partial = ""
        self._tty = tty
        self._lock = threading.Lock()

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return self._tty

    def write(self, s: str) -> int:
        with self._lock:
            self.text += s
            self._partial += s
            *done, self._partial = self._partial.split("\n")
            for line in done:
                self.lines.queue.put(line)
        return len(s)


class InProcess:
    """``sockfix.cli.main(ARGS)`` running in a thread, stopped through its stop event."""

    def __init__(self, args: list[str], tty: bool = False) -> None:
        from sockfix.cli import main

        self.stop = threading.Event()
        self.stdout = LineStream(tty)
        self.stderr = io.StringIO()
        self.status: int | None = None

        def run() -> None:
            try:
                self.status = main(args, stop=self.stop, stdout=self.stdout, stderr=self.stderr)
            finally:
                self.stdout.lines.queue.put(None)

        self.thread = threading.Thread(target=run, name="sockfix cli test", daemon=True)
        self.thread.start()

    def port(self) -> int:
        return listening_port(self.stdout.lines.next())

    def finish(self, timeout: float = TIMEOUT) -> int:
        self.stop.set()
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "serve did not stop"
        assert self.status is not None
        return self.status


def ask(port: int, data: bytes, expect_len: int, timeout: float = TIMEOUT) -> bytes:
    """Connect to 127.0.0.1:port, send ``data``, read exactly ``expect_len`` bytes, close."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        return recv_exactly(s, expect_len)


def recv_exactly(s: socket.socket, n: int) -> bytes:
    buf = b""
    for _ in range(n + 1):
        if len(buf) >= n:
            break
        chunk = s.recv(n - len(buf))
        if not chunk:
            break
        buf += chunk
    return buf


SIGNALS = [pytest.param(signal.SIGINT, id="SIGINT"), pytest.param(signal.SIGTERM, id="SIGTERM")]
