"""Redis rules: what ``RedisServer.expect(command, *args)`` matches, and the reply it sends.

A :class:`CommandMatcher` matches a parsed command (a list of bytes) and says which part missed;
a :class:`RedisRule` is a :class:`~sockfix.core.rules.Rule` whose ``reply(value)`` and
``error(message)`` are encoded for the protocol the connection negotiated (RESP2 or RESP3) when
it answers. Every shaping call of TCP rules (``delay``, ``chunked``, ``close``, ``reset``,
``hang``, ``times``) applies to the reply's bytes. Pure: no sockets, no threads.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sockfix.core.patterns import ANY, Matcher, as_matcher
from sockfix.core.resp.codec import Error, describe_command, encode
from sockfix.core.rules import ResponseError, Rule, _builder, _call_piece
from sockfix.core.text import short

__all__ = ["Command", "CommandMatcher", "RedisReplier", "RedisRule"]

RedisReplier = Callable[[list[bytes]], Any]
"""A callable reply: ``(command) -> value`` (the command as a list of bytes, its name first)."""

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.|-]*")


@dataclass(frozen=True, slots=True)
class Command:
    """A parsed command as rules see it: its ``args`` (name first, as sent), whether it is one
    of the connect handshake's, and the protocol its connection speaks."""

    args: list[bytes]
    handshake: bool = False
    protocol: int = 2
    name: str = ""  # the command name, upper case (derived from args when not given)

    def __post_init__(self) -> None:
        if not self.name and self.args:
            object.__setattr__(self, "name", self.args[0].decode("latin-1").upper())


def _arg_matcher(arg: object, index: int) -> Matcher:
    if isinstance(arg, str):
        return as_matcher(arg.encode())
    if isinstance(arg, int) and not isinstance(arg, bool):
        return as_matcher(str(arg).encode())
    if isinstance(arg, re.Pattern) and isinstance(arg.pattern, str):
        raise TypeError(
            f"expect(...) argument {index}: re.compile({arg.pattern!r}) is a str regex; "
            f"arguments are bytes: compile re.compile({arg.pattern.encode()!r})"
        )
    try:
        return as_matcher(arg)
    except TypeError:
        raise TypeError(
            f"expect(...) argument {index} is {type(arg).__name__} {arg!r}: an argument is a str "
            "(its UTF-8 bytes), bytes, a compiled bytes regex, a callable (bytes) -> bool or "
            "sockfix.ANY"
        ) from None


class CommandMatcher:
    """``expect(command, *args)`` as a matcher of commands: the name case-insensitive, then
    as many arguments as given, each a pattern."""

    __slots__ = ("_args", "_name", "text")

    def __init__(self, command: object, *args: object) -> None:
        if command is ANY:
            self._name: str | None = None
            if args:
                raise TypeError(
                    "expect(sockfix.ANY, ...) matches any command with any arguments: "
                    "give no arguments after ANY, or name the command"
                )
        elif isinstance(command, str | bytes):
            name = command.decode("latin-1") if isinstance(command, bytes) else command
            if not _NAME.fullmatch(name):
                raise ValueError(
                    f"expect({command!r}): a command name is a word such as 'GET'; "
                    "arguments come after it: expect('GET', 'key')"
                    if " " in name
                    else f"expect({command!r}): not a command name; write e.g. expect('GET', 'k')"
                )
            self._name = name.upper()
        else:
            raise TypeError(
                f"expect() takes the command name as a str such as 'GET' (or sockfix.ANY), got "
                f"{command!r}"
            )
        self._args = [_arg_matcher(a, i) for i, a in enumerate(args, 1)]
        parts = ["ANY" if command is ANY else repr(command)]
        parts += [
            repr(a) if isinstance(a, str | bytes | int) else m.text
            for a, m in zip(args, self._args, strict=True)
        ]
        self.text = ", ".join(parts)

    @property
    def command(self) -> str | None:
        """The command name matched (upper case), None for any."""
        return self._name

    def matches(self, subject: Any) -> bool:
        args = subject.args
        if self._name is None:
            return not subject.handshake
        if len(args) != len(self._args) + 1 or subject.name != self._name:
            return False
        return all(m.matches(a) for m, a in zip(self._args, args[1:], strict=True))

    def miss(self, subject: Any) -> str | None:
        """None when ``subject`` (a :class:`Command`) matches; otherwise what missed."""
        assert isinstance(subject, Command)
        args = subject.args
        if self._name is None:
            if subject.handshake:
                return (
                    f"ANY does not take the handshake's {subject.name} (answered by default); "
                    f"to script it, name it: expect({subject.name!r}, ...)"
                )
            return None
        if subject.name != self._name:
            return f"command {describe_command(args[:1])} is not {self._name}"
        given = len(args) - 1
        if given != len(self._args):
            return (
                f"{describe_command(args)} has {given} argument{'s' if given != 1 else ''}, "
                f"the rule {len(self._args)}"
            )
        for i, (arg, matcher) in enumerate(zip(args[1:], self._args, strict=True), 1):
            why = matcher.miss(arg)
            if why is not None:
                return f"argument {i} {short(arg, 40)}: {why}"
        return None

    def __repr__(self) -> str:
        return self.text


class _Reply:
    __slots__ = ("kind", "value")

    def __init__(self, kind: str, value: Any) -> None:
        self.kind = kind  # "value", "error", "call"
        self.value = value

    def describe(self) -> str:
        if self.kind == "error":
            return f"error({self.value.message!r})"
        if self.kind == "call":
            return f"reply(<{getattr(self.value, '__qualname__', 'callable')}>)"
        shown = repr(self.value)
        return f"reply({shown if len(shown) <= 60 else shown[:56] + ' ...'})"


class RedisRule(Rule):
    """A rule of a :class:`~sockfix.RedisServer`: ``reply(value)`` or ``error(message)``, and
    every shaping call of TCP rules. Built by ``server.expect(command, *args)``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.answers: list[_Reply] = []

    @_builder
    def reply(self, value: Any) -> RedisRule:
        """Answer with ``value``, encoded for the connection's protocol: bytes a bulk string,
        str a simple string, int an integer, None a null, bool, float, list an array, dict a
        map (RESP2: a flat array), set a set; ``sockfix.ErrorReply(msg)`` an error. A callable
        ``(command) -> value`` answers from the command. More calls send more replies."""
        if callable(value) and not isinstance(value, type):
            self.answers.append(_Reply("call", value))
            return self
        try:
            encode(value, 2)
            encode(value, 3)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"reply({value!r:.60}): {exc}") from None
        self.answers.append(_Reply("value", value))
        return self

    @_builder
    def error(self, message: str) -> RedisRule:
        """Answer with an error reply: ``error("ERR boom")`` sends ``-ERR boom``. By Redis'
        convention the first word is the code (``ERR``, ``WRONGTYPE``, ``READONLY``,
        ``LOADING``, ``MOVED``...)."""
        if isinstance(message, bytes):
            message = message.decode()
        if not isinstance(message, str):
            raise TypeError(
                f"error() takes the message as a str such as 'ERR boom', got {message!r}"
            )
        if not message or "\r" in message or "\n" in message:
            raise ValueError(
                f"error({message!r}): an error message is one non-empty line such as 'ERR boom'"
            )
        self.answers.append(_Reply("error", Error(message)))
        return self

    def render(self, command: Command, message: bytes) -> list[bytes]:
        """The bytes of each reply to ``command`` (framed as ``message``), encoded for its
        protocol: raw ``respond()`` pieces first, as they are, then the replies."""
        out = [_call_piece(piece, message) for piece in self.pieces]
        for answer in self.answers:
            value = answer.value
            if answer.kind == "call":
                value = value(list(command.args))
            try:
                out.append(encode(value, command.protocol))
            except (TypeError, ValueError) as exc:
                raise ResponseError(
                    f"a reply() callable returned {value!r:.100}, which is not a RESP value: {exc}"
                ) from None
        return out

    def replies(self, subject: object) -> list[bytes]:
        assert isinstance(subject, Command)
        return self.render(subject, b"")

    def _describe_pieces(self) -> list[str]:
        return super()._describe_pieces() + [a.describe() for a in self.answers]
