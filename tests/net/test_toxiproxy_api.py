"""sockfix.ToxiproxyServer and `sockfix toxiproxy`: toxiproxy's HTTP API, driven over HTTP with
http.client (status codes, bodies and error texts as toxiproxy's api_test.go has them), with the
toxiproxy-python client, and as a subprocess. Toxics are checked by what they do to real traffic
through the proxy (a sockfix echo upstream), read from the recording: no timing assertions."""

from __future__ import annotations

import base64
import contextlib
import http.client
import io
import json
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

import sockfix

TIMEOUT = 5.0
BAD = "bad request body: "
STREAM = "stream was invalid, can be either upstream or downstream"
LATENCY = "Go struct field LatencyToxic.attributes.latency of type int64"
SLICER = "average_size >= 1 and size_variation < average_size, got average_size 0, size_variation 0"


# -- helpers ---------------------------------------------------------------------------------


def call(
    api: sockfix.ToxiproxyServer | tuple[str, int],
    method: str,
    path: str,
    body: object = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, http.client.HTTPMessage, bytes]:
    """One request (``body``: bytes as they are, anything else as JSON): status, headers, body."""
    host, port = api if isinstance(api, tuple) else api.address
    raw = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    conn = http.client.HTTPConnection(host, port, timeout=TIMEOUT)
    try:
        conn.request(method, path, body=raw, headers={"User-Agent": "test", **(headers or {})})
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read()
    finally:
        conn.close()


def jcall(api: Any, method: str, path: str, body: object = None) -> tuple[int, Any]:
    status, _, raw = call(api, method, path, body)
    return status, json.loads(raw) if raw else None


def error(message: str, status: int) -> bytes:
    return json.dumps({"error": message, "status": status}, separators=(",", ":")).encode() + b"\n"


def populate_error(message: str, status: int) -> bytes:
    """/populate's error: toxiproxy sends it with the proxies made so far (null: none)."""
    body = {"error": message, "status": status, "proxies": None}
    return json.dumps(body, separators=(",", ":")).encode()


def free_port() -> int:
    with socket.socket() as placeholder:  # a port with nothing listening on it
        placeholder.bind(("127.0.0.1", 0))
        return int(placeholder.getsockname()[1])


def port_of(listen: str) -> int:
    return int(listen.rpartition(":")[2])


def refused(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(TIMEOUT)
        return s.connect_ex(("127.0.0.1", port)) != 0


def recv_all(sock: socket.socket) -> bytes:
    out = bytearray()
    for _ in range(10_000):
        chunk = sock.recv(65536)
        if not chunk:
            return bytes(out)
        out += chunk
    raise AssertionError("no EOF")


def exchange(port: int, data: bytes, n: int | None = None) -> bytes:
    """Send ``data``, read ``n`` bytes (None: until EOF), close."""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        sock.sendall(data)
        if n is None:
            sock.shutdown(socket.SHUT_WR)
            return recv_all(sock)
        out = b""
        for _ in range(n):
            if len(out) >= n:
                break
            chunk = sock.recv(n - len(out))
            if not chunk:
                break
            out += chunk
        return out


def settled(proxy: sockfix.TCPProxy) -> None:
    proxy.wait_until(lambda p: all(c.closed and c.upstream.closed for c in p.connections))


def fault_notes(conn: sockfix.ProxyConnection) -> list[str]:
    return [e.note for e in conn.events if e.kind == "fault"]


def make(api: Any, name: str, upstream: sockfix.TCPServer, **extra: Any) -> dict[str, Any]:
    body = {"name": name, "listen": "127.0.0.1:0", "upstream": f"127.0.0.1:{upstream.port}"}
    status, proxy = jcall(api, "POST", "/proxies", {**body, **extra})
    assert status == 201, proxy
    return proxy  # type: ignore[no-any-return]


def toxic(api: Any, proxy: str, **body: Any) -> dict[str, Any]:
    status, got = jcall(api, "POST", f"/proxies/{proxy}/toxics", body)
    assert status == 200, got
    return got  # type: ignore[no-any-return]


@pytest.fixture
def api() -> Iterator[sockfix.ToxiproxyServer]:
    with sockfix.ToxiproxyServer(seed=1) as server:
        yield server


@pytest.fixture
def echo() -> Iterator[sockfix.TCPServer]:
    with sockfix.TCPServer(handler=sockfix.echo(), strict=False) as server:
        yield server


# -- the server itself ---------------------------------------------------------------------------


def test_start_stop_url_and_version():
    api = sockfix.ToxiproxyServer(seed=3)
    with pytest.raises(RuntimeError, match="not started"):
        api.url  # noqa: B018
    assert api.start() is api.start()  # a second start does nothing
    try:
        assert api.url == f"http://127.0.0.1:{api.port}"
        assert api.seed == 3
        status, headers, body = call(api, "GET", "/version")
        assert (status, body) == (200, b'{"version": "sockfix-0.1.0"}\n')
        assert headers["Content-Type"] == "application/json;charset=utf-8"
        assert len(headers["X-Toxiproxy-Request-Id"]) == 20
    finally:
        start = time.monotonic()
        api.stop()
        assert time.monotonic() - start < 1.0
    api.stop()  # idempotent
    with pytest.raises(RuntimeError, match="starts once"):
        api.start()
    with pytest.raises(ConnectionRefusedError):
        call(("127.0.0.1", api.port), "GET", "/version")


def test_a_port_in_use_is_a_port_in_use_error(api):
    with pytest.raises(sockfix.PortInUseError, match=f"port {api.port} on 127.0.0.1"):
        sockfix.ToxiproxyServer(port=api.port).start()


def test_stop_ends_a_request_in_progress():
    api = sockfix.ToxiproxyServer().start()
    with socket.create_connection(api.address, timeout=TIMEOUT) as slow:
        slow.sendall(b"POST /proxies HTTP/1.1\r\nContent-Length: 10\r\n\r\n{")  # never ends
        start = time.monotonic()
        api.stop()
        assert time.monotonic() - start < 1.0
        with contextlib.suppress(ConnectionResetError):  # not even accepted yet: a reset
            assert recv_all(slow) == b""  # no answer: the request never ended


def test_bad_arguments():
    with pytest.raises(TypeError, match="seed must be an int"):
        sockfix.ToxiproxyServer(seed="1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="port must be an int"):
        sockfix.ToxiproxyServer(port=70000)


# -- routes, codes, bodies (api_test.go) ----------------------------------------------------------


def test_index_with_no_proxies(api):
    status, headers, body = call(api, "GET", "/proxies")
    assert (status, body, headers["Content-Type"]) == (200, b"{}", "application/json")


def test_create_proxy_blank_name_and_blank_upstream(api):
    assert call(api, "POST", "/proxies", {"name": "", "listen": "", "upstream": ""})[::2] == (
        400,
        error("missing required field: name", 400),
    )
    assert call(api, "POST", "/proxies", {"name": "test", "listen": "", "upstream": ""})[::2] == (
        400,
        error("missing required field: upstream", 400),
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "bad request body: EOF"),
        (b'{"name": "a"', "bad request body: unexpected EOF"),
        (b"nope", "bad request body: invalid character 'n' looking for beginning of value"),
        (
            b"[]",
            "bad request body: json: cannot unmarshal array into Go value of type toxiproxy.Proxy",
        ),
        (
            b'{"name": 5}',
            "bad request body: json: cannot unmarshal number into Go struct field Proxy.name of "
            "type string",
        ),
        (
            b'{"name": "a", "upstream": "127.0.0.1:1", "enabled": "yes"}',
            "bad request body: json: cannot unmarshal string into Go struct field Proxy.enabled "
            "of type bool",
        ),
        (
            b'{"name": "a", "upstream": "nowhere"}',
            "bad request body: upstream 'nowhere': dial tcp: address nowhere: missing port in "
            "address",
        ),
    ],
)
def test_bad_proxy_bodies(api, body, message):
    assert call(api, "POST", "/proxies", body)[::2] == (400, error(message, 400))
    assert call(api, "GET", "/proxies")[2] == b"{}"


def test_create_and_get_proxy(api, echo):
    port = free_port()
    body = {
        "name": "mysql_master",
        "listen": f"localhost:{port}",
        "upstream": f"localhost:{echo.port}",
    }
    status, created = jcall(api, "POST", "/proxies", body)
    want = {
        "name": "mysql_master",
        "listen": f"127.0.0.1:{port}",
        "upstream": f"localhost:{echo.port}",
        "enabled": True,
        "toxics": [],
    }
    assert (status, created) == (201, want)
    assert list(created) == ["name", "listen", "upstream", "enabled", "toxics"]  # toxiproxy's order
    assert jcall(api, "GET", "/proxies/mysql_master") == (200, want)
    assert jcall(api, "GET", "/proxies") == (200, {"mysql_master": want})
    assert exchange(port, b"hello\n", 6) == b"hello\n"  # localhost upstream resolved
    assert api.proxies["mysql_master"].address == ("127.0.0.1", port)


@pytest.mark.parametrize("listen", ["127.0.0.1:0", "localhost:0", "0.0.0.0:0", "", ":0", "[::]:0"])
def test_listen_addresses_map_to_loopback_and_report_the_real_port(api, echo, listen):
    created = make(api, "p", echo, listen=listen)
    proxy = api.proxies["p"]
    assert proxy.host == "127.0.0.1"
    assert created["listen"] == f"127.0.0.1:{proxy.port}"
    assert exchange(proxy.port, b"hi\n", 3) == b"hi\n"


def test_bad_listen_address_is_a_500_in_gos_words(api, echo):
    body = {"name": "p", "listen": "local373", "upstream": f"127.0.0.1:{echo.port}"}
    assert call(api, "POST", "/proxies", body)[::2] == (
        500,
        error("listen tcp: address local373: missing port in address", 500),
    )


def test_create_disabled_proxy_then_enable_and_disable_on_the_same_port(api, echo):
    port = free_port()
    body = {"name": "db", "listen": f"localhost:{port}", "upstream": f"127.0.0.1:{echo.port}"}
    status, created = jcall(api, "POST", "/proxies", {**body, "enabled": False})
    assert (status, created["listen"], created["enabled"]) == (201, f"localhost:{port}", False)
    assert refused(port)
    assert "db" not in api.proxies  # nothing has listened yet

    status, enabled = jcall(api, "PATCH", "/proxies/db", {"enabled": True})
    assert (status, enabled["listen"], enabled["enabled"]) == (200, f"127.0.0.1:{port}", True)
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as open_one:
        open_one.sendall(b"a\n")
        assert open_one.recv(10) == b"a\n"
        status, disabled = jcall(api, "POST", "/proxies/db", {"enabled": False})  # POST: old way
        assert (status, disabled["enabled"], disabled["listen"]) == (
            200,
            False,
            f"127.0.0.1:{port}",
        )
        with contextlib.suppress(ConnectionResetError):  # a close, maybe with bytes in flight
            assert open_one.recv(10) == b""  # enabled: false closed the open connection
    assert refused(port)
    assert jcall(api, "PATCH", "/proxies/db", {"enabled": True})[1]["listen"] == f"127.0.0.1:{port}"
    assert exchange(port, b"b\n", 2) == b"b\n"
    assert len(api.proxies["db"].connections) == 2


def test_delete_proxy(api, echo):
    created = make(api, "mysql_master", echo)
    port = port_of(created["listen"])
    assert call(api, "DELETE", "/proxies/mysql_master")[::2] == (204, b"")
    assert refused(port)
    assert call(api, "GET", "/proxies")[2] == b"{}"
    assert call(api, "DELETE", "/proxies/mysql_master")[::2] == (404, error("proxy not found", 404))


def test_create_proxy_port_conflict(api, echo):
    port = port_of(make(api, "mysql_master", echo)["listen"])
    body = {"name": "test", "listen": f"localhost:{port}", "upstream": f"127.0.0.1:{echo.port}"}
    assert call(api, "POST", "/proxies", body)[::2] == (
        500,
        error(f"listen tcp 127.0.0.1:{port}: bind: address already in use", 500),
    )
    assert call(api, "DELETE", "/proxies/mysql_master")[0] == 204
    assert jcall(api, "POST", "/proxies", body)[1]["listen"] == f"127.0.0.1:{port}"


def test_create_proxy_name_conflict(api, echo):
    make(api, "mysql_master", echo)
    body = {"name": "mysql_master", "listen": "127.0.0.1:0", "upstream": f"127.0.0.1:{echo.port}"}
    assert call(api, "POST", "/proxies", body)[::2] == (409, error("proxy already exists", 409))


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/proxies/nope"),
        ("PATCH", "/proxies/nope"),
        ("POST", "/proxies/nope"),
        ("DELETE", "/proxies/nope"),
        ("GET", "/proxies/nope/toxics"),
        ("POST", "/proxies/nope/toxics"),
        ("GET", "/proxies/nope/toxics/latency_downstream"),
        ("PATCH", "/proxies/nope/toxics/latency_downstream"),
        ("DELETE", "/proxies/nope/toxics/latency_downstream"),
        ("GET", "/proxies/nope/connections"),
    ],
)
def test_proxy_not_found(api, method, path):
    assert call(api, method, path, {})[::2] == (404, error("proxy not found", 404))


@pytest.mark.parametrize("method", ["GET", "PATCH", "POST", "DELETE"])
def test_toxic_not_found(api, echo, method):
    make(api, "p", echo)
    path = "/proxies/p/toxics/latency_downstream"
    assert call(api, method, path, {})[::2] == (404, error("toxic not found", 404))


def test_unknown_routes_and_methods_as_toxiproxys_router_answers(api):
    assert call(api, "GET", "/nope")[::2] == (404, b"404 page not found\n")
    assert call(api, "GET", "/proxies/")[::2] == (404, b"404 page not found\n")
    assert call(api, "PUT", "/proxies")[::2] == (405, b"")
    assert call(api, "DELETE", "/reset")[::2] == (405, b"")
    assert call(api, "GET", "/proxies/a/toxics/b/c")[0] == 404


def test_browsers_get_403(api):
    agent = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36"}
    assert call(api, "GET", "/proxies", headers=agent)[::2] == (403, b"User agent not allowed\n")
    assert call(api, "GET", "/proxies", headers={"User-Agent": "Wget/2.1"})[0] == 200


def test_a_chunked_body_is_a_bad_request(api):
    status, _, body = call(api, "POST", "/proxies", b"{}", {"Transfer-Encoding": "chunked"})
    assert (status, json.loads(body)["error"]) == (
        400,
        "bad request body: send the body with a Content-Length, not chunked",
    )


# -- populate ---------------------------------------------------------------------------------


def test_populate_creates_in_order_enabled_by_default(api, echo):
    up = f"127.0.0.1:{echo.port}"
    body = [
        {"name": "one", "listen": "localhost:0", "upstream": up},
        {"name": "two", "listen": "localhost:0", "upstream": up, "enabled": False},
    ]
    status, got = jcall(api, "POST", "/populate", body)
    assert status == 201
    assert [(p["name"], p["enabled"]) for p in got["proxies"]] == [("one", True), ("two", False)]
    assert list(got) == ["proxies"]
    assert exchange(port_of(got["proxies"][0]["listen"]), b"x\n", 2) == b"x\n"
    assert got["proxies"][1]["listen"] == "localhost:0"
    assert sorted(api.proxies) == ["one"]


def test_populate_keeps_an_unchanged_proxy_and_replaces_a_changed_one(api, echo):
    one = make(api, "one", echo)
    make(api, "two", echo)
    toxic(api, "one", type="latency")
    toxic(api, "two", type="latency")
    up = f"127.0.0.1:{echo.port}"
    body = [
        {"name": "one", "listen": one["listen"], "upstream": up},  # the same: kept
        {"name": "two", "listen": "127.0.0.1:0", "upstream": f"localhost:{echo.port}"},  # moved
    ]
    status, got = jcall(api, "POST", "/populate", body)
    assert status == 201
    assert [len(p["toxics"]) for p in got["proxies"]] == [1, 0]
    assert got["proxies"][0]["listen"] == one["listen"]


def test_populate_with_bad_name_changes_nothing(api, echo):
    up = f"127.0.0.1:{echo.port}"
    body = [{"name": "one", "listen": "localhost:0", "upstream": up}, {"name": "", "listen": ""}]
    status, _, raw = call(api, "POST", "/populate", body)
    assert (status, raw) == (400, populate_error("missing required field: name at proxy 2", 400))
    assert call(api, "GET", "/proxies")[2] == b"{}"


def test_populate_rejects_duplicates_and_non_lists(api, echo):
    up = f"127.0.0.1:{echo.port}"
    body = [{"name": "a", "upstream": up}, {"name": "a", "upstream": up}]
    assert call(api, "POST", "/populate", body)[::2] == (
        500,
        populate_error('duplicate proxy name "a"', 500),
    )
    assert call(api, "POST", "/populate", {"name": "a"})[::2] == (
        400,
        populate_error(
            BAD + "json: cannot unmarshal object into Go value of type []toxiproxy.Proxy", 400
        ),
    )
    assert call(api, "GET", "/proxies")[2] == b"{}"


def test_populate_that_fails_half_way_returns_what_it_made(api, echo):
    taken = port_of(make(api, "taken", echo)["listen"])
    up = f"127.0.0.1:{echo.port}"
    body = [
        {"name": "one", "listen": "127.0.0.1:0", "upstream": up},
        {"name": "two", "listen": f"127.0.0.1:{taken}", "upstream": up},
    ]
    status, got = jcall(api, "POST", "/populate", body)
    assert status == 500
    assert got["error"] == f"listen tcp 127.0.0.1:{taken}: bind: address already in use"
    assert [p["name"] for p in got["proxies"]] == ["one"]
    assert list(got) == ["error", "status", "proxies"]


# -- toxics: bodies -------------------------------------------------------------------------------


def test_add_toxic_and_read_it_back(api, echo):
    make(api, "mysql_master", echo)
    body = {"name": "foobar", "type": "latency", "stream": "downstream", "toxicity": 1,
            "attributes": {"latency": 100, "jitter": 10}}  # fmt: skip
    status, got = jcall(api, "POST", "/proxies/mysql_master/toxics", body)
    want = {"attributes": {"latency": 100, "jitter": 10}, "name": "foobar", "type": "latency",
            "stream": "downstream", "toxicity": 1}  # fmt: skip
    assert (status, got) == (200, want)
    assert list(got) == ["attributes", "name", "type", "stream", "toxicity"]  # Go's order
    assert jcall(api, "GET", "/proxies/mysql_master/toxics") == (200, [want])
    assert jcall(api, "GET", "/proxies/mysql_master/toxics/foobar") == (200, want)
    assert jcall(api, "GET", "/proxies/mysql_master")[1]["toxics"] == [want]
    assert api.proxies["mysql_master"].faults == [
        "Latency(0.1, jitter=0.01) on all connections, downstream"
    ]


def test_defaults_names_streams_and_listing_order(api, echo):
    make(api, "p", echo)
    assert toxic(api, "p", type="latency", stream="downstream")["name"] == "latency_downstream"
    assert toxic(api, "p", type="latency", stream="upstream")["name"] == "latency_upstream"
    noop = toxic(api, "p", name="foobar", type="noop")
    assert noop == {"attributes": {}, "name": "foobar", "type": "noop", "stream": "downstream",
                    "toxicity": 1}  # fmt: skip
    assert toxic(api, "p", name="tox", type="latency", toxicity=0.2)["toxicity"] == 0.2
    names = [t["name"] for t in jcall(api, "GET", "/proxies/p/toxics")[1]]
    assert names == ["latency_upstream", "latency_downstream", "foobar", "tox"]  # upstream first


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"name": "foobar", "type": "slow_close"}, 409, "toxic already exists"),
        ({"name": "foobar", "type": "latency", "stream": "upstream"}, 409, "toxic already exists"),
        ({"type": "latency", "stream": "walrustream"}, 400, STREAM),
        ({"type": "latency", "stream": ""}, 400, STREAM),
        ({"type": "nope"}, 400, "invalid toxic type"),
        (
            {"type": "latency", "toxicity": "1"},
            400,
            BAD + "json: cannot unmarshal string into Go struct field ToxicWrapper.toxicity of "
            "type float32",
        ),
        (
            {"type": "latency", "attributes": {"latency": "100"}},
            400,
            BAD + f"json: cannot unmarshal string into {LATENCY}",
        ),
        (
            {"type": "latency", "attributes": {"latency": 1.5}},
            400,
            BAD + f"json: cannot unmarshal number 1.5 into {LATENCY}",
        ),
        (
            {"type": "latency", "attributes": []},
            400,
            BAD + "json: cannot unmarshal array into Go value of type toxics.LatencyToxic",
        ),
        (
            {"type": "latency", "attributes": {"latency": -1}},
            400,
            BAD + "latency attribute latency must be >= 0, got -1",
        ),
        (
            {"type": "latency", "toxicity": 1.5},
            400,
            BAD + "toxicity is a probability in 0..1, got 1.5",
        ),
        ({"type": "slicer"}, 400, BAD + f"slicer needs {SLICER}"),
        ([], 400, BAD + "json: cannot unmarshal array into Go value of type toxics.ToxicWrapper"),
    ],
)
def test_bad_toxic_bodies(api, echo, body, status, message):
    make(api, "p", echo)
    toxic(api, "p", name="foobar", type="latency")
    assert call(api, "POST", "/proxies/p/toxics", body)[::2] == (status, error(message, status))
    assert [t["name"] for t in jcall(api, "GET", "/proxies/p/toxics")[1]] == ["foobar"]


def test_update_toxic_keeps_what_is_not_sent(api, echo):
    make(api, "p", echo)
    toxic(api, "p", type="latency", attributes={"latency": 100, "jitter": 10})
    path = "/proxies/p/toxics/latency_downstream"
    status, got = jcall(api, "PATCH", path, {"toxicity": 0.5, "attributes": {"latency": 1000}})
    assert (status, got["toxicity"], got["attributes"]) == (
        200,
        0.5,
        {"latency": 1000, "jitter": 10},
    )
    status, got = jcall(api, "POST", path, {"attributes": {"latency": 500}, "type": "slicer"})
    assert (status, got["toxicity"], got["type"]) == (200, 0.5, "latency")  # type stays
    assert got["attributes"] == {"latency": 500, "jitter": 10}
    assert api.proxies["p"].faults == [
        "Latency(0.5, jitter=0.01) on all connections, downstream, toxicity 0.5"
    ]
    assert call(api, "PATCH", path, b"{")[::2] == (
        400,
        error("bad request body: unexpected EOF", 400),
    )


def test_remove_toxic_and_reset(api, echo):
    make(api, "p", echo)
    make(api, "q", echo, enabled=False)
    toxic(api, "p", type="latency")
    toxic(api, "p", type="limit_data", stream="upstream", attributes={"bytes": 1})
    assert call(api, "DELETE", "/proxies/p/toxics/latency_downstream")[::2] == (204, b"")
    assert [t["name"] for t in jcall(api, "GET", "/proxies/p/toxics")[1]] == ["limit_data_upstream"]
    assert call(api, "POST", "/reset")[::2] == (204, b"")
    proxies = jcall(api, "GET", "/proxies")[1]
    assert [(p["enabled"], p["toxics"]) for p in proxies.values()] == [(True, []), (True, [])]
    assert api.proxies["p"].faults == []
    assert exchange(port_of(proxies["q"]["listen"]), b"up\n", 3) == b"up\n"


# -- toxics: what they do to traffic --------------------------------------------------------------


def test_limit_data_passes_exactly_n_bytes_then_eof(api, echo):
    port = port_of(make(api, "p", echo)["listen"])
    toxic(api, "p", type="limit_data", attributes={"bytes": 4})
    assert exchange(port, b"hello world\n") == b"hell"
    proxy = api.proxies["p"]
    settled(proxy)
    conn = proxy.connections[0]
    assert conn.sent == b"hell"
    assert fault_notes(conn)[0].startswith("downstream: Truncate(4): truncated after 4 bytes")


def test_limit_data_upstream_limits_what_the_server_gets(api, echo):
    port = port_of(make(api, "p", echo)["listen"])
    toxic(api, "p", type="limit_data", stream="upstream", attributes={"bytes": 3})
    assert exchange(port, b"abcdef\n") == b""
    settled(api.proxies["p"])
    assert api.proxies["p"].connections[0].upstream.sent == b"abc"


def test_reset_peer_resets_the_client(api, echo):
    port = port_of(make(api, "p", echo)["listen"])
    toxic(api, "p", type="reset_peer", attributes={"timeout": 0})
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        sock.sendall(b"hello\n")
        with pytest.raises(ConnectionResetError):
            recv_all(sock)
    proxy = api.proxies["p"]
    settled(proxy)
    assert proxy.connections[0].sent == b""
    assert fault_notes(proxy.connections[0]) == [
        "downstream: ResetAfter(0.0): 6 bytes dropped, reset after 0 s"
    ]


def test_timeout_0_never_answers_and_stop_is_prompt(echo):
    api = sockfix.ToxiproxyServer().start()
    try:
        port = port_of(make(api, "p", echo)["listen"])
        toxic(api, "p", type="timeout", attributes={"timeout": 0})
        proxy = api.proxies["p"]
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
            sock.sendall(b"x\n")
            proxy.wait_until(lambda p: p.connections[0].upstream.received == b"x\n")
            sock.settimeout(0.2)  # the answer is at the proxy: it would be here by now
            with pytest.raises(TimeoutError):
                sock.recv(10)
            start = time.monotonic()
            api.stop()
            assert time.monotonic() - start < 1.0
        conn = proxy.connections[0]
        assert conn.sent == b""
        assert fault_notes(conn) == ["downstream: Hang(): hanging: no answer, no close"]
    finally:
        api.stop()


def test_timeout_closes_after_its_time_with_nothing_passed(api, echo):
    port = port_of(make(api, "p", echo)["listen"])
    toxic(api, "p", type="timeout", attributes={"timeout": 30})
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        sock.sendall(b"x\n")
        assert recv_all(sock) == b""
    proxy = api.proxies["p"]
    settled(proxy)
    assert fault_notes(proxy.connections[0]) == [
        "downstream: Timeout(0.03): stalling 0.03 s, then closing"
    ]


def test_slicer_sends_in_slices_of_the_average_size(api, echo):
    port = port_of(make(api, "p", echo)["listen"])
    toxic(
        api, "p", type="slicer", attributes={"average_size": 3, "size_variation": 0, "delay": 100}
    )
    assert exchange(port, b"abcdefghij\n", 11) == b"abcdefghij\n"
    proxy = api.proxies["p"]
    settled(proxy)
    conn = proxy.connections[0]
    arrived = [e.data for e in conn.upstream.events if e.kind == "in"]
    slices = [chunk[i : i + 3] for chunk in arrived for i in range(0, len(chunk), 3)]
    assert [e.data for e in conn.events if e.kind == "out"] == slices
    assert len(slices) >= 4


def test_bandwidth_rate_is_kilobytes_per_second(api, echo):
    port = port_of(make(api, "p", echo)["listen"])
    toxic(api, "p", type="bandwidth", attributes={"rate": 100})
    assert exchange(port, b"hello world\n", 12) == b"hello world\n"
    proxy = api.proxies["p"]
    settled(proxy)
    assert proxy.faults == ["Bandwidth(100000) on all connections, downstream"]
    assert (
        fault_notes(proxy.connections[0])[0]
        == "downstream: Bandwidth(100000): 12 bytes at 100000 B/s"
    )


def test_latency_in_milliseconds_each_stream(api, echo):
    port = port_of(make(api, "p", echo)["listen"])
    toxic(api, "p", type="latency", attributes={"latency": 20})
    toxic(api, "p", type="latency", stream="upstream", attributes={"latency": 10, "jitter": 5})
    start = time.monotonic()
    assert exchange(port, b"hello\n", 6) == b"hello\n"
    assert time.monotonic() - start >= 0.02  # a lower bound only
    proxy = api.proxies["p"]
    settled(proxy)
    notes = fault_notes(proxy.connections[0])
    assert notes[0].startswith("upstream: Latency(0.01, jitter=0.005): delayed 6 bytes by 0.0")
    assert notes[1] == "downstream: Latency(0.02): delayed 6 bytes by 0.020000 s"


def test_slow_close_delays_the_fin(api, tcp_server):
    tcp_server.expect(b"GET\n").respond(b"VALUE\n").close()
    port = port_of(make(api, "p", tcp_server)["listen"])
    toxic(api, "p", type="slow_close", attributes={"delay": 20})
    assert exchange(port, b"GET\n") == b"VALUE\n"
    proxy = api.proxies["p"]
    settled(proxy)
    assert fault_notes(proxy.connections[0]) == ["downstream: SlowClose(0.02): FIN delayed 0.02 s"]


def test_updates_and_removals_act_on_open_connections(api, echo):
    port = port_of(make(api, "p", echo)["listen"])
    toxic(api, "p", type="limit_data", attributes={"bytes": 4})
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        status, got = jcall(api, "PATCH", "/proxies/p/toxics/limit_data_downstream",
                            {"attributes": {"bytes": 100}})  # fmt: skip
        assert (status, got["attributes"]) == (200, {"bytes": 100})
        sock.sendall(b"0123456789\n")
        assert exchange_on(sock, 11) == b"0123456789\n"
        assert call(api, "DELETE", "/proxies/p/toxics/limit_data_downstream")[0] == 204
        sock.sendall(b"x" * 200 + b"\n")
        assert exchange_on(sock, 201) == b"x" * 200 + b"\n"
    assert len(api.proxies["p"].connections) == 1


def exchange_on(sock: socket.socket, n: int) -> bytes:
    out = b""
    for _ in range(n):
        if len(out) >= n:
            break
        out += sock.recv(n - len(out))
    return out


def test_patch_listen_or_upstream_moves_the_proxy(api, echo, tcp_server):
    tcp_server.expect(b"hi\n").respond(b"other\n")
    old = port_of(make(api, "p", echo)["listen"])
    toxic(api, "p", type="latency")
    status, moved = jcall(api, "PATCH", "/proxies/p", {"upstream": f"127.0.0.1:{tcp_server.port}"})
    assert status == 200
    assert exchange(port_of(moved["listen"]), b"hi\n", 6) == b"other\n"
    assert api.proxies["p"].faults == ["Latency(0.0) on all connections, downstream"]
    new = free_port()
    status, moved = jcall(api, "PATCH", "/proxies/p", {"listen": f"localhost:{new}"})
    assert (status, moved["listen"]) == (200, f"127.0.0.1:{new}")
    assert refused(old)
    # the same place again (port 0: any port, the bound one stays): nothing moves
    assert (
        jcall(api, "PATCH", "/proxies/p", {"listen": "127.0.0.1:0"})[1]["listen"]
        == f"127.0.0.1:{new}"
    )


def test_toxicity_0_never_fires(api, echo):
    port = port_of(make(api, "p", echo)["listen"])
    toxic(api, "p", type="limit_data", toxicity=0, attributes={"bytes": 0})
    for i in range(10):
        assert exchange(port, f"{i}\n".encode(), 2) == f"{i}\n".encode()
    proxy = api.proxies["p"]
    settled(proxy)
    assert [fault_notes(c) for c in proxy.connections] == [[]] * 10


def toxicity_pattern(url_host: tuple[str, int], echo: sockfix.TCPServer, n: int = 20) -> list[bool]:
    """Make a proxy with a 0.5-toxic latency toxic through the API at ``url_host``, pass ``n``
    connections one after the other, and read back from /connections which ones it hit."""
    created = make(url_host, "flaky", echo)
    toxic(url_host, "flaky", type="latency", toxicity=0.5)
    port = port_of(created["listen"])
    for i in range(n):
        assert exchange(port, b"%d\n" % i, len(b"%d\n" % i)) == b"%d\n" % i
    deadline = time.monotonic() + TIMEOUT
    conns: list[dict[str, Any]] = []
    while time.monotonic() < deadline:  # bounded polling: the last closes may be on their way
        conns = jcall(url_host, "GET", "/proxies/flaky/connections")[1]
        if len(conns) == n and all(c["closed"] for c in conns):
            break
        time.sleep(0.01)  # sleep-ok: polling another process's recording, with a deadline
    assert [c["number"] for c in conns] == list(range(1, n + 1))
    return [any(e["kind"] == "fault" for e in c["events"]) for c in conns]


def test_seeded_toxicity_replays(echo):
    patterns = []
    for _ in range(2):
        with sockfix.ToxiproxyServer(seed=7) as api:
            patterns.append(toxicity_pattern(api.address, echo))
    assert patterns[0] == patterns[1]
    assert 0 < sum(patterns[0]) < 20


# -- the recording ---------------------------------------------------------------------------


def test_connections_route_returns_the_bytes_that_crossed_the_wire(api, echo):
    port = port_of(make(api, "p", echo)["listen"])
    toxic(api, "p", type="limit_data", attributes={"bytes": 5})
    assert exchange(port, b"hello world\n") == b"hello"
    proxy = api.proxies["p"]
    settled(proxy)
    status, conns = jcall(api, "GET", "/proxies/p/connections")
    assert status == 200
    [got] = conns
    conn = proxy.connections[0]

    def raw(key: str) -> bytes:
        return base64.b64decode(got[key])

    assert (raw("received"), raw("sent")) == (b"hello world\n", b"hello")
    assert (raw("upstream_sent"), raw("upstream_received")) == (b"hello world\n", b"hello world\n")
    assert (got["number"], got["peer"], got["closed"]) == (1, f"127.0.0.1:{conn.peer[1]}", True)
    assert [(e["kind"], base64.b64decode(e["data"]), e["note"]) for e in got["events"]] == [
        (e.kind, e.data, e.note) for e in conn.events
    ]
    assert [e["kind"] for e in got["upstream_events"]] == [e.kind for e in conn.upstream.events]
    assert list(got) == ["number", "peer", "closed", "received", "sent", "upstream_sent",
                         "upstream_received", "events", "upstream_events"]  # fmt: skip
    assert list(got["events"][0]) == ["time", "kind", "data", "note"]


def test_connections_of_a_proxy_that_never_listened(api, echo):
    make(api, "p", echo, enabled=False)
    assert jcall(api, "GET", "/proxies/p/connections") == (200, [])


def test_on_change_and_on_event_hear_everything(echo):
    changes: list[str] = []
    events: list[tuple[str, str]] = []
    with sockfix.ToxiproxyServer(
        on_change=changes.append, on_event=lambda name, conn, ev: events.append((name, ev.kind))
    ) as api:
        port = port_of(make(api, "p", echo)["listen"])
        toxic(api, "p", type="latency", attributes={"latency": 1})
        assert exchange(port, b"x\n", 2) == b"x\n"
        settled(api.proxies["p"])
        call(api, "DELETE", "/proxies/p/toxics/latency_downstream")
        call(api, "DELETE", "/proxies/p")
    assert changes == [
        f"proxy p created: listening on 127.0.0.1:{port}, upstream 127.0.0.1:{echo.port}",
        "toxic latency_downstream added to p: latency downstream, toxicity 1, latency=1, jitter=0",
        "toxic latency_downstream removed from p",
        "proxy p deleted",
    ]
    assert ("p", "connect") in events
    assert ("p", "fault") in events


# -- the toxiproxy-python client (PyPI: toxiproxy-python) ------------------------------------


class _TimedRequests:
    """``requests`` with a timeout on every call: the client itself sets none."""

    def get(self, **kw: Any) -> requests.Response:
        return requests.get(timeout=TIMEOUT, **kw)

    def post(self, **kw: Any) -> requests.Response:
        return requests.post(timeout=TIMEOUT, **kw)

    def delete(self, **kw: Any) -> requests.Response:
        return requests.delete(timeout=TIMEOUT, **kw)


@pytest.fixture
def client(api, monkeypatch):
    toxiproxy = pytest.importorskip("toxiproxy")
    monkeypatch.setattr(toxiproxy.api.APIConsumer, "host", "127.0.0.1")
    monkeypatch.setattr(toxiproxy.api.APIConsumer, "port", api.port)
    monkeypatch.setattr(toxiproxy.api, "requests", _TimedRequests())
    return toxiproxy.Toxiproxy()


def test_python_client_proxies_and_toxics(client, api, echo):
    from toxiproxy.exceptions import InvalidToxic, NotFound, ProxyExists

    assert client.running() is True
    assert client.version() == b'{"version": "sockfix-0.1.0"}\n'
    proxy = client.create(upstream=f"127.0.0.1:{echo.port}", name="echo")
    port = port_of(proxy.listen)
    assert (proxy.name, proxy.enabled, port) == ("echo", True, api.proxies["echo"].port)
    assert list(client.proxies()) == ["echo"]
    with pytest.raises(ProxyExists):
        client.create(upstream=f"127.0.0.1:{echo.port}", name="echo")

    proxy.add_toxic(type="limit_data", attributes={"bytes": 4})
    assert exchange(port, b"hello world\n") == b"hell"
    [(name, tox)] = proxy.toxics().items()
    assert (name, tox.type, tox.stream, tox.toxicity, tox.attributes) == (
        "limit_data_downstream", "limit_data", "downstream", 1, {"bytes": 4},
    )  # fmt: skip
    with pytest.raises(ProxyExists, match="toxic already exists"):
        proxy.add_toxic(type="limit_data", attributes={"bytes": 4})
    with pytest.raises(InvalidToxic, match="invalid toxic type"):
        proxy.add_toxic(type="walrus")
    assert proxy.destroy_toxic("limit_data_downstream") is True
    assert exchange(port, b"hello world\n") == b"hello world\n"
    with pytest.raises(NotFound, match="toxic not found"):
        proxy.destroy_toxic("limit_data_downstream")

    proxy.add_toxic(type="latency", stream="upstream", toxicity=0.5, attributes={"latency": 1})
    assert api.proxies["echo"].faults == [
        "Latency(0.001) on all connections, upstream, toxicity 0.5"
    ]
    assert client.reset() is True
    assert proxy.toxics() == {}
    assert client.destroy(proxy) is True
    assert client.proxies() == {}


def test_python_client_down_refuses_then_comes_back_on_the_same_port(client, api, echo):
    proxy = client.create(upstream=f"127.0.0.1:{echo.port}", name="echo", listen="localhost:0")
    port = port_of(proxy.listen)
    with proxy.down():
        assert refused(port)
        assert client.get_proxy("echo").enabled is False
    assert client.get_proxy("echo").enabled is True
    assert exchange(port, b"back\n", 5) == b"back\n"


def test_python_client_populate_and_destroy_all(client, api, echo):
    up = f"127.0.0.1:{echo.port}"
    made = client.populate(
        [{"name": "a", "upstream": up, "listen": "127.0.0.1:0"}, {"name": "b", "upstream": up}]
    )
    assert [p.name for p in made] == ["a", "b"]
    assert sorted(client.proxies()) == ["a", "b"]
    client.destroy_all()
    assert client.proxies() == {}
    assert api.proxies == {}


# -- `sockfix toxiproxy`, a subprocess -------------------------------------------------------


class _Process:
    """``python -m sockfix ARGS``, its stdout read line by line on a thread."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sockfix", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.reader = threading.Thread(target=self._pump, daemon=True)
        self.reader.start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def line(self) -> str:
        got = self.lines.get(timeout=TIMEOUT)
        assert got is not None, "the output ended"
        return got

    def until(self, text: str) -> str:
        for _ in range(1000):
            line = self.line()
            if text in line:
                return line
        raise AssertionError(f"no line with {text!r}")  # pragma: no cover

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(TIMEOUT)
        self.reader.join(TIMEOUT)
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()


@pytest.fixture
def process() -> Iterator[type[_Process]]:
    started: list[_Process] = []

    class Started(_Process):
        def __init__(self, *args: str) -> None:
            super().__init__(*args)
            started.append(self)

    yield Started
    for p in started:
        p.close()


def test_the_command_serves_the_api_and_replays_with_its_seed(process, echo):
    p = process("toxiproxy", "--port", "0", "--seed", "7")
    first = p.line()
    assert first.startswith("listening on 127.0.0.1:")
    port = int(first.rpartition(":")[2])
    assert p.line() == "seed 7 (--seed 7 replays every toxicity draw)"
    assert call(("127.0.0.1", port), "GET", "/version")[::2] == (
        200,
        b'{"version": "sockfix-0.1.0"}\n',
    )
    pattern = toxicity_pattern(("127.0.0.1", port), echo)
    assert p.until("proxy flaky created").startswith("proxy flaky created: listening on 127.0.0.1:")
    assert p.until("toxic latency_downstream added") == (
        "toxic latency_downstream added to flaky: "
        "latency downstream, toxicity 0.5, latency=0, jitter=0"
    )
    assert re.match(
        r"^\[flaky 1\] \+\d+\.\d{6}s -- connect\s+\(from 127\.0\.0\.1:\d+\)$", p.until("[flaky 1]")
    )
    with sockfix.ToxiproxyServer(seed=7) as api:  # in process, the same seed: the same draws
        assert toxicity_pattern(api.address, echo) == pattern
    start = time.monotonic()
    p.proc.send_signal(signal.SIGINT)
    assert p.proc.wait(TIMEOUT) == 0
    assert time.monotonic() - start < 2.0
    rest = []
    for _ in range(10_000):
        line = p.lines.get(timeout=TIMEOUT)
        if line is None:
            break
        rest.append(line)
    assert rest[-1] == "stopped"


def test_the_command_says_when_its_port_is_taken(process, api):
    p = process("toxiproxy", "--port", str(api.port))
    assert p.proc.wait(TIMEOUT) == 2
    assert p.proc.stderr is not None
    assert "already in use" in p.proc.stderr.read()


class _Lines(io.TextIOBase):
    """A stdout for ``main()`` on a thread: what was written, waited on with a deadline."""

    def __init__(self) -> None:
        self.text = ""
        self.cond = threading.Condition()

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        with self.cond:
            self.text += s
            self.cond.notify_all()
        return len(s)

    def wait_for(self, needle: str) -> str:
        with self.cond:
            assert self.cond.wait_for(lambda: needle in self.text, TIMEOUT), self.text
            return self.text


def test_the_command_in_process(echo):
    from sockfix.cli import main

    out, err, stop, status = _Lines(), io.StringIO(), threading.Event(), []
    args = ["toxiproxy", "--port", "0", "--seed", "3"]
    thread = threading.Thread(
        target=lambda: status.append(main(args, stop=stop, stdout=out, stderr=err))
    )
    thread.start()
    try:
        port = int(out.wait_for("\n").splitlines()[0].rpartition(":")[2])
        listen = make(("127.0.0.1", port), "p", echo)["listen"]
        toxic(("127.0.0.1", port), "p", type="limit_data", attributes={"bytes": 2})
        assert exchange(port_of(listen), b"hello\n") == b"he"
        out.wait_for("[p 1] ")
        out.wait_for("-- fault")
    finally:
        stop.set()
        thread.join(TIMEOUT)
    assert (status, err.getvalue()) == ([0], "")
    lines = out.text.splitlines()
    assert lines[:3] == [
        f"listening on 127.0.0.1:{port}",
        "seed 3 (--seed 3 replays every toxicity draw)",
        f"proxy p created: listening on {listen}, upstream 127.0.0.1:{echo.port}",
    ]
    assert (
        lines[3]
        == "toxic limit_data_downstream added to p: limit_data downstream, toxicity 1, bytes=2"
    )
    assert any(
        re.match(r"^\[p 1\] \+\d+\.\d{6}s -- fault\s+\(downstream: Truncate\(2\): truncated", line)
        for line in lines
    )
    assert any(line.startswith("[p 1 up] ") for line in lines)
    assert lines[-1] == "stopped"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--host", ""], "sockfix toxiproxy: host must be a non-empty str"),
        (["--host", "192.0.2.1"], "sockfix toxiproxy: cannot listen on 192.0.2.1 port 0:"),
    ],
)
def test_the_command_refuses_bad_addresses(args, message):
    from sockfix.cli import main

    err = io.StringIO()
    assert main(["toxiproxy", "--port", "0", *args], stdout=io.StringIO(), stderr=err) == 2
    assert err.getvalue().startswith(message)


def test_the_command_in_process_says_when_its_port_is_taken(api):
    from sockfix.cli import main

    err = io.StringIO()
    assert main(["toxiproxy", "--port", str(api.port)], stdout=io.StringIO(), stderr=err) == 2
    assert err.getvalue() == (
        f"sockfix toxiproxy: port {api.port} on 127.0.0.1 is already in use (a toxiproxy "
        "daemon?); pick another with --port PORT (0 picks a free one)\n"
    )
