"""Patterns: bytes, bytes regex (fullmatch), callables and ANY, and why a message missed."""

from __future__ import annotations

import copy
import pickle
import re

import pytest

import sockfix
from sockfix.core.patterns import ANY, Matcher, as_matcher


def test_bytes_pattern_is_equality() -> None:
    m = as_matcher(b"PING\r\n")
    assert m.matches(b"PING\r\n")
    assert not m.matches(b"PING\n")
    assert not m.matches(b"PING\r\n\r\n")
    assert not m.matches(b"ping\r\n")
    assert m.miss(b"PING\r\n") is None
    assert m.text == "b'PING\\r\\n'"
    assert repr(m) == "b'PING\\r\\n'"


def test_bytearray_pattern_is_copied() -> None:
    pattern = bytearray(b"abc")
    m = as_matcher(pattern)
    pattern[:] = b"xyz"
    assert m.matches(b"abc")
    assert not m.matches(b"xyz")


def test_a_long_bytes_pattern_is_shortened_in_its_text() -> None:
    m = as_matcher(b"x" * 100)
    assert m.text.endswith("...' (100 bytes)")
    assert len(m.text) < 100


def test_regex_is_fullmatch_not_search() -> None:
    m = as_matcher(re.compile(rb"GET (\w+)\r\n"))
    assert m.matches(b"GET key\r\n")
    assert not m.matches(b"xGET key\r\n")  # search would find it
    assert not m.matches(b"GET key\r\nmore")  # match would accept it
    assert not m.matches(b"GET \r\n")
    assert m.text == "re.compile(b'GET (\\\\w+)\\\\r\\\\n')"
    assert m.miss(b"xGET key\r\n") == "the regex does not fullmatch the message"
    assert m.miss(b"GET key\r\n") is None


def test_regex_flags_are_kept() -> None:
    m = as_matcher(re.compile(rb"ping", re.IGNORECASE))
    assert m.matches(b"PiNg")


def test_callable_pattern() -> None:
    seen: list[bytes] = []

    def quits(message: bytes) -> bool:
        seen.append(message)
        return message.startswith(b"QUIT")

    m = as_matcher(quits)
    assert m.matches(b"QUIT\r\n")
    assert not m.matches(b"quit\r\n")
    assert seen == [b"QUIT\r\n", b"quit\r\n"]
    assert m.text == "<predicate test_callable_pattern.<locals>.quits>"
    assert m.miss(b"NOPE") == "the predicate returned false"
    assert m.miss(b"QUIT") is None


def test_callable_pattern_truthiness() -> None:
    assert as_matcher(lambda m: 1).matches(b"x")
    assert not as_matcher(lambda m: []).matches(b"x")
    assert as_matcher(lambda m: 0).miss(b"x") == "the predicate returned false"


def test_a_callable_object_is_named_by_its_repr() -> None:
    class Even:
        def __call__(self, message: bytes) -> bool:
            return len(message) % 2 == 0

        def __repr__(self) -> str:
            return "Even()"

    m = as_matcher(Even())
    assert m.text == "<predicate Even()>"
    assert m.matches(b"ab")
    assert not m.matches(b"a")


def test_any_matches_everything() -> None:
    m = as_matcher(ANY)
    assert m.text == "ANY"
    for message in (b"", b"x", b"\x00" * 1000):
        assert m.matches(message)
        assert m.miss(message) is None


def test_any_is_a_singleton_that_survives_copy_and_pickle() -> None:
    assert sockfix.ANY is ANY
    assert repr(ANY) == "ANY"
    assert type(ANY)() is ANY
    assert copy.copy(ANY) is ANY
    assert copy.deepcopy(ANY) is ANY
    assert pickle.loads(pickle.dumps(ANY)) is ANY


# -- miss(): why a bytes pattern missed ---------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "message", "why"),
    [
        (
            b"PING\r\n",
            b"PONG\r\n",
            "differs at byte 1: expected b'ING\\r\\n', got b'ONG\\r\\n'",
        ),
        (b"PING\r\n", b"ping\r\n", "differs at byte 0: expected b'PING\\r\\n', got b'ping\\r\\n'"),
        (b"PING\r\n", b"PING\n", "differs at byte 4: expected b'\\r\\n', got b'\\n'"),
        (
            b"0123456789abcdef",
            b"0123456789ABCDEF",
            "differs at byte 10: expected b'abcdef', got b'ABCDEF'",
        ),
        (
            b"A" + b"x" * 20,
            b"A" + b"y" * 20,
            "differs at byte 1: expected b'xxxxxxxx', got b'yyyyyyyy'",
        ),
        (b"PING\r\n", b"PIN", "the message is a prefix: 3 bytes short"),
        (b"PING\r\n", b"P", "the message is a prefix: 5 bytes short"),
        (b"PING\r\n", b"PING\r\n\r\n", "the message has 2 extra bytes after the pattern"),
        (b"PING", b"PING\r\n", "the message has 2 extra bytes after the pattern"),
    ],
)
def test_bytes_miss_explains(pattern: bytes, message: bytes, why: str) -> None:
    assert as_matcher(pattern).miss(message) == why


# -- wrong types --------------------------------------------------------------------------------


def test_str_pattern_names_the_bytes_fix() -> None:
    with pytest.raises(TypeError) as info:
        as_matcher("PING")
    text = str(info.value)
    assert text == "expect() takes bytes, not str: write b'PING' (or 'PING'.encode())"
    assert "b'PING'" in text
    assert ".encode()" in text


def test_non_ascii_str_pattern_names_encode() -> None:
    with pytest.raises(TypeError) as info:
        as_matcher("héllo")
    assert str(info.value) == (
        "expect() takes bytes, not str: write 'héllo'.encode() to send its UTF-8 bytes"
    )


def test_str_regex_names_a_bytes_regex() -> None:
    with pytest.raises(TypeError) as info:
        as_matcher(re.compile(r"GET \w+"))
    text = str(info.value)
    assert "bytes regex" in text
    assert text == (
        "expect() got a str regex 'GET \\\\w+': compile a bytes regex instead, "
        "re.compile(b'GET \\\\w+')"
    )


@pytest.mark.parametrize(
    ("pattern", "shown"),
    [
        (5, "int 5"),
        (None, "NoneType None"),
        (memoryview(b"x"), "memoryview <memory"),
        ([b"PING"], "list [b'PING']"),
        (3.5, "float 3.5"),
    ],
)
def test_other_types_are_refused(pattern: object, shown: str) -> None:
    with pytest.raises(TypeError) as info:
        as_matcher(pattern)
    text = str(info.value)
    assert text.startswith(
        "expect() takes bytes, a compiled bytes regex, a callable (message) -> bool, "
        f"or sockfix.ANY; got {shown}"
    )


def test_matcher_is_what_as_matcher_returns() -> None:
    assert isinstance(as_matcher(b"x"), Matcher)
    assert isinstance(as_matcher(ANY), Matcher)
