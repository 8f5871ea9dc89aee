"""sockfix.strategies: what each strategy makes, what it shrinks to, and its argument errors.

Shrink targets are tested the way Hypothesis tests its own (``tests/common/debug.py``):
``minimal(strategy, condition)`` is the simplest example that satisfies the condition.
No sockets here; the clients that use these strategies are in tests/net/test_property_clients.py.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

import sockfix
import sockfix.strategies as sst
from sockfix import faults, framing
from sockfix.faults import FaultPlan, PlannedFault
from sockfix.testing import FIXTURE_UNDER_GIVEN, SERVER_FIXTURES, fixtures_under_given

T = TypeVar("T")


def minimal(strategy: st.SearchStrategy[T], condition: Callable[[T], bool] = lambda _: True) -> T:
    """The example Hypothesis shrinks to among those satisfying ``condition``."""
    return find(strategy, condition, settings=settings(database=None, max_examples=2000))


# ----------------------------------------------------------------------------- imports


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )


def test_import_sockfix_does_not_import_hypothesis() -> None:
    done = _run(
        "import sockfix, sockfix.testing, sockfix.faults, sys; "
        "assert 'hypothesis' not in sys.modules, 'hypothesis was imported'"
    )
    assert done.returncode == 0, done.stderr


def test_without_hypothesis_the_import_error_names_the_extra() -> None:
    done = _run(
        "import sys; sys.modules['hypothesis'] = None\n"
        "try:\n"
        "    import sockfix.strategies\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
        "else:\n"
        "    raise SystemExit('no ImportError')\n"
    )
    assert done.returncode == 0, done.stderr
    assert "pip install 'sockfix[hypothesis]'" in done.stdout


def test_public_names() -> None:
    for name in sst.__all__:
        assert hasattr(sst, name), name
    assert {"chunk_sizes", "fault_plans", "fragmentations", "split_points"} <= set(sst.__all__)
    assert {"FaultPlan", "PlannedFault"} <= set(faults.__all__)


# ------------------------------------------------------------------------- chunk_sizes


def test_chunk_sizes_shrinks_to_one_send() -> None:
    assert minimal(sst.chunk_sizes(10)) == [10]


def test_chunk_sizes_shrinks_two_sends_to_a_small_first_chunk() -> None:
    assert minimal(sst.chunk_sizes(10), lambda s: len(s) >= 2) == [1, 9]
    assert minimal(sst.chunk_sizes(10), lambda s: len(s) >= 3) == [1, 1, 8]


def test_chunk_sizes_min_size_shrinks_to_it() -> None:
    assert minimal(sst.chunk_sizes(10, min_size=3), lambda s: len(s) >= 2) == [3, 7]


def test_chunk_sizes_can_send_one_byte_at_a_time() -> None:
    assert minimal(sst.chunk_sizes(8), lambda s: s == [1] * 8) == [1] * 8


def test_chunk_sizes_finds_a_split_inside_a_terminator() -> None:
    # The last two bytes, b"\r\n", sent apart: [..., 1, 1] or ending in a 1-byte chunk.
    assert minimal(sst.chunk_sizes(6), lambda s: s[-1] == 1) == [5, 1]


@settings(max_examples=200)
@given(data=st.data(), total=st.integers(1, 300), min_size=st.integers(1, 10))
def test_chunk_sizes_sum_to_total(data: st.DataObject, total: int, min_size: int) -> None:
    min_size = min(min_size, total)
    max_chunks = data.draw(st.none() | st.integers(1, 20), label="max_chunks")
    sizes = data.draw(sst.chunk_sizes(total, min_size=min_size, max_chunks=max_chunks))
    assert sum(sizes) == total
    assert all(isinstance(s, int) and s >= min_size for s in sizes)
    assert 1 <= len(sizes) <= (max_chunks or sst.DEFAULT_MAX_CHUNKS)


@given(sst.chunk_sizes(50, max_chunks=1))
def test_max_chunks_one_is_one_send(sizes: list[int]) -> None:
    assert sizes == [50]


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"total": 0}, ["total=0", ">= 1", "at least one byte"]),
        ({"total": -3}, ["total=-3"]),
        ({"total": True}, ["total must be an int"]),
        ({"total": 2.5}, ["total must be an int"]),
        ({"total": 5, "min_size": 0}, ["min_size=0"]),
        ({"total": 5, "min_size": 6}, ["min_size=6", "total=5", "min_size <= 5"]),
        ({"total": 5, "max_chunks": 0}, ["max_chunks=0", "max_chunks=1"]),
    ],
)
def test_chunk_sizes_bad_arguments(kwargs: dict[str, Any], words: list[str]) -> None:
    with pytest.raises(InvalidArgument) as info:
        sst.chunk_sizes(**kwargs)
    for word in words:
        assert word in str(info.value)


# --------------------------------------------------------------- fragmentations / splits


def test_fragmentations_shrink_to_one_write() -> None:
    assert minimal(sst.fragmentations(b"PING\r\n")) == [b"PING\r\n"]
    assert minimal(sst.fragmentations(b"PING\r\n"), lambda p: len(p) >= 2) == [b"P", b"ING\r\n"]


def test_split_points_shrink_to_no_cut() -> None:
    assert minimal(sst.split_points(b"hello")) == []
    assert minimal(sst.split_points(b"hello"), lambda c: len(c) >= 1) == [1]


def test_empty_data_has_one_fragmentation() -> None:
    assert minimal(sst.fragmentations(b"")) == []
    assert minimal(sst.split_points(b"")) == []


@given(data=st.binary(max_size=100), more=st.data())
def test_fragmentations_join_to_data(data: bytes, more: st.DataObject) -> None:
    pieces = more.draw(sst.fragmentations(data))
    assert b"".join(pieces) == data
    assert all(pieces)
    cuts = more.draw(sst.split_points(data, min_size=1))
    assert cuts == sorted(set(cuts))
    assert all(0 < c < len(data) for c in cuts)


@given(sst.fragmentations(b"abcdefghij", min_size=3, max_chunks=2))
def test_fragmentations_min_size_and_max_chunks(pieces: list[bytes]) -> None:
    assert len(pieces) <= 2
    assert all(len(p) >= 3 for p in pieces)


def test_fragmentations_bad_arguments() -> None:
    with pytest.raises(InvalidArgument, match=r"data=b'PING'"):
        sst.fragmentations("PING")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="data must be bytes"):
        sst.split_points(42)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="min_size=9"):
        sst.fragmentations(b"abc", min_size=9)


# -------------------------------------------------------------------------- fault plans


def test_fault_plans_shrink_to_no_faults() -> None:
    plan = minimal(sst.fault_plans())
    assert plan == FaultPlan(faults=())
    assert plan.faults == ()
    assert repr(plan) == "FaultPlan(faults=())"


def test_fault_plans_shrink_to_the_mildest_fault() -> None:
    assert minimal(sst.fault_plans(), lambda p: len(p) >= 1) == FaultPlan([faults.Latency(0)])
    kinds = ["reset", "latency"]
    assert minimal(sst.fault_plans(kinds=kinds), lambda p: len(p) >= 1) == FaultPlan(
        [faults.Reset()]
    )


def test_fault_plans_shrink_to_the_fault_that_matters() -> None:
    def resets_early(plan: FaultPlan) -> bool:
        return any(isinstance(f, faults.Reset) and f.after_bytes < 10 for f in plan.faults)

    plan = minimal(sst.fault_plans(kinds=["latency", "chunked", "reset"]), resets_early)
    assert plan == FaultPlan([faults.Reset()])
    assert repr(plan) == "FaultPlan([Reset()])"


def test_fault_plans_with_connections_shrink_to_the_first() -> None:
    plan = minimal(sst.fault_plans(kinds=["reset"], connections=3), lambda p: len(p) >= 1)
    assert plan == FaultPlan([PlannedFault(faults.Reset(), connections=(1,))])
    assert repr(plan) == "FaultPlan([PlannedFault(Reset(), connections=[1])])"


@given(sst.fault_plans(kinds=["latency", "chunked", "reset"], max_faults=2))
def test_fault_plans_draw_the_kinds_asked_for(plan: FaultPlan) -> None:
    assert len(plan) <= 2
    for f in plan.faults:
        assert type(f) in (faults.Latency, faults.Chunked, faults.Reset)
        if isinstance(f, faults.Latency):
            assert 0 <= f.seconds <= 0.05
        elif isinstance(f, faults.Chunked):
            assert 1 <= f.size <= 64
        else:
            assert isinstance(f, faults.Reset)
            assert 0 <= f.after_bytes <= 64
    assert all(a.connections is None and a.direction == "both" for a in plan.attachments)


@given(sst.fault_plans(min_faults=1, max_faults=4))
def test_default_kinds_are_every_tcp_fault(plan: FaultPlan) -> None:
    assert 1 <= len(plan) <= 4
    assert all("tcp" in type(f).transports for f in plan.faults)


@given(sst.fault_plans(transport="udp", min_faults=1))
def test_udp_plans_hold_udp_faults(plan: FaultPlan) -> None:
    assert all("udp" in type(f).transports for f in plan.faults)


@given(sst.fault_plans(connections=[2, 5], directions=["upstream", "downstream"], min_faults=1))
def test_connections_and_directions(plan: FaultPlan) -> None:
    for a in plan.attachments:
        assert a.connections is not None
        assert set(a.connections) <= {2, 5}
        assert a.direction in ("upstream", "downstream")


def test_every_registered_fault_can_be_drawn() -> None:
    drawable = {f.name for f in faults.REGISTRY.values()}
    for name in drawable:
        fault = minimal(
            sst.fault_values([name], transport=next(iter(sorted(faults.REGISTRY[name].transports))))
        )
        assert fault.name == name


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"kinds": ["latency", "nope"]}, ["unknown fault 'nope'", "latency", "chunked", "reset"]),
        ({"kinds": "latency"}, ["kinds=['latency']"]),
        ({"kinds": []}, ["kinds=[]", "max_faults=0"]),
        ({"kinds": [3]}, ["fault names"]),
        ({"kinds": ["drop"]}, ["'drop' is not a TCP fault", "transport='tcp'"]),
        ({"kinds": ["reset"], "transport": "udp"}, ["'reset' is not a UDP fault"]),
        ({"transport": "sctp"}, ["transport must be 'tcp' or 'udp'"]),
        ({"max_faults": -1}, ["max_faults=-1"]),
        ({"min_faults": 3, "max_faults": 2}, ["min_faults=3", "max_faults >= 3"]),
        ({"connections": 0}, ["connections=0", "from 1"]),
        ({"connections": [0, 1]}, ["connection numbers >= 1"]),
        ({"connections": "1"}, ["connections takes"]),
        ({"directions": ["sideways"]}, ["'upstream'", "sideways"]),
        ({"directions": "upstream"}, ["directions=['upstream']"]),
        ({"directions": ["both"], "transport": "udp"}, ["TCPProxy"]),
    ],
)
def test_fault_plans_bad_arguments(kwargs: dict[str, Any], words: list[str]) -> None:
    with pytest.raises(InvalidArgument) as info:
        sst.fault_plans(**kwargs)
    for word in words:
        assert word in str(info.value)


def test_kind_names_are_normalised() -> None:
    assert minimal(sst.fault_values(["Slow-Close"])) == faults.SlowClose(0)


# ---------------------------------------------------------------------------- FaultPlan


class _Recorder:
    """A stand-in for a server: ``fault(f, connections=...)``."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def fault(self, fault: faults.Fault, connections: list[int] | None = None) -> faults.Fault:
        self.calls.append((fault, connections))
        return fault


class _ProxyRecorder:
    """A stand-in for a proxy: ``fault(f, connections=..., direction=...)``."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def fault(
        self, fault: faults.Fault, connections: list[int] | None = None, direction: str = "both"
    ) -> faults.Fault:
        self.calls.append((fault, connections, direction))
        return fault


def test_fault_plan_value() -> None:
    plan = FaultPlan([faults.Latency(0.01), PlannedFault(faults.Reset(), connections=[2, 1])])
    assert plan.faults == (faults.Latency(0.01), faults.Reset())
    assert plan.attachments[1].connections == (1, 2)
    assert len(plan) == 2
    assert plan == FaultPlan([faults.Latency(0.01), PlannedFault(faults.Reset(), (1, 2))])
    assert hash(plan) == hash(
        FaultPlan([faults.Latency(0.01), PlannedFault(faults.Reset(), (1, 2))])
    )
    assert repr(plan) == "FaultPlan([Latency(0.01), PlannedFault(Reset(), connections=[1, 2])])"
    assert FaultPlan() == FaultPlan(faults=()) == FaultPlan([])
    assert not FaultPlan()
    with pytest.raises(AttributeError):
        plan.attachments = ()  # type: ignore[misc]


def test_fault_plan_repr_round_trips() -> None:
    plan = FaultPlan(
        [
            faults.Chunked(3, delay=0.001),
            PlannedFault(faults.Latency(0.02), connections=[1], direction="upstream"),
        ]
    )
    namespace = {**{n: getattr(faults, n) for n in faults.__all__}}
    assert eval(repr(plan), namespace) == plan


def test_fault_plan_apply_to_a_server() -> None:
    plan = FaultPlan([faults.Latency(0.01), PlannedFault(faults.Reset(), connections=[2])])
    target = _Recorder()
    plan.apply(target)
    assert target.calls == [(faults.Latency(0.01), None), (faults.Reset(), [2])]


def test_fault_plan_apply_to_a_proxy_passes_the_direction() -> None:
    plan = FaultPlan(
        [faults.Latency(0.01), PlannedFault(faults.Chunked(1), direction="downstream")]
    )
    target = _ProxyRecorder()
    plan.apply(target)
    assert target.calls == [
        (faults.Latency(0.01), None, "both"),
        (faults.Chunked(1), None, "downstream"),
    ]


def test_fault_plan_direction_on_a_server_is_an_error() -> None:
    plan = FaultPlan([faults.Latency(0), PlannedFault(faults.Reset(), direction="upstream")])
    target = _Recorder()
    with pytest.raises(ValueError, match="only a proxy has directions"):
        plan.apply(target)
    assert target.calls == []  # nothing half-applied


@pytest.mark.parametrize(
    ("make", "error", "words"),
    [
        (lambda: FaultPlan(["reset"]), TypeError, "faults from sockfix.faults"),  # type: ignore[list-item]
        (lambda: FaultPlan(3), TypeError, "list of faults"),  # type: ignore[arg-type]
        (lambda: PlannedFault("reset"), TypeError, "PlannedFault takes a fault"),  # type: ignore[arg-type]
        (lambda: PlannedFault(faults.Reset(), connections=[0]), ValueError, ">= 1"),
        (lambda: PlannedFault(faults.Reset(), connections=[]), ValueError, ">= 1"),
        (lambda: PlannedFault(faults.Reset(), connections=5.0), TypeError, "connection numbers"),  # type: ignore[arg-type]
        (lambda: PlannedFault(faults.Reset(), direction="up"), ValueError, "'upstream'"),
        (lambda: FaultPlan().apply(object()), TypeError, "server or proxy"),
    ],
)
def test_fault_plan_bad_arguments(make: Callable[[], object], error: type, words: str) -> None:
    with pytest.raises(error, match=words):
        make()


def test_a_single_fault_is_a_plan() -> None:
    assert FaultPlan(faults.Reset()) == FaultPlan([faults.Reset()])  # type: ignore[arg-type]
    assert PlannedFault(faults.Reset(), connections=2).connections == (2,)


# ----------------------------------------------------------------------- framed_messages


@given(sst.framed_messages(framing.delimited(b"\r\n"), max_size=10))
def test_delimited_messages_end_at_their_separator(messages: list[bytes]) -> None:
    for m in messages:
        assert m.endswith(b"\r\n")
        assert m.find(b"\r\n") == len(m) - 2


@given(sst.framed_messages(framing.length_prefixed("!B"), max_body=1000))
def test_prefixed_messages_fit_their_prefix(messages: list[bytes]) -> None:
    for m in messages:
        assert m[0] == len(m) - 1 <= 255


def test_framed_messages_shrink_to_nothing() -> None:
    assert minimal(sst.framed_messages(framing.lines())) == []
    assert minimal(sst.framed_messages(framing.lines()), lambda ms: len(ms) >= 1) == [b"\n"]
    assert minimal(sst.framed_messages(framing.length_prefixed("!H"), min_size=1)) == [b"\0\0"]
    assert minimal(sst.framed_messages(framing.fixed(3), min_size=2)) == [b"\0\0\0"] * 2


def test_framed_messages_bad_arguments() -> None:
    with pytest.raises(InvalidArgument, match=r"raw\(\) has no message format"):
        sst.framed_messages(framing.raw())
    with pytest.raises(InvalidArgument, match="check_framing"):
        sst.framed_messages(lambda buffer: None)
    with pytest.raises(InvalidArgument, match="min_size=3 is more than max_size=1"):
        sst.framed_messages(framing.lines(), min_size=3, max_size=1)
    with pytest.raises(InvalidArgument, match="max_body=-1"):
        sst.framed_messages(framing.lines(), max_body=-1)


# ------------------------------------------------------- the plugin's warning under @given


def test_fixtures_under_given() -> None:
    @given(st.integers())
    def with_given(tcp_server: object, x: int) -> None:
        pass

    def plain(tcp_server: object) -> None:
        pass

    names = ["request", "tcp_server", "make_tcp_proxy", "tmp_path"]
    assert fixtures_under_given(with_given, names) == ["make_tcp_proxy", "tcp_server"]
    assert fixtures_under_given(with_given, ["tmp_path"]) == []
    assert fixtures_under_given(plain, names) == []
    assert {"tcp_server", "udp_server", "make_tcp_server"} <= SERVER_FIXTURES


def test_fixture_under_given_message() -> None:
    text = FIXTURE_UNDER_GIVEN.format(test="test_client", fixtures="tcp_server")
    assert text.startswith("test_client is a Hypothesis @given test")
    assert "tcp_server" in text
    assert "with sockfix.TCPServer() as server:" in text
    assert "times(n)" in text
    assert "function_scoped_fixture" in text
    assert hasattr(sockfix, "TCPServer")  # the example in the message names a real class
