"""The per-connection peer as a sans-IO object: feed bytes in, get actions out.

The socket layer calls ``connect()`` once, ``feed(data)`` after every read and ``finish()`` when
the connection ends, and carries out the returned actions. The script records what came in
(``"in"`` events and framed messages) and every problem a strict server must report.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Literal

from sockfix.core.actions import Action, Close, Hang, Reset, Send, StartTLS, Wait
from sockfix.core.record import Connection
from sockfix.core.rules import ResponseError, Rule, RuleBook, bad_result
from sockfix.core.text import hex_rows, short
from sockfix.framing import BuiltinFraming, Framer, Framing, FramingError, describe

__all__ = ["Handler", "OnUnmatched", "Script"]

Handler = Callable[[bytes], "bytes | None"]
OnUnmatched = Literal["close", "reset", "ignore"] | bytes
"""What a message that no rule (and no handler) answers gets: a FIN, a RST, nothing, or bytes."""


def _offending(message: bytes) -> str:
    rows = hex_rows(message[:64])
    more = f"\n    ... {len(message) - 64} more bytes" if len(message) > 64 else ""
    return f"{short(message, 200)}\n" + "\n".join("    " + r for r in rows) + more


class Script:
    """Answers one connection from a rule book (and an optional handler)."""

    def __init__(
        self,
        conn: Connection,
        book: RuleBook,
        framing: Framing,
        handler: Handler | None = None,
        strict: bool = True,
        problems: list[str] | None = None,
        on_unmatched: OnUnmatched = "ignore",
    ) -> None:
        self.conn = conn
        self.book = book
        self.framing = framing
        # A user framing runs guarded: if it raises, the messages it cut before stay answered.
        # (The guard holds this list, not the script: no reference cycle.)
        self._framing_failures: list[Exception] = []
        self.framer_source = (
            framing
            if isinstance(framing, BuiltinFraming)
            else _guard(framing, self._framing_failures)
        )
        self.framer = Framer(self.framer_source)
        self.upgrading = False  # a STARTTLS is due: the rest of this read is not answered
        self.on_unmatched = on_unmatched
        self.handler = handler
        self.strict = strict
        self.problems: list[str] = problems if problems is not None else []
        self.hanging = False
        self.done = False
        self._finished = False

    # -- driven by the socket layer ----------------------------------------------------------

    def connect(self) -> list[Action]:
        """The greeting of the first live ``on_connect()`` rule, if any."""
        rule = self.book.claim_greeting()
        if rule is None:
            return []
        return self._answer(rule, b"")

    def feed(self, data: bytes) -> list[Action]:
        """Record ``data`` as received, frame it, and answer each complete message."""
        conn = self.conn
        conn.record_in(data)
        if self.done:
            return []
        try:
            messages = self.framer.feed(data)
        except FramingError as exc:
            # Answer what was cut before the bad length, then report and close.
            actions = self._on_messages(exc.messages) if exc.messages else []
            conn.record("error", note=str(exc))
            self._problem(f"{exc}; the connection was closed")
            self.done = True
            return [*actions, Close(note="framing error")]
        except Exception as exc:  # pragma: no cover - the guard catches what a framing raises;
            # this is the Framer's own trouble with what one returned
            return self._framing_raised(exc, [])
        if self._framing_failures:
            return self._framing_raised(self._framing_failures.pop(), messages)
        if not messages:
            return []
        return self._on_messages(messages)

    def _framing_raised(self, exc: Exception, messages: list[bytes]) -> list[Action]:
        """A framing raised: answer what it cut before, record it, report it, close."""
        actions = self._on_messages(messages) if messages else []
        name = describe(self.framing)
        text = "".join(traceback.format_exception(exc)).rstrip()
        self.conn.record("error", note=f"framing {name} raised: {exc!r}"[:500])
        self._problem(
            f"framing {name} raised on the bytes received; the connection was closed "
            f"(every byte received is recorded):\n{text}"
        )
        self.done = True
        return [*actions, Close(note="framing error")]

    def _on_messages(self, messages: list[bytes]) -> list[Action]:
        conn = self.conn
        first = len(conn.messages) + 1
        conn.add_messages(messages)
        if self.hanging:
            return []
        actions: list[Action] = []
        for number, message in enumerate(messages, first):
            actions += self._on_message(message, number)
            if self.done or self.hanging or self.upgrading:
                break
        if self.upgrading:
            self.upgrading = False
            skipped = len(messages) - (number - first + 1)
            if skipped:
                self.conn.record(
                    "error",
                    note=f"{skipped} plain-text message{'s' if skipped != 1 else ''} after "
                    "STARTTLS dropped, not answered",
                )
        return actions

    def datagram(self, data: bytes) -> list[Action]:
        """Record one datagram as received and answer it as one whole message (UDP)."""
        conn = self.conn
        conn.record_in(data)
        conn.add_messages([data])
        if self.hanging or self.done:
            return []
        return self._on_message(data, len(conn.messages))

    def finish(self) -> None:
        """The connection ended (either side, or stop()): report bytes left unframed."""
        if self._finished:
            return
        self._finished = True
        pending = self.framer.pending
        if pending and not self.done:
            self._problem(
                f"{len(pending)} bytes left unframed at close by framing "
                f"{describe(self.framing)}: {_offending(pending)}\n"
                "  (did the client forget a terminator, or does the server need another framing?)"
            )

    # -- answering ---------------------------------------------------------------------------

    def _on_message(self, message: bytes, number: int) -> list[Action]:
        try:
            rule = self.book.claim(message)
        except Exception as exc:  # an expect() predicate raised: a strict problem, not a crash
            return self._failed(message, "an expect() predicate", exc)
        if rule is not None:
            return self._answer(rule, message)
        if self.handler is not None:
            try:
                reply = self.handler(message)
                if reply is None:
                    return []
                if not isinstance(reply, bytes | bytearray):
                    raise ResponseError(bad_result("the handler", reply))
            except Exception as exc:
                return self._failed(message, "the handler", exc)
            return [Send(bytes(reply), note="handler")] if reply else []
        if self.strict:
            self.conn.record("error", message, "no rule matched")
            self._problem(
                f"no rule matched message {number}: {_offending(message)}\n"
                "rules:\n" + "\n".join(self.book.why_missed(message))
            )
        return self._unmatched()

    def _unmatched(self) -> list[Action]:
        what = self.on_unmatched
        if what == "ignore":
            return []
        if what == "close":
            self.done = True
            return [Close(note="on_unmatched")]
        if what == "reset":
            self.done = True
            return [Reset(note="on_unmatched")]
        assert isinstance(what, bytes)
        return [Send(what, note="on_unmatched")]

    def _answer(self, rule: Rule, message: bytes) -> list[Action]:
        try:
            pieces = rule.replies(message)
        except Exception as exc:
            return self._failed(message, f"{rule.note}'s response", exc)
        return self._shape(rule, pieces)

    def _shape(self, rule: Rule, pieces: list[bytes]) -> list[Action]:
        """The actions that send ``pieces`` as ``rule`` shapes them (delay, chunks, ending)."""
        note = rule.note
        actions: list[Action] = []
        if rule.wait:
            actions.append(Wait(rule.wait))
        if rule.chunks is not None:
            data = b"".join(pieces)
            if isinstance(rule.chunks, tuple) and sum(rule.chunks) < len(data):
                self._problem(
                    f"{note}: chunked({list(rule.chunks)}) covers {sum(rule.chunks)} bytes but the "
                    f"reply is {len(data)} bytes; the rest was sent as one last chunk"
                )
            if data:
                actions.append(Send(data, rule.chunks, rule.gap, note))
        else:
            actions += [Send(p, note=note) for p in pieces if p]
        if rule.ending == "close":
            self.done = True
            actions.append(Close(note))
        elif rule.ending == "reset":
            self.done = True
            actions.append(Reset(note))
        elif rule.ending == "hang":
            self.hanging = True
            actions.append(Hang(note))
        elif rule.upgrade:
            actions.append(StartTLS(note))
            self._upgrade()
        return actions

    def _upgrade(self) -> None:
        """A STARTTLS is due: what the client sent in plain text after the command (in the
        same read) is not answered, as a careful server must (CVE-2011-0411): recorded, said,
        and dropped from the framing."""
        self.upgrading = True
        left = len(self.framer.pending)
        if left:
            self.conn.record(
                "error",
                note=f"{left} plain-text byte{'s' if left != 1 else ''} after STARTTLS dropped, "
                "not answered",
            )
        self.framer = Framer(self.framer_source)

    def _failed(self, message: bytes, who: str, exc: Exception) -> list[Action]:
        if isinstance(exc, ResponseError):
            text = exc.text
        else:
            text = "".join(traceback.format_exception(exc)).rstrip()
        self.conn.record("error", message, f"{who} raised: {exc!r}"[:500])
        self._problem(
            f"{who} failed on message {short(message, 120)}; the connection was closed:\n{text}"
        )
        self.done = True
        return [Close(note="response error")]

    def _problem(self, text: str) -> None:
        if self.strict:
            self.problems.append(f"connection {self.conn.number}: {text}")


def _guard(framing: Framing, failures: list[Exception]) -> Framing:
    """``framing`` made safe to call: an exception it raises goes to ``failures`` and ends the
    cutting (None), so the Framer hands back the messages it cut before."""

    def guarded(buffer: bytes) -> int | None:
        try:
            return framing(buffer)
        except Exception as exc:
            failures.append(exc)
            return None

    guarded.__qualname__ = describe(framing)  # the Framer's own errors name the user's
    return guarded
