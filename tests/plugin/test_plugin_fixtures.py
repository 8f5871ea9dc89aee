"""The fixtures, as a user's test file uses them: tcp_server, make_tcp_server, --sockfix-seed."""

from __future__ import annotations

import pytest

RETRYING_CLIENT = '''
import socket

import sfx_client


class MyClient:
    """Reads the greeting, sends PING, and retries on a reset (3 attempts)."""

    def __init__(self, address):
        self.address = address

    def ping(self):
        for _ in range(3):
            try:
                with sfx_client.connect(self.address) as sock:
                    assert sfx_client.read_line(sock) == b"220 ready\\r\\n"
                    sock.sendall(b"PING\\r\\n")
                    reply = sfx_client.read_line(sock)
            except ConnectionResetError:
                continue
            if reply:
                return reply.removeprefix(b"+").strip().decode()
        raise ConnectionError("no answer after 3 attempts")


def my_client(address):
    return MyClient(address)
'''


def test_the_issue_example_passes_and_the_server_is_stopped_after(
    pytester: pytest.Pytester, run
) -> None:
    pytester.makepyfile(
        RETRYING_CLIENT
        + """

SEEN = {}


def test_client_retries(tcp_server):
    tcp_server.on_connect().respond(b"220 ready\\r\\n")
    tcp_server.expect(b"PING\\r\\n").reset().times(1)
    tcp_server.expect(b"PING\\r\\n").respond(b"+PONG\\r\\n")
    assert my_client(tcp_server.address).ping() == "PONG"
    assert tcp_server.connections[1].messages == [b"PING\\r\\n"]
    assert len(tcp_server.connections) == 2
    SEEN["address"] = tcp_server.address


def test_the_server_is_gone():
    assert sfx_client.refused(SEEN["address"])
    assert sfx_client.sockfix_threads() == []
"""
    )
    result = run("-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        ["*test_client_retries PASSED*", "*test_the_server_is_gone PASSED*"]
    )


def test_the_test_that_checks_refusal_can_fail(pytester: pytest.Pytester, run) -> None:
    """The refusal check above is not vacuous: a server left running is seen."""
    pytester.makepyfile(
        """
        import sockfix
        import sfx_client

        def test_still_running():
            with sockfix.TCPServer() as server:
                assert not sfx_client.refused(server.address)
                assert sfx_client.sockfix_threads() != []
            assert sfx_client.refused(server.address)
        """
    )
    run().assert_outcomes(passed=1)


def test_make_tcp_server_makes_several_servers_with_options(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(
        """
        import struct

        import sockfix
        from sockfix import framing
        import sfx_client

        ADDRESSES = []

        def test_several(make_tcp_server):
            upper = make_tcp_server(handler=sockfix.echo(bytes.upper))
            fixed = make_tcp_server(framing=framing.fixed(4))
            fixed.expect(b"ABCD").respond(b"four\\n")
            loose = make_tcp_server(strict=False)
            prefixed = make_tcp_server(framing=framing.length_prefixed("!H"))
            prefixed.expect(sockfix.ANY).respond(lambda m: m[2:] + b"\\n")
            servers = [upper, fixed, loose, prefixed]
            assert len({s.port for s in servers}) == 4
            assert all(isinstance(s, sockfix.TCPServer) for s in servers)

            assert sfx_client.exchange(upper.address, b"hello\\n") == b"HELLO\\n"
            with sfx_client.connect(fixed.address) as sock:
                sock.sendall(b"AB")
                sock.sendall(b"CD")
                assert sfx_client.read_line(sock) == b"four\\n"
            with sfx_client.connect(loose.address) as sock:
                sock.sendall(b"nobody expects this\\n")
                loose.wait_until(lambda s: s.received == b"nobody expects this\\n")
            assert sfx_client.exchange(prefixed.address, struct.pack("!H", 3) + b"abc") == b"abc\\n"

            assert fixed.connections[0].messages == [b"ABCD"]
            assert loose.connections[0].messages == [b"nobody expects this\\n"]
            ADDRESSES.extend(s.address for s in servers)

        def test_all_stopped():
            assert len(ADDRESSES) == 4
            assert all(sfx_client.refused(a) for a in ADDRESSES)
            assert sfx_client.sockfix_threads() == []
        """
    )
    run("-v").assert_outcomes(passed=2)


def test_tcp_server_and_make_tcp_server_share_one_teardown(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(
        """
        import sfx_client

        def test_both(tcp_server, make_tcp_server):
            other = make_tcp_server()
            assert other.port != tcp_server.port
            test_both.addresses = [tcp_server.address, other.address]

        def test_stopped():
            assert all(sfx_client.refused(a) for a in test_both.addresses)
        """
    )
    run().assert_outcomes(passed=2)


def test_bad_keywords_fail_at_the_call(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(
        """
        import pytest

        def test_bad(make_tcp_server):
            with pytest.raises(TypeError, match="framing"):
                make_tcp_server(framing="lines")
            with pytest.raises(TypeError, match="nonsense"):
                make_tcp_server(nonsense=1)
        """
    )
    run().assert_outcomes(passed=1)


@pytest.mark.parametrize("seed", ["0", "1234"])
def test_seed_option_is_the_test_seed_that_every_server_derives_from(
    pytester: pytest.Pytester, run, seed: str
) -> None:
    pytester.makepyfile(
        f"""
        import pytest
        import sockfix
        from sockfix.core.faults.shaping import derive_seed

        @pytest.fixture(scope="module")
        def module_server():
            with sockfix.TCPServer() as server:
                yield server

        def test_seed(module_server, tcp_server, make_tcp_server):
            # In the order the test made them: the module fixture first, then tcp_server.
            assert module_server.seed == {seed}  # the first server takes the test seed
            assert tcp_server.seed == derive_seed({seed}, 2)
            assert make_tcp_server().seed == derive_seed({seed}, 3)
            assert make_tcp_server(seed=7).seed == 7  # an explicit seed wins
            with sockfix.TCPServer() as direct:  # an explicit seed took no draw
                assert direct.seed == derive_seed({seed}, 4)
            assert len({{module_server.seed, tcp_server.seed, direct.seed}}) == 3
            assert not tcp_server.seed_picked
            assert tcp_server.test_seed.seed == {seed}
        """
    )
    result = run(f"--sockfix-seed={seed}")
    result.assert_outcomes(passed=1)


def test_a_picked_test_seed_replays_every_server_of_the_test(
    pytester: pytest.Pytester, run
) -> None:
    pytester.makepyfile(
        """
        import pathlib

        def test_seeds(tcp_server, make_tcp_server):
            other = make_tcp_server()
            seeds = (tcp_server.test_seed.seed, tcp_server.seed, other.seed)
            with pathlib.Path("seeds.txt").open("a") as out:
                out.write(" ".join(map(str, seeds)) + "\\n")
        """
    )
    run().assert_outcomes(passed=1)
    run(f"--sockfix-seed={(pytester.path / 'seeds.txt').read_text().split()[0]}").assert_outcomes(
        passed=1
    )
    first, again = (pytester.path / "seeds.txt").read_text().splitlines()
    assert again == first
    test_seed, server_seed, other_seed = first.split()
    assert server_seed == test_seed != other_seed


def test_without_the_seed_option_each_server_picks_one(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(
        """
        def test_seed(tcp_server, make_tcp_server):
            other = make_tcp_server()
            assert isinstance(tcp_server.seed, int)
            assert tcp_server.seed_picked and other.seed_picked
        """
    )
    run().assert_outcomes(passed=1)


def test_a_server_started_by_hand_and_never_stopped_is_stopped(
    pytester: pytest.Pytester, run
) -> None:
    pytester.makepyfile(
        """
        import sockfix
        import sfx_client

        LEFT = {}

        def test_forgets_to_stop():
            s = sockfix.TCPServer()
            s.start()
            s.expect(b"hi\\n").respond(b"there\\n")
            assert sfx_client.exchange(s.address, b"hi\\n") == b"there\\n"
            assert sfx_client.sockfix_threads() != []
            LEFT["address"] = s.address

        def test_nothing_left():
            assert sfx_client.sockfix_threads() == []
            assert sfx_client.refused(LEFT["address"])
        """
    )
    run("-p", "no:randomly").assert_outcomes(passed=2)


def test_a_module_scoped_server_lives_across_its_tests(pytester: pytest.Pytester, run) -> None:
    """A server made by a wider fixture belongs to that fixture, not to the first test."""
    pytester.makepyfile(
        test_a_module="""
        import pytest
        import sockfix
        import sfx_client

        ADDRESSES = []

        @pytest.fixture(scope="module")
        def shared():
            with sockfix.TCPServer(handler=sockfix.echo()) as server:
                yield server

        @pytest.fixture(scope="module")
        def forgotten():  # never stopped by its fixture: the plugin stops it at module end
            server = sockfix.TCPServer(handler=sockfix.echo())
            server.start()
            return server

        @pytest.mark.parametrize("n", range(3))
        def test_uses_them(shared, forgotten, n):
            assert sfx_client.exchange(shared.address, b"%d\\n" % n) == b"%d\\n" % n
            assert sfx_client.exchange(forgotten.address, b"f%d\\n" % n) == b"f%d\\n" % n
            assert len(shared.connections) == n + 1
            ADDRESSES[:] = [shared.address, forgotten.address]
        """,
        test_b_module="""
        import sfx_client
        from test_a_module import ADDRESSES

        def test_module_servers_are_stopped():
            assert len(ADDRESSES) == 2
            assert all(sfx_client.refused(a) for a in ADDRESSES)
            assert sfx_client.sockfix_threads() == []
        """,
    )
    run("-v").assert_outcomes(passed=4)


def test_asyncio_client(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(
        """
        import asyncio

        TIMEOUT = 5.0

        async def client(tcp_server):
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(*tcp_server.address), TIMEOUT
            )
            try:
                (conn,) = await tcp_server.wait_for_connections_async(1)
                assert conn.number == 1
                greeting = await asyncio.wait_for(reader.readline(), TIMEOUT)
                replies = [greeting]
                for word in (b"GET a", b"GET b"):
                    writer.write(word + b"\\r\\n")
                    await writer.drain()
                    replies.append(await asyncio.wait_for(reader.readline(), TIMEOUT))
                await tcp_server.wait_until_async(lambda s: len(s.connections[0].messages) == 2)
                return replies
            finally:
                writer.close()
                await writer.wait_closed()

        def test_async_round_trips(tcp_server):
            tcp_server.on_connect().respond(b"hello\\r\\n")
            tcp_server.expect(b"GET a\\r\\n").respond(b"VALUE 1\\r\\n")
            tcp_server.expect(b"GET b\\r\\n").respond(b"VALUE 2\\r\\n")
            replies = asyncio.run(client(tcp_server))
            assert replies == [b"hello\\r\\n", b"VALUE 1\\r\\n", b"VALUE 2\\r\\n"]
            assert tcp_server.connections[0].messages == [b"GET a\\r\\n", b"GET b\\r\\n"]

        def test_async_wait_times_out(tcp_server):
            async def main():
                try:
                    await tcp_server.wait_for_connections_async(1, timeout=0.05)
                except TimeoutError as exc:
                    return str(exc)
                return "no timeout"

            assert "1 connection(s)" in asyncio.run(main())
        """
    )
    run().assert_outcomes(passed=2)
