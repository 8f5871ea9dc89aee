"""Faults that real networks produce, as small frozen values with pure plans.

Attach them with ``server.fault(f, connections=[...])`` (or ``proxy.fault(f, direction=...)``).
Each fault turns what would be sent into steps (send these bytes, wait, close, reset, hang...),
given a seeded random stream and its own per-connection state; the socket layer only carries
the steps out. Every fault takes ``probability`` (1.0: always; 0: an exact no-op that draws
nothing and records nothing). Faults are registered by name (``REGISTRY``, :func:`build`) for
scenario files and the command line.

Byte offsets (``Reset(after_bytes)``, ``Close(after_bytes)``, ``Truncate(n)``, ``Garbage``) count
the bytes that pass through the fault in its direction: for a server, the bytes it sends, its
greeting included.

Pure: no sockets, no threads, no sleeping.
"""

from __future__ import annotations

import inspect
import math
import random
from collections.abc import Iterable
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, ClassVar

from sockfix.core.actions import Action, Note, Send, Wait
from sockfix.core.actions import Close as CloseStep
from sockfix.core.actions import HalfClose as HalfCloseStep
from sockfix.core.actions import Hang as HangStep
from sockfix.core.actions import Reset as ResetStep

__all__ = [
    "REGISTRY",
    "Bandwidth",
    "Chunked",
    "Close",
    "Corrupt",
    "Drop",
    "Duplicate",
    "Fault",
    "FaultPlan",
    "Garbage",
    "HalfClose",
    "Hang",
    "Latency",
    "PlannedFault",
    "Reorder",
    "Reset",
    "SlowClose",
    "Timeout",
    "Truncate",
    "build",
]

REGISTRY: dict[str, type[Fault]] = {}


def _register(cls: type[Fault]) -> type[Fault]:
    REGISTRY[cls.name] = cls
    return cls


def _number(value: object, what: str, *, minimum: float = 0.0, integer: bool = False) -> None:
    kinds: tuple[type, ...] = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        kind = "an int" if integer else "a number"
        raise TypeError(f"{what} must be {kind}, got {value!r}")
    assert isinstance(value, int | float)
    if not math.isfinite(float(value)) or value < minimum:
        raise ValueError(f"{what} must be >= {minimum:g}, got {value!r}")


def _probability(value: object, what: str) -> None:
    _number(value, what)
    assert isinstance(value, int | float)
    if value > 1:
        raise ValueError(f"{what} is a probability in 0..1, got {value!r}; use 1.0 for always")


class State:
    """A fault's per-connection (per-direction) state: byte counts, the once-per-connection
    draw, datagrams held back."""

    __slots__ = ("active", "held", "passed")

    def __init__(self) -> None:
        self.passed = 0
        self.active: bool | None = None
        self.held: list[list[Any]] = []


@dataclass(frozen=True)
class Fault:
    """Base of every fault: a frozen value with ``probability`` and a pure plan.

    Subclasses override :meth:`on_connect` (steps when a connection opens), :meth:`shape`
    (steps for bytes about to be sent) and :meth:`on_close` (steps instead of a close).
    """

    name: ClassVar[str] = ""
    transports: ClassVar[frozenset[str]] = frozenset({"tcp"})
    per_connection: ClassVar[bool] = False

    probability: float = field(default=1.0, kw_only=True)

    def __post_init__(self) -> None:
        _probability(self.probability, f"{type(self).__name__}(probability=...)")

    # -- the plan -----------------------------------------------------------------------------

    def applies(self, rng: random.Random, state: State) -> bool:
        """Whether the fault acts now: probability 0 and 1 draw nothing.

        Per-connection faults (reset, close, hang...) draw once per connection; the others
        draw for each send or datagram.
        """
        p = self.probability
        if p <= 0:
            return False
        if self.per_connection:
            if state.active is None:
                state.active = p >= 1 or rng.random() < p
            return state.active
        return p >= 1 or rng.random() < p

    def on_connect(self, rng: random.Random, state: State) -> list[Action]:
        """Steps as the connection opens (before any greeting)."""
        return []

    def shape(self, send: Send, rng: random.Random, state: State) -> list[Action]:
        """Steps that replace ``send`` (the default passes it through)."""
        return [send]

    def on_close(self, step: CloseStep, rng: random.Random, state: State) -> list[Action]:
        """Steps that replace a close (the default passes it through)."""
        return [step]

    # -- text -----------------------------------------------------------------------------------

    def __repr__(self) -> str:
        args, keywords = [], []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.kw_only:
                if value != f.default:
                    keywords.append(f"{f.name}={value!r}")
            elif f.default is MISSING or f.name == "probability":
                args.append(repr(value))
            elif value != f.default:
                args.append(f"{f.name}={value!r}")
        args += keywords
        return f"{type(self).__name__}({', '.join(args)})"


def _note(fault: Fault, text: str) -> Note:
    return Note(f"{fault!r}: {text}")


def _cut_after(
    fault: Fault, send: Send, state: State, limit: int, end: Action, what: str
) -> list[Action]:
    """Pass bytes until ``limit`` have passed in all, then ``end`` (close or reset)."""
    room = limit - state.passed
    if len(send.data) < room:
        state.passed += len(send.data)
        return [send]
    head = send.data[:room]
    state.passed += len(head)
    out: list[Action] = [Send(head, send.chunks, send.gap, send.note)] if head else []
    dropped = len(send.data) - len(head)
    return [*out, _note(fault, f"{what} after {limit} bytes ({dropped} bytes not sent)"), end]


# ---------------------------------------------------------------------------------- timing


@_register
@dataclass(frozen=True, repr=False)
class Latency(Fault):
    """Delay each send (or datagram) by ``seconds``, drawn from [s - jitter, s + jitter], >= 0."""

    name: ClassVar[str] = "latency"
    transports: ClassVar[frozenset[str]] = frozenset({"tcp", "udp"})
    seconds: float
    jitter: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        _number(self.seconds, "Latency(seconds)")
        _number(self.jitter, "Latency(jitter=...)")

    def delay(self, rng: random.Random) -> float:
        if not self.jitter:
            return float(self.seconds)
        return max(0.0, rng.uniform(self.seconds - self.jitter, self.seconds + self.jitter))

    def shape(self, send: Send, rng: random.Random, state: State) -> list[Action]:
        if not self.applies(rng, state):
            return [send]
        wait = self.delay(rng)
        return [_note(self, f"delayed {len(send.data)} bytes by {wait:.6f} s"), Wait(wait), send]


@_register
@dataclass(frozen=True, repr=False)
class Chunked(Fault):
    """Send in separate sends of ``size`` bytes, ``delay`` seconds apart (partial sends)."""

    name: ClassVar[str] = "chunked"
    size: int
    delay: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        _number(self.size, "Chunked(size)", minimum=1, integer=True)
        _number(self.delay, "Chunked(delay=...)")

    def shape(self, send: Send, rng: random.Random, state: State) -> list[Action]:
        if len(send.data) <= 1 or not self.applies(rng, state):
            return [send]
        n = -(-len(send.data) // self.size)
        return [
            _note(self, f"{len(send.data)} bytes as {n} sends"),
            Send(send.data, self.size, self.delay, send.note),
        ]


@_register
@dataclass(frozen=True, repr=False)
class Bandwidth(Fault):
    """Limit the rate to ``bytes_per_s``: sends of ~10 ms worth of bytes, spaced to match."""

    name: ClassVar[str] = "bandwidth"
    bytes_per_s: int

    def __post_init__(self) -> None:
        super().__post_init__()
        _number(self.bytes_per_s, "Bandwidth(bytes_per_s)", minimum=1, integer=True)

    def shape(self, send: Send, rng: random.Random, state: State) -> list[Action]:
        if not send.data or not self.applies(rng, state):
            return [send]
        step = max(1, self.bytes_per_s // 100)
        gap = step / self.bytes_per_s
        return [
            _note(self, f"{len(send.data)} bytes at {self.bytes_per_s} B/s"),
            Send(send.data, step, gap, send.note),
        ]


@_register
@dataclass(frozen=True, repr=False)
class SlowClose(Fault):
    """Delay the server's FIN by ``seconds`` when it closes."""

    name: ClassVar[str] = "slow_close"
    per_connection: ClassVar[bool] = True
    seconds: float

    def __post_init__(self) -> None:
        super().__post_init__()
        _number(self.seconds, "SlowClose(seconds)")

    def on_close(self, step: CloseStep, rng: random.Random, state: State) -> list[Action]:
        if not self.applies(rng, state):
            return [step]
        return [_note(self, f"FIN delayed {self.seconds:g} s"), Wait(self.seconds), step]


# --------------------------------------------------------------------- ending a connection


@_register
@dataclass(frozen=True, repr=False)
class Reset(Fault):
    """Abort with a real RST (the peer sees ECONNRESET) once ``after_bytes`` have passed."""

    name: ClassVar[str] = "reset"
    per_connection: ClassVar[bool] = True
    after_bytes: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        _number(self.after_bytes, "Reset(after_bytes=...)", integer=True)

    def on_connect(self, rng: random.Random, state: State) -> list[Action]:
        if self.after_bytes == 0 and self.applies(rng, state):
            return [_note(self, "reset on connect"), ResetStep("fault")]
        return []

    def shape(self, send: Send, rng: random.Random, state: State) -> list[Action]:
        if not self.applies(rng, state):
            return [send]
        return _cut_after(self, send, state, self.after_bytes, ResetStep("fault"), "reset")


@_register
@dataclass(frozen=True, repr=False)
class Close(Fault):
    """Close with a FIN once ``after_bytes`` have passed."""

    name: ClassVar[str] = "close"
    per_connection: ClassVar[bool] = True
    after_bytes: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        _number(self.after_bytes, "Close(after_bytes=...)", integer=True)

    def on_connect(self, rng: random.Random, state: State) -> list[Action]:
        if self.after_bytes == 0 and self.applies(rng, state):
            return [_note(self, "closed on connect"), CloseStep("fault")]
        return []

    def shape(self, send: Send, rng: random.Random, state: State) -> list[Action]:
        if not self.applies(rng, state):
            return [send]
        return _cut_after(self, send, state, self.after_bytes, CloseStep("fault"), "closed")


@_register
@dataclass(frozen=True, repr=False)
class Truncate(Fault):
    """Deliver exactly ``nbytes`` bytes, then EOF (a FIN)."""

    name: ClassVar[str] = "truncate"
    per_connection: ClassVar[bool] = True
    nbytes: int

    def __post_init__(self) -> None:
        super().__post_init__()
        _number(self.nbytes, "Truncate(nbytes)", integer=True)

    def on_connect(self, rng: random.Random, state: State) -> list[Action]:
        if self.nbytes == 0 and self.applies(rng, state):
            return [_note(self, "truncated to 0 bytes"), CloseStep("fault")]
        return []

    def shape(self, send: Send, rng: random.Random, state: State) -> list[Action]:
        if not self.applies(rng, state):
            return [send]
        return _cut_after(self, send, state, self.nbytes, CloseStep("fault"), "truncated")


@_register
@dataclass(frozen=True, repr=False)
class HalfClose(Fault):
    """Send a FIN once ``after_bytes`` have passed, and keep reading (nothing more is sent)."""

    name: ClassVar[str] = "half_close"
    per_connection: ClassVar[bool] = True
    after_bytes: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        _number(self.after_bytes, "HalfClose(after_bytes=...)", integer=True)

    def on_connect(self, rng: random.Random, state: State) -> list[Action]:
        if self.after_bytes == 0 and self.applies(rng, state):
            return [_note(self, "FIN sent on connect, still reading"), HalfCloseStep("fault")]
        return []

    def shape(self, send: Send, rng: random.Random, state: State) -> list[Action]:
        if not self.applies(rng, state):
            return [send]
        return _cut_after(self, send, state, self.after_bytes, HalfCloseStep("fault"), "FIN")


@_register
@dataclass(frozen=True, repr=False)
class Hang(Fault):
    """Never answer and never close (until ``stop()``); keep reading what comes."""

    name: ClassVar[str] = "hang"
    per_connection: ClassVar[bool] = True

    def on_connect(self, rng: random.Random, state: State) -> list[Action]:
        if self.applies(rng, state):
            return [_note(self, "hanging: no answer, no close"), HangStep("fault")]
        return []


@_register
@dataclass(frozen=True, repr=False)
class Timeout(Fault):
    """Stall: answer nothing for ``seconds`` (still reading), then close."""

    name: ClassVar[str] = "timeout"
    per_connection: ClassVar[bool] = True
    seconds: float

    def __post_init__(self) -> None:
        super().__post_init__()
        _number(self.seconds, "Timeout(seconds)")

    def on_connect(self, rng: random.Random, state: State) -> list[Action]:
        if self.applies(rng, state):
            note = _note(self, f"stalling {self.seconds:g} s, then closing")
            return [note, HangStep("fault", self.seconds), CloseStep("fault")]
        return []


# ----------------------------------------------------------------------- changing bytes


@_register
@dataclass(frozen=True, repr=False)
class Corrupt(Fault):
    """Change each byte with ``probability`` (never adds or removes bytes)."""

    name: ClassVar[str] = "corrupt"
    transports: ClassVar[frozenset[str]] = frozenset({"tcp", "udp"})
    probability: float = 1.0

    def shape(self, send: Send, rng: random.Random, state: State) -> list[Action]:
        p = self.probability
        if p <= 0 or not send.data:
            return [send]
        data = bytearray(send.data)
        changed = 0
        if p >= 1:
            for i in range(len(data)):
                data[i] ^= rng.randrange(1, 256)
            changed = len(data)
        else:
            # Skip ahead geometrically: cost grows with the bytes changed, not the bytes sent.
            log_q = math.log1p(-p)
            i = int(math.log(1.0 - rng.random()) / log_q)
            while i < len(data):
                data[i] ^= rng.randrange(1, 256)
                changed += 1
                i += 1 + int(math.log(1.0 - rng.random()) / log_q)
        if not changed:
            return [send]
        return [
            _note(self, f"changed {changed} of {len(data)} bytes"),
            Send(bytes(data), send.chunks, send.gap, send.note),
        ]


@_register
@dataclass(frozen=True, repr=False)
class Garbage(Fault):
    """Replace what would be sent next by ``nbytes`` random bytes, then close."""

    name: ClassVar[str] = "garbage"
    per_connection: ClassVar[bool] = True
    nbytes: int

    def __post_init__(self) -> None:
        super().__post_init__()
        _number(self.nbytes, "Garbage(nbytes)", integer=True)

    def shape(self, send: Send, rng: random.Random, state: State) -> list[Action]:
        if not self.applies(rng, state):
            return [send]
        junk = rng.randbytes(self.nbytes)
        return [
            _note(self, f"{self.nbytes} random bytes instead of {len(send.data)}, then close"),
            Send(junk, note="garbage"),
            CloseStep("fault"),
        ]


# -------------------------------------------------------------------------- datagrams


@_register
@dataclass(frozen=True, repr=False)
class Drop(Fault):
    """Drop each datagram with ``probability``."""

    name: ClassVar[str] = "drop"
    transports: ClassVar[frozenset[str]] = frozenset({"udp"})
    probability: float = 1.0

    def shape(self, send: Send, rng: random.Random, state: State) -> list[Action]:
        if not self.applies(rng, state):
            return [send]
        return [_note(self, f"dropped a datagram of {len(send.data)} bytes")]


@_register
@dataclass(frozen=True, repr=False)
class Duplicate(Fault):
    """Send each datagram twice with ``probability``."""

    name: ClassVar[str] = "duplicate"
    transports: ClassVar[frozenset[str]] = frozenset({"udp"})
    probability: float = 1.0

    def shape(self, send: Send, rng: random.Random, state: State) -> list[Action]:
        if not self.applies(rng, state):
            return [send]
        return [_note(self, f"sent a datagram of {len(send.data)} bytes twice"), send, send]


@_register
@dataclass(frozen=True, repr=False)
class Reorder(Fault):
    """Hold a datagram back (with ``probability``) and send it after up to ``window`` later ones.

    One datagram is held at a time: those sent while one is held pass (so they do overtake it).
    A datagram still held when the server stops is never sent (its fault event says so).
    """

    name: ClassVar[str] = "reorder"
    transports: ClassVar[frozenset[str]] = frozenset({"udp"})
    probability: float = 1.0
    window: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        _number(self.window, "Reorder(window=...)", minimum=1, integer=True)

    def shape(self, send: Send, rng: random.Random, state: State) -> list[Action]:
        out: list[Action] = [send]
        holding = bool(state.held)  # a datagram that overtakes a held one is never held itself
        still: list[list[Any]] = []
        for entry in state.held:  # [countdown, send]
            entry[0] -= 1
            if entry[0] <= 0:
                out += [_note(self, "released a held datagram"), entry[1]]
            else:
                still.append(entry)
        state.held = still
        if not holding and self.applies(rng, state):
            later = rng.randint(1, self.window) if self.window > 1 else 1
            state.held.append([later, send])
            out[0] = _note(self, f"holding a datagram back behind {later} later one(s)")
        return out


# ------------------------------------------------------------------------------ registry


def build(name: str, *args: Any, **kwargs: Any) -> Fault:
    """Make a registered fault by name: ``build("latency", 0.05, jitter=0.01)``."""
    key = name.strip().lower().replace("-", "_")
    if key not in REGISTRY:
        raise ValueError(f"unknown fault {name!r}: choose from {', '.join(sorted(REGISTRY))}")
    return REGISTRY[key](*args, **kwargs)


# ---------------------------------------------------------------------------- fault plans

_PLAN_DIRECTIONS = ("both", "upstream", "downstream")


@dataclass(frozen=True, init=False, repr=False)
class PlannedFault:
    """One fault of a :class:`FaultPlan`, with where it goes: ``connections`` (accept order,
    from 1; None: all) and ``direction`` (``"upstream"`` / ``"downstream"`` for a proxy;
    ``"both"``, the default, is what a server shapes: the bytes it sends)."""

    fault: Fault
    connections: tuple[int, ...] | None
    direction: str

    def __init__(
        self,
        fault: Fault,
        connections: Iterable[int] | int | None = None,
        direction: str = "both",
    ) -> None:
        if not isinstance(fault, Fault):
            raise TypeError(
                f"PlannedFault takes a fault from sockfix.faults, such as Reset(), got {fault!r}"
            )
        numbers: tuple[int, ...] | None = None
        if connections is not None:
            given = [connections] if isinstance(connections, int) else connections
            try:
                listed = list(given)
            except TypeError:
                raise TypeError(
                    f"PlannedFault(connections=...) takes connection numbers (accept order, "
                    f"from 1) or None for all, got {connections!r}"
                ) from None
            if not listed or any(
                isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in listed
            ):
                raise ValueError(
                    f"PlannedFault(connections=...) needs connection numbers >= 1 (the first "
                    f"connection is 1), got {connections!r}"
                )
            numbers = tuple(sorted(set(listed)))
        if direction not in _PLAN_DIRECTIONS:
            raise ValueError(
                f"PlannedFault(direction=...) must be one of "
                f"{', '.join(repr(d) for d in _PLAN_DIRECTIONS)}, got {direction!r}"
            )
        object.__setattr__(self, "fault", fault)
        object.__setattr__(self, "connections", numbers)
        object.__setattr__(self, "direction", direction)

    def __repr__(self) -> str:
        args = [repr(self.fault)]
        if self.connections is not None:
            args.append(f"connections={list(self.connections)!r}")
        if self.direction != "both":
            args.append(f"direction={self.direction!r}")
        return f"PlannedFault({', '.join(args)})"


@dataclass(frozen=True, init=False, repr=False)
class FaultPlan:
    """A schedule of faults to attach to a server or proxy, as one frozen value.

    ``FaultPlan([Latency(0.01), PlannedFault(Reset(), connections=[1])])``: each item is a
    fault (all connections, both directions) or a :class:`PlannedFault`. ``plan.faults`` lists
    the faults, ``plan.attachments`` the planned faults, and ``plan.apply(server_or_proxy)``
    attaches them in order. ``FaultPlan()`` (``FaultPlan(faults=())``) is the plan with no
    faults. ``sockfix.strategies.fault_plans()`` draws these for Hypothesis tests.
    """

    attachments: tuple[PlannedFault, ...]

    def __init__(self, faults: Iterable[Fault | PlannedFault] = ()) -> None:
        if isinstance(faults, Fault | PlannedFault):
            faults = [faults]
        if not isinstance(faults, Iterable) or isinstance(faults, str | bytes):
            raise TypeError(
                f"FaultPlan() takes a list of faults (or PlannedFault values), got {faults!r}"
            )
        entries: list[PlannedFault] = []
        for item in faults:
            if isinstance(item, PlannedFault):
                entries.append(item)
            elif isinstance(item, Fault):
                entries.append(PlannedFault(item))
            else:
                raise TypeError(
                    f"FaultPlan() takes faults from sockfix.faults (or PlannedFault values), "
                    f"got {item!r}"
                )
        object.__setattr__(self, "attachments", tuple(entries))

    @property
    def faults(self) -> tuple[Fault, ...]:
        """The faults, in the order they are attached."""
        return tuple(a.fault for a in self.attachments)

    def __len__(self) -> int:
        return len(self.attachments)

    def apply(self, target: Any) -> None:
        """Attach every fault to ``target`` (a server or a ``TCPProxy``), in order.

        A proxy gets each fault's ``direction``; a server shapes only what it sends, so a
        direction other than ``"both"`` is a ``ValueError`` there.
        """
        attach = getattr(target, "fault", None)
        if not callable(attach):
            raise TypeError(f"FaultPlan.apply() takes a sockfix server or proxy, got {target!r}")
        takes_direction = "direction" in inspect.signature(attach).parameters
        for a in self.attachments:
            if a.direction != "both" and not takes_direction:
                raise ValueError(
                    f"{a!r}: only a proxy has directions; a server shapes what it sends. "
                    f"Drop direction= or apply the plan to a sockfix.TCPProxy"
                )
        for a in self.attachments:
            connections = None if a.connections is None else list(a.connections)
            if takes_direction:
                attach(a.fault, connections=connections, direction=a.direction)
            else:
                attach(a.fault, connections=connections)

    def __repr__(self) -> str:
        items = [
            repr(a.fault) if a.connections is None and a.direction == "both" else repr(a)
            for a in self.attachments
        ]
        if not items:
            return "FaultPlan(faults=())"
        return f"FaultPlan([{', '.join(items)}])"
