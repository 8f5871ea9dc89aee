"""Faults of the TLS handshake: it never completes, or it is reset. They act on a server (or
a proxy) with ``tls=`` when a client connects, before any application byte; on a connection
without TLS they do nothing. Pure: no sockets, no threads, no sleeping.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import ClassVar

from sockfix.core.actions import Action, Hang, Reset
from sockfix.core.faults.base import Fault, State, _note, _register

__all__ = ["HandshakeHang", "HandshakeReset"]


@_register
@dataclass(frozen=True, repr=False)
class HandshakeHang(Fault):
    """Take the client's TLS ClientHello and never answer it: the handshake never completes."""

    name: ClassVar[str] = "handshake_hang"
    per_connection: ClassVar[bool] = True
    tls_only: ClassVar[bool] = True

    def on_handshake(self, rng: random.Random, state: State) -> list[Action]:
        if self.applies(rng, state):
            return [_note(self, "TLS handshake left unanswered"), Hang("fault")]
        return []


@_register
@dataclass(frozen=True, repr=False)
class HandshakeReset(Fault):
    """Reset the connection (a RST) once the client's TLS ClientHello has arrived."""

    name: ClassVar[str] = "handshake_reset"
    per_connection: ClassVar[bool] = True
    tls_only: ClassVar[bool] = True

    def on_handshake(self, rng: random.Random, state: State) -> list[Action]:
        if self.applies(rng, state):
            return [_note(self, "TLS handshake reset"), Reset("fault")]
        return []


# Public as sockfix.faults.<Name>: class reprs and pickles name that module.
for _cls in (HandshakeHang, HandshakeReset):
    _cls.__module__ = "sockfix.faults"
