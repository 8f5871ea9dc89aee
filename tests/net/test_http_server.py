"""HTTPServer over real sockets: keep-alive, close, pipelining, HEAD, chunked bodies, 100-continue,
unmatched and bad requests, and what is recorded. Clients: http.client and raw sockets."""

from __future__ import annotations

import http.client
import json
import re

import pytest
from _nethelp import connect, has_ipv6, kinds, recv_all, recv_exactly, recv_until

import sockfix


def client(server: sockfix.HTTPServer) -> http.client.HTTPConnection:
    return http.client.HTTPConnection(server.host, server.port, timeout=5)


def test_get_json_and_what_was_recorded() -> None:
    with sockfix.HTTPServer() as server:
        server.expect("GET", "/users/1").respond(200, json={"id": 1})
        conn = client(server)
        conn.request("GET", "/users/1?x=1&x=2&y=", headers={"X-Trace": "abc"})
        resp = conn.getresponse()
        assert resp.status == 200
        assert resp.getheader("Content-Type") == "application/json"
        assert resp.getheader("Content-Length") == "9"
        assert resp.read() == b'{"id": 1}'
        conn.close()
    (request,) = server.requests
    assert request.method == "GET"
    assert request.path == "/users/1"
    assert request.query == {"x": ["1", "2"], "y": [""]}
    assert request.headers["x-trace"] == "abc"
    assert request.connection == 1
    assert request.body == b""
    assert request.raw == server.connections[0].received
    assert server.connections[0].sent == (
        b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 9\r\n\r\n{"id": 1}'
    )


def test_keep_alive_answers_several_requests_on_one_connection() -> None:
    with sockfix.HTTPServer() as server:
        server.expect("GET", re.compile(r"/items/\d+")).respond(
            lambda request: (200, {"X-Path": request.path}, request.path.encode())
        )
        conn = client(server)
        for n in range(3):
            conn.request("GET", f"/items/{n}")
            resp = conn.getresponse()
            assert (resp.status, resp.getheader("X-Path"), resp.read()) == (
                200,
                f"/items/{n}",
                f"/items/{n}".encode(),
            )
        conn.close()
    assert len(server.connections) == 1
    assert [r.path for r in server.requests] == ["/items/0", "/items/1", "/items/2"]
    assert server.connections[0].messages == [r.raw for r in server.requests]


def test_connection_close_from_the_client_closes_after_the_response() -> None:
    with sockfix.HTTPServer() as server:
        server.expect("GET", "/").respond(200, text="bye")
        with connect(server) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = recv_all(sock)
    assert data == (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Content-Length: 3\r\nConnection: close\r\n\r\nbye"
    )
    assert kinds(server.connections[0])[-1] == "close"


def test_connection_close_from_the_response_closes_and_http10_closes() -> None:
    with sockfix.HTTPServer() as server:
        server.expect("GET", "/a").respond(200, headers={"Connection": "close"})
        server.expect("GET", "/b").respond(204)
        with connect(server) as sock:
            sock.sendall(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
            assert recv_all(sock) == (
                b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
            )
        with connect(server) as sock:
            sock.sendall(b"GET /b HTTP/1.0\r\n\r\n")
            assert recv_all(sock) == b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"


def test_pipelined_requests_are_answered_in_order() -> None:
    with sockfix.HTTPServer() as server:
        server.expect("GET", "/1").respond(200, body=b"one")
        server.expect("POST", "/2", body=b"hello").respond(201, body=b"two")
        server.expect("GET", "/3").respond(200, body=b"three", headers={"Connection": "close"})
        server.expect("GET", "/4").respond(200, body=b"never")
        with connect(server) as sock:
            sock.sendall(
                b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\n"
                b"POST /2 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
                b"GET /3 HTTP/1.1\r\nHost: x\r\n\r\n"
                b"GET /4 HTTP/1.1\r\nHost: x\r\n\r\n"
            )
            data = recv_all(sock)
        server.stop(check=False)
    assert data == (
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none"
        b"HTTP/1.1 201 Created\r\nContent-Length: 3\r\n\r\ntwo"
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 5\r\n\r\nthree"
    )
    # the request after the closing one is recorded, not answered
    assert [r.path for r in server.requests] == ["/1", "/2", "/3", "/4"]


def test_head_gets_the_headers_without_the_body() -> None:
    with sockfix.HTTPServer() as server:
        server.expect("HEAD", "/file").respond(200, body=b"x" * 10)
        conn = client(server)
        conn.request("HEAD", "/file")
        resp = conn.getresponse()
        assert resp.getheader("Content-Length") == "10"
        assert resp.read() == b""
        conn.close()
    assert server.connections[0].sent == b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"


def test_chunked_request_body_with_trailers_is_decoded() -> None:
    with sockfix.HTTPServer() as server:
        server.expect("POST", "/upload", body=b"hello world").respond(200, text="ok")
        with connect(server) as sock:
            sock.sendall(
                b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 42\r\n\r\n"
            )
            assert recv_until(sock, b"ok").endswith(b"\r\n\r\nok")
    (request,) = server.requests
    assert request.body == b"hello world"
    assert request.trailers["x-sum"] == "42"
    assert request.raw.endswith(b"0\r\nX-Sum: 42\r\n\r\n")


def test_expect_100_continue_is_answered_before_the_body() -> None:
    with sockfix.HTTPServer() as server:
        server.expect("PUT", "/big", body=b"x" * 100).respond(201)
        with connect(server) as sock:
            sock.sendall(
                b"PUT /big HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n"
                b"Expect: 100-continue\r\n\r\n"
            )
            assert recv_exactly(sock, 25) == b"HTTP/1.1 100 Continue\r\n\r\n"
            sock.sendall(b"x" * 100)
            assert recv_until(sock, b"\r\n\r\n") == (
                b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"
            )
    out = [e for e in server.connections[0].events if e.kind == "out"]
    assert [e.note for e in out] == ["100-continue", "rule 1"]


def test_chunked_and_close_transfers() -> None:
    with sockfix.HTTPServer() as server:
        server.expect("GET", "/stream").respond(200, body=[b"ab", b"cde"], transfer="chunked")
        server.expect("GET", "/till-close").respond(200, body=b"all of it", transfer="close")
        conn = client(server)
        conn.request("GET", "/stream")
        assert conn.getresponse().read() == b"abcde"
        conn.request("GET", "/till-close")
        resp = conn.getresponse()
        assert resp.getheader("Content-Length") is None
        assert resp.read() == b"all of it"
        conn.close()
    assert server.connections[0].sent == (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it"
    )


def test_unmatched_request_gets_a_500_naming_it_then_the_test_fails() -> None:
    server = sockfix.HTTPServer().start()
    server.expect("GET", "/users/1").respond(200)
    conn = client(server)
    conn.request("GET", "/users/2")
    resp = conn.getresponse()
    body = resp.read().decode()
    conn.close()
    assert resp.status == 500
    assert resp.getheader("Connection") == "close"
    assert body.startswith(
        "sockfix: no rule matched request 1 on connection 1: GET /users/2 HTTP/1.1\n"
    )
    assert "missed: path '/users/2' is not '/users/1'" in body
    with pytest.raises(sockfix.StrictError) as info:
        server.stop()
    text = str(info.value)
    assert "no rule matched request 1: GET /users/2 HTTP/1.1" in text
    assert "expect('GET', '/users/1').respond(200)" in text


def test_a_bad_request_gets_a_400_and_a_strict_problem() -> None:
    server = sockfix.HTTPServer().start()
    with connect(server) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nBad Header\r\n\r\n")
        data = recv_all(sock)
    assert data.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert b"Connection: close\r\n" in data
    with pytest.raises(sockfix.StrictError, match=r"request 1 is not valid HTTP/1\.1"):
        server.stop()
    assert server.connections[0].received == b"GET / HTTP/1.1\r\nBad Header\r\n\r\n"


def test_on_unmatched_reset_and_not_strict() -> None:
    server = sockfix.HTTPServer(on_unmatched="reset", strict=False)
    with server, connect(server) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        with pytest.raises(ConnectionResetError):
            recv_all(sock)
    assert server.problems == []
    assert kinds(server.connections[0])[-1] == "reset"


def test_handler_answers_what_no_rule_matches() -> None:
    def handler(request: sockfix.HTTPRequest) -> tuple[int, dict[str, str], bytes] | None:
        if request.path == "/none":
            return None
        return 200, {"X-Method": request.method}, request.body

    with sockfix.HTTPServer(handler=handler, strict=False) as server:
        server.expect("GET", "/rule").respond(200, text="rule")
        conn = client(server)
        conn.request("GET", "/rule")
        assert conn.getresponse().read() == b"rule"
        conn.request("POST", "/echo", body=b"data")
        resp = conn.getresponse()
        assert (resp.getheader("X-Method"), resp.read()) == ("POST", b"data")
        conn.request("GET", "/none")
        assert conn.getresponse().status == 500
        conn.close()


def test_matching_on_query_headers_and_json() -> None:
    with sockfix.HTTPServer(strict=False) as server:
        server.expect("GET", "/q", query={"page": "2"}).respond(200, text="page 2")
        server.expect("GET", "/h", headers={"authorization": "Bearer t"}).respond(200, text="ok")
        server.expect("POST", "/j", json={"name": "a"}).respond(201)
        conn = client(server)
        conn.request("GET", "/q?page=2&sort=asc")
        assert conn.getresponse().read() == b"page 2"
        conn.request("GET", "/h", headers={"Authorization": "Bearer t"})
        assert conn.getresponse().read() == b"ok"
        conn.request("POST", "/j", body=json.dumps({"name": "a"}))
        resp = conn.getresponse()
        assert (resp.status, resp.read()) == (201, b"")
        conn.request("POST", "/j", body=b'{"name": "b"}')
        resp = conn.getresponse()
        assert resp.status == 500
        assert 'missed: json {"name": "b"} is not {"name": "a"}' in resp.read().decode()
        conn.close()


def test_rule_shaping_applies_to_the_response_bytes() -> None:
    with sockfix.HTTPServer() as server:
        server.expect("GET", "/slow").respond(200, body=b"abcdef").chunked(4)
        server.expect("GET", "/boom").reset()
        conn = client(server)
        conn.request("GET", "/slow")
        assert conn.getresponse().read() == b"abcdef"
        conn.request("GET", "/boom")
        with pytest.raises(ConnectionResetError):
            conn.getresponse()
        conn.close()
    outs = [e.data for e in server.connections[0].events if e.kind == "out"]
    whole = b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nabcdef"
    assert outs == [whole[i : i + 4] for i in range(0, len(whole), 4)]


def test_faults_apply_to_the_response_bytes() -> None:
    with sockfix.HTTPServer() as server:
        server.expect("GET", "/").respond(200, body=b"x" * 100)
        server.fault(sockfix.faults.Truncate(50))
        conn = client(server)
        conn.request("GET", "/")
        resp = conn.getresponse()
        with pytest.raises(http.client.IncompleteRead):
            resp.read()
        conn.close()
    assert len(server.connections[0].sent) == 50


def test_ordered_steps_on_http() -> None:
    with sockfix.HTTPServer(ordered=True) as server:
        server.expect("GET", "/job").respond(202, text="pending").times(2)
        server.expect("GET", "/job").respond(200, text="done")
        conn = client(server)
        answers = []
        for _ in range(3):
            conn.request("GET", "/job")
            answers.append(conn.getresponse().read())
        conn.close()
    assert answers == [b"pending", b"pending", b"done"]


def test_url_and_ipv6() -> None:
    with sockfix.HTTPServer() as server:
        assert server.url("/a?b=1") == f"http://127.0.0.1:{server.port}/a?b=1"
        assert server.url() == f"http://127.0.0.1:{server.port}/"
        with pytest.raises(ValueError, match=r"write url\('/users'\)"):
            server.url("users")
    if has_ipv6():
        with sockfix.HTTPServer(host="::1") as server:
            assert server.url("/x") == f"http://[::1]:{server.port}/x"
            server.expect("GET", "/x").respond(200, text="v6")
            conn = http.client.HTTPConnection("::1", server.port, timeout=5)
            conn.request("GET", "/x")
            assert conn.getresponse().read() == b"v6"
            conn.close()


def test_transcript_shows_each_request_line_and_headers() -> None:
    with sockfix.HTTPServer() as server:
        server.expect("POST", "/p").respond(200)
        with connect(server) as sock:
            sock.sendall(b"POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi")
            recv_until(sock, b"\r\n\r\n")
        server.wait_until(lambda s: s.connections[0].bytes_sent > 0)
        text = server.transcript()
    assert "HTTPServer 127.0.0.1:" in text
    assert "HTTP/1.1, no handler" in text
    assert "  message 1: POST /p HTTP/1.1\n      Host: h\n      Content-Length: 2\n" in text


def test_bad_arguments_name_the_fix() -> None:
    with pytest.raises(TypeError, match="takes no framing="):
        sockfix.HTTPServer(framing=sockfix.framing.lines())  # type: ignore[call-arg]
    with sockfix.HTTPServer() as server:
        with pytest.raises(ValueError, match=r"write expect\('GET', \.\.\.\)"):
            server.expect("get", "/")
        with pytest.raises(ValueError, match="query="):
            server.expect("GET", "/a?b=1")
        with pytest.raises(ValueError, match="write '/a'"):
            server.expect("GET", "a")
        with pytest.raises(TypeError, match="HTTP paths are str"):
            server.expect("GET", b"/a")
        with pytest.raises(ValueError, match="one of body=, text= or json="):
            server.expect("GET", "/x").respond(200, text="a", json={})
        with pytest.raises(ValueError, match="already has its response"):
            server.expect("GET", "/y").respond(200).respond(201)
        with pytest.raises(ValueError, match="never carries one"):
            server.expect("GET", "/z").respond(204, text="no")
        with pytest.raises(TypeError, match="query values are str"):
            server.expect("GET", "/q", query={"page": 2})
        assert server.rules == []  # a failed builder call leaves no half-built rule
