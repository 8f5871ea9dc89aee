"""The Redis side of one connection, as a sans-IO :class:`~sockfix.core.script.Script`.

Messages come cut by :func:`sockfix.framing.resp` (one command each, pipelined ones apart); each
is parsed into its arguments, matched against the server's Redis rules, and answered in order.
The connect handshake that clients send before their first real command (``HELLO``,
``CLIENT ...``, ``SELECT``, ``AUTH``, ``PING``, ``ECHO``) is answered by default unless a rule
names it; ``HELLO 3`` switches the connection to RESP3, so replies are encoded for it. A command
that matches no rule gets an error reply naming it (the connection stays open, as with an
unknown command on a real Redis); bytes that are not RESP get ``-ERR Protocol error``, then a
close. The socket layer carries out the actions as for any script: no second executor.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sockfix.core.actions import Action, Close, Send
from sockfix.core.record import Connection, Decoded
from sockfix.core.resp.codec import Error, RESPError, describe_command, encode, parse_command
from sockfix.core.resp.rules import Command, RedisRule
from sockfix.core.rules import ResponseError, RuleBook
from sockfix.core.script import OnUnmatched, Script, _offending
from sockfix.framing import Framing

__all__ = ["HANDSHAKE", "SERVER_VERSION", "RedisHandler", "RedisScript", "handshake_reply"]

RedisHandler = Callable[[list[bytes]], Any]
"""``handler=`` of a RedisServer: ``(command) -> value`` (encoded as a reply), or None (the
command is then unmatched)."""

HANDSHAKE = frozenset({"HELLO", "CLIENT", "SELECT", "AUTH", "PING", "ECHO"})
"""The commands answered by default (``handshake=True``) unless a rule names them."""

SERVER_VERSION = b"7.2.0"


def handshake_reply(args: list[bytes], protocol: int, connection: int) -> tuple[Any, int]:
    """The default answer to a handshake command, and the connection's protocol after it."""
    name = args[0].decode("latin-1").upper()
    rest = args[1:]
    if name == "HELLO":
        if rest:
            version = rest[0]
            if version not in (b"2", b"3"):
                return Error("NOPROTO sockfix answers HELLO 2 and HELLO 3"), protocol
            protocol = int(version)
        return {
            b"server": b"redis",
            b"version": SERVER_VERSION,
            b"proto": protocol,
            b"id": connection,
            b"mode": b"standalone",
            b"role": b"master",
            b"modules": [],
        }, protocol
    if name == "PING":
        return (rest[0] if rest else "PONG"), protocol
    if name == "ECHO":
        if len(rest) != 1:
            return Error("ERR wrong number of arguments for 'echo' command"), protocol
        return rest[0], protocol
    if name == "CLIENT":
        sub = rest[0].decode("latin-1").upper() if rest else ""
        if sub == "ID":
            return connection, protocol
        if sub == "GETNAME":
            return None, protocol
        return "OK", protocol
    return "OK", protocol  # SELECT, AUTH


class RedisScript(Script):
    """Answers one Redis connection from the server's Redis rules (and an optional handler).

    ``commands`` and ``handshake_commands`` are the server's lists (arrival order over all
    connections): a command a rule or the handler answered, or that matched nothing, goes to
    the first; one the default handshake answered to the second.
    """

    def __init__(
        self,
        conn: Connection,
        book: RuleBook,
        framing: Framing,
        handler: RedisHandler | None,
        strict: bool,
        problems: list[str],
        on_unmatched: OnUnmatched | None,
        commands: list[list[bytes]],
        handshake_commands: list[list[bytes]],
        handshake: bool = True,
    ) -> None:
        super().__init__(conn, book, framing, None, strict, problems, on_unmatched or "ignore")
        self.redis_handler = handler
        self.answer_error = on_unmatched is None
        self.commands = commands
        self.handshake_commands = handshake_commands
        self.handshake = handshake
        self.protocol = 2

    def _on_message(self, message: bytes, number: int) -> list[Action]:
        try:
            args = parse_command(message)
        except RESPError as exc:
            return self._protocol_error(message, number, exc)
        self.conn.decoded.append(Decoded(describe_command, args))
        name = args[0].decode("latin-1").upper()
        command = Command(args, self.handshake and name in HANDSHAKE, self.protocol, name)
        try:
            rule = self.book.claim(command)
        except Exception as exc:  # an expect() predicate raised
            return self._failed(message, "an expect() predicate", exc)
        if rule is not None:
            assert isinstance(rule, RedisRule)
            self.commands.append(args)
            switches = name == "HELLO" and len(args) > 1 and args[1] in (b"2", b"3")
            if switches and not any(a.kind == "error" for a in rule.answers):
                self.protocol = int(args[1])  # the scripted reply is in the new protocol
                command = Command(args, command.handshake, self.protocol, name)
            try:
                pieces = rule.render(command, message)
            except Exception as exc:
                return self._failed(message, f"{rule.note}'s reply", exc)
            if not pieces and rule.ending is None and not rule.upgrade and not rule.wait:
                return self._no_reply(rule, command)
            return self._shape(rule, pieces)
        if command.handshake:
            self.handshake_commands.append(args)
            value, self.protocol = handshake_reply(args, self.protocol, self.conn.number)
            return [Send(encode(value, self.protocol), note="handshake")]
        self.commands.append(args)
        if self.redis_handler is not None:
            try:
                value = self.redis_handler(list(args))
                if value is not None:
                    try:
                        data = encode(value, self.protocol)
                    except (TypeError, ValueError) as exc:
                        raise ResponseError(
                            f"the handler returned {value!r:.100}, which is not a RESP value: {exc}"
                        ) from None
                    return [Send(data, note="handler")]
            except Exception as exc:
                return self._failed(message, "the handler", exc)
        return self._unmatched_command(command, message, number)

    def _no_reply(self, rule: RedisRule, command: Command) -> list[Action]:
        """A rule with no reply(): a Redis client always waits for one, so rather than leave
        it to its timeout, say so to it (an error reply) and to the test (a strict problem)."""
        text = describe_command(command.args)
        self._problem(
            f"{rule.note} {rule.describe()} matched {text} but has no reply(): the client "
            "waits for one; add .reply(...) or .error(...), or .hang() to stall on purpose"
        )
        reply = Error(f"ERR sockfix: {rule.note} has no reply() for {text[:200]}")
        return [Send(encode(reply, self.protocol), note=f"{rule.note}: no reply()")]

    def _unmatched_command(self, command: Command, message: bytes, number: int) -> list[Action]:
        text = describe_command(command.args)
        if self.strict:
            self.conn.record("error", message, "no rule matched")
            self._problem(
                f"no rule matched command {number}: {text}\n  {_offending(message)}\nrules:\n"
                + "\n".join(self.book.why_missed(command))
            )
        if not self.answer_error:
            return self._unmatched()
        reply = Error(f"ERR sockfix: no rule matched {text[:200]}")
        return [Send(encode(reply, self.protocol), note="unmatched")]

    def _protocol_error(self, message: bytes, number: int, exc: RESPError) -> list[Action]:
        self.conn.record("error", message, f"not RESP: {exc}"[:500])
        self._problem(
            f"message {number} is not a RESP command ({exc}); answered -ERR Protocol error and "
            f"closed: {_offending(message)}"
        )
        self.done = True
        reply = Error("ERR Protocol error: " + " ".join(str(exc).split())[:200])
        return [Send(encode(reply, self.protocol), note="protocol error"), Close("protocol error")]
