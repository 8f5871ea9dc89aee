"""The base of every fault: :class:`Fault`, its per-connection :class:`State`, the registry,
and :data:`Direction`.

Also the helpers the faults of the catalogue share: argument checks, notes, and cutting a
connection after a number of bytes. Users import all of this from :mod:`sockfix.faults`.

Pure: no sockets, no threads, no sleeping.
"""

from __future__ import annotations

import math
import random
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, ClassVar, Final, Literal

from sockfix.core.actions import Action, Note, Send
from sockfix.core.actions import Close as CloseStep
from sockfix.core.actions import HalfClose as HalfCloseStep

REGISTRY: dict[str, type[Fault]] = {}

Direction = Literal["upstream", "downstream", "both"]
"""Which bytes a fault shapes, as toxiproxy says it: ``"upstream"`` (client to server),
``"downstream"`` (server to client) or ``"both"``. What a server sends is downstream."""

DIRECTIONS: Final[tuple[Direction, ...]] = ("upstream", "downstream", "both")


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

    __slots__ = ("chosen", "held", "passed")

    def __init__(self) -> None:
        self.passed = 0
        self.chosen: bool | None = None  # per-connection faults: drawn once, then kept
        self.held: list[list[Any]] = []


@dataclass(frozen=True)
class Fault:
    """Base of every fault: a frozen value with ``probability`` and a pure plan.

    Subclasses override :meth:`on_connect` (steps when a connection opens), :meth:`shape`
    (steps for bytes about to be sent) and :meth:`on_close` (steps instead of a close); a fault
    that holds sends back also overrides :meth:`holds` and :meth:`release`.
    """

    name: ClassVar[str] = ""
    transports: ClassVar[frozenset[str]] = frozenset({"tcp"})
    per_connection: ClassVar[bool] = False
    tls_only: ClassVar[bool] = False  # acts on a TLS handshake only (a no-op without TLS)

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
            if state.chosen is None:
                state.chosen = p >= 1 or rng.random() < p
            return state.chosen
        return p >= 1 or rng.random() < p

    def on_connect(self, rng: random.Random, state: State) -> list[Action]:
        """Steps as the connection opens (before any greeting)."""
        return []

    def on_handshake(self, rng: random.Random, state: State) -> list[Action]:
        """Steps instead of a TLS server's handshake (``[]``: handshake as usual)."""
        return []

    def shape(self, send: Send, rng: random.Random, state: State) -> list[Action]:
        """Steps that replace ``send`` (the default passes it through)."""
        return [send]

    def on_close(
        self, step: CloseStep | HalfCloseStep, rng: random.Random, state: State
    ) -> list[Action]:
        """Steps that replace a close or a half-close (a FIN; the default passes it through)."""
        return [step]

    def holds(self, state: State) -> float | None:
        """Seconds after which what the fault holds must be let go; None when it holds nothing."""
        return None

    def release(self, rng: random.Random, state: State) -> list[Action]:
        """Steps that let go of everything the fault holds."""
        return []

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


# Public as sockfix.faults.Fault / sockfix.faults.State: class reprs and pickles name that module.
Fault.__module__ = "sockfix.faults"
State.__module__ = "sockfix.faults"
