"""Rules: the builder, its argument checks, and the book's first-live-match order."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from sockfix.core.patterns import ANY
from sockfix.core.rules import Rule, RuleBook


def test_builder_chains_and_records_every_option() -> None:
    book = RuleBook()
    rule = book.expect(b"BIG\r\n")
    assert isinstance(rule, Rule)
    same = (
        rule.respond(b"ab").respond(b"cd").delay(0.25).chunked([1, 3], delay=0.001).close().times(2)
    )
    assert same is rule
    assert rule.pieces == [b"ab", b"cd"]
    assert rule.wait == 0.25
    assert rule.chunks == (1, 3)
    assert rule.gap == 0.001
    assert rule.ending == "close"
    assert rule.limit == 2
    assert rule.used == 0
    assert rule.live
    assert not rule.is_greeting
    assert rule.number == 1


def test_a_fresh_rule_does_nothing() -> None:
    rule = RuleBook().expect(ANY)
    assert rule.pieces == []
    assert rule.wait == 0.0
    assert rule.chunks is None
    assert rule.gap == 0.0
    assert rule.ending is None
    assert rule.limit is None
    assert rule.live


def test_respond_keeps_bytes_and_callables_in_order() -> None:
    def upper(message: bytes) -> bytes:
        return message.upper()

    rule = RuleBook().expect(ANY).respond(bytearray(b"x"))  # type: ignore[arg-type]
    rule.respond(upper).respond(b"y")
    assert rule.pieces == [b"x", upper, b"y"]
    assert type(rule.pieces[0]) is bytes


def test_rules_are_numbered_apart_from_greetings() -> None:
    book = RuleBook()
    r1, r2 = book.expect(b"a"), book.expect(b"b")
    g1, g2 = book.on_connect(), book.on_connect()
    assert (r1.number, r2.number, g1.number, g2.number) == (1, 2, 1, 2)
    assert g1.is_greeting
    assert g1.matcher is None
    assert book.rules == [r1, r2]
    assert book.greetings == [g1, g2]


def test_expect_checks_its_pattern_at_the_call() -> None:
    book = RuleBook()
    with pytest.raises(TypeError, match=r"write b'PING' \(or 'PING'.encode\(\)\)"):
        book.expect("PING")
    with pytest.raises(TypeError, match="bytes regex"):
        book.expect(re.compile("PING"))
    assert book.rules == []


# -- argument errors ----------------------------------------------------------------------------


def test_respond_str_names_bytes_and_encode() -> None:
    rule = RuleBook().expect(ANY)
    with pytest.raises(TypeError) as info:
        rule.respond("+PONG")  # type: ignore[arg-type]
    assert str(info.value) == (
        "respond() takes bytes or a callable (message) -> bytes, got str '+PONG': "
        "write b'+PONG' (or '+PONG'.encode())"
    )
    assert rule.pieces == []


@pytest.mark.parametrize(("value", "shown"), [(5, "int 5"), (None, "NoneType None")])
def test_respond_other_types(value: object, shown: str) -> None:
    with pytest.raises(TypeError) as info:
        RuleBook().expect(ANY).respond(value)  # type: ignore[arg-type]
    assert str(info.value) == (
        f"respond() takes bytes or a callable (message) -> bytes, got {shown}"
    )


@pytest.mark.parametrize("seconds", [-1, -0.001, float("nan"), float("inf"), float("-inf")])
def test_delay_needs_finite_non_negative_seconds(seconds: float) -> None:
    rule = RuleBook().expect(ANY)
    with pytest.raises(ValueError) as info:
        rule.delay(seconds)
    assert str(info.value) == (f"delay() needs seconds >= 0, got {seconds!r}; use 0 for no delay")
    assert rule.wait == 0.0


@pytest.mark.parametrize("seconds", ["1", None, True])
def test_delay_needs_a_number(seconds: object) -> None:
    with pytest.raises(TypeError, match=r"^delay\(\) takes seconds as a number, got "):
        RuleBook().expect(ANY).delay(seconds)  # type: ignore[arg-type]


def test_delay_zero_and_int_are_fine() -> None:
    rule = RuleBook().expect(ANY).delay(0)
    assert rule.wait == 0.0
    assert rule.delay(2).wait == 2.0
    assert type(rule.wait) is float


@pytest.mark.parametrize("n", [0, -1])
def test_times_needs_at_least_one(n: int) -> None:
    rule = RuleBook().expect(ANY)
    with pytest.raises(ValueError) as info:
        rule.times(n)
    assert str(info.value) == f"times(n) needs n >= 1, got {n}; remove the rule to never answer"
    assert rule.limit is None


@pytest.mark.parametrize("n", ["1", 1.0, True, None])
def test_times_needs_an_int(n: object) -> None:
    with pytest.raises(TypeError) as info:
        RuleBook().expect(ANY).times(n)  # type: ignore[arg-type]
    assert str(info.value) == f"times() takes an int, got {n!r}"


@pytest.mark.parametrize("size", [0, -4])
def test_chunked_size_must_be_positive(size: int) -> None:
    with pytest.raises(ValueError) as info:
        RuleBook().expect(ANY).chunked(size)
    assert str(info.value) == f"chunked() needs a size >= 1, got {size}"


@pytest.mark.parametrize("sizes", [[], [1, 0], [2, -1], [1, True], [1, 1.5], (3, "2")])
def test_chunked_list_must_hold_positive_ints(sizes: list[object]) -> None:
    rule = RuleBook().expect(ANY)
    with pytest.raises(ValueError) as info:
        rule.chunked(sizes)  # type: ignore[arg-type]
    assert str(info.value) == (
        f"chunked() needs a non-empty list of positive int sizes, got {list(sizes)!r}"
    )
    assert rule.chunks is None


@pytest.mark.parametrize("sizes", ["12", b"\x01\x02", 1.5, None, True])
def test_chunked_takes_an_int_or_a_list(sizes: object) -> None:
    with pytest.raises(TypeError) as info:
        RuleBook().expect(ANY).chunked(sizes)  # type: ignore[arg-type]
    assert str(info.value) == f"chunked() takes an int or a list of ints, got {sizes!r}"


def test_chunked_delay_is_checked() -> None:
    rule = RuleBook().expect(ANY)
    with pytest.raises(ValueError, match=r"^chunked\(delay=\.\.\.\) needs seconds >= 0, got -1"):
        rule.chunked(2, delay=-1)
    with pytest.raises(TypeError, match=r"^chunked\(delay=\.\.\.\) takes seconds as a number"):
        rule.chunked(2, delay="0.1")  # type: ignore[arg-type]
    assert rule.chunks is None
    assert rule.gap == 0.0


def test_chunked_accepts_a_tuple_and_an_int() -> None:
    rule = RuleBook().expect(ANY).respond(b"abcdef")
    assert rule.chunked((2, 4)).chunks == (2, 4)
    assert rule.chunked(3).chunks == 3
    assert rule.gap == 0.0


def test_chunks_that_do_not_cover_the_reply_chunked_after_respond() -> None:
    rule = RuleBook().expect(ANY).respond(b"abc").respond(b"de")
    with pytest.raises(ValueError) as info:
        rule.chunked([1, 2])
    assert str(info.value) == (
        "chunked([1, 2]) covers 3 bytes but the reply is 5 bytes: "
        "add sizes so they sum to at least 5"
    )
    # the failed call changed nothing
    assert rule.chunks is None
    assert rule.pieces == [b"abc", b"de"]


def test_chunks_that_do_not_cover_the_reply_respond_after_chunked() -> None:
    rule = RuleBook().expect(ANY).chunked([2, 2], delay=0.5).respond(b"abcd")
    with pytest.raises(ValueError) as info:
        rule.respond(b"e")
    assert str(info.value) == (
        "chunked([2, 2]) covers 4 bytes but the reply is 5 bytes: "
        "add sizes so they sum to at least 5"
    )
    # the failed call changed nothing: the rule is still valid
    assert rule.pieces == [b"abcd"]
    assert rule.chunks == (2, 2)
    assert rule.gap == 0.5


def test_a_failed_chunked_keeps_the_previous_chunking() -> None:
    rule = RuleBook().expect(ANY).respond(b"abcd").chunked(1, delay=0.25)
    with pytest.raises(ValueError, match="covers 3 bytes"):
        rule.chunked([1, 2], delay=0.5)
    assert rule.chunks == 1
    assert rule.gap == 0.25


def test_chunks_may_cover_more_than_the_reply() -> None:
    rule = RuleBook().expect(ANY).respond(b"ab").chunked([1, 5])
    assert rule.chunks == (1, 5)


def test_a_callable_piece_cannot_be_checked_up_front() -> None:
    rule = RuleBook().expect(ANY).respond(b"abc").respond(lambda m: m).chunked([1])
    assert rule.chunks == (1,)


@pytest.mark.parametrize(
    ("first", "second"),
    [("close", "reset"), ("reset", "hang"), ("hang", "close"), ("close", "hang")],
)
def test_a_rule_ends_one_way(first: str, second: str) -> None:
    rule = RuleBook().expect(ANY)
    getattr(rule, first)()
    with pytest.raises(ValueError) as info:
        getattr(rule, second)()
    assert str(info.value) == (
        f"rule 1 already ends with .{first}(); a rule ends one way: drop .{first}() or .{second}()"
    )
    assert rule.ending == first


@pytest.mark.parametrize("ending", ["close", "reset", "hang"])
def test_the_same_ending_twice_is_fine(ending: str) -> None:
    rule = RuleBook().expect(ANY)
    getattr(getattr(rule, ending)(), ending)()
    assert rule.ending == ending


# -- the book -----------------------------------------------------------------------------------


def test_first_live_match_in_order() -> None:
    book = RuleBook()
    exact = book.expect(b"GET a\n").respond(b"exact")
    regex = book.expect(re.compile(rb"GET \w\n")).respond(b"regex")
    anything = book.expect(ANY).respond(b"any")
    assert book.claim(b"GET a\n") is exact
    assert book.claim(b"GET b\n") is regex
    assert book.claim(b"PUT\n") is anything
    assert (exact.used, regex.used, anything.used) == (1, 1, 1)


def test_no_match_is_none_and_counts_nothing() -> None:
    book = RuleBook()
    rule = book.expect(b"a")
    assert book.claim(b"b") is None
    assert rule.used == 0


def test_claim_ignores_greetings() -> None:
    book = RuleBook()
    book.on_connect().respond(b"hello")
    assert book.claim(b"anything") is None


def test_fail_twice_then_succeed() -> None:
    book = RuleBook()
    failing = book.expect(b"GET\n").reset().times(2)
    ok = book.expect(b"GET\n").respond(b"ok\n")
    assert [book.claim(b"GET\n") for _ in range(4)] == [failing, failing, ok, ok]
    assert failing.used == 2
    assert not failing.live
    assert ok.used == 2
    assert ok.live


def test_a_used_up_rule_with_nothing_after_leaves_no_match() -> None:
    book = RuleBook()
    once = book.expect(ANY).times(1)
    assert book.claim(b"x") is once
    assert book.claim(b"x") is None
    assert once.used == 1


def test_claim_greeting_takes_the_first_live_one() -> None:
    book = RuleBook()
    assert book.claim_greeting() is None
    first = book.on_connect().respond(b"first").times(1)
    later = book.on_connect().respond(b"later")
    assert book.claim_greeting() is first
    assert book.claim_greeting() is later
    assert book.claim_greeting() is later
    assert (first.used, later.used) == (1, 2)


def test_claims_go_through_the_guard() -> None:
    entered: list[str] = []

    class Guard:
        def __enter__(self) -> None:
            entered.append("in")

        def __exit__(self, *exc: object) -> None:
            entered.append("out")

    book = RuleBook(guard=Guard())
    book.expect(b"a")
    book.on_connect()
    book.claim(b"a")
    book.claim_greeting()
    assert entered == ["in", "out"] * 4


def test_why_missed_says_why_for_every_rule() -> None:
    book = RuleBook()
    book.expect(b"PING\r\n").respond(b"+PONG\r\n")
    book.expect(re.compile(rb"GET \w+\r\n"))
    book.expect(lambda m: False).close()
    used = book.expect(b"PONG\r\n").times(1)
    used.used = 1
    assert book.why_missed(b"PONG\r\n") == [
        "  rule 1: expect(b'PING\\r\\n').respond(b'+PONG\\r\\n')\n"
        "      missed: differs at byte 1: expected b'ING\\r\\n', got b'ONG\\r\\n'",
        "  rule 2: expect(re.compile(b'GET \\\\w+\\\\r\\\\n'))\n"
        "      missed: the regex does not fullmatch the message",
        "  rule 3: expect(<predicate test_why_missed_says_why_for_every_rule.<locals>.<lambda>>)"
        ".close()\n      missed: the predicate returned false",
        "  rule 4: expect(b'PONG\\r\\n').times(1)\n      missed: used up (times(1), used 1)",
    ]


def test_why_missed_with_no_rules() -> None:
    book = RuleBook()
    book.on_connect().respond(b"hi")
    assert book.why_missed(b"x") == ["  (no expect() rules)"]


def test_why_missed_a_rule_that_matches_now() -> None:
    book = RuleBook()
    book.expect(ANY)
    assert book.why_missed(b"x") == [
        "  rule 1: expect(ANY)\n      missed: matches now (added after the message came)"
    ]


def test_unused_lists_times_rules_not_used_up() -> None:
    book = RuleBook()
    permanent = book.expect(b"a")
    twice = book.expect(b"b").times(2)
    once = book.expect(b"c").times(1)
    greeting = book.on_connect().times(1)
    assert book.unused() == [greeting, twice, once]
    book.claim(b"b")
    book.claim(b"c")
    book.claim(b"a")
    assert book.unused() == [greeting, twice]
    book.claim(b"b")
    book.claim_greeting()
    assert book.unused() == []
    assert permanent.used == 1


@pytest.mark.parametrize(
    ("build", "text"),
    [
        (lambda b: b.expect(b"PING\r\n"), "expect(b'PING\\r\\n')"),
        (
            lambda b: b.expect(b"PING\r\n").respond(b"+PONG\r\n"),
            "expect(b'PING\\r\\n').respond(b'+PONG\\r\\n')",
        ),
        (lambda b: b.on_connect().respond(b"220\r\n"), "on_connect().respond(b'220\\r\\n')"),
        (
            lambda b: b.expect(ANY).delay(0.2).respond(b"ok").reset().times(3),
            "expect(ANY).respond(b'ok').delay(0.2).reset().times(3)",
        ),
        (
            lambda b: b.expect(ANY).respond(b"x" * 3).chunked(1, delay=0.001),
            "expect(ANY).respond(b'xxx').chunked(1, delay=0.001)",
        ),
        (
            lambda b: b.expect(ANY).respond(b"abc").chunked([1, 2]),
            "expect(ANY).respond(b'abc').chunked([1, 2])",
        ),
        (lambda b: b.expect(ANY).hang(), "expect(ANY).hang()"),
        (lambda b: b.expect(ANY).respond(bytes.upper), "expect(ANY).respond(<bytes.upper>)"),
        (
            lambda b: b.expect(ANY).respond(b"y" * 100),
            "expect(ANY).respond(b'yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy...' (100 bytes))",
        ),
    ],
)
def test_describe_reads_like_the_code(build: Callable[[RuleBook], Rule], text: str) -> None:
    rule = build(RuleBook())
    assert rule.describe() == text
    assert repr(rule) == f"<Rule {rule.number}: {text} used 0>"


def test_book_describe() -> None:
    book = RuleBook()
    assert book.describe() == "  (no rules)"
    book.expect(b"a").respond(b"b")
    book.on_connect().respond(b"hi")
    book.claim(b"a")
    assert book.describe() == (
        "  on_connect().respond(b'hi')  [used 0]\n  expect(b'a').respond(b'b')  [used 1]"
    )
