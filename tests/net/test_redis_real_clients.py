"""redis-py against RedisServer, sync and ``redis.asyncio``, over RESP2 and RESP3: the common
exchanges, and every fault checked with the exception redis-py really raises (its exact class,
and the stable parts of its text).

Retries are off (``retry=Retry(NoBackoff(), 0)``) unless the test is about them: a redis-py 8
``Redis(host=..., port=...)`` retries a failed command by default (``ConnectionError`` and
``TimeoutError``, 10 times), which would turn each fault into a success or hide it
(``Redis.from_url()`` does not retry by default). Every client has a timeout and is closed.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any

import pytest
import redis
import redis.asyncio
import redis.asyncio.retry
from redis.backoff import NoBackoff
from redis.exceptions import (
    AskError,
    AuthenticationError,
    BusyLoadingError,
    InvalidResponse,
    MovedError,
    ReadOnlyError,
    WatchError,
)
from redis.retry import Retry

import sockfix
from sockfix import faults

PROTOCOLS = [2, 3]
KINDS = ["sync", "async"]
BIG = bytes(range(256)) * 40  # a 10 KiB bulk string
LIB = [
    [b"CLIENT", b"SETINFO", b"LIB-NAME", b"redis-py"],
    [b"CLIENT", b"SETINFO", b"LIB-VER", redis.__version__.encode()],
]
MAINT = [b"CLIENT", b"MAINT_NOTIFICATIONS", b"ON", b"moving-endpoint-type", b"internal-ip"]
HANDSHAKE = {2: LIB, 3: [[b"HELLO", b"3"], MAINT, *LIB]}
"""What redis-py 8.1 sends on connect, before the first command, by protocol."""

Step = Callable[[Any], Any]


def no_retry(kind: str) -> Any:
    return Retry(NoBackoff(), 0) if kind == "sync" else redis.asyncio.retry.Retry(NoBackoff(), 0)


def drive(
    kind: str, server: sockfix.RedisServer, protocol: int, *steps: Step, **options: Any
) -> list[Any]:
    """Run ``steps`` on one redis-py client (sync, or ``redis.asyncio`` inside ``asyncio.run``)
    and return what each returned. A step is ``(client) -> value``: a redis-py call (awaited
    for the async client) or anything else, such as attaching a fault between two commands.
    The client has timeouts, no retries unless ``retry=`` is given, and is always closed."""
    options.setdefault("socket_timeout", 2)
    options.setdefault("socket_connect_timeout", 2)
    options.setdefault("retry", no_retry(kind))
    where: dict[str, Any] = {"host": server.host, "port": server.port, "protocol": protocol}
    if kind == "sync":
        with redis.Redis(**where, **options) as r:
            return [step(r) for step in steps]

    async def main() -> list[Any]:
        r = redis.asyncio.Redis(**where, **options)
        try:
            out = []
            for step in steps:
                value = step(r)
                out.append(await value if inspect.isawaitable(value) else value)
            return out
        finally:
            await r.aclose()

    return asyncio.run(main())


def get(key: str) -> Step:
    return lambda r: r.get(key)


both = pytest.mark.parametrize("protocol", PROTOCOLS)
kinds = pytest.mark.parametrize("kind", KINDS)


# -- the common exchanges ------------------------------------------------------------------------


@kinds
@both
def test_get_set_incr_and_what_was_recorded(kind: str, protocol: int) -> None:
    with sockfix.RedisServer() as server:
        server.expect("GET", "user:1").reply(b'{"id": 1}')
        server.expect("SET", "k", "v", "EX", "60").reply("OK")
        server.expect("INCRBY", "hits", "1").reply(42)  # incr() sends INCRBY k 1
        server.expect("DEL", "a", "b").reply(1)
        results = drive(
            kind,
            server,
            protocol,
            get("user:1"),
            lambda r: r.set("k", "v", ex=60),
            lambda r: r.incr("hits"),
            lambda r: r.delete("a", "b"),
        )
    assert results == [b'{"id": 1}', True, 42, 1]
    assert server.commands == [
        [b"GET", b"user:1"],
        [b"SET", b"k", b"v", b"EX", b"60"],
        [b"INCRBY", b"hits", b"1"],
        [b"DEL", b"a", b"b"],
    ]
    assert server.handshake_commands == HANDSHAKE[protocol]
    assert len(server.connections) == 1


@kinds
@both
def test_resp3_types_through_redis_py(kind: str, protocol: int) -> None:
    with sockfix.RedisServer() as server:
        server.expect("HGETALL", "h").reply({b"a": b"1", b"b": b"2"})
        server.expect("SMEMBERS", "s").reply({b"x", b"y"})
        server.expect("ZSCORE", "z", "m").reply(1.5)
        server.expect("SISMEMBER", "s", "x").reply(True)
        server.expect("GET", "missing").reply(None)
        server.expect("LRANGE", "l", "0", "-1").reply([b"a", None, 7])
        server.expect("BIG").reply(2**70)
        results = drive(
            kind,
            server,
            protocol,
            lambda r: r.hgetall("h"),
            lambda r: r.smembers("s"),
            lambda r: r.zscore("z", "m"),
            lambda r: r.sismember("s", "x"),
            get("missing"),
            lambda r: r.lrange("l", 0, -1),
            lambda r: r.execute_command("BIG"),
        )
        server.wait_until(lambda s: s.connections[0].closed)
    assert [type(v) for v in results[3:5]] == [bool if protocol == 3 else int, type(None)]
    common = [{b"a": b"1", b"b": b"2"}, {b"x", b"y"}, 1.5]
    if protocol == 3:
        assert results == [*common, True, None, [b"a", None, 7], 2**70]
    else:  # RESP2 has no bool (SISMEMBER stays 1) and sends a big number as a bulk string
        assert results == [*common, 1, None, [b"a", None, 7], b"1180591620717411303424"]
    sent = server.connections[0].sent  # the handshake's replies, then these
    if protocol == 3:
        assert sent.endswith(
            b"%2\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n"
            b"~2\r\n$1\r\nx\r\n$1\r\ny\r\n"
            b",1.5\r\n"
            b"#t\r\n"
            b"_\r\n"
            b"*3\r\n$1\r\na\r\n_\r\n:7\r\n"
            b"(1180591620717411303424\r\n"
        )
    else:
        assert sent == b"+OK\r\n+OK\r\n" + (
            b"*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n"
            b"*2\r\n$1\r\nx\r\n$1\r\ny\r\n"
            b"$3\r\n1.5\r\n"
            b":1\r\n"
            b"$-1\r\n"
            b"*3\r\n$1\r\na\r\n$-1\r\n:7\r\n"
            b"$22\r\n1180591620717411303424\r\n"
        )


@kinds
@both
def test_a_pipeline_without_a_transaction(kind: str, protocol: int) -> None:
    def pipeline(r: Any) -> Any:
        pipe = r.pipeline(transaction=False)
        pipe.incr("n").incr("n").get("n")
        return pipe.execute()

    with sockfix.RedisServer() as server:
        server.expect("INCRBY", "n", "1").reply(1).times(1)
        server.expect("INCRBY", "n", "1").reply(2).times(1)
        server.expect("GET", "n").reply(b"2")
        assert drive(kind, server, protocol, pipeline) == [[1, 2, b"2"]]
    assert server.commands == [[b"INCRBY", b"n", b"1"]] * 2 + [[b"GET", b"n"]]
    # the three commands came in one write, and were cut apart by the framing
    assert server.connections[0].messages[-3:] == [
        b"*3\r\n$6\r\nINCRBY\r\n$1\r\nn\r\n$1\r\n1\r\n",
        b"*3\r\n$6\r\nINCRBY\r\n$1\r\nn\r\n$1\r\n1\r\n",
        b"*2\r\n$3\r\nGET\r\n$1\r\nn\r\n",
    ]


@kinds
@both
def test_a_multi_exec_transaction(kind: str, protocol: int) -> None:
    def transaction(r: Any) -> Any:
        pipe = r.pipeline()  # transaction=True: MULTI ... EXEC
        pipe.set("a", "1").incr("n")
        return pipe.execute()

    with sockfix.RedisServer() as server:
        server.expect("MULTI").reply("OK")
        server.expect("SET", "a", "1").reply("QUEUED")
        server.expect("INCRBY", "n", "1").reply("QUEUED")
        server.expect("EXEC").reply(["OK", 5])
        assert drive(kind, server, protocol, transaction) == [[True, 5]]
    assert server.commands == [
        [b"MULTI"],
        [b"SET", b"a", b"1"],
        [b"INCRBY", b"n", b"1"],
        [b"EXEC"],
    ]


@both
def test_an_error_inside_exec_and_a_watch_conflict(protocol: int) -> None:
    wrongtype = "WRONGTYPE Operation against a key holding the wrong kind of value"
    with sockfix.RedisServer() as server:
        server.expect("MULTI").reply("OK")
        server.expect("LPUSH", "k", "x").reply("QUEUED")
        server.expect("INCRBY", "n", "1").reply("QUEUED")
        server.expect("EXEC").reply([sockfix.ErrorReply(wrongtype), 5]).times(1)
        server.expect("WATCH", "balance").reply("OK")
        server.expect("GET", "balance").reply(b"10")
        server.expect("SET", "balance", "5").reply("QUEUED")
        server.expect("EXEC").reply(None)  # a null EXEC: a watched key changed
        with redis.Redis(
            host=server.host,
            port=server.port,
            protocol=protocol,
            socket_timeout=2,
            retry=Retry(NoBackoff(), 0),
        ) as r:
            pipe = r.pipeline()
            pipe.lpush("k", "x").incr("n")
            with pytest.raises(redis.ResponseError) as failure:
                pipe.execute()
            assert type(failure.value) is redis.ResponseError
            assert (
                str(failure.value)
                == f"Command # 1 (LPUSH k x) of pipeline caused error: {wrongtype}"
            )

            with r.pipeline() as pipe:
                pipe.watch("balance")
                balance = int(pipe.get("balance"))
                pipe.multi()
                pipe.set("balance", balance - 5)
                with pytest.raises(WatchError, match=r"^Watched variable changed\.$"):
                    pipe.execute()


@kinds
@both
def test_from_url_speaks_resp3_by_default_and_selects_the_db(kind: str, protocol: int) -> None:
    with sockfix.RedisServer() as server:
        server.expect("GET", "k").reply(b"v")
        url = server.url(2) if protocol == 2 else server.url()
        assert url == f"redis://127.0.0.1:{server.port}/{2 if protocol == 2 else 0}"
        if kind == "sync":
            with redis.Redis.from_url(url, socket_timeout=2, retry=no_retry(kind)) as r:
                assert r.get("k") == b"v"
        else:

            async def main() -> object:
                r = redis.asyncio.Redis.from_url(url, socket_timeout=2, retry=no_retry(kind))
                try:
                    return await r.get("k")
                finally:
                    await r.aclose()

            assert asyncio.run(main()) == b"v"
    select = [[b"SELECT", b"2"]] if protocol == 2 else []
    assert server.handshake_commands == HANDSHAKE[3] + select  # redis-py 8: HELLO 3 unless told
    assert server.commands == [[b"GET", b"k"]]


@kinds
@both
def test_password_db_and_client_name_go_to_the_handshake(kind: str, protocol: int) -> None:
    with sockfix.RedisServer() as server:
        server.expect("GET", "k").reply(b"v")
        results = drive(
            kind, server, protocol, get("k"), password="s3cret", db=2, client_name="billing"
        )
    assert results == [b"v"]
    setname = [b"CLIENT", b"SETNAME", b"billing"]
    select = [b"SELECT", b"2"]
    if protocol == 3:  # the password rides on HELLO
        expected = [[b"HELLO", b"3", b"AUTH", b"default", b"s3cret"], MAINT, setname, *LIB, select]
    else:
        expected = [[b"AUTH", b"s3cret"], setname, *LIB, select]
    assert server.handshake_commands == expected
    assert server.commands == [[b"GET", b"k"]]


@both
def test_a_rule_naming_a_handshake_command_wins(protocol: int) -> None:
    wrongpass = "WRONGPASS invalid username-password pair or user is disabled."
    with sockfix.RedisServer() as server:
        server.expect("AUTH", "bad").error(wrongpass)
        server.expect("HELLO", "3", "AUTH", "default", "bad").error(wrongpass)
        with (
            redis.Redis(
                host=server.host,
                port=server.port,
                protocol=protocol,
                password="bad",
                socket_timeout=2,
                retry=Retry(NoBackoff(), 0),
            ) as r,
            pytest.raises(AuthenticationError) as failure,
        ):
            r.get("k")
    assert type(failure.value) is AuthenticationError
    assert str(failure.value) == "invalid username-password pair or user is disabled."
    hello = [b"HELLO", b"3", b"AUTH", b"default", b"bad"]
    assert server.commands == [hello if protocol == 3 else [b"AUTH", b"bad"]]
    assert server.handshake_commands == []


@kinds
def test_a_scripted_hello_switches_the_protocol(kind: str) -> None:
    with sockfix.RedisServer() as server:
        server.expect("HELLO", "3").reply({b"server": b"redis", b"version": b"6.2.14", b"proto": 3})
        server.expect("HGETALL", "h").reply({b"f": b"v"})
        assert drive(kind, server, 3, lambda r: r.hgetall("h")) == [{b"f": b"v"}]
        server.wait_until(lambda s: s.connections[0].closed)
    assert server.connections[0].sent.endswith(b"%1\r\n$1\r\nf\r\n$1\r\nv\r\n")  # a map
    assert server.commands == [[b"HELLO", b"3"], [b"HGETALL", b"h"]]
    assert server.handshake_commands == [MAINT, *LIB]


@kinds
def test_handshake_false_and_resp3_hello_gets_an_error(kind: str) -> None:
    server = sockfix.RedisServer(handshake=False).start()
    server.expect("GET", "k").reply(b"v")
    with pytest.raises(redis.ResponseError) as failure:
        drive(kind, server, 3, get("k"))
    assert type(failure.value) is redis.ResponseError
    assert str(failure.value) == "sockfix: no rule matched HELLO 3"  # redis-py dropped "ERR "
    with pytest.raises(sockfix.StrictError, match=r"no rule matched command 1: HELLO 3"):
        server.stop()
    assert server.commands == [[b"HELLO", b"3"]]  # nothing more: the connect failed
    assert server.handshake_commands == []


def test_handshake_false_and_resp2_client_setinfo_errors_are_ignored_by_redis_py() -> None:
    server = sockfix.RedisServer(handshake=False).start()
    server.expect("GET", "k").reply(b"v")
    assert drive("sync", server, 2, get("k")) == [b"v"]  # redis-py ignores SETINFO errors
    with pytest.raises(sockfix.StrictError) as failure:
        server.stop()  # ... but the strict server does not
    assert "no rule matched command 1: CLIENT SETINFO LIB-NAME redis-py" in str(failure.value)
    assert server.commands == [*LIB, [b"GET", b"k"]]


@kinds
@both
def test_an_unmatched_command_is_an_error_reply_and_a_strict_failure(
    kind: str, protocol: int
) -> None:
    server = sockfix.RedisServer().start()
    server.expect("GET", "a").reply(b"1")
    with pytest.raises(redis.ResponseError) as failure:
        drive(kind, server, protocol, get("a"), get("b"))
    assert type(failure.value) is redis.ResponseError
    assert str(failure.value) == "sockfix: no rule matched GET b"
    with pytest.raises(sockfix.StrictError) as strict:
        server.stop()
    text = str(strict.value)
    assert f"no rule matched command {len(HANDSHAKE[protocol]) + 2}: GET b" in text
    assert "missed: argument 1 b'b': differs at byte 0: expected b'a', got b'b'" in text


def test_the_connection_stays_open_after_an_unmatched_command() -> None:
    with sockfix.RedisServer(strict=False) as server:
        server.expect("GET", "a").reply(b"1")
        with redis.Redis(
            host=server.host, port=server.port, socket_timeout=2, retry=Retry(NoBackoff(), 0)
        ) as r:
            with pytest.raises(redis.ResponseError, match=r"^sockfix: no rule matched GET b$"):
                r.get("b")
            assert r.get("a") == b"1"
    assert len(server.connections) == 1


UNMATCHED = {
    "close": (redis.ConnectionError, "Connection closed by server."),
    "reset": (redis.ConnectionError, "Error while reading from 127.0.0.1:"),
    "ignore": (redis.TimeoutError, "Timeout reading from socket"),
    b"-ERR custom\r\n": (redis.ResponseError, "custom"),
}


@pytest.mark.parametrize("on_unmatched", list(UNMATCHED))
def test_on_unmatched(on_unmatched: Any) -> None:
    expected, text = UNMATCHED[on_unmatched]
    server = sockfix.RedisServer(on_unmatched=on_unmatched).start()
    with pytest.raises(redis.RedisError) as failure:
        drive("sync", server, 3, get("k"), socket_timeout=0.2)
    assert type(failure.value) is expected
    assert str(failure.value).startswith(text)
    with pytest.raises(sockfix.StrictError, match=r"no rule matched command 5: GET k"):
        server.stop()


# -- faults: what redis-py raises -----------------------------------------------------------------

RESET_BY_PEER = "(104, 'Connection reset by peer')"


def _reading(kind: str, port: int) -> str:
    return (
        "Timeout reading from socket"
        if kind == "sync"
        else f"Timeout reading from 127.0.0.1:{port}"
    )


@kinds
@both
def test_a_rule_reset_is_a_connection_error(kind: str, protocol: int) -> None:
    with sockfix.RedisServer() as server:
        server.expect("GET", "k").reset()
        with pytest.raises(redis.ConnectionError) as failure:
            drive(kind, server, protocol, get("k"))
    assert type(failure.value) is redis.ConnectionError
    assert (
        str(failure.value) == f"Error while reading from 127.0.0.1:{server.port} : {RESET_BY_PEER}"
    )
    assert isinstance(failure.value.__context__, ConnectionResetError)
    assert server.connections[0].events[-1].kind == "reset"


@kinds
@both
def test_a_reset_in_the_middle_of_a_bulk_reply(kind: str, protocol: int) -> None:
    with sockfix.RedisServer() as server:
        server.expect("GET", "k").reply(BIG)
        server.fault(faults.Reset(after_bytes=1000))  # the handshake's replies count too
        with pytest.raises(redis.ConnectionError) as failure:
            drive(kind, server, protocol, get("k"))
    assert type(failure.value) is redis.ConnectionError
    assert (
        str(failure.value) == f"Error while reading from 127.0.0.1:{server.port} : {RESET_BY_PEER}"
    )
    assert len(server.connections[0].sent) == 1000
    handshake = {2: 10, 3: 159}[protocol]  # bytes of the replies to redis-py's connect
    events = server.connections[0].events
    assert sum(len(e.data) for e in events if e.note == "rule 1") == 1000 - handshake


@kinds
@both
def test_truncate_is_connection_closed_by_server(kind: str, protocol: int) -> None:
    with sockfix.RedisServer() as server:
        server.expect("GET", "k").reply(BIG)
        server.fault(faults.Truncate(1000))
        with pytest.raises(redis.ConnectionError) as failure:
            drive(kind, server, protocol, get("k"))
    assert type(failure.value) is redis.ConnectionError
    assert str(failure.value) == "Connection closed by server."
    if kind == "async":
        assert isinstance(failure.value.__cause__, asyncio.IncompleteReadError)
    assert len(server.connections[0].sent) == 1000


@kinds
@both
def test_garbage_without_a_line_end_is_connection_closed_by_server(
    kind: str, protocol: int
) -> None:
    with sockfix.RedisServer(seed=1) as server:
        server.expect("GET", "k").reply(b"v")
        with pytest.raises(redis.ConnectionError) as failure:
            drive(
                kind,
                server,
                protocol,
                lambda r: r.ping(),  # connected, handshake done
                lambda r: server.fault(faults.Garbage(64)),  # the next reply becomes junk
                get("k"),
            )
    assert type(failure.value) is redis.ConnectionError
    # 64 random bytes hold no CRLF: redis-py reads on for the line's end and meets the close
    assert str(failure.value) == "Connection closed by server."
    junk = server.connections[0].sent[-64:]
    assert b"\r\n" not in junk
    assert server.connections[0].events[-1].kind == "close"


@kinds
@both
def test_a_reply_that_is_not_resp_is_invalid_response(kind: str, protocol: int) -> None:
    with sockfix.RedisServer() as server:
        server.expect("GET", "k").respond(b"?oops\r\n")  # raw bytes, sent as they are
        with pytest.raises(InvalidResponse) as failure:
            drive(kind, server, protocol, get("k"))
    assert type(failure.value) is InvalidResponse
    assert str(failure.value) == "Protocol Error: b'?oops'"


@kinds
@both
def test_a_rule_close_is_connection_closed_by_server(kind: str, protocol: int) -> None:
    with sockfix.RedisServer() as server:
        server.expect("GET", "k").close()
        with pytest.raises(redis.ConnectionError) as failure:
            drive(kind, server, protocol, get("k"))
    assert type(failure.value) is redis.ConnectionError
    assert str(failure.value) == "Connection closed by server."


# (faults.Hang() and faults.Latency(5) give the same: tests/examples/test_howto_redis.py)
TOO_SLOW: dict[str, Callable[[sockfix.RedisServer], object]] = {
    "rule .delay(5)": lambda s: s.expect("GET", "k").reply(b"v").delay(5),
    "rule .hang()": lambda s: s.expect("GET", "k").hang(),
    "faults.Timeout(0.3)": lambda s: (
        s.expect("GET", "k").reply(b"v"),
        s.fault(faults.Timeout(0.3)),
    ),
}


@pytest.mark.parametrize("fault", list(TOO_SLOW))
@kinds
@both
def test_answers_later_than_socket_timeout_are_timeout_error(
    fault: str, kind: str, protocol: int
) -> None:
    started = time.monotonic()
    with sockfix.RedisServer() as server:
        TOO_SLOW[fault](server)
        with pytest.raises(redis.TimeoutError) as failure:
            drive(kind, server, protocol, get("k"), socket_timeout=0.2)
        server.stop(check=False)
    assert type(failure.value) is redis.TimeoutError
    assert str(failure.value) == _reading(kind, server.port)
    assert isinstance(failure.value.__context__, TimeoutError)
    assert time.monotonic() - started < 1.5  # stop() wakes the pending delay and hang


@kinds
@both
def test_timeout_fault_closes_after_its_stall(kind: str, protocol: int) -> None:
    with sockfix.RedisServer() as server:
        server.expect("GET", "k").reply(b"v")
        server.fault(faults.Timeout(0.3))
        started = time.monotonic()
        with pytest.raises(redis.ConnectionError) as failure:
            drive(kind, server, protocol, get("k"), socket_timeout=2)
        waited = time.monotonic() - started
    assert type(failure.value) is redis.ConnectionError
    assert str(failure.value) == "Connection closed by server."  # during the connect handshake
    assert 0.25 < waited < 1.5
    kinds_seen = [e.kind for e in server.connections[0].events]
    assert kinds_seen[:2] == ["connect", "fault"]
    assert kinds_seen[-1] == "close"
    assert set(kinds_seen[2:-1]) == {"in"}  # read, never answered
    assert server.connections[0].sent == b""


@kinds
@both
def test_latency_slows_but_passes(kind: str, protocol: int) -> None:
    with sockfix.RedisServer() as server:
        server.expect("GET", "k").reply(b"v")
        server.fault(faults.Latency(0.02))
        assert drive(kind, server, protocol, get("k")) == [b"v"]
        server.wait_until(lambda s: s.connections[0].closed)
    events = server.connections[0].events
    outs = [e for e in events if e.kind == "out"]
    delays = [e for e in events if e.kind == "fault"]
    assert len(outs) == len(HANDSHAKE[protocol]) + 1
    assert len(delays) == len(outs)
    assert delays[-1].note == "Latency(0.02): delayed 7 bytes by 0.020000 s"


@kinds
@both
def test_a_big_bulk_reply_in_one_byte_sends_is_read_whole(kind: str, protocol: int) -> None:
    with sockfix.RedisServer() as server:
        server.expect("GET", "k").reply(BIG).chunked(1)
        assert drive(kind, server, protocol, get("k")) == [BIG]
        server.wait_until(lambda s: s.connections[0].closed)
    sends = [e for e in server.connections[0].events if e.kind == "out" and e.note == "rule 1"]
    assert len(sends) == len(b"$10240\r\n\r\n") + len(BIG)
    assert {len(e.data) for e in sends} == {1}


@kinds
@both
def test_refused_connections(kind: str, protocol: int) -> None:
    with sockfix.RedisServer() as server:
        server.refuse()
        with pytest.raises(redis.ConnectionError) as failure:
            drive(kind, server, protocol, get("k"))
    assert type(failure.value) is redis.ConnectionError
    text = str(failure.value)
    assert text.startswith(f"Error 111 connecting to 127.0.0.1:{server.port}. ")
    assert isinstance(failure.value.__context__, ConnectionRefusedError)


ERRORS = {
    "READONLY You can't write against a read only replica.": (
        ReadOnlyError,
        "You can't write against a read only replica.",
    ),
    "LOADING Redis is loading the dataset in memory": (
        BusyLoadingError,
        "Redis is loading the dataset in memory",
    ),
    "MOVED 1234 127.0.0.1:7000": (MovedError, "1234 127.0.0.1:7000"),
    "ASK 1234 127.0.0.1:7000": (AskError, "1234 127.0.0.1:7000"),
    "NOAUTH Authentication required.": (AuthenticationError, "Authentication required."),
    "ERR boom": (redis.ResponseError, "boom"),
    "WRONGTYPE Operation against a key holding the wrong kind of value": (
        redis.ResponseError,
        "WRONGTYPE Operation against a key holding the wrong kind of value",
    ),
}


@pytest.mark.parametrize("message", list(ERRORS))
@kinds
@both
def test_error_replies_raise_redis_pys_classes(message: str, kind: str, protocol: int) -> None:
    expected, text = ERRORS[message]
    with sockfix.RedisServer() as server:
        server.expect("SET", "k", "v").error(message)
        with pytest.raises(redis.RedisError) as failure:
            drive(kind, server, protocol, lambda r: r.set("k", "v"))
    assert type(failure.value) is expected
    assert str(failure.value) == text
    if isinstance(failure.value, AskError):  # MovedError too: raised, not followed
        redirect = failure.value
        assert (redirect.slot_id, redirect.host, redirect.port) == (1234, "127.0.0.1", 7000)
    assert len(server.connections) == 1


# -- retries ------------------------------------------------------------------------------------


@kinds
@both
def test_redis_pys_default_retry_survives_two_resets(kind: str, protocol: int) -> None:
    with sockfix.RedisServer() as server:
        server.expect("GET", "k").reset().times(2)
        server.expect("GET", "k").reply(b"v")
        options: dict[str, Any] = {"socket_timeout": 2}
        if kind == "sync":
            with redis.Redis(host=server.host, port=server.port, protocol=protocol, **options) as r:
                assert r.get_retry().get_retries() == 10
                assert r.get("k") == b"v"
        else:

            async def main() -> object:
                r = redis.asyncio.Redis(
                    host=server.host, port=server.port, protocol=protocol, **options
                )
                try:
                    return await r.get("k")
                finally:
                    await r.aclose()

            assert asyncio.run(main()) == b"v"
    assert len(server.connections) == 3
    assert [c.events[-1].kind for c in server.connections[:2]] == ["reset", "reset"]
    assert server.commands == [[b"GET", b"k"]] * 3
    assert server.handshake_commands == HANDSHAKE[protocol] * 3  # each reconnect shakes hands


def _from_url_get(kind: str, url: str) -> object:
    """GET k with a client made by ``from_url(url)`` and nothing else but a timeout."""
    if kind == "sync":
        with redis.Redis.from_url(url, socket_timeout=2) as r:
            assert r.get_retry() is None
            return r.get("k")

    async def main() -> object:
        r = redis.asyncio.Redis.from_url(url, socket_timeout=2)
        try:
            assert r.get_retry() is None
            return await r.get("k")
        finally:
            await r.aclose()

    return asyncio.run(main())


@kinds
def test_from_url_does_not_retry_by_default(kind: str) -> None:
    with sockfix.RedisServer() as server:
        server.expect("GET", "k").reset().times(1)
        server.expect("GET", "k").reply(b"v")
        with pytest.raises(redis.ConnectionError, match=r"Connection reset by peer"):
            _from_url_get(kind, server.url())
        assert _from_url_get(kind, server.url()) == b"v"  # the next call connects again
    assert len(server.connections) == 2


@both
def test_a_retry_tries_a_wrong_password_again(protocol: int) -> None:
    # the default Retry(ExponentialWithJitterBackoff(cap=1, base=0.01), 10) does the same,
    # with up to 5 s of backoff in all: 11 connections
    wrongpass = "WRONGPASS invalid username-password pair or user is disabled."
    with sockfix.RedisServer() as server:
        server.expect("AUTH", "bad").error(wrongpass)
        server.expect("HELLO", "3", "AUTH", "default", "bad").error(wrongpass)
        with (
            redis.Redis(
                host=server.host,
                port=server.port,
                protocol=protocol,
                password="bad",
                socket_timeout=2,
                retry=Retry(NoBackoff(), 10),  # the default's count, without its backoff
            ) as r,
            pytest.raises(AuthenticationError),  # a ConnectionError, so retried
        ):
            r.get("k")
    assert len(server.connections) == 11


@both
def test_the_default_retry_retries_a_timeout_too(protocol: int) -> None:
    with sockfix.RedisServer() as server:
        server.expect("GET", "k").hang().times(1)
        server.expect("GET", "k").reply(b"v")
        with redis.Redis(
            host=server.host, port=server.port, protocol=protocol, socket_timeout=0.2
        ) as r:
            assert r.get("k") == b"v"
    assert len(server.connections) == 2


@both
def test_retries_run_out(protocol: int) -> None:
    with sockfix.RedisServer() as server:
        server.expect("GET", "k").reset()
        with (
            redis.Redis(
                host=server.host,
                port=server.port,
                protocol=protocol,
                socket_timeout=2,
                retry=Retry(NoBackoff(), 2),
            ) as r,
            pytest.raises(redis.ConnectionError, match=r"Connection reset by peer"),
        ):
            r.get("k")
    assert len(server.connections) == 3


def test_loading_and_noauth_are_connection_errors_to_redis_py() -> None:
    # so the default retry (ConnectionError, TimeoutError) retries them, and READONLY not
    assert issubclass(BusyLoadingError, redis.ConnectionError)
    assert issubclass(AuthenticationError, redis.ConnectionError)
    assert not issubclass(ReadOnlyError, redis.ConnectionError)
    assert issubclass(ReadOnlyError, redis.ResponseError)
    assert issubclass(MovedError, AskError)


@both
def test_the_default_retry_retries_loading_but_not_readonly(protocol: int) -> None:
    readonly = "READONLY You can't write against a read only replica."
    with sockfix.RedisServer() as server:
        server.expect("GET", "k").error("LOADING Redis is loading the dataset in memory").times(2)
        server.expect("GET", "k").reply(b"v")
        server.expect("SET", "k", "v").error(readonly).times(1)
        server.expect("SET", "k", "v").reply("OK")
        with redis.Redis(
            host=server.host, port=server.port, protocol=protocol, socket_timeout=2
        ) as r:
            assert r.get("k") == b"v"
            with pytest.raises(ReadOnlyError):
                r.set("k", "v")
    assert len(server.connections) == 3
    assert server.commands == [[b"GET", b"k"]] * 3 + [[b"SET", b"k", b"v"]]


@both
def test_retry_on_error_retries_readonly_and_loading(protocol: int) -> None:
    with sockfix.RedisServer() as server:
        server.expect("SET", "k", "v").error(
            "READONLY You can't write against a read only replica."
        ).times(1)
        server.expect("SET", "k", "v").error(
            "LOADING Redis is loading the dataset in memory"
        ).times(1)
        server.expect("SET", "k", "v").reply("OK")
        with redis.Redis(
            host=server.host,
            port=server.port,
            protocol=protocol,
            socket_timeout=2,
            retry=Retry(NoBackoff(), 3),
            retry_on_error=[ReadOnlyError, BusyLoadingError],
        ) as r:
            assert r.set("k", "v") is True
    assert len(server.connections) == 3  # redis-py reconnects after each retried error


# -- pools, pub/sub, concurrency ---------------------------------------------------------------


@both
def test_a_pool_reuses_one_connection(protocol: int) -> None:
    with sockfix.RedisServer(max_connections=1) as server:
        server.expect("GET", "k").reply(b"v")
        with redis.Redis(
            host=server.host,
            port=server.port,
            protocol=protocol,
            socket_timeout=2,
            retry=Retry(NoBackoff(), 0),
        ) as r:
            assert [r.get("k") for _ in range(5)] == [b"v"] * 5
    assert len(server.connections) == 1


@both
def test_many_async_commands_at_once(protocol: int) -> None:
    async def main(server: sockfix.RedisServer) -> list[object]:
        r = redis.asyncio.Redis(
            host=server.host, port=server.port, protocol=protocol, socket_timeout=2
        )
        try:
            return await asyncio.gather(*(r.get(f"k{i}") for i in range(50)))
        finally:
            await r.aclose()

    with sockfix.RedisServer() as server:
        server.expect("GET", sockfix.ANY).reply(lambda command: command[1])
        assert asyncio.run(main(server)) == [f"k{i}".encode() for i in range(50)]
    assert sorted(c[1] for c in server.commands) == sorted(f"k{i}".encode() for i in range(50))


@both
def test_a_subscribe_confirmation_and_a_message_scripted_as_replies(protocol: int) -> None:
    with sockfix.RedisServer() as server:
        server.expect("SUBSCRIBE", "news").reply([b"subscribe", b"news", 1]).reply(
            [b"message", b"news", b"hello"]
        )
        with redis.Redis(
            host=server.host,
            port=server.port,
            protocol=protocol,
            socket_timeout=2,
            retry=Retry(NoBackoff(), 0),
        ) as r:
            pubsub = r.pubsub()
            try:
                pubsub.subscribe("news")
                got = [pubsub.get_message(timeout=1), pubsub.get_message(timeout=1)]
            finally:
                pubsub.close()
    assert got == [
        {"type": "subscribe", "pattern": None, "channel": b"news", "data": 1},
        {"type": "message", "pattern": None, "channel": b"news", "data": b"hello"},
    ]


def test_tls_with_rediss_url() -> None:
    pytest.importorskip("trustme")
    with sockfix.RedisServer(tls=True) as server:
        server.expect("GET", "k").reply(b"v")
        assert server.url() == f"rediss://127.0.0.1:{server.port}/0"
        with redis.Redis.from_url(
            server.url(), ssl_ca_certs=server.ca_path, socket_timeout=2, retry=Retry(NoBackoff(), 0)
        ) as r:
            assert r.get("k") == b"v"
