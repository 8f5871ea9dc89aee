"""`sockfix serve` as users run it: a real subprocess, real sockets on 127.0.0.1, real signals."""

from __future__ import annotations

import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_helpers import SIGNALS, TIMEOUT, ask, clean_env, listening_port, recv_exactly

EVENT_LINE = re.compile(r"^\[(\d+)\] (\+\d+\.\d{6}s |\s{13}[0-9a-f]{8}  )")
NOTE = r"(  \(.*\))?"  # an event may end with a note, e.g. (handler) or (rule 1)


def test_upper_case_echo_and_live_transcript(serve_process):
    p = serve_process("serve", "--port", "0")
    port = p.port()
    assert ask(port, b"give me five\n", 13) == b"GIVE ME FIVE\n"
    # The transcript is live: the reply's hex row is printed before we stop the server.
    p.out.until(lambda line: "|GIVE ME FIVE.|" in line)
    p.signal(signal.SIGINT)
    assert p.wait() == 0
    lines = p.out.all()
    assert lines[0] == f"listening on 127.0.0.1:{port}"
    assert lines[-1] == "stopped"
    text = "\n".join(lines)
    assert re.search(r"^\[1\] \+\d+\.\d{6}s -- connect\s+\(from 127\.0\.0\.1:\d+\)$", text, re.M)
    assert re.search(r"^\[1\] \+\d+\.\d{6}s << in\s+13 B  give me five\\n$", text, re.M)
    assert re.search(rf"^\[1\] \+\d+\.\d{{6}}s >> out\s+13 B  GIVE ME FIVE\\n{NOTE}$", text, re.M)
    assert re.search(
        r"^\[1\]\s+00000000  67 69 76 65 20 6d 65 20  66 69 76 65 0a\s+\|give me five\.\|$",
        text,
        re.M,
    )
    assert re.search(r"^\[1\]\s+00000000  47 49 56 45 20 4d 45 20 ", text, re.M)
    assert re.search(r"^\[1\] \+\d+\.\d{6}s -- (eof|close)", text, re.M)
    for line in lines[1:-1]:
        assert EVENT_LINE.match(line), line
    assert p.err.rest() == []


def test_non_printable_bytes_are_escaped(serve_process):
    p = serve_process("serve", "--port", "0")
    port = p.port()
    assert ask(port, b"caf\xc3\xa9\t\x00\n", 8) == b"CAF\xc3\xa9\t\x00\n"
    line = p.out.until(lambda line: "<< in" in line)
    assert line.endswith(r"8 B  caf\xc3\xa9\t\x00\n")
    row = p.out.next()
    assert "63 61 66 c3 a9 09 00 0a" in row
    assert row.endswith("|caf.....|")


def test_fixed_framing_cuts_every_four_bytes(serve_process):
    p = serve_process("serve", "--port", "0", "--framing", "fixed:4")
    port = p.port()
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as s:
        s.sendall(b"abcdefghij")
        assert recv_exactly(s, 8) == b"ABCDEFGH"
        s.sendall(b"kl")
        assert recv_exactly(s, 4) == b"IJKL"
    p.out.until(lambda line: re.search(r">> out     4 B  IJKL(  \(.*\))?$", line) is not None)
    p.signal(signal.SIGTERM)
    assert p.wait() == 0
    outs = [line for line in p.out.all() if ">> out" in line]
    assert [line.split("B  ", 1)[1].split("  ")[0] for line in outs] == ["ABCD", "EFGH", "IJKL"]


@pytest.mark.parametrize("signum", SIGNALS)
def test_signal_stops_within_a_second(serve_process, signum):
    p = serve_process("serve", "--port", "0")
    port = p.port()
    # A client still connected, and one that sent half a message, must not hold the stop up.
    with (
        socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as idle,
        socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as half,
    ):
        half.sendall(b"no newline yet")
        p.out.until(lambda line: "no newline yet" in line)
        start = time.monotonic()
        p.signal(signum)
        status = p.wait(timeout=1.0)
        elapsed = time.monotonic() - start
        assert idle.recv(10) == b""  # the server closed it
    assert status == 0
    assert elapsed < 1.0
    rest = p.out.rest()
    assert rest[-1] == "stopped"
    assert any(re.match(r"problem: connection \d: 14 bytes left unframed", line) for line in rest)
    assert p.err.rest() == []


def test_port_in_use_is_one_line_and_status_2(serve_process):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        p = serve_process("serve", "--port", str(port))
        assert p.wait() == 2
    errors = p.err.rest()
    assert len(errors) == 1, errors
    assert str(port) in errors[0]
    assert "--port" in errors[0]
    assert errors[0] == (
        f"sockfix serve: port {port} on 127.0.0.1 is already in use; "
        "pick another with --port PORT (0 picks a free one)"
    )
    assert p.out.rest() == []


def test_unknown_framing_is_one_line_and_status_2(serve_process):
    p = serve_process("serve", "--framing", "bogus")
    assert p.wait() == 2
    errors = p.err.rest()
    assert len(errors) == 1, errors
    assert "unknown framing 'bogus'" in errors[0]
    assert "lines" in errors[0]
    assert "fixed:N" in errors[0]
    assert p.out.rest() == []


def test_no_colour_when_stdout_is_a_pipe(serve_process):
    p = serve_process("serve", "--port", "0", env=clean_env(TERM="xterm-256color"))
    port = p.port()
    assert ask(port, b"x\n", 2) == b"X\n"
    p.out.until(lambda line: "|X.|" in line)
    p.signal(signal.SIGINT)
    assert p.wait() == 0
    output = "\n".join(p.out.all())
    assert "\x1b" not in output


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(args),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=clean_env(COLUMNS="100"),
        stdin=subprocess.DEVNULL,
        check=False,
    )


@pytest.mark.parametrize("args", [["--help"], ["serve", "--help"], ["proxy", "--help"]])
def test_help_shows_examples(args):
    result = run(sys.executable, "-m", "sockfix", *args)
    assert result.returncode == 0
    assert "examples:" in result.stdout
    assert "sockfix serve" in result.stdout
    assert "--port" in result.stdout or args == ["--help"]


def test_no_command_prints_help_and_exits_2():
    result = run(sys.executable, "-m", "sockfix")
    assert result.returncode == 2
    assert "usage: sockfix" in result.stderr
    assert "serve" in result.stderr


def _console_script() -> str:
    script = Path(sys.executable).with_name("sockfix")
    if script.exists():
        return str(script)
    found = shutil.which("sockfix")
    if found is None:  # pragma: no cover
        pytest.skip("the sockfix console script is not installed")
    return found


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["serve", "--help"],
        ["proxy", "--help"],
        [],
        ["serve", "--framing", "nope"],
        ["proxy", "--upstream", "nowhere"],
        ["--version"],
    ],
)
def test_python_m_sockfix_is_the_sockfix_command(args):
    module = run(sys.executable, "-m", "sockfix", *args)
    script = run(_console_script(), *args)
    assert (module.returncode, module.stdout, module.stderr) == (
        script.returncode,
        script.stdout,
        script.stderr,
    )


def test_console_script_serves(serve_process):
    # The console script, not only `python -m`, runs the server and stops on SIGINT.
    p = serve_process("serve", "--port", "0", program=[_console_script()])
    assert ask(p.port(), b"hi\n", 3) == b"HI\n"
    p.out.until(lambda line: "|HI.|" in line)
    p.signal(signal.SIGINT)
    assert p.wait() == 0
    assert p.out.rest()[-1] == "stopped"


def _port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_default_is_127_0_0_1_port_9001(serve_process):
    if not _port_is_free(9001):
        pytest.skip("port 9001 is taken on this machine")
    p = serve_process("serve")
    try:
        first = p.out.next()
    except EOFError:  # taken between the probe and the bind
        if any("already in use" in line for line in p.err.rest()):
            pytest.skip("port 9001 was taken meanwhile")
        raise
    assert first == "listening on 127.0.0.1:9001"
    assert ask(9001, b"give me five\n", 13) == b"GIVE ME FIVE\n"
    p.signal(signal.SIGINT)
    assert p.wait() == 0


def _read_line(fd: int, timeout: float = TIMEOUT) -> str:
    """One line from a raw pipe, waiting at most ``timeout`` seconds in all."""
    buf = b""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        for _ in range(1000):
            if b"\n" in buf:
                break
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                raise TimeoutError(f"no line within {timeout} s: {buf!r}")
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            buf += chunk
    return buf.decode().split("\n", 1)[0]


def test_a_reader_that_goes_away_does_not_stop_the_server():
    # `sockfix serve | head -1`: once the pipe is closed, the server keeps serving, quietly.
    r, w = os.pipe()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sockfix", "serve", "--port", "0"],
            stdin=subprocess.DEVNULL,
            stdout=w,
            stderr=subprocess.PIPE,
            env=clean_env(),
        )
    finally:
        os.close(w)
    try:
        try:
            port = listening_port(_read_line(r))
        finally:
            os.close(r)
        for _ in range(3):  # the first write after the close fails with EPIPE
            assert ask(port, b"still here\n", 11) == b"STILL HERE\n"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=TIMEOUT)
        assert proc.returncode == 0
        assert err == b""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=TIMEOUT)
