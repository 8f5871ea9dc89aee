"""A stopped, dropped endpoint frees its recording at once, by reference counting.

Reference cycles (a recording pointing back at its server through callbacks, a reader holding
its connection's bound method) kept 64 MiB recordings alive until some later cyclic GC, and the
memory they held slowed everything after them. Run in a fresh interpreter with the cyclic GC
off, so that only reference counting can free anything (and the pytest plugin, which keeps a
test's servers for its report, is not there).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

PROGRAM = textwrap.dedent(
    """
    import gc, socket, weakref
    import sockfix

    gc.disable()

    def traffic(address, payload=b"hello\\n"):
        with socket.create_connection(address, timeout=5) as client:
            client.sendall(payload)
            assert client.recv(100)

    def tcp():
        server = sockfix.TCPServer(handler=sockfix.echo(bytes.upper)).start()
        traffic(server.address)
        server.wait_until(lambda s: s.connections and s.connections[0].closed)
        server.stop()
        return server, server.connections[0]

    def udp():
        server = sockfix.UDPServer(handler=sockfix.echo(bytes.upper)).start()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.settimeout(5)
            client.sendto(b"hi", server.address)
            assert client.recv(100) == b"HI"
        server.stop()
        return server, server.connections[0]

    def proxy():
        upstream = sockfix.TCPServer(handler=sockfix.echo(bytes.upper)).start()
        proxy = sockfix.TCPProxy(upstream=upstream.address).start()
        traffic(proxy.address)
        proxy.wait_until(lambda p: p.connections and p.connections[0].closed)
        proxy.stop()
        upstream.stop()
        return proxy, proxy.connections[0]

    endpoint, conn = {kind}()
    endpoint_ref, conn_ref = weakref.ref(endpoint), weakref.ref(conn)
    del endpoint, conn
    alive = [name for name, ref in (("endpoint", endpoint_ref), ("recording", conn_ref)) if ref()]
    print("alive:", alive)
    """
)


@pytest.mark.parametrize("kind", ["tcp", "udp", "proxy"])
def test_a_dropped_endpoint_is_freed_without_the_cyclic_gc(kind: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM.replace("{kind}", kind)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "alive: []"
