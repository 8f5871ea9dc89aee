"""The ``sockfix`` report section: when it is shown, and what it holds."""

from __future__ import annotations

import pytest

from sockfix.plugin import MAX_SERVERS_SHOWN, SECTION_TITLE

SECTION = f"*- {SECTION_TITLE} -*"

PING_TEST = """
import sfx_client

def test_ping(tcp_server):
    tcp_server.expect(b"PING\\r\\n").respond(b"+PONG\\r\\n")
    assert sfx_client.exchange(tcp_server.address, b"PING\\r\\n") == b"+PONG\\r\\n"
    tcp_server.wait_until(lambda s: s.connections[0].closed)
    assert {ok}, "the client was fine, the test says no"
"""


def test_a_failing_test_shows_the_traffic(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(PING_TEST.format(ok=False))
    result = run()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*AssertionError: the client was fine, the test says no",
            SECTION,
            "TCPServer 127.0.0.1:* (strict, framing lines()*",
            "rules:",
            "*expect(b'PING\\r\\n').respond(b'+PONG\\r\\n')  [[]used 1[]]",
            "connection 1 from 127.0.0.1:* (closed): 6 B in, 7 B out, 1 message",
            "  +0.*s -- connect  (from 127.0.0.1:*)",
            "  +0.*s << in      6 B  PING\\r\\n",
            "*00000000  50 49 4e 47 0d 0a * |PING..|",
            "  +0.*s >> out     7 B  +PONG\\r\\n*",
            "*00000000  2b 50 4f 4e 47 0d 0a * |+PONG..|",
            "  +0.*s -- eof *",
            "  +0.*s -- close*",
        ]
    )


def test_a_passing_test_shows_no_section_by_default(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(PING_TEST.format(ok=True))
    result = run("-rP")
    result.assert_outcomes(passed=1)
    result.stdout.no_fnmatch_line(SECTION)


def test_never_hides_the_section_of_a_failing_test(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(PING_TEST.format(ok=False))
    result = run("--sockfix-transcript=never")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*the client was fine, the test says no"])
    result.stdout.no_fnmatch_line(SECTION)
    result.stdout.no_fnmatch_line("*00000000  50 49 4e 47*")


def test_always_shows_the_section_of_a_passing_test(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(PING_TEST.format(ok=True))
    result = run("--sockfix-transcript=always", "-rP")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["*= PASSES =*", "*test_ping*", SECTION, "*00000000  50 49 4e 47 0d 0a*"]
    )


def test_always_shows_the_section_of_a_failing_test_once(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(PING_TEST.format(ok=False))
    result = run("--sockfix-transcript=always")
    result.assert_outcomes(failed=1)
    assert sum(SECTION_TITLE + " -" in line for line in result.outlines) == 1


def test_the_ini_option_never(pytester: pytest.Pytester, run) -> None:
    pytester.makeini("[pytest]\nsockfix_transcript = never\n")
    pytester.makepyfile(PING_TEST.format(ok=False))
    result = run()
    result.assert_outcomes(failed=1)
    result.stdout.no_fnmatch_line(SECTION)


def test_the_command_line_wins_over_the_ini(pytester: pytest.Pytester, run) -> None:
    pytester.makeini("[pytest]\nsockfix_transcript = never\n")
    pytester.makepyfile(PING_TEST.format(ok=True))
    result = run("--sockfix-transcript=always", "-rP")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([SECTION])


def test_a_bad_ini_value_is_a_usage_error(pytester: pytest.Pytester, run) -> None:
    pytester.makeini("[pytest]\nsockfix_transcript = sometimes\n")
    pytester.makepyfile(PING_TEST.format(ok=True))
    result = run()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*sockfix_transcript = 'sometimes'*choose one of on-failure, always, never*"]
    )


def test_servers_made_in_the_test_body_are_in_the_section(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(
        """
        import sockfix
        import sfx_client

        def test_direct():
            with sockfix.TCPServer(handler=sockfix.echo(bytes.upper)) as server:
                assert sfx_client.exchange(server.address, b"shout\\n") == b"SHOUT\\n"
                server.wait_until(lambda s: s.connections[0].closed)
            assert False, "after the server stopped"
        """
    )
    result = run()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            SECTION,
            "TCPServer 127.0.0.1:* (strict, framing lines()*",
            "  +0.*s << in      6 B  shout\\n",
            "  +0.*s >> out     6 B  SHOUT\\n*",
        ]
    )


def test_fixture_and_direct_servers_are_shown_in_creation_order(
    pytester: pytest.Pytester, run
) -> None:
    pytester.makepyfile(
        """
        import sockfix

        def test_both(make_tcp_server):
            make_tcp_server(seed=11)
            with sockfix.TCPServer(seed=22):
                pass
            make_tcp_server(seed=33)
            assert False
        """
    )
    result = run()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [SECTION, "TCPServer *seed=11)", "(no connections)", "TCPServer *seed=22)", "*seed=33)"]
    )


def test_only_the_last_servers_are_shown(pytester: pytest.Pytester, run) -> None:
    total = MAX_SERVERS_SHOWN + 2
    pytester.makepyfile(
        f"""
        import sockfix
        import sfx_client

        def test_many(make_tcp_server):
            for n in range({total}):
                server = make_tcp_server(handler=sockfix.echo())
                word = b"server-%02d\\n" % n
                assert sfx_client.exchange(server.address, word) == word
            assert False
        """
    )
    result = run()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            SECTION,
            f"(2 earlier servers of this test not shown; the last {MAX_SERVERS_SHOWN} follow)",
            "*server-02\\n",
        ]
    )
    for n in range(2, total):
        result.stdout.fnmatch_lines([f"*<< in * server-{n:02d}\\n"])
    for n in range(2):
        result.stdout.no_fnmatch_line(f"*server-{n:02d}*")


def test_the_seed_is_printed_in_the_section(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(
        """
        def test_seeded(tcp_server):
            assert False
        """
    )
    result = run("--sockfix-seed=4242")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            SECTION,
            "test seed 4242 (from --sockfix-seed): --sockfix-seed=4242 replays the faults of "
            "every server this test made",
            "TCPServer 127.0.0.1:* (strict, *seed=4242 from test seed 4242)",
        ]
    )


def test_a_picked_seed_is_printed_with_how_to_replay_it(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(
        """
        def test_seeded(tcp_server):
            print("SEED", tcp_server.seed)
            assert False
        """
    )
    result = run()
    result.assert_outcomes(failed=1)
    (line,) = [line for line in result.outlines if line.startswith("SEED ")]
    seed = line.split()[1]
    result.stdout.fnmatch_lines(
        [
            SECTION,
            f"test seed {seed} (picked for this test): --sockfix-seed={seed} replays *",
            f"TCPServer 127.0.0.1:* (strict, *seed={seed} from test seed {seed})",
        ]
    )


def test_a_module_server_is_in_the_section_of_each_test_using_it(
    pytester: pytest.Pytester, run
) -> None:
    pytester.makepyfile(
        """
        import pytest
        import sockfix
        import sfx_client

        @pytest.fixture(scope="module")
        def shared():
            with sockfix.TCPServer(handler=sockfix.echo()) as server:
                yield server

        def test_first(shared):
            assert sfx_client.exchange(shared.address, b"first\\n") == b"first\\n"

        def test_unrelated():
            assert False, "does not use the server"

        def test_second(shared):
            assert sfx_client.exchange(shared.address, b"second\\n") == b"second\\n"
            assert False, "second failed"
        """
    )
    result = run()
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*_ test_unrelated _*",
            "*does not use the server",
            "*_ test_second _*",
            "*second failed",
            SECTION,
            "*<< in * first\\n",
            "*<< in * second\\n",
        ]
    )
    text = result.stdout.str()
    unrelated = text[text.index("_ test_unrelated _") : text.index("_ test_second _")]
    assert SECTION_TITLE + " -" not in unrelated


def test_a_setup_error_shows_the_section(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(
        """
        import pytest
        import sfx_client

        @pytest.fixture
        def primed(tcp_server):
            tcp_server.expect(b"HELLO\\n").respond(b"HI\\n")
            assert sfx_client.exchange(tcp_server.address, b"HELLO\\n") == b"HI\\n"
            raise RuntimeError("setup broke")

        def test_never_runs(primed):
            pass
        """
    )
    result = run()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*ERROR at setup of test_never_runs*", "*setup broke*", SECTION])
