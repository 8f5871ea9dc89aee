"""Fault plans: a schedule of faults (:class:`FaultPlan`) and where each one goes
(:class:`PlannedFault`), as frozen values. Users import them from :mod:`sockfix.faults`.

Pure: no sockets, no threads, no sleeping.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sockfix.core.faults.base import DIRECTIONS, Direction, Fault


@dataclass(frozen=True, init=False, repr=False)
class PlannedFault:
    """One fault of a :class:`FaultPlan`, with where it goes: ``connections`` (accept order,
    from 1; None: all) and ``direction`` (``"upstream"`` / ``"downstream"`` for a proxy;
    ``"both"``, the default, is what a server shapes: the bytes it sends)."""

    fault: Fault
    connections: tuple[int, ...] | None
    direction: Direction

    def __init__(
        self,
        fault: Fault,
        connections: Iterable[int] | int | None = None,
        direction: Direction = "both",
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
        if direction not in DIRECTIONS:
            raise ValueError(
                f"PlannedFault(direction=...) must be one of "
                f"{', '.join(repr(d) for d in DIRECTIONS)}, got {direction!r}"
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


# Public as sockfix.faults.FaultPlan / sockfix.faults.PlannedFault: class reprs and pickles name
# that module.
FaultPlan.__module__ = "sockfix.faults"
PlannedFault.__module__ = "sockfix.faults"
