"""The CLI's framing errors say what is wrong and the right form; the README's try-it client
answers and returns by itself."""

from __future__ import annotations

import io
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import clean_env

from sockfix.cli import main

README = Path(__file__).resolve().parents[2] / "README.md"


def run_main(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(args), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            "delimited:",
            "framing 'delimited:' needs a delimiter after the colon, such as delimited:\\r\\n",
        ),
        ("fixed:", "framing 'fixed:' needs a size after the colon, such as fixed:8"),
        (
            "fixed:x",
            "framing 'fixed:x': the size must be a whole number of bytes, at least 1, "
            "such as fixed:8",
        ),
        (
            "fixed:0",
            "framing 'fixed:0': the size must be a whole number of bytes, at least 1, "
            "such as fixed:8",
        ),
    ],
)
def test_a_bad_framing_says_what_is_wrong_and_the_right_form(spec: str, message: str) -> None:
    status, out, err = run_main("serve", "--port", "0", "--framing", spec)
    assert status == 2
    assert out == ""
    assert err.count("\n") == 1
    assert message in err
    assert "int()" not in err


def readme_client() -> str:
    """The README's try-it client: the one ``python3 -c`` line of its sh blocks."""
    blocks = re.findall(r"^```sh\n(.*?)^```", README.read_text(encoding="utf-8"), re.M | re.S)
    lines = [ln for b in blocks for ln in b.splitlines() if ln.startswith("python3 -c ")]
    assert len(lines) == 1, lines
    assert "9001" in lines[0]
    return lines[0]


def test_the_readme_keeps_its_two_commands() -> None:
    text = README.read_text(encoding="utf-8")
    assert "```sh\npip install . && sockfix serve\n```" in text
    assert "```sh\npip install -e '.[test]' && pytest\n```" in text
    assert "| nc 127.0.0.1" not in text  # the nc line that never returns on Debian/Ubuntu


def test_the_readme_client_answers_and_returns_by_itself(serve_process) -> None:
    p = serve_process("serve", "--port", "0")
    port = p.port()
    line = readme_client()
    line = line.replace("python3", shlex.quote(sys.executable), 1).replace("9001", str(port))
    # The server stays up: the client must return on its own, well within the timeout.
    done = subprocess.run(
        ["sh", "-c", line], capture_output=True, text=True, timeout=5, env=clean_env()
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "GIVE ME FIVE\n", "")
    assert p.proc.poll() is None
