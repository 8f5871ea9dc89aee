"""The examples of docs/from-pytest-httpserver.md: the tests a pytest-httpserver user has,
written with sockfix.

Each test names the pytest-httpserver call it replaces in a comment. pytest-httpserver is not
imported: these tests need only sockfix and the clients.
"""

from __future__ import annotations

import re
import threading
import urllib.parse

import httpx
import pytest
import requests

import sockfix
from sockfix import faults


def test_respond_with_json(http_server):
    # httpserver.expect_request("/foobar").respond_with_json({"foo": "bar"})
    http_server.expect("GET", "/foobar").respond(200, json={"foo": "bar"})

    # requests.get(httpserver.url_for("/foobar"))
    response = requests.get(http_server.url("/foobar"), timeout=2)

    assert response.json() == {"foo": "bar"}
    assert response.headers["Content-Type"] == "application/json"


def test_respond_with_json_status_and_headers(http_server):
    # httpserver.expect_request("/items", method="POST").respond_with_json(
    #     {"id": 7}, status=201, headers={"Location": "/items/7"},
    #     content_type="application/vnd.api+json")
    http_server.expect("POST", "/items").respond(
        201,
        json={"id": 7},
        headers={"Location": "/items/7", "Content-Type": "application/vnd.api+json"},
    )

    response = requests.post(http_server.url("/items"), json={"name": "pen"}, timeout=2)

    assert (response.status_code, response.json()) == (201, {"id": 7})
    assert response.headers["Location"] == "/items/7"
    assert response.headers["Content-Type"] == "application/vnd.api+json"


def test_respond_with_data(http_server):
    # httpserver.expect_request("/report.csv").respond_with_data(
    #     "id,total\n1,42\n", status=200, headers={"X-Rows": "1"}, content_type="text/csv")
    http_server.expect("GET", "/report.csv").respond(
        200, b"id,total\n1,42\n", headers={"X-Rows": "1", "Content-Type": "text/csv"}
    )
    # httpserver.expect_request("/hello").respond_with_data("hello")  (text/plain by default)
    http_server.expect("GET", "/hello").respond(200, text="hello")

    with requests.Session() as session:
        report = session.get(http_server.url("/report.csv"), timeout=2)
        hello = session.get(http_server.url("/hello"), timeout=2)

    assert report.content == b"id,total\n1,42\n"
    assert (report.headers["X-Rows"], report.headers["Content-Type"]) == ("1", "text/csv")
    assert hello.headers["Content-Type"] == "text/plain; charset=utf-8"


def test_respond_with_response(http_server):
    # httpserver.expect_request("/teapot").respond_with_response(
    #     Response("short and stout", status=418, headers={"X-Pot": "1"}))
    http_server.expect("GET", "/teapot").respond(
        418, text="short and stout", headers={"X-Pot": "1"}
    )

    response = requests.get(http_server.url("/teapot"), timeout=2)

    assert (response.status_code, response.text) == (418, "short and stout")
    assert response.reason == "I'm a Teapot"


def test_respond_with_handler(http_server):
    # def handler(request: werkzeug.Request) -> werkzeug.Response:
    #     return Response(request.args["name"].upper(), status=200)
    # httpserver.expect_request("/shout").respond_with_handler(handler)
    def handler(request: sockfix.HTTPRequest):
        return 200, {"Content-Type": "text/plain"}, request.query["name"][0].upper()

    http_server.expect("GET", "/shout").respond(handler)

    response = requests.get(http_server.url("/shout"), params={"name": "ada"}, timeout=2)

    assert response.text == "ADA"


def test_oneshot():
    server = sockfix.HTTPServer().start()
    # httpserver.expect_oneshot_request("/token", method="POST").respond_with_json(...)
    server.expect("POST", "/token").respond(200, json={"token": "t1"}).times(1)

    with requests.Session() as session:
        assert session.post(server.url("/token"), timeout=2).json() == {"token": "t1"}
        assert session.post(server.url("/token"), timeout=2).status_code == 500  # used up

    with pytest.raises(sockfix.StrictError, match="no rule matched request 2: POST /token"):
        server.stop()


def test_oneshot_then_permanent(http_server):
    # httpserver.expect_oneshot_request("/status").respond_with_data("starting", status=503)
    # httpserver.expect_request("/status").respond_with_data("up")
    http_server.expect("GET", "/status").respond(503, text="starting").times(1)
    http_server.expect("GET", "/status").respond(200, text="up")

    with requests.Session() as session:
        answers = [session.get(http_server.url("/status"), timeout=2).text for _ in range(3)]

    assert answers == ["starting", "up", "up"]


def test_ordered(make_http_server):
    # httpserver.expect_ordered_request("/login", method="POST").respond_with_data("ok")
    # httpserver.expect_ordered_request("/data").respond_with_json([1, 2, 3])
    server = make_http_server(ordered=True)
    server.expect("POST", "/login").respond(200, text="ok")
    server.expect("GET", "/data").respond(200, json=[1, 2, 3])

    with requests.Session() as session:
        assert session.post(server.url("/login"), timeout=2).text == "ok"
        assert session.get(server.url("/data"), timeout=2).json() == [1, 2, 3]


def test_ordered_out_of_order():
    server = sockfix.HTTPServer(ordered=True).start()
    server.expect("POST", "/login").respond(200, text="ok")
    server.expect("GET", "/data").respond(200, json=[1, 2, 3])

    response = requests.get(server.url("/data"), timeout=2)  # before logging in

    assert response.status_code == 500
    assert "ordered: expected step 1 of 2, rule 1: expect('POST', '/login')" in response.text
    with pytest.raises(sockfix.StrictError, match="no rule matched request 1: GET /data"):
        server.stop()


def test_url_for(http_server):
    # httpserver.url_for("/users/1")
    assert http_server.url("/users/1") == f"http://127.0.0.1:{http_server.port}/users/1"
    # httpserver.host, httpserver.port
    assert (http_server.host, http_server.port) == http_server.address


def test_log(http_server):
    http_server.expect("POST", "/items").respond(201)

    requests.post(http_server.url("/items?draft=1"), json={"name": "pen"}, timeout=2)

    # request, response = httpserver.log[0]
    request = http_server.requests[0]
    assert request.method == "POST"  # request.method
    assert request.path == "/items"  # request.path
    assert request.query == {"draft": ["1"]}  # request.args (every value, as a list)
    assert request.headers["content-type"] == "application/json"  # request.headers
    assert request.body == b'{"name": "pen"}'  # request.data, request.get_data()
    assert request.text == '{"name": "pen"}'  # request.get_data(as_text=True)
    assert request.json() == {"name": "pen"}  # request.get_json(), request.json
    # the response: what was sent back, byte for byte (recorded once sent: wait for it)
    http_server.wait_until(lambda s: s.connections[0].bytes_sent > 0)
    assert http_server.connections[0].sent == b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"


def test_assert_request_made(http_server):
    ping = http_server.expect("GET", "/ping").respond(200, text="pong")

    with requests.Session() as session:
        for _ in range(2):
            session.get(http_server.url("/ping"), timeout=2)

    # httpserver.assert_request_made(RequestMatcher("/ping"), count=2)
    assert ping.used == 2
    # httpserver.get_matching_requests_count(RequestMatcher("/ping"))
    assert sum(r.path == "/ping" for r in http_server.requests) == 2


def test_wait(http_server):
    http_server.expect("POST", "/events").respond(202).times(2)
    client = threading.Thread(
        target=lambda: [
            requests.post(http_server.url("/events"), data=b"e", timeout=2) for _ in range(2)
        ]
    )
    client.start()

    # with httpserver.wait(timeout=2) as waiting: ...; assert waiting.result
    http_server.wait_until(lambda s: len(s.requests) == 2, timeout=2)
    client.join(timeout=2)

    assert [r.body for r in http_server.requests] == [b"e", b"e"]


def test_handler_assertions_fail_the_test():
    server = sockfix.HTTPServer().start()

    def handler(request):
        assert request.headers.get("Authorization") == "Bearer t"  # the client forgot it
        return 200, {}, b"ok"

    server.expect("GET", "/me").respond(handler)

    # httpserver.check_assertions(): the handler's AssertionError fails the test
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(server.url("/me"), timeout=2)  # the connection is closed, no response
    with pytest.raises(sockfix.StrictError, match="AssertionError"):
        server.stop()


def test_no_handler():
    server = sockfix.HTTPServer().start()
    server.expect("GET", "/users/1").respond(200, json={"id": 1})

    response = requests.get(server.url("/users/2"), timeout=2)

    # "No handler found for request ..." in a 500, and check_assertions() raises
    assert response.status_code == 500
    assert "no rule matched request 1 on connection 1: GET /users/2 HTTP/1.1" in response.text
    with pytest.raises(sockfix.StrictError, match="missed: path '/users/2' is not '/users/1'"):
        server.stop()


def test_no_handler_status_code(make_http_server):
    # httpserver.no_handler_status_code = 404
    server = make_http_server(handler=lambda request: (404, {}, b"not found"))
    server.expect("GET", "/known").respond(200, text="ok")

    with requests.Session() as session:
        assert session.get(server.url("/unknown"), timeout=2).status_code == 404
        assert session.get(server.url("/known"), timeout=2).text == "ok"


def test_clear(make_http_server):
    # httpserver.clear() between tests: each test gets a new server, with no rules and no log
    first, second = make_http_server(), make_http_server()
    first.expect("GET", "/a").respond(200)
    requests.get(first.url("/a"), timeout=2)

    assert (second.rules, second.requests) == ([], [])
    assert first.port != second.port


def test_query_string(http_server):
    # httpserver.expect_request("/search", query_string="q=cats&page=2")
    # httpserver.expect_request("/search", query_string={"q": "cats", "page": "2"})
    http_server.expect("GET", "/search", query={"q": "cats", "page": "2"}).respond(200, text="2")

    response = requests.get(
        http_server.url("/search"), params={"q": "cats", "page": "2"}, timeout=2
    )

    assert response.text == "2"
    assert http_server.requests[0].target == "/search?q=cats&page=2"  # the query as sent


def test_query_with_repeated_keys(http_server):
    # httpserver.expect_request("/items", query_string=MultiDict([("tag", "a"), ("tag", "b")]))
    http_server.expect("GET", "/items", query={"tag": ["a", "b"]}).respond(200, text="both")

    response = requests.get(http_server.url("/items?tag=a&tag=b"), timeout=2)

    assert response.text == "both"


def test_headers(http_server):
    # httpserver.expect_request("/me", headers={"Authorization": "Bearer t"})
    http_server.expect("GET", "/me", headers={"Authorization": "Bearer t"}).respond(200, text="ok")

    response = requests.get(
        http_server.url("/me"), headers={"authorization": "Bearer t"}, timeout=2
    )

    assert response.text == "ok"  # header names are case-insensitive


def test_header_value_matcher(http_server):
    # httpserver.expect_request("/me", headers={"X-Request-Id": "..."},
    #                           header_value_matcher=lambda name, actual, expected: ...)
    http_server.expect(
        "GET", "/me", headers={"X-Request-Id": re.compile(r"[0-9a-f]{8}"), "X-Trace": sockfix.ANY}
    ).respond(200, text="ok")

    response = requests.get(
        http_server.url("/me"), headers={"X-Request-Id": "1f2e3d4c", "X-Trace": "x"}, timeout=2
    )

    assert response.text == "ok"


def test_json_matching(http_server):
    # httpserver.expect_request("/users", method="POST", json={"name": "Ada"})
    http_server.expect("POST", "/users", json={"name": "Ada"}).respond(201)

    response = requests.post(http_server.url("/users"), json={"name": "Ada"}, timeout=2)

    assert response.status_code == 201


def test_data_matching(http_server):
    # httpserver.expect_request("/raw", method="PUT", data=b"\x00\x01")
    http_server.expect("PUT", "/raw", body=b"\x00\x01").respond(204)

    response = requests.put(http_server.url("/raw"), data=b"\x00\x01", timeout=2)

    assert response.status_code == 204


def test_data_form(http_server):
    # httpserver.expect_request("/login", method="POST", data_form={"user": "ada"})
    def form_is(expected):
        return lambda body: urllib.parse.parse_qs(body.decode()) == expected

    http_server.expect("POST", "/login", body=form_is({"user": ["ada"]})).respond(200, text="in")

    response = requests.post(http_server.url("/login"), data={"user": "ada"}, timeout=2)

    assert response.text == "in"


def test_method_matching(http_server):
    # httpserver.expect_request("/items/1", method="DELETE").respond_with_data("", status=204)
    http_server.expect("DELETE", "/items/1").respond(204)
    # httpserver.expect_request("/anything")  (any method, pytest-httpserver's default)
    http_server.expect(sockfix.ANY, "/anything").respond(200, text="any")

    with requests.Session() as session:
        assert session.delete(http_server.url("/items/1"), timeout=2).status_code == 204
        assert session.patch(http_server.url("/anything"), timeout=2).text == "any"


def test_uri_regex(http_server):
    # httpserver.expect_request(re.compile(r"^/users/\d+$")).respond_with_json({"ok": True})
    http_server.expect("GET", re.compile(r"/users/\d+")).respond(200, json={"ok": True})

    response = requests.get(http_server.url("/users/42"), timeout=2)

    assert response.json() == {"ok": True}


def test_standalone_server():
    # with pytest_httpserver.HTTPServer() as httpserver:
    with sockfix.HTTPServer() as server:
        server.expect("GET", "/").respond(200, text="hi")
        assert httpx.get(server.url("/"), timeout=2).text == "hi"


def test_what_sockfix_adds(make_http_server):
    server = make_http_server(max_connections=1)  # one connection, kept alive
    server.expect("GET", "/export").respond(200, b"x" * 10_000)
    server.expect("GET", "/ping").respond(200, text="pong")

    with httpx.Client(timeout=2) as client:
        assert client.get(server.url("/ping")).text == "pong"
        assert client.get(server.url("/ping")).text == "pong"  # the same connection
        server.fault(faults.Reset(after_bytes=1000))  # from the next response on
        with pytest.raises(httpx.ReadError):
            client.get(server.url("/export"))

    assert [r.path for r in server.requests] == ["/ping", "/ping", "/export"]
    sent = server.connections[0].sent  # exactly what crossed the wire
    assert sent.count(b"\r\n\r\npong") == 2
    assert len(sent.rsplit(b"pong", 1)[1]) == 1000  # the fault's 1000 bytes, then the RST
