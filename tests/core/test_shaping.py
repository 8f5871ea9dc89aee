"""FaultSet and Shaper: attaching faults, composing them, and seeded streams per connection."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sockfix import faults
from sockfix.core.actions import Close, Hang, Note, Reset, Send, Wait
from sockfix.core.faults.shaping import FaultSet, Shaper, check_connections, pick_seed, stream


def tcp() -> FaultSet:
    return FaultSet("tcp")


def shaped(fs: FaultSet, seed: int, number: int, data: bytes = bytes(200)) -> list[object]:
    return Shaper(fs, seed, number, "downstream").shape([Send(data)])


def sent(actions: list[object]) -> bytes:
    return b"".join(a.data for a in actions if isinstance(a, Send))


# -- streams ----------------------------------------------------------------------------------


def test_stream_is_keyed_by_seed_connection_direction_and_fault():
    first = stream(7, 1, "downstream", 1).random()
    assert stream(7, 1, "downstream", 1).random() == first
    others = {
        stream(8, 1, "downstream", 1).random(),
        stream(7, 2, "downstream", 1).random(),
        stream(7, 1, "upstream", 1).random(),
        stream(7, 1, "downstream", 2).random(),
    }
    assert first not in others
    assert len(others) == 4


def test_pick_seed():
    seeds = {pick_seed() for _ in range(20)}
    assert len(seeds) > 1
    assert all(isinstance(s, int) and 0 <= s < 2**32 for s in seeds)


# -- determinism ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fault", [faults.Corrupt(0.5), faults.Latency(0.1, jitter=0.05), faults.Garbage(32)]
)
def test_same_seed_same_steps_other_seed_other_steps(fault):
    fs = tcp()
    fs.add(fault)
    assert shaped(fs, 7, 1) == shaped(fs, 7, 1)
    assert shaped(fs, 7, 1) != shaped(fs, 8, 1)
    assert shaped(fs, 7, 1) != shaped(fs, 7, 2)  # each connection has its own stream


def test_adding_a_connection_never_shifts_another():
    fs = tcp()
    fs.add(faults.Corrupt(0.5))
    alone = Shaper(fs, 7, 2, "downstream")
    alone_out = [alone.shape([Send(bytes(50))]) for _ in range(3)]

    busy_first = Shaper(fs, 7, 1, "downstream")
    second = Shaper(fs, 7, 2, "downstream")
    third = Shaper(fs, 7, 3, "downstream")
    crowd_out = []
    for _ in range(3):
        busy_first.shape([Send(bytes(500))])
        crowd_out.append(second.shape([Send(bytes(50))]))
        third.shape([Send(bytes(500))])
    assert crowd_out == alone_out


def test_adding_a_fault_never_shifts_another():
    one = tcp()
    one.add(faults.Corrupt(0.5))
    two = tcp()
    two.add(faults.Corrupt(0.5))
    two.add(faults.Latency(0.1, jitter=0.05))
    a = shaped(one, 7, 1)
    b = shaped(two, 7, 1)
    assert [x for x in b if not isinstance(x, Wait) and "Latency" not in str(x)] == a


# -- composing -------------------------------------------------------------------------------


def test_faults_compose_in_the_order_added():
    chunk_then_delay = tcp()
    chunk_then_delay.add(faults.Chunked(2))
    chunk_then_delay.add(faults.Latency(0.1))
    assert Shaper(chunk_then_delay, 1, 1, "downstream").shape([Send(b"abcd")]) == [
        Note("Chunked(2): 4 bytes as 2 sends"),
        Note("Latency(0.1): delayed 4 bytes by 0.100000 s"),
        Wait(0.1),
        Send(b"abcd", 2),
    ]
    delay_then_chunk = tcp()
    delay_then_chunk.add(faults.Latency(0.1))
    delay_then_chunk.add(faults.Chunked(2))
    assert Shaper(delay_then_chunk, 1, 1, "downstream").shape([Send(b"abcd")]) == [
        Note("Latency(0.1): delayed 4 bytes by 0.100000 s"),
        Wait(0.1),
        Note("Chunked(2): 4 bytes as 2 sends"),
        Send(b"abcd", 2),
    ]


def test_a_later_fault_shapes_what_an_earlier_one_made():
    fs = tcp()
    fs.add(faults.Truncate(3))
    fs.add(faults.SlowClose(0.5))
    assert Shaper(fs, 1, 1, "downstream").shape([Send(b"abcdef")]) == [
        Send(b"abc"),
        Note("Truncate(3): truncated after 3 bytes (3 bytes not sent)"),
        Note("SlowClose(0.5): FIN delayed 0.5 s"),
        Wait(0.5),
        Close("fault"),
    ]


def test_other_actions_pass_through():
    fs = tcp()
    fs.add(faults.Latency(0.1))
    actions = [Wait(1.0), Hang("rule 1"), Reset("rule 2")]
    assert Shaper(fs, 1, 1, "downstream").shape(list(actions)) == actions


def test_no_faults_is_the_identity():
    actions = [Send(b"a"), Close()]
    shaper = Shaper(tcp(), 1, 1, "downstream")
    assert shaper.shape(actions) is actions
    assert shaper.on_connect() == []


def test_on_connect_collects_every_fault():
    fs = tcp()
    fs.add(faults.Latency(0.1))
    fs.add(faults.Reset())
    assert Shaper(fs, 1, 1, "downstream").on_connect() == [
        Note("Reset(): reset on connect"),
        Reset("fault"),
    ]


def test_connections_pick_connections():
    fs = tcp()
    fs.add(faults.Reset(), connections=[1, 2])
    assert [bool(Shaper(fs, 1, n, "downstream").on_connect()) for n in (1, 2, 3, 4)] == [
        True,
        True,
        False,
        False,
    ]
    fs2 = tcp()
    fs2.add(faults.Reset(), connections=3)
    assert [bool(Shaper(fs2, 1, n, "downstream").on_connect()) for n in (1, 2, 3)] == [
        False,
        False,
        True,
    ]


def test_changes_reach_open_shapers_at_their_next_send():
    fs = tcp()
    shaper = Shaper(fs, 1, 1, "downstream")
    assert shaper.shape([Send(b"abcd")]) == [Send(b"abcd")]
    fs.add(faults.Chunked(2))
    assert shaper.shape([Send(b"abcd")])[-1] == Send(b"abcd", 2)
    fs.clear()
    assert shaper.shape([Send(b"abcd")]) == [Send(b"abcd")]
    assert fs.describe() == []


def test_per_connection_state_lives_in_the_shaper():
    fs = tcp()
    fs.add(faults.Truncate(3))
    shaper = Shaper(fs, 1, 1, "downstream")
    assert shaper.shape([Send(b"ab")]) == [Send(b"ab")]
    assert sent(shaper.shape([Send(b"cd")])) == b"c"
    # Another connection counts its own bytes.
    assert Shaper(fs, 1, 2, "downstream").shape([Send(b"ab")]) == [Send(b"ab")]


def test_directions():
    fs = FaultSet("tcp", directional=True)
    fs.add(faults.Chunked(1), direction="downstream")
    fs.add(faults.Latency(0.1))  # both
    up = Shaper(fs, 1, 1, "upstream").shape([Send(b"ab")])
    down = Shaper(fs, 1, 1, "downstream").shape([Send(b"ab")])
    assert [type(a).__name__ for a in up] == ["Note", "Wait", "Send"]
    assert down[0] == Note("Chunked(1): 2 bytes as 2 sends")
    assert fs.describe() == [
        "Chunked(1) on all connections, downstream",
        "Latency(0.1) on all connections",
    ]


def test_describe():
    fs = tcp()
    fs.add(faults.Reset(), connections=[2, 1])
    fs.add(faults.Latency(0.05, jitter=0.01))
    assert fs.describe() == [
        "Reset() on connections [1, 2]",
        "Latency(0.05, jitter=0.01) on all connections",
    ]


def test_add_returns_the_fault():
    f = faults.Reset()
    assert tcp().add(f) is f


# -- held datagrams -------------------------------------------------------------------------


def udp(*attached: faults.Fault) -> FaultSet:
    fs = FaultSet("udp")
    for fault in attached:
        fs.add(fault)
    return fs


def test_holds_and_release_with_nothing_held():
    assert Shaper(udp(), 1, 1, "downstream").holds() is None
    assert Shaper(udp(), 1, 1, "downstream").release() == []
    shaper = Shaper(udp(faults.Latency(0.1), faults.Reorder(0.0)), 1, 1, "downstream")
    shaper.shape([Send(b"1")])
    assert shaper.holds() is None
    assert shaper.release() == []


def test_release_gives_back_a_datagram_nothing_followed():
    shaper = Shaper(udp(faults.Reorder(1.0)), 1, 1, "downstream")
    assert sent(shaper.shape([Send(b"1")])) == b""
    assert shaper.holds() == 0.05
    assert shaper.held() == [Send(b"1")]
    assert shaper.release() == [
        Note("Reorder(1.0): released a held datagram after 0.05 s: 0 of 1 later one(s) came"),
        Send(b"1"),
    ]
    assert shaper.holds() is None
    assert shaper.held() == []
    assert shaper.release() == []


def test_release_after_a_count_release_is_empty():
    shaper = Shaper(udp(faults.Reorder(1.0)), 1, 1, "downstream")
    shaper.shape([Send(b"1")])
    assert sent(shaper.shape([Send(b"2")])) == b"21"
    assert shaper.holds() is None
    assert shaper.release() == []


def seed_where_fault_2_holds_behind_3() -> int:
    """A seed with which the second fault, a ``Reorder(1.0, window=3)``, first draws 3."""
    return next(s for s in range(100) if stream(s, 1, "downstream", 2).randint(1, 3) == 3)


def test_holds_is_the_smallest_hold():
    fs = udp(faults.Reorder(1.0, hold=0.2), faults.Reorder(1.0, window=3, hold=0.05))
    shaper = Shaper(fs, seed_where_fault_2_holds_behind_3(), 1, "downstream")
    shaper.shape([Send(b"1")])  # the first holds 1
    assert shaper.holds() == 0.2
    shaper.shape([Send(b"2")])  # the first lets 1 go behind 2; the second holds 2
    assert shaper.holds() == 0.05
    shaper.shape([Send(b"3")])  # the first holds 3
    assert shaper.holds() == 0.05


def test_release_goes_in_the_order_added_through_the_later_faults():
    fs = udp(faults.Reorder(1.0), faults.Reorder(1.0, window=3, hold=0.1))
    shaper = Shaper(fs, seed_where_fault_2_holds_behind_3(), 1, "downstream")
    shaper.shape([Send(b"1")])  # the first holds 1
    assert sent(shaper.shape([Send(b"2")])) == b"1"  # the second holds 2, behind 3 later ones
    assert sent(shaper.shape([Send(b"3")])) == b""  # the first holds 3
    assert shaper.release() == [
        Note("Reorder(1.0): released a held datagram after 0.05 s: 0 of 1 later one(s) came"),
        Send(b"3"),  # 3 passes the second fault, its second later one
        Note(
            "Reorder(1.0, window=3, hold=0.1): released a held datagram after 0.1 s: "
            "2 of 3 later one(s) came"
        ),
        Send(b"2"),
    ]
    assert shaper.holds() is None


def test_what_is_released_passes_the_later_faults():
    shaper = Shaper(udp(faults.Reorder(1.0), faults.Duplicate()), 1, 1, "downstream")
    shaper.shape([Send(b"1")])
    assert shaper.release() == [
        Note("Reorder(1.0): released a held datagram after 0.05 s: 0 of 1 later one(s) came"),
        Note("Duplicate(1.0): sent a datagram of 1 bytes twice"),
        Send(b"1"),
        Send(b"1"),
    ]


def test_release_lets_go_of_what_a_cleared_fault_holds():
    fs = udp(faults.Reorder(1.0))
    shaper = Shaper(fs, 1, 1, "downstream")
    shaper.shape([Send(b"1")])
    fs.clear()
    assert shaper.shape([Send(b"2")]) == [Send(b"2")]  # no fault left to let it go by count
    assert shaper.holds() == 0.05
    assert sent(shaper.release()) == b"1"
    assert shaper.holds() is None


def test_release_is_seeded():
    def run(seed: int) -> list[object]:
        shaper = Shaper(udp(faults.Reorder(0.5, window=3), faults.Drop(0.3)), seed, 1, "downstream")
        out = []
        for i in range(30):
            out += shaper.shape([Send(b"%d" % i)])
            if i % 5 == 4:
                out += shaper.release()
        return out + shaper.release()

    assert run(7) == run(7)
    assert run(7) != run(8)


@given(
    probability=st.floats(0, 1),
    window=st.integers(1, 5),
    seed=st.integers(0, 2**32 - 1),
    steps=st.lists(st.sampled_from(["datagram", "release", "clear", "add"]), max_size=40),
)
def test_shaped_through_reorder_every_datagram_comes_out_once(probability, window, seed, steps):
    """Datagrams, timed releases, clears and re-adds in any order, then a last release."""
    fault = faults.Reorder(probability, window=window)
    fs = udp(fault)
    shaper = Shaper(fs, seed, 1, "downstream")
    given_in, out = [], []
    for n, step in enumerate(steps):
        if step == "datagram":
            given_in.append(b"%d" % n)
            out += shaper.shape([Send(given_in[-1])])
        elif step == "release":
            out += shaper.release()
        elif step == "clear":
            fs.clear()
        else:
            fs.add(fault)
    out += shaper.release()
    assert Counter(a.data for a in out if isinstance(a, Send)) == Counter(given_in)
    assert shaper.holds() is None
    assert shaper.held() == []


# -- errors -----------------------------------------------------------------------------------


def test_add_takes_only_faults():
    with pytest.raises(TypeError, match=r"faults\.Reset\(\)") as info:
        tcp().add(faults.Reset)
    assert "sockfix.faults" in str(info.value)
    with pytest.raises(TypeError):
        tcp().add("reset")


def test_udp_only_fault_on_tcp_names_the_tcp_faults():
    with pytest.raises(TypeError) as info:
        tcp().add(faults.Drop(0.5))
    text = str(info.value)
    assert "Drop(0.5) is not a TCP fault" in text
    for name in ("Bandwidth", "Chunked", "Corrupt", "Latency", "Reset", "Truncate", "Hang"):
        assert name in text
    assert "Duplicate" not in text
    assert "Reorder" not in text


def test_tcp_only_fault_on_udp_names_the_udp_faults():
    with pytest.raises(TypeError) as info:
        FaultSet("udp").add(faults.Reset())
    text = str(info.value)
    assert "Reset() is not a UDP fault" in text
    assert "Corrupt, Drop, Duplicate, Latency, Reorder" in text


def test_bad_direction():
    fs = FaultSet("tcp", directional=True)
    with pytest.raises(ValueError, match="'upstream', 'downstream' or 'both', got 'up'"):
        fs.add(faults.Latency(0.1), direction="up")


@pytest.mark.parametrize(
    ("connections", "error", "words"),
    [
        ([0], ValueError, ["the first connection is 1", "[0]"]),
        ([1, -2], ValueError, ["[1, -2]"]),
        ([], ValueError, [">= 1", "[]"]),
        ([True], ValueError, ["[True]"]),
        ([1.0], ValueError, ["[1.0]"]),
        ("12", TypeError, ["a list of connection numbers", "'12'"]),
        (1.5, TypeError, ["1.5"]),
    ],
)
def test_bad_connections(connections, error, words):
    with pytest.raises(error) as info:
        tcp().add(faults.Reset(), connections=connections)
    for word in words:
        assert word in str(info.value)


def test_a_failed_add_attaches_nothing():
    fs = tcp()
    with pytest.raises(ValueError):
        fs.add(faults.Reset(), connections=[0])
    assert fs.attached == ()


def test_check_connections():
    assert check_connections(None) is None
    assert check_connections([2, 1, 2]) == frozenset({1, 2})
    assert check_connections(range(1, 4)) == frozenset({1, 2, 3})
