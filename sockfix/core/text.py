"""Bytes as text: escaped reprs and hexdump rows, shared by errors and transcripts; and the
grouping of strict problems that several connections share."""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["condense_problems", "escaped", "hex_rows", "numbers", "short"]


def escaped(data: bytes) -> str:
    """``data`` as a bytes literal without ``b''``: printable ASCII kept, the rest escaped."""
    return repr(bytes(data))[2:-1]


def short(data: bytes, limit: int = 60) -> str:
    """A bytes literal of ``data``, cut to about ``limit`` characters with the length said."""
    text = repr(bytes(data))
    if len(text) <= limit:
        return text
    return f"{text[: limit - 4]}...' ({len(data)} bytes)"


def hex_rows(data: bytes, width: int = 16, offset: int = 0, *, collapse: bool = False) -> list[str]:
    """``hexdump -C``-style rows: offset, hex bytes in two groups of eight, printable ASCII.

    With ``collapse``, two or more full rows identical to the row above them are one line
    ``* (N identical rows)``, as ``hexdump``'s ``*``.
    """
    rows: list[str] = []
    repeats = 0
    for start in range(0, len(data), width):
        chunk = data[start : start + width]
        if collapse and len(chunk) == width and start and chunk == data[start - width : start]:
            repeats += 1
            continue
        rows += _repeated(repeats, data, start, width, offset)
        repeats = 0
        hexes = " ".join(f"{b:02x}" for b in chunk[:8])
        if len(chunk) > 8:
            hexes += "  " + " ".join(f"{b:02x}" for b in chunk[8:])
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        rows.append(f"{offset + start:08x}  {hexes:<{width * 3 + 1}} |{text}|")
    return rows + _repeated(repeats, data, len(data), width, offset)


def _repeated(repeats: int, data: bytes, end: int, width: int, offset: int) -> list[str]:
    """The rows a run of ``repeats`` rows identical to the one before them, ending at ``end``,
    stands for: one ``*`` line, or the single row itself (a ``*`` would save nothing)."""
    if repeats == 0:
        return []
    if repeats == 1:
        return hex_rows(data[end - width : end], width, offset + end - width)
    return [f"* ({repeats} identical rows)"]


_CONNECTION = re.compile(r"connection (\d+): (.*)", re.DOTALL)


def numbers(values: Iterable[int]) -> str:
    """``1, 2, 3``; a long list with its runs as ranges: ``1-40, 42, 44-60``."""
    values = sorted(set(values))
    if len(values) <= 10:
        return ", ".join(map(str, values))
    runs: list[list[int]] = []
    for value in values:
        if runs and value == runs[-1][-1] + 1:
            runs[-1].append(value)
        else:
            runs.append([value])
    return ", ".join(
        f"{run[0]}-{run[-1]}" if len(run) > 2 else ", ".join(map(str, run)) for run in runs
    )


def condense_problems(problems: Iterable[str]) -> list[str]:
    """Each problem text once, in the order first seen: the same ``connection N: text`` on
    several connections becomes ``connections 1, 2, 3: text``."""
    seen: dict[tuple[bool, str], list[int]] = {}  # insertion-ordered: first seen first
    for problem in problems:
        match = _CONNECTION.fullmatch(problem)
        key = (True, match.group(2)) if match else (False, problem)
        conns = seen.setdefault(key, [])
        if match:
            conns.append(int(match.group(1)))
    out = []
    for (named, text), conns in seen.items():
        if not named:
            out.append(text)
        elif len(set(conns)) == 1:
            out.append(f"connection {conns[0]}: {text}")
        else:
            out.append(f"connections {numbers(conns)}: {text}")
    return out
