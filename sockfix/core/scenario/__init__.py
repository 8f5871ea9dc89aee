"""Scenario files: a fake server's script as data (TOML), and proxy recordings turned into one.

A scenario holds a framing, rules, faults, a seed, strictness and where to listen. It is data
only: nothing in it is executed as code, so callables cannot be written in one. The schema is
documented in docs/scenarios.md; every error names the file, the key path and the fix, as a
:class:`sockfix.ScenarioError` (a ValueError).

- :func:`load` / :func:`loads` read a scenario; ``scenario.server_options()`` and
  ``scenario.apply(server)`` set a server up (``TCPServer.from_scenario`` does both).
- :func:`dumps` writes one back as TOML (a small writer: the stdlib reads TOML only).
- :func:`exchanges_from` and :func:`write_scenario` turn what a ``TCPProxy`` recorded into a
  scenario that replays the real server's answers.


The work lives in small modules, imported one way (each only from those above it):
``scenario_model`` (the frozen specs and applying them), ``scenario_toml`` (spelling values in
TOML), ``scenario_check`` and ``scenario_read`` (checking and reading the file),
``scenario_write`` (the TOML writer) and ``scenario_record`` (exchanges from a recording).
This module is their public face.

Pure: no sockets, no threads (reading and writing the file is the only I/O).
"""

from __future__ import annotations

from sockfix.core.errors import ScenarioError
from sockfix.core.scenario.model import ENDINGS as ENDINGS
from sockfix.core.scenario.model import EXPECT_KEYS as EXPECT_KEYS
from sockfix.core.scenario.model import FAULT_RESERVED as FAULT_RESERVED
from sockfix.core.scenario.model import RULE_KEYS as RULE_KEYS
from sockfix.core.scenario.model import TOP_KEYS as TOP_KEYS
from sockfix.core.scenario.model import VERSION as VERSION
from sockfix.core.scenario.model import Ending as Ending
from sockfix.core.scenario.model import FaultSpec, RuleSpec, Scenario
from sockfix.core.scenario.model import RuleTarget as RuleTarget
from sockfix.core.scenario.model import Scriptable as Scriptable
from sockfix.core.scenario.read import load, loads
from sockfix.core.scenario.record import Exchange as Exchange
from sockfix.core.scenario.record import exchanges_from, from_exchanges, write_scenario
from sockfix.core.scenario.toml import is_text, toml_string
from sockfix.core.scenario.write import dumps, framing_spec

__all__ = [
    "FaultSpec",
    "RuleSpec",
    "Scenario",
    "ScenarioError",
    "dumps",
    "exchanges_from",
    "framing_spec",
    "from_exchanges",
    "is_text",
    "load",
    "loads",
    "toml_string",
    "write_scenario",
]
