"""The examples of docs/cli.md, run as tests: each block verbatim inside a test function.

Some start real `sockfix` processes; every wait in them is bounded.
"""

from __future__ import annotations


def test_default_server_in_python_terms():
    import sockfix

    server = sockfix.TCPServer(
        host="127.0.0.1",
        port=9001,
        framing=sockfix.framing.lines(),
        handler=sockfix.echo(bytes.upper),
    )
    assert server.handler(b"give me five\n") == b"GIVE ME FIVE\n"


def test_drive_serve_from_another_program():
    import signal
    import socket
    import subprocess
    import sys

    with subprocess.Popen(
        [sys.executable, "-m", "sockfix", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            first = proc.stdout.readline()  # "listening on 127.0.0.1:PORT"
            host, port = first.split()[-1].rsplit(":", 1)
            with socket.create_connection((host, int(port)), timeout=10) as client:
                client.sendall(b"give me five\n")
                assert client.makefile("rb").readline() == b"GIVE ME FIVE\n"
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=10) == 0
            assert proc.stdout.read().splitlines()[-1] == "stopped"
        finally:
            if proc.poll() is None:
                proc.kill()


def test_record_with_the_proxy_then_replay():
    import os
    import signal
    import socket
    import subprocess
    import sys
    import tempfile

    import sockfix

    def start(*args):
        command = [sys.executable, "-m", "sockfix", *args]
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        port = int(proc.stdout.readline().rsplit(":", 1)[1])  # "listening on 127.0.0.1:PORT"
        return proc, port

    def ask(port, request):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
            client.sendall(request)
            return client.makefile("rb").readline()

    recording = os.path.join(tempfile.mkdtemp(), "upper.toml")
    with sockfix.TCPServer(handler=sockfix.echo(bytes.upper)) as real:
        proxy, port = start("proxy", "--upstream", f"127.0.0.1:{real.port}", "--record", recording)
        try:
            assert ask(port, b"hello\n") == b"HELLO\n"  # through the proxy to the real server
            proxy.send_signal(signal.SIGINT)
            assert proxy.wait(timeout=10) == 0
            assert proxy.stdout.read().splitlines()[-2:] == [
                f"recorded 1 connection to {recording}",
                "stopped",
            ]
        finally:
            if proxy.poll() is None:
                proxy.kill()
            proxy.stdout.close()

    replay, port = start("serve", recording, "--port", "0")  # the real server is gone
    try:
        assert ask(port, b"hello\n") == b"HELLO\n"  # the recorded answer
        replay.send_signal(signal.SIGINT)
        assert replay.wait(timeout=10) == 0  # every recorded request was replayed: no problems
    finally:
        if replay.poll() is None:
            replay.kill()
        replay.stdout.close()


def test_serve_as_a_function():
    import io
    import threading

    from sockfix.cli import serve

    stop = threading.Event()
    stop.set()  # normally set later, from another thread
    out = io.StringIO()
    assert serve(port=0, framing="fixed:4", stop=stop, stdout=out) == 0
    assert out.getvalue().splitlines()[-1] == "stopped"
