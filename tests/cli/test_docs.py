"""docs/cli.md names every option; its Python examples run in tests/examples/test_howto_cli.py."""

from __future__ import annotations

import io
import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```", DOC.read_text(encoding="utf-8"), re.M | re.S)


def test_the_page_has_python_examples():
    assert len(BLOCKS) >= 3


def test_the_page_names_every_option():
    text = DOC.read_text(encoding="utf-8")
    for needle in ("--host", "--port", "--framing", "--max-bytes", "NO_COLOR", "SIGTERM"):
        assert needle in text
    for needle in ("sockfix serve redis.toml", "SCENARIO.toml", "--seed", "[1 up]"):
        assert needle in text


def test_the_page_names_every_proxy_option():
    from sockfix.cli import build_parser

    text = DOC.read_text(encoding="utf-8")
    proxy = build_parser(io.StringIO()).parse_args(["proxy", "--upstream", "h:1"]).parser
    options = [o for a in proxy._actions for o in a.option_strings if o.startswith("--")]
    assert "--reset-after" in options
    for option in options:
        assert f"`{option}" in text, option
