"""The examples of docs/toxiproxy.md: toxiproxy's HTTP API served by sockfix.

A sockfix ``tcp_server`` stands in for the real server behind each proxy; the toxiproxy clients
talk to a ``sockfix.ToxiproxyServer`` instead of the toxiproxy daemon.
"""

from __future__ import annotations

import base64
import socket

import pytest
import requests
import toxiproxy
import toxiproxy.api

import sockfix
from sockfix import faults


def ask(address, request):
    """The client under test: one request, one line back."""
    with socket.create_connection(address, timeout=2) as sock:
        sock.sendall(request)
        with sock.makefile("rb") as replies:
            return replies.readline()


def test_quick_look(tcp_server):
    tcp_server.expect(b"GET\n").respond(b"VALUE 42\n")  # stands in for the real server

    with sockfix.ToxiproxyServer() as api:  # in place of the toxiproxy daemon
        upstream = f"127.0.0.1:{tcp_server.port}"
        proxy = {"name": "db", "listen": "127.0.0.1:0", "upstream": upstream}
        created = requests.post(f"{api.url}/proxies", json=proxy, timeout=2).json()
        latency = {"type": "latency", "attributes": {"latency": 50}}  # ms, as in toxiproxy
        requests.post(f"{api.url}/proxies/db/toxics", json=latency, timeout=2)

        host, port = created["listen"].split(":")  # "127.0.0.1:PORT", the real port
        assert ask((host, int(port)), b"GET\n") == b"VALUE 42\n"  # 50 ms late
        db = api.proxies["db"]  # the sockfix.TCPProxy behind it
        db.wait_until(lambda p: p.connections[0].upstream.closed)

    conn = db.connections[0]
    assert conn.received == b"GET\n"
    assert [e.note for e in conn.events if e.kind == "fault"] == [
        "downstream: Latency(0.05): delayed 9 bytes by 0.050000 s"
    ]


class TimedRequests:
    """``requests`` with a timeout: toxiproxy-python sets none of its own."""

    def get(self, **kw):
        return requests.get(timeout=2, **kw)

    def post(self, **kw):
        return requests.post(timeout=2, **kw)

    def delete(self, **kw):
        return requests.delete(timeout=2, **kw)


@pytest.fixture
def toxiproxy_api(monkeypatch):
    """A ToxiproxyServer where toxiproxy-python looks for the daemon (127.0.0.1, our port)."""
    with sockfix.ToxiproxyServer() as api:
        monkeypatch.setattr(toxiproxy.api.APIConsumer, "port", api.port)
        monkeypatch.setattr(toxiproxy.api, "requests", TimedRequests())
        yield api


def test_with_the_toxiproxy_python_client(toxiproxy_api, tcp_server):
    tcp_server.expect(b"GET\n").respond(b"VALUE 42\n")
    server = toxiproxy.Toxiproxy()  # the client, unchanged

    proxy = server.create(upstream=f"127.0.0.1:{tcp_server.port}", name="db")
    host, port = proxy.listen.split(":")
    proxy.add_toxic(type="limit_data", attributes={"bytes": 5})
    assert ask((host, int(port)), b"GET\n") == b"VALUE"  # 5 bytes, then the proxy closes

    proxy.destroy_toxic("limit_data_downstream")
    with proxy.down(), pytest.raises(ConnectionRefusedError):  # enabled: false, refused
        ask((host, int(port)), b"GET\n")
    assert ask((host, int(port)), b"GET\n") == b"VALUE 42\n"


def test_errors_are_toxiproxys(tcp_server):
    with sockfix.ToxiproxyServer() as api:
        proxy = {"name": "db", "upstream": f"127.0.0.1:{tcp_server.port}"}
        assert requests.post(f"{api.url}/proxies", json=proxy, timeout=2).status_code == 201
        again = requests.post(f"{api.url}/proxies", json=proxy, timeout=2)
        assert again.status_code == 409
        assert again.json() == {"error": "proxy already exists", "status": 409}
        missing = requests.get(f"{api.url}/proxies/cache", timeout=2)
        assert missing.json() == {"error": "proxy not found", "status": 404}


def flaky_pattern(seed, upstream):
    """Which of 10 connections a toxic of toxicity 0.5 hit, on a server seeded ``seed``."""
    with sockfix.ToxiproxyServer(seed=seed) as api:
        proxy = {"name": "db", "listen": "127.0.0.1:0", "upstream": upstream}
        requests.post(f"{api.url}/proxies", json=proxy, timeout=2)
        toxic = {"type": "latency", "toxicity": 0.5, "attributes": {"latency": 1}}
        requests.post(f"{api.url}/proxies/db/toxics", json=toxic, timeout=2)
        db = api.proxies["db"]
        for _ in range(10):
            assert ask(db.address, b"GET\n") == b"VALUE 42\n"
        db.wait_until(lambda p: all(c.upstream.closed for c in p.connections))
    return [any(e.kind == "fault" for e in c.events) for c in db.connections]


def test_seeded_toxicity_replays(tcp_server):
    tcp_server.expect(b"GET\n").respond(b"VALUE 42\n")
    upstream = f"127.0.0.1:{tcp_server.port}"
    assert flaky_pattern(7, upstream) == flaky_pattern(7, upstream)  # the same 10 draws


def test_beyond_toxiproxy(tcp_server):
    tcp_server.expect(b"GET\n").respond(b"VALUE 42\n")
    with sockfix.ToxiproxyServer() as api:
        proxy = {"name": "db", "listen": "127.0.0.1:0", "upstream": f"127.0.0.1:{tcp_server.port}"}
        requests.post(f"{api.url}/proxies", json=proxy, timeout=2)
        db = api.proxies["db"]
        db.fault(faults.Reset(), connections=[1])  # sockfix's own API: the first connection only
        with pytest.raises(ConnectionResetError):
            ask(db.address, b"GET\n")
        assert ask(db.address, b"GET\n") == b"VALUE 42\n"
        db.wait_until(lambda p: all(c.upstream.closed for c in p.connections))

        # What crossed the wire, for a test in any language: bytes in base64, and events.
        conns = requests.get(f"{api.url}/proxies/db/connections", timeout=2).json()
        assert [base64.b64decode(c["sent"]) for c in conns] == [b"", b"VALUE 42\n"]
        assert conns[1]["events"][0]["kind"] == "connect"
