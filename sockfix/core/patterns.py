"""Patterns: what a rule's ``expect(...)`` matches, and why a message missed it."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final

from sockfix.core.errors import bytes_hint
from sockfix.core.text import short

__all__ = ["ANY", "Matcher", "Pattern", "as_matcher"]


class _Any:
    """Matches every message."""

    _instance: _Any | None = None

    def __new__(cls) -> _Any:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ANY"

    def __reduce__(self) -> str:
        return "ANY"


ANY: Final = _Any()

Pattern = bytes | re.Pattern[bytes] | Callable[[bytes], bool] | _Any


class Matcher:
    """One pattern as a matcher: ``miss(message)`` is None on a match, else why it missed."""

    __slots__ = ("_kind", "_value", "text")

    def __init__(self, kind: str, value: Any, text: str) -> None:
        self._kind = kind
        self._value = value
        self.text = text

    def matches(self, message: Any) -> bool:
        kind = self._kind
        if kind == "bytes":
            return bool(message == self._value)
        if kind == "any":
            return True
        if kind == "regex":
            return self._value.fullmatch(message) is not None
        return bool(self._value(message))

    def miss(self, message: Any) -> str | None:
        """None when ``message`` matches; otherwise a short reason it does not."""
        if self.matches(message):
            return None
        if self._kind == "bytes":
            return _bytes_difference(self._value, message)
        if self._kind == "regex":
            return "the regex does not fullmatch the message"
        return "the predicate returned false"

    def __repr__(self) -> str:
        return self.text


def _bytes_difference(expected: bytes, got: bytes) -> str:
    n = min(len(expected), len(got))
    i = next((k for k in range(n) if expected[k] != got[k]), n)
    if i == n:
        if len(got) < len(expected):
            return f"the message is a prefix: {len(expected) - len(got)} bytes short"
        return f"the message has {len(got) - len(expected)} extra bytes after the pattern"
    return (
        f"differs at byte {i}: expected {short(expected[i : i + 8])}, got {short(got[i : i + 8])}"
    )


def as_matcher(pattern: object) -> Matcher:
    """Check ``pattern`` and wrap it; a str or a str regex gets a TypeError naming the fix."""
    if pattern is ANY:
        return Matcher("any", None, "ANY")
    if isinstance(pattern, bytes | bytearray):
        value = bytes(pattern)
        return Matcher("bytes", value, short(value, 80))
    if isinstance(pattern, re.Pattern):
        if isinstance(pattern.pattern, str):
            raise TypeError(
                f"expect() got a str regex {pattern.pattern!r}: compile a bytes regex instead, "
                f"re.compile({pattern.pattern.encode()!r})"
            )
        return Matcher("regex", pattern, f"re.compile({pattern.pattern!r})")
    if isinstance(pattern, str):
        raise TypeError(f"expect() takes bytes, not str{bytes_hint(pattern)}")
    if callable(pattern):
        name = getattr(pattern, "__qualname__", None) or repr(pattern)
        return Matcher("callable", pattern, f"<predicate {name}>")
    raise TypeError(
        "expect() takes bytes, a compiled bytes regex, a callable (message) -> bool, "
        f"or sockfix.ANY; got {type(pattern).__name__} {pattern!r}"
    )
