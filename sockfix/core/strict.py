"""Strict reporting: the problems an endpoint saw, each raised once, and the text that says them.

Pure: the socket layer appends problems as they happen (from any thread: ``list.append`` is
atomic), and asks for the text at the end of a test or at ``stop()``.
"""

from __future__ import annotations

from sockfix.core.rules import RuleBook
from sockfix.core.text import condense_problems

__all__ = ["StrictReport"]


class StrictReport:
    """The problems of one endpoint: :attr:`found` as they happen, plus, for a strict server,
    the rules of its book not used up. Each problem is raised (or waived) once."""

    def __init__(self, strict: bool, book: RuleBook | None = None) -> None:
        self.strict = strict
        self.book = book
        self.found: list[str] = []
        self._reported: set[str] = set()

    def problems(self) -> list[str]:
        """Every problem so far: what was found, then the rules not used up."""
        out = list(self.found)
        if self.strict and self.book is not None:
            out += [
                f"rule {r.describe()} was used {r.used} of {r.quota} times"
                + (" (ordered: every step must be used)" if r.ordered and r.limit is None else "")
                for r in self.book.unused()
            ]
        return out

    def unreported(self) -> list[str]:
        """The problems not raised or waived yet."""
        return [p for p in self.problems() if p not in self._reported]

    def waive(self) -> None:
        """Mark every problem so far as dealt with (``stop(check=False)``)."""
        self._reported.update(self.problems())

    def take(self, title: str) -> tuple[str, list[str]]:
        """The text of the problems not raised yet, and those problems, marked raised; an
        empty text when there are none (or the endpoint is not strict).

        The text says each problem once: the same problem on several connections is one entry
        naming them (``connections 1, 2, 3: ...``); the rule list comes once, at the end.
        """
        problems = self.unreported()
        if not self.strict or not problems:
            return "", []
        self._reported.update(problems)
        body = "\n".join(f"{i}) {p}" for i, p in enumerate(condense_problems(problems), 1))
        usage = ""
        if self.book is not None and (self.book.greetings or self.book.rules):
            usage = f"all rules, with their use:\n{self.book.describe()}\n"
        text = (
            f"sockfix {title} saw {len(problems)} problem(s):\n"
            f"{body}\n{usage}(pass strict=False to record and ignore these)"
        )
        return text, problems
