"""The examples of docs/cli.md (written with the CLI), run as tests: each block verbatim."""

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
    server.stop()


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
            with socket.create_connection((host, int(port)), timeout=5) as client:
                client.sendall(b"give me five\n")
                assert client.makefile("rb").readline() == b"GIVE ME FIVE\n"
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=5) == 0
            assert proc.stdout.read().splitlines()[-1] == "stopped"
        finally:
            if proc.poll() is None:
                proc.kill()


def test_serve_as_a_function():
    import io
    import threading

    from sockfix.cli import serve

    stop = threading.Event()
    stop.set()  # normally set later, from another thread
    out = io.StringIO()
    assert serve(port=0, framing="fixed:4", stop=stop, stdout=out) == 0
    assert out.getvalue().splitlines()[-1] == "stopped"
