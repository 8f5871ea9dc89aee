"""`sockfix proxy` and `sockfix serve SCENARIO.toml` as users run them: real subprocesses,
real sockets on 127.0.0.1, real signals. The upstream is a sockfix TCPServer in the test."""

from __future__ import annotations

import re
import signal
import socket
import time

import pytest
from cli_helpers import SIGNALS, TIMEOUT, ask, recv_exactly

TS = r"\+\d+\.\d{6}s"
NOTE = r"(  \(.*\))?"  # an event may end with a note, e.g. (handler) or (rule 1)


def _up(server) -> str:
    return f"127.0.0.1:{server.port}"


def test_round_trip_with_both_directions_in_the_transcript(serve_process, upstream):
    p = serve_process("proxy", "--upstream", _up(upstream))
    port = p.port()
    assert port != upstream.port
    assert ask(port, b"give me five\n", 13) == b"GIVE ME FIVE\n"
    p.out.until(lambda line: line.startswith("[1] ") and ">> out" in line)
    p.signal(signal.SIGINT)
    assert p.wait() == 0
    lines = p.out.all()
    assert lines[0] == f"listening on 127.0.0.1:{port}"
    assert lines[-1] == "stopped"
    text = "\n".join(lines)
    assert re.search(rf"^\[1\] {TS} -- connect\s+\(from 127\.0\.0\.1:\d+\)$", text, re.M)
    assert re.search(rf"^\[1 up\] {TS} -- connect\s+\(to {_up(upstream)}\)$", text, re.M)
    # the client's side: what it sent, what it was sent
    assert re.search(rf"^\[1\] {TS} << in\s+13 B  give me five\\n$", text, re.M)
    assert re.search(rf"^\[1\] {TS} >> out\s+13 B  GIVE ME FIVE\\n{NOTE}$", text, re.M)
    # the upstream side: what went to the server, what it answered
    assert re.search(rf"^\[1 up\] {TS} >> out\s+13 B  give me five\\n{NOTE}$", text, re.M)
    assert re.search(rf"^\[1 up\] {TS} << in\s+13 B  GIVE ME FIVE\\n$", text, re.M)
    assert re.search(r"^\[1 up\]\s+00000000  47 49 56 45 20 4d 45 20 ", text, re.M)
    assert p.err.rest() == []
    assert upstream.connections[0].received == b"give me five\n"


@pytest.mark.parametrize(
    ("direction", "least"), [("both", 0.4), ("downstream", 0.2), ("upstream", 0.2)]
)
def test_latency_delays_each_direction(serve_process, upstream, direction, least):
    p = serve_process(
        "proxy", "--upstream", _up(upstream), "--latency", "200ms", "--direction", direction
    )
    port = p.port()
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as s:
        start = time.monotonic()
        s.sendall(b"slow\n")
        assert recv_exactly(s, 5) == b"SLOW\n"
        elapsed = time.monotonic() - start
    assert elapsed >= least - 0.005  # 200 ms per delayed direction (lower bound only)
    line = p.out.until(lambda line: "-- fault" in line)
    assert "Latency(0.2): delayed 5 bytes by 0.200000 s" in line


def test_record_then_serve_replays_the_same_replies(serve_process, upstream, tmp_path):
    recording = tmp_path / "echo.toml"
    requests = [b"hello\n", b"caf\xc3\xa9 \x00\x01\n", b"hello\n"]
    p = serve_process("proxy", "--upstream", _up(upstream), "--record", str(recording))
    port = p.port()
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as s:
        replies = []
        for request in requests:
            s.sendall(request)
            replies.append(recv_exactly(s, len(request)))
    assert replies == [r.upper() for r in requests]
    p.out.until(lambda line: line.startswith("[1] ") and "-- eof" in line)
    p.signal(signal.SIGTERM)
    assert p.wait() == 0
    rest = p.out.rest()
    assert rest[-2:] == [f"recorded 1 connection to {recording}", "stopped"]
    assert p.err.rest() == []
    assert "respond_hex" in recording.read_text(encoding="utf-8")  # the binary reply

    # Offline now: no upstream, the scenario answers byte for byte.
    upstream.stop()
    q = serve_process("serve", str(recording), "--port", "0")
    replay_port = q.port()
    with socket.create_connection(("127.0.0.1", replay_port), timeout=TIMEOUT) as s:
        replayed = []
        for request in requests:
            s.sendall(request)
            replayed.append(recv_exactly(s, len(request)))
    assert replayed == replies
    q.out.until(lambda line: "-- close" in line)
    q.signal(signal.SIGINT)
    assert q.wait() == 0  # every recorded rule used: no problems
    assert q.out.rest()[-1] == "stopped"
    assert q.err.rest() == []


def test_a_scenario_that_saw_problems_exits_1(serve_process, tmp_path):
    scenario = tmp_path / "one.toml"
    scenario.write_text('[[rules]]\nexpect = "PING\\n"\nrespond = "PONG\\n"\ntimes = 1\n')
    p = serve_process("serve", str(scenario), "--port", "0")
    with socket.create_connection(("127.0.0.1", p.port()), timeout=TIMEOUT) as s:
        s.sendall(b"what\n")
    p.out.until(lambda line: "-- close" in line)
    p.signal(signal.SIGINT)
    assert p.wait() == 1
    rest = p.out.rest()
    assert rest[-1] == "stopped"
    problems = [line for line in rest if line.startswith("problem: ")]
    assert any("what" in line for line in problems), rest
    assert any("PING" in line for line in problems), rest  # the rule never used
    assert p.err.rest() == []


@pytest.mark.parametrize("signum", SIGNALS)
def test_signal_stops_within_a_second(serve_process, upstream, signum):
    p = serve_process("proxy", "--upstream", _up(upstream), "--latency", "5s")
    port = p.port()
    # A client waiting for a delayed reply, and an idle one, must not hold the stop up.
    with (
        socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as idle,
        socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as waiting,
    ):
        waiting.sendall(b"later\n")
        p.out.until(lambda line: "upstream: Latency(5.0): delayed 6 bytes" in line)
        start = time.monotonic()
        p.signal(signum)
        status = p.wait(timeout=1.0)
        elapsed = time.monotonic() - start
        assert idle.recv(10) == b""
    assert status == 0
    assert elapsed < 1.0
    assert p.out.rest()[-1] == "stopped"
    assert p.err.rest() == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--upstream", "127.0.0.1"], "'127.0.0.1' has no port: write HOST:PORT"),
        (["--upstream", "127.0.0.1:0"], "port 0 is not in 1..65535"),
        (["--upstream", "::1:80"], "write an IPv6 address in brackets, e.g. [::1]:PORT"),
        ([], "the following arguments are required: --upstream"),
        (["--upstream", "127.0.0.1:1", "--frobnicate", "3"], "unrecognized arguments: --frob"),
        (["--upstream", "127.0.0.1:1", "--latency", "fast"], "'fast' is not a duration"),
        (["--upstream", "127.0.0.1:1", "--latency=-5ms"], "'-5ms' is not a duration"),
        (["--upstream", "127.0.0.1:1", "--jitter", "10ms"], "--jitter needs --latency"),
        (["--upstream", "127.0.0.1:1", "--bandwidth", "fast"], "'fast' is not a rate"),
        (["--upstream", "127.0.0.1:1", "--chunked", "0"], "0 is not positive"),
        (["--upstream", "127.0.0.1:1", "--truncate", "-1"], "-1 is negative"),
        (["--upstream", "127.0.0.1:1", "--direction", "sideways"], "invalid choice: 'sideways'"),
        (["--upstream", "127.0.0.1:1", "--fault", "nope"], "unknown fault 'nope'"),
        (["--upstream", "127.0.0.1:1", "--fault", "drop:0.5"], "is not a TCP fault"),
        (["--upstream", "127.0.0.1:1", "--framing", "words"], "unknown framing 'words'"),
    ],
)
def test_bad_arguments_are_one_line_and_status_2(serve_process, args, message):
    p = serve_process("proxy", *args)
    assert p.wait() == 2
    errors = p.err.rest()
    assert len(errors) == 1, errors
    assert errors[0].startswith("sockfix proxy: ")
    assert message in errors[0]
    assert p.out.rest() == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read the scenario file"),
        ("[[rules]]\nexpect = 42\n", "rules[0].expect"),
        ("colour = 1\n", "colour: unknown key"),
        ("[[rules\n", "not valid TOML"),
    ],
)
def test_a_bad_scenario_file_is_one_line_and_status_2(serve_process, tmp_path, content, message):
    scenario = tmp_path / "bad.toml"
    if content is not None:
        scenario.write_text(content)
    p = serve_process("serve", str(scenario), "--port", "0")
    assert p.wait() == 2
    errors = p.err.rest()
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"sockfix serve: {scenario}: ")
    assert message in errors[0]
    assert p.out.rest() == []


def test_framing_with_a_scenario_is_an_error(serve_process, tmp_path):
    scenario = tmp_path / "s.toml"
    scenario.write_text('framing = "fixed:4"\n')
    p = serve_process("serve", str(scenario), "--framing", "lines")
    assert p.wait() == 2
    errors = p.err.rest()
    assert errors == [
        f"sockfix serve: --framing cannot be used with a scenario file: {scenario} sets its own "
        "framing ('fixed:4') and its rules are cut by it; change 'framing' in the file"
    ]


def test_proxy_port_in_use_is_one_line_and_status_2(serve_process, upstream):
    p = serve_process("proxy", "--upstream", _up(upstream), "--port", str(upstream.port))
    assert p.wait() == 2
    assert p.err.rest() == [
        f"sockfix proxy: port {upstream.port} on 127.0.0.1 is already in use; "
        "pick another with --port PORT (0 picks a free one)"
    ]
