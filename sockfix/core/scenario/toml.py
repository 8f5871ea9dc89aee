"""Spelling values in TOML: strings that read back exactly, keys, scalars and arrays, and
naming a parsed value's kind for error messages. Pure: no I/O.
"""

from __future__ import annotations

import math
import re


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


def toml_key(name: str) -> str:
    return name if _BARE_KEY.fullmatch(name) else toml_string(name)


def toml_value(value: object) -> str:
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
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} to TOML")


TOML_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "a boolean"),
    (int, "an integer"),
    (float, "a float"),
    (str, "a string"),
    (list, "an array"),
    (dict, "a table"),
)


def toml_kind(value: object) -> str:
    for typ, name in TOML_TYPES:
        if isinstance(value, typ):
            return name
    return f"a {type(value).__name__}"  # dates and times


def show_value(value: object) -> str:
    try:
        text = toml_value(value)
    except TypeError:
        text = repr(value)
    if len(text) > 60:
        text = text[:56] + "...]" if text.startswith("[") else text[:56] + "..."
    return f"{text} ({toml_kind(value)})"
