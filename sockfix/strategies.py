"""Hypothesis strategies for property-testing clients against sockfix peers.

Install with ``pip install 'sockfix[hypothesis]'``. This is the only sockfix module that imports
Hypothesis; ``import sockfix`` never does.

- :func:`chunk_sizes` draws lists of sizes for ``rule.chunked(sizes)``: how a reply is cut into
  sends. It shrinks towards one send, ``[total]``.
- :func:`fault_plans` draws :class:`sockfix.faults.FaultPlan` values: a few faults with small
  arguments, attached with ``plan.apply(server)``. It shrinks towards no faults.
- :func:`split_points` and :func:`fragmentations` cut a byte string into client-side writes;
  they shrink towards one write.
- :func:`framed_messages` draws lists of complete messages for a built-in framing, for
  :func:`sockfix.testing.check_framing` and for scripting the bytes a client sends.

Open the server inside the test (``with sockfix.TCPServer() as server:``), not through the
``tcp_server`` fixture: a function-scoped fixture is one server shared by every example.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Sequence

try:
    from hypothesis import strategies as st
    from hypothesis.errors import InvalidArgument
except ImportError as exc:  # pragma: no cover - exercised in a subprocess
    raise ImportError(
        "sockfix.strategies needs Hypothesis, which is not installed: "
        "pip install 'sockfix[hypothesis]'"
    ) from exc

from sockfix import faults as _faults
from sockfix.faults import Fault, FaultPlan, PlannedFault
from sockfix.framing import _Delimited, _Fixed, _LengthPrefixed, _Raw

__all__ = [
    "DEFAULT_MAX_CHUNKS",
    "chunk_sizes",
    "fault_plans",
    "fault_values",
    "fragmentations",
    "framed_messages",
    "split_points",
]

DEFAULT_MAX_CHUNKS = 64
"""``chunk_sizes(total)`` draws at most this many chunks unless ``max_chunks`` says otherwise."""


# --------------------------------------------------------------------- argument checks


def _check_int(value: object, name: str, *, minimum: int, fix: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(f"{name} must be an int, got {value!r}")
    if value < minimum:
        hint = f"; {fix}" if fix else ""
        raise InvalidArgument(f"{name}={value!r} must be >= {minimum}{hint}")
    return value


def _check_bytes(value: object, name: str) -> bytes:
    if isinstance(value, str):
        raise InvalidArgument(
            f"{name} must be bytes, not str: write {name}={value.encode()!r} instead of {value!r}"
        )
    if not isinstance(value, bytes | bytearray | memoryview):
        raise InvalidArgument(f"{name} must be bytes, got {value!r}")
    return bytes(value)


# ------------------------------------------------------------------------- chunk sizes


def chunk_sizes(
    total: int, *, min_size: int = 1, max_chunks: int | None = None
) -> st.SearchStrategy[list[int]]:
    """Lists of ints, each >= ``min_size``, summing to exactly ``total``: ways to cut a reply of
    ``total`` bytes into sends, for ``server.expect(...).respond(reply).chunked(sizes)``.

    Every size is at least ``min_size``, the last one included (so ``total >= min_size`` is
    required); there are at most ``max_chunks`` sizes (default: as many as ``min_size`` allows,
    up to :data:`DEFAULT_MAX_CHUNKS`). ``total`` must be >= 1: ``chunked()`` needs at least one
    size, and an empty reply has nothing to cut.

    Mostly a few chunks, sometimes many (one byte at a time), cut anywhere. Shrinks towards one
    send, ``[total]``, then towards fewer chunks and cuts nearer the start: the minimal two-send
    split is ``[min_size, total - min_size]``.
    """
    _check_int(total, "total", minimum=1, fix="a reply needs at least one byte to be chunked")
    _check_int(min_size, "min_size", minimum=1)
    if min_size > total:
        raise InvalidArgument(
            f"min_size={min_size!r} is more than total={total!r}: no chunk can be that large; "
            f"use min_size <= {total}"
        )
    most = total // min_size
    if max_chunks is None:
        most = min(most, DEFAULT_MAX_CHUNKS)
    else:
        _check_int(max_chunks, "max_chunks", minimum=1, fix="use max_chunks=1 for a single send")
        most = min(most, max_chunks)
    if most == 1:
        return st.just([total])
    # The offsets where the reply is cut: deleting one merges two chunks, so Hypothesis's list
    # shrinking (fewer elements, then smaller ones) gives fewer chunks first. Repeats are
    # allowed and ignored (a unique list at its full size cannot shrink by deletion).
    cuts = st.lists(st.integers(1, total - 1), max_size=2 * (most - 1))
    return cuts.map(lambda offsets: _sizes(total, min_size, most, offsets))


def _sizes(total: int, min_size: int, most: int, offsets: list[int]) -> list[int]:
    """Chunk sizes for the first ``most - 1`` distinct cuts in ``offsets``, skipping cuts that
    would leave a chunk smaller than ``min_size``."""
    edges = [0]
    for at in sorted(list(dict.fromkeys(offsets))[: most - 1]):
        if at - edges[-1] >= min_size and total - at >= min_size:
            edges.append(at)
    edges.append(total)
    return [edges[i + 1] - edges[i] for i in range(len(edges) - 1)]


def split_points(
    data: bytes, *, min_size: int = 1, max_chunks: int | None = None
) -> st.SearchStrategy[list[int]]:
    """Sorted lists of offsets strictly inside ``data`` (``0 < i < len(data)``) where it is cut
    into separate writes; pieces are at least ``min_size`` bytes and at most ``max_chunks``.

    ``data`` of zero bytes has only ``[]``. Shrinks towards no cut (``[]``: one write), and a
    single cut towards ``[min_size]``.
    """
    data = _check_bytes(data, "data")
    if not data:
        _check_int(min_size, "min_size", minimum=1)
        return st.just([])
    return chunk_sizes(len(data), min_size=min_size, max_chunks=max_chunks).map(_offsets)


def _offsets(sizes: list[int]) -> list[int]:
    out, at = [], 0
    for size in sizes[:-1]:
        at += size
        out.append(at)
    return out


def fragmentations(
    data: bytes, *, min_size: int = 1, max_chunks: int | None = None
) -> st.SearchStrategy[list[bytes]]:
    """Lists of non-empty byte strings that join to exactly ``data``: the writes a client makes
    (``for piece in pieces: sock.sendall(piece)``).

    Each piece is at least ``min_size`` bytes; ``data`` of zero bytes gives ``[]``. Shrinks towards
    one write, ``[data]``, and two writes towards ``[data[:min_size], data[min_size:]]``.
    """
    data = _check_bytes(data, "data")
    return split_points(data, min_size=min_size, max_chunks=max_chunks).map(
        lambda cuts: _cut(data, cuts)
    )


def _cut(data: bytes, cuts: list[int]) -> list[bytes]:
    if not data:
        return []
    edges = [0, *cuts, len(data)]
    return [data[edges[i] : edges[i + 1]] for i in range(len(edges) - 1)]


# ---------------------------------------------------------------------------- faults


def _ms(most: int) -> st.SearchStrategy[float]:
    """Whole milliseconds in [0, most ms], as seconds (readable, shrinks towards 0)."""
    return st.integers(0, most).map(lambda ms: ms / 1000)


_PROBABILITIES = st.sampled_from([1.0, 0.5, 0.1, 0.01])  # shrinks towards 1.0: always
_OFFSETS = st.integers(0, 64)

_FAULT_VALUES: dict[str, st.SearchStrategy[Fault]] = {
    # Mildest first: ``kinds=None`` draws in this order, and shrinks towards the front.
    "latency": st.builds(_faults.Latency, _ms(50), jitter=_ms(10)),
    "chunked": st.builds(_faults.Chunked, st.integers(1, 64), delay=_ms(2)),
    "bandwidth": st.builds(_faults.Bandwidth, st.integers(10_000, 1_000_000)),
    "slow_close": st.builds(_faults.SlowClose, _ms(50)),
    "duplicate": st.builds(_faults.Duplicate, _PROBABILITIES),
    "reorder": st.builds(_faults.Reorder, _PROBABILITIES, window=st.integers(1, 4)),
    "drop": st.builds(_faults.Drop, _PROBABILITIES),
    "corrupt": st.builds(_faults.Corrupt, _PROBABILITIES),
    "truncate": st.builds(_faults.Truncate, _OFFSETS),
    "close": st.builds(_faults.Close, after_bytes=_OFFSETS),
    "half_close": st.builds(_faults.HalfClose, after_bytes=_OFFSETS),
    "reset": st.builds(_faults.Reset, after_bytes=_OFFSETS),
    "garbage": st.builds(_faults.Garbage, _OFFSETS),
    "timeout": st.builds(_faults.Timeout, _ms(50)),
    "reset_after": st.builds(_faults.ResetAfter, _ms(50)),
    "hang": st.just(_faults.Hang()),
}
"""Argument ranges per registered fault name: small, so that examples stay fast."""

_TRANSPORTS = ("tcp", "udp")
_DIRECTIONS = ("both", "upstream", "downstream")


def _drawable(name: str) -> st.SearchStrategy[Fault] | None:
    """The strategy for a registered fault, or None when its arguments have no known range."""
    if name in _FAULT_VALUES:
        return _FAULT_VALUES[name]
    cls = _faults.REGISTRY[name]
    try:
        return st.just(cls())  # a fault registered elsewhere that needs no arguments
    except TypeError:
        return None


def _names(transport: str) -> list[str]:
    """The drawable faults of ``transport``: the known ones mildest first, then any others."""
    order = [*_FAULT_VALUES, *sorted(set(_faults.REGISTRY) - set(_FAULT_VALUES))]
    return [
        n
        for n in order
        if n in _faults.REGISTRY
        and transport in _faults.REGISTRY[n].transports
        and _drawable(n) is not None
    ]


def fault_values(
    kinds: Sequence[str] | None = None, *, transport: str = "tcp"
) -> st.SearchStrategy[Fault]:
    """Single faults of the registered ``kinds`` (names such as ``"latency"``; default: every
    fault of the ``transport``, ``hang`` and ``timeout`` included), with small arguments:
    seconds in [0, 0.05], byte offsets and chunk sizes in 0..64 (1..64), probabilities among
    1.0, 0.5, 0.1, 0.01.

    Shrinks towards the first kind listed (by default the mildest: latency, chunked,
    bandwidth, ..., reset, garbage, timeout, hang), then towards the mildest arguments
    (0 seconds, 0 bytes, size 1, probability 1.0 so that the fault always acts).
    """
    if transport not in _TRANSPORTS:
        raise InvalidArgument(f"transport must be 'tcp' or 'udp', got {transport!r}")
    valid = _names(transport)
    if kinds is None:
        chosen = valid
    else:
        if isinstance(kinds, str | bytes) or not isinstance(kinds, Iterable):
            raise InvalidArgument(
                f"kinds takes a list of fault names, got {kinds!r}; write kinds=[{kinds!r}]"
            )
        chosen = []
        for kind in kinds:
            if not isinstance(kind, str):
                raise InvalidArgument(f"kinds takes fault names (str), got {kind!r} in {kinds!r}")
            key = kind.strip().lower().replace("-", "_")
            if key not in _faults.REGISTRY:
                raise InvalidArgument(
                    f"kinds: unknown fault {kind!r}; choose from {', '.join(valid)}"
                )
            if transport not in _faults.REGISTRY[key].transports:
                raise InvalidArgument(
                    f"kinds: {kind!r} is not a {transport.upper()} fault; with "
                    f"transport={transport!r} choose from {', '.join(valid)}"
                )
            if _drawable(key) is None:
                raise InvalidArgument(
                    f"kinds: sockfix.strategies has no argument range for the fault {kind!r}; "
                    f"draw it yourself, e.g. st.builds({_faults.REGISTRY[key].__name__}, ...)"
                )
            if key not in chosen:
                chosen.append(key)
        if not chosen:
            raise InvalidArgument(
                "kinds=[] leaves no fault to draw; leave kinds out for every fault, "
                "or use max_faults=0 for plans without faults"
            )
    return st.one_of([s for s in (_drawable(k) for k in chosen) if s is not None])


def fault_plans(
    kinds: Sequence[str] | None = None,
    *,
    max_faults: int = 3,
    min_faults: int = 0,
    transport: str = "tcp",
    connections: int | Sequence[int] | None = None,
    directions: Sequence[str] | None = None,
) -> st.SearchStrategy[FaultPlan]:
    """:class:`~sockfix.faults.FaultPlan` values: ``min_faults`` to ``max_faults`` faults drawn
    by :func:`fault_values` (``kinds``, ``transport``), in order. Attach one with
    ``plan.apply(server_or_proxy)``.

    ``connections``: None (the default) attaches every fault to all connections; an int ``n``
    sends each fault to a non-empty subset of connections ``1..n``, so connection ``n + 1`` and
    later ones are clean (a client that makes ``n + 1`` attempts must get through); a list of
    numbers, to a non-empty subset of those. ``directions`` (for a ``TCPProxy``): the
    directions to draw from among ``"both"``, ``"upstream"``, ``"downstream"``; None means
    ``"both"``.

    Shrinks towards no faults, ``FaultPlan(faults=())``; then towards fewer faults, earlier
    kinds, milder arguments, the first connection and the first direction listed.
    """
    one = fault_values(kinds, transport=transport)
    _check_int(max_faults, "max_faults", minimum=0)
    _check_int(min_faults, "min_faults", minimum=0)
    if min_faults > max_faults:
        raise InvalidArgument(
            f"min_faults={min_faults!r} is more than max_faults={max_faults!r}; "
            f"use max_faults >= {min_faults}"
        )
    where: st.SearchStrategy[tuple[int, ...] | None] = st.none()
    if connections is not None:
        numbers = _check_connections(connections)
        where = st.sets(st.sampled_from(numbers), min_size=1).map(lambda s: tuple(sorted(s)))
    way: st.SearchStrategy[str] = st.just("both")
    if directions is not None:
        if transport != "tcp":
            raise InvalidArgument("directions= is for a TCPProxy; use transport='tcp'")
        if isinstance(directions, str) or not isinstance(directions, Iterable):
            raise InvalidArgument(
                f"directions takes a list, got {directions!r}; write directions=[{directions!r}]"
            )
        ways = list(dict.fromkeys(directions))
        bad = [d for d in ways if d not in _DIRECTIONS]
        if bad or not ways:
            raise InvalidArgument(
                f"directions must be a non-empty list of 'both', 'upstream', 'downstream', "
                f"got {list(directions)!r}"
            )
        way = st.sampled_from(ways)
    entry: st.SearchStrategy[Fault | PlannedFault] = one
    if connections is not None or directions is not None:
        entry = st.builds(PlannedFault, one, connections=where, direction=way)
    return st.lists(entry, min_size=min_faults, max_size=max_faults).map(FaultPlan)


def _check_connections(connections: int | Sequence[int]) -> list[int]:
    if isinstance(connections, int) and not isinstance(connections, bool):
        _check_int(connections, "connections", minimum=1, fix="connections are counted from 1")
        return list(range(1, connections + 1))
    if isinstance(connections, str | bytes) or not isinstance(connections, Iterable):
        raise InvalidArgument(
            f"connections takes a count n (connections 1..n) or a list of connection numbers, "
            f"got {connections!r}"
        )
    numbers = sorted(set(connections))
    if not numbers or any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in numbers):
        raise InvalidArgument(
            f"connections needs connection numbers >= 1 (the first connection is 1), "
            f"got {list(connections)!r}"
        )
    return numbers


# ---------------------------------------------------------------------- framed messages


def framed_messages(
    framing: Callable[[bytes], int | None],
    *,
    min_size: int = 0,
    max_size: int = 5,
    max_body: int = 32,
) -> st.SearchStrategy[list[bytes]]:
    """Lists of ``min_size`` to ``max_size`` complete messages for a built-in framing, each
    exactly what the framing cuts: ``lines()`` and ``delimited(sep)`` give a body without the
    separator, then the separator; ``length_prefixed(fmt)`` a correct prefix, then the body;
    ``fixed(n)`` ``n`` bytes. Bodies have up to ``max_body`` bytes (fewer if a prefix cannot
    count that far) and favour the separator's own bytes, so near-misses are tried.

    ``raw()`` has no messages of its own (they depend on how the bytes were split) and a framing
    of your own has no known format: both are an ``InvalidArgument``.
    Shrinks towards fewer messages and shorter bodies of zero bytes.
    """
    _check_int(min_size, "min_size", minimum=0)
    _check_int(max_size, "max_size", minimum=0)
    _check_int(max_body, "max_body", minimum=0)
    if min_size > max_size:
        raise InvalidArgument(
            f"min_size={min_size!r} is more than max_size={max_size!r}; use max_size >= {min_size}"
        )
    message: st.SearchStrategy[bytes]
    if isinstance(framing, _Delimited):
        message = _delimited_message(framing.sep, max_body)
    elif isinstance(framing, _LengthPrefixed):
        message = _prefixed_message(framing.fmt, max_body)
    elif isinstance(framing, _Fixed):
        message = st.binary(min_size=framing.n, max_size=framing.n)
    elif isinstance(framing, _Raw):
        raise InvalidArgument(
            "framed_messages(raw()): raw() has no message format (a message is whatever one "
            "read returned); use st.binary(min_size=1) for the bytes"
        )
    else:
        raise InvalidArgument(
            f"framed_messages() knows the built-in framings (lines(), delimited(sep), "
            f"length_prefixed(fmt), fixed(n)), got {framing!r}; build messages for your own "
            f"framing with st.lists(...) and check it with sockfix.testing.check_framing"
        )
    return st.lists(message, min_size=min_size, max_size=max_size)


def _delimited_message(sep: bytes, max_body: int) -> st.SearchStrategy[bytes]:
    octets = st.one_of(st.integers(0, 255), st.sampled_from(sorted(set(sep))))
    body = st.lists(octets, max_size=max_body).map(bytes)
    return body.map(lambda b: _without_sep(b, sep) + sep)


def _without_sep(body: bytes, sep: bytes) -> bytes:
    """``body`` with every separator taken out, so that ``body + sep`` is one message."""
    while sep in body:
        body = body.replace(sep, b"")
    # A tail that begins the separator would end the message early: b"\\r" + b"\\r\\n".
    while body and (body + sep).find(sep) < len(body):
        body = body[:-1]
    return body


def _prefixed_message(fmt: str, max_body: int) -> st.SearchStrategy[bytes]:
    packer = struct.Struct(fmt)
    longest = min(max_body, (1 << (8 * packer.size)) - 1)
    return st.binary(max_size=longest).map(lambda body: packer.pack(len(body)) + body)
