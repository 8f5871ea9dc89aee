"""`sockfix proxy` and `sockfix serve SCENARIO.toml` through `sockfix.cli.main([...])` in
this process (threads, a stop event): the paths the subprocess tests take, for coverage, and
the argument parsers on their own."""

from __future__ import annotations

import io
import re
import socket
import threading

import pytest
from cli_helpers import TIMEOUT, ask, recv_exactly

import sockfix
from sockfix import cli, faults
from sockfix.cli import build_parser, main, parse_address, parse_duration, parse_fault, parse_rate


def run_main(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(args), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


def _up(server: sockfix.TCPServer) -> str:
    return f"127.0.0.1:{server.port}"


# -- the parsers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("50ms", 0.05), ("0.05s", 0.05), ("0.05", 0.05), ("1s", 1.0), ("2", 2.0), (" .5s ", 0.5)],
)
def test_parse_duration(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "fast", "-1", "5m", "1e3", "ms", "nan"])
def test_parse_duration_rejects(text):
    with pytest.raises(ValueError, match="is not a duration: write seconds"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("65536", 65536),
        ("64k", 64_000),
        ("64K", 64_000),
        ("1.5M", 1_500_000),
        ("64Ki", 65_536),
        ("64KiB", 65_536),
        ("1Mi", 1_048_576),
        ("100kB/s", 100_000),
    ],
)
def test_parse_rate(text, rate):
    assert parse_rate(text) == rate


@pytest.mark.parametrize(("text", "message"), [("fast", "is not a rate"), ("0", "below 1 byte")])
def test_parse_rate_rejects(text, message):
    with pytest.raises(ValueError, match=message):
        parse_rate(text)


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("127.0.0.1:6379", ("127.0.0.1", 6379)),
        ("localhost:80", ("localhost", 80)),
        ("[::1]:8080", ("::1", 8080)),
    ],
)
def test_parse_address(text, address):
    assert parse_address(text) == address


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("127.0.0.1", "has no port"),
        ("[::1]", "has no port"),
        ("[::1]8080", "has no port"),
        (":6379", "has no host"),
        ("127.0.0.1:http", "'http' is not a port number"),
        ("127.0.0.1:70000", "port 70000 is not in 1..65535"),
        ("::1:80", "brackets"),
    ],
)
def test_parse_address_rejects(text, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_address(text)


@pytest.mark.parametrize(
    ("spec", "fault"),
    [
        ("hang", faults.Hang()),
        ("corrupt:0.01", faults.Corrupt(0.01)),
        ("garbage:16", faults.Garbage(16)),
        ("close:100", faults.Close(100)),
        ("latency:0.1,jitter=0.02", faults.Latency(0.1, jitter=0.02)),
        ("latency:50ms", faults.Latency(0.05)),
        ("reset:after_bytes=5,probability=0.5", faults.Reset(after_bytes=5, probability=0.5)),
    ],
)
def test_parse_fault(spec, fault):
    assert parse_fault(spec) == fault


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nope", "unknown fault 'nope': choose from"),
        ("garbage", "(faults: bandwidth, chunked"),
        ("corrupt:lots", "'lots' is not a number"),
        ("chunked:0", "Chunked(size) must be >= 1"),
    ],
)
def test_parse_fault_rejects(spec, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_fault(spec)


def test_fault_options_become_faults_in_order():
    args = build_parser().parse_args(
        [
            "proxy",
            "--upstream",
            "127.0.0.1:9",
            "--latency",
            "50ms",
            "--jitter",
            "10ms",
            "--chunked",
            "2",
            "--bandwidth",
            "64k",
            "--truncate",
            "10",
            "--reset-after",
            "5",
            "--fault",
            "corrupt:0.01",
            "--direction",
            "downstream",
            "--seed",
            "7",
        ]
    )
    config = cli._proxy_config(args)
    assert config.faults == [
        faults.Latency(0.05, jitter=0.01),
        faults.Chunked(2),
        faults.Bandwidth(64_000),
        faults.Truncate(10),
        faults.Reset(after_bytes=5),
        faults.Corrupt(0.01),
    ]
    assert config.direction == "downstream"
    proxy = config.make_endpoint(lambda conn, event: None)
    assert proxy.seed == 7
    assert len(proxy.faults) == 6


# -- proxy, running in a thread ------------------------------------------------------------------


def test_proxy_in_a_thread_round_trip_and_transcript(in_process, upstream):
    p = in_process("proxy", "--upstream", _up(upstream))
    port = p.port()
    assert ask(port, b"hi\n", 3) == b"HI\n"
    p.stdout.lines.until(lambda line: line.startswith("[1] ") and ">> out" in line)
    assert p.finish() == 0
    lines = p.stdout.lines.all()
    assert lines[0] == f"listening on 127.0.0.1:{port}"
    assert lines[-1] == "stopped"
    ups = [line for line in lines if line.startswith("[1 up] ")]
    assert any(">> out" in line and "hi\\n" in line for line in ups)
    assert any("<< in" in line and "HI\\n" in line for line in ups)
    assert any(line.startswith("[1] ") and "<< in" in line for line in lines)
    assert p.stderr.getvalue() == ""


def test_proxy_faults_act_and_are_shown(in_process, upstream):
    p = in_process(
        "proxy", "--upstream", _up(upstream), "--truncate", "3", "--direction", "downstream"
    )
    port = p.port()
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as s:
        s.sendall(b"abcdef\n")
        assert recv_exactly(s, 7) == b"ABC"  # then the proxy closed it
    line = p.stdout.lines.until(lambda line: "-- fault" in line)
    assert "downstream: Truncate(3): truncated after 3 bytes" in line
    assert p.finish() == 0


def test_an_unreachable_upstream_is_shown_and_the_client_reset(in_process):
    with socket.socket() as closed:  # bound, never listening: connecting is refused
        closed.bind(("127.0.0.1", 0))
        p = in_process("proxy", "--upstream", f"127.0.0.1:{closed.getsockname()[1]}")
        port = p.port()
        # The proxy resets the client unasked: seen by the connect (with a timeout, a
        # non-blocking connect) or by the first read, whichever comes after the RST.
        with (
            pytest.raises(ConnectionResetError),
            socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as s,
        ):
            s.recv(10)
        line = p.stdout.lines.until(lambda line: line.startswith("[1 up] ") and "error" in line)
        assert "upstream 127.0.0.1:" in line
        assert p.finish() == 0


def test_record_then_serve_in_process(in_process, upstream, tmp_path):
    recording = tmp_path / "rec.toml"
    p = in_process("proxy", "--upstream", _up(upstream), "--record", str(recording))
    port = p.port()
    assert ask(port, b"one\n", 4) == b"ONE\n"
    assert ask(port, b"two\n", 4) == b"TWO\n"
    p.stdout.lines.until(lambda line: line.startswith("[2] ") and "-- eof" in line)
    assert p.finish() == 0
    assert p.stdout.lines.all()[-2:] == [f"recorded 2 connections to {recording}", "stopped"]

    upstream.stop()
    q = in_process("serve", str(recording), "--port", "0")
    replay = q.port()
    assert ask(replay, b"one\n", 4) == b"ONE\n"
    assert ask(replay, b"two\n", 4) == b"TWO\n"
    q.stdout.lines.until(lambda line: line.startswith("[2] ") and "-- close" in line)
    assert q.finish() == 0
    assert not any(line.startswith("problem:") for line in q.stdout.lines.all())


def test_a_recording_that_cannot_be_written_exits_1(in_process, upstream, tmp_path):
    folder = tmp_path / "gone"
    folder.mkdir()
    p = in_process("proxy", "--upstream", _up(upstream), "--record", str(folder / "x.toml"))
    p.port()
    folder.rmdir()
    assert p.finish() == 1
    assert p.stderr.getvalue().startswith(f"sockfix proxy: cannot record to {folder / 'x.toml'}: ")
    assert p.stderr.getvalue().count("\n") == 1
    assert p.stdout.lines.all()[-1] == "stopped"


def test_a_recording_of_nothing_is_an_empty_scenario(in_process, upstream, tmp_path):
    target = tmp_path / "empty.toml"
    p = in_process(
        "proxy", "--upstream", _up(upstream), "--record", str(target), "--framing", "raw"
    )
    p.port()
    assert p.finish() == 0
    assert p.stdout.lines.all()[-2] == f"recorded 0 connections to {target}"
    assert 'framing = "raw"' in target.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("record", "message"),
    [("missing/x.toml", "does not exist; create it first"), (".", "is a directory")],
)
def test_a_record_path_that_cannot_work_is_refused_at_once(tmp_path, monkeypatch, record, message):
    monkeypatch.chdir(tmp_path)
    status, out, err = run_main("proxy", "--upstream", "127.0.0.1:9", "--record", record)
    assert status == 2
    assert out == ""
    assert err.count("\n") == 1
    assert message in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--upstream", "127.0.0.1"], "has no port"),
        (["--upstream", "127.0.0.1:1", "--jitter", "1ms"], "--jitter needs --latency"),
        (["--upstream", "127.0.0.1:1", "--fault", "drop:0.5"], "is not a TCP fault"),
        (["--upstream", "127.0.0.1:1", "--host", ""], "host must be a non-empty str"),
        (["--upstream", "127.0.0.1:1", "--framing", "fixed:0"], "a whole number of bytes"),
        (["--upstream", "127.0.0.1:1", "--seed", "x"], "'x' is not an integer seed"),
        (["--upstream", "127.0.0.1:1", "--chunked", "x"], "'x' is not a whole number"),
        (["--upstream", "127.0.0.1:1", "--truncate", "x"], "'x' is not a whole number of bytes"),
        (["--upstream", "127.0.0.1:1", "--truncate", "-1"], "-1 is negative"),
        (["--upstream", "127.0.0.1:1", "--chunked", "0"], "0 is not positive"),
    ],
)
def test_bad_proxy_arguments_are_one_line(args, message):
    status, out, err = run_main("proxy", *args)
    assert status == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("sockfix proxy: ")
    assert message in err


def test_proxy_port_in_use(upstream):
    status, _, err = run_main("proxy", "--upstream", _up(upstream), "--port", str(upstream.port))
    assert status == 2
    assert "already in use" in err


def test_proxy_on_an_address_that_is_not_ours():
    status, _, err = run_main("proxy", "--upstream", "127.0.0.1:9", "--host", "203.0.113.1")
    assert status == 2
    assert err.startswith("sockfix proxy: cannot listen on 203.0.113.1 port 0: ")


# -- serve SCENARIO.toml ---------------------------------------------------------------------------


def _scenario(tmp_path, text: str, name: str = "s.toml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_serve_a_scenario_in_a_thread(in_process, tmp_path):
    text = (
        'framing = "delimited:\\r\\n"\n[[rules]]\nexpect = "PING\\r\\n"\nrespond = "+PONG\\r\\n"\n'
    )
    path = _scenario(tmp_path, text)
    p = in_process("serve", path, "--port", "0")
    port = p.port()
    assert ask(port, b"PING\r\nPING\r\n", 14) == b"+PONG\r\n+PONG\r\n"
    p.stdout.lines.until(lambda line: "-- close" in line)
    assert p.finish() == 0
    assert p.stdout.lines.all()[-1] == "stopped"


def test_serve_a_scenario_with_problems_exits_1(in_process, tmp_path):
    path = _scenario(tmp_path, '[[rules]]\nexpect = "a\\n"\nrespond = "b\\n"\ntimes = 1\n')
    p = in_process("serve", path, "--port", "0")
    with socket.create_connection(("127.0.0.1", p.port()), timeout=TIMEOUT) as s:
        s.sendall(b"zzz\n")
    p.stdout.lines.until(lambda line: "-- close" in line)
    assert p.finish() == 1
    problems = [line for line in p.stdout.lines.all() if line.startswith("problem: ")]
    assert len(problems) >= 2  # the unmatched message, the rule not used up
    assert any("zzz" in line for line in problems)


def test_a_non_strict_scenario_exits_0_even_with_unmatched_messages(in_process, tmp_path):
    path = _scenario(tmp_path, 'strict = false\n[[rules]]\nexpect = "a\\n"\nrespond = "b\\n"\n')
    p = in_process("serve", path, "--port", "0")
    with socket.create_connection(("127.0.0.1", p.port()), timeout=TIMEOUT) as s:
        s.sendall(b"zzz\n")
    p.stdout.lines.until(lambda line: "-- close" in line)
    assert p.finish() == 0


def test_port_and_host_come_from_the_scenario_unless_given(tmp_path):
    path = _scenario(tmp_path, 'host = "::1"\nport = 12345\n')
    config = cli._resolve_serve(path, None, None, None, None, 0)
    assert (config.host, config.port) == ("::1", 12345)
    config = cli._resolve_serve(path, "127.0.0.1", 0, None, 7, 0)
    assert (config.host, config.port, config.seed) == ("127.0.0.1", 0, 7)
    bare = _scenario(tmp_path, "", "bare.toml")
    config = cli._resolve_serve(bare, None, None, None, None, 0)
    assert (config.host, config.port) == ("127.0.0.1", 9001)


def test_the_scenario_seed_can_be_overridden(tmp_path):
    path = _scenario(tmp_path, 'seed = 3\n[[faults]]\nname = "corrupt"\nargs = [0.5]\n')
    server = cli._resolve_serve(path, None, 0, None, 11, 0).make_endpoint(lambda c, e: None)
    assert server.seed == 11
    config = cli._resolve_serve(path, None, 0, None, None, 0)
    assert config.make_endpoint(lambda c, e: None).seed == 3


def test_bad_scenarios_are_one_line_and_return_2(tmp_path):
    missing = str(tmp_path / "missing.toml")
    status, out, err = run_main("serve", missing)
    assert (status, out) == (2, "")
    assert err.startswith(f"sockfix serve: {missing}: cannot read the scenario file")
    assert err.count("\n") == 1

    bad = _scenario(tmp_path, "[[rules]]\nexpect = 42\n", "bad.toml")
    status, _, err = run_main("serve", bad)
    assert status == 2
    assert err.startswith(f"sockfix serve: {bad}: rules[0].expect: ")
    assert err.count("\n") == 1

    framed = _scenario(tmp_path, "", "framed.toml")
    status, _, err = run_main("serve", framed, "--framing", "raw")
    assert status == 2
    assert "--framing cannot be used with a scenario file" in err


def test_serve_function_takes_a_scenario(tmp_path):
    path = _scenario(tmp_path, '[[rules]]\nexpect = "a\\n"\nrespond = "b\\n"\ntimes = 1\n')
    stop = threading.Event()
    stop.set()
    out = io.StringIO()
    assert cli.serve(path, port=0, stop=stop, stdout=out) == 1  # the rule was never used
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("listening on 127.0.0.1:")
    assert lines[-2].startswith("problem: ")
    assert lines[-1] == "stopped"
    with pytest.raises(sockfix.ScenarioError):
        cli.serve(tmp_path / "nope.toml", port=0, stop=stop, stdout=out)
