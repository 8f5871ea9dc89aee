"""Transcripts: recordings as text, for pytest's failure report and the live CLI.

Each data event is one line of escaped text (with its time, direction and size) followed by
hexdump-style rows. A transcript stays short whatever was sent, and says what it left out (the
recording itself always keeps everything):

- a long payload is shown as its head and tail, with the number of bytes left out between;
- a run of identical hex rows is one ``* (N identical rows)`` line, as ``hexdump``'s ``*``;
- a connection with many events shows its first and its last few, with the number of events
  left out between: the end of a connection (the last reply, the error, the close) always shows;
- the data of the earlier events is shown up to ``limit`` bytes per connection.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sockfix.core.record import Connection, Event, peer_text
from sockfix.core.text import condense_problems, escaped, hex_rows

__all__ = [
    "DEFAULT_LIMIT",
    "FIRST_EVENTS",
    "LAST_EVENTS",
    "LONG_PAYLOAD",
    "render_connection",
    "render_event",
    "render_server",
]

DEFAULT_LIMIT = 64 * 1024
LONG_PAYLOAD = 256  # bytes: a longer payload is shown as its head and its tail
_HEAD = 64  # bytes shown at the start of a long payload
_TAIL = 64  # at least this many bytes shown at its end (from a 16-byte row boundary)
FIRST_EVENTS = 6  # a connection with more events than these and LAST_EVENTS shows these first,
LAST_EVENTS = 6  # ... then these last; the ones between are counted

_ARROWS = {"in": "<<", "out": ">>"}
_COLOURS = {
    "in": "\x1b[36m",
    "out": "\x1b[32m",
    "error": "\x1b[31m",
    "reset": "\x1b[31m",
    "fault": "\x1b[33m",
}
_RESET = "\x1b[0m"


def _tail_start(size: int) -> int:
    """Where the tail of a long payload starts: on a row boundary, at least _TAIL from the end."""
    return (size - _TAIL) // 16 * 16


def _condensed_size(data: bytes) -> int:
    """How many bytes of ``data`` a condensed event shows."""
    if len(data) <= LONG_PAYLOAD:
        return len(data)
    return _HEAD + len(data) - _tail_start(len(data))


def render_event(
    event: Event,
    *,
    hexdump: bool = True,
    color: bool = False,
    max_bytes: int | None = None,
    side: str = "",
    condense: bool = False,
) -> list[str]:
    """One event as lines: ``+0.001234s << in   6 B  PING\\r\\n  (note)`` then its hex rows.

    ``max_bytes`` shows only the first bytes of the data, saying how many more there are.
    ``condense`` shows a payload longer than ``LONG_PAYLOAD`` as its head and tail (``... N bytes
    not shown ...`` between) and collapses identical hex rows. ``side`` prefixes the arrow (a
    proxy marks its upstream socket's events ``up``).
    """
    kind = event.kind
    data = event.data
    size = _condensed_size(data) if condense else len(data)
    cut = max_bytes is not None and max(max_bytes, 0) < size
    tail = b""
    gap = ""
    if cut:
        assert max_bytes is not None
        shown = data[: max(max_bytes, 0)]
    elif condense and len(data) > LONG_PAYLOAD:
        tail_at = _tail_start(len(data))
        shown, tail = data[:_HEAD], data[tail_at:]
        gap = f"... {tail_at - _HEAD:,} bytes not shown ..."
    else:
        shown = data
    text = escaped(shown) + (f" {gap} {escaped(tail)}" if tail else "")
    head = f"+{event.time:.6f}s {side}{_ARROWS.get(kind, '--')} {kind:<7}"
    if kind in ("in", "out"):
        head += f" {len(data)} B  {text}"
    elif data:
        head += f" {text}"
    if cut:
        head += f" ... (+{len(data) - len(shown)} B)"
    if event.note:
        head += f"  ({event.note})"
    head = head.rstrip()
    if color and kind in _COLOURS:
        head = f"{_COLOURS[kind]}{head}{_RESET}"
    lines = [head]
    if hexdump and shown:
        rows = hex_rows(shown, collapse=condense)
        if tail:
            rows += [gap, *hex_rows(tail, offset=len(data) - len(tail), collapse=condense)]
        lines += ["             " + row for row in rows]
    return lines


def render_connection(conn: Connection, *, limit: int = DEFAULT_LIMIT, color: bool = False) -> str:
    """A connection's header and its events, condensed (see the module's docstring): the last
    ``LAST_EVENTS`` always shown, the earlier ones' data up to ``limit`` bytes in all."""
    state = "closed" if conn.closed else "open"
    n_msg = len(conn.messages)
    lines = [
        f"connection {conn.number} from {peer_text(conn.peer)} ({state}): "
        f"{conn.bytes_received} B in, {conn.bytes_sent} B out, "
        f"{n_msg} message{'s' if n_msg != 1 else ''}"
    ]
    lines += _decoded_lines(conn.decoded)
    events = [("", e) for e in list(conn.events)]
    upstream = getattr(conn, "upstream", None)
    if isinstance(upstream, Connection):  # a proxy's connection: both sockets, on one clock
        lines[0] += (
            f"; upstream {peer_text(upstream.peer)}: "
            f"{upstream.bytes_sent} B sent, {upstream.bytes_received} B received"
        )
        events = [("   ", e) for _, e in events] + [("up ", e) for e in list(upstream.events)]
        events.sort(key=lambda pair: pair[1].time)
    split = max(len(events) - LAST_EVENTS, 0)
    first, last = events[:split], events[split:]
    skipped: list[tuple[str, Event]] = []
    if len(first) > FIRST_EVENTS + 1:  # leaving out one event would save nothing
        first, skipped = first[:FIRST_EVENTS], first[FIRST_EVENTS:]

    def show(side: str, event: Event, max_bytes: int | None = None) -> int:
        """Add the event's lines; the bytes of its data left out."""
        lines.extend(
            "  " + line
            for line in render_event(
                event, color=color, max_bytes=max_bytes, side=side, condense=True
            )
        )
        shown = _condensed_size(event.data)
        return len(event.data) - (shown if max_bytes is None else min(shown, max(max_bytes, 0)))

    left_out = 0
    budget = limit
    hidden_bytes = hidden_events = 0
    for side, event in first:
        if budget <= 0 and event.kind in ("in", "out"):
            hidden_bytes += len(event.data)
            hidden_events += 1
            continue
        left_out += show(side, event, max_bytes=budget)
        budget -= _condensed_size(event.data)
    if hidden_events:
        lines.append(
            f"  ... {hidden_bytes} more bytes in {hidden_events} "
            f"event{'s' if hidden_events != 1 else ''} not shown "
            f"(limit {limit} B per connection)"
        )
        left_out += hidden_bytes
    if skipped:
        skipped_bytes = sum(len(e.data) for _, e in skipped)
        lines.append(f"  ... {len(skipped):,} events not shown ({skipped_bytes:,} B of data) ...")
        left_out += skipped_bytes
    for side, event in last:
        left_out += show(side, event)
    if left_out or skipped:
        lines.append(f"  ({left_out:,} bytes not shown in all; the recording keeps them all)")
    return "\n".join(lines)


def _decoded_lines(decoded: Sequence[object]) -> list[str]:
    """A kit's decoded messages (``message 1: GET /x HTTP/1.1`` and its headers), the first
    and last few when there are many; the bytes follow in the events."""
    if not decoded:
        return []
    numbered: list[tuple[int, object]] = list(enumerate(decoded, 1))
    skipped = 0
    if len(numbered) > FIRST_EVENTS + LAST_EVENTS + 1:
        skipped = len(numbered) - FIRST_EVENTS - LAST_EVENTS
        numbered = [*numbered[:FIRST_EVENTS], (0, ""), *numbered[-LAST_EVENTS:]]
    out = []
    for number, text in numbered:
        if not number:
            out.append(f"  ... {skipped:,} messages not shown ...")
            continue
        first, *rest = str(text).split("\n")
        out.append(f"  message {number}: {first}")
        out += ["    " + line for line in rest]
    return out


def render_server(
    title: str,
    connections: Sequence[Connection],
    *,
    problems: Iterable[str] = (),
    rules: str = "",
    limit: int = DEFAULT_LIMIT,
) -> str:
    """A server's title, its rules, its strict problems (each text once, naming its
    connections), then each connection."""
    out = [title]
    if rules:
        out += ["rules:", rules]
    problems = list(problems)
    if problems:
        out.append(f"strict problems ({len(problems)}):")  # the same one on several: once
        out += ["  " + p.replace("\n", "\n  ") for p in condense_problems(problems)]
    if not connections:
        out.append("(no connections)")
    out += [render_connection(c, limit=limit) for c in connections]
    return "\n".join(out)
