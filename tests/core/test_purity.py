"""The pure core stays pure: no sockets, no threads, no selectors, no sleeping.

Checked on the source with ``ast`` (not by importing), so adding ``import socket`` or a
``time.sleep(...)`` to any core module fails here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import sockfix

PACKAGE = Path(sockfix.__file__).resolve().parent
FORBIDDEN_MODULES = frozenset({"socket", "threading", "selectors", "_socket", "_thread"})


def pure_modules() -> list[Path]:
    return [
        PACKAGE / "framing.py",
        PACKAGE / "faults.py",
        *sorted((PACKAGE / "core").rglob("*.py")),
    ]


def violations(source: str) -> list[str]:
    """Every forbidden import and every ``sleep`` use in ``source``, one line each."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in FORBIDDEN_MODULES:
                    found.append(f"line {node.lineno}: import {alias.name}")
        elif isinstance(node, ast.ImportFrom):
            top = (node.module or "").split(".")[0]
            if node.level == 0 and top in FORBIDDEN_MODULES:
                found.append(f"line {node.lineno}: from {node.module} import ...")
            for alias in node.names:
                if alias.name == "sleep":
                    found.append(f"line {node.lineno}: from {node.module} import sleep")
        elif isinstance(node, ast.Attribute) and node.attr == "sleep":
            found.append(f"line {node.lineno}: .sleep")
        elif isinstance(node, ast.Name) and node.id == "sleep":
            found.append(f"line {node.lineno}: sleep")
        elif (
            isinstance(node, ast.Call)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and node.args[0].value in FORBIDDEN_MODULES
            and (
                (isinstance(node.func, ast.Name) and node.func.id == "__import__")
                or (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
            )
        ):
            found.append(f"line {node.lineno}: dynamic import of {node.args[0].value}")
    return found


def test_the_pure_modules_are_found() -> None:
    names = {str(p.relative_to(PACKAGE)) for p in pure_modules()}
    assert {
        "framing.py",
        "faults.py",
        "core/patterns.py",
        "core/rules.py",
        "core/script.py",
        "core/record.py",
        "core/transcript.py",
        "core/text.py",
        "core/errors.py",
        "core/handlers.py",
        "core/actions.py",
        "core/faults/__init__.py",
        "core/faults/base.py",
        "core/faults/catalogue.py",
        "core/faults/plan.py",
        "core/faults/shaping.py",
        "core/scenario/__init__.py",
        "core/scenario/model.py",
        "core/scenario/toml.py",
        "core/scenario/check.py",
        "core/scenario/read.py",
        "core/scenario/write.py",
        "core/scenario/record.py",
    } <= names


@pytest.mark.parametrize("path", pure_modules(), ids=lambda p: p.name)
def test_module_is_pure(path: Path) -> None:
    assert violations(path.read_text(encoding="utf-8")) == []


def test_core_never_imports_net_or_plugin() -> None:
    for path in pure_modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith(("sockfix.net", "sockfix.plugin")), path.name
            if isinstance(node, ast.Import):
                for alias in node.names:
                    assert not alias.name.startswith(("sockfix.net", "sockfix.plugin")), path.name


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import socket", ["line 1: import socket"]),
        ("import threading as t", ["line 1: import threading"]),
        ("import selectors, os", ["line 1: import selectors"]),
        ("from socket import create_connection", ["line 1: from socket import ..."]),
        ("from threading import Thread", ["line 1: from threading import ..."]),
        ("import time\ntime.sleep(1)", ["line 2: .sleep"]),  # sleep-ok: checker input
        ("from time import sleep", ["line 1: from time import sleep"]),
        ("import time as t\nt.sleep(0)", ["line 2: .sleep"]),  # sleep-ok: checker input
        ("def f():\n    sleep(1)", ["line 2: sleep"]),  # sleep-ok: checker input
        ("__import__('socket')", ["line 1: dynamic import of socket"]),
        ("importlib.import_module('threading')", ["line 1: dynamic import of threading"]),
        ("import struct\nimport time\ntime.monotonic()", []),
        ("from . import socketish", []),
    ],
)
def test_the_checker_catches_violations(source: str, expected: list[str]) -> None:
    assert violations(source) == expected
