"""Every ```python block of README.md and docs/*.md is code from a file in tests/examples/.

A block may be preceded by ``<!-- example: tests/examples/FILE.py -->``; then it must come from
that file. A block may be a fragment of a function body: it matches at any one indentation.
Only trailing whitespace is normalised, so the docs cannot drift from the tested code.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = Path(__file__).resolve().parent
PYTHON_FENCES = {"python", "py", "python3"}
_FENCE = re.compile(r"^(?P<indent> *)(?P<fence>```+|~~~+)\s*(?P<lang>[\w+-]*)")
_SOURCE = re.compile(r"<!--\s*example:\s*(?P<path>\S+)\s*-->")


def markdown_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def python_blocks(text: str) -> list[tuple[int, str | None, list[str]]]:
    """(line number, declared source file or None, code lines) of each python block."""
    blocks = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        fence, lang = opening["fence"], opening["lang"].lower()
        start = i
        i += 1
        body = []
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i].rstrip())
            i += 1
        i += 1
        if lang in PYTHON_FENCES:
            before = [ln for ln in lines[:start] if ln.strip()][-1:]
            source = _SOURCE.search(before[0]) if before else None
            blocks.append((start + 1, source["path"] if source else None, body))
    return blocks


def contains(haystack: list[str], block: list[str]) -> bool:
    """True when ``block`` appears in ``haystack`` line by line, at one common indentation."""
    while block and not block[-1]:
        block = block[:-1]
    if not block:
        return False
    first = block[0]
    for i in range(len(haystack) - len(block) + 1):
        line = haystack[i]
        if not line.endswith(first):
            continue
        indent = line[: len(line) - len(first)]
        if indent.strip():
            continue
        if all(
            (got == "" if want == "" else got == indent + want)
            for got, want in zip(haystack[i : i + len(block)], block, strict=True)
        ):
            return True
    return False


def example_sources() -> dict[str, list[str]]:
    return {
        str(path.relative_to(ROOT)): [ln.rstrip() for ln in path.read_text().splitlines()]
        for path in sorted(EXAMPLES.glob("*.py"))
    }


CASES = [
    pytest.param(md, line, source, body, id=f"{md.relative_to(ROOT)}:{line}")
    for md in markdown_files()
    if md.exists()
    for line, source, body in python_blocks(md.read_text())
]


def test_docs_have_python_examples():
    assert len(CASES) >= 20
    covered = {md.name for md, *_ in (c.values for c in CASES)}
    assert {"README.md", "index.md", "tcp.md", "framing.md", "recording.md", "pytest.md"} <= covered


@pytest.mark.parametrize(("md", "line", "source", "body"), CASES)
def test_block_comes_from_a_tested_file(md, line, source, body):
    sources = example_sources()
    if source is not None:
        assert source in sources, f"{md.name}:{line} names {source}, which is not in tests/examples"
        assert contains(sources[source], body), (
            f"{md.name}:{line}: this block is not verbatim in {source}:\n" + "\n".join(body)
        )
    else:
        assert any(contains(lines, body) for lines in sources.values()), (
            f"{md.name}:{line}: this block is in no file of tests/examples:\n" + "\n".join(body)
        )


def test_contains():
    code = ["def test():", "    a = 1", "", "    b = 2", "c = 3"]
    assert contains(code, ["a = 1", "", "b = 2"])
    assert contains(code, ["def test():", "    a = 1"])
    assert not contains(code, ["a = 1", "b = 2"])
    assert not contains(code, ["b = 2", "c = 3"])  # two indentations
    assert not contains(code, [""])


def test_python_blocks():
    text = "\n".join(
        [
            "<!-- example: tests/examples/x.py -->",
            "```python",
            "a = 1",
            "```",
            "```text",
            "not python",
            "```",
            "````python",
            "```",
            "b = 2",
            "````",
        ]
    )
    assert python_blocks(text) == [
        (2, "tests/examples/x.py", ["a = 1"]),
        (8, None, ["```", "b = 2"]),
    ]
