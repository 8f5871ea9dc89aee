"""The examples of docs/redis.md: the RESP fake server, its rules, and recipes with redis-py.

Every client has a timeout and is closed; nothing sleeps. ``Redis.from_url()`` clients do not
retry unless given ``retry=``; ``Redis(host=..., port=...)`` clients retry ``ConnectionError``
and ``TimeoutError`` 10 times by default. The last test checks the table "Faults and what
redis-py raises" of docs/redis.md, row by row.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import time

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


def test_quick_look(redis_server):
    redis_server.expect("GET", "user:1").reply(b'{"id": 1}')
    redis_server.expect("SET", "user:1", sockfix.ANY, "EX", "60").reply("OK")

    with redis.Redis.from_url(redis_server.url(), socket_timeout=2) as r:
        assert r.get("user:1") == b'{"id": 1}'
        assert r.set("user:1", '{"id": 1, "seen": true}', ex=60) is True

    assert redis_server.commands == [
        [b"GET", b"user:1"],
        [b"SET", b"user:1", b'{"id": 1, "seen": true}', b"EX", b"60"],
    ]


# -- expect(command, *args) -----------------------------------------------------------------------


def test_expect_arguments(redis_server):
    redis_server.expect("get", "plain").reply(b"str")  # the name is case-insensitive
    redis_server.expect("GET", b"\xff\x00").reply(b"bytes")
    redis_server.expect("GET", re.compile(rb"user:\d+")).reply(b"regex")  # fullmatch
    redis_server.expect("GET", lambda key: key.startswith(b"cache:")).reply(b"callable")
    redis_server.expect("EXPIRE", sockfix.ANY, 60).reply(1)  # an int is its digits: b"60"
    redis_server.expect("MGET", "a", "b").reply([b"1", b"2"])
    redis_server.expect(sockfix.ANY).reply("OK")  # any other command

    with redis.Redis.from_url(redis_server.url(), socket_timeout=2) as r:
        assert r.get("plain") == b"str"
        assert r.get(b"\xff\x00") == b"bytes"
        assert r.get("user:42") == b"regex"
        assert r.get("cache:home") == b"callable"
        assert r.expire("session:9", 60) is True
        assert r.mget("a", "b") == [b"1", b"2"]
        assert r.flushall() is True  # no rule names FLUSHALL: ANY answers it


# -- reply(value) and error(message) --------------------------------------------------------------

# (value, its bytes in RESP2, in RESP3)
REPLIES = [
    (b"hello", b"$5\r\nhello\r\n", b"$5\r\nhello\r\n"),
    ("OK", b"+OK\r\n", b"+OK\r\n"),
    (42, b":42\r\n", b":42\r\n"),
    (2**64, b"$20\r\n18446744073709551616\r\n", b"(18446744073709551616\r\n"),
    (None, b"$-1\r\n", b"_\r\n"),
    (True, b":1\r\n", b"#t\r\n"),
    (1.5, b"$3\r\n1.5\r\n", b",1.5\r\n"),
    ([b"a", 1, None], b"*3\r\n$1\r\na\r\n:1\r\n$-1\r\n", b"*3\r\n$1\r\na\r\n:1\r\n_\r\n"),
    ({b"f": b"v"}, b"*2\r\n$1\r\nf\r\n$1\r\nv\r\n", b"%1\r\n$1\r\nf\r\n$1\r\nv\r\n"),
    ({b"m"}, b"*1\r\n$1\r\nm\r\n", b"~1\r\n$1\r\nm\r\n"),
    (sockfix.ErrorReply("ERR boom"), b"-ERR boom\r\n", b"-ERR boom\r\n"),
]


@pytest.mark.parametrize("protocol", [2, 3])
def test_reply_types_on_the_wire(make_redis_server, protocol):
    server = make_redis_server()
    for i, (value, _, _) in enumerate(REPLIES):
        server.expect("T", str(i)).reply(value)

    with redis.Redis.from_url(server.url(), protocol=protocol, socket_timeout=2) as r:
        pipe = r.pipeline(transaction=False)
        for i in range(len(REPLIES)):
            pipe.execute_command("T", i)
        pipe.execute(raise_on_error=False)

    server.wait_until(lambda s: s.connections[0].closed)
    replies = [e.data for e in server.connections[0].events if e.note.startswith("rule ")]
    assert replies == [row[protocol - 1] for row in REPLIES]


@pytest.mark.parametrize("protocol", [2, 3])
def test_what_redis_py_makes_of_each_type(make_redis_server, protocol):
    server = make_redis_server()
    server.expect("HGETALL", "h").reply({b"f": b"v"})
    server.expect("SMEMBERS", "s").reply({b"a", b"b"})
    server.expect("ZSCORE", "z", "m").reply(1.5)
    server.expect("SISMEMBER", "s", "a").reply(True)
    server.expect("GET", "missing").reply(None)

    with redis.Redis.from_url(server.url(), protocol=protocol, socket_timeout=2) as r:
        assert r.hgetall("h") == {b"f": b"v"}
        assert r.smembers("s") == {b"a", b"b"}
        assert r.zscore("z", "m") == 1.5
        member = r.sismember("s", "a")  # RESP2 has no bool: 1 (an int), RESP3 True
        assert (member, type(member)) == ((True, bool) if protocol == 3 else (1, int))
        assert r.get("missing") is None


def test_error_replies(redis_server):
    redis_server.expect("GET", "boom").error("ERR boom")
    redis_server.expect("LPUSH", "k", "x").error(
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    )
    redis_server.expect("MGET", "a", "b").reply([b"1", sockfix.ErrorReply("ERR inside")])

    with redis.Redis.from_url(redis_server.url(), socket_timeout=2) as r:
        with pytest.raises(redis.ResponseError, match=r"^boom$"):  # redis-py drops "ERR "
            r.get("boom")
        with pytest.raises(redis.ResponseError, match=r"^WRONGTYPE Operation against"):
            r.lpush("k", "x")
        values = r.mget("a", "b")  # an error inside an array is a value, not raised
        assert values[0] == b"1"
        assert type(values[1]) is redis.ResponseError
        assert str(values[1]) == "inside"


def test_several_replies(redis_server):
    redis_server.expect("SUBSCRIBE", "news").reply([b"subscribe", b"news", 1]).reply(
        [b"message", b"news", b"hello"]
    )  # two replies to one command, in order

    with redis.Redis.from_url(redis_server.url(), socket_timeout=2) as r, r.pubsub() as pubsub:
        pubsub.subscribe("news")
        assert pubsub.get_message(timeout=1)["type"] == "subscribe"
        assert pubsub.get_message(timeout=1)["data"] == b"hello"


def test_a_callable_reply(redis_server):
    prices = {b"apple": 1.25, b"pear": 0.8}

    def hmget(command):  # the command as a list of bytes, its name first
        fields = command[2:]  # HMGET key field field
        return [str(prices[f]).encode() if f in prices else None for f in fields]

    redis_server.expect("HMGET", "prices", sockfix.ANY, sockfix.ANY).reply(hmget)

    with redis.Redis.from_url(redis_server.url(), socket_timeout=2) as r:
        assert r.hmget("prices", ["apple", "kiwi"]) == [b"1.25", None]


# -- handler=: a tiny store for suites that want state --------------------------------------------


def test_a_tiny_store_with_handler(make_redis_server):
    store = {}

    def handler(command):
        name, *args = command
        match name.upper(), args:
            case b"SET", [key, value]:
                store[key] = value
                return "OK"
            case b"INCRBY", [key, by]:
                store[key] = b"%d" % (int(store.get(key, b"0")) + int(by))
                return int(store[key])
            case b"DEL", keys:
                return sum(store.pop(key, None) is not None for key in keys)
            case b"EXISTS", keys:
                return sum(key in store for key in keys)
        return None  # not handled: an error reply, and the strict test fails

    server = make_redis_server(handler=handler)
    # A handler's None means "unmatched", so a read that can miss (a null reply) is a rule
    # with a callable: rules are tried first, and a callable's None is sent as a null.
    server.expect("GET", sockfix.ANY).reply(lambda command: store.get(command[1]))

    with redis.Redis.from_url(server.url(), socket_timeout=2) as r:
        assert r.get("visits") is None
        assert r.incr("visits") == 1
        assert r.incr("visits", 5) == 6
        assert r.get("visits") == b"6"
        assert r.set("name", "Ada") is True
        assert r.delete("name", "nobody") == 1
        assert r.exists("name") == 0

    assert store == {b"visits": b"6"}


# -- the handshake --------------------------------------------------------------------------------


def test_the_handshake(redis_server):
    redis_server.expect("GET", "k").reply(b"v")

    url = redis_server.url(db=2)  # redis://127.0.0.1:PORT/2
    with redis.Redis.from_url(url, password="s3cret", client_name="billing", socket_timeout=2) as r:
        assert r.get("k") == b"v"
        assert r.ping() is True  # PING and ECHO are answered by default too

    assert redis_server.commands == [[b"GET", b"k"]]
    assert redis_server.handshake_commands == [
        [b"HELLO", b"3", b"AUTH", b"default", b"s3cret"],
        [b"CLIENT", b"MAINT_NOTIFICATIONS", b"ON", b"moving-endpoint-type", b"internal-ip"],
        [b"CLIENT", b"SETNAME", b"billing"],
        [b"CLIENT", b"SETINFO", b"LIB-NAME", b"redis-py"],
        [b"CLIENT", b"SETINFO", b"LIB-VER", redis.__version__.encode()],
        [b"SELECT", b"2"],
        [b"PING"],
    ]
    assert redis_server.connections[0].sent.startswith(
        b"%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$5\r\n7.2.0\r\n"
        b"$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:1\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n"
        b"$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n"
    )


def test_a_server_without_resp3(redis_server):
    redis_server.expect("HELLO", "3").error("ERR unknown command 'HELLO'")  # a rule wins

    with (
        redis.Redis.from_url(redis_server.url(), socket_timeout=2) as r,
        pytest.raises(redis.ResponseError, match=r"^unknown command 'HELLO'$"),
    ):
        r.get("k")  # redis-py 8 sends HELLO 3 unless told protocol=2

    assert redis_server.commands == [[b"HELLO", b"3"]]


def test_handshake_false(make_redis_server):
    server = make_redis_server(handshake=False)
    server.expect("CLIENT", "SETINFO", sockfix.ANY, sockfix.ANY).error(
        "ERR unknown subcommand 'SETINFO'. Try CLIENT HELP."
    )  # as Redis 7.0 answers; redis-py ignores that error
    server.expect("GET", "k").reply(b"v")

    with redis.Redis.from_url(server.url(), protocol=2, socket_timeout=2) as r:
        assert r.get("k") == b"v"

    assert server.handshake_commands == []
    assert [c[:2] for c in server.commands] == [
        [b"CLIENT", b"SETINFO"],
        [b"CLIENT", b"SETINFO"],
        [b"GET", b"k"],
    ]


def test_any_does_not_take_the_handshake(redis_server):
    redis_server.expect(sockfix.ANY).reply("OK")

    with redis.Redis.from_url(redis_server.url(), socket_timeout=2) as r:
        assert r.set("k", "v") is True

    assert redis_server.commands == [[b"SET", b"k", b"v"]]
    assert len(redis_server.handshake_commands) == 4  # HELLO and three CLIENT commands


# -- unmatched commands and protocol errors -------------------------------------------------------


def test_unmatched_command():
    server = sockfix.RedisServer().start()
    server.expect("GET", "a").reply(b"1")

    with redis.Redis.from_url(server.url(), socket_timeout=2) as r:
        with pytest.raises(redis.ResponseError, match=r"^sockfix: no rule matched GET b$"):
            r.get("b")
        assert r.get("a") == b"1"  # the connection stays open

    with pytest.raises(sockfix.StrictError) as failure:
        server.stop()
    text = str(failure.value)
    assert "1) connection 1: no rule matched command 5: GET b\n" in text  # the 4 of the handshake
    assert (
        "  rule 1: expect('GET', 'a').reply(b'1')\n"
        "      missed: argument 1 b'b': differs at byte 0: expected b'a', got b'b'\n"
    ) in text


def test_protocol_error():
    server = sockfix.RedisServer().start()

    with socket.create_connection(server.address, timeout=2) as sock:
        sock.sendall(b"*1\r\n:5\r\n")  # an array holding an integer: not a command
        with sock.makefile("rb") as replies:
            answer = replies.read()  # up to the close

    assert answer == (
        b"-ERR Protocol error: byte 4: expected a bulk string (b'$') for argument 1 of the "
        b"command, got an integer\r\n"
    )
    with pytest.raises(sockfix.StrictError, match=r"message 1 is not a RESP command"):
        server.stop()


# -- what was received ----------------------------------------------------------------------------


def test_what_was_received(redis_server):
    redis_server.expect("SET", "k", "v").reply("OK")

    with redis.Redis.from_url(redis_server.url(), socket_timeout=2) as r:
        r.set("k", "v")

    redis_server.wait_until(lambda s: s.connections[0].closed)
    assert redis_server.commands == [[b"SET", b"k", b"v"]]
    assert [c[0] for c in redis_server.handshake_commands] == [b"HELLO"] + [b"CLIENT"] * 3
    connection = redis_server.connections[0]
    assert connection.messages[-1] == b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"
    assert connection.sent.endswith(b"+OK\r\n")
    transcript = redis_server.transcript()
    assert "  message 1: HELLO 3\n" in transcript
    assert "  message 5: SET k v\n" in transcript


# -- sockfix.framing.resp() on a TCPServer --------------------------------------------------------


def test_resp_framing_on_a_tcp_server(make_tcp_server):
    server = make_tcp_server(framing=sockfix.framing.resp())  # one command per message
    server.expect(re.compile(rb"\*4\r\n\$6\r\nCLIENT\r\n\$7\r\nSETINFO\r\n.*", re.DOTALL)).respond(
        b"+OK\r\n"
    )
    server.expect(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n").respond(b"$5\r\nhel").respond(b"lo\r\n")

    url = f"redis://127.0.0.1:{server.port}/0"
    with redis.Redis.from_url(url, protocol=2, socket_timeout=2) as r:
        assert r.get("k") == b"hello"

    assert server.connections[0].messages[-1] == b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"


# -- recipes --------------------------------------------------------------------------------------


def cached_user(r, user_id):
    """The code under test: a read-through cache in front of a slow lookup."""
    key = f"user:{user_id}"
    cached = r.get(key)
    if cached is not None:
        return json.loads(cached)
    user = {"id": user_id, "name": "Ada"}  # from the database, in real life
    r.set(key, json.dumps(user), ex=60)
    return user


def test_cache_miss_then_hit(make_redis_server):
    server = make_redis_server(ordered=True)  # each command must be the next step
    server.expect("GET", "user:1").reply(None)
    server.expect("SET", "user:1", '{"id": 1, "name": "Ada"}', "EX", "60").reply("OK")
    server.expect("GET", "user:1").reply(b'{"id": 1, "name": "Ada"}')

    with redis.Redis.from_url(server.url(), socket_timeout=2) as r:
        assert cached_user(r, 1) == {"id": 1, "name": "Ada"}  # a miss: looked up, then stored
        assert cached_user(r, 1) == {"id": 1, "name": "Ada"}  # a hit

    assert [c[0] for c in server.commands] == [b"GET", b"SET", b"GET"]


def test_cache_miss_then_hit_with_times(redis_server):
    redis_server.expect("GET", "user:1").reply(None).times(1)  # the first GET misses
    redis_server.expect("GET", "user:1").reply(b'{"id": 1, "name": "Ada"}')
    redis_server.expect("SET", "user:1", sockfix.ANY, "EX", "60").reply("OK")

    with redis.Redis.from_url(redis_server.url(), socket_timeout=2) as r:
        for _ in range(3):
            assert cached_user(r, 1) == {"id": 1, "name": "Ada"}

    assert [c[0] for c in redis_server.commands] == [b"GET", b"SET", b"GET", b"GET"]


def test_retry_after_two_resets(redis_server):
    redis_server.expect("GET", "k").reset().times(2)
    redis_server.expect("GET", "k").reply(b"v")

    retry = Retry(NoBackoff(), 2)  # two retries: three tries in all
    with redis.Redis.from_url(redis_server.url(), socket_timeout=2, retry=retry) as r:
        assert r.get("k") == b"v"

    assert len(redis_server.connections) == 3  # a new connection (and handshake) per try


def test_the_default_retry(redis_server):
    redis_server.expect("GET", "k").reset().times(3)
    redis_server.expect("GET", "k").reply(b"v")

    with (
        redis.Redis.from_url(redis_server.url(), socket_timeout=2) as r,  # no retry by default
        pytest.raises(redis.ConnectionError, match=r"Connection reset by peer"),
    ):
        r.get("k")
    host, port = redis_server.address
    with redis.Redis(host=host, port=port, socket_timeout=2) as r:  # 10 retries by default
        assert r.get("k") == b"v"  # after two more resets

    assert len(redis_server.connections) == 4


def test_retries_run_out(redis_server):
    redis_server.expect("GET", "k").reset()  # every time

    retry = Retry(NoBackoff(), 2)
    with (
        redis.Redis.from_url(redis_server.url(), socket_timeout=2, retry=retry) as r,
        pytest.raises(redis.ConnectionError, match=r"Connection reset by peer"),
    ):
        r.get("k")

    assert len(redis_server.connections) == 3


def test_timeout(redis_server):
    redis_server.expect("GET", "slow").reply(b"v").delay(5)

    started = time.monotonic()
    with (
        redis.Redis.from_url(redis_server.url(), socket_timeout=0.2) as r,
        pytest.raises(redis.TimeoutError, match=r"^Timeout reading from socket$"),
    ):
        r.get("slow")
    assert time.monotonic() - started < 1  # and the teardown does not wait out the delay


def test_failover_readonly_then_success(redis_server):
    readonly = "READONLY You can't write against a read only replica."
    redis_server.expect("SET", "k", "v").error(readonly).times(1)
    redis_server.expect("SET", "k", "v").reply("OK")

    retry = Retry(NoBackoff(), 3)
    with redis.Redis.from_url(
        redis_server.url(), socket_timeout=2, retry=retry, retry_on_error=[ReadOnlyError]
    ) as r:
        assert r.set("k", "v") is True

    assert len(redis_server.connections) == 2  # redis-py reconnected before the retry


def test_loading_then_success(redis_server):
    loading = "LOADING Redis is loading the dataset in memory"
    redis_server.expect("GET", "k").error(loading).times(2)
    redis_server.expect("GET", "k").reply(b"v")

    host, port = redis_server.address
    with redis.Redis(host=host, port=port, socket_timeout=2) as r:  # the default retry
        assert r.get("k") == b"v"  # BusyLoadingError is a ConnectionError: retried

    assert len(redis_server.connections) == 3


def test_pipeline(redis_server):
    redis_server.expect("INCRBY", "n", "1").reply(1).times(1)
    redis_server.expect("INCRBY", "n", "1").reply(2).times(1)
    redis_server.expect("GET", "n").reply(b"2")

    with redis.Redis.from_url(redis_server.url(), socket_timeout=2) as r:
        pipe = r.pipeline(transaction=False)
        pipe.incr("n").incr("n").get("n")
        assert pipe.execute() == [1, 2, b"2"]

    assert redis_server.commands == [[b"INCRBY", b"n", b"1"]] * 2 + [[b"GET", b"n"]]


def test_transaction(redis_server):
    redis_server.expect("MULTI").reply("OK")
    redis_server.expect("SET", "a", "1").reply("QUEUED")
    redis_server.expect("INCRBY", "n", "1").reply("QUEUED")
    redis_server.expect("EXEC").reply(["OK", 5])

    with redis.Redis.from_url(redis_server.url(), socket_timeout=2) as r:
        pipe = r.pipeline()  # transaction=True: MULTI, the commands, EXEC
        pipe.set("a", "1").incr("n")
        assert pipe.execute() == [True, 5]

    assert [c[0] for c in redis_server.commands] == [b"MULTI", b"SET", b"INCRBY", b"EXEC"]


def test_watch_conflict(redis_server):
    redis_server.expect("WATCH", "balance").reply("OK")
    redis_server.expect("GET", "balance").reply(b"10")
    redis_server.expect("MULTI").reply("OK")
    redis_server.expect("SET", "balance", "5").reply("QUEUED")
    redis_server.expect("EXEC").reply(None)  # a null EXEC: a watched key changed

    with redis.Redis.from_url(redis_server.url(), socket_timeout=2) as r, r.pipeline() as pipe:
        pipe.watch("balance")
        balance = int(pipe.get("balance"))
        pipe.multi()
        pipe.set("balance", balance - 5)
        with pytest.raises(WatchError):
            pipe.execute()


def test_asyncio_client(redis_server):
    redis_server.expect("GET", "k").reply(b"v")
    redis_server.expect("INCRBY", "n", "1").reply(7)

    async def main():
        r = redis.asyncio.Redis.from_url(redis_server.url(), socket_timeout=2)
        try:
            return await r.get("k"), await r.incr("n")
        finally:
            await r.aclose()

    assert asyncio.run(main()) == (b"v", 7)


def test_one_connection(make_redis_server):
    server = make_redis_server(max_connections=1)  # a second connection is reset, and fails
    server.expect("GET", "k").reply(b"v")

    with redis.Redis.from_url(server.url(), socket_timeout=2) as r:
        for _ in range(3):
            assert r.get("k") == b"v"

    assert len(server.connections) == 1


# -- faults and what redis-py raises --------------------------------------------------------------

BIG = b"x" * 10_000
LOADING = "LOADING Redis is loading the dataset in memory"

# row: (how to script the server, the class redis-py raises, the start of its message, or of
# one of its messages)
FAULT_TABLE = {
    "rule .reset()": (
        lambda s: s.expect("GET", "k").reset(),
        redis.ConnectionError,
        "Error while reading from 127.0.0.1:",
    ),
    "Reset(after_bytes=1000)": (
        lambda s: (s.expect("GET", "k").reply(BIG), s.fault(faults.Reset(after_bytes=1000))),
        redis.ConnectionError,
        "Error while reading from 127.0.0.1:",
    ),
    "rule .close()": (
        lambda s: s.expect("GET", "k").close(),
        redis.ConnectionError,
        "Connection closed by server.",
    ),
    "Truncate(1000)": (
        lambda s: (s.expect("GET", "k").reply(BIG), s.fault(faults.Truncate(1000))),
        redis.ConnectionError,
        "Connection closed by server.",
    ),
    "Garbage(64)": (
        lambda s: (s.expect("GET", "k").reply(BIG), s.fault(faults.Garbage(64))),
        redis.ConnectionError,
        "Connection closed by server.",
    ),
    "Timeout(0.1)": (
        lambda s: (s.expect("GET", "k").reply(b"v"), s.fault(faults.Timeout(0.1))),
        redis.ConnectionError,
        "Connection closed by server.",
    ),
    "an unknown type byte": (
        lambda s: s.expect("GET", "k").respond(b"?oops\r\n"),
        InvalidResponse,
        "Protocol Error: b'?oops'",
    ),
    "a bad integer": (
        lambda s: s.expect("GET", "k").respond(b"$abc\r\n"),
        ValueError,
        "invalid literal for int() with base 10: b'abc'",
    ),
    "Close()": (
        lambda s: (s.expect("GET", "k").reply(b"v"), s.fault(faults.Close())),
        redis.ConnectionError,
        # a close on accept can land before the client has written its first command
        ("Connection closed by server.", "Error UNKNOWN while writing to socket."),
    ),
    "rule .delay(5)": (
        lambda s: s.expect("GET", "k").reply(b"v").delay(5),
        redis.TimeoutError,
        "Timeout reading from ",
    ),
    "rule .hang()": (
        lambda s: s.expect("GET", "k").hang(),
        redis.TimeoutError,
        "Timeout reading from ",
    ),
    "Hang()": (
        lambda s: (s.expect("GET", "k").reply(b"v"), s.fault(faults.Hang())),
        redis.TimeoutError,
        "Timeout reading from ",
    ),
    "a rule without reply()": (
        lambda s: s.expect("GET", "k"),
        redis.ResponseError,
        "sockfix: rule 1 has no reply() for GET k",
    ),
    "Latency(5)": (
        lambda s: (s.expect("GET", "k").reply(b"v"), s.fault(faults.Latency(5))),
        redis.TimeoutError,
        "Timeout reading from ",
    ),
    "refuse()": (lambda s: s.refuse(), redis.ConnectionError, "Error 111 connecting to 127.0.0.1:"),
    "READONLY": (
        lambda s: s.expect("GET", "k").error(
            "READONLY You can't write against a read only replica."
        ),
        ReadOnlyError,
        "You can't write against a read only replica.",
    ),
    "LOADING": (lambda s: s.expect("GET", "k").error(LOADING), BusyLoadingError, LOADING[8:]),
    "NOAUTH": (
        lambda s: s.expect("GET", "k").error("NOAUTH Authentication required."),
        AuthenticationError,
        "Authentication required.",
    ),
    "MOVED": (
        lambda s: s.expect("GET", "k").error("MOVED 1234 127.0.0.1:7000"),
        MovedError,
        "1234 127.0.0.1:7000",
    ),
    "ASK": (
        lambda s: s.expect("GET", "k").error("ASK 1234 127.0.0.1:7000"),
        AskError,
        "1234 127.0.0.1:7000",
    ),
    "ERR": (lambda s: s.expect("GET", "k").error("ERR boom"), redis.ResponseError, "boom"),
    "unmatched": (lambda s: None, redis.ResponseError, "sockfix: no rule matched GET k"),
}


def _sync_get(server, protocol, timeout):
    with redis.Redis.from_url(
        server.url(), protocol=protocol, socket_timeout=timeout, retry=Retry(NoBackoff(), 0)
    ) as r:
        return r.get("k")


def _async_get(server, protocol, timeout):
    async def main():
        r = redis.asyncio.Redis.from_url(
            server.url(),
            protocol=protocol,
            socket_timeout=timeout,
            retry=redis.asyncio.retry.Retry(NoBackoff(), 0),
        )
        try:
            return await r.get("k")
        finally:
            await r.aclose()

    return asyncio.run(main())


@pytest.mark.parametrize("protocol", [2, 3])
@pytest.mark.parametrize("client", ["sync", "async"])
@pytest.mark.parametrize("row", list(FAULT_TABLE))
def test_fault_table(make_redis_server, row, client, protocol):
    script, expected, message = FAULT_TABLE[row]
    server = make_redis_server(strict=False, seed=1)
    script(server)
    timeout = 0.1 if expected is redis.TimeoutError else 0.3  # a timeout row waits it out
    with pytest.raises(expected) as failure:
        (_sync_get if client == "sync" else _async_get)(server, protocol, timeout)
    assert type(failure.value) is expected
    assert str(failure.value).startswith(message)
