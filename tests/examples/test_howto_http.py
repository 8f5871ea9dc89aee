"""The examples of docs/http.md: the HTTP/1.1 fake server, its rules, and recipes with real clients.

Every client has a timeout; nothing sleeps. The last test checks the table "Faults and the
exception each client raises" of docs/http.md, row by row.
"""

from __future__ import annotations

import gc
import http.client
import json
import logging
import re
import socket
import time
import urllib.error
import urllib.request

import httpx
import pytest
import requests
from requests.adapters import HTTPAdapter
from urllib3.util import Retry

import sockfix
from sockfix import faults


def test_quick_look(http_server):
    http_server.expect("GET", "/users/1").respond(200, json={"id": 1, "name": "Ada"})

    response = requests.get(http_server.url("/users/1"), timeout=2)

    assert response.json() == {"id": 1, "name": "Ada"}
    assert http_server.requests[0].path == "/users/1"


# -- expect(...) ---------------------------------------------------------------------------------


def test_expect_arguments(http_server):
    http_server.expect("GET", "/users/1").respond(200, text="exact path")
    http_server.expect("GET", re.compile(r"/users/\d+")).respond(200, text="regex")
    http_server.expect("GET", lambda p: p.startswith("/static/")).respond(200, text="callable")
    http_server.expect("GET", "/search", query={"q": "cats", "page": sockfix.ANY}).respond(
        200, text="query"
    )
    http_server.expect("GET", "/me", headers={"authorization": re.compile(r"Bearer \w+")}).respond(
        200, text="headers"
    )
    http_server.expect("POST", "/items", json={"name": "pen"}).respond(201, text="json")
    http_server.expect("PUT", "/blobs/1", body=b"\x00\x01\x02").respond(200, text="body")
    http_server.expect(sockfix.ANY, "/anything").respond(200, text="any method")

    with requests.Session() as session:

        def call(method, path, **kwargs):
            return session.request(method, http_server.url(path), timeout=2, **kwargs).text

        assert call("GET", "/users/1") == "exact path"
        assert call("GET", "/users/42") == "regex"
        assert call("GET", "/static/app.css") == "callable"
        assert call("GET", "/search?q=cats&page=2&sort=new") == "query"  # extra keys are fine
        assert call("GET", "/me", headers={"Authorization": "Bearer t0k3n"}) == "headers"
        assert call("POST", "/items", json={"name": "pen"}) == "json"
        assert call("PUT", "/blobs/1", data=b"\x00\x01\x02") == "body"
        assert call("PATCH", "/anything") == "any method"


# -- respond(...) --------------------------------------------------------------------------------


def test_respond_arguments(http_server):
    http_server.expect("GET", "/logo.png").respond(
        200, b"\x89PNG\r\n", headers={"Content-Type": "image/png"}
    )
    http_server.expect("GET", "/hello").respond(200, text="héllo")
    http_server.expect("GET", "/status").respond(200, json={"ok": True})
    http_server.expect("DELETE", "/items/1").respond(204)
    http_server.expect("GET", "/login").respond(
        200, headers=[("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")]
    )

    with requests.Session() as session:
        logo = session.get(http_server.url("/logo.png"), timeout=2)
        assert (logo.headers["Content-Type"], logo.content) == ("image/png", b"\x89PNG\r\n")
        hello = session.get(http_server.url("/hello"), timeout=2)
        assert hello.headers["Content-Type"] == "text/plain; charset=utf-8"
        assert hello.text == "héllo"
        assert session.get(http_server.url("/status"), timeout=2).json() == {"ok": True}
        assert session.delete(http_server.url("/items/1"), timeout=2).status_code == 204
        session.get(http_server.url("/login"), timeout=2)
        assert session.cookies.get_dict() == {"a": "1", "b": "2"}


def test_transfer_on_the_wire(http_server):
    http_server.expect("GET", "/length").respond(200, b"abcde")
    http_server.expect("GET", "/chunked").respond(200, [b"ab", b"cde"], transfer="chunked")
    http_server.expect("GET", "/close").respond(200, b"abcde", transfer="close")

    with requests.Session() as session:
        for path in ["/length", "/chunked", "/close"]:
            assert session.get(http_server.url(path), timeout=2).content == b"abcde"

    http_server.wait_until(lambda s: s.connections[0].closed)
    assert http_server.connections[0].sent == (
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabcde"
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nabcde"
    )


def test_a_lying_content_length(http_server):
    http_server.expect("GET", "/report").respond(
        200, b"short", headers={"Content-Length": "100"}
    ).close()

    with pytest.raises(requests.exceptions.ChunkedEncodingError, match="5 bytes read, 95 more"):
        requests.get(http_server.url("/report"), timeout=2)
    assert http_server.connections[0].sent == b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort"


def test_head(http_server):
    http_server.expect("HEAD", "/file").respond(200, b"x" * 10)

    response = requests.head(http_server.url("/file"), timeout=2)

    assert response.headers["Content-Length"] == "10"
    assert response.content == b""


def test_interim_responses(http_server):
    http_server.expect("GET", "/page").respond(
        103, headers={"Link": "</app.css>; rel=preload"}
    ).respond(200, text="<html>")

    response = httpx.get(http_server.url("/page"), timeout=2)

    assert (response.status_code, response.text) == (200, "<html>")
    http_server.wait_until(lambda s: s.connections[0].sent.endswith(b"<html>"))
    assert http_server.connections[0].sent.startswith(
        b"HTTP/1.1 103 Early Hints\r\nLink: </app.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\n"
    )


def test_expect_without_respond(http_server):
    http_server.expect("POST", "/events")  # an empty 200
    http_server.expect("GET", "/boom").reset()  # no response at all: a RST

    with requests.Session() as session:
        response = session.post(http_server.url("/events"), data=b"clicked", timeout=2)
        assert (response.status_code, response.content) == (200, b"")
        with pytest.raises(requests.exceptions.ConnectionError):
            session.get(http_server.url("/boom"), timeout=2)


# -- callables and handler= ----------------------------------------------------------------------


def test_callable_response(http_server):
    def echo(request):
        return 200, {"X-Method": request.method}, request.body

    http_server.expect(sockfix.ANY, "/echo").respond(echo)

    response = requests.put(http_server.url("/echo"), data=b"ping", timeout=2)

    assert (response.headers["X-Method"], response.content) == ("PUT", b"ping")


def test_handler(make_http_server):
    def api(request):
        if request.path == "/version":
            return 200, {"Content-Type": "text/plain"}, b"1.4.2"
        return None  # unmatched: a 500, and the test fails

    server = make_http_server(handler=api)
    server.expect("GET", "/health").respond(200, text="ok")  # rules are tried first

    with requests.Session() as session:
        assert session.get(server.url("/health"), timeout=2).text == "ok"
        assert session.get(server.url("/version"), timeout=2).text == "1.4.2"


# -- connections ---------------------------------------------------------------------------------


def test_keep_alive_and_connection_close(http_server):
    http_server.expect("GET", "/a").respond(200, text="a")
    http_server.expect("GET", "/bye").respond(200, text="bye", headers={"Connection": "close"})

    with requests.Session() as session:
        for path in ["/a", "/a", "/bye", "/a"]:
            session.get(http_server.url(path), timeout=2)

    assert [r.connection for r in http_server.requests] == [1, 1, 1, 2]


def test_stale_keep_alive(http_server):
    # .close() closes after the response, which does not say so: no Connection: close.
    http_server.expect("GET", "/a").respond(200, text="a").close()

    conn = http.client.HTTPConnection(http_server.host, http_server.port, timeout=2)
    conn.request("GET", "/a")
    response = conn.getresponse()
    assert response.getheader("Connection") is None
    assert response.read() == b"a"

    http_server.wait_until(lambda s: s.connections[0].closed)
    conn.request("GET", "/a")  # on the connection the server closed
    with pytest.raises(http.client.RemoteDisconnected):
        conn.getresponse()
    conn.close()


def test_pooled_clients_notice_the_close(http_server):
    http_server.expect("GET", "/a").respond(200, text="a").close()

    with requests.Session() as session:
        assert session.get(http_server.url("/a"), timeout=2).text == "a"
        http_server.wait_until(lambda s: s.connections[0].closed)
        assert session.get(http_server.url("/a"), timeout=2).text == "a"  # a new connection

    assert len(http_server.connections) == 2


def raw_exchange(server, data):
    """Send ``data`` on a new socket; everything the server sends until it closes."""
    with socket.create_connection(server.address, timeout=2) as sock:
        sock.sendall(data)
        with sock.makefile("rb") as replies:
            return replies.read()


def test_pipelining(http_server):
    http_server.expect("GET", "/1").respond(200, b"one")
    http_server.expect("GET", "/2").respond(200, b"two", headers={"Connection": "close"})
    http_server.expect("GET", "/3").respond(200, b"three")

    data = raw_exchange(
        http_server,
        b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /2 HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /3 HTTP/1.1\r\nHost: x\r\n\r\n",
    )

    assert data == (
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none"
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 3\r\n\r\ntwo"
    )
    assert [r.path for r in http_server.requests] == ["/1", "/2", "/3"]  # /3 recorded only


def test_expect_100_continue(http_server):
    http_server.expect("PUT", "/big", body=b"x" * 1000).respond(201)

    with (
        socket.create_connection(http_server.address, timeout=2) as sock,
        sock.makefile("rb") as replies,
    ):
        sock.sendall(
            b"PUT /big HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\nExpect: 100-continue\r\n\r\n"
        )
        assert replies.readline() == b"HTTP/1.1 100 Continue\r\n"
        assert replies.readline() == b"\r\n"
        sock.sendall(b"x" * 1000)  # the body, only once the server said to go on
        assert replies.readline() == b"HTTP/1.1 201 Created\r\n"


def test_chunked_request_body(http_server):
    http_server.expect("PUT", "/blob", body=b"abcdef").respond(204)

    response = requests.put(http_server.url("/blob"), data=iter([b"ab", b"cd", b"ef"]), timeout=2)

    assert response.status_code == 204
    request = http_server.requests[0]
    assert request.headers["Transfer-Encoding"] == "chunked"
    assert request.body == b"abcdef"  # chunked coding removed
    assert request.raw.endswith(b"\r\n\r\n2\r\nab\r\n2\r\ncd\r\n2\r\nef\r\n0\r\n\r\n")


# -- what was received ---------------------------------------------------------------------------


def test_http_request_fields(http_server):
    http_server.expect("POST", "/items").respond(201)

    requests.post(
        http_server.url("/items?tag=a&tag=b&draft="),
        json={"name": "pen"},
        headers={"X-Trace": "t1"},
        timeout=2,
    )

    request = http_server.requests[0]
    assert request.method == "POST"
    assert request.target == "/items?tag=a&tag=b&draft="
    assert request.path == "/items"
    assert request.query == {"tag": ["a", "b"], "draft": [""]}
    assert request.version == "HTTP/1.1"
    assert request.headers["x-trace"] == "t1"  # names are case-insensitive
    assert request.headers.get_all("X-Trace") == ["t1"]
    assert request.body == b'{"name": "pen"}'
    assert request.json() == {"name": "pen"}
    assert request.text == '{"name": "pen"}'
    assert request.connection == 1
    assert request.raw == http_server.connections[0].received


# -- unmatched and bad requests ------------------------------------------------------------------


def test_on_unmatched(make_http_server):
    not_found = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
    server = make_http_server(on_unmatched=not_found, strict=False)
    server.expect("GET", "/known").respond(200, text="ok")

    with requests.Session() as session:
        assert session.get(server.url("/unknown"), timeout=2).status_code == 404
        assert session.get(server.url("/known"), timeout=2).text == "ok"  # same connection

    assert len(server.connections) == 1


def test_bad_request():
    server = sockfix.HTTPServer().start()

    data = raw_exchange(server, b"GET / HTTP/1.1\r\nHost : x\r\n\r\n")

    assert data.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert b"has whitespace before its colon" in data
    assert server.requests == []  # not a request: the bytes are in connections[0].received
    with pytest.raises(sockfix.StrictError, match=r"request 1 is not valid HTTP/1\.1"):
        server.stop()


# -- sockfix.framing.http() ----------------------------------------------------------------------


def test_http_framing_on_a_tcp_server(make_tcp_server):
    server = make_tcp_server(framing=sockfix.framing.http())
    server.expect(re.compile(rb"GET /health HTTP/1\.1\r\n.*", re.DOTALL)).respond(
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    )
    server.expect(re.compile(rb"GET /legacy .*", re.DOTALL)).respond(
        b"HTTP/1.0 200 OK\r\n\r\nold server"  # no length: the body ends with the connection
    ).close()

    with requests.Session() as session:
        assert session.get(f"http://127.0.0.1:{server.port}/health", timeout=2).text == "ok"
        legacy = session.get(f"http://127.0.0.1:{server.port}/legacy", timeout=2)
        assert legacy.text == "old server"

    messages = server.connections[0].messages  # one message per request, head and body
    assert [m.split(b" ")[1] for m in messages] == [b"/health", b"/legacy"]


def test_http_framing_on_the_proxy(http_server, tmp_path):
    http_server.expect("GET", "/users/1").respond(200, json={"id": 1})  # the "real" API

    with sockfix.TCPProxy(upstream=http_server.address, framing=sockfix.framing.http()) as proxy:
        response = requests.get(
            f"http://127.0.0.1:{proxy.port}/users/1", headers={"Host": "api.test"}, timeout=2
        )
        assert response.json() == {"id": 1}
        proxy.save_scenario(tmp_path / "api.toml")  # one rule per request

    with sockfix.TCPServer.from_scenario(tmp_path / "api.toml") as replay:
        response = requests.get(
            f"http://127.0.0.1:{replay.port}/users/1", headers={"Host": "api.test"}, timeout=2
        )
        assert response.json() == {"id": 1}


# -- recipes -------------------------------------------------------------------------------------


def test_json_api(http_server):
    http_server.expect("GET", "/users/1").respond(200, json={"id": 1, "name": "Ada"})
    http_server.expect("POST", "/users", json={"name": "Grace"}).respond(
        201, json={"id": 2, "name": "Grace"}, headers={"Location": "/users/2"}
    )

    with requests.Session() as session:
        ada = session.get(http_server.url("/users/1"), timeout=2)
        created = session.post(http_server.url("/users"), json={"name": "Grace"}, timeout=2)

    assert ada.json() == {"id": 1, "name": "Ada"}
    assert created.status_code == 201
    assert created.headers["Location"] == "/users/2"
    assert http_server.requests[1].json() == {"name": "Grace"}
    assert http_server.requests[1].headers["Content-Type"] == "application/json"


@pytest.fixture
def free_retried_pools():
    """Frees what urllib3 keeps after retrying, for the leak check of tests/conftest.py.

    urllib3 logs each retry with its exception, and pytest keeps log records until the test is
    torn down; the exception's traceback holds the connection pool (in a reference cycle), and
    urllib3 2 closes a pool's sockets only when the pool is freed. So: no such records, and a
    collection once the test is done.
    """
    logger = logging.getLogger("urllib3")
    level = logger.level
    logger.setLevel(logging.ERROR)
    yield
    logger.setLevel(level)
    gc.collect()


@pytest.mark.usefixtures("free_retried_pools")
def test_retry_after_two_resets(http_server):
    http_server.expect("GET", "/flaky").reset().times(2)
    http_server.expect("GET", "/flaky").respond(200, json={"ok": True})

    # A reset after the request was sent is a read error: Retry retries it for GET (an
    # idempotent method) and would not for POST. requests' default is no retry at all.
    retry = Retry(total=2, backoff_factor=0)
    with requests.Session() as session:
        session.mount("http://", HTTPAdapter(max_retries=retry))
        response = session.get(http_server.url("/flaky"), timeout=2)

    assert response.json() == {"ok": True}
    assert len(http_server.connections) == 3


def test_retry_on_503(http_server):
    http_server.expect("GET", "/busy").respond(503).times(2)
    http_server.expect("GET", "/busy").respond(200, text="ok")

    retry = Retry(total=2, status_forcelist=[503], backoff_factor=0)
    with requests.Session() as session:
        session.mount("http://", HTTPAdapter(max_retries=retry))
        assert session.get(http_server.url("/busy"), timeout=2).text == "ok"

    assert [r.path for r in http_server.requests] == ["/busy"] * 3


def test_slow_body(http_server):
    payload = bytes(range(256)) * 40  # 10 KiB
    http_server.expect("GET", "/export").respond(200, payload).chunked(1024, delay=0.01)

    response = requests.get(http_server.url("/export"), timeout=2)

    assert response.content == payload
    http_server.wait_until(lambda s: s.connections[0].bytes_sent == 42 + len(payload))
    sends = [e.data for e in http_server.connections[0].events if e.kind == "out"]
    assert [len(data) for data in sends] == [1024] * 10 + [42]  # head included


def test_timeout(http_server):
    http_server.expect("GET", "/slow").delay(5).respond(200, text="too late")

    started = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(http_server.url("/slow"), timeout=0.2)
    assert time.monotonic() - started < 1  # and the teardown does not wait out the delay


def test_redirect_chain(http_server):
    http_server.expect("GET", "/old").respond(301, headers={"Location": "/new"})
    http_server.expect("GET", "/new").respond(302, headers={"Location": http_server.url("/final")})
    http_server.expect("GET", "/final").respond(200, text="here")

    response = requests.get(http_server.url("/old"), timeout=2)

    assert response.text == "here"
    assert [r.status_code for r in response.history] == [301, 302]
    assert [r.path for r in http_server.requests] == ["/old", "/new", "/final"]


def test_upload_a_file(http_server, tmp_path):
    report = tmp_path / "report.csv"
    report.write_bytes(b"id,total\n1,42\n")
    http_server.expect("POST", "/upload").respond(201)

    with report.open("rb") as f:
        files = {"file": ("report.csv", f, "text/csv")}
        response = requests.post(http_server.url("/upload"), files=files, timeout=2)

    assert response.status_code == 201
    request = http_server.requests[0]
    boundary = request.headers["Content-Type"].removeprefix("multipart/form-data; boundary=")
    expected = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="file"; filename="report.csv"\r\n'
        "Content-Type: text/csv\r\n"
        "\r\n"
        "id,total\n1,42\n\r\n"
        f"--{boundary}--\r\n"
    )
    assert request.body == expected.encode()


def test_upload_raw_bytes(http_server, tmp_path):
    report = tmp_path / "report.csv"
    report.write_bytes(b"id,total\n1,42\n")
    http_server.expect(
        "PUT", "/files/report.csv", headers={"Content-Type": "text/csv"}, body=report.read_bytes()
    ).respond(204)

    response = httpx.put(
        http_server.url("/files/report.csv"),
        content=report.read_bytes(),
        headers={"Content-Type": "text/csv"},
        timeout=2,
    )

    assert response.status_code == 204
    assert http_server.requests[0].headers["Content-Length"] == "14"


def test_reset_mid_body(http_server):
    http_server.expect("GET", "/export").respond(200, b"x" * 10_000)
    http_server.fault(faults.Reset(after_bytes=1000))  # the head, 958 body bytes, then a RST

    with pytest.raises(requests.exceptions.ChunkedEncodingError, match="Connection reset by peer"):
        requests.get(http_server.url("/export"), timeout=2)
    with pytest.raises(httpx.ReadError, match="Connection reset by peer"):
        httpx.get(http_server.url("/export"), timeout=2)

    assert [len(c.sent) for c in http_server.connections] == [1000, 1000]


def test_callable_responder(http_server):
    def user(request):
        user_id = int(request.path.rsplit("/", 1)[1])
        if user_id > 100:
            return 404, {"Content-Type": "application/json"}, b'{"error": "no such user"}'
        body = json.dumps({"id": user_id, "fields": request.query.get("fields", [])})
        return 200, {"Content-Type": "application/json"}, body

    http_server.expect("GET", re.compile(r"/users/\d+")).respond(user)

    with requests.Session() as session:
        found = session.get(http_server.url("/users/7?fields=name"), timeout=2)
        missing = session.get(http_server.url("/users/999"), timeout=2)

    assert found.json() == {"id": 7, "fields": ["name"]}
    assert (missing.status_code, missing.json()) == (404, {"error": "no such user"})


def test_poll_until_done(make_http_server):
    server = make_http_server(ordered=True)
    server.expect("POST", "/jobs").respond(202, headers={"Location": "/jobs/7"})
    server.expect("GET", "/jobs/7").respond(200, json={"state": "pending"}).times(2)
    server.expect("GET", "/jobs/7").respond(200, json={"state": "done"})

    states = []
    with requests.Session() as session:
        job = session.post(server.url("/jobs"), timeout=2).headers["Location"]
        while not states or states[-1] != "done":
            states.append(session.get(server.url(job), timeout=2).json()["state"])

    assert states == ["pending", "pending", "done"]


def test_one_connection(make_http_server):
    server = make_http_server(max_connections=1)
    server.expect("GET", "/ping").respond(200, text="pong")

    with requests.Session() as session:
        for _ in range(3):
            assert session.get(server.url("/ping"), timeout=2).text == "pong"

    assert len(server.connections) == 1


def test_one_connection_httpx(make_http_server):
    server = make_http_server(max_connections=1)
    server.expect("GET", "/ping").respond(200, text="pong")

    with httpx.Client(timeout=2) as client:
        for _ in range(3):
            assert client.get(server.url("/ping")).text == "pong"

    assert len(server.connections) == 1


def test_what_crossed_the_wire(http_server):
    http_server.expect("POST", "/items").respond(201, json={"id": 7})

    with httpx.Client(timeout=2) as client:
        client.post(http_server.url("/items"), content=b"name=pen")

    request = http_server.requests[0]
    assert request.raw == http_server.connections[0].received
    assert request.raw == (
        b"POST /items HTTP/1.1\r\n"
        b"Host: 127.0.0.1:%d\r\n"
        b"Accept: */*\r\n"
        b"Accept-Encoding: gzip, deflate\r\n"
        b"Connection: keep-alive\r\n"
        b"User-Agent: python-httpx/%s\r\n"
        b"Content-Length: 8\r\n"
        b"\r\n"
        b"name=pen" % (http_server.port, httpx.__version__.encode())
    )
    http_server.wait_until(lambda s: s.connections[0].closed)
    assert http_server.connections[0].sent == (
        b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 9\r\n\r\n"
        b'{"id": 7}'
    )
    transcript = http_server.transcript()
    assert "  message 1: POST /items HTTP/1.1\n      Host: 127.0.0.1:" in transcript
    assert "      Content-Length: 8\n      (body 8 B: name=pen)\n" in transcript


def test_unmatched_request():
    server = sockfix.HTTPServer().start()
    server.expect("GET", "/users/1").respond(200, json={"id": 1})

    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(server.url("/users/2"), timeout=2)
    with answer.value as response:
        assert response.status == 500
        body = response.read().decode()
    assert body.startswith(
        "sockfix: no rule matched request 1 on connection 1: GET /users/2 HTTP/1.1\n"
    )
    assert "missed: path '/users/2' is not '/users/1'" in body

    with pytest.raises(sockfix.StrictError, match=r"no rule matched request 1: GET /users/2"):
        server.stop()


def test_raw_responses_per_request(make_tcp_server):
    server = make_tcp_server(framing=sockfix.framing.http())
    server.expect(re.compile(rb"GET /v1/.*", re.DOTALL)).respond(
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok"  # two lengths
    )

    with pytest.raises(requests.exceptions.InvalidHeader, match="Content-Length"):
        requests.get(f"http://127.0.0.1:{server.port}/v1/items", timeout=2)

    assert server.connections[0].messages[0].startswith(b"GET /v1/items HTTP/1.1\r\n")


# -- regressions (not in the docs) --------------------------------------------------------------


def test_raw_response_saying_close_closes(http_server):
    http_server.expect("GET", "/legacy").respond(
        lambda request: b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the close"
    )

    response = requests.get(http_server.url("/legacy"), timeout=2)

    assert response.text == "until the close"


def test_transcript_numbers_the_request_after_a_bad_one(make_http_server):
    server = make_http_server(strict=False)
    server.expect("GET", "/second").respond(200)

    raw_exchange(server, b"GARBAGE\r\n\r\nGET /second HTTP/1.1\r\n\r\n")  # 400, then closed

    assert len(server.connections[0].messages) == 2
    assert "  message 2: GET /second HTTP/1.1\n" in server.transcript()


# -- the table of faults and client exceptions ---------------------------------------------------


def _requests(url):
    with requests.get(url, timeout=0.3) as response:
        return response.status_code


def _httpx(url):
    return httpx.get(url, timeout=0.3).status_code


def _urllib(url):
    with urllib.request.urlopen(url, timeout=0.3) as response:
        response.read()
        return response.status


def _http_client(url):
    port = int(url.rsplit(":", 1)[1].split("/", 1)[0])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=0.3)
    try:
        conn.request("GET", "/x")
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


CLIENTS = {"requests": _requests, "httpx": _httpx, "urllib": _urllib, "http.client": _http_client}

BODY = b"x" * 1000
# row: (how to script the server, what each client raises: requests, httpx, urllib, http.client)
FAULT_TABLE = {
    "rule .reset()": (
        lambda s: s.expect("GET", "/x").reset(),
        (requests.ConnectionError, httpx.ReadError, ConnectionResetError, ConnectionResetError),
    ),
    "Reset(after_bytes=100)": (
        lambda s: (
            s.expect("GET", "/x").respond(200, BODY),
            s.fault(faults.Reset(after_bytes=100)),
        ),
        (
            requests.exceptions.ChunkedEncodingError,
            httpx.ReadError,
            ConnectionResetError,
            ConnectionResetError,
        ),
    ),
    "rule .close()": (
        lambda s: s.expect("GET", "/x").close(),
        (
            requests.ConnectionError,
            httpx.RemoteProtocolError,
            http.client.RemoteDisconnected,
            http.client.RemoteDisconnected,
        ),
    ),
    "Close()": (
        lambda s: (s.expect("GET", "/x").respond(200, BODY), s.fault(faults.Close())),
        (
            requests.ConnectionError,
            httpx.RemoteProtocolError,
            http.client.RemoteDisconnected,
            http.client.RemoteDisconnected,
        ),
    ),
    "Timeout(0.05)": (
        lambda s: (s.expect("GET", "/x").respond(200, BODY), s.fault(faults.Timeout(0.05))),
        (
            requests.ConnectionError,
            httpx.RemoteProtocolError,
            http.client.RemoteDisconnected,
            http.client.RemoteDisconnected,
        ),
    ),
    "Truncate(100)": (
        lambda s: (s.expect("GET", "/x").respond(200, BODY), s.fault(faults.Truncate(100))),
        (
            requests.exceptions.ChunkedEncodingError,
            httpx.RemoteProtocolError,
            http.client.IncompleteRead,
            http.client.IncompleteRead,
        ),
    ),
    "Truncate(100), chunked": (
        lambda s: (
            s.expect("GET", "/x").respond(200, [BODY], transfer="chunked"),
            s.fault(faults.Truncate(100)),
        ),
        (
            requests.exceptions.ChunkedEncodingError,
            httpx.RemoteProtocolError,
            http.client.IncompleteRead,
            http.client.IncompleteRead,
        ),
    ),
    "a lying Content-Length, then .close()": (
        lambda s: s.expect("GET", "/x").respond(200, b"x", headers={"Content-Length": "9"}).close(),
        (
            requests.exceptions.ChunkedEncodingError,
            httpx.RemoteProtocolError,
            http.client.IncompleteRead,
            http.client.IncompleteRead,
        ),
    ),
    "Garbage(64)": (
        lambda s: (s.expect("GET", "/x").respond(200, BODY), s.fault(faults.Garbage(64))),
        (
            requests.ConnectionError,
            httpx.RemoteProtocolError,
            http.client.BadStatusLine,
            http.client.BadStatusLine,
        ),
    ),
    "rule .hang()": (
        lambda s: s.expect("GET", "/x").hang(),
        (requests.exceptions.ReadTimeout, httpx.ReadTimeout, TimeoutError, TimeoutError),
    ),
    "rule .delay(5)": (
        lambda s: s.expect("GET", "/x").delay(5).respond(200),
        (requests.exceptions.ReadTimeout, httpx.ReadTimeout, TimeoutError, TimeoutError),
    ),
    "Hang()": (
        lambda s: (s.expect("GET", "/x").respond(200, BODY), s.fault(faults.Hang())),
        (requests.exceptions.ReadTimeout, httpx.ReadTimeout, TimeoutError, TimeoutError),
    ),
    "Latency(5)": (
        lambda s: (s.expect("GET", "/x").respond(200, BODY), s.fault(faults.Latency(5))),
        (requests.exceptions.ReadTimeout, httpx.ReadTimeout, TimeoutError, TimeoutError),
    ),
    "refuse()": (
        lambda s: s.refuse(),
        (
            requests.ConnectionError,
            httpx.ConnectError,
            urllib.error.URLError,
            ConnectionRefusedError,
        ),
    ),
    "unmatched (500)": (
        lambda s: None,
        (None, None, urllib.error.HTTPError, None),
    ),
}


@pytest.mark.parametrize("client", list(CLIENTS))
@pytest.mark.parametrize("row", list(FAULT_TABLE))
def test_fault_table(make_http_server, row, client):
    script, raised = FAULT_TABLE[row]
    server = make_http_server(strict=False, seed=1)
    script(server)
    expected = raised[list(CLIENTS).index(client)]
    if expected is None:
        assert CLIENTS[client](server.url("/x")) == 500
        return
    with pytest.raises(expected) as failure:
        CLIENTS[client](server.url("/x"))
    assert type(failure.value) is expected
    if isinstance(failure.value, urllib.error.HTTPError):
        failure.value.close()
