"""The UDP and proxy fixtures, and the settle-before-check of the call phase."""

from __future__ import annotations

import pytest


def test_udp_server_fixture_answers_and_is_stopped_after(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(
        """
        import socket

        SEEN = {}

        def test_ping(udp_server):
            udp_server.expect(b"ping").respond(b"pong")
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as c:
                c.settimeout(5)
                c.sendto(b"ping", udp_server.address)
                assert c.recvfrom(100)[0] == b"pong"
            assert [d.data for d in udp_server.datagrams] == [b"ping"]
            SEEN["server"] = udp_server

        def test_it_was_stopped():
            assert "stopped" in repr(SEEN["server"])
        """
    )
    run().assert_outcomes(passed=2)


def test_make_udp_server_strict_failure_fails_the_test_with_the_datagram(
    pytester: pytest.Pytester, run
) -> None:
    pytester.makepyfile(
        """
        import socket

        def test_unexpected(make_udp_server):
            server = make_udp_server(seed=3)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as c:
                c.sendto(b"huh?", server.address)
            server.wait_for_datagrams(1)
        """
    )
    result = run()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*StrictError*", "*no rule matched*huh?*", "*- sockfix -*"])


def test_make_tcp_proxy_records_both_sides_and_shows_them_in_the_report(
    pytester: pytest.Pytester, run
) -> None:
    pytester.makepyfile(
        """
        import sockfix
        import sfx_client

        def test_through_the_proxy(make_tcp_server, make_tcp_proxy):
            upstream = make_tcp_server(handler=sockfix.echo(bytes.upper))
            proxy = make_tcp_proxy(upstream=upstream.address)
            assert sfx_client.exchange(proxy.address, b"hello\\n") == b"HELLO\\n"
            proxy.wait_until(lambda p: p.connections[0].closed)
            conn = proxy.connections[0]
            assert conn.received == b"hello\\n"
            assert conn.upstream.received == b"HELLO\\n"
            assert False, "show the report"
        """
    )
    result = run()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*- sockfix -*", "TCPProxy 127.0.0.1:*upstream 127.0.0.1:*", "*up << in*HELLO*"]
    )


def test_a_message_sent_just_before_the_test_ends_fails_the_call_phase(
    pytester: pytest.Pytester, run
) -> None:
    # The server has the bytes but may not have framed and judged them yet when the body
    # ends. The plugin lets it settle, so this is a failure of the test itself.
    pytester.makepyfile(
        """
        import socket

        def test_last_words(tcp_server):
            sock = socket.create_connection(tcp_server.address, timeout=5)
            sock.sendall(b"UNEXPECTED\\n")
            tcp_server.wait_until(lambda s: s.connections[0].bytes_received == 11)
            test_last_words.sock = sock

        def teardown_function(function):
            function.sock.close()
        """
    )
    result = run("-v")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*test_last_words FAILED*", "*no rule matched*UNEXPECTED*"])


def test_a_given_test_taking_a_server_fixture_is_warned_about(
    pytester: pytest.Pytester, run
) -> None:
    pytester.makepyfile(
        """
        from hypothesis import HealthCheck, given, settings, strategies as st

        @settings(max_examples=2, suppress_health_check=[HealthCheck.function_scoped_fixture])
        @given(st.integers())
        def test_shares_one_server(tcp_server, n):
            assert tcp_server.port
        """
    )
    result = run("-p", "hypothesispytest", "-W", "always")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["*is a Hypothesis @given test that uses the sockfix fixture(s) tcp_server*"]
    )


def test_a_falsifying_example_shows_its_own_transcript_last(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(
        """
        import socket

        import sockfix
        from hypothesis import given, settings, strategies as st

        @settings(max_examples=30, deadline=None, database=None)
        @given(st.binary(min_size=1, max_size=8))
        def test_no_zero_bytes(data):
            with sockfix.TCPServer(strict=False) as server:
                with socket.create_connection(server.address, timeout=5) as sock:
                    sock.sendall(data + b"\\n")
                server.wait_until(lambda s: s.connections[0].closed)
                assert b"\\x00" not in server.received
        """
    )
    result = run("-p", "hypothesispytest")
    result.assert_outcomes(failed=1)
    # Hypothesis shrinks to a single zero byte and replays it last: its server is the last one.
    text = result.stdout.str()
    start = text.index("- sockfix -")
    section = text[start : text.index("\n=====", start)]  # up to the summary that follows
    last_server = section[section.rindex("\nTCPServer 127.0.0.1:") :]
    assert "<< in      2 B  \\x00\\n" in last_server
