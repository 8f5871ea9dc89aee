"""The examples of docs/scenarios.md: scenario files, record -> replay, errors.

Every ```toml block of docs/scenarios.md is also checked here: each is a valid scenario.
"""

from __future__ import annotations

import re
import socket
import socketserver
import threading
from pathlib import Path

import pytest

import sockfix
from sockfix.core.scenario import load, loads

DOCS = Path(__file__).resolve().parents[2] / "docs" / "scenarios.md"

PING = """\
framing = "lines"

[[rules]]
on_connect = true
respond = "220 ready\\r\\n"

[[rules]]
expect = "PING\\r\\n"
respond = "+PONG\\r\\n"

[[rules]]
expect = "QUIT\\r\\n"
respond = "+BYE\\r\\n"
close = true
"""


@pytest.fixture
def scenario_path(tmp_path: Path) -> Path:
    path = tmp_path / "ping.toml"
    path.write_text(PING, encoding="utf-8")
    return path


def test_serve_a_scenario(scenario_path):
    server = sockfix.TCPServer.from_scenario(scenario_path, port=0)  # port=0 wins over the file
    with server, socket.create_connection(server.address, timeout=2) as sock:
        assert sock.recv(100) == b"220 ready\r\n"
        sock.sendall(b"PING\r\n")
        assert sock.recv(100) == b"+PONG\r\n"
    assert server.connections[0].messages == [b"PING\r\n"]


def test_the_first_scenario_is_in_the_docs():
    assert PING in DOCS.read_text(encoding="utf-8")


def test_inspect_a_scenario(scenario_path):
    from sockfix.core.scenario import load

    scenario = load(scenario_path)
    assert scenario.framing == "lines"
    assert [rule.expect for rule in scenario.rules] == [None, b"PING\r\n", b"QUIT\r\n"]
    assert scenario.rules[2].ending == "close"


def test_errors_name_the_key_and_the_fix(tmp_path):
    typo_path = tmp_path / "redis.toml"
    typo_path.write_text('[[rules]]\nexpect = "PING\\r\\n"\nrespnd = "+PONG\\r\\n"\n')

    with pytest.raises(sockfix.ScenarioError, match=r"rules\[0\]\.respnd: unknown key"):
        sockfix.TCPServer.from_scenario(typo_path)

    with pytest.raises(sockfix.ScenarioError) as info:
        load(typo_path)
    assert str(info.value).endswith("did you mean 'respond'? allowed keys are: " + ", ".join(
        ["on_connect", "expect", "expect_hex", "expect_regex", "expect_any", "respond",
         "respond_hex", "delay", "chunked", "chunk_delay", "times", "close", "reset", "hang"]
    ))  # fmt: skip


class Upper(socketserver.StreamRequestHandler):
    """A stand-in for the real server: answers each line upper-cased."""

    def handle(self) -> None:
        for line in self.rfile:
            self.wfile.write(line.upper())


def talk(address: tuple[str, int]) -> None:
    """The client under test: two lines, each answered before the next."""
    with socket.create_connection(address, timeout=2) as sock, sock.makefile("rb") as replies:
        for line in (b"hello\n", b"sockfix\n"):
            sock.sendall(line)
            assert replies.readline() == line.upper()


def test_record_then_replay(tmp_path):
    real = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Upper)
    real.daemon_threads = True
    thread = threading.Thread(target=real.serve_forever)
    thread.start()
    REAL_SERVER = real.server_address
    try:
        with sockfix.TCPProxy(upstream=REAL_SERVER) as proxy:
            talk(proxy.address)
            proxy.wait_until(lambda p: all(c.closed for c in p.connections))
        proxy.save_scenario(tmp_path / "upper.toml")
    finally:
        real.shutdown()
        real.server_close()
        thread.join()

    # Later, offline: the scenario answers like the real server did.
    with sockfix.TCPServer.from_scenario(tmp_path / "upper.toml") as replay:
        talk(replay.address)
        replay.wait_until(lambda s: all(c.closed for c in s.connections))

    assert replay.connections[0].received == proxy.connections[0].received
    assert replay.connections[0].sent == proxy.connections[0].sent


def test_the_recorded_file_is_in_the_docs(tmp_path):
    text = (
        '# connection 1, message 1\n[[rules]]\nexpect = "hello\\n"\nrespond = "HELLO\\n"\n'
        "times = 1\n"
    )
    assert text in DOCS.read_text(encoding="utf-8")


TOML_BLOCK = re.compile(r"^```toml\n(.*?)^```", re.MULTILINE | re.DOTALL)


def toml_blocks() -> list[str]:
    return TOML_BLOCK.findall(DOCS.read_text(encoding="utf-8"))


def test_the_docs_have_toml_examples():
    assert len(toml_blocks()) >= 15


@pytest.mark.parametrize("block", toml_blocks())
def test_every_toml_example_is_a_valid_scenario(block):
    loads(block, source="docs/scenarios.md")
