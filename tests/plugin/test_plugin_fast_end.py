"""The end-of-test check never waits out a pending delay: timeout tests stay fast."""

from __future__ import annotations

import pytest


def test_a_client_timeout_on_a_long_delay_costs_only_the_client_timeout(
    pytester: pytest.Pytester, run
) -> None:
    pytester.makepyfile(
        """
        import socket, time

        def test_gives_up(tcp_server):
            tcp_server.expect(b"SLOW\\n").delay(5).respond(b"late\\n")
            started = time.monotonic()
            with socket.create_connection(tcp_server.address, timeout=0.2) as sock:
                sock.sendall(b"SLOW\\n")
                try:
                    sock.recv(100)
                except TimeoutError:
                    pass
                else:
                    raise AssertionError("the delayed answer came early")
            tcp_server.wait_until(lambda s: s.connections[0].messages)
            print("body took", time.monotonic() - started)
        """
    )
    result = run("--durations=0", "--durations-min=0", "-vv")
    result.assert_outcomes(passed=1)
    # Setup, call (0.2 s of client timeout) and teardown, each well under the delay and
    # under settle()'s own one-second timeout.
    durations = [
        float(line.split("s ")[0])
        for line in result.stdout.lines
        if line.rstrip().endswith("test_gives_up")
        and line.split("s ")[0].replace(".", "").isdigit()
    ]
    assert len(durations) == 3, result.stdout.lines
    assert sum(durations) < 0.9, durations
