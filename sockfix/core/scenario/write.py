"""Writing a scenario as TOML text (a small writer: the stdlib reads TOML only), and the
``sockfix.framing.parse`` spec of a built-in framing. Pure: no I/O.
"""

from __future__ import annotations

from sockfix.core.errors import ScenarioError
from sockfix.core.scenario.model import VERSION, Scenario
from sockfix.core.scenario.toml import is_text, toml_key, toml_string, toml_value
from sockfix.framing import (
    _HTTP,
    _RESP,
    BuiltinFraming,
    Framing,
    _Delimited,
    _Fixed,
    _LengthPrefixed,
    _Raw,
    describe,
)


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
    if scenario.ordered:
        lines.append("ordered = true")
    if scenario.max_connections is not None:
        lines.append(f"max_connections = {scenario.max_connections}")
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
            lines.append(f"delay = {toml_value(rule.delay)}")
        if rule.chunked is not None:
            lines.append(f"chunked = {toml_value(rule.chunked)}")
        if rule.chunk_delay is not None:
            lines.append(f"chunk_delay = {toml_value(rule.chunk_delay)}")
        if rule.times is not None:
            lines.append(f"times = {rule.times}")
        if rule.ending is not None:
            lines.append(f"{rule.ending} = true")
    for fault in scenario.faults:
        lines += ["", "[[faults]]", f"name = {toml_string(fault.name)}"]
        if fault.args:
            lines.append(f"args = {toml_value(fault.args)}")
        lines += [f"{toml_key(k)} = {toml_value(v)}" for k, v in fault.kwargs]
        if fault.connections is not None:
            lines.append(f"connections = {toml_value(fault.connections)}")
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
    if isinstance(framing, _HTTP):
        return "http"
    if isinstance(framing, _RESP):
        return "resp"
    kind = "built-in framing" if isinstance(framing, BuiltinFraming) else "framing"
    raise ScenarioError(
        f"the {kind} {describe(framing)} cannot be written to a scenario file (a scenario is "
        "data, not code); use a built-in framing: lines(), delimited(sep), fixed(n), "
        "length_prefixed(fmt), http() or raw()"
    )


def _sep_char(b: int) -> str:
    """One separator byte as ``parse`` reads it back (``unicode_escape``)."""
    named = {0x0D: "\\r", 0x0A: "\\n", 0x09: "\\t", 0x5C: "\\\\"}
    if b in named:
        return named[b]
    if 0x20 < b < 0x7F:
        return chr(b)
    return f"\\x{b:02x}"
