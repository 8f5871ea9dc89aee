"""Ctrl-C in the middle of a test still prints the sockfix section of that test."""

from __future__ import annotations

import pytest

from sockfix.plugin import SECTION_TITLE


def test_an_interrupted_test_shows_its_section(pytester: pytest.Pytester, run_subprocess) -> None:
    pytester.makepyfile(
        """
        import sfx_client

        def test_waits_forever(tcp_server):
            tcp_server.expect(b"PING\\n").respond(b"PONG\\n")
            assert sfx_client.exchange(tcp_server.address, b"PING\\n") == b"PONG\\n"
            raise KeyboardInterrupt  # as Ctrl-C would, while the client waited
        """
    )
    result = run_subprocess()
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        [
            f"*- {SECTION_TITLE} (interrupted in test_an_interrupted_test_shows_its_section.py"
            "::test_waits_forever) -*",
            "test seed * (picked for this test): --sockfix-seed=* replays *",
            "TCPServer 127.0.0.1:* (strict*",
            "*>> out *PONG*",
            "*KeyboardInterrupt*",
        ]
    )


def test_no_section_after_an_interrupt_with_transcripts_off(
    pytester: pytest.Pytester, run_subprocess
) -> None:
    pytester.makepyfile(
        """
        def test_interrupted(tcp_server):
            raise KeyboardInterrupt
        """
    )
    result = run_subprocess("--sockfix-transcript=never")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert f"{SECTION_TITLE} (interrupted" not in result.stdout.str()
