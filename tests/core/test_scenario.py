"""Scenario files (sockfix.core.scenario): the schema, its errors, the TOML writer, and turning
proxy recordings into exchanges. Pure: no sockets here (tests/net/test_replay.py replays)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import sockfix
from sockfix import faults
from sockfix.core.record import Event
from sockfix.core.rules import Rule, RuleBook
from sockfix.core.scenario import (
    Exchange,
    FaultSpec,
    RuleSpec,
    Scenario,
    dumps,
    exchanges_from,
    framing_spec,
    from_exchanges,
    is_text,
    load,
    loads,
    toml_string,
    write_scenario,
)
from sockfix.framing import delimited, fixed, length_prefixed, lines, parse, raw

FULL = """\
# sockfix scenario
version = 1
framing = 'delimited:\\r\\n'
host = "::1"
port = 9001
seed = 7
strict = false

[[rules]]
on_connect = true
respond = "220 ready\\r\\n"
times = 1

[[rules]]
expect = "PING\\r\\n"
respond_hex = "2b504f4e470d0a"
delay = 0.1
chunked = 1
chunk_delay = 0.001
times = 2
close = true

[[rules]]
expect_hex = "00ff0d0a"
respond = ["one ", "two\\r\\n"]
chunked = [2, 3, 4]
reset = true

[[rules]]
expect_regex = 'GET (\\w+)\\r\\n'
respond_hex = ["00", "01 02"]
hang = true

[[rules]]
expect_any = true

[[faults]]
name = "latency"
args = [0.05]
jitter = 0.01
connections = [1, 2]

[[faults]]
name = "Reset"
after_bytes = 3
probability = 0.5
"""


class Target:
    """A stand-in server: a rule book plus the faults attached to it."""

    def __init__(self) -> None:
        self.book = RuleBook()
        self.attached: list[tuple[faults.Fault, list[int] | None]] = []

    def expect(self, pattern: object) -> Rule:
        return self.book.expect(pattern)

    def on_connect(self) -> Rule:
        return self.book.on_connect()

    def fault(self, fault: faults.Fault, connections: list[int] | None = None) -> faults.Fault:
        self.attached.append((fault, connections))
        return fault


def write(tmp_path: Path, text: str, name: str = "redis.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ----------------------------------------------------------------------------- every key


def test_every_key_is_read(tmp_path):
    scenario = load(write(tmp_path, FULL))
    assert scenario.framing == "delimited:\\r\\n"
    assert repr(parse(scenario.framing)) == r"delimited(b'\r\n')"
    assert (scenario.host, scenario.port, scenario.seed, scenario.strict) == ("::1", 9001, 7, False)
    greeting, ping, binary, regex, anything = scenario.rules
    assert greeting == RuleSpec(on_connect=True, respond=(b"220 ready\r\n",), times=1)
    assert ping == RuleSpec(
        expect=b"PING\r\n",
        respond=(b"+PONG\r\n",),
        delay=0.1,
        chunked=1,
        chunk_delay=0.001,
        times=2,
        ending="close",
    )
    assert binary == RuleSpec(
        expect=b"\x00\xff\r\n", respond=(b"one ", b"two\r\n"), chunked=(2, 3, 4), ending="reset"
    )
    assert regex == RuleSpec(
        expect_regex=r"GET (\w+)\r\n", respond=(b"\x00", b"\x01\x02"), ending="hang"
    )
    assert anything == RuleSpec(expect_any=True)
    assert scenario.faults == (
        FaultSpec("latency", (0.05,), (("jitter", 0.01),), (1, 2)),
        FaultSpec("reset", (), (("after_bytes", 3), ("probability", 0.5))),
    )


def test_a_delimiter_as_a_basic_string_holds_the_real_bytes():
    scenario = loads('framing = "delimited:\\r\\n"')
    assert scenario.framing == "delimited:\r\n"
    assert repr(parse(scenario.framing)) == r"delimited(b'\r\n')"


def test_hang_is_read():
    scenario = loads('[[rules]]\nexpect = "x\\n"\nhang = true\n')
    assert scenario.rules[0].ending == "hang"


def test_the_scenario_builds_the_same_rules_as_code(tmp_path):
    target = Target()
    load(write(tmp_path, FULL)).apply(target)
    assert [r.describe() for r in target.book.greetings + target.book.rules] == [
        "on_connect().respond(b'220 ready\\r\\n').times(1)",
        "expect(b'PING\\r\\n').respond(b'+PONG\\r\\n').delay(0.1).chunked(1, delay=0.001)"
        ".close().times(2)",
        "expect(b'\\x00\\xff\\r\\n').respond(b'one ').respond(b'two\\r\\n').chunked([2, 3, 4])"
        ".reset()",
        "expect(re.compile(b'GET (\\\\w+)\\\\r\\\\n')).respond(b'\\x00').respond(b'\\x01\\x02')"
        ".hang()",
        "expect(ANY)",
    ]
    assert target.attached == [
        (faults.Latency(0.05, jitter=0.01), [1, 2]),
        (faults.Reset(after_bytes=3, probability=0.5), None),
    ]


def test_server_options_take_what_the_file_sets(tmp_path):
    options = load(write(tmp_path, FULL)).server_options()
    assert repr(options.pop("framing")) == r"delimited(b'\r\n')"
    assert options == {"host": "::1", "port": 9001, "seed": 7, "strict": False}
    bare = loads("")
    assert repr(bare.server_options().pop("framing")) == "lines()"
    assert bare.server_options()["strict"] is True
    assert set(bare.server_options()) == {"framing", "strict"}  # the server's defaults otherwise


def test_regex_rules_fullmatch_bytes():
    scenario = loads("[[rules]]\nexpect_regex = 'GET (\\w+)\\r\\n'\nrespond = \"ok\"\n")
    pattern = scenario.rules[0].pattern()
    assert isinstance(pattern, re.Pattern)
    assert pattern.fullmatch(b"GET key\r\n")
    assert not pattern.fullmatch(b"GET key\r\nX")


def test_text_is_utf8_and_hex_allows_spaces():
    scenario = loads('[[rules]]\nexpect = "héllo\\n"\nrespond_hex = "de ad be ef"\n')
    assert scenario.rules[0].expect == "héllo\n".encode()
    assert scenario.rules[0].respond == (b"\xde\xad\xbe\xef",)


def test_false_flags_are_the_same_as_leaving_them_out():
    scenario = loads(
        '[[rules]]\non_connect = false\nexpect = "a\\n"\nclose = false\nreset = false\n'
        "hang = false\n"
    )
    assert scenario.rules[0] == RuleSpec(expect=b"a\n")


def test_a_scenario_is_data_never_code():
    scenario = loads(
        "[[rules]]\nexpect = \"__import__('os').system('false')\\n\"\n"
        'respond = "lambda msg: msg"\n'
    )
    assert scenario.rules[0].expect == b"__import__('os').system('false')\n"
    assert scenario.rules[0].respond == (b"lambda msg: msg",)


def test_empty_file_is_an_empty_strict_scenario():
    assert loads("") == Scenario()


# ----------------------------------------------------------------------------- every error

ERRORS = [
    # (toml, key path, words of the problem, words of the fix)
    (
        '[[rules]]\nexpect="a\\n"\n[[rules]]\nexpect="b\\n"\n[[rules]]\nexpect="c\\n"\nrespond=42',
        "rules[2].respond",
        "expected a string or a list of them, got 42 (an integer)",
        "respond_hex",
    ),
    ('framng = "lines"', "framng", "unknown key", "did you mean 'framing'? allowed keys are:"),
    (
        '[[rules]]\nexpect="a\\n"\nrespnd="b"',
        "rules[0].respnd",
        "unknown key",
        "did you mean 'respond'? allowed keys are: on_connect, expect,",
    ),
    ('[[faults]]\nname = "latncy"', "faults[0].name", "unknown fault 'latncy'", "'latency'"),
    ('[[faults]]\nname = "drop"', "faults[0].name", "UDP fault", "choose one of bandwidth,"),
    ("[[faults]]\nargs = [1]", "faults[0]", "the fault has no name", 'add name = "latency"'),
    ("[[faults]]\nname = 3", "faults[0].name", "expected a string", "write one of"),
    (
        '[[faults]]\nname = "latency"\nargs = [0.1]\njiter = 0.01',
        "faults[0].jiter",
        "unknown key",
        "did you mean 'jitter'?",
    ),
    (
        '[[faults]]\nname = "latency"\nargs = 0.1',
        "faults[0].args",
        "expected an array of positional arguments",
        "args = [0.1]",
    ),
    (
        '[[faults]]\nname = "latency"\nargs = [-1]',
        "faults[0]",
        "Latency: Latency(seconds) must be >= 0",
        "latency takes seconds, jitter=0.0, probability=1.0",
    ),
    ('[[faults]]\nname = "latency"', "faults[0]", "missing 1 required", "latency takes seconds"),
    (
        '[[faults]]\nname = "reset"\nconnections = [0]',
        "faults[0].connections[0]",
        "expected an integer >= 1, got 0",
        "connections = [1, 2]",
    ),
    (
        '[[faults]]\nname = "reset"\nconnections = "1"',
        "faults[0].connections",
        "expected a list of numbers",
        "connections = [1, 2]",
    ),
    ('framing = "json"', "framing", "unknown framing 'json'", '"lines", "raw", "fixed:8"'),
    ('framing = "fixed:0"', "framing", "whole number of bytes", "a sockfix.framing.parse spec"),
    ("framing = 4", "framing", "expected a string, got 4", 'framing = "lines"'),
    (
        '[[rules]]\nexpect = "a\\n"\nexpect_hex = "610a"',
        "rules[0].expect_hex",
        "expect and expect_hex are both set",
        "keep one of them",
    ),
    (
        '[[rules]]\nexpect_regex = "a"\nexpect_any = true',
        "rules[0].expect_any",
        "expect_regex and expect_any are both set",
        "keep one of them",
    ),
    (
        '[[rules]]\nexpect = "a\\n"\nclose = true\nreset = true',
        "rules[0].reset",
        "close and reset are both set",
        "keep one of close, reset, hang",
    ),
    (
        '[[rules]]\nexpect = "a\\n"\nrespond_hex = "zz"',
        "rules[0].respond_hex",
        "not hex",
        "two per byte",
    ),
    ('[[rules]]\nexpect_hex = "abc"', "rules[0].expect_hex", "not hex", "two per byte"),
    (
        '[[rules]]\nexpect = "a\\n"\nrespond_hex = ["00", 1]',
        "rules[0].respond_hex[1]",
        "expected a hex string, got 1",
        "respond_hex =",
    ),
    (
        '[[rules]]\nexpect = "a\\n"\nrespond = ["ok", true]',
        "rules[0].respond[1]",
        "expected a string, got true (a boolean)",
        "binary bytes go in respond_hex",
    ),
    (
        '[[rules]]\nexpect = "a\\n"\nrespond = "x"\nrespond_hex = "00"',
        "rules[0].respond_hex",
        "respond and respond_hex are both set",
        "keep one",
    ),
    ('[[rules]]\nrespond = "x"', "rules[0]", "neither what it expects", "write exactly one of"),
    (
        '[[rules]]\non_connect = true\nexpect = "a\\n"',
        "rules[0].expect",
        "an on_connect rule speaks first",
        "drop expect or on_connect",
    ),
    ('[[rules]]\non_connect = "yes"', "rules[0].on_connect", "expected true or false", "one of"),
    ("[[rules]]\nexpect_any = 1", "rules[0].expect_any", "expected true or false", "one of"),
    ('[[rules]]\nexpect = ""', "rules[0].expect", "an empty message never arrives", "separator"),
    ("[[rules]]\nexpect = 5", "rules[0].expect", "expected a string, got 5", 'expect = "PING'),
    (
        "[[rules]]\nexpect_regex = '('",
        "rules[0].expect_regex",
        "not a regular expression",
        "fix the pattern",
    ),
    ('[[rules]]\nexpect="a\\n"\ntimes = 0', "rules[0].times", "expected an integer >= 1", "N >= 1"),
    ('[[rules]]\nexpect="a\\n"\ntimes = true', "rules[0].times", "got true (a boolean)", "N >= 1"),
    ('[[rules]]\nexpect="a\\n"\ndelay = -1', "rules[0].delay", "seconds >= 0, got -1", "delay ="),
    ('[[rules]]\nexpect="a\\n"\ndelay = "1"', "rules[0].delay", "a number of seconds", "delay ="),
    ('[[rules]]\nexpect="a\\n"\ndelay = inf', "rules[0].delay", "got inf", "delay = 0.1"),
    (
        '[[rules]]\nexpect="a\\n"\nchunked = 0',
        "rules[0].chunked",
        ">= 1, got 0",
        "chunked = [1, 4]",
    ),
    ('[[rules]]\nexpect="a\\n"\nchunked = []', "rules[0].chunked", "empty list", "chunked = SIZE"),
    (
        '[[rules]]\nexpect="a\\n"\nchunked = [1, "2"]',
        "rules[0].chunked[1]",
        'expected an integer, got "2" (a string)',
        "chunked = SIZE",
    ),
    (
        '[[rules]]\nexpect="a\\n"\nchunk_delay = 0.1',
        "rules[0].chunk_delay",
        "chunked is not set",
        "add chunked = SIZE",
    ),
    (
        '[[rules]]\nexpect="a\\n"\nrespond = "abcdef"\nchunked = [1, 2]',
        "rules[0]",
        "chunked([1, 2]) covers 3 bytes but the reply is 6 bytes",
        "sum to at least 6",
    ),
    ('[[rules]]\nexpect="a\\n"\nclose = "yes"', "rules[0].close", "true or false", "close = true"),
    ("[rules]\nexpect = 'a'", "rules", "expected an array of tables", "[[rules]] (double"),
    ("rules = [1]", "rules[0]", "expected a table, got 1", "[[rules]]"),
    ("faults = {}", "faults", "expected an array of tables", "[[faults]]"),
    ('port = "80"', "port", 'expected an integer, got "80" (a string)', "port = 9001"),
    ("port = 70000", "port", "0..65535, got 70000", "0 picks a free one"),
    ("port = -1", "port", ">= 0, got -1", "0 picks a free one"),
    ('host = ""', "host", "empty", 'host = "127.0.0.1"'),
    ("host = 1", "host", "expected a string", 'host = "127.0.0.1"'),
    ("seed = 1.5", "seed", "expected an integer, got 1.5 (a float)", "seed = 7"),
    ('strict = "yes"', "strict", 'expected true or false, got "yes"', "strict = false"),
    ("version = 2", "version", "reads scenario version 1, got 2", "version = 1"),
    ("when = 1979-05-27", "when", "unknown key", "allowed keys are: version, framing, host"),
]


@pytest.mark.parametrize(("text", "key", "problem", "fix"), ERRORS, ids=[e[1] for e in ERRORS])
def test_errors_name_the_file_the_key_and_the_fix(tmp_path, text, key, problem, fix):
    path = write(tmp_path, text)
    with pytest.raises(sockfix.ScenarioError) as info:
        load(path)
    message = str(info.value)
    assert message.startswith(f"{path}: {key}: "), message
    assert problem in message
    assert fix in message
    assert info.value.key == key
    assert info.value.source == str(path)
    assert isinstance(info.value, ValueError)


def test_the_example_message_of_the_issue(tmp_path):
    text = "\n".join(f'[[rules]]\nexpect = "{n}\\n"' for n in "ab") + "\n[[rules]]\nrespond = 42\n"
    with pytest.raises(sockfix.ScenarioError, match=r"^redis.toml: rules\[2\]\.respond: expected"):
        loads(text.replace("respond = 42", 'expect = "c\\n"\nrespond = 42'), source="redis.toml")


def test_a_missing_file(tmp_path):
    path = tmp_path / "missing.toml"
    with pytest.raises(sockfix.ScenarioError) as info:
        load(path)
    message = str(info.value)
    assert message.startswith(f"{path}: cannot read the scenario file (No such file")
    assert "check the path" in message
    assert isinstance(info.value.__cause__, FileNotFoundError)


def test_an_unreadable_file(tmp_path):
    with pytest.raises(sockfix.ScenarioError, match=r"cannot read the scenario file.*check the"):
        load(tmp_path)  # a directory


def test_a_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "bin.toml"
    path.write_bytes(b'framing = "\xff"\n')
    with pytest.raises(sockfix.ScenarioError, match=r"bin.toml: the file is not UTF-8.*\*_hex"):
        load(path)


def test_invalid_toml_names_the_line(tmp_path):
    path = write(tmp_path, "[[rules]]\nexpect = PING\n")
    with pytest.raises(sockfix.ScenarioError) as info:
        load(path)
    message = str(info.value)
    assert message.startswith(f"{path}: not valid TOML: ")
    assert "line 2" in message
    assert "strings need double quotes" in message


def test_scenario_error_is_public():
    assert sockfix.ScenarioError.__module__ == "sockfix"
    assert issubclass(sockfix.ScenarioError, ValueError)


# ----------------------------------------------------------------------------- the writer


def test_dumps_round_trips_every_key(tmp_path):
    scenario = load(write(tmp_path, FULL))
    text = dumps(scenario)
    assert loads(text) == scenario
    assert "respond_hex" in text  # the binary piece list
    assert "expect_regex = 'GET (\\w+)\\r\\n'" in text  # a literal string: backslashes as written


def test_dumps_comments_and_header():
    scenario = Scenario(
        rules=(RuleSpec(expect=b"\x00\n", comment="binary\nrequest"),), header=("hello", "")
    )
    text = dumps(scenario)
    assert "# hello\n#\n" in text
    assert "# binary\n# request\n[[rules]]\n# b'\\x00\\n'\nexpect_hex = \"000a\"\n" in text
    assert loads(text) == scenario


@given(st.binary(min_size=1), st.lists(st.binary(), max_size=3))
def test_any_bytes_round_trip_through_the_file(request, pieces):
    scenario = Scenario(rules=(RuleSpec(expect=request, respond=tuple(pieces)),))
    loaded = loads(dumps(scenario))
    assert loaded.rules[0].expect == request
    assert loaded.rules[0].respond == tuple(pieces)


@given(st.binary())
def test_any_bytes_as_text_or_hex(data):
    doc = tomllib.loads(dumps(Scenario(rules=(RuleSpec(expect_any=True, respond=(data,)),))))
    rule = doc["rules"][0]
    if is_text(data):
        assert rule["respond"].encode("utf-8") == data
    else:
        assert bytes.fromhex(rule["respond_hex"]) == data


@given(st.text(), st.booleans())
def test_toml_string_round_trips_any_text(text, literal):
    assert tomllib.loads(f"x = {toml_string(text, literal=literal)}")["x"] == text


def test_toml_string_escapes():
    assert toml_string('a"b\\c\r\n\t\x00\x7f\u2028') == '"a\\"b\\\\c\\r\\n\\t\\u0000\\u007F\\u2028"'
    assert toml_string("GET (\\w+)", literal=True) == "'GET (\\w+)'"
    assert toml_string("it's \\w", literal=True) == '"it\'s \\\\w"'  # no literal with a quote


def test_is_text():
    assert is_text(b"PING\r\n\t")
    assert is_text("héllo".encode())
    assert not is_text(b"\x00")
    assert not is_text(b"\x1b[0m")
    assert not is_text(b"\xff")
    assert not is_text("\u0085".encode())


@pytest.mark.parametrize(
    ("framing", "spec"),
    [
        (lines(), "lines"),
        (raw(), "raw"),
        (fixed(4), "fixed:4"),
        (delimited(b"\r\n"), "delimited:\\r\\n"),
        (delimited(b"\\:'\0"), "delimited:\\\\:'\\x00"),
        (length_prefixed(), "length_prefixed"),
        (length_prefixed("!H"), "length_prefixed:!H"),
    ],
)
def test_framing_spec(framing, spec):
    assert framing_spec(framing) == spec
    assert repr(parse(spec)) == repr(framing)


@given(st.binary(min_size=1, max_size=8))
def test_any_delimiter_round_trips_through_the_file(sep):
    scenario = Scenario(framing=framing_spec(delimited(sep)))
    assert repr(parse(loads(dumps(scenario)).framing)) == repr(delimited(sep))


def test_a_framing_written_as_code_cannot_be_saved():
    def mine(buffer: bytes) -> int | None:
        return None

    with pytest.raises(sockfix.ScenarioError, match="cannot be written to a scenario file"):
        framing_spec(mine)


# ----------------------------------------------------------------------------- recordings


def events(*items: tuple[float, str, bytes] | tuple[float, str, bytes, str]) -> list[Event]:
    return [Event(*item) for item in items]  # type: ignore[arg-type]


def test_exchanges_pair_requests_with_the_replies_that_follow():
    client = events(
        (0.0, "connect", b""),
        (0.2, "in", b"PING\r\nPI"),
        (0.3, "in", b"NG\r\n"),
        (0.5, "in", b"QUIT\r\n"),
        (0.7, "eof", b""),
    )
    upstream = events(
        (0.0, "connect", b""),
        (0.1, "in", b"220 hi\r\n"),
        (0.25, "in", b"+PO"),
        (0.26, "in", b"NG\r\n"),
        (0.4, "in", b"+PONG\r\n"),
        (0.6, "in", b"+BYE\r\n"),
        (0.65, "eof", b"", "peer closed its side"),
    )
    assert exchanges_from([(client, upstream)], lines()) == [
        Exchange(1, None, b"220 hi\r\n"),
        Exchange(1, b"PING\r\n", b"+PONG\r\n"),
        Exchange(1, b"PING\r\n", b"+PONG\r\n"),
        Exchange(1, b"QUIT\r\n", b"+BYE\r\n", ending="close"),
    ]


def test_a_close_after_the_client_closed_is_not_replayed():
    client = events((0.1, "in", b"a\n"), (0.2, "eof", b""))
    upstream = events((0.15, "in", b"A\n"), (0.3, "eof", b""))
    assert exchanges_from([(client, upstream)], lines()) == [
        Exchange(1, None, b""),
        Exchange(1, b"a\n", b"A\n"),
    ]


def test_a_reset_by_the_server_is_replayed():
    client = events((0.1, "in", b"a\n"))
    upstream = events((0.2, "reset", b"", "by peer"))
    assert exchanges_from([(client, upstream)], lines())[-1] == Exchange(
        1, b"a\n", b"", ending="reset"
    )


def test_an_unreachable_upstream_is_replayed_as_a_reset():
    client = events((0.0, "connect", b""), (0.2, "reset", b"", "by proxy"))
    upstream = events((0.1, "error", b"", "upstream 127.0.0.1:9: refused"))
    found = exchanges_from([(client, upstream)], lines())
    assert found == [Exchange(1, None, b"", ending="reset")]
    assert from_exchanges(found, lines()).rules == (
        RuleSpec(on_connect=True, times=1, ending="reset"),
    )


def test_unframed_bytes_are_kept_as_a_partial_exchange():
    client = events((0.1, "in", b"a\nb"))
    found = exchanges_from([(client, [])], lines())
    assert found[-1] == Exchange(1, b"b", b"", partial=True)
    text = dumps(from_exchanges(found, lines()))
    assert "connection 1 ended with 1 bytes that are not a complete message" in text
    assert text.count("[[rules]]") == 1


def test_greetings_go_to_every_connection_once_any_has_one():
    one = (events((0.1, "in", b"a\n")), events((0.05, "in", b"hi\n")))
    two = (events((0.3, "in", b"a\n")), events((0.35, "in", b"A\n")))
    scenario = from_exchanges(exchanges_from([one, two], lines()), lines())
    assert [(r.on_connect, r.expect, r.respond, r.times) for r in scenario.rules] == [
        (True, None, (b"hi\n",), 1),
        (False, b"a\n", (), 1),
        (True, None, (), 1),
        (False, b"a\n", (b"A\n",), 1),
    ]
    assert [r.comment for r in scenario.rules] == [
        "connection 1: greeting",
        "connection 1, message 1",
        "connection 2: greeting",
        "connection 2, message 1",
    ]


def test_no_greeting_rules_when_no_server_spoke_first():
    one = (events((0.1, "in", b"a\n")), events((0.2, "in", b"A\n")))
    scenario = from_exchanges(exchanges_from([one], lines()), lines())
    assert [r.on_connect for r in scenario.rules] == [False]


def test_a_framing_error_while_recording_names_the_connection():
    def broken(buffer: bytes) -> int | None:
        return 0

    with pytest.raises(sockfix.ScenarioError, match=r"connection 1: framing .* returned 0"):
        exchanges_from([(events((0.1, "in", b"x")), [])], broken)


@given(
    st.lists(
        st.tuples(st.binary(max_size=6).map(lambda b: b.replace(b"\n", b"") + b"\n"), st.binary()),
        max_size=6,
    ),
    st.binary(),
    st.data(),
)
def test_exchanges_rebuild_any_lockstep_conversation(pairs, greeting, data):
    """A client that waits for each reply: whatever the chunking, the pairs come back."""
    clock = iter(range(1, 10_000))
    client: list[Event] = []
    upstream: list[Event] = []
    if greeting:
        upstream.append(Event(next(clock), "in", greeting))
    for request, reply in pairs:
        inside = st.sets(st.integers(1, len(request) - 1), max_size=3)
        cuts = sorted(data.draw(inside)) if len(request) > 1 else []
        for start, end in zip([0, *cuts], [*cuts, len(request)], strict=True):
            client.append(Event(next(clock), "in", request[start:end]))
        if reply:
            half = data.draw(st.integers(0, len(reply)))
            for part in (reply[:half], reply[half:]):
                if part:
                    upstream.append(Event(next(clock), "in", part))
    found = exchanges_from([(client, upstream)], lines())
    assert found == [
        Exchange(1, None, greeting),
        *(Exchange(1, request, reply) for request, reply in pairs),
    ]


def test_write_scenario(tmp_path):
    exchanges = [Exchange(1, None, b""), Exchange(1, b"\xff\n", b"ok\n")]
    path = write_scenario(tmp_path / "rec.toml", exchanges, framing=fixed(2))
    assert path == tmp_path / "rec.toml"
    text = path.read_text()
    assert text.startswith("# sockfix scenario (see docs/scenarios.md)\n# recorded by ")
    assert 'sockfix.TCPServer.from_scenario("rec.toml")' in text
    assert load(path) == Scenario(
        framing="fixed:2", rules=(RuleSpec(expect=b"\xff\n", respond=(b"ok\n",), times=1),)
    )


# ------------------------------------------------------------------ ordered, max_connections


def test_ordered_and_max_connections_are_read():
    scenario = loads("ordered = true\nmax_connections = 2\n")
    assert scenario.ordered is True
    assert scenario.max_connections == 2
    assert scenario == Scenario(ordered=True, max_connections=2)
    bare = loads("")
    assert (bare.ordered, bare.max_connections) == (False, None)
    assert loads("ordered = false") == bare


def test_server_options_pass_ordered_and_max_connections():
    options = loads("ordered = true\nmax_connections = 1\nstrict = false").server_options()
    options.pop("framing")
    assert options == {"strict": False, "ordered": True, "max_connections": 1}
    assert set(loads("ordered = false").server_options()) == {"framing", "strict"}


def test_from_scenario_makes_an_ordered_limited_server(tmp_path):
    text = 'ordered = true\nmax_connections = 3\n\n[[rules]]\nexpect = "A\\n"\nrespond = "a"\n'
    server = sockfix.TCPServer.from_scenario(write(tmp_path, text, "steps.toml"))  # not started
    assert server.max_connections == 3
    assert [rule.ordered for rule in server.rules] == [True]
    assert server.rules[0].quota == 1  # a step: used once
    server.stop(check=False)  # never started: its unused step is no failure of this test


@pytest.mark.parametrize(
    "text",
    [
        "ordered = true\nmax_connections = 1\n",
        "ordered = true\n",
        "max_connections = 65536\n",
        'ordered = true\nmax_connections = 2\n[[rules]]\nexpect = "GET\\n"\ntimes = 2\n',
    ],
)
def test_dumps_round_trips_ordered_and_max_connections(text):
    scenario = loads(text)
    written = dumps(scenario)
    assert loads(written) == scenario
    doc = tomllib.loads(written)
    assert doc.get("ordered", False) is scenario.ordered
    assert doc.get("max_connections") == scenario.max_connections


def test_dumps_leaves_out_the_defaults():
    text = dumps(Scenario())
    assert "ordered" not in text
    assert "max_connections" not in text
    assert "ordered = true\nmax_connections = 4\n" in dumps(
        Scenario(ordered=True, max_connections=4)
    )


def test_dumps_writes_every_top_key_of_the_full_file(tmp_path):
    full = FULL.replace("strict = false\n", "strict = false\nordered = true\nmax_connections = 5\n")
    scenario = load(write(tmp_path, full))
    assert (scenario.ordered, scenario.max_connections) == (True, 5)
    assert loads(dumps(scenario)) == scenario


ORDERED_ERRORS = [
    ('ordered = "yes"', "ordered", 'expected true or false, got "yes"', "write ordered = true"),
    ("ordered = 1", "ordered", "expected true or false, got 1", "or drop it"),
    ("max_connections = 0", "max_connections", "expected an integer >= 1, got 0", "N >= 1"),
    ("max_connections = -1", "max_connections", ">= 1, got -1", "drop it for no limit"),
    ("max_connections = true", "max_connections", "got true (a boolean)", "max_connections = N"),
    ('max_connections = "2"', "max_connections", 'got "2" (a string)', "max_connections = N"),
    ("max_connections = 1.5", "max_connections", "got 1.5 (a float)", "max_connections = N"),
    ("max_conections = 1", "max_conections", "unknown key", "did you mean 'max_connections'?"),
    ("orderd = true", "orderd", "unknown key", "did you mean 'ordered'?"),
]


@pytest.mark.parametrize(
    ("text", "key", "problem", "fix"), ORDERED_ERRORS, ids=[e[0] for e in ORDERED_ERRORS]
)
def test_bad_ordered_and_max_connections_name_the_key_and_the_fix(
    tmp_path, text, key, problem, fix
):
    path = write(tmp_path, text)
    with pytest.raises(sockfix.ScenarioError) as info:
        load(path)
    message = str(info.value)
    assert message.startswith(f"{path}: {key}: "), message
    assert problem in message
    assert fix in message
    assert info.value.key == key


def test_the_allowed_top_keys_list_the_new_ones():
    with pytest.raises(sockfix.ScenarioError) as info:
        loads("nope = 1")
    assert (
        "allowed keys are: version, framing, host, port, seed, strict, ordered, "
        "max_connections, rules, faults"
    ) in str(info.value)
