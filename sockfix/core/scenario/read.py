"""Reading a scenario file: TOML text checked key by key into a :class:`Scenario`.

Every error names the file, the key path and the fix, as a :class:`sockfix.ScenarioError`
(a ValueError). Pure: reading the file is the only I/O.
"""

from __future__ import annotations

import difflib
import inspect
import os
import re
import tomllib
from dataclasses import fields
from typing import Any

from sockfix.core import faults as _faults
from sockfix.core.errors import ScenarioError
from sockfix.core.rules import RuleBook
from sockfix.core.scenario.check import ValueChecker
from sockfix.core.scenario.model import (
    ENDINGS,
    EXPECT_KEYS,
    FAULT_RESERVED,
    RULE_KEYS,
    TOP_KEYS,
    VERSION,
    Ending,
    FaultSpec,
    RuleSpec,
    Scenario,
)
from sockfix.core.scenario.toml import show_value, toml_value
from sockfix.framing import parse


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


class _Reader(ValueChecker):
    """Checks a parsed document key by key, raising errors that name the key path."""

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
                    '\'delimited:\\r\\n\', "length_prefixed:!H", "http" or "resp"',
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
        ordered = False
        if "ordered" in doc:
            fix = "write ordered = true (the rules are steps, used in file order) or drop it"
            ordered = self.boolean(doc["ordered"], "ordered", fix)
        max_connections = None
        if "max_connections" in doc:
            fix = "write max_connections = N with N >= 1 (drop it for no limit)"
            max_connections = self.integer(
                doc["max_connections"], "max_connections", fix, minimum=1
            )
        rules = tuple(self.rule(t, f"rules[{i}]") for i, t in enumerate(self.tables(doc, "rules")))
        fault_specs = tuple(
            self.fault(t, f"faults[{i}]") for i, t in enumerate(self.tables(doc, "faults"))
        )
        return Scenario(
            framing=spec,
            host=host,
            port=port,
            seed=seed,
            strict=strict,
            rules=rules,
            faults=fault_specs,
            ordered=ordered,
            max_connections=max_connections,
            source=self.source,
        )

    def tables(self, doc: dict[str, Any], key: str) -> list[dict[str, Any]]:
        value = doc.get(key, [])
        fix = f"start each one with [[{key}]] (double brackets: an array of tables)"
        if not isinstance(value, list):
            raise self.fail(key, f"expected an array of tables, got {show_value(value)}", fix)
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                raise self.fail(f"{key}[{i}]", f"expected a table, got {show_value(item)}", fix)
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
                example = toml_value(value) if isinstance(value, int | float) else "..."
                raise self.fail(
                    f"{where}.args",
                    f"expected an array of positional arguments, got {show_value(value)}",
                    f"write args = [{example}]",
                )
            args = tuple(value)
        connections = None
        if "connections" in table:
            value = table["connections"]
            fix = "write connections = [1, 2] (accept order, the first connection is 1)"
            if not isinstance(value, list) or not value:
                raise self.fail(
                    f"{where}.connections",
                    f"expected a list of numbers, got {show_value(value)}",
                    fix,
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


def _signature(cls: type[_faults.Fault]) -> str:
    """``seconds, jitter=0.0, probability=1.0``: the fault's parameters, in order."""
    parts = []
    for p in inspect.signature(cls).parameters.values():
        parts.append(p.name if p.default is p.empty else f"{p.name}={p.default!r}")
    return ", ".join(parts)
