"""wait_for_connections / wait_until and their asyncio twins."""

from __future__ import annotations

import asyncio
import threading

import pytest
from _nethelp import connect, recv_until

import sockfix


def test_wait_for_connections_returns_the_first_n() -> None:
    with sockfix.TCPServer() as server, connect(server), connect(server):
        conns = server.wait_for_connections(2)
        assert [c.number for c in conns] == [1, 2]
        assert server.wait_for_connections(1) == conns[:1]


def test_wait_for_connections_times_out_naming_what_it_waited_for() -> None:
    with sockfix.TCPServer() as server, pytest.raises(TimeoutError) as info:
        server.wait_for_connections(3, timeout=0.1)
    text = str(info.value)
    assert "3 connection(s)" in text
    assert f"127.0.0.1:{server.port}" in text
    assert "0.1" in text


def test_wait_until_wakes_on_a_change_from_another_thread() -> None:
    with sockfix.TCPServer(handler=sockfix.echo()) as server, connect(server) as client:
        client.sendall(b"a\nb\n")
        server.wait_until(lambda s: s.connections and len(s.connections[0].messages) == 2)
        assert recv_until(client, b"b\n") == b"a\nb\n"


def _never(server: sockfix.TCPServer) -> bool:
    return False


def test_wait_until_times_out_naming_the_predicate() -> None:
    with sockfix.TCPServer() as server, pytest.raises(TimeoutError, match=r"predicate _never"):
        server.wait_until(_never, timeout=0.05)


def test_wait_until_true_at_once_returns_at_once() -> None:
    with sockfix.TCPServer() as server:
        server.wait_until(lambda s: True, timeout=0)


@pytest.mark.parametrize("timeout", [-1, "5", None, True])
def test_wait_rejects_a_bad_timeout(timeout: object) -> None:
    with sockfix.TCPServer() as server:
        with pytest.raises(ValueError, match="timeout"):
            server.wait_until(lambda s: True, timeout=timeout)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="timeout"):
            server.wait_for_connections(1, timeout=timeout)  # type: ignore[arg-type]


def test_async_twins_do_not_block_the_loop() -> None:
    async def main(server: sockfix.TCPServer) -> tuple[int, list[sockfix.Connection]]:
        ticks = 0
        stop_ticking = asyncio.Event()

        async def ticker() -> None:
            nonlocal ticks
            while not stop_ticking.is_set():
                ticks += 1
                await asyncio.sleep(0.001)  # sleep-ok: the ticker proves the loop runs

        async def client() -> None:
            await asyncio.sleep(0.05)  # sleep-ok: a client that arrives later, same loop
            reader, writer = await asyncio.open_connection(*server.address)
            writer.write(b"ping\n")
            await writer.drain()
            assert await asyncio.wait_for(reader.readline(), 5) == b"PING\n"
            writer.close()
            await writer.wait_closed()

        tick_task = asyncio.create_task(ticker())
        client_task = asyncio.create_task(client())
        conns = await server.wait_for_connections_async(1, timeout=5)
        await server.wait_until_async(lambda s: s.connections[0].bytes_sent == 5, timeout=5)
        await asyncio.wait_for(client_task, 5)
        stop_ticking.set()
        await tick_task
        return ticks, conns

    with sockfix.TCPServer(handler=sockfix.echo(bytes.upper)) as server:
        ticks, conns = asyncio.run(main(server))
    assert ticks > 5  # the ticker ran while we waited
    assert conns == server.connections[:1]
    assert server.connections[0].received == b"ping\n"


def test_async_wait_times_out() -> None:
    async def main(server: sockfix.TCPServer) -> None:
        with pytest.raises(TimeoutError, match="2 connection"):
            await server.wait_for_connections_async(2, timeout=0.05)
        with pytest.raises(TimeoutError, match="predicate _never"):
            await server.wait_until_async(_never, timeout=0.05)

    with sockfix.TCPServer() as server:
        asyncio.run(main(server))


def test_async_wait_woken_by_a_thread_client() -> None:
    async def main(server: sockfix.TCPServer, go: threading.Event) -> None:
        go.set()
        await server.wait_until_async(
            lambda s: s.connections and s.connections[0].bytes_received == 4, timeout=5
        )

    go = threading.Event()
    with sockfix.TCPServer(strict=False) as server:

        def client() -> None:
            assert go.wait(5)
            with connect(server) as c:
                c.sendall(b"abc\n")
                server.wait_until(lambda s: s.connections and s.connections[0].bytes_received)

        t = threading.Thread(target=client, name="test client")
        t.start()
        try:
            asyncio.run(main(server, go))
        finally:
            t.join(10)
    assert server.received == b"abc\n"
