"""The scenario model: frozen specs of a scenario file's content, and applying them to a server.

:class:`Scenario` holds a framing, rules (:class:`RuleSpec`), faults (:class:`FaultSpec`), a
seed, strictness, ordered steps, a connection limit and where to listen; ``server_options()``
and ``apply(server)`` set a server up.
The schema's key names live here too, for the reader and the writer. Pure: no I/O at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from sockfix.core import faults as _faults
from sockfix.core.patterns import ANY, Pattern
from sockfix.core.rules import Rule
from sockfix.framing import parse

Ending = Literal["close", "reset", "hang"]
VERSION = 1
TOP_KEYS = (
    "version",
    "framing",
    "host",
    "port",
    "seed",
    "strict",
    "ordered",
    "max_connections",
    "rules",
    "faults",
)
RULE_KEYS = (
    "on_connect",
    "expect",
    "expect_hex",
    "expect_regex",
    "expect_any",
    "respond",
    "respond_hex",
    "delay",
    "chunked",
    "chunk_delay",
    "times",
    "close",
    "reset",
    "hang",
)
EXPECT_KEYS = ("expect", "expect_hex", "expect_regex", "expect_any")
ENDINGS: tuple[Ending, ...] = ("close", "reset", "hang")
FAULT_RESERVED = ("name", "args", "connections")


@dataclass(frozen=True)
class RuleSpec:
    """One ``[[rules]]`` table: what ``server.expect(...)`` / ``server.on_connect()`` builds.

    Exactly one of ``on_connect``, ``expect`` (exact bytes), ``expect_regex`` (the source of a
    bytes regex, fullmatch) and ``expect_any`` says what the rule answers.
    """

    on_connect: bool = False
    expect: bytes | None = None
    expect_regex: str | None = None
    expect_any: bool = False
    respond: tuple[bytes, ...] = ()
    delay: float | None = None
    chunked: int | tuple[int, ...] | None = None
    chunk_delay: float | None = None
    times: int | None = None
    ending: Ending | None = None
    comment: str = field(default="", compare=False)

    def pattern(self) -> Pattern:
        """The ``expect()`` pattern: bytes, a compiled bytes regex, or ``sockfix.ANY``."""
        if self.expect is not None:
            return self.expect
        if self.expect_regex is not None:
            return re.compile(self.expect_regex.encode("utf-8"))
        return ANY

    def build(self, server: RuleTarget) -> Rule:
        """Add this rule to ``server`` (anything with ``expect`` / ``on_connect``)."""
        rule = server.on_connect() if self.on_connect else server.expect(self.pattern())
        for piece in self.respond:
            rule.respond(piece)
        if self.delay is not None:
            rule.delay(self.delay)
        if self.chunked is not None:
            sizes = self.chunked if isinstance(self.chunked, int) else list(self.chunked)
            rule.chunked(sizes, delay=self.chunk_delay or 0.0)
        if self.ending is not None:
            getattr(rule, self.ending)()
        if self.times is not None:
            rule.times(self.times)
        return rule


@dataclass(frozen=True)
class FaultSpec:
    """One ``[[faults]]`` table: a fault by registered name, its arguments, its connections."""

    name: str
    args: tuple[Any, ...] = ()
    kwargs: tuple[tuple[str, Any], ...] = ()
    connections: tuple[int, ...] | None = None

    def build(self) -> _faults.Fault:
        """The fault value (``sockfix.faults.build(name, *args, **kwargs)``)."""
        return _faults.build(self.name, *self.args, **dict(self.kwargs))


@dataclass(frozen=True)
class Scenario:
    """A scenario file's content. ``None`` means "not in the file" (the server's default).

    ``ordered`` and ``max_connections`` are the ``TCPServer`` options of the same names: the
    rules as steps used in file order, and the number of connections served before later ones
    are reset on accept.
    """

    framing: str = "lines"
    host: str | None = None
    port: int | None = None
    seed: int | None = None
    strict: bool = True
    rules: tuple[RuleSpec, ...] = ()
    faults: tuple[FaultSpec, ...] = ()
    ordered: bool = False
    max_connections: int | None = None
    source: str = field(default="<scenario>", compare=False)
    header: tuple[str, ...] = field(default=(), compare=False)

    def server_options(self) -> dict[str, Any]:
        """Keyword arguments for ``TCPServer(...)``: framing, strict, and host, port, seed,
        ordered and max_connections when the file sets them."""
        options: dict[str, Any] = {"framing": parse(self.framing), "strict": self.strict}
        for key in ("host", "port", "seed", "max_connections"):
            value = getattr(self, key)
            if value is not None:
                options[key] = value
        if self.ordered:
            options["ordered"] = True
        return options

    def apply(self, server: Scriptable) -> None:
        """Add the rules (in file order) and attach the faults to ``server``."""
        for spec in self.rules:
            spec.build(server)
        for fault in self.faults:
            chosen = list(fault.connections) if fault.connections is not None else None
            server.fault(fault.build(), connections=chosen)


class RuleTarget(Protocol):
    """What :meth:`RuleSpec.build` needs: a ``TCPServer`` (or a ``RuleBook``)."""

    def expect(self, pattern: Pattern) -> Rule: ...

    def on_connect(self) -> Rule: ...


class Scriptable(RuleTarget, Protocol):
    """What :meth:`Scenario.apply` needs of a server (a ``TCPServer``)."""

    def fault(
        self, fault: _faults.Fault, connections: list[int] | None = None
    ) -> _faults.Fault: ...
