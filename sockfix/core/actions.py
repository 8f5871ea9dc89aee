"""What the per-connection script asks the socket layer to do: plain values.

(Slotted, not frozen: one is made per reply, and a frozen dataclass costs three times as
much to make. Treat them as read-only.)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

__all__ = [
    "Action",
    "Close",
    "HalfClose",
    "Hang",
    "Note",
    "Reset",
    "Send",
    "StartTLS",
    "Wait",
    "steps",
]


@dataclass(slots=True)
class Send:
    """Send ``data``; with ``chunks``, as separate sends of those sizes, ``gap`` seconds apart."""

    data: bytes
    chunks: int | tuple[int, ...] | None = None
    gap: float = 0.0
    note: str = ""

    def pieces(self) -> Iterator[memoryview]:
        """``data`` cut by ``chunks`` (views, no copies), made one at a time as they are sent;
        the last piece takes any remainder."""
        view = memoryview(self.data)
        total = len(view)
        if self.chunks is None:
            yield view
            return
        pos = 0
        if isinstance(self.chunks, int):
            step = self.chunks
            while pos < total:
                yield view[pos : pos + step]
                pos += step
            return
        for size in self.chunks:
            if pos >= total:
                return
            yield view[pos : pos + size]
            pos += size
        if pos < total:
            yield view[pos:]


@dataclass(slots=True)
class Wait:
    """Pause before the next action (the socket layer wakes early on ``stop()``)."""

    seconds: float


@dataclass(slots=True)
class Close:
    """Close the connection with a FIN."""

    note: str = ""


@dataclass(slots=True)
class Reset:
    """Abort the connection with a RST (SO_LINGER 0): the peer sees ECONNRESET."""

    note: str = ""


@dataclass(slots=True)
class Hang:
    """Never answer again; keep reading (and recording) until the peer closes or ``stop()``.

    With ``seconds``, stop hanging after that long (the next action follows, e.g. a close).
    """

    note: str = ""
    seconds: float | None = None


@dataclass(slots=True)
class HalfClose:
    """Send a FIN (shutdown the write side) and keep reading; nothing more is sent."""

    note: str = ""


@dataclass(slots=True)
class Note:
    """Record a ``"fault"`` event saying what a fault did."""

    text: str


@dataclass(slots=True)
class StartTLS:
    """Upgrade the connection to TLS here (after the sends before it), as STARTTLS does: the
    server's certificate, a server-side handshake, then decrypted bytes both ways."""

    note: str = ""


Action = Send | Wait | Close | Reset | Hang | HalfClose | Note | StartTLS


def steps(actions: Iterable[Action]) -> Iterator[tuple[float, Action]]:
    """Each action as ``(seconds to wait first, step)``, as every executor carries them out.

    A :class:`Wait` adds to the delay of the step after it; a chunked :class:`Send` gives one
    plain ``Send`` per piece (made as they are reached), ``gap`` seconds apart. A wait at the
    end, with no step after it, comes as ``(seconds, Wait(0.0))``: wait, then do nothing.
    """
    delay = 0.0
    for action in actions:
        if type(action) is Wait:
            delay += action.seconds
        elif type(action) is Send and action.chunks is not None:
            whole = len(action.data)
            for i, piece in enumerate(action.pieces()):
                if i:
                    delay += action.gap
                data = action.data if len(piece) == whole else bytes(piece)
                yield delay, Send(data, note=action.note)
                delay = 0.0
        else:
            yield delay, action
            delay = 0.0
    if delay:
        yield delay, Wait(0.0)
