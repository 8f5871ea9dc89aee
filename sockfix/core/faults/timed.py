"""Faults that act on time rather than on a byte count: what toxiproxy's ``reset_peer``
needs. Pure: no sockets, no threads, no sleeping (a ``Wait`` step is the socket layer's).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import ClassVar

from sockfix.core.actions import Action, Send, Wait
from sockfix.core.actions import Reset as ResetStep
from sockfix.core.faults.base import Fault, State, _note, _number, _register

__all__ = ["ResetAfter"]


@_register
@dataclass(frozen=True, repr=False)
class ResetAfter(Fault):
    """Once bytes first come in its direction, drop them, wait ``seconds``, then reset (RST)."""

    name: ClassVar[str] = "reset_after"
    per_connection: ClassVar[bool] = True
    seconds: float

    def __post_init__(self) -> None:
        super().__post_init__()
        _number(self.seconds, "ResetAfter(seconds)")

    def shape(self, send: Send, rng: random.Random, state: State) -> list[Action]:
        if not send.data or not self.applies(rng, state):
            return [send]
        if state.passed:  # already resetting: nothing more goes
            return []
        state.passed = len(send.data)
        text = f"{len(send.data)} bytes dropped, reset after {self.seconds:g} s"
        return [_note(self, text), Wait(self.seconds), ResetStep("fault")]


ResetAfter.__module__ = "sockfix.faults"
