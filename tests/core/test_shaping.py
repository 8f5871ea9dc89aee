"""FaultSet and Shaper: attaching faults, composing them, and seeded streams per connection."""

from __future__ import annotations

import pytest

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
