"""`sockfix.cli.main([...])` in this process: help and error paths, and `serve` in a thread."""

from __future__ import annotations

import io
import re
import signal
import socket
import threading

import pytest
from cli_helpers import TIMEOUT, LineStream, ask, recv_exactly

import sockfix
from sockfix import cli
from sockfix.cli import main, serve

EVENT_LINE = re.compile(r"^\[(\d+)\] (\+\d+\.\d{6}s |\s{13}[0-9a-f]{8}  )")
OUT_DATA = re.compile(r">> out\s+\d+ B  (\S+)(  \(.*\))?$")  # the data, then maybe a note


def run_main(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(args), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


# -- help, version and argument errors -------------------------------------------------------


def test_no_command_prints_help_to_stderr_and_returns_2():
    status, out, err = run_main()
    assert status == 2
    assert out == ""
    assert err.startswith("usage: sockfix")
    assert "examples:" in err


@pytest.mark.parametrize("args", [["--help"], ["-h"], ["serve", "--help"], ["proxy", "--help"]])
def test_help_has_examples_and_returns_0(args):
    status, out, err = run_main(*args)
    assert status == 0
    assert err == ""
    assert "examples:" in out
    assert "sockfix serve" in out
    assert "sockfix proxy" in out or args[0] == "serve"


def test_serve_help_names_every_option_and_the_exit_statuses():
    _, out, _ = run_main("serve", "--help")
    for option in ("SCENARIO.toml", "--host", "--port", "--framing", "--seed", "--max-bytes"):
        assert option in out
    assert "9001" in out
    assert "exit status" in out
    assert "fixed:N" in out


def test_version():
    status, out, _ = run_main("--version")
    assert status == 0
    assert out.strip() == f"sockfix {sockfix.__version__}"


def test_an_unknown_command_is_one_line_and_returns_2():
    status, out, err = run_main("frob")
    assert status == 2
    assert out == ""
    assert err.count("\n") == 1
    assert "invalid choice: 'frob'" in err
    assert err.endswith("(see 'sockfix --help')\n")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["serve", "--port", "70000"], "70000 is not in 0..65535"),
        (["serve", "--port", "http"], "'http' is not a port number"),
        (["serve", "--max-bytes", "-1"], "-1 is negative"),
        (["serve", "--max-bytes", "lots"], "'lots' is not a whole number"),
    ],
)
def test_bad_arguments_return_2_with_one_line(args, message):
    status, out, err = run_main(*args)
    assert status == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("sockfix serve: argument ")
    assert message in err
    assert err.endswith("(see 'sockfix serve --help')\n")


def test_unrecognized_arguments_name_the_command():
    status, _, err = run_main("serve", "a.toml", "b.toml")
    assert status == 2
    assert err == "sockfix serve: unrecognized arguments: b.toml (see 'sockfix serve --help')\n"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("bogus", "unknown framing 'bogus'"),
        ("fixed:", "needs a size after the colon, such as fixed:8"),
        ("fixed:0", "the size must be a whole number of bytes, at least 1"),
        ("fixed:four", "framing 'fixed:four': the size must be a whole number of bytes"),
        ("length_prefixed:f", "one unsigned integer"),
    ],
)
def test_bad_framing_is_one_line_and_returns_2(spec, message):
    status, out, err = run_main("serve", "--port", "0", "--framing", spec)
    assert status == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("sockfix serve: ")
    assert message in err


def test_port_in_use_returns_2_with_one_line():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        status, out, err = run_main("serve", "--port", str(port))
    assert status == 2
    assert out == ""
    assert err == (
        f"sockfix serve: port {port} on 127.0.0.1 is already in use; "
        "pick another with --port PORT (0 picks a free one)\n"
    )


def test_an_address_that_is_not_ours_returns_2_with_one_line():
    # 203.0.113.1 is TEST-NET-3 (RFC 5737): binding fails at once, nothing is sent.
    status, out, err = run_main("serve", "--host", "203.0.113.1", "--port", "0")
    assert status == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("sockfix serve: cannot listen on 203.0.113.1 port 0: ")
    assert "--host" in err


def test_an_empty_host_returns_2_with_one_line():
    status, _, err = run_main("serve", "--host", "", "--port", "0")
    assert status == 2
    assert err.count("\n") == 1
    assert "host must be a non-empty str" in err


# -- serve, running in a thread ------------------------------------------------------------------


def test_serve_in_a_thread_echoes_and_stops_on_its_event(in_process):
    p = in_process("serve", "--port", "0")
    port = p.port()
    assert ask(port, b"give me five\n", 13) == b"GIVE ME FIVE\n"
    p.stdout.lines.until(lambda line: "|GIVE ME FIVE.|" in line)
    assert p.finish() == 0
    lines = p.stdout.lines.all()
    assert lines[0] == f"listening on 127.0.0.1:{port}"
    assert lines[-1] == "stopped"
    assert any(re.search(r"<< in\s+13 B  give me five\\n$", line) for line in lines)
    assert "\x1b" not in p.stdout.text
    assert p.stderr.getvalue() == ""


def test_lines_from_many_connections_never_interleave(in_process):
    p = in_process("serve", "--port", "0")
    port = p.port()
    socks = [socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) for _ in range(8)]
    try:
        payload = b"".join(b"line %d of a longer message\n" % i for i in range(20))
        for s in socks:
            s.sendall(payload)
        for s in socks:
            assert recv_exactly(s, len(payload)) == payload.upper()
    finally:
        for s in socks:
            s.close()
    assert p.finish() == 0
    lines = p.stdout.lines.all()
    assert p.stdout.text.endswith("stopped\n")
    for line in lines[1:-1]:
        assert EVENT_LINE.match(line), line
    assert {EVENT_LINE.match(line)[1] for line in lines[1:-1]} == {str(n) for n in range(1, 9)}


def test_fixed_framing_in_process(in_process):
    p = in_process("serve", "--port", "0", "--framing", "fixed:4")
    port = p.port()
    assert ask(port, b"abcdefgh", 8) == b"ABCDEFGH"
    assert p.finish() == 0
    outs = [line for line in p.stdout.lines.all() if ">> out" in line]
    assert [OUT_DATA.search(line)[1] for line in outs] == ["ABCD", "EFGH"]


def test_max_bytes_cuts_what_each_event_shows(in_process):
    p = in_process("serve", "--port", "0", "--max-bytes", "10")
    port = p.port()
    message = b"x" * 99 + b"\n"
    assert ask(port, message, 100) == message.upper()
    p.stdout.lines.until(lambda line: ">> out" in line)
    assert p.finish() == 0
    text = p.stdout.text
    assert "<< in      100 B  xxxxxxxxxx ... (+90 B)" in text
    assert ">> out     100 B  XXXXXXXXXX ... (+90 B)" in text


def test_colour_on_a_terminal_unless_no_color(in_process, monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    p = in_process("serve", "--port", "0", tty=True)
    assert ask(p.port(), b"hi\n", 3) == b"HI\n"
    p.stdout.lines.until(lambda line: "|HI.|" in line)
    assert p.finish() == 0
    assert "\x1b[36m" in p.stdout.text  # "in" events are cyan
    assert "\x1b[32m" in p.stdout.text  # "out" events are green

    monkeypatch.setenv("NO_COLOR", "1")
    q = in_process("serve", "--port", "0", tty=True)
    assert ask(q.port(), b"hi\n", 3) == b"HI\n"
    q.stdout.lines.until(lambda line: "|HI.|" in line)
    assert q.finish() == 0
    assert "\x1b" not in q.stdout.text


def test_serve_function_with_a_preset_stop_returns_at_once():
    stop = threading.Event()
    stop.set()
    out = io.StringIO()
    assert serve(port=0, framing=sockfix.framing.raw(), stop=stop, stdout=out) == 0
    first, last = out.getvalue().splitlines()
    assert re.fullmatch(r"listening on 127\.0\.0\.1:\d+", first)
    assert last == "stopped"


def test_serve_function_takes_a_framing_spec_and_ipv6_brackets(monkeypatch):
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback")
    stop = threading.Event()
    stop.set()
    out = io.StringIO()
    assert serve(host="::1", port=0, framing="fixed:2", stop=stop, stdout=out) == 0
    assert re.fullmatch(r"listening on \[::1\]:\d+", out.getvalue().splitlines()[0])


class _BrokenPipe(io.TextIOBase):
    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_a_closed_stdout_does_not_break_the_server():
    stop = threading.Event()
    stop.set()
    assert serve(port=0, stop=stop, stdout=_BrokenPipe()) == 0


def test_signal_handlers_set_the_stop_event_and_are_restored():
    # In the main thread, serve() installs handlers for SIGINT and SIGTERM while it runs.
    assert threading.current_thread() is threading.main_thread()
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    stop = threading.Event()
    seen: dict[int, object] = {}

    class Spy(io.StringIO):
        def write(self, s: str) -> int:
            if s.startswith("listening on"):
                for signum in (signal.SIGINT, signal.SIGTERM):
                    seen[signum] = signal.getsignal(signum)
                handler = seen[signal.SIGTERM]
                assert callable(handler)
                handler(signal.SIGTERM, None)  # as if SIGTERM arrived: sets `stop`
            return super().write(s)

    out = Spy()
    assert serve(port=0, stop=stop, stdout=out) == 0
    assert stop.is_set()
    assert out.getvalue().splitlines()[-1] == "stopped"
    assert seen[signal.SIGINT] is seen[signal.SIGTERM]
    assert seen[signal.SIGINT] not in before.values()
    assert {s: signal.getsignal(s) for s in before} == before


def test_wants_color_is_false_for_a_stream_without_isatty(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)

    class Closed(io.StringIO):
        def isatty(self) -> bool:
            raise ValueError("I/O operation on closed file")

    assert cli._wants_color(Closed()) is False
    assert cli._wants_color(LineStream(tty=True)) is True
    monkeypatch.setenv("NO_COLOR", "")
    assert cli._wants_color(LineStream(tty=True)) is True  # https://no-color.org: non-empty
    monkeypatch.setenv("NO_COLOR", "1")
    assert cli._wants_color(LineStream(tty=True)) is False
