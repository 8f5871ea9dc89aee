"""Rules: the scripted answers of a TCP server, and the book that picks the first live match."""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager as ContextManager
from typing import Concatenate, Literal, ParamSpec, Protocol, TypeVar

from sockfix.core.errors import bytes_hint
from sockfix.core.patterns import Pattern, as_matcher
from sockfix.core.text import short

__all__ = ["MatcherLike", "Response", "ResponseError", "Rule", "RuleBook"]

Response = bytes | Callable[[bytes], bytes]
Ending = Literal["close", "reset", "hang"]
_P = ParamSpec("_P")


class MatcherLike(Protocol):
    """What a rule matches with: ``matches(subject)``, ``miss(subject)`` (None on a match, else
    why not) and ``text`` (how the pattern reads in code). The subject is the framed message
    (bytes) for TCP and UDP rules, the parsed request for a protocol kit's rules."""

    text: str

    def matches(self, subject: object, /) -> bool: ...

    def miss(self, subject: object, /) -> str | None: ...


class ResponseError(Exception):
    """A response callable returned something that is not a response; ``text`` says the fix."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


def bad_result(who: str, value: object) -> str:
    hint = ""
    if isinstance(value, str):
        hint = f": return {value!r}.encode() instead"
    return f"{who} must return bytes, got {type(value).__name__} {value!r}{hint}"


# What a datagram rule says instead of each connection-only call.
_SILENCE = "for no answer, leave out respond() or attach sockfix.faults.Drop()"
_NO_CONNECTION = {
    "close": f"drop it ({_SILENCE})",
    "reset": f"drop it ({_SILENCE})",
    "hang": _SILENCE,
    "chunked": "give several respond() pieces to send several datagrams",
    "starttls": "DTLS is not supported; use a TCPServer(tls=True)",
}


def _check_seconds(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{what} takes seconds as a number, got {value!r}")
    seconds = float(value)
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"{what} needs seconds >= 0, got {value!r}; use 0 for no delay")
    return seconds


def _check_chunks_cover(chunks: int | tuple[int, ...] | None, pieces: list[Response]) -> None:
    """Raise, before the rule changes, when listed chunk sizes cannot cover the bytes reply."""
    if not isinstance(chunks, tuple):
        return
    if all(isinstance(p, bytes) for p in pieces):
        total = sum(len(p) for p in pieces if isinstance(p, bytes))
        if sum(chunks) < total:
            raise ValueError(
                f"chunked({list(chunks)}) covers {sum(chunks)} bytes but the reply "
                f"is {total} bytes: add sizes so they sum to at least {total}"
            )


def _callable_name(fn: object) -> str:
    name = str(getattr(fn, "__qualname__", "callable"))
    return name if name.startswith("<") else f"<{name}>"


_RuleT = TypeVar("_RuleT", bound="Rule")
_Builder = Callable[Concatenate[_RuleT, _P], _RuleT]


def _builder(method: _Builder[_RuleT, _P]) -> _Builder[_RuleT, _P]:
    """A builder call that raises changes nothing, and withdraws a rule not used yet from its
    book: a half-built rule never answers, nor shows up as unused."""

    @functools.wraps(method)
    def build(rule: _RuleT, /, *args: _P.args, **kwargs: _P.kwargs) -> _RuleT:
        try:
            return method(rule, *args, **kwargs)
        except (TypeError, ValueError):
            if rule.used == 0 and rule.withdraw is not None:
                rule.withdraw(rule)
            raise

    return build


class Rule:
    """One scripted answer. Every method returns the rule, so calls chain.

    Built by ``server.expect(pattern)`` or ``server.on_connect()``; do not make one directly.
    """

    def __init__(
        self,
        matcher: MatcherLike | None,
        number: int,
        *,
        datagrams: bool = False,
        ordered: bool = False,
        withdraw: Callable[[Rule], None] | None = None,
    ) -> None:
        self.matcher = matcher
        self.number = number
        self.datagrams = datagrams
        self.ordered = ordered
        self.withdraw = withdraw
        self.note = f"rule {number}" if matcher is not None else f"on_connect {number}"
        self.pieces: list[Response] = []
        self.limit: int | None = None
        self.used = 0
        self.wait = 0.0
        self.chunks: int | tuple[int, ...] | None = None
        self.gap = 0.0
        self.ending: Ending | None = None
        self.upgrade = False  # .starttls(): TLS after the reply

    # -- the builder -------------------------------------------------------------------------

    @_builder
    def respond(self, response: Response) -> Rule:
        """Send ``response``: bytes, or a callable ``(message) -> bytes``. More calls add pieces."""
        piece: Response
        if isinstance(response, bytes | bytearray):
            piece = bytes(response)
        elif callable(response):
            piece = response
        else:
            raise TypeError(
                "respond() takes bytes or a callable (message) -> bytes, got "
                f"{type(response).__name__} {response!r}{bytes_hint(response)}"
            )
        _check_chunks_cover(self.chunks, [*self.pieces, piece])
        self.pieces.append(piece)
        return self

    @_builder
    def times(self, n: int) -> Rule:
        """Answer at most ``n`` matches, then fall through to later rules (strict: use them all)."""
        if isinstance(n, bool) or not isinstance(n, int):
            raise TypeError(f"times() takes an int, got {n!r}")
        if n < 1:
            raise ValueError(f"times(n) needs n >= 1, got {n}; remove the rule to never answer")
        if self.limit is not None:
            raise ValueError(
                f"times() was already set to {self.limit} on this rule: call times() once, "
                f"with the total number of matches, e.g. times({n})"
            )
        self.limit = n
        return self

    @_builder
    def delay(self, seconds: float) -> Rule:
        """Wait ``seconds`` before answering."""
        self.wait = _check_seconds(seconds, "delay()")
        return self

    @_builder
    def chunked(self, size_or_sizes: int | Sequence[int], delay: float = 0.0) -> Rule:
        """Send the reply in separate sends: every ``size`` bytes, or of the listed sizes.

        A list must cover the whole reply (its sum at least the reply's length); ``delay`` seconds
        pass between sends.
        """
        self._connection_only("chunked")
        gap = _check_seconds(delay, "chunked(delay=...)")
        if isinstance(size_or_sizes, int) and not isinstance(size_or_sizes, bool):
            if size_or_sizes < 1:
                raise ValueError(f"chunked() needs a size >= 1, got {size_or_sizes}")
            chunks: int | tuple[int, ...] = size_or_sizes
        elif isinstance(size_or_sizes, Sequence) and not isinstance(size_or_sizes, bytes | str):
            sizes = tuple(size_or_sizes)
            bad = [s for s in sizes if isinstance(s, bool) or not isinstance(s, int) or s < 1]
            if not sizes or bad:
                raise ValueError(
                    f"chunked() needs a non-empty list of positive int sizes, got {list(sizes)!r}"
                )
            chunks = sizes
        else:
            raise TypeError(f"chunked() takes an int or a list of ints, got {size_or_sizes!r}")
        _check_chunks_cover(chunks, self.pieces)
        self.chunks = chunks
        self.gap = gap
        return self

    @_builder
    def close(self) -> Rule:
        """After the reply (if any), close the connection (FIN)."""
        return self._end("close")

    @_builder
    def reset(self) -> Rule:
        """After the reply (if any), abort the connection with a real RST."""
        return self._end("reset")

    @_builder
    def hang(self) -> Rule:
        """After the reply (if any), never answer again; keep reading until the peer or stop()."""
        return self._end("hang")

    @_builder
    def starttls(self) -> Rule:
        """After the reply, upgrade the connection to TLS with the server's ``tls=``
        certificate (SMTP's ``STARTTLS``, IMAP, a Postgres-style ``SSLRequest``). A server
        with such a rule does not wrap connections at accept: clients start in plain text."""
        self._connection_only("starttls")
        if self.ending is not None:
            raise ValueError(
                f"rule {self.number} ends with .{self.ending}(): a connection that ends cannot "
                "then upgrade to TLS; drop one of them"
            )
        self.upgrade = True
        return self

    def _connection_only(self, call: str) -> None:
        if self.datagrams:
            raise TypeError(
                f"datagrams have no connection: a UDP rule cannot .{call}(); {_NO_CONNECTION[call]}"
            )

    def _end(self, ending: Ending) -> Rule:
        self._connection_only(ending)
        if self.upgrade:
            raise ValueError(
                f"rule {self.number} upgrades with .starttls(): a connection that upgrades "
                f"does not then .{ending}(); drop one of them"
            )
        if self.ending is not None and self.ending != ending:
            raise ValueError(
                f"rule {self.number} already ends with .{self.ending}(); "
                f"a rule ends one way: drop .{self.ending}() or .{ending}()"
            )
        self.ending = ending
        return self

    # -- answering ---------------------------------------------------------------------------

    def replies(self, subject: object) -> list[bytes]:
        """The bytes of each ``respond()`` piece for ``subject`` (the message), in order.

        Raises what a response callable raises, or :class:`ResponseError` when one returns
        something other than bytes. A protocol kit's rule encodes its responses here.
        """
        assert isinstance(subject, bytes)
        return [_call_piece(p, subject) for p in self.pieces]

    # -- state -------------------------------------------------------------------------------

    @property
    def quota(self) -> int | None:
        """How many matches the rule answers: ``times(n)``, 1 for a step of an ordered
        script, None for no limit."""
        if self.limit is None and self.ordered and self.matcher is not None:
            return 1
        return self.limit

    @property
    def live(self) -> bool:
        """True while the rule may still answer."""
        quota = self.quota
        return quota is None or self.used < quota

    @property
    def is_greeting(self) -> bool:
        return self.matcher is None

    def describe(self) -> str:
        """The rule as the code that built it: ``expect(b'PING\\r\\n').respond(...).times(1)``."""
        head = "on_connect()" if self.matcher is None else f"expect({self.matcher.text})"
        parts = [head, *self._describe_pieces()]
        if self.wait:
            parts.append(f"delay({self.wait:g})")
        if self.chunks is not None:
            chunks = self.chunks if isinstance(self.chunks, int) else list(self.chunks)
            parts.append(f"chunked({chunks}{f', delay={self.gap:g}' if self.gap else ''})")
        if self.ending:
            parts.append(f"{self.ending}()")
        if self.upgrade:
            parts.append("starttls()")
        if self.limit is not None:
            parts.append(f"times({self.limit})")
        return ".".join(parts)

    def _describe_pieces(self) -> list[str]:
        return [
            f"respond({short(piece, 40)})"
            if isinstance(piece, bytes)
            else f"respond({_callable_name(piece)})"
            for piece in self.pieces
        ]

    def __repr__(self) -> str:
        return f"<Rule {self.number}: {self.describe()} used {self.used}>"


R = TypeVar("R", bound=Rule)


class RuleBook:
    """The rules of one server, in the order added; ``claim`` takes the first live match.

    ``guard`` is a context manager (the socket layer passes a lock) that makes claiming atomic,
    so ``times(n)`` counts stay exact when connections race. ``ordered=True`` makes the rules
    steps: each message must match the next step (a rule is one step, ``times(n)`` n steps),
    whichever connection it came on.
    """

    def __init__(
        self,
        guard: ContextManager[object] | None = None,
        *,
        datagrams: bool = False,
        ordered: bool = False,
    ) -> None:
        self.rules: list[Rule] = []
        self.greetings: list[Rule] = []
        self.datagrams = datagrams
        self.ordered = ordered
        self._guard: ContextManager[object] = guard or contextlib.nullcontext()

    def expect(self, pattern: Pattern) -> Rule:
        return self.add(as_matcher(pattern), Rule)

    def add(self, matcher: MatcherLike, rule_class: type[R]) -> R:
        """A new rule of ``rule_class`` matching with ``matcher``, last in the book."""
        with self._guard:
            number = self._next_number(self.rules)
            rule = rule_class(
                matcher,
                number,
                datagrams=self.datagrams,
                ordered=self.ordered,
                withdraw=self._withdraw,
            )
            self.rules.append(rule)
        return rule

    def on_connect(self) -> Rule:
        with self._guard:
            rule = Rule(
                None,
                self._next_number(self.greetings),
                datagrams=self.datagrams,
                withdraw=self._withdraw,
            )
            self.greetings.append(rule)
        return rule

    @staticmethod
    def _next_number(into: list[Rule]) -> int:
        # After the last one, not len() + 1: a withdrawn rule must not leave two of one number.
        return into[-1].number + 1 if into else 1

    def _withdraw(self, rule: Rule) -> None:
        """Take off a rule whose builder call raised (see ``_builder``)."""
        with self._guard:
            for rules in (self.rules, self.greetings):
                if rule in rules:  # by identity: a Rule has no __eq__
                    rules.remove(rule)

    def claim(self, subject: object) -> Rule | None:
        """The first live rule matching ``subject`` (the message, or a kit's parsed request),
        its use counted; None when none does. Ordered: the next step, if it matches."""
        if not self.rules:  # a handler-only server: nothing to claim, no lock to take
            return None
        with self._guard:
            for rule in self.rules:
                if not rule.live:
                    continue
                assert rule.matcher is not None
                if rule.matcher.matches(subject):
                    rule.used += 1
                    return rule
                if self.ordered:
                    return None
        return None

    def claim_greeting(self) -> Rule | None:
        """The first live ``on_connect()`` rule, its use counted."""
        with self._guard:
            for rule in self.greetings:
                if rule.live:
                    rule.used += 1
                    return rule
        return None

    def next_step(self) -> tuple[int, Rule] | None:
        """Ordered: the number of the next step (from 1) and its rule; None when all are done."""
        step = 1
        for rule in self.rules:
            quota = rule.quota or 1
            if rule.used < quota:
                return step + rule.used, rule
            step += quota
        return None

    def why_missed(self, subject: object) -> list[str]:
        """One line per rule saying why ``subject`` did not take it (ordered: the step that was
        expected first)."""
        lines: list[str] = []
        if self.ordered and self.rules:
            nxt = self.next_step()
            total = sum(r.quota or 1 for r in self.rules)
            if nxt is None:
                steps = "the 1 step was" if total == 1 else f"all {total} steps were"
                lines.append(f"  ordered: {steps} already used")
            else:
                step, rule = nxt
                assert rule.matcher is not None
                reason = rule.matcher.miss(subject) or "matches now (added after the message came)"
                lines.append(
                    f"  ordered: expected step {step} of {total}, rule {rule.number}: "
                    f"{rule.describe()}\n      missed: {reason}"
                )
            return lines
        for rule in self.rules:
            if not rule.live:
                reason = f"used up (times({rule.quota}), used {rule.used})"
            else:
                assert rule.matcher is not None
                reason = rule.matcher.miss(subject) or "matches now (added after the message came)"
            lines.append(f"  rule {rule.number}: {rule.describe()}\n      missed: {reason}")
        return lines or ["  (no expect() rules)"]

    def unused(self) -> list[Rule]:
        """Rules with a quota (``times(n)``, or an ordered step) not used up."""
        return [r for r in self.greetings + self.rules if r.quota is not None and r.live]

    def describe(self) -> str:
        rules = self.greetings + self.rules
        return "\n".join(f"  {r.describe()}  [used {r.used}]" for r in rules) or "  (no rules)"


def _call_piece(piece: Response, message: bytes) -> bytes:
    if isinstance(piece, bytes):
        return piece
    out = piece(message)
    if not isinstance(out, bytes | bytearray):
        raise ResponseError(bad_result("a respond() callable", out))
    return bytes(out)
