"""sockfix.testing.check_framing: every built-in framing passes it, broken framings do not.

Like trio's ``check_one_way_stream``, the check is public and used on our own framings first:
with hand-picked messages (h11's whole / one byte at a time / with what follows), then with
messages that Hypothesis draws.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sockfix.strategies as sst
from sockfix import framing
from sockfix.framing import Framing
from sockfix.testing import check_framing

BUILTINS = [
    pytest.param(
        framing.lines(),
        [b"PING\r\n", b"\n", b"SET k v\r\n", b"\r\r\n", b"\x00\xff\n"],
        id="lines",
    ),
    pytest.param(
        framing.delimited(b"\r\n"), [b"A\r\n", b"\n\r\r\n", b"\r\n", b"x\ny\r\n"], id="crlf"
    ),
    pytest.param(framing.delimited(b"\0"), [b"one\0", b"\0", b"two\0"], id="nul"),
    pytest.param(framing.delimited(b"END"), [b"aEND", b"ENEND", b"EEND", b"END"], id="END"),
    pytest.param(
        framing.length_prefixed(),
        [b"\0\0\0\x02hi", b"\0\0\0\0", b"\0\0\0\x05\0\0\0\x01x"],
        id="length_prefixed(!I)",
    ),
    pytest.param(framing.length_prefixed("!H"), [b"\0\x01\n", b"\0\0"], id="length_prefixed(!H)"),
    pytest.param(
        framing.length_prefixed("<Q"), [b"\x03" + bytes(7) + b"abc"], id="length_prefixed(<Q)"
    ),
    pytest.param(framing.length_prefixed("B"), [b"\x01\x01", b"\x00"], id="length_prefixed(B)"),
    pytest.param(framing.fixed(1), [b"a", b"\n", b"\0"], id="fixed(1)"),
    pytest.param(framing.fixed(4), [b"abcd", b"\0\0\0\0", b"\n\n\n\n"], id="fixed(4)"),
]


@pytest.mark.parametrize(("frm", "messages"), BUILTINS)
def test_every_builtin_framing_passes(frm: Framing, messages: list[bytes]) -> None:
    check_framing(frm, messages)
    check_framing(frm, messages[:1])
    check_framing(frm, [])


def test_raw_does_not_pass_by_design() -> None:
    # raw() depends on how the bytes were split: only a lone one-byte message frames alike.
    check_framing(framing.raw(), [b"a"])
    with pytest.raises(AssertionError, match=r"raw\(\) returned 1 for b'a'.*must give None"):
        check_framing(framing.raw(), [b"ab"])


FRAMINGS = [
    framing.lines(),
    framing.delimited(b"\r\n"),
    framing.delimited(b"\r\n\r\n"),
    framing.delimited(b"|"),
    framing.length_prefixed("!I"),
    framing.length_prefixed("!B"),
    framing.fixed(1),
    framing.fixed(3),
]


@pytest.mark.parametrize("frm", FRAMINGS, ids=repr)
@settings(max_examples=50, deadline=None)
@given(data=st.data())
def test_builtin_framings_pass_with_drawn_messages(frm: Framing, data: st.DataObject) -> None:
    messages = data.draw(sst.framed_messages(frm, max_size=4, max_body=12), label="messages")
    check_framing(frm, messages)


# --------------------------------------------------------------- catching broken framings


def greedy_lines(buffer: bytes) -> int | None:
    """Broken: a line framing that takes the whole buffer once it holds a newline."""
    return len(buffer) if b"\n" in buffer else None


def eager_fixed4(buffer: bytes) -> int | None:
    """Broken: returns 4 even when fewer bytes are there."""
    return 4


def zero_when_waiting(buffer: bytes) -> int | None:
    """Broken: returns 0 instead of None to ask for more bytes."""
    i = buffer.find(b"\n")
    return i + 1 if i >= 0 else 0


def forgets_its_prefix(buffer: bytes) -> int | None:
    """Broken: a 1-byte length prefix whose own byte is left out of the message length."""
    n = buffer[0]
    return n if n and len(buffer) >= n else None


def exploding(buffer: bytes) -> int | None:
    """Broken: fails on buffers it does not like."""
    return int(buffer.split(b"\n")[0]) + 0 if b"\n" in buffer else None


def true_for_newline(buffer: bytes) -> int | None:
    """Broken: a bool is not a length."""
    return True if buffer == b"\n" else None


def test_a_framing_taking_the_whole_buffer_is_caught() -> None:
    with pytest.raises(AssertionError) as info:
        check_framing(greedy_lines, [b"PING\r\n", b"PONG\r\n"])
    text = str(info.value)
    assert "greedy_lines" in text
    assert "arriving whole" in text
    assert "message 0: expected b'PING\\r\\n', got b'PING\\r\\nPONG\\r\\n'" in text
    assert "expected 2 messages, got 1" in text


def test_greedy_lines_passes_single_messages_but_not_splits() -> None:
    check_framing(greedy_lines, [b"PING\r\n"])  # one message at a time hides the bug


def test_a_length_past_the_buffer_is_caught() -> None:
    with pytest.raises(AssertionError, match=r"returned 4 for a buffer of 1 bytes b'a'"):
        check_framing(eager_fixed4, [b"abcd"])


def test_zero_instead_of_none_is_caught() -> None:
    with pytest.raises(AssertionError, match="returned 0 for a buffer of 1 bytes") as info:
        check_framing(zero_when_waiting, [b"hi\n"])
    assert "or None to wait for more bytes" in str(info.value)


def test_a_proper_prefix_that_frames_is_caught() -> None:
    with pytest.raises(
        AssertionError, match=re.escape("forgets_its_prefix returned 2 for b'\\x02a'")
    ):
        check_framing(forgets_its_prefix, [b"\x02ab"])
    with pytest.raises(AssertionError, match="must give None"):
        check_framing(framing.fixed(2), [b"abcd"])  # a message that is really two


def test_an_exception_in_the_framing_is_reported() -> None:
    with pytest.raises(AssertionError, match="exploding raised ValueError") as info:
        check_framing(exploding, [b"x\n"])
    assert isinstance(info.value.__cause__, ValueError)


def test_a_bool_is_not_a_length() -> None:
    with pytest.raises(AssertionError, match="returned True"):
        check_framing(true_for_newline, [b"\n"])


def test_a_message_with_the_separator_inside_is_caught() -> None:
    with pytest.raises(AssertionError, match="must give None"):
        check_framing(framing.lines(), [b"two\nlines\n"])
    with pytest.raises(AssertionError, match=r"expected 3, the whole message"):
        check_framing(framing.length_prefixed("!H"), [b"\0\x02x"])  # prefix says 2, 1 follows


def test_bad_arguments() -> None:
    with pytest.raises(TypeError, match="takes a framing"):
        check_framing(b"\n", [b"x\n"])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"check_framing\(framing, \[b'x\\n'\]\)"):
        check_framing(framing.lines(), b"x\n")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="message 1 must be bytes"):
        check_framing(framing.lines(), [b"x\n", "y\n"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="message 0 is empty"):
        check_framing(framing.lines(), [b""])


def test_check_framing_raises_under_python_dash_o() -> None:
    code = (
        "from sockfix.testing import check_framing\n"
        "try:\n"
        "    check_framing(lambda b: len(b), [b'a', b'b'])\n"
        "except AssertionError as exc:\n"
        "    print('caught', exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-O", "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("caught framing")
