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

This module is a face: everything here is defined in :mod:`sockfix.core.faults`.
"""

from __future__ import annotations

from sockfix.core.faults import REGISTRY as REGISTRY
from sockfix.core.faults import Bandwidth as Bandwidth
from sockfix.core.faults import Chunked as Chunked
from sockfix.core.faults import Close as Close
from sockfix.core.faults import Corrupt as Corrupt
from sockfix.core.faults import Drop as Drop
from sockfix.core.faults import Duplicate as Duplicate
from sockfix.core.faults import Fault as Fault
from sockfix.core.faults import FaultPlan as FaultPlan
from sockfix.core.faults import Garbage as Garbage
from sockfix.core.faults import HalfClose as HalfClose
from sockfix.core.faults import HandshakeHang as HandshakeHang
from sockfix.core.faults import HandshakeReset as HandshakeReset
from sockfix.core.faults import Hang as Hang
from sockfix.core.faults import Latency as Latency
from sockfix.core.faults import PlannedFault as PlannedFault
from sockfix.core.faults import Reorder as Reorder
from sockfix.core.faults import Reset as Reset
from sockfix.core.faults import ResetAfter as ResetAfter
from sockfix.core.faults import SlowClose as SlowClose
from sockfix.core.faults import State as State
from sockfix.core.faults import Timeout as Timeout
from sockfix.core.faults import Truncate as Truncate
from sockfix.core.faults import build as build

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
    "HandshakeHang",
    "HandshakeReset",
    "Hang",
    "Latency",
    "PlannedFault",
    "Reorder",
    "Reset",
    "ResetAfter",
    "SlowClose",
    "Timeout",
    "Truncate",
    "build",
]
