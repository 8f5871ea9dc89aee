"""Proxy recordings turned into a scenario: what a ``TCPProxy`` recorded, paired into
request/reply exchanges, becomes rules that replay the real server's answers.

Pure: no sockets, no threads (writing the scenario file is the only I/O).
"""

from __future__ import annotations

import os
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from sockfix.core.errors import ScenarioError
from sockfix.core.record import Event
from sockfix.core.scenario.model import RuleSpec, Scenario
from sockfix.core.scenario.write import dumps, framing_spec
from sockfix.framing import _RESP, Framer, Framing, FramingError, resp


@dataclass(frozen=True)
class Exchange:
    """One step of a recorded connection.

    ``request`` is a client message (None for the greeting: what the server sent before the
    first request); ``reply`` what the real server sent after it and before the next request;
    ``ending`` ``"close"`` / ``"reset"`` when the server ended the connection after it;
    ``partial`` marks client bytes left unframed at the end (not a complete message).
    """

    connection: int
    request: bytes | None
    reply: bytes
    ending: Literal["close", "reset"] | None = None
    partial: bool = False


def exchanges_from(
    records: Sequence[tuple[Sequence[Event], Sequence[Event]]], framing: Framing
) -> list[Exchange]:
    """Pair requests with replies, per connection in order.

    ``records`` holds, per client connection in accept order, ``(client_events,
    upstream_events)`` on one clock: the client side's ``"in"`` bytes are cut by ``framing``
    into requests; each upstream ``"in"`` chunk belongs to the last request complete at or
    before its time (earlier ones make the greeting). Every connection starts with a greeting
    exchange (its reply may be empty). A close or reset by the server before the client ended
    its side (or an unreachable server, which the proxy passes on as a reset) is the
    ``ending`` of the exchange it follows.
    """
    out: list[Exchange] = []
    for number, (client_events, upstream_events) in enumerate(records, 1):
        framer = Framer(framing)
        requests: list[bytes] = []
        times: list[float] = []
        client_end: float | None = None
        for event in client_events:
            if event.kind == "in":
                try:
                    messages = framer.feed(event.data)
                except FramingError as exc:
                    raise ScenarioError(
                        f"connection {number}: {exc}; record with a framing that fits the protocol"
                    ) from None
                requests += messages
                times += [event.time] * len(messages)
            elif client_end is None and _ends(event):
                client_end = event.time
        replies = [bytearray() for _ in range(len(requests) + 1)]
        endings: list[Literal["close", "reset"] | None] = [None] * len(replies)
        connected = False
        for event in upstream_events:
            if event.kind == "in":
                replies[bisect_right(times, event.time)] += event.data
            elif event.kind == "connect":
                connected = True
            elif event.kind == "error" and not connected:
                # The real server was unreachable: the proxy reset the client.
                endings[bisect_right(times, event.time)] = "reset"
                break
            elif _ends(event):
                if client_end is None or event.time < client_end:
                    endings[bisect_right(times, event.time)] = (
                        "close" if event.kind == "eof" else "reset"
                    )
                break
        paired = _paired_by_order(framing, requests, times, upstream_events)
        if paired is not None:
            replies = [bytearray(), *paired]
        requests_or_greeting: list[bytes | None] = [None, *requests]
        for request, reply, ending in zip(requests_or_greeting, replies, endings, strict=True):
            out.append(Exchange(number, request, bytes(reply), ending))
        if framer.pending:
            out.append(Exchange(number, framer.pending, b"", partial=True))
    return out


def _ends(event: Event) -> bool:
    """The peer ended its side: an EOF, or a RST it sent."""
    return event.kind == "eof" or (event.kind == "reset" and event.note == "by peer")


def from_exchanges(exchanges: Sequence[Exchange], framing: Framing) -> Scenario:
    """The scenario that answers each recorded request with its recorded reply, in order.

    Every rule is ``times = 1``: identical requests with different replies replay in order,
    since a used-up rule falls through to the next. Greetings become ``on_connect`` rules (one
    per connection, empty where a connection had none, so each connection gets its own).
    """
    spec = framing_spec(framing)
    greetings = any(e.request is None and (e.reply or e.ending) for e in exchanges)
    rules: list[RuleSpec] = []
    header: list[str] = []
    counts: dict[int, int] = {}
    for e in exchanges:
        if e.partial:
            assert e.request is not None
            header.append(
                f"connection {e.connection} ended with {len(e.request)} bytes that are not a "
                f"complete message under framing {spec!r}: {e.request[:60]!r}"
            )
            continue
        if e.request is None:
            if not greetings:
                continue
            comment = f"connection {e.connection}: greeting"
        else:
            counts[e.connection] = counts.get(e.connection, 0) + 1
            comment = f"connection {e.connection}, message {counts[e.connection]}"
        rules.append(
            RuleSpec(
                on_connect=e.request is None,
                expect=e.request,
                respond=(e.reply,) if e.reply else (),
                times=1,
                ending=e.ending,
                comment=comment,
            )
        )
    if header:
        header.append("replaying the same client run reports those bytes (strict)")
    return Scenario(framing=spec, rules=tuple(rules), header=tuple(header))


def write_scenario(
    path: str | os.PathLike[str], exchanges: Sequence[Exchange], *, framing: Framing
) -> Path:
    """Write the scenario of recorded ``exchanges`` (see :func:`from_exchanges`) to ``path``."""
    scenario = from_exchanges(exchanges, framing)
    target = Path(path)
    header = (
        "recorded by sockfix.TCPProxy.save_scenario: each request answered with the reply",
        "the real server sent, once and in order",
        f'replay: sockfix.TCPServer.from_scenario("{target.name}") or sockfix serve {target.name}',
        *scenario.header,
    )
    text = dumps(replace(scenario, header=header))
    target.write_text(text, encoding="utf-8", newline="\n")
    return target


def _paired_by_order(
    framing: Framing,
    requests: list[bytes],
    times: list[float],
    upstream_events: Sequence[Event],
) -> list[bytearray] | None:
    """With RESP, where every command gets exactly one reply value, in order: the replies
    paired with the requests by order (pipelined commands, which arrive in one read, each get
    their own); None when the framing is not RESP or the count does not add up (then replies
    are paired by time)."""
    if not isinstance(framing, _RESP) or not requests:
        return None
    framer = Framer(resp())
    values: list[tuple[bytes, float]] = []
    try:
        for event in upstream_events:
            if event.kind == "in":
                values += [(v, event.time) for v in framer.feed(event.data)]
    except FramingError:
        return None
    if len(values) != len(requests) or framer.pending:
        return None
    if any(at < asked for (_, at), asked in zip(values, times, strict=True)):
        return None  # a reply before its command: not request-reply, keep the times
    return [bytearray(value) for value, _ in values]
