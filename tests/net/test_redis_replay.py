"""Record a real redis-server through ``TCPProxy(framing=resp())``, replay it offline.

A redis-server (one per test module, on a free loopback port) is the real server; redis-py
(RESP2 and RESP3) is the client. The proxy saves one rule per command with the reply the
server gave it; ``TCPServer.from_scenario`` and ``sockfix serve FILE`` answer those commands
in any order (identical commands in their recorded order), strictly: a command that was not
recorded is closed on and named. Skipped, saying why, where redis-server is not installed
(.ci/run installs Debian's).
"""

from __future__ import annotations

import contextlib
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

import sockfix
from sockfix.core.resp.codec import decode, parse_command
from sockfix.framing import Framer, resp

PROTOCOLS = [2, 3]
TIMEOUT = 10.0
HANDSHAKE = {b"HELLO", b"CLIENT"}  # what redis-py sends on connect, before any command


# ------------------------------------------------------------------------- the real redis-server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _direct(port: int) -> redis.Redis:
    """A client straight to redis-server (not through the proxy: nothing of it is recorded)."""
    return redis.Redis(
        host="127.0.0.1",
        port=port,
        socket_timeout=2,
        socket_connect_timeout=2,
        retry=Retry(NoBackoff(), 0),
    )


def _ours_answers(proc: subprocess.Popen[bytes], port: int, timeout: float) -> bool:
    """Poll until the redis-server ``proc`` answers PING on ``port`` (bounded); False if it
    exited first (the port was taken). The pause between tries is a wait on its exit."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with _direct(port) as r:
                # The pid tells our server from another one that got the same port first.
                if r.ping() and r.info("server")["process_id"] == proc.pid:
                    return True
        except redis.RedisError:  # not listening yet, or still loading
            pass
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(0.02)
    raise AssertionError(f"redis-server did not answer PING on port {port} within {timeout} s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(TIMEOUT)
    except subprocess.TimeoutExpired:  # pragma: no cover - redis-server ignores SIGTERM
        proc.kill()
        proc.wait(TIMEOUT)


@pytest.fixture(scope="module")
def redis_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """The port of a real redis-server on 127.0.0.1, no persistence, terminated at teardown."""
    exe = shutil.which("redis-server")
    if exe is None:
        pytest.skip("redis-server is not installed: apt-get install redis-server (.ci/run does)")
    folder = tmp_path_factory.mktemp("redis")
    log = folder / "redis.log"
    for _ in range(3):  # another process may take the free port before redis-server binds it
        port = _free_port()
        cmd = [
            exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", str(folder), "--logfile", str(log), "--daemonize", "no",
        ]  # fmt: skip
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            ready = _ours_answers(proc, port, timeout=20)
        except BaseException:
            _stop(proc)
            raise
        if ready:
            break
        _stop(proc)
    else:
        raise AssertionError(f"redis-server did not start: {log.read_text()[-2000:]}")
    try:
        yield port
    finally:
        _stop(proc)


@pytest.fixture
def redis_db(redis_port: int) -> int:
    """The module's redis-server, emptied for this test."""
    with _direct(redis_port) as r:
        r.flushall()
    return redis_port


# ----------------------------------------------------------------------------- the client


def client(port: int, protocol: int) -> redis.Redis:
    """redis-py with timeouts and no retries (a retry would hide a closed connection)."""
    return redis.Redis(
        host="127.0.0.1",
        port=port,
        protocol=protocol,
        socket_timeout=5,
        socket_connect_timeout=5,
        retry=Retry(NoBackoff(), 0),
    )


def _pipelined(r: redis.Redis) -> list[Any]:
    with r.pipeline(transaction=False) as pipe:
        pipe.set("p", "1")
        pipe.get("p")
        pipe.incr("p")
        return pipe.execute()  # the three commands in one send


STEPS: dict[str, Callable[[redis.Redis], Any]] = {
    "set": lambda r: r.set("user:1", "ada"),
    "get": lambda r: r.get("user:1"),
    "incr": lambda r: r.incr("hits"),  # redis-py sends INCRBY hits 1
    "incrby": lambda r: r.incrby("score", 5),
    "del": lambda r: r.delete("user:1"),
    "lpush": lambda r: r.lpush("queue", "a", "b"),
    "lrange": lambda r: r.lrange("queue", 0, -1),
    "hset": lambda r: r.hset("h", mapping={"a": "1", "b": "2"}),
    "hgetall": lambda r: r.hgetall("h"),
    "pipeline": _pipelined,
}
NAMES = {  # the command each step sends
    "set": [b"SET"],
    "get": [b"GET"],
    "incr": [b"INCRBY"],
    "incrby": [b"INCRBY"],
    "del": [b"DEL"],
    "lpush": [b"LPUSH"],
    "lrange": [b"LRANGE"],
    "hset": [b"HSET"],
    "hgetall": [b"HGETALL"],
    "pipeline": [b"SET", b"GET", b"INCRBY"],
}
RUN = ["set", "get", "incr", "incrby", "lpush", "lrange", "hset", "hgetall", "del", "incr"]
# The same commands in another order: DEL before GET, INCR twice apart, the lists first.
SHUFFLED = ["hgetall", "incr", "lrange", "del", "hset", "get", "incrby", "incr", "lpush", "set"]
REAL = {  # what redis-server answers to RUN, in RUN's order, after FLUSHALL
    "set": [True],
    "get": [b"ada"],
    "incr": [1, 2],
    "incrby": [5],
    "lpush": [2],
    "lrange": [[b"b", b"a"]],
    "hset": [2],
    "hgetall": [{b"a": b"1", b"b": b"2"}],
    "del": [1],
}


def run(r: redis.Redis, order: list[str]) -> dict[str, list[Any]]:
    """Run the steps in ``order``; each step's results, in call order."""
    results: dict[str, list[Any]] = {}
    for name in order:
        results.setdefault(name, []).append(STEPS[name](r))
    return results


# ----------------------------------------------------------------------- record and replay


def proxy_done(proxy: sockfix.TCPProxy) -> bool:
    return all(c.closed and c.upstream.closed for c in proxy.connections)


def server_done(server: sockfix.TCPServer) -> bool:
    return all(c.closed for c in server.connections)


def record(
    port: int, protocol: int, order: list[str], path: Path
) -> tuple[sockfix.TCPProxy, dict[str, list[Any]]]:
    """Run ``order`` through a RESP-framed proxy in front of redis-server; save it to ``path``."""
    with sockfix.TCPProxy(upstream=("127.0.0.1", port), framing=resp()) as proxy:
        with client(proxy.port, protocol) as r:
            results = run(r, order)
        proxy.wait_until(proxy_done)
    proxy.save_scenario(path)
    return proxy, results


def replay(
    path: Path, protocol: int, order: list[str]
) -> tuple[sockfix.TCPServer, dict[str, list[Any]]]:
    """Run ``order`` against the scenario at ``path`` (strict: StrictError on any difference)."""
    with sockfix.TCPServer.from_scenario(path) as server:
        with client(server.port, protocol) as r:
            results = run(r, order)
        server.wait_until(server_done)
    return server, results


def _bytes(rule: dict[str, Any], key: str) -> bytes:
    """A rule's ``expect`` / ``respond`` as bytes, written as text or as hex."""
    for suffix, convert in (("", str.encode), ("_hex", bytes.fromhex)):
        value = rule.get(key + suffix)
        if value is not None:
            return b"".join(convert(v) for v in ([value] if isinstance(value, str) else value))
    return b""


def saved(path: Path) -> list[tuple[bytes, bytes]]:
    """(expect, respond) of each rule of the saved file, in file order."""
    scenario = tomllib.loads(path.read_text(encoding="utf-8"))
    assert scenario["framing"] == "resp"
    assert all(rule["times"] == 1 for rule in scenario["rules"])
    assert not any(rule.get("on_connect") for rule in scenario["rules"])  # redis never greets
    return [(_bytes(rule, "expect"), _bytes(rule, "respond")) for rule in scenario["rules"]]


def exchanges(conn: sockfix.ProxyConnection) -> list[tuple[bytes, bytes]]:
    """Each command the client sent with the reply redis-server gave to it: both sides of the
    recording cut into RESP values (redis answers every command with one value, in order)."""
    commands = Framer(resp()).feed(conn.received)
    replies = Framer(resp()).feed(conn.upstream.received)
    assert len(replies) == len(commands)
    return list(zip(commands, replies, strict=True))


def command_names(pairs: list[tuple[bytes, bytes]]) -> list[bytes]:
    """The names of the recorded commands, the connect handshake left out."""
    names = [parse_command(command)[0].upper() for command, _ in pairs]
    return [name for name in names if name not in HANDSHAKE]


def expected_names(order: list[str]) -> list[bytes]:
    return [name for step in order for name in NAMES[step]]


# ------------------------------------------------------------------------------- the tests


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_one_rule_per_command_with_the_reply_the_server_gave(redis_db, tmp_path, protocol):
    path = tmp_path / "redis.toml"
    proxy, results = record(redis_db, protocol, RUN, path)
    assert results == REAL
    assert len(proxy.connections) == 1
    conn = proxy.connections[0]
    real = exchanges(conn)
    rules = saved(path)
    assert len(rules) == len(real)  # one rule per command, not one per RESP line
    assert rules == real  # each with the bytes redis-server answered to it
    assert command_names(rules) == expected_names(RUN)
    for _, reply in rules:
        assert decode(reply)[1] == len(reply)  # exactly one RESP value
    assert (b"%2\r\n" in conn.sent) == (protocol == 3)  # HGETALL as a RESP3 map


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_the_same_run_replays_strict_with_the_real_replies(redis_db, tmp_path, protocol):
    path = tmp_path / "redis.toml"
    proxy, results = record(redis_db, protocol, RUN, path)
    server, replayed = replay(path, protocol, RUN)  # strict: no StrictError
    assert replayed == results == REAL
    assert server.problems == []
    recorded, again = proxy.connections[0], server.connections[0]
    assert again.received == recorded.received
    assert again.sent == recorded.sent == recorded.upstream.received
    assert len(again.messages) == len(saved(path))  # the fake cut one message per rule


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_different_order_each_command_gets_its_own_reply(redis_db, tmp_path, protocol):
    path = tmp_path / "redis.toml"
    record(redis_db, protocol, RUN, path)
    server, replayed = replay(path, protocol, SHUFFLED)  # strict: every rule used once
    # Matched by their bytes: GET still finds "ada" after DEL, LRANGE the list before LPUSH.
    assert replayed == REAL
    assert sorted(server.connections[0].messages) == sorted(m for m, _ in saved(path))


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_identical_commands_replay_in_their_recorded_order(redis_db, tmp_path, protocol):
    path = tmp_path / "incr.toml"
    order = ["incr", "incr", "incr", "set"]
    _, results = record(redis_db, protocol, order, path)
    assert results["incr"] == [1, 2, 3]
    incrs = [(m, reply) for m, reply in saved(path) if b"INCRBY" in m]
    assert [reply for _, reply in incrs] == [b":1\r\n", b":2\r\n", b":3\r\n"]
    assert len({m for m, _ in incrs}) == 1  # the same bytes three times
    _, replayed = replay(path, protocol, ["set", "incr", "incr", "incr"])
    assert replayed == results  # 1, 2, 3 again, though SET moved first


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize(
    ("extra", "message"),
    [
        pytest.param(
            lambda r: r.get("never-recorded"),
            b"*2\r\n$3\r\nGET\r\n$14\r\nnever-recorded\r\n",
            id="GET-never-recorded",
        ),
        pytest.param(
            lambda r: r.incr("hits"),  # recorded twice: a third is not in the recording
            b"*3\r\n$6\r\nINCRBY\r\n$4\r\nhits\r\n$1\r\n1\r\n",
            id="a-third-INCR",
        ),
    ],
)
def test_a_command_not_recorded_fails_the_strict_replay(
    redis_db, tmp_path, protocol, extra, message
):
    path = tmp_path / "redis.toml"
    record(redis_db, protocol, RUN, path)
    with (  # noqa: PT012 - the error comes from the server's stop
        pytest.raises(sockfix.StrictError) as info,
        sockfix.TCPServer.from_scenario(path) as server,
    ):
        with client(server.port, protocol) as r:
            assert run(r, RUN) == REAL
            # on_unmatched="close" (the strict default): the fake closes, redis-py says so.
            with pytest.raises(redis.ConnectionError, match="Connection closed by server"):
                extra(r)
        server.wait_until(server_done)
    text = str(info.value)
    number = len(saved(path)) + 1
    assert f"no rule matched message {number}: {message!r}" in text
    assert "saw 1 problem(s)" in text  # every recorded rule was used
    assert server.connections[0].messages[-1] == message


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_pipeline_is_one_rule_per_command_and_replays(redis_db, tmp_path, protocol):
    path = tmp_path / "pipeline.toml"
    order = ["set", "pipeline", "get"]
    proxy, results = record(redis_db, protocol, order, path)
    assert results["pipeline"] == [[True, b"1", 2]]
    rules = saved(path)
    real = exchanges(proxy.connections[0])
    assert [m for m, _ in rules] == [m for m, _ in real]  # one rule per pipelined command too
    assert command_names(rules) == expected_names(order)
    # The whole pipeline, sent at once as recorded, gets the real replies.
    server, replayed = replay(path, protocol, order)
    assert replayed == results
    assert server.connections[0].sent == proxy.connections[0].sent


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_each_pipelined_command_is_saved_with_its_own_reply(redis_db, tmp_path, protocol):
    path = tmp_path / "pipeline.toml"
    proxy, _ = record(redis_db, protocol, ["pipeline"], path)
    assert saved(path) == exchanges(proxy.connections[0])
    with sockfix.TCPServer.from_scenario(path) as server:  # then: one by one, in any order
        with client(server.port, protocol) as r:
            assert [r.incr("p"), r.get("p"), r.set("p", "1")] == [2, b"1", True]
        server.wait_until(server_done)


def test_proxy_connections_hold_the_commands_cut_by_the_framing(redis_db, tmp_path):
    proxy, _ = record(redis_db, 3, ["set", "get"], tmp_path / "redis.toml")
    conn = proxy.connections[0]
    assert conn.messages == [m for m, _ in exchanges(conn)]


# ------------------------------------------------------------------------- the command line


class Sockfix:
    """``python -m sockfix ARGS`` in a subprocess, its stdout read line by line on a thread."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sockfix", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        self._reader = threading.Thread(target=self._pump, name="sockfix stdout", daemon=True)
        self._reader.start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        try:
            for line in self.proc.stdout:
                self.lines.put(line.rstrip("\n"))
        except (OSError, ValueError):  # pragma: no cover - closed under us
            pass
        finally:
            self.lines.put(None)

    def until(self, predicate: Callable[[str], bool], timeout: float = TIMEOUT) -> str:
        """Read lines until one satisfies ``predicate``; TimeoutError / EOFError otherwise."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                raise EOFError(f"output ended; seen: {self.seen}")
            self.seen.append(line)
            if predicate(line):
                return line
        raise TimeoutError(f"no matching line within {timeout} s; seen: {self.seen}")

    def port(self) -> int:
        first = self.until(lambda line: True)
        assert first.startswith("listening on 127.0.0.1:"), first
        return int(first.rsplit(":", 1)[1])

    def stop(self, signum: int = signal.SIGINT) -> tuple[int, list[str], str]:
        """Signal it; its exit status, the rest of its stdout and its stderr."""
        self.proc.send_signal(signum)
        status = self.proc.wait(TIMEOUT)
        self._reader.join(TIMEOUT)
        rest = []
        while (line := self.lines.get(timeout=TIMEOUT)) is not None:
            rest.append(line)
        assert self.proc.stderr is not None
        return status, rest, self.proc.stderr.read()

    def close(self) -> None:
        try:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait(TIMEOUT)
        finally:
            self._reader.join(TIMEOUT)
            for pipe in (self.proc.stdout, self.proc.stderr):
                if pipe is not None:
                    pipe.close()


@pytest.fixture
def sockfix_cli() -> Iterator[Callable[..., Sockfix]]:
    """Start ``python -m sockfix`` subprocesses; each is killed (if still running) and reaped."""
    started: list[Sockfix] = []

    def start(*args: str) -> Sockfix:
        started.append(Sockfix(*args))
        return started[-1]

    yield start
    for p in started:
        p.close()


def _record_with_the_cli(sockfix_cli, port: int, protocol: int, path: Path) -> None:
    proxy = sockfix_cli(
        "proxy", "--upstream", f"127.0.0.1:{port}", "--framing", "resp", "--record", str(path)
    )
    with client(proxy.port(), protocol) as r:
        assert run(r, RUN) == REAL
    proxy.until(lambda line: line.startswith("[1] ") and "-- eof" in line)  # redis-py closed
    status, rest, err = proxy.stop(signal.SIGINT)
    assert (status, err) == (0, "")
    assert rest[-2:] == [f"recorded 1 connection to {path}", "stopped"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_cli_records_redis_and_serves_it_in_any_order(redis_db, sockfix_cli, tmp_path, protocol):
    path = tmp_path / "redis.toml"
    _record_with_the_cli(sockfix_cli, redis_db, protocol, path)
    assert command_names(saved(path)) == expected_names(RUN)  # one rule per command

    serve = sockfix_cli("serve", str(path), "--port", "0")  # redis-server is not asked again
    with client(serve.port(), protocol) as r:
        assert run(r, SHUFFLED) == REAL
    serve.until(lambda line: line.startswith("[1] ") and "-- close" in line)
    status, rest, err = serve.stop(signal.SIGTERM)
    assert not [line for line in rest if line.startswith("problem: ")]
    assert (status, err, rest[-1]) == (0, "", "stopped")  # 0: a clean strict replay


def test_cli_serve_exits_1_naming_a_command_not_recorded(redis_db, sockfix_cli, tmp_path):
    path = tmp_path / "redis.toml"
    _record_with_the_cli(sockfix_cli, redis_db, 3, path)

    serve = sockfix_cli("serve", str(path), "--port", "0")
    with client(serve.port(), 3) as r:
        assert run(r, RUN[:2]) == {"set": [True], "get": [b"ada"]}
        with pytest.raises(redis.ConnectionError):
            r.get("never-recorded")
    serve.until(lambda line: line.startswith("[1] ") and "-- close" in line)
    status, rest, err = serve.stop(signal.SIGINT)
    assert (status, err, rest[-1]) == (1, "", "stopped")
    problems = [line for line in rest if line.startswith("problem: ")]
    assert r"GET\r\n$14\r\nnever-recorded\r\n" in problems[0]
    assert len(problems) == 1 + len(RUN) - 2  # and each recorded command not sent
    assert all("was used 0 of 1 times" in line for line in problems[1:])
