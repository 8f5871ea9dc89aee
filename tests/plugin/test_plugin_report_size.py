"""The ``sockfix`` report section stays short on real cases, and shows the bug first.

Two user test files run through pytester: a 100 KB upload followed by a small exchange, and a
client retrying one unmatched message on five connections. Each report must fit on a screen or
two; what a reader needs (the small reply, the problem naming its connections) must be in it.
"""

from __future__ import annotations

import re

import pytest

from sockfix.plugin import SECTION_TITLE

UPLOAD_TEST = """
import socket

def test_upload(tcp_server):
    tcp_server.expect(lambda m: m.startswith(b"PUT ")).respond(b"STORED\\n")
    tcp_server.expect(b"STAT\\n").respond(b"+OK\\r\\n")
    with (
        socket.create_connection(tcp_server.address, timeout=5) as sock,
        sock.makefile("rb") as replies,
    ):
        sock.sendall(b"PUT /blob " + b"x" * 100_000 + b"\\n")
        assert replies.readline() == b"STORED\\n"
        sock.sendall(b"STAT\\n")
        assert replies.read(5) == b"+OK\\r\\n"
        sock.sendall(b"QUIT\\n")  # no rule for this: the test fails at its end
    tcp_server.wait_until(lambda s: s.connections[0].closed)
"""

RETRY_TEST = """
import socket

def test_retries(tcp_server):
    tcp_server.expect(b"PING\\r\\n").respond(b"+PONG\\r\\n")
    for _ in range(5):  # the client's line ending is wrong: it never gets an answer, and retries
        with socket.create_connection(tcp_server.address, timeout=5) as sock:
            sock.sendall(b"PING\\n")
            sock.settimeout(0.05)
            try:
                sock.recv(100)
            except TimeoutError:
                pass
    tcp_server.wait_until(
        lambda s: len(s.connections) == 5 and all(c.closed for c in s.connections)
    )
"""

_HEADER = re.compile(r"^[-=_]{3,} .+ [-=_]{3,}$")


def section(result: pytest.RunResult) -> list[str]:
    """The lines of the ``sockfix`` report section (without its title line)."""
    lines = result.outlines
    start = next(i for i, line in enumerate(lines) if re.match(rf"^-+ {SECTION_TITLE} -+$", line))
    end = next((i for i in range(start + 1, len(lines)) if _HEADER.match(lines[i])), len(lines))
    return lines[start + 1 : end]


def failure(result: pytest.RunResult) -> list[str]:
    """The lines of the failure's report, from the test's title to the end of its sections."""
    lines = result.outlines
    start = next(i for i, line in enumerate(lines) if re.match(r"^_+ test_\w+ _+$", line))
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("=" * 5))
    return lines[start + 1 : end]


def test_a_big_upload_report_is_short_and_shows_the_small_reply(
    pytester: pytest.Pytester, run
) -> None:
    pytester.makepyfile(UPLOAD_TEST)
    result = run()
    result.assert_outcomes(failed=1)
    lines = section(result)
    print(f"upload: section {len(lines)} lines, failure {len(failure(result))} lines")
    assert len(lines) <= 80
    text = "\n".join(lines)
    assert re.search(r">> out +5 B  \+OK\\r\\n  \(rule 2\)", text)
    assert re.search(r"<< in +5 B  STAT\\n", text)
    assert re.search(r"-- error +QUIT\\n  \(no rule matched\)", text)
    assert re.search(r"\.\.\. [\d,]+ bytes not shown \.\.\.", text)
    assert re.search(r"^ +\* \(\d+ identical rows\)$", text, re.M)
    # What is shown first: the title, the rules, then the problem, before any traffic.
    title = next(i for i, line in enumerate(lines) if line.startswith("TCPServer 127.0.0.1:"))
    problem = next(i for i, line in enumerate(lines) if "no rule matched message 3" in line)
    traffic = next(i for i, line in enumerate(lines) if line.startswith("connection 1 "))
    assert title < 5
    assert title < problem < traffic < title + 20
    # The end of the connection is shown whole, the upload as head and tail.
    assert re.fullmatch(
        r"  \([\d,]+ bytes not shown in all; the recording keeps them all\)", lines[-1]
    )
    assert sum(len(line) > 300 for line in lines) == 0


def test_five_retries_show_the_problem_once_naming_the_connections(
    pytester: pytest.Pytester, run
) -> None:
    pytester.makepyfile(RETRY_TEST)
    result = run()
    result.assert_outcomes(failed=1)
    lines = section(result)
    report = failure(result)
    print(f"retries: section {len(lines)} lines, failure {len(report)} lines")
    problem = "connections 1, 2, 3, 4, 5: no rule matched message 1: b'PING\\n'"
    # Once in the StrictError, once in the section.
    assert sum(problem in line for line in report) == 2
    assert sum("no rule matched message 1" in line for line in report) == 2
    assert sum("all rules, with their use:" in line for line in report) == 1
    assert sum(line.strip() == "rules:" for line in lines) == 2  # the book, and the problem's
    # The StrictError comes first and says it: 1 problem, on five connections.
    first = next(i for i, line in enumerate(report) if "StrictError" in line)
    assert "saw 5 problem(s):" in report[first]
    assert problem in report[first + 1]
    assert lines[lines.index("strict problems (5):") + 1] == "  " + problem
    assert len(lines) <= 60
    assert len(report) <= 80
