"""Faults attached to a server or proxy, and the per-connection shaper that applies them.

Every random draw comes from a stream derived from (seed, connection, direction, fault), so
adding a connection, or a fault, never shifts the draws of another. The attached faults are an
immutable tuple replaced on every change: a shaper reads the current one at each send, so
``fault()`` and ``clear_faults()`` act on open connections at the next send, and a fault
attached while a connection is open starts there (its ``on_connect`` steps: ``Hang()``,
``Timeout()``, ``Reset()``...) before that send. Servers and the proxy share this rule.

Pure: no sockets, no threads.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass

from sockfix.core.actions import Action, Close, HalfClose, Send
from sockfix.core.faults.base import DIRECTIONS, REGISTRY, Direction, Fault, State

__all__ = [
    "Attachment",
    "FaultSet",
    "Shaper",
    "check_connections",
    "check_direction",
    "derive_seed",
    "pick_seed",
    "stream",
]


def stream(seed: int, number: int, direction: Direction, index: int) -> random.Random:
    """The random stream of one fault on one connection and direction."""
    return random.Random(f"sockfix/{seed}/{number}/{direction}/{index}")


def pick_seed() -> int:
    """A fresh seed for a server made with ``seed=None`` (shown in its transcript)."""
    return random.SystemRandom().randrange(2**32)


def derive_seed(test_seed: int, order: int) -> int:
    """The seed of the ``order``-th server (from 1) that one test makes: the test's seed for
    the first, then draws of a stream of it, so that the test's seed replays all of them."""
    if order == 1:
        return test_seed
    return random.Random(f"sockfix/test/{test_seed}/{order}").randrange(2**32)


@dataclass(frozen=True)
class Attachment:
    """One fault attached: to which connections (None: all) and which direction."""

    fault: Fault
    connections: frozenset[int] | None
    direction: Direction
    index: int
    toxicity: float = 1.0  # the chance that it acts on a connection, drawn once per one

    def covers(self, number: int, direction: Direction) -> bool:
        if self.connections is not None and number not in self.connections:
            return False
        return self.direction in ("both", direction)


def check_connections(connections: object) -> frozenset[int] | None:
    """``connections=[1, 2]``: accept order, counted from 1."""
    if connections is None:
        return None
    if isinstance(connections, int) and not isinstance(connections, bool):
        connections = [connections]
    if not isinstance(connections, Iterable) or isinstance(connections, str | bytes):
        raise TypeError(
            f"connections= takes a list of connection numbers (accept order, from 1), "
            f"got {connections!r}"
        )
    numbers = list(connections)
    bad = [n for n in numbers if isinstance(n, bool) or not isinstance(n, int) or n < 1]
    if bad or not numbers:
        raise ValueError(
            f"connections= needs connection numbers >= 1 (the first connection is 1), "
            f"got {numbers!r}"
        )
    return frozenset(numbers)


class FaultSet:
    """The faults attached to one server or proxy, in the order added.

    ``directional``: a proxy's faults pick ``"upstream"``, ``"downstream"`` or ``"both"``; a
    server's always shape what it sends (downstream).
    """

    def __init__(self, transport: str, *, directional: bool = False) -> None:
        self.transport = transport
        self.directional = directional
        self.attached: tuple[Attachment, ...] = ()
        self._count = 0

    def add(
        self,
        fault: object,
        connections: object = None,
        direction: object = "both",
        toxicity: object = 1.0,
    ) -> Fault:
        if not isinstance(fault, Fault):
            raise TypeError(
                f"fault() takes a fault from sockfix.faults, such as faults.Reset(), got {fault!r}"
            )
        if self.transport not in fault.transports:
            fitting = ", ".join(sorted(cls.__name__ for cls in _fitting(self.transport)))
            raise TypeError(
                f"{fault!r} is not a {self.transport.upper()} fault; "
                f"{self.transport.upper()} takes {fitting}"
            )
        way = check_direction(direction if self.directional else "both")
        chosen = check_connections(connections)
        if isinstance(toxicity, bool) or not isinstance(toxicity, int | float):
            raise TypeError(f"toxicity must be a number in 0..1, got {toxicity!r}")
        if not 0 <= toxicity <= 1:
            raise ValueError(f"toxicity is a probability in 0..1, got {toxicity!r}")
        self._count += 1
        attachment = Attachment(fault, chosen, way, self._count, float(toxicity))
        self.attached = (*self.attached, attachment)
        return fault

    def remove(self, fault: Fault) -> bool:
        """Detach ``fault`` (by identity); open connections stop shaping with it at their
        next send. False when it was not attached."""
        kept = tuple(a for a in self.attached if a.fault is not fault)
        found = len(kept) != len(self.attached)
        self.attached = kept
        return found

    def clear(self) -> None:
        self.attached = ()

    def describe(self) -> list[str]:
        out = []
        for a in self.attached:
            where = (
                "all connections"
                if a.connections is None
                else f"connections {sorted(a.connections)}"
            )
            way = "" if a.direction == "both" else f", {a.direction}"
            toxic = f", toxicity {a.toxicity:g}" if a.toxicity < 1 else ""
            out.append(f"{a.fault!r} on {where}{way}{toxic}")
        return out


def check_direction(direction: object) -> Direction:
    """``direction=``: one of :data:`DIRECTIONS`."""
    for way in DIRECTIONS:
        if direction == way:
            return way
    *first, last = (repr(d) for d in DIRECTIONS)
    raise ValueError(f"direction must be {', '.join(first)} or {last}, got {direction!r}")


def _fitting(transport: str) -> list[type[Fault]]:
    return [cls for cls in REGISTRY.values() if transport in cls.transports]


class Shaper:
    """Applies the current faults to one connection's actions in one direction.

    A fault attached after the shaper began starts at the next :meth:`shape` (its
    ``on_connect`` steps come first), so faults attached to an open connection act on it.
    """

    __slots__ = (
        "_direction",
        "_fault_of",
        "_faults",
        "_number",
        "_seed",
        "_started",
        "_states",
        "_toxic",
    )

    def __init__(self, faults: FaultSet, seed: int, number: int, direction: Direction) -> None:
        self._faults = faults
        self._seed = seed
        self._number = number
        self._direction = direction
        self._states: dict[int, tuple[random.Random, State]] = {}
        self._fault_of: dict[int, Fault] = {}  # the fault of each state, even once cleared
        self._started: set[int] = set()
        self._toxic: dict[int, bool] = {}  # an attachment's toxicity draw for this connection

    @property
    def shaping(self) -> bool:
        """True while any fault is attached (to anything): the no-fault path costs one check."""
        return bool(self._faults.attached)

    def _covering(self) -> list[Attachment]:
        return [
            a
            for a in self._faults.attached
            if a.covers(self._number, self._direction) and self._toxic_here(a)
        ]

    def _toxic_here(self, a: Attachment) -> bool:
        """Whether ``a`` acts on this connection and direction: its toxicity, drawn once
        (from a stream of its own, so the fault's draws stay as they are); 1 and 0 draw
        nothing."""
        if a.toxicity >= 1:
            return True
        if a.toxicity <= 0:
            return False
        got = self._toxic.get(a.index)
        if got is None:
            rng = random.Random(
                f"sockfix/{self._seed}/{self._number}/{self._direction}/{a.index}/toxicity"
            )
            got = self._toxic[a.index] = rng.random() < a.toxicity
        return got

    def _state(self, a: Attachment) -> tuple[random.Random, State]:
        got = self._states.get(a.index)
        if got is None:
            got = self._states[a.index] = (
                stream(self._seed, self._number, self._direction, a.index),
                State(),
            )
            self._fault_of[a.index] = a.fault
        return got

    def held(self) -> list[Send]:
        """Sends a fault still holds back (``Reorder``), until :meth:`release` lets them go."""
        return [entry[1] for _, state in self._states.values() for entry in state.held]

    def holds(self) -> float | None:
        """Seconds after which :meth:`release` must run; None when no fault holds anything."""
        waits = [
            wait
            for index, (_, state) in self._states.items()
            if (wait := self._fault_of[index].holds(state)) is not None
        ]
        return min(waits, default=None)

    def release(self) -> list[Action]:
        """Steps that let go of everything the faults hold (``[]`` when nothing is held).

        In the order the faults were added, faults cleared since included; what a fault lets go
        of passes through the later faults still attached, as it would in :meth:`shape`. Nothing
        is held afterwards.
        """
        if self.holds() is None:
            return []
        attached = {a.index for a in self._covering()}
        out: list[Action] = []
        for index in sorted(self._states):
            rng, state = self._states[index]
            fault = self._fault_of[index]
            if index in attached:
                out = _apply(fault, out, rng, state)
            out += fault.release(rng, state)
        return out

    def on_connect(self) -> list[Action]:
        """Steps of the faults that act as the connection opens (or, for faults attached
        since, as it goes on): each fault's ``on_connect`` steps, once per connection."""
        out: list[Action] = []
        if not self._faults.attached:
            return out
        for a in self._covering():
            if a.index not in self._started:
                self._started.add(a.index)
                rng, state = self._state(a)
                out += a.fault.on_connect(rng, state)
        return out

    def on_handshake(self) -> list[Action]:
        """Steps of the faults that replace a TLS handshake (``HandshakeHang``,
        ``HandshakeReset``); ``[]`` when it goes as usual."""
        out: list[Action] = []
        if not self._faults.attached:
            return out
        for a in self._covering():
            rng, state = self._state(a)
            out += a.fault.on_handshake(rng, state)
        return out

    def shape(self, actions: list[Action]) -> list[Action]:
        """``actions`` with every current fault applied, in the order they were added; faults
        attached since the last call start first (see :meth:`on_connect`)."""
        if not self._faults.attached:
            return actions
        covering = self._covering()
        if any(a.index not in self._started for a in covering):
            actions = self.on_connect() + actions
        for a in covering:
            rng, state = self._state(a)
            actions = _apply(a.fault, actions, rng, state)
        return actions


def _apply(fault: Fault, actions: list[Action], rng: random.Random, state: State) -> list[Action]:
    """``actions`` through one fault: sends by ``shape``, FINs by ``on_close``."""
    shaped: list[Action] = []
    for act in actions:
        if isinstance(act, Send):
            shaped += fault.shape(act, rng, state)
        elif isinstance(act, Close | HalfClose):
            shaped += fault.on_close(act, rng, state)
        else:
            shaped.append(act)
    return shaped
