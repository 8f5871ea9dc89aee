"""The errors sockfix raises, and the text helpers that make them name the fix."""

from __future__ import annotations

__all__ = ["PortInUseError", "ScenarioError", "StrictError", "bytes_hint"]


class StrictError(AssertionError):
    """A strict server saw something its script did not allow.

    Raised from ``stop()`` (or the fixture's teardown). The message shows the offending bytes,
    every rule and why each missed, and the original traceback of a failing response callable.
    ``problems`` holds each problem's text.
    """

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = list(problems or [])


class PortInUseError(OSError):
    """The requested port is taken on that host."""


class ScenarioError(ValueError):
    """A scenario file cannot be read or breaks the schema (see docs/scenarios.md).

    The message names the file, the key path and the fix:
    ``redis.toml: rules[2].respond: expected a string or a list of them, got 42 ...``.
    ``source`` is the file (as given), ``key`` the key path ("" when the file as a whole).
    """

    def __init__(self, message: str, *, source: str = "", key: str = "") -> None:
        super().__init__(message)
        self.source = source
        self.key = key


# Shown as sockfix.StrictError in tracebacks and reports, where users import it from.
StrictError.__module__ = "sockfix"
PortInUseError.__module__ = "sockfix"
ScenarioError.__module__ = "sockfix"


def bytes_hint(value: object) -> str:
    """``, write b'PING' (or 'PING'.encode())`` for a str, else an empty string."""
    if isinstance(value, str):
        try:
            as_bytes = value.encode("ascii")
        except UnicodeEncodeError:
            return f": write {value!r}.encode() to send its UTF-8 bytes"
        return f": write {as_bytes!r} (or {value!r}.encode())"
    return ""
