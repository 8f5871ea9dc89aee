"""The catalogue: every fault that real networks produce, as a small frozen value with a pure plan.

Each fault turns what would be sent into steps given a seeded random stream and its own
per-connection state, and is registered by name; the user-facing description of the whole
family is :mod:`sockfix.faults`' docstring.

Byte offsets (``Reset(after_bytes)``, ``Close(after_bytes)``, ``Truncate(n)``, ``Garbage``) count
the bytes that pass through the fault in its direction: for a server, the bytes it sends, its
greeting included.

Pure: no sockets, no threads, no sleeping.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any, ClassVar

from sockfix.core.actions import Action, Send, Wait
from sockfix.core.actions import Close as CloseStep
from sockfix.core.actions import HalfClose as HalfCloseStep
from sockfix.core.actions import Hang as HangStep
from sockfix.core.actions import Reset as ResetStep
from sockfix.core.faults.base import REGISTRY, Fault, State, _cut_after, _note, _number, _register

__all__ = [
    "Bandwidth",
    "Chunked",
    "Close",
    "Corrupt",
    "Drop",
    "Duplicate",
    "Garbage",
    "HalfClose",
    "Hang",
    "Latency",
    "Reorder",
    "Reset",
    "SlowClose",
    "Timeout",
    "Truncate",
    "build",
]


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
    """Send in sends of ``size`` bytes (± ``variation``, drawn), ``delay`` s apart."""

    name: ClassVar[str] = "chunked"
    size: int
    delay: float = 0.0
    variation: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        _number(self.size, "Chunked(size)", minimum=1, integer=True)
        _number(self.delay, "Chunked(delay=...)")
        _number(self.variation, "Chunked(variation=...)", integer=True)
        if self.variation and self.variation >= self.size:
            raise ValueError(
                f"Chunked(size={self.size}, variation={self.variation}): the variation must be "
                "less than the size"
            )

    def shape(self, send: Send, rng: random.Random, state: State) -> list[Action]:
        if len(send.data) <= 1 or not self.applies(rng, state):
            return [send]
        if self.variation:
            sizes = _sliced(len(send.data), self.size, self.variation, rng)
            return [
                _note(self, f"{len(send.data)} bytes as {len(sizes)} sends"),
                Send(send.data, tuple(sizes), self.delay, send.note),
            ]
        n = -(-len(send.data) // self.size)
        return [
            _note(self, f"{len(send.data)} bytes as {n} sends"),
            Send(send.data, self.size, self.delay, send.note),
        ]


def _sliced(total: int, size: int, variation: int, rng: random.Random) -> list[int]:
    """Sizes summing to ``total``, each about ``size`` ± ``variation``: halves split near
    the middle until small enough (toxiproxy's slicer, drawn from ``rng``)."""
    out: list[int] = []
    todo = [total]
    for _ in range(2 * total + 1):  # bounded: each split leaves two shorter pieces
        if not todo:
            break
        n = todo.pop()
        if n - size <= variation:
            out.append(n)
            continue
        mid = n // 2 + rng.randint(-variation, variation)
        mid = min(max(mid, 1), n - 1)
        todo += [n - mid, mid]
    return out


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
    """Delay the FIN by ``seconds`` when the sender closes (a proxy: when it passes one on)."""

    name: ClassVar[str] = "slow_close"
    per_connection: ClassVar[bool] = True
    seconds: float

    def __post_init__(self) -> None:
        super().__post_init__()
        _number(self.seconds, "SlowClose(seconds)")

    def on_close(
        self, step: CloseStep | HalfCloseStep, rng: random.Random, state: State
    ) -> list[Action]:
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
    """Hold a datagram back (with ``probability``) and send it after up to ``window`` later ones,
    or after ``hold`` seconds when fewer come.

    One datagram is held at a time: those sent while one is held pass (so they do overtake it).
    Reordering never drops: only a datagram still held when the server stops (within ``hold``
    seconds of being held) is never sent (its fault event says so).
    """

    name: ClassVar[str] = "reorder"
    transports: ClassVar[frozenset[str]] = frozenset({"udp"})
    probability: float = 1.0
    window: int = 1
    hold: float = 0.05

    def __post_init__(self) -> None:
        super().__post_init__()
        _number(self.window, "Reorder(window=...)", minimum=1, integer=True)
        _number(self.hold, "Reorder(hold=...)")

    def shape(self, send: Send, rng: random.Random, state: State) -> list[Action]:
        out: list[Action] = [send]
        holding = bool(state.held)  # a datagram that overtakes a held one is never held itself
        still: list[list[Any]] = []
        for entry in state.held:  # [countdown, send, later ones waited for]
            entry[0] -= 1
            if entry[0] <= 0:
                out += [_note(self, "released a held datagram"), entry[1]]
            else:
                still.append(entry)
        state.held = still
        if not holding and self.applies(rng, state):
            later = rng.randint(1, self.window) if self.window > 1 else 1
            state.held.append([later, send, later])
            out[0] = _note(self, f"holding a datagram back behind {later} later one(s)")
        return out

    def holds(self, state: State) -> float | None:
        return self.hold if state.held else None

    def release(self, rng: random.Random, state: State) -> list[Action]:
        out: list[Action] = []
        for countdown, send, later in state.held:
            came = f"{later - countdown} of {later} later one(s) came"
            out += [_note(self, f"released a held datagram after {self.hold:g} s: {came}"), send]
        state.held = []
        return out


# ------------------------------------------------------------------------------ registry


def build(name: str, *args: Any, **kwargs: Any) -> Fault:
    """Make a registered fault by name: ``build("latency", 0.05, jitter=0.01)``."""
    key = name.strip().lower().replace("-", "_")
    if key not in REGISTRY:
        raise ValueError(f"unknown fault {name!r}: choose from {', '.join(sorted(REGISTRY))}")
    return REGISTRY[key](*args, **kwargs)


# Public as sockfix.faults.<Name>: class reprs and pickles name that module.
for _cls in REGISTRY.values():
    _cls.__module__ = "sockfix.faults"
