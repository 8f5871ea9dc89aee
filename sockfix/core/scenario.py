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

Pure: no sockets, no threads (reading and writing the file is the only I/O).
"""

from __future__ import annotations

import difflib
import inspect
import math
import os
import re
import tomllib
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal, Protocol

from sockfix import faults as _faults
from sockfix.core.errors import ScenarioError
from sockfix.core.patterns import ANY, Pattern
from sockfix.core.record import Event
from sockfix.core.rules import Rule, RuleBook
from sockfix.framing import (
    BuiltinFraming,
    Framer,
    Framing,
    FramingError,
    _Delimited,
    _Fixed,
    _LengthPrefixed,
    _Raw,
    describe,
    parse,
)

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

Ending = Literal["close", "reset", "hang"]
VERSION = 1
TOP_KEYS = ("version", "framing", "host", "port", "seed", "strict", "rules", "faults")
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


# ----------------------------------------------------------------------------- the model


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
    """A scenario file's content. ``None`` means "not in the file" (the server's default)."""

    framing: str = "lines"
    host: str | None = None
    port: int | None = None
    seed: int | None = None
    strict: bool = True
    rules: tuple[RuleSpec, ...] = ()
    faults: tuple[FaultSpec, ...] = ()
    source: str = field(default="<scenario>", compare=False)
    header: tuple[str, ...] = field(default=(), compare=False)

    def server_options(self) -> dict[str, Any]:
        """Keyword arguments for ``TCPServer(...)``: framing, strict, and host, port and seed
        when the file sets them."""
        options: dict[str, Any] = {"framing": parse(self.framing), "strict": self.strict}
        for key in ("host", "port", "seed"):
            value = getattr(self, key)
            if value is not None:
                options[key] = value
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


# ----------------------------------------------------------------------------- reading


def load(path: str | os.PathLike[str]) -> Scenario:
    """Read and check a scenario file; :class:`ScenarioError` names what is wrong and the fix."""
    source = os.fspath(path)
    try:
        with open(source, "rb") as f:
            raw = f.read()
    except OSError as exc:
        raise ScenarioError(
            f"{source}: cannot read the scenario file ({exc.strerror or exc}); "
            "check the path (relative paths start at the current directory)",
            source=source,
        ) from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(
            f"{source}: the file is not UTF-8 text ({exc}); save it as UTF-8 "
            "(binary bytes go in *_hex keys)",
            source=source,
        ) from None
    return loads(text, source=source)


def loads(text: str, source: str = "<scenario>") -> Scenario:
    """Check and read scenario TOML text; ``source`` names it in error messages."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(
            f"{source}: not valid TOML: {exc}; fix the syntax there (strings need double "
            'quotes, e.g. respond = "ok\\r\\n"; each rule starts with [[rules]])',
            source=source,
        ) from None
    return _Reader(source).scenario(doc)


_TOML_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "a boolean"),
    (int, "an integer"),
    (float, "a float"),
    (str, "a string"),
    (list, "an array"),
    (dict, "a table"),
)


def _kind(value: object) -> str:
    for typ, name in _TOML_TYPES:
        if isinstance(value, typ):
            return name
    return f"a {type(value).__name__}"  # dates and times


def _show(value: object) -> str:
    try:
        text = _value(value)
    except TypeError:
        text = repr(value)
    if len(text) > 60:
        text = text[:56] + "...]" if text.startswith("[") else text[:56] + "..."
    return f"{text} ({_kind(value)})"


class _Reader:
    """Checks a parsed document key by key, raising errors that name the key path."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, problem: str, fix: str) -> ScenarioError:
        return ScenarioError(f"{self.source}: {key}: {problem}; {fix}", source=self.source, key=key)

    def unknown(self, table: dict[str, Any], allowed: Sequence[str], where: str) -> None:
        for key in table:
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                path = f"{where}.{key}" if where else key
                raise self.fail(
                    path, "unknown key", f"{hint}allowed keys are: {', '.join(allowed)}"
                )

    # -- scalars ------------------------------------------------------------------------------

    def string(self, value: object, key: str, fix: str) -> str:
        if not isinstance(value, str):
            raise self.fail(key, f"expected a string, got {_show(value)}", fix)
        return value

    def integer(self, value: object, key: str, fix: str, minimum: int | None = None) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"expected an integer, got {_show(value)}", fix)
        if minimum is not None and value < minimum:
            raise self.fail(key, f"expected an integer >= {minimum}, got {value}", fix)
        return value

    def boolean(self, value: object, key: str, fix: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(key, f"expected true or false, got {_show(value)}", fix)
        return value

    def seconds(self, value: object, key: str) -> float:
        fix = f"write seconds as a number >= 0, e.g. {key.rpartition('.')[2]} = 0.1"
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(key, f"expected a number of seconds, got {_show(value)}", fix)
        if not math.isfinite(value) or value < 0:
            raise self.fail(key, f"expected seconds >= 0, got {_value(value)}", fix)
        return float(value)

    def hex_bytes(self, value: object, key: str) -> bytes:
        fix = f'write hex digits, two per byte (spaces allowed), e.g. {_last(key)} = "2b4f4b0d0a"'
        text = self.string(value, key, fix)
        try:
            return bytes.fromhex(text)
        except ValueError as exc:
            raise self.fail(key, f"not hex: {_show(text)} ({exc})", fix) from None

    def pieces(self, value: object, key: str, as_hex: bool) -> tuple[bytes, ...]:
        name = _last(key)
        fix = (
            f'write {name} = "2b4f4b0d0a" or a list of such strings (pieces sent in order)'
            if as_hex
            else f'write {name} = "text" (UTF-8) or a list of strings (pieces sent in order); '
            "binary bytes go in respond_hex"
        )
        if isinstance(value, str):
            return (self.hex_bytes(value, key) if as_hex else value.encode("utf-8"),)
        if isinstance(value, list):
            out = []
            for i, item in enumerate(value):
                where = f"{key}[{i}]"
                if not isinstance(item, str):
                    kind = "a hex string" if as_hex else "a string"
                    raise self.fail(where, f"expected {kind}, got {_show(item)}", fix)
                out.append(self.hex_bytes(item, where) if as_hex else item.encode("utf-8"))
            return tuple(out)
        what = "a hex string" if as_hex else "a string"
        raise self.fail(key, f"expected {what} or a list of them, got {_show(value)}", fix)

    # -- the document -------------------------------------------------------------------------

    def scenario(self, doc: dict[str, Any]) -> Scenario:
        self.unknown(doc, TOP_KEYS, "")
        if "version" in doc:
            version = self.integer(doc["version"], "version", f"write version = {VERSION}")
            if version != VERSION:
                raise self.fail(
                    "version",
                    f"this sockfix reads scenario version {VERSION}, got {version}",
                    f"write version = {VERSION} (or upgrade sockfix)",
                )
        spec = "lines"
        if "framing" in doc:
            spec = self.string(doc["framing"], "framing", 'write e.g. framing = "lines"')
            try:
                parse(spec)
            except ValueError as exc:
                raise self.fail(
                    "framing",
                    str(exc),
                    'use a sockfix.framing.parse spec: "lines", "raw", "fixed:8", '
                    "'delimited:\\r\\n' or \"length_prefixed:!H\"",
                ) from None
        host = None
        if "host" in doc:
            host = self.string(doc["host"], "host", 'write e.g. host = "127.0.0.1"')
            if not host:
                raise self.fail("host", "empty", 'write e.g. host = "127.0.0.1" or remove it')
        port = None
        if "port" in doc:
            fix = "write a port in 0..65535 (0 picks a free one), e.g. port = 9001"
            port = self.integer(doc["port"], "port", fix, minimum=0)
            if port > 65535:
                raise self.fail("port", f"expected a port in 0..65535, got {port}", fix)
        seed = None
        if "seed" in doc:
            seed = self.integer(doc["seed"], "seed", "write an integer, e.g. seed = 7")
        strict = True
        if "strict" in doc:
            strict = self.boolean(doc["strict"], "strict", "write strict = true or strict = false")
        rules = tuple(self.rule(t, f"rules[{i}]") for i, t in enumerate(self.tables(doc, "rules")))
        fault_specs = tuple(
            self.fault(t, f"faults[{i}]") for i, t in enumerate(self.tables(doc, "faults"))
        )
        return Scenario(spec, host, port, seed, strict, rules, fault_specs, source=self.source)

    def tables(self, doc: dict[str, Any], key: str) -> list[dict[str, Any]]:
        value = doc.get(key, [])
        fix = f"start each one with [[{key}]] (double brackets: an array of tables)"
        if not isinstance(value, list):
            raise self.fail(key, f"expected an array of tables, got {_show(value)}", fix)
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                raise self.fail(f"{key}[{i}]", f"expected a table, got {_show(item)}", fix)
        return value

    def rule(self, table: dict[str, Any], where: str) -> RuleSpec:
        self.unknown(table, RULE_KEYS, where)
        options = dict(table)
        what = (
            "write exactly one of expect, expect_hex, expect_regex, expect_any = true "
            "or on_connect = true"
        )
        on_connect = False
        if "on_connect" in options:
            on_connect = self.boolean(options["on_connect"], f"{where}.on_connect", what)
        if options.get("expect_any") is not None:
            any_ = self.boolean(options["expect_any"], f"{where}.expect_any", what)
            if not any_:
                del options["expect_any"]
        given = [k for k in EXPECT_KEYS if k in options]
        if on_connect and given:
            raise self.fail(
                f"{where}.{given[0]}",
                "an on_connect rule speaks first and matches no message",
                f"drop {given[0]} or on_connect (put the reply to a message in its own [[rules]])",
            )
        if len(given) > 1:
            raise self.fail(
                f"{where}.{given[1]}",
                f"{given[0]} and {given[1]} are both set",
                f"keep one of them: a rule has one pattern ({what})",
            )
        if not on_connect and not given:
            raise self.fail(where, "the rule says neither what it expects nor on_connect", what)
        expect = regex = None
        if "expect" in options:
            key = f"{where}.expect"
            expect = self.string(options["expect"], key, 'write expect = "PING\\r\\n"').encode()
        elif "expect_hex" in options:
            expect = self.hex_bytes(options["expect_hex"], f"{where}.expect_hex")
        elif "expect_regex" in options:
            key = f"{where}.expect_regex"
            fix = "write expect_regex = 'GET (\\w+)\\r\\n'"
            regex = self.string(options["expect_regex"], key, fix)
            try:
                re.compile(regex.encode("utf-8"))
            except re.error as exc:
                raise self.fail(
                    key,
                    f"not a regular expression: {exc}",
                    "fix the pattern (a 'literal string' keeps backslashes as written)",
                ) from None
        if expect == b"":
            raise self.fail(
                f"{where}.{given[0]}",
                "an empty message never arrives (a framing cuts at least one byte)",
                "write the message's bytes, separator included",
            )
        if "respond" in options and "respond_hex" in options:
            raise self.fail(
                f"{where}.respond_hex",
                "respond and respond_hex are both set",
                "keep one: respond for text, respond_hex for bytes",
            )
        respond: tuple[bytes, ...] = ()
        if "respond" in options:
            respond = self.pieces(options["respond"], f"{where}.respond", as_hex=False)
        elif "respond_hex" in options:
            respond = self.pieces(options["respond_hex"], f"{where}.respond_hex", as_hex=True)
        delay = self.seconds(options["delay"], f"{where}.delay") if "delay" in options else None
        chunked: int | tuple[int, ...] | None = None
        if "chunked" in options:
            chunked = self.chunks(options["chunked"], f"{where}.chunked")
        chunk_delay = None
        if "chunk_delay" in options:
            chunk_delay = self.seconds(options["chunk_delay"], f"{where}.chunk_delay")
            if chunked is None:
                raise self.fail(
                    f"{where}.chunk_delay",
                    "chunk_delay is the pause between chunks, but chunked is not set",
                    "add chunked = SIZE (or a list of sizes), or drop chunk_delay",
                )
        times = None
        if "times" in options:
            fix = "write times = N with N >= 1 (drop it for a rule that answers every time)"
            times = self.integer(options["times"], f"{where}.times", fix, minimum=1)
        ending: Ending | None = None
        for name in ENDINGS:
            if name in options:
                key = f"{where}.{name}"
                if self.boolean(options[name], key, f"write {name} = true, or drop it"):
                    if ending is not None:
                        raise self.fail(
                            key,
                            f"{ending} and {name} are both set",
                            "a rule ends one way: keep one of close, reset, hang",
                        )
                    ending = name
        spec = RuleSpec(
            on_connect=on_connect,
            expect=expect,
            expect_regex=regex,
            expect_any="expect_any" in options,
            respond=respond,
            delay=delay,
            chunked=chunked,
            chunk_delay=chunk_delay,
            times=times,
            ending=ending,
        )
        try:
            spec.build(RuleBook())  # the builder's own checks (e.g. chunk sizes cover the reply)
        except (TypeError, ValueError) as exc:
            raise self.fail(where, str(exc), "fix the rule's values") from None
        return spec

    def chunks(self, value: object, key: str) -> int | tuple[int, ...]:
        fix = "write chunked = SIZE (an integer >= 1) or a list of sizes, e.g. chunked = [1, 4]"
        if isinstance(value, list):
            if not value:
                raise self.fail(key, "an empty list of sizes", fix)
            return tuple(
                self.integer(v, f"{key}[{i}]", fix, minimum=1) for i, v in enumerate(value)
            )
        return self.integer(value, key, fix, minimum=1)

    def fault(self, table: dict[str, Any], where: str) -> FaultSpec:
        names = ", ".join(sorted(n for n, c in _faults.REGISTRY.items() if "tcp" in c.transports))
        if "name" not in table:
            fix = f'add name = "latency" (one of {names})'
            raise self.fail(where, "the fault has no name", fix)
        name = self.string(table["name"], f"{where}.name", f"write one of {names}")
        key = name.strip().lower().replace("-", "_")
        cls = _faults.REGISTRY.get(key)
        if cls is None or "tcp" not in cls.transports:
            close = difflib.get_close_matches(key, names.split(", "), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            problem = (
                f"unknown fault {name!r}"
                if cls is None
                else f"{name!r} is a UDP fault, and a scenario serves TCP"
            )
            raise self.fail(f"{where}.name", problem, f"{hint}choose one of {names}")
        params = [f.name for f in fields(cls) if f.init]
        self.unknown(table, (*FAULT_RESERVED, *params), where)
        args: tuple[Any, ...] = ()
        if "args" in table:
            value = table["args"]
            if not isinstance(value, list):
                raise self.fail(
                    f"{where}.args",
                    f"expected an array of positional arguments, got {_show(value)}",
                    f"write args = [{_value(value) if isinstance(value, int | float) else '...'}]",
                )
            args = tuple(value)
        connections = None
        if "connections" in table:
            value = table["connections"]
            fix = "write connections = [1, 2] (accept order, the first connection is 1)"
            if not isinstance(value, list) or not value:
                raise self.fail(
                    f"{where}.connections", f"expected a list of numbers, got {_show(value)}", fix
                )
            connections = tuple(
                self.integer(v, f"{where}.connections[{i}]", fix, minimum=1)
                for i, v in enumerate(value)
            )
        kwargs = tuple((k, v) for k, v in table.items() if k not in FAULT_RESERVED)
        spec = FaultSpec(key, args, kwargs, connections)
        try:
            spec.build()
        except (TypeError, ValueError) as exc:
            raise self.fail(
                where,
                f"{cls.__name__}: {exc}",
                f"{name} takes {_signature(cls)}: pass them as args = [...] or by name",
            ) from None
        return spec


def _last(key: str) -> str:
    return key.rpartition(".")[2].partition("[")[0]


def _signature(cls: type[_faults.Fault]) -> str:
    """``seconds, jitter=0.0, probability=1.0``: the fault's parameters, in order."""
    parts = []
    for p in inspect.signature(cls).parameters.values():
        parts.append(p.name if p.default is p.empty else f"{p.name}={p.default!r}")
    return ", ".join(parts)


# ----------------------------------------------------------------------------- writing


def is_text(data: bytes) -> bool:
    """True when ``data`` is UTF-8 without control bytes other than ``\\r``, ``\\n``, ``\\t``
    (written as a TOML string; anything else is written as hex)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(ch in "\r\n\t" or not (ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0) for ch in text)


_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f"}
_SHORT_ESCAPES["\r"] = "\\r"


def toml_string(text: str, literal: bool = False) -> str:
    """``text`` as a TOML string that reads back exactly.

    A basic string (``"..."``) escapes quotes, backslashes and every non-printable character;
    with ``literal=True``, text holding backslashes is written as a literal string (``'...'``,
    backslashes kept as written) when it allows one.
    """
    if literal and "\\" in text and "'" not in text and text.isprintable():
        return f"'{text}'"
    out = []
    for ch in text:
        escape = _SHORT_ESCAPES.get(ch)
        if escape is not None:
            out.append(escape)
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(f"\\U{ord(ch):08X}")
    return '"' + "".join(out) + '"'


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _key(name: str) -> str:
    return name if _BARE_KEY.fullmatch(name) else toml_string(name)


def _value(value: object) -> str:
    """A TOML value (strings, integers, floats, booleans and arrays of them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} to TOML")


def _bytes_entry(name: str, data: tuple[bytes, ...]) -> list[str]:
    """``name = "text"`` or ``name_hex = "..."`` (with a comment showing the bytes)."""
    single = len(data) == 1
    if all(is_text(d) for d in data):
        texts = [toml_string(d.decode("utf-8")) for d in data]
        return [f"{name} = {texts[0] if single else '[' + ', '.join(texts) + ']'}"]
    hexes = [f'"{d.hex()}"' for d in data]
    preview = repr(b"".join(data))
    lines = [f"# {preview[:96]}{'...' if len(preview) > 96 else ''}"]
    lines.append(f"{name}_hex = {hexes[0] if single else '[' + ', '.join(hexes) + ']'}")
    return lines


def dumps(scenario: Scenario) -> str:
    """The scenario as TOML text that :func:`loads` reads back equal."""
    lines = ["# sockfix scenario (see docs/scenarios.md)"]
    lines += [f"# {h}" if h else "#" for h in scenario.header]
    lines.append(f"version = {VERSION}")
    lines.append(f"framing = {toml_string(scenario.framing, literal=True)}")
    if scenario.host is not None:
        lines.append(f"host = {toml_string(scenario.host)}")
    if scenario.port is not None:
        lines.append(f"port = {scenario.port}")
    if scenario.seed is not None:
        lines.append(f"seed = {scenario.seed}")
    if not scenario.strict:
        lines.append("strict = false")
    for rule in scenario.rules:
        lines.append("")
        if rule.comment:
            lines += [f"# {c}" for c in rule.comment.splitlines()]
        lines.append("[[rules]]")
        if rule.on_connect:
            lines.append("on_connect = true")
        elif rule.expect is not None:
            lines += _bytes_entry("expect", (rule.expect,))
        elif rule.expect_regex is not None:
            lines.append(f"expect_regex = {toml_string(rule.expect_regex, literal=True)}")
        else:
            lines.append("expect_any = true")
        if rule.respond:
            lines += _bytes_entry("respond", rule.respond)
        if rule.delay is not None:
            lines.append(f"delay = {_value(rule.delay)}")
        if rule.chunked is not None:
            lines.append(f"chunked = {_value(rule.chunked)}")
        if rule.chunk_delay is not None:
            lines.append(f"chunk_delay = {_value(rule.chunk_delay)}")
        if rule.times is not None:
            lines.append(f"times = {rule.times}")
        if rule.ending is not None:
            lines.append(f"{rule.ending} = true")
    for fault in scenario.faults:
        lines += ["", "[[faults]]", f"name = {toml_string(fault.name)}"]
        if fault.args:
            lines.append(f"args = {_value(fault.args)}")
        lines += [f"{_key(k)} = {_value(v)}" for k, v in fault.kwargs]
        if fault.connections is not None:
            lines.append(f"connections = {_value(fault.connections)}")
    return "\n".join(lines) + "\n"


def framing_spec(framing: Framing) -> str:
    """The ``sockfix.framing.parse`` spec of a built-in framing: ``fixed(4)`` -> ``"fixed:4"``.

    A framing written as code cannot be saved: :class:`ScenarioError` says so.
    """
    if isinstance(framing, _Delimited):
        if repr(framing) == "lines()":
            return "lines"
        return "delimited:" + "".join(_sep_char(b) for b in framing.sep)
    if isinstance(framing, _Fixed):
        return f"fixed:{framing.n}"
    if isinstance(framing, _Raw):
        return "raw"
    if isinstance(framing, _LengthPrefixed):
        return "length_prefixed" if framing.fmt == "!I" else f"length_prefixed:{framing.fmt}"
    kind = "built-in framing" if isinstance(framing, BuiltinFraming) else "framing"
    raise ScenarioError(
        f"the {kind} {describe(framing)} cannot be written to a scenario file (a scenario is "
        "data, not code); use a built-in framing: lines(), delimited(sep), fixed(n), "
        "length_prefixed(fmt) or raw()"
    )


def _sep_char(b: int) -> str:
    """One separator byte as ``parse`` reads it back (``unicode_escape``)."""
    named = {0x0D: "\\r", 0x0A: "\\n", 0x09: "\\t", 0x5C: "\\\\"}
    if b in named:
        return named[b]
    if 0x20 < b < 0x7F:
        return chr(b)
    return f"\\x{b:02x}"


# ----------------------------------------------------------------------------- recording


@dataclass(frozen=True)
class Exchange:
    """One step of a recorded connection.

    ``request`` is a client message (None for the greeting: what the server sent before the
    first request); ``reply`` what the real server sent after it and before the next request;
    ``ending`` ``"close"`` / ``"reset"`` when the server ended the connection after it;
    ``partial`` marks client bytes left unframed at the end (not a complete message).
    """

    connection: int
    request: bytes | None
    reply: bytes
    ending: Literal["close", "reset"] | None = None
    partial: bool = False


def exchanges_from(
    records: Sequence[tuple[Sequence[Event], Sequence[Event]]], framing: Framing
) -> list[Exchange]:
    """Pair requests with replies, per connection in order.

    ``records`` holds, per client connection in accept order, ``(client_events,
    upstream_events)`` on one clock: the client side's ``"in"`` bytes are cut by ``framing``
    into requests; each upstream ``"in"`` chunk belongs to the last request complete at or
    before its time (earlier ones make the greeting). Every connection starts with a greeting
    exchange (its reply may be empty). A close or reset by the server before the client ended
    its side (or an unreachable server, which the proxy passes on as a reset) is the
    ``ending`` of the exchange it follows.
    """
    out: list[Exchange] = []
    for number, (client_events, upstream_events) in enumerate(records, 1):
        framer = Framer(framing)
        requests: list[bytes] = []
        times: list[float] = []
        client_end: float | None = None
        for event in client_events:
            if event.kind == "in":
                try:
                    messages = framer.feed(event.data)
                except FramingError as exc:
                    raise ScenarioError(
                        f"connection {number}: {exc}; record with a framing that fits the protocol"
                    ) from None
                requests += messages
                times += [event.time] * len(messages)
            elif client_end is None and _ends(event):
                client_end = event.time
        replies = [bytearray() for _ in range(len(requests) + 1)]
        endings: list[Literal["close", "reset"] | None] = [None] * len(replies)
        connected = False
        for event in upstream_events:
            if event.kind == "in":
                replies[bisect_right(times, event.time)] += event.data
            elif event.kind == "connect":
                connected = True
            elif event.kind == "error" and not connected:
                # The real server was unreachable: the proxy reset the client.
                endings[bisect_right(times, event.time)] = "reset"
                break
            elif _ends(event):
                if client_end is None or event.time < client_end:
                    endings[bisect_right(times, event.time)] = (
                        "close" if event.kind == "eof" else "reset"
                    )
                break
        requests_or_greeting: list[bytes | None] = [None, *requests]
        for request, reply, ending in zip(requests_or_greeting, replies, endings, strict=True):
            out.append(Exchange(number, request, bytes(reply), ending))
        if framer.pending:
            out.append(Exchange(number, framer.pending, b"", partial=True))
    return out


def _ends(event: Event) -> bool:
    """The peer ended its side: an EOF, or a RST it sent."""
    return event.kind == "eof" or (event.kind == "reset" and event.note == "by peer")


def from_exchanges(exchanges: Sequence[Exchange], framing: Framing) -> Scenario:
    """The scenario that answers each recorded request with its recorded reply, in order.

    Every rule is ``times = 1``: identical requests with different replies replay in order,
    since a used-up rule falls through to the next. Greetings become ``on_connect`` rules (one
    per connection, empty where a connection had none, so each connection gets its own).
    """
    spec = framing_spec(framing)
    greetings = any(e.request is None and (e.reply or e.ending) for e in exchanges)
    rules: list[RuleSpec] = []
    header: list[str] = []
    counts: dict[int, int] = {}
    for e in exchanges:
        if e.partial:
            assert e.request is not None
            header.append(
                f"connection {e.connection} ended with {len(e.request)} bytes that are not a "
                f"complete message under framing {spec!r}: {e.request[:60]!r}"
            )
            continue
        if e.request is None:
            if not greetings:
                continue
            comment = f"connection {e.connection}: greeting"
        else:
            counts[e.connection] = counts.get(e.connection, 0) + 1
            comment = f"connection {e.connection}, message {counts[e.connection]}"
        rules.append(
            RuleSpec(
                on_connect=e.request is None,
                expect=e.request,
                respond=(e.reply,) if e.reply else (),
                times=1,
                ending=e.ending,
                comment=comment,
            )
        )
    if header:
        header.append("replaying the same client run reports those bytes (strict)")
    return Scenario(framing=spec, rules=tuple(rules), header=tuple(header))


def write_scenario(
    path: str | os.PathLike[str], exchanges: Sequence[Exchange], *, framing: Framing
) -> Path:
    """Write the scenario of recorded ``exchanges`` (see :func:`from_exchanges`) to ``path``."""
    scenario = from_exchanges(exchanges, framing)
    target = Path(path)
    header = (
        "recorded by sockfix.TCPProxy.save_scenario: each request answered with the reply",
        "the real server sent, once and in order",
        f'replay: sockfix.TCPServer.from_scenario("{target.name}") or sockfix serve {target.name}',
        *scenario.header,
    )
    text = dumps(replace(scenario, header=header))
    target.write_text(text, encoding="utf-8", newline="\n")
    return target
