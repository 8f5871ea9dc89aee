"""The fault core: faults as small frozen values with pure plans, and how they are applied.

- :mod:`.base`: :class:`Fault`, its per-connection :class:`State`, the registry, ``Direction``.
- :mod:`.catalogue`: every fault (``Latency``, ``Reset``, ``Reorder``...), registered by name.
- :mod:`.handshake`: the TLS handshake's faults (``HandshakeHang``, ``HandshakeReset``).
- :mod:`.timed`: faults on time, not bytes (``ResetAfter``: toxiproxy's ``reset_peer``).
- :mod:`.plan`: :class:`FaultPlan` and :class:`PlannedFault`, schedules of faults as values.
- :mod:`.shaping`: the faults attached to an endpoint (:class:`FaultSet`) and the per-connection,
  per-direction :class:`Shaper` that turns actions into shaped actions.

Importing this package fills the registry. Users import the faults from :mod:`sockfix.faults`,
which only re-exports them. Pure: no sockets, no threads, no sleeping.
"""

from __future__ import annotations

from sockfix.core.faults.base import DIRECTIONS as DIRECTIONS
from sockfix.core.faults.base import REGISTRY as REGISTRY
from sockfix.core.faults.base import Direction as Direction
from sockfix.core.faults.base import Fault as Fault
from sockfix.core.faults.base import State as State
from sockfix.core.faults.catalogue import Bandwidth as Bandwidth
from sockfix.core.faults.catalogue import Chunked as Chunked
from sockfix.core.faults.catalogue import Close as Close
from sockfix.core.faults.catalogue import Corrupt as Corrupt
from sockfix.core.faults.catalogue import Drop as Drop
from sockfix.core.faults.catalogue import Duplicate as Duplicate
from sockfix.core.faults.catalogue import Garbage as Garbage
from sockfix.core.faults.catalogue import HalfClose as HalfClose
from sockfix.core.faults.catalogue import Hang as Hang
from sockfix.core.faults.catalogue import Latency as Latency
from sockfix.core.faults.catalogue import Reorder as Reorder
from sockfix.core.faults.catalogue import Reset as Reset
from sockfix.core.faults.catalogue import SlowClose as SlowClose
from sockfix.core.faults.catalogue import Timeout as Timeout
from sockfix.core.faults.catalogue import Truncate as Truncate
from sockfix.core.faults.catalogue import build as build
from sockfix.core.faults.handshake import HandshakeHang as HandshakeHang
from sockfix.core.faults.handshake import HandshakeReset as HandshakeReset
from sockfix.core.faults.plan import FaultPlan as FaultPlan
from sockfix.core.faults.plan import PlannedFault as PlannedFault
from sockfix.core.faults.timed import ResetAfter as ResetAfter
