"""The recording model: what crossed one connection, byte for byte, with timing.

A :class:`Connection` keeps each chunk once: the ``"in"`` / ``"out"`` events hold the very
chunk objects that ``received`` / ``sent`` are joined from, so recording costs about one byte
per byte. Appends come from the connection's own thread; readers may look at any time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, NamedTuple

from sockfix.framing import Framer

__all__ = [
    "Connection",
    "Datagram",
    "Decoded",
    "Event",
    "EventKind",
    "ProxyConnection",
    "peer_text",
]

EventKind = Literal["connect", "in", "out", "eof", "close", "reset", "fault", "error"]


class Event(NamedTuple):
    """One thing that happened on a connection.

    Frozen (a named tuple: cheap to make on the hot path).
    ``time`` is seconds since the server started (monotonic); ``kind`` one of ``"connect"``,
    ``"in"``, ``"out"``, ``"eof"`` (the peer half-closed), ``"close"``, ``"reset"`` (either
    side), ``"fault"``, ``"error"``; ``data`` the bytes (``b""`` where none); ``note`` which rule,
    which fault, which error.
    """

    time: float
    kind: EventKind
    data: bytes = b""
    note: str = ""

    @property
    def direction(self) -> Literal["in", "out"] | None:
        """``"in"`` or ``"out"`` for data events, None for the others."""
        kind = self.kind
        return kind if kind == "in" or kind == "out" else None


# Event(...) runs a Python-level __new__; the hot path builds the tuple directly (2x faster).
_new_event = tuple.__new__


class Datagram(NamedTuple):
    """One datagram a UDP server received: its bytes, who sent it, and when (seconds since the
    server started)."""

    data: bytes
    peer: tuple[str, int]
    time: float


class _Stream:
    """Chunks of one direction, joined lazily and cached."""

    __slots__ = ("_cache", "_cached_n", "chunks", "count")

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.count = 0
        self._cache = b""
        self._cached_n = 0

    def add(self, data: bytes) -> None:
        self.chunks.append(data)
        self.count += len(data)

    def reset_cache(self) -> None:
        self._cache = b""
        self._cached_n = 0

    def joined(self) -> bytes:
        chunks = self.chunks
        n = len(chunks)
        if n != self._cached_n:
            if self._cached_n == 0:
                self._cache = b"".join(chunks[:n])
            else:
                self._cache = self._cache + b"".join(chunks[self._cached_n : n])
            self._cached_n = n
        return self._cache


class Connection:
    """Everything one TCP connection saw and sent, in order.

    ``received`` / ``sent`` are the bytes exactly as they crossed the socket; ``messages`` the
    received bytes cut by the framing; ``events`` every event with its time.
    """

    def __init__(
        self,
        number: int,
        peer: tuple[str, int],
        clock: Callable[[], float],
        on_change: Callable[[Connection, Event], None] | None = None,
    ) -> None:
        self.number = number
        self.peer = peer
        self.events: list[Event] = []
        self.messages: list[bytes] = []
        # What messages read as, decoded by a protocol kit (an HTTP request's line and
        # headers, a Redis command), for transcripts; empty on plain TCP. Each item is a str
        # or an object whose str() is that text (made only when a transcript is shown).
        self.decoded: list[object] = []
        self.closed = False
        self._in = _Stream()
        self._out = _Stream()
        self._clock = clock
        self._on_change = on_change

    # -- what tests read ---------------------------------------------------------------------

    @property
    def received(self) -> bytes:
        """Every byte the peer sent, in order."""
        return self._in.joined()

    @property
    def sent(self) -> bytes:
        """Every byte sent to the peer, in order."""
        return self._out.joined()

    @property
    def bytes_received(self) -> int:
        """``len(received)`` without joining (cheap to poll in ``wait_until``)."""
        return self._in.count

    @property
    def bytes_sent(self) -> int:
        """``len(sent)`` without joining."""
        return self._out.count

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return (
            f"<Connection {self.number} from {self.peer[0]}:{self.peer[1]} {state}: "
            f"{self._in.count} B in, {self._out.count} B out, {len(self.messages)} messages>"
        )

    # -- what the server writes --------------------------------------------------------------

    def record(self, kind: EventKind, data: bytes = b"", note: str = "") -> Event:
        """Append an event now; ``"in"`` / ``"out"`` data joins ``received`` / ``sent``."""
        event = Event(self._clock(), kind, data, note)
        if kind == "in":
            self._in.add(data)
        elif kind == "out":
            self._out.add(data)
        elif kind in ("close", "reset"):
            self.closed = True
        self.events.append(event)
        if self._on_change is not None:
            self._on_change(self, event)
        return event

    def record_in(self, data: bytes) -> None:
        """``record("in", data)``, inlined for the per-read hot path."""
        event = _new_event(Event, (self._clock(), "in", data, ""))
        stream = self._in
        stream.chunks.append(data)
        stream.count += len(data)
        self.events.append(event)
        if self._on_change is not None:
            self._on_change(self, event)

    def record_out(self, data: bytes, note: str = "") -> tuple[int, int]:
        """``record("out", data)``, inlined for the per-send hot path.

        The socket layer records a send *before* making it, so that no client can hold bytes
        that ``sent`` does not show yet; if the send then fails part way, it calls
        :meth:`amend_out` with the returned token and the bytes that really went.
        """
        event = _new_event(Event, (self._clock(), "out", data, note))
        stream = self._out
        chunks = stream.chunks
        chunks.append(data)
        stream.count += len(data)
        events = self.events
        events.append(event)
        token = (len(events) - 1, len(chunks) - 1)
        if self._on_change is not None:
            self._on_change(self, event)
        return token

    def amend_out(
        self, token: tuple[int, int], sent: bytes, why: str = "", *, stopped: bool = False
    ) -> None:
        """Correct the ``"out"`` event of ``token`` to the ``sent`` prefix that really went
        (an ``"error"`` event when nothing went); ``why`` says what failed. ``stopped``: the
        server's own ``stop()`` cut the send short, which is no error (a ``"fault"`` event
        says what was not sent)."""
        event_index, chunk_index = token
        old = self.events[event_index]
        note = f"{old.note}; " if old.note else ""
        kind: EventKind = "out" if sent else ("fault" if stopped else "error")
        if stopped:
            why = "stop() shut the socket"
        why = f" ({why})" if why else ""
        self.events[event_index] = Event(
            old.time,
            kind,
            sent,
            f"{note}send failed after {len(sent)} of {len(old.data)} bytes{why}",
        )
        stream = self._out
        stream.chunks[chunk_index] = sent
        stream.count -= len(old.data) - len(sent)
        stream.reset_cache()

    def detach(self) -> None:
        """No more events will come: drop the change callback (a reference to the server)."""
        self._on_change = None

    def add_messages(self, messages: list[bytes]) -> None:
        self.messages.extend(messages)


class ProxyConnection(Connection):
    """A client connection through the proxy.

    ``received`` is what the client sent, ``sent`` what the client was sent (after faults);
    ``upstream`` records the other socket: its ``sent`` is what went to the real server,
    its ``received`` what the real server answered (before faults).
    """

    def __init__(
        self,
        number: int,
        peer: tuple[str, int],
        clock: Callable[[], float],
        on_change: Callable[[Connection, Event], None] | None,
        upstream_address: tuple[str, int],
        framing: Callable[[bytes], int | None] | None = None,
        describe: Callable[[bytes], str] | None = None,
    ) -> None:
        self._framing = framing
        self._describe = describe
        self._cut: tuple[int, list[bytes]] = (-1, [])
        super().__init__(number, peer, clock, on_change)
        self.upstream = Connection(number, upstream_address, clock, on_change)

    # The proxy passes bytes on without cutting them (cutting costs on the hot path): its
    # messages are cut from ``received`` by its framing when asked, and kept until more come.

    @property
    def messages(self) -> list[bytes]:
        """What the client sent, cut by the proxy's framing (a partial message left out)."""
        if self._framing is None:
            return []
        count = self.bytes_received
        if self._cut[0] != count:
            framer = Framer(self._framing)
            try:
                cut = framer.feed(self.received)
            except Exception:  # a framing that fails cuts nothing here (save_scenario says why)
                cut = []
            self._cut = (count, cut)
        return list(self._cut[1])

    @messages.setter
    def messages(self, value: list[bytes]) -> None:
        pass  # Connection.__init__ sets it; here it is made from the bytes

    @property
    def decoded(self) -> list[object]:
        """The messages as a protocol kit reads them (``GET user:1``), with framing resp or
        http; empty otherwise."""
        if self._describe is None:
            return []
        describe = self._describe
        return [Decoded(describe, m) for m in self.messages]

    @decoded.setter
    def decoded(self, value: list[object]) -> None:
        pass

    def detach(self) -> None:
        super().detach()
        self.upstream.detach()


class Decoded:
    """A message as a protocol kit reads it (``GET user:1``, an HTTP request's line and
    headers): ``describe(value)``, made only when a transcript shows it, never raising."""

    __slots__ = ("describe", "value")

    def __init__(self, describe: Callable[[Any], str], value: object) -> None:
        self.describe = describe
        self.value = value

    def __str__(self) -> str:
        try:
            return self.describe(self.value)
        except Exception as exc:  # a message the kit cannot read: say so, never raise here
            return f"(not decoded: {exc})"


def peer_text(peer: tuple[str, int]) -> str:
    """``host:port``; a Unix socket's peer (port 0) by its name alone."""
    return peer[0] if peer[1] == 0 else f"{peer[0]}:{peer[1]}"
