"""Checking a scenario's values one key at a time: each error names the file, the key path and
the fix, as a :class:`sockfix.ScenarioError`. Pure: no I/O.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Sequence
from typing import Any

from sockfix.core.errors import ScenarioError
from sockfix.core.scenario.toml import show_value, toml_value


class ValueChecker:
    """Checks single values, raising errors that name the source and the key path."""

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
            raise self.fail(key, f"expected a string, got {show_value(value)}", fix)
        return value

    def integer(self, value: object, key: str, fix: str, minimum: int | None = None) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"expected an integer, got {show_value(value)}", fix)
        if minimum is not None and value < minimum:
            raise self.fail(key, f"expected an integer >= {minimum}, got {value}", fix)
        return value

    def boolean(self, value: object, key: str, fix: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(key, f"expected true or false, got {show_value(value)}", fix)
        return value

    def seconds(self, value: object, key: str) -> float:
        fix = f"write seconds as a number >= 0, e.g. {key.rpartition('.')[2]} = 0.1"
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(key, f"expected a number of seconds, got {show_value(value)}", fix)
        if not math.isfinite(value) or value < 0:
            raise self.fail(key, f"expected seconds >= 0, got {toml_value(value)}", fix)
        return float(value)

    def hex_bytes(self, value: object, key: str) -> bytes:
        fix = (
            f'write hex digits, two per byte (spaces allowed), e.g. {last_key(key)} = "2b4f4b0d0a"'
        )
        text = self.string(value, key, fix)
        try:
            return bytes.fromhex(text)
        except ValueError as exc:
            raise self.fail(key, f"not hex: {show_value(text)} ({exc})", fix) from None

    def pieces(self, value: object, key: str, as_hex: bool) -> tuple[bytes, ...]:
        name = last_key(key)
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
                    raise self.fail(where, f"expected {kind}, got {show_value(item)}", fix)
                out.append(self.hex_bytes(item, where) if as_hex else item.encode("utf-8"))
            return tuple(out)
        what = "a hex string" if as_hex else "a string"
        raise self.fail(key, f"expected {what} or a list of them, got {show_value(value)}", fix)


def last_key(key: str) -> str:
    return key.rpartition(".")[2].partition("[")[0]
