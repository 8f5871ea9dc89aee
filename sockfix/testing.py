"""Conformance checks for users' own protocol pieces, and texts the pytest plugin shows.

:func:`check_framing` is the check every built-in framing passes; run it on a framing of your
own. It raises ``AssertionError`` with a message naming the framing, the buffer and the split,
and needs neither pytest nor Hypothesis, so it works in any test runner (and under
``python -O``: it raises, it does not ``assert``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from sockfix.framing import Framer, FramingError, describe

__all__ = [
    "FIXTURE_UNDER_GIVEN",
    "SERVER_FIXTURES",
    "check_framing",
    "fixtures_under_given",
]

SERVER_FIXTURES = frozenset(
    {
        "tcp_server",
        "udp_server",
        "http_server",
        "redis_server",
        "make_tcp_server",
        "make_udp_server",
        "make_http_server",
        "make_redis_server",
        "make_tcp_proxy",
    }
)
"""The plugin's function-scoped fixtures that start servers or proxies."""

FIXTURE_UNDER_GIVEN = (
    "{test} is a Hypothesis @given test that uses the sockfix fixture(s) {fixtures}. "
    "A function-scoped fixture is set up once per test, not once per example: every example "
    "runs against the same server, so its recordings (connections, received bytes) and its "
    "rules' .times(n) counters pile up across examples, a rule used up by one example is "
    "missing in the next, and a shrunk failure is replayed against a server that earlier "
    "examples already used. (make_* factories do not help: what they start is stopped only "
    "after the last example.) Hypothesis flags function-scoped fixtures too "
    "(HealthCheck.function_scoped_fixture).\n"
    "Open a fresh server inside the test instead, one per example:\n"
    "\n"
    "    @given(sizes=sockfix.strategies.chunk_sizes(len(REPLY)))\n"
    "    def test_client(sizes):\n"
    "        with sockfix.TCPServer() as server:\n"
    '            server.expect(b"GET\\r\\n").respond(REPLY).chunked(sizes)\n'
    "            ...\n"
    "\n"
    "See docs/property-testing.md."
)
"""The warning for an ``@given`` test that takes a server fixture; format it with ``test``
(the test's name or node id) and ``fixtures`` (the names, comma-separated)."""


def fixtures_under_given(test: object, fixturenames: Iterable[str]) -> list[str]:
    """The sockfix server fixtures (sorted) that ``test`` takes if it is a Hypothesis ``@given``
    test; ``[]`` otherwise. ``test`` is the test function (``item.obj`` in pytest); Hypothesis
    marks its wrappers with ``is_hypothesis_test = True``. Hypothesis is not imported."""
    if not getattr(test, "is_hypothesis_test", False):
        return []
    return sorted(SERVER_FIXTURES.intersection(fixturenames))


# ----------------------------------------------------------------------- check_framing

Framing = Callable[[bytes], "int | None"]


def _fail(text: str) -> AssertionError:
    return AssertionError(text)


def _show(data: bytes, limit: int = 80) -> str:
    text = repr(data)
    return text if len(text) <= limit else f"{text[: limit - 8]}...' ({len(data)} bytes)"


def _call(framing: Framing, name: str, buffer: bytes, how: str) -> int | None:
    """``framing(buffer)``, checked: None or an int in 1..len(buffer)."""
    try:
        n = framing(buffer)
    except Exception as exc:
        raise _fail(
            f"framing {name} raised {type(exc).__name__}: {exc} for the buffer "
            f"{_show(buffer)} ({how})"
        ) from exc
    if n is None:
        return None
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= len(buffer):
        raise _fail(
            f"framing {name} returned {n!r} for a buffer of {len(buffer)} bytes "
            f"{_show(buffer)} ({how}): it must return an int in 1..len(buffer), "
            "or None to wait for more bytes"
        )
    return n


def _cut(
    framing: Framing, name: str, pieces: Sequence[bytes], how: str
) -> tuple[list[bytes], bytes]:
    """Frame ``pieces`` as if they arrived as separate reads, calling ``framing`` directly."""
    out: list[bytes] = []
    buffer = b""
    for piece in pieces:
        buffer += piece
        while buffer:
            n = _call(framing, name, buffer, how)
            if n is None:
                break
            out.append(buffer[:n])
            buffer = buffer[n:]
    return out, buffer


def _cut_with_framer(
    framing: Framing, name: str, pieces: Sequence[bytes], how: str
) -> tuple[list[bytes], bytes]:
    """The same through sockfix's own cutter (the one servers use, with the built-ins' fast
    paths)."""
    framer = Framer(framing)
    out: list[bytes] = []
    try:
        for piece in pieces:
            out += framer.feed(piece)
    except FramingError as exc:
        raise _fail(f"{exc} ({how}, through sockfix.framing.Framer)") from None
    return out, framer.pending


def _compare(name: str, how: str, got: list[bytes], rest: bytes, expected: list[bytes]) -> None:
    if got == expected and not rest:
        return
    lines = [f"framing {name} cut the messages wrongly ({how}):"]
    for i in range(max(len(got), len(expected))):
        want = expected[i] if i < len(expected) else None
        have = got[i] if i < len(got) else None
        if want != have:
            lines.append(
                f"  message {i}: expected {'nothing' if want is None else _show(want)}, "
                f"got {'nothing' if have is None else _show(have)}"
            )
            break
    if rest:
        lines.append(f"  left unframed at the end: {_show(rest)}")
    lines.append(f"  expected {len(expected)} messages, got {len(got)}")
    raise _fail("\n".join(lines))


def check_framing(framing: Framing, messages: Iterable[bytes]) -> None:
    """Check that ``framing`` cuts the concatenation of ``messages`` back into exactly those
    messages, however the bytes arrive; raise ``AssertionError`` naming what went wrong.

    ``messages`` are complete messages the framing should accept (separators and length
    prefixes included). The checks:

    - each message alone frames as itself, and every proper non-empty prefix of it gives
      ``None`` (wait for more);
    - the concatenation frames into exactly ``messages``, nothing left over, when it arrives
      whole, one byte at a time, and split in two at every offset, both calling ``framing``
      directly and through :class:`sockfix.framing.Framer` (the cutter servers use);
    - every call returns ``None`` or an int in ``1..len(buffer)``.

    The work grows with the square of the total bytes: keep to a few hundred bytes per call.
    Bad arguments (not a callable, a message that is not bytes or is empty) raise
    ``TypeError`` / ``ValueError``.
    """
    if not callable(framing):
        raise TypeError(
            f"check_framing() takes a framing, a callable (buffer) -> int | None, got {framing!r}"
        )
    if isinstance(messages, bytes | bytearray | str):
        raise TypeError(
            f"check_framing() takes a list of messages, got {messages!r}; "
            f"write check_framing(framing, [{messages!r}])"
        )
    expected: list[bytes] = []
    for i, m in enumerate(messages):
        if not isinstance(m, bytes | bytearray):
            raise TypeError(f"check_framing(): message {i} must be bytes, got {m!r}")
        if not m:
            raise ValueError(
                f"check_framing(): message {i} is empty; a framing never returns 0, "
                "so every message has at least one byte"
            )
        expected.append(bytes(m))
    name = describe(framing)

    for i, m in enumerate(expected):
        for k in range(1, len(m)):
            got = _call(framing, name, m[:k], f"the first {k} of the {len(m)} bytes of message {i}")
            if got is not None:
                raise _fail(
                    f"framing {name} returned {got} for {_show(m[:k])}, the first {k} of the "
                    f"{len(m)} bytes of message {i} {_show(m)}: a proper prefix of a message "
                    "must give None (wait for more bytes)"
                )
        got = _call(framing, name, m, f"message {i} alone")
        if got != len(m):
            raise _fail(
                f"framing {name} returned {got!r} for message {i} alone, {_show(m)}: "
                f"expected {len(m)}, the whole message"
            )

    stream = b"".join(expected)
    splits: list[tuple[str, list[bytes]]] = [
        ("arriving whole", [stream]),
        ("arriving one byte at a time", [stream[i : i + 1] for i in range(len(stream))]),
    ]
    splits += [
        (f"arriving in two reads, split at byte {i}", [stream[:i], stream[i:]])
        for i in range(1, len(stream))
    ]
    for how, pieces in splits:
        got_messages, rest = _cut(framing, name, pieces, how)
        _compare(name, how, got_messages, rest, expected)
        got_messages, rest = _cut_with_framer(framing, name, pieces, how)
        _compare(name, f"{how}, through sockfix.framing.Framer", got_messages, rest, expected)
