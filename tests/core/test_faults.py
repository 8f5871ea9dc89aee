"""Every fault's plan, pure: a seeded ``random.Random``, a fresh ``State``, exact steps.

No sockets here: what the socket layer does with the steps is tested in tests/net.
"""

from __future__ import annotations

import dataclasses
import random
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sockfix import faults
from sockfix.core.actions import Close, HalfClose, Hang, Note, Reset, Send, Wait
from sockfix.faults import REGISTRY, Fault, State

# Required arguments of each registered fault, for the tests that cover every one of them.
REQUIRED: dict[str, tuple[object, ...]] = {
    "latency": (0.05,),
    "chunked": (2,),
    "bandwidth": (1000,),
    "slow_close": (0.1,),
    "timeout": (0.1,),
    "reset_after": (0.1,),
    "truncate": (3,),
    "garbage": (4,),
}


def make(name: str, **kwargs: object) -> Fault:
    return REGISTRY[name](*REQUIRED.get(name, ()), **kwargs)


def rng(seed: int = 1) -> random.Random:
    return random.Random(seed)


def sends(actions: list[object]) -> list[bytes]:
    return [a.data for a in actions if isinstance(a, Send)]


def notes(actions: list[object]) -> list[str]:
    return [a.text for a in actions if isinstance(a, Note)]


# -- the registry -----------------------------------------------------------------------------


def test_registry_names():
    assert set(REGISTRY) == {
        "latency", "chunked", "bandwidth", "slow_close", "reset", "close", "truncate",
        "half_close", "hang", "timeout", "corrupt", "garbage", "drop", "duplicate", "reorder",
        "handshake_hang", "handshake_reset", "reset_after",
    }  # fmt: skip
    for name, cls in REGISTRY.items():
        assert cls.name == name
        assert getattr(faults, cls.__name__) is cls
        assert cls.__doc__, f"{cls.__name__} needs a one-sentence docstring"


def test_every_public_fault_is_registered():
    public = {
        getattr(faults, n)
        for n in faults.__all__
        if isinstance(getattr(faults, n), type) and issubclass(getattr(faults, n), Fault)
    }
    assert public - {Fault} == set(REGISTRY.values())


def test_build_by_name():
    assert faults.build("latency", 0.05, jitter=0.01) == faults.Latency(0.05, jitter=0.01)
    assert faults.build("Slow-Close", 0.1) == faults.SlowClose(0.1)
    assert faults.build(" reset ", after_bytes=3) == faults.Reset(after_bytes=3)
    assert faults.build("drop", 0.5) == faults.Drop(0.5)


def test_build_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown fault 'lag'") as info:
        faults.build("lag", 1)
    for name in REGISTRY:
        assert name in str(info.value)


def test_build_checks_arguments_like_the_class():
    with pytest.raises(ValueError, match="-1"):
        faults.build("latency", -1)


# -- values and text --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "text"),
    [
        (faults.Latency(0.05, jitter=0.01), "Latency(0.05, jitter=0.01)"),
        (faults.Latency(0.05), "Latency(0.05)"),
        (faults.Latency(0.05, probability=0.5), "Latency(0.05, probability=0.5)"),
        (faults.Chunked(1, delay=0.001), "Chunked(1, delay=0.001)"),
        (faults.Bandwidth(1000), "Bandwidth(1000)"),
        (faults.Reset(), "Reset()"),
        (faults.Reset(after_bytes=3), "Reset(after_bytes=3)"),
        (faults.Close(after_bytes=3, probability=0.25), "Close(after_bytes=3, probability=0.25)"),
        (faults.Truncate(10), "Truncate(10)"),
        (faults.Hang(), "Hang()"),
        (faults.HalfClose(), "HalfClose()"),
        (faults.Timeout(1.5), "Timeout(1.5)"),
        (faults.SlowClose(0.2), "SlowClose(0.2)"),
        (faults.Corrupt(0.5), "Corrupt(0.5)"),
        (faults.Garbage(16), "Garbage(16)"),
        (faults.Drop(0.5), "Drop(0.5)"),
        (faults.Duplicate(1.0), "Duplicate(1.0)"),
        (faults.Reorder(1.0, window=3), "Reorder(1.0, window=3)"),
        (faults.Reorder(0.5, hold=0.2), "Reorder(0.5, hold=0.2)"),
        (faults.Reorder(1.0, window=2, hold=0), "Reorder(1.0, window=2, hold=0)"),
    ],
)
def test_repr(fault, text):
    assert repr(fault) == text
    assert eval(text, vars(faults)) == fault  # the repr is the code that makes it


def test_faults_are_frozen_and_hashable():
    f = faults.Latency(0.05)
    with pytest.raises(dataclasses.FrozenInstanceError):
        f.seconds = 1  # type: ignore[misc]
    assert len({faults.Latency(0.05), faults.Latency(0.05), faults.Reset()}) == 2


@pytest.mark.parametrize(
    ("make_it", "error", "words"),
    [
        (lambda: faults.Latency(-1), ValueError, ["Latency(seconds)", ">= 0", "-1"]),
        (lambda: faults.Latency(0.1, jitter=-0.5), ValueError, ["jitter", "-0.5"]),
        (lambda: faults.Latency(float("nan")), ValueError, ["nan"]),
        (lambda: faults.Latency("0.1"), TypeError, ["a number", "'0.1'"]),
        (lambda: faults.Latency(True), TypeError, ["True"]),
        (lambda: faults.Latency(1, probability=1.5), ValueError, ["0..1", "1.5", "1.0"]),
        (lambda: faults.Reset(probability=-0.1), ValueError, ["probability", "-0.1"]),
        (lambda: faults.Corrupt(2), ValueError, ["Corrupt(probability=...)", "0..1", "2"]),
        (lambda: faults.Drop(1.01), ValueError, ["use 1.0 for always"]),
        (lambda: faults.Duplicate("1"), TypeError, ["a number"]),
        (lambda: faults.Chunked(0), ValueError, ["Chunked(size)", ">= 1", "got 0"]),
        (lambda: faults.Chunked(1.5), TypeError, ["an int", "1.5"]),
        (lambda: faults.Chunked(1, delay=-1), ValueError, ["delay", "-1"]),
        (lambda: faults.Bandwidth(0), ValueError, ["Bandwidth(bytes_per_s)", ">= 1"]),
        (lambda: faults.Truncate("3"), TypeError, ["Truncate(nbytes)", "an int", "'3'"]),
        (lambda: faults.Truncate(-1), ValueError, ["-1"]),
        (lambda: faults.Reset(after_bytes=-2), ValueError, ["after_bytes", "-2"]),
        (lambda: faults.Close(after_bytes=1.0), TypeError, ["an int"]),
        (lambda: faults.HalfClose(after_bytes=-1), ValueError, ["after_bytes"]),
        (lambda: faults.Garbage(None), TypeError, ["Garbage(nbytes)", "None"]),
        (lambda: faults.Timeout(-0.1), ValueError, ["Timeout(seconds)"]),
        (lambda: faults.SlowClose(float("inf")), ValueError, ["inf"]),
        (lambda: faults.Reorder(window=0), ValueError, ["Reorder(window=...)", ">= 1"]),
        (lambda: faults.Reorder(hold=-0.01), ValueError, ["Reorder(hold=...)", ">= 0", "-0.01"]),
        (lambda: faults.Reorder(hold="0.1"), TypeError, ["Reorder(hold=...)", "a number"]),
        (lambda: faults.Reorder(hold=None), TypeError, ["Reorder(hold=...)", "None"]),
        (lambda: faults.Reorder(hold=True), TypeError, ["Reorder(hold=...)", "True"]),
        (lambda: faults.Reorder(hold=float("inf")), ValueError, ["Reorder(hold=...)", "inf"]),
    ],
)
def test_bad_arguments_name_the_value_and_the_rule(make_it, error, words):
    with pytest.raises(error) as info:
        make_it()
    for word in words:
        assert word in str(info.value)


# -- probability 0 is an exact no-op --------------------------------------------------------


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_probability_zero_draws_nothing_and_notes_nothing(name):
    fault = make(name, probability=0)
    r, state = rng(), State()
    before = r.getstate()
    send, close = Send(b"hello world\n"), Close("rule 1")
    assert fault.on_connect(r, state) == []
    for _ in range(5):
        assert fault.shape(send, r, state) == [send]
        assert fault.on_close(close, r, state) == [close]
        assert fault.holds(state) is None
        assert fault.release(r, state) == []
    assert r.getstate() == before


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_after_a_release_nothing_is_held(name):
    fault, r, state = make(name), rng(), State()
    fault.shape(Send(b"hello world\n"), r, state)
    if name != "reorder":
        assert fault.holds(state) is None
    fault.release(r, state)
    assert fault.holds(state) is None
    assert fault.release(r, state) == []


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_probability_one_draws_no_coin(name):
    """p=1 acts without a draw: only the fault's own randomness (bytes, jitter) uses the rng."""
    fault = make(name)
    assert fault.probability == 1.0
    assert fault.applies(rng(), State()) is True


def test_per_connection_faults_draw_once_per_connection():
    fault = faults.Reset(after_bytes=100, probability=0.5)
    r, state = rng(3), State()
    fault.shape(Send(b"a"), r, state)
    after_first = r.getstate()
    for _ in range(10):
        fault.shape(Send(b"a"), r, state)
    assert r.getstate() == after_first


def test_per_send_faults_draw_each_time():
    fault = faults.Latency(0.01, probability=0.5)
    r = rng(3)
    acted = [bool(notes(fault.shape(Send(b"a"), r, State()))) for _ in range(200)]
    assert 50 < sum(acted) < 150


def test_per_connection_probability_splits_connections():
    fault = faults.Hang(probability=0.5)
    hung = [bool(fault.on_connect(random.Random(n), State())) for n in range(200)]
    assert 50 < sum(hung) < 150


# -- timing ----------------------------------------------------------------------------------


def test_latency_plan():
    send = Send(b"abc", note="rule 1")
    assert faults.Latency(0.05).shape(send, rng(), State()) == [
        Note("Latency(0.05): delayed 3 bytes by 0.050000 s"),
        Wait(0.05),
        send,
    ]
    assert faults.Latency(0.05).on_connect(rng(), State()) == []


def test_latency_without_jitter_draws_nothing():
    r = rng()
    before = r.getstate()
    faults.Latency(0.05).shape(Send(b"abc"), r, State())
    assert r.getstate() == before


def test_latency_jitter_stays_in_range():
    fault = faults.Latency(0.1, jitter=0.02)
    r = rng(5)
    delays = [fault.delay(r) for _ in range(2000)]
    assert all(0.08 <= d <= 0.12 for d in delays)
    assert min(delays) < 0.085
    assert max(delays) > 0.115


def test_latency_jitter_never_below_zero():
    fault = faults.Latency(0.01, jitter=0.05)
    r = rng(5)
    delays = [fault.delay(r) for _ in range(2000)]
    assert all(0 <= d <= 0.06 for d in delays)
    assert delays.count(0.0) > 100  # about 40% of [-0.04, 0.06] is clipped to 0


def test_latency_jitter_is_seeded():
    fault = faults.Latency(0.1, jitter=0.05)
    a = [fault.shape(Send(b"x"), r, State()) for r in [rng(7)] * 5]
    b = [fault.shape(Send(b"x"), r, State()) for r in [rng(7)] * 5]
    c = [fault.shape(Send(b"x"), r, State()) for r in [rng(8)] * 5]
    assert a == b
    assert a != c


def test_chunked_plan():
    assert faults.Chunked(2, delay=0.01).shape(Send(b"abcde", note="r"), rng(), State()) == [
        Note("Chunked(2, delay=0.01): 5 bytes as 3 sends"),
        Send(b"abcde", 2, 0.01, "r"),
    ]
    pieces = Send(b"abcde", 2, 0.01).pieces()
    assert [bytes(p) for p in pieces] == [b"ab", b"cd", b"e"]


def test_chunked_leaves_one_byte_alone():
    send = Send(b"a")
    assert faults.Chunked(1).shape(send, rng(), State()) == [send]


def test_bandwidth_plan():
    send = Send(b"x" * 25)
    assert faults.Bandwidth(1000).shape(send, rng(), State()) == [
        Note("Bandwidth(1000): 25 bytes at 1000 B/s"),
        Send(b"x" * 25, 10, 0.01),
    ]
    # Below 100 B/s the step is one byte.
    assert faults.Bandwidth(50).shape(send, rng(), State())[1] == Send(b"x" * 25, 1, 0.02)


def test_slow_close_plan():
    close, send = Close("rule 2"), Send(b"bye")
    fault = faults.SlowClose(0.2)
    assert fault.shape(send, rng(), State()) == [send]
    assert fault.on_connect(rng(), State()) == []
    assert fault.on_close(close, rng(), State()) == [
        Note("SlowClose(0.2): FIN delayed 0.2 s"),
        Wait(0.2),
        close,
    ]


# -- ending a connection ----------------------------------------------------------------------


def test_reset_on_connect():
    fault = faults.Reset()
    assert fault.on_connect(rng(), State()) == [Note("Reset(): reset on connect"), Reset("fault")]


def test_reset_after_bytes_counts_across_sends():
    fault, r, state = faults.Reset(after_bytes=5), rng(), State()
    assert fault.on_connect(r, state) == []
    assert fault.shape(Send(b"abc"), r, state) == [Send(b"abc")]
    assert fault.shape(Send(b"defgh", note="r"), r, state) == [
        Send(b"de", note="r"),
        Note("Reset(after_bytes=5): reset after 5 bytes (3 bytes not sent)"),
        Reset("fault"),
    ]


def test_reset_after_exactly_the_reply():
    fault, r, state = faults.Reset(after_bytes=3), rng(), State()
    assert fault.shape(Send(b"abc"), r, state) == [
        Send(b"abc"),
        Note("Reset(after_bytes=3): reset after 3 bytes (0 bytes not sent)"),
        Reset("fault"),
    ]


def test_close_plans():
    assert faults.Close().on_connect(rng(), State()) == [
        Note("Close(): closed on connect"),
        Close("fault"),
    ]
    fault, r, state = faults.Close(after_bytes=4), rng(), State()
    assert fault.shape(Send(b"abcdef"), r, state) == [
        Send(b"abcd"),
        Note("Close(after_bytes=4): closed after 4 bytes (2 bytes not sent)"),
        Close("fault"),
    ]


def test_truncate_plans():
    assert faults.Truncate(0).on_connect(rng(), State()) == [
        Note("Truncate(0): truncated to 0 bytes"),
        Close("fault"),
    ]
    fault, r, state = faults.Truncate(4), rng(), State()
    assert fault.on_connect(r, state) == []
    assert fault.shape(Send(b"ab"), r, state) == [Send(b"ab")]
    assert fault.shape(Send(b"cdef"), r, state) == [
        Send(b"cd"),
        Note("Truncate(4): truncated after 4 bytes (2 bytes not sent)"),
        Close("fault"),
    ]


def test_cut_keeps_the_chunking_of_the_send():
    fault, r, state = faults.Truncate(4), rng(), State()
    assert fault.shape(Send(b"abcdef", 1, 0.5, "r"), r, state)[0] == Send(b"abcd", 1, 0.5, "r")


def test_half_close_plans():
    assert faults.HalfClose().on_connect(rng(), State()) == [
        Note("HalfClose(): FIN sent on connect, still reading"),
        HalfClose("fault"),
    ]
    fault, r, state = faults.HalfClose(after_bytes=2), rng(), State()
    assert fault.shape(Send(b"abc"), r, state) == [
        Send(b"ab"),
        Note("HalfClose(after_bytes=2): FIN after 2 bytes (1 bytes not sent)"),
        HalfClose("fault"),
    ]


def test_hang_plan():
    send = Send(b"abc")
    fault = faults.Hang()
    assert fault.on_connect(rng(), State()) == [
        Note("Hang(): hanging: no answer, no close"),
        Hang("fault"),
    ]
    assert fault.shape(send, rng(), State()) == [send]


def test_timeout_plan():
    assert faults.Timeout(1.5).on_connect(rng(), State()) == [
        Note("Timeout(1.5): stalling 1.5 s, then closing"),
        Hang("fault", 1.5),
        Close("fault"),
    ]


# -- changing bytes ---------------------------------------------------------------------------


def test_corrupt_with_p1_changes_every_byte_and_never_the_length():
    data = bytes(range(256)) * 4
    out = faults.Corrupt(1.0).shape(Send(data, note="r"), rng(), State())
    assert notes(out) == ["Corrupt(1.0): changed 1024 of 1024 bytes"]
    [changed] = sends(out)
    assert len(changed) == len(data)
    assert all(a != b for a, b in zip(changed, data, strict=True))
    assert out[1].note == "r"


@pytest.mark.parametrize("p", [0.01, 0.1, 0.5, 0.9])
def test_corrupt_changes_about_p_of_the_bytes(p):
    data = bytes(20000)
    out = faults.Corrupt(p).shape(Send(data), rng(11), State())
    [changed] = sends(out)
    assert len(changed) == len(data)
    n = sum(1 for b in changed if b)
    assert abs(n - p * len(data)) < 0.1 * p * len(data) + 50
    assert notes(out) == [f"Corrupt({p}): changed {n} of 20000 bytes"]


def test_corrupt_that_changes_nothing_notes_nothing():
    send = Send(b"a")
    fault = faults.Corrupt(0.001)
    quiet = [fault.shape(send, rng(n), State()) for n in range(50)]
    assert [send] in quiet  # most draws miss a single byte: no note then
    assert faults.Corrupt(1.0).shape(Send(b""), rng(), State()) == [Send(b"")]


def test_corrupt_is_seeded():
    fault, data = faults.Corrupt(0.5), bytes(100)
    assert fault.shape(Send(data), rng(7), State()) == fault.shape(Send(data), rng(7), State())
    assert fault.shape(Send(data), rng(7), State()) != fault.shape(Send(data), rng(8), State())


def test_garbage_plan():
    fault, state = faults.Garbage(8), State()
    junk = rng(4).randbytes(8)
    assert fault.on_connect(rng(4), state) == []
    assert fault.shape(Send(b"reply\n"), rng(4), state) == [
        Note("Garbage(8): 8 random bytes instead of 6, then close"),
        Send(junk, note="garbage"),
        Close("fault"),
    ]


# -- datagrams --------------------------------------------------------------------------------


def test_drop_plan():
    assert faults.Drop().shape(Send(b"abc"), rng(), State()) == [
        Note("Drop(1.0): dropped a datagram of 3 bytes")
    ]


def test_drop_half_is_seeded():
    def kept(seed: int) -> list[bytes]:
        r, state, out = rng(seed), State(), []
        for i in range(100):
            out += sends(faults.Drop(0.5).shape(Send(b"%d" % i), r, state))
        return out

    assert kept(7) == kept(7)
    assert kept(7) != kept(8)
    assert 25 < len(kept(7)) < 75


def test_duplicate_plan():
    send = Send(b"abc")
    assert faults.Duplicate().shape(send, rng(), State()) == [
        Note("Duplicate(1.0): sent a datagram of 3 bytes twice"),
        send,
        send,
    ]


def reordered(fault: faults.Reorder, n: int, seed: int = 1) -> list[bytes]:
    r, state, out = rng(seed), State(), []
    for i in range(1, n + 1):
        out += sends(fault.shape(Send(b"%d" % i), r, state))
    return out


def test_reorder_holds_and_releases():
    fault, r, state = faults.Reorder(1.0), rng(), State()
    assert fault.shape(Send(b"1"), r, state) == [
        Note("Reorder(1.0): holding a datagram back behind 1 later one(s)")
    ]
    assert state.held
    assert fault.shape(Send(b"2"), r, state) == [
        Send(b"2"),
        Note("Reorder(1.0): released a held datagram"),
        Send(b"1"),
    ]
    assert not state.held


def test_reorder_window_one_swaps_pairs():
    assert reordered(faults.Reorder(1.0, window=1), 6) == [b"2", b"1", b"4", b"3", b"6", b"5"]


def test_reorder_window_sends_after_up_to_window_later_ones():
    for seed in range(30):
        out = reordered(faults.Reorder(1.0, window=3), 40, seed)
        assert len(set(out)) == len(out) >= 39  # nothing duplicated, one held at most
        for i, data in enumerate(out):
            assert abs(int(data) - (i + 1)) <= 3, (seed, out)
        assert out != sorted(out, key=int)


def test_reorder_last_datagram_stays_held_until_released():
    assert reordered(faults.Reorder(1.0), 3) == [b"2", b"1"]


def test_reorder_releases_a_datagram_nothing_followed():
    fault, r, state = faults.Reorder(1.0), rng(), State()
    assert fault.holds(state) is None
    assert sends(fault.shape(Send(b"1"), r, state)) == []
    assert fault.holds(state) == 0.05
    assert fault.release(r, state) == [
        Note("Reorder(1.0): released a held datagram after 0.05 s: 0 of 1 later one(s) came"),
        Send(b"1"),
    ]
    assert not state.held
    assert fault.holds(state) is None
    assert fault.release(r, state) == []
    # What comes next is shaped as usual: held again, then let go by count.
    assert sends(fault.shape(Send(b"2"), r, state)) == []
    assert sends(fault.shape(Send(b"3"), r, state)) == [b"3", b"2"]


def test_reorder_releases_when_fewer_than_window_follow():
    fault, state = faults.Reorder(1.0, window=3, hold=0.2), State()
    seed = next(s for s in range(100) if rng(s).randint(1, 3) == 3)  # held behind 3 later ones
    r = rng(seed)
    assert notes(fault.shape(Send(b"1"), r, state)) == [
        "Reorder(1.0, window=3, hold=0.2): holding a datagram back behind 3 later one(s)"
    ]
    assert fault.shape(Send(b"2"), r, state) == [Send(b"2")]
    assert fault.shape(Send(b"3"), r, state) == [Send(b"3")]
    assert fault.holds(state) == 0.2
    assert fault.release(r, state) == [
        Note(
            "Reorder(1.0, window=3, hold=0.2): released a held datagram after 0.2 s: "
            "2 of 3 later one(s) came"
        ),
        Send(b"1"),
    ]
    assert fault.holds(state) is None


def test_reorder_release_after_a_count_release_is_empty():
    fault, r, state = faults.Reorder(1.0), rng(), State()
    fault.shape(Send(b"1"), r, state)
    assert sends(fault.shape(Send(b"2"), r, state)) == [b"2", b"1"]
    assert fault.holds(state) is None
    assert fault.release(r, state) == []


def test_reorder_release_draws_nothing():
    fault, r, state = faults.Reorder(0.5, window=4), rng(), State()
    while not state.held:
        fault.shape(Send(b"x"), r, state)
    before = r.getstate()
    assert sends(fault.release(r, state)) == [b"x"]
    assert r.getstate() == before


def test_reorder_with_release_is_seeded():
    def run(seed: int) -> list[object]:
        fault, r, state, out = faults.Reorder(0.5, window=3), rng(seed), State(), []
        for i in range(30):
            out += fault.shape(Send(b"%d" % i), r, state)
            if i % 7 == 6:
                out += fault.release(r, state)
        return out + fault.release(r, state)

    assert run(7) == run(7)
    assert run(7) != run(8)


@given(
    probability=st.floats(0, 1),
    window=st.integers(1, 5),
    seed=st.integers(0, 2**32 - 1),
    steps=st.lists(st.booleans(), max_size=40),
)
def test_reorder_never_drops_nor_duplicates(probability, window, seed, steps):
    """Datagrams (True) and timed releases (False) in any order, then a last release: every
    datagram comes out exactly once."""
    fault, r, state = faults.Reorder(probability, window=window), rng(seed), State()
    given_in, out = [], []
    for n, datagram in enumerate(steps):
        if datagram:
            given_in.append(b"%d" % n)
            out += sends(fault.shape(Send(given_in[-1]), r, state))
        else:
            out += sends(fault.release(r, state))
    out += sends(fault.release(r, state))
    assert Counter(out) == Counter(given_in)
    assert fault.holds(state) is None


# -- transports -------------------------------------------------------------------------------


def test_transports():
    udp = {name for name, cls in REGISTRY.items() if "udp" in cls.transports}
    tcp = {name for name, cls in REGISTRY.items() if "tcp" in cls.transports}
    assert udp == {"latency", "corrupt", "drop", "duplicate", "reorder"}
    assert {"drop", "duplicate", "reorder"}.isdisjoint(tcp)
    assert len(tcp) == 15
    assert {n for n in tcp if REGISTRY[n].tls_only} == {"handshake_hang", "handshake_reset"}
