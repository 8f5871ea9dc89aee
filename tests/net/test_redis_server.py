"""RedisServer with redis-py (sync and asyncio, RESP2 and RESP3) and raw sockets: the handshake,
replies per protocol, errors, unmatched commands, pipelines, faults, what is recorded."""

from __future__ import annotations

import asyncio
import re

import pytest
import redis
import redis.asyncio
from _nethelp import connect, recv_all, recv_until
from redis.backoff import NoBackoff
from redis.retry import Retry

import sockfix
from sockfix import faults

PROTOCOLS = [2, 3]


def client(server: sockfix.RedisServer, protocol: int = 3, **options) -> redis.Redis:
    """redis-py with a timeout, and (unless ``retry=`` is given) no retries: redis-py 6+
    retries a failed command three times by default, which would hide the faults."""
    options.setdefault("socket_timeout", 5)
    options.setdefault("retry", Retry(NoBackoff(), 0))
    return redis.Redis(host=server.host, port=server.port, protocol=protocol, **options)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_redis_py_get_set_incr_with_the_handshake_answered(protocol: int) -> None:
    with sockfix.RedisServer() as server:
        server.expect("GET", "user:1").reply(b'{"id": 1}')
        server.expect("SET", "k", sockfix.ANY).reply("OK")
        server.expect("INCRBY", "hits", "1").reply(42)  # redis-py's incr() sends INCRBY k 1
        with client(server, protocol) as r:
            assert r.get("user:1") == b'{"id": 1}'
            assert r.set("k", "anything") is True
            assert r.incr("hits") == 42
    assert server.commands == [
        [b"GET", b"user:1"],
        [b"SET", b"k", b"anything"],
        [b"INCRBY", b"hits", b"1"],
    ]
    names = [c[0].upper() for c in server.handshake_commands]
    assert set(names) <= {b"HELLO", b"CLIENT"}
    assert (b"HELLO" in names) == (protocol == 3)
    assert len(server.connections) == 1


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_replies_are_encoded_for_the_connections_protocol(protocol: int) -> None:
    with sockfix.RedisServer() as server:
        server.expect("HGETALL", "h").reply({b"a": b"1", b"b": b"2"})
        server.expect("LRANGE", "q", "0", "-1").reply([b"a", b"b"])
        server.expect("GET", "missing").reply(None)
        with client(server, protocol) as r:
            assert r.hgetall("h") == {b"a": b"1", b"b": b"2"}
            assert r.lrange("q", 0, -1) == [b"a", b"b"]
            assert r.get("missing") is None
    sent = server.connections[0].sent
    if protocol == 3:
        assert b"%2\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n" in sent
        assert sent.endswith(b"_\r\n")
    else:
        assert b"*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n" in sent
        assert sent.endswith(b"$-1\r\n")


def test_error_replies_raise_in_redis_py() -> None:
    with sockfix.RedisServer() as server:
        server.expect("GET", "boom").error("ERR boom")
        readonly = "READONLY You can't write against a read only replica."
        server.expect("SET", "k", "v").error(readonly)
        with client(server) as r:
            with pytest.raises(redis.ResponseError, match="boom"):
                r.get("boom")
            with pytest.raises(redis.ReadOnlyError):
                r.set("k", "v")


def test_an_unmatched_command_gets_an_error_naming_it_and_fails_the_test() -> None:
    server = sockfix.RedisServer().start()
    server.expect("GET", "a").reply(b"1")
    with client(server) as r:
        with pytest.raises(redis.ResponseError, match="sockfix: no rule matched GET b"):
            r.get("b")
        assert r.get("a") == b"1"  # the connection stays open
    with pytest.raises(sockfix.StrictError) as info:
        server.stop()
    text = str(info.value)
    assert "no rule matched command" in text
    assert "GET b" in text
    assert "missed: argument 1 b'b': " in text


def test_arguments_match_by_str_bytes_regex_callable_and_count() -> None:
    with sockfix.RedisServer(strict=False) as server:
        server.expect("get", re.compile(rb"user:\d+")).reply(b"user")
        server.expect("GET", lambda key: key.startswith(b"cache:")).reply(b"cached")
        server.expect("MGET", "a", "b").reply([b"1", b"2"])
        with client(server) as r:
            assert r.get("user:7") == b"user"
            assert r.get("cache:x") == b"cached"
            assert r.mget("a", "b") == [b"1", b"2"]
            with pytest.raises(redis.ResponseError, match="no rule matched MGET a b c"):
                r.mget("a", "b", "c")


def test_a_callable_reply_and_a_handler() -> None:
    def handler(command: list[bytes]) -> object:
        return b"handled " + command[0] if command[0] == b"ECHOX" else None

    with sockfix.RedisServer(handler=handler, strict=False) as server:
        server.expect("GET", sockfix.ANY).reply(lambda command: command[1].upper())
        with client(server) as r:
            assert r.get("abc") == b"ABC"
            assert r.execute_command("ECHOX") == b"handled ECHOX"
            with pytest.raises(redis.ResponseError):
                r.execute_command("NOPE")


def test_pipeline_commands_are_split_and_answered_in_order() -> None:
    with sockfix.RedisServer() as server:
        server.expect("INCRBY", "n", "1").reply(1).times(1)
        server.expect("INCRBY", "n", "1").reply(2).times(1)
        server.expect("GET", "n").reply(b"2")
        with client(server) as r:
            pipe = r.pipeline(transaction=False)
            pipe.incr("n").incr("n").get("n")
            assert pipe.execute() == [1, 2, b"2"]
    assert [c[0] for c in server.commands] == [b"INCRBY", b"INCRBY", b"GET"]


def test_faults_and_shaping_apply_to_replies() -> None:
    with sockfix.RedisServer() as server:
        server.expect("GET", "k").reset().times(2)
        server.expect("GET", "k").reply(b"v")
        with client(server) as r:
            for _ in range(2):
                with pytest.raises(redis.ConnectionError):
                    r.get("k")
            assert r.get("k") == b"v"
    assert len(server.connections) == 3
    assert server.connections[0].events[-1].kind == "reset"


def test_redis_pys_retry_survives_two_resets() -> None:
    with sockfix.RedisServer() as server:
        server.expect("GET", "k").reset().times(2)
        server.expect("GET", "k").reply(b"v")
        with client(server, retry=Retry(NoBackoff(), 3)) as r:
            assert r.get("k") == b"v"
    assert len(server.connections) == 3
    assert [c.events[-1].kind for c in server.connections[:2]] == ["reset", "reset"]


def test_a_timeout_with_delay() -> None:
    with sockfix.RedisServer() as server:
        server.expect("GET", "slow").reply(b"v").delay(5)
        with client(server, socket_timeout=0.2) as r, pytest.raises(redis.TimeoutError):
            r.get("slow")
        server.stop(check=False)


def test_truncate_fault_breaks_the_reply() -> None:
    with sockfix.RedisServer() as server:
        server.expect("GET", "k").reply(b"x" * 100)
        server.fault(faults.Truncate(200), connections=[1])
        with client(server) as r, pytest.raises(redis.ConnectionError):
            # the handshake replies pass; the value is cut short, then the connection closes
            r.get("k")
        server.stop(check=False)


def test_handshake_false_leaves_hello_to_the_rules() -> None:
    with sockfix.RedisServer(handshake=False) as server:
        server.expect("PING").reply("PONG")
        with connect(server) as sock:
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            assert recv_until(sock, b"\r\n") == b"+PONG\r\n"
            sock.sendall(b"*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n")
            assert recv_until(sock, b"\r\n").startswith(b"-ERR sockfix: no rule matched HELLO 3")
        server.stop(check=False)
    assert server.handshake_commands == []
    assert server.commands == [[b"PING"], [b"HELLO", b"3"]]


def test_a_rule_scripting_hello_wins_over_the_default() -> None:
    with sockfix.RedisServer() as server:
        server.expect("HELLO", "3").error("NOPROTO sorry")
        server.expect("GET", "k").reply(b"v")
        with connect(server) as sock:
            sock.sendall(b"*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")
            assert recv_until(sock, b"v\r\n") == b"-NOPROTO sorry\r\n$1\r\nv\r\n"


def test_inline_commands_and_protocol_errors() -> None:
    server = sockfix.RedisServer().start()
    server.expect("SET", "k", "a b").reply("OK")
    with connect(server) as sock:
        sock.sendall(b'SET k "a b"\r\n')
        assert recv_until(sock, b"\r\n") == b"+OK\r\n"
        sock.sendall(b"*1\r\n:5\r\n")
        data = recv_all(sock)
    assert data.startswith(b"-ERR Protocol error: ")
    with pytest.raises(sockfix.StrictError, match="is not a RESP command"):
        server.stop()


def test_asyncio_redis_py_resp3() -> None:
    async def main(server: sockfix.RedisServer) -> list[object]:
        r = redis.asyncio.Redis(host=server.host, port=server.port, protocol=3, socket_timeout=5)
        try:
            return [await r.get("k"), await r.incr("n")]
        finally:
            await r.aclose()

    with sockfix.RedisServer() as server:
        server.expect("GET", "k").reply(b"v")
        server.expect("INCRBY", "n", "1").reply(7)
        assert asyncio.run(main(server)) == [b"v", 7]


def test_transcript_shows_commands_decoded() -> None:
    with sockfix.RedisServer() as server:
        server.expect("GET", "user:1").reply(b"x")
        with client(server, 2) as r:
            r.get("user:1")
        server.wait_until(lambda s: s.connections[0].closed)
        text = server.transcript()
    assert "RedisServer 127.0.0.1:" in text
    assert "  message 3: GET user:1\n" in text


def test_url_and_bad_arguments() -> None:
    with sockfix.RedisServer() as server:
        assert server.url() == f"redis://127.0.0.1:{server.port}/0"
        with redis.Redis.from_url(server.url(), protocol=2, socket_timeout=5) as r:
            server.expect("PING").reply("PONG")
            assert r.ping() is True
        with pytest.raises(TypeError, match="takes no framing="):
            sockfix.RedisServer(framing=sockfix.framing.lines())  # type: ignore[call-arg]
        with pytest.raises(ValueError, match="arguments come after it"):
            server.expect("GET k")
        with pytest.raises(TypeError, match="str regex"):
            server.expect("GET", re.compile("k"))
        with pytest.raises(ValueError, match="one non-empty line"):
            server.expect("GET", "x").error("ERR a\nb")
        with pytest.raises(TypeError):
            server.expect("GET", "y").reply(object())
        assert [r.describe() for r in server.rules] == ["expect('PING').reply('PONG')"]
