"""Transcripts: recordings as text, for pytest's failure report and the live CLI.

Each data event is one line of escaped text (with its time, direction and size) followed by
hexdump-style rows. Long recordings are cut at ``limit`` bytes per connection, and the cut says
how much was left out (the recording itself always keeps everything).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sockfix.core.record import Connection, Event
from sockfix.core.text import escaped, hex_rows

__all__ = ["DEFAULT_LIMIT", "render_connection", "render_event", "render_server"]

DEFAULT_LIMIT = 64 * 1024

_ARROWS = {"in": "<<", "out": ">>"}
_COLOURS = {
    "in": "\x1b[36m",
    "out": "\x1b[32m",
    "error": "\x1b[31m",
    "reset": "\x1b[31m",
    "fault": "\x1b[33m",
}
_RESET = "\x1b[0m"


def render_event(
    event: Event,
    *,
    hexdump: bool = True,
    color: bool = False,
    max_bytes: int | None = None,
    side: str = "",
) -> list[str]:
    """One event as lines: ``+0.001234s << in   6 B  PING\\r\\n  (note)`` then its hex rows.

    ``side`` prefixes the arrow (a proxy marks its upstream socket's events ``up``).
    """
    kind = event.kind
    data = event.data
    shown = data if max_bytes is None else data[:max_bytes]
    head = f"+{event.time:.6f}s {side}{_ARROWS.get(kind, '--')} {kind:<7}"
    if kind in ("in", "out"):
        head += f" {len(data)} B  {escaped(shown)}"
    elif data:
        head += f" {escaped(shown)}"
    if len(shown) < len(data):
        head += f" ... (+{len(data) - len(shown)} B)"
    if event.note:
        head += f"  ({event.note})"
    head = head.rstrip()
    if color and kind in _COLOURS:
        head = f"{_COLOURS[kind]}{head}{_RESET}"
    lines = [head]
    if hexdump and shown:
        lines += ["             " + row for row in hex_rows(shown)]
    return lines


def render_connection(conn: Connection, *, limit: int = DEFAULT_LIMIT, color: bool = False) -> str:
    """A connection's header and every event, data shown up to ``limit`` bytes in all."""
    state = "closed" if conn.closed else "open"
    n_msg = len(conn.messages)
    lines = [
        f"connection {conn.number} from {conn.peer[0]}:{conn.peer[1]} ({state}): "
        f"{conn.bytes_received} B in, {conn.bytes_sent} B out, "
        f"{n_msg} message{'s' if n_msg != 1 else ''}"
    ]
    events = [("", e) for e in list(conn.events)]
    upstream = getattr(conn, "upstream", None)
    if isinstance(upstream, Connection):  # a proxy's connection: both sockets, on one clock
        lines[0] += (
            f"; upstream {upstream.peer[0]}:{upstream.peer[1]}: "
            f"{upstream.bytes_sent} B sent, {upstream.bytes_received} B received"
        )
        events = [("   ", e) for _, e in events] + [("up ", e) for e in list(upstream.events)]
        events.sort(key=lambda pair: pair[1].time)
    budget = limit
    hidden_bytes = hidden_events = 0
    for side, event in events:
        if budget <= 0 and event.kind in ("in", "out"):
            hidden_bytes += len(event.data)
            hidden_events += 1
            continue
        lines += [
            "  " + line
            for line in render_event(event, color=color, max_bytes=max(budget, 0), side=side)
        ]
        budget -= len(event.data)
    if hidden_events:
        lines.append(
            f"  ... {hidden_bytes} more bytes in {hidden_events} "
            f"event{'s' if hidden_events != 1 else ''} not shown "
            f"(limit {limit} B per connection); the recording keeps them all"
        )
    return "\n".join(lines)


def render_server(
    title: str,
    connections: Sequence[Connection],
    *,
    problems: Iterable[str] = (),
    rules: str = "",
    limit: int = DEFAULT_LIMIT,
) -> str:
    """A server's title, its rules, its strict problems, then each connection."""
    out = [title]
    if rules:
        out += ["rules:", rules]
    problems = list(problems)
    if problems:
        out.append(f"strict problems ({len(problems)}):")
        out += ["  " + p.replace("\n", "\n  ") for p in problems]
    if not connections:
        out.append("(no connections)")
    out += [render_connection(c, limit=limit) for c in connections]
    return "\n".join(out)
