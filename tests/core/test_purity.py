"""The pure core stays pure: no sockets, no threads, no selectors, no sleeping.

Checked on the source with ``ast`` (not by importing), so adding ``import socket`` or a
``time.sleep(...)`` to any core module fails here. Also checked on the source: core imports
nothing of sockfix above it (only ``sockfix.core`` and ``sockfix.framing``), no sockfix modules
import each other in a cycle (imports inside functions and ``if TYPE_CHECKING:`` included), and
``sockfix/faults.py`` only re-exports ``sockfix.core.faults``.
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path

import pytest

# The source tree next to these tests, found without importing it.
PACKAGE = Path(__file__).resolve().parents[2] / "sockfix"
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


# --- Imports between sockfix modules: read from the source, every import statement counted ---

ROOT = "sockfix"
CORE_MAY_IMPORT = ("sockfix.core", "sockfix.framing")


def module_name(relpath: str) -> str:
    """``sockfix/net/tcp.py`` -> ``sockfix.net.tcp``; a package's ``__init__.py`` is the package."""
    parts = relpath.removesuffix(".py").split("/")
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def known_modules(relpaths: Collection[str]) -> set[str]:
    """Every module and package that ``relpaths`` (``sockfix/...py``, ``/``-separated) make."""
    parts = [module_name(relpath).split(".") for relpath in relpaths]
    return {".".join(name[:end]) for name in parts for end in range(1, len(name) + 1)}


def within(name: str, prefixes: Collection[str]) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


def absolute(relpath: str, level: int, module: str | None) -> str:
    """What ``from <level dots><module> import ...`` names when written in ``relpath``."""
    if level == 0:
        return module or ""
    package = module_name(relpath).split(".")
    if not relpath.endswith("__init__.py"):
        package.pop()
    if level > len(package):
        raise ValueError(f"{relpath}: relative import goes above the top package")
    return ".".join(package[: len(package) - level + 1] + ([module] if module else []))


def imports(source: str, relpath: str, known: Collection[str]) -> list[tuple[int, str]]:
    """``(line, module)`` for each sockfix module an import statement in ``source`` names.

    Every statement counts: module level, inside functions, under ``if TYPE_CHECKING:``.
    ``from A import b`` names ``A.b`` when that is a module in ``known``, else ``A``.
    """
    found: set[tuple[int, str]] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {(node.lineno, alias.name) for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = absolute(relpath, node.level, node.module)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add((node.lineno, sub if sub in known else base))
    return sorted((line, name) for line, name in found if within(name, [ROOT]))


def upward_imports(source: str, relpath: str, known: Collection[str]) -> list[tuple[int, str]]:
    """The imports in a core module of sockfix modules other than core's own and framing."""
    return [
        (line, name)
        for line, name in imports(source, relpath, known)
        if not within(name, CORE_MAY_IMPORT)
    ]


def sockfix_sources() -> dict[str, str]:
    """``sockfix/...py`` -> its source, for every module of the package."""
    return {
        path.relative_to(PACKAGE.parent).as_posix(): path.read_text(encoding="utf-8")
        for path in sorted(PACKAGE.rglob("*.py"))
    }


def import_graph(sources: Mapping[str, str]) -> dict[str, dict[str, list[str]]]:
    """Module -> {imported sockfix module -> the ``file:line`` places that import it}.

    Only the edges written in a file: importing ``a.b.c`` runs ``a`` and ``a.b`` too, but that
    is not an edge here.
    """
    known = known_modules(sources)
    graph: dict[str, dict[str, list[str]]] = {module_name(relpath): {} for relpath in sources}
    for relpath, source in sources.items():
        edges = graph[module_name(relpath)]
        for line, name in imports(source, relpath, known):
            edges.setdefault(name, []).append(f"{relpath}:{line}")
    return graph


def strongly_connected(graph: Mapping[str, Collection[str]]) -> list[set[str]]:
    """Tarjan's strongly connected components of ``graph``."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    components: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component: set[str] = set()
            while not component or node not in component:
                component.add(stack.pop())
            components.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def cycles(graph: Mapping[str, Collection[str]]) -> list[str]:
    """Every elementary cycle of ``graph`` as ``a -> b -> a``, once, from its smallest node."""
    found: list[str] = []
    for component in strongly_connected(graph):

        def paths(path: list[str], members: set[str] = component) -> Iterator[list[str]]:
            for target in sorted(graph.get(path[-1], ())):
                if target == path[0]:
                    yield [*path, target]
                elif target in members and target > path[0] and target not in path:
                    yield from paths([*path, target])

        found += [" -> ".join(cycle) for start in sorted(component) for cycle in paths([start])]
    return sorted(found)


def describe_cycle(cycle: str, graph: Mapping[str, Mapping[str, list[str]]]) -> str:
    """The cycle, then each of its edges with where it is written."""
    nodes = cycle.split(" -> ")
    return "\n".join(
        [cycle]
        + [f"    {a} -> {b}: {', '.join(graph[a][b])}" for a, b in itertools.pairwise(nodes)]
    )


def test_core_imports_only_core_and_framing() -> None:
    sources = sockfix_sources()
    known = known_modules(sources)
    core = [relpath for relpath in sources if relpath.startswith(f"{ROOT}/core/")]
    assert f"{ROOT}/core/faults/base.py" in core
    found = [
        f"{relpath}:{line}: imports {name}"
        for relpath in core
        for line, name in upward_imports(sources[relpath], relpath, known)
    ]
    assert not found, "core imports a sockfix module outside core and framing:\n" + "\n".join(found)


def test_the_import_graph_has_the_written_edges() -> None:
    graph = import_graph(sockfix_sources())
    assert {"sockfix", "sockfix.faults", "sockfix.core.faults.base"} <= set(graph)
    # A package to its own submodule:
    assert "sockfix.core.faults.base" in graph["sockfix.core.faults"]
    assert "sockfix.core.faults" in graph["sockfix.faults"]
    # from sockfix import faults / from sockfix.core import faults: the submodules.
    assert "sockfix.faults" in graph["sockfix"]
    assert "sockfix.core.faults" in graph["sockfix.core.scenario.model"]
    # No implicit edge to the parent packages an import runs.
    assert "sockfix.core" not in graph["sockfix.core.faults.base"]


def test_no_import_cycle_among_sockfix_modules() -> None:
    graph = import_graph(sockfix_sources())
    found = [describe_cycle(cycle, graph) for cycle in cycles(graph)]
    assert not found, (
        "import cycles (TYPE_CHECKING and function-level imports count):\n" + "\n".join(found)
    )


KNOWN = known_modules(
    [
        "sockfix/__init__.py",
        "sockfix/faults.py",
        "sockfix/framing.py",
        "sockfix/plugin.py",
        "sockfix/core/__init__.py",
        "sockfix/core/rules.py",
        "sockfix/core/faults/__init__.py",
        "sockfix/core/faults/base.py",
        "sockfix/core/scenario/__init__.py",
        "sockfix/core/scenario/model.py",
        "sockfix/net/__init__.py",
        "sockfix/net/tcp.py",
    ]
)


@pytest.mark.parametrize(
    ("source", "relpath", "expected"),
    [
        (
            "from sockfix.net.tcp import TCPServer",
            "sockfix/core/rules.py",
            [(1, "sockfix.net.tcp")],
        ),
        ("import sockfix.plugin as p", "sockfix/core/rules.py", [(1, "sockfix.plugin")]),
        (
            "import os, sockfix.core.rules, sockfix.net",
            "sockfix/core/rules.py",
            [(1, "sockfix.net")],
        ),
        (
            "def f():\n    from sockfix.plugin import x",
            "sockfix/core/rules.py",
            [(2, "sockfix.plugin")],
        ),
        (
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from sockfix.net import tcp",
            "sockfix/core/rules.py",
            [(3, "sockfix.net.tcp")],
        ),
        ("from sockfix import faults", "sockfix/core/rules.py", [(1, "sockfix.faults")]),
        ("from sockfix import faults, framing", "sockfix/core/rules.py", [(1, "sockfix.faults")]),
        ("from sockfix import __version__", "sockfix/core/rules.py", [(1, "sockfix")]),
        ("import sockfix", "sockfix/core/rules.py", [(1, "sockfix")]),
        ("from ... import faults", "sockfix/core/faults/base.py", [(1, "sockfix.faults")]),
        ("from .. import faults", "sockfix/core/faults/base.py", []),
        ("from ..net.tcp import TCPServer", "sockfix/core/rules.py", [(1, "sockfix.net.tcp")]),
        ("from ...net import tcp", "sockfix/core/scenario/model.py", [(1, "sockfix.net.tcp")]),
        ("from ... import X", "sockfix/core/scenario/model.py", [(1, "sockfix")]),
        ("from ... import x", "sockfix/core/faults/__init__.py", [(1, "sockfix")]),
        ("from .. import x", "sockfix/core/faults/__init__.py", []),
        ("from sockfix import framing", "sockfix/core/rules.py", []),
        ("from sockfix.framing import lines", "sockfix/core/rules.py", []),
        ("from sockfix.core import faults", "sockfix/core/scenario/model.py", []),
        ("from .. import faults", "sockfix/core/scenario/model.py", []),
        ("from . import base, X", "sockfix/core/faults/__init__.py", []),
        ("from .base import X", "sockfix/core/faults/__init__.py", []),
        ("import sockfixture\nfrom sockfix_extra import x", "sockfix/core/rules.py", []),
    ],
)
def test_the_upward_checker_catches_imports(
    source: str, relpath: str, expected: list[tuple[int, str]]
) -> None:
    assert upward_imports(source, relpath, KNOWN) == expected


def test_known_modules_include_the_packages_above() -> None:
    assert known_modules(["sockfix/a/b/c.py"]) == {
        "sockfix",
        "sockfix.a",
        "sockfix.a.b",
        "sockfix.a.b.c",
    }


def test_a_relative_import_above_the_top_package_is_an_error() -> None:
    with pytest.raises(ValueError, match="above the top package"):
        imports("from .... import x", "sockfix/core/rules.py", KNOWN)


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
        ({"a": {"b", "c"}, "b": {"d"}, "c": {"d"}, "d": set()}, []),
        ({"a": {"b"}, "b": {"a"}}, ["a -> b -> a"]),
        ({"a": {"a"}}, ["a -> a"]),
        ({"c": {"a"}, "a": {"b"}, "b": {"c"}}, ["a -> b -> c -> a"]),
        ({"a": {"b", "c"}, "b": {"a"}, "c": {"a"}}, ["a -> b -> a", "a -> c -> a"]),
        ({"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"c", "e"}}, ["a -> b -> a", "c -> d -> c"]),
        ({"a": {"b"}, "b": {"c", "a"}, "c": {"a"}}, ["a -> b -> a", "a -> b -> c -> a"]),
    ],
)
def test_the_cycle_finder_finds_every_cycle(
    graph: dict[str, set[str]], expected: list[str]
) -> None:
    assert cycles(graph) == expected


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        pytest.param(
            {
                "sockfix/net/__init__.py": "",
                "sockfix/net/link.py": (
                    "from typing import TYPE_CHECKING\n"
                    "if TYPE_CHECKING:\n"
                    "    from sockfix.net.proxy import TCPProxy\n"
                ),
                "sockfix/net/proxy.py": "from sockfix.net.link import _Link\n",
            },
            ["sockfix.net.link -> sockfix.net.proxy -> sockfix.net.link"],
            id="type-checking",
        ),
        pytest.param(
            {
                "sockfix/a.py": "def f():\n    import sockfix.b\n",
                "sockfix/b.py": "from .a import x\n",
            },
            ["sockfix.a -> sockfix.b -> sockfix.a"],
            id="function-level-and-relative",
        ),
        pytest.param(
            {
                "sockfix/core/faults/__init__.py": "from sockfix.core.faults.base import F as F\n",
                "sockfix/core/faults/base.py": "from sockfix.core.faults import State\n",
            },
            ["sockfix.core.faults -> sockfix.core.faults.base -> sockfix.core.faults"],
            id="submodule-imports-its-package",
        ),
        pytest.param(
            {
                "sockfix/__init__.py": "from sockfix import a\n",
                "sockfix/a.py": "from sockfix import __version__\n",
            },
            ["sockfix -> sockfix.a -> sockfix"],
            id="from-package-import-a-name",
        ),
        pytest.param(
            {
                "sockfix/__init__.py": "from sockfix.a import x\n",
                "sockfix/a.py": "import sockfix.b\nfrom sockfix import b\n",
                "sockfix/b.py": "",
            },
            [],
            id="no-implicit-parent-edges",
        ),
    ],
)
def test_the_import_graph_finds_cycles(files: dict[str, str], expected: list[str]) -> None:
    assert cycles(import_graph(files)) == expected


def test_a_cycle_is_described_with_where_its_edges_are_written() -> None:
    files = {"sockfix/a.py": "\nimport sockfix.b\n", "sockfix/b.py": "from sockfix import a\n"}
    graph = import_graph(files)
    assert [describe_cycle(cycle, graph) for cycle in cycles(graph)] == [
        "sockfix.a -> sockfix.b -> sockfix.a\n"
        "    sockfix.a -> sockfix.b: sockfix/a.py:2\n"
        "    sockfix.b -> sockfix.a: sockfix/b.py:1"
    ]


# --- sockfix/faults.py is a face: it re-exports sockfix.core.faults and defines nothing ---

FACE_OF = "sockfix.core.faults"


def statement(node: ast.stmt) -> str:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return f"def {node.name}"
    if isinstance(node, ast.ClassDef):
        return f"class {node.name}"
    if isinstance(node, ast.Import):
        return "import " + ", ".join(alias.name for alias in node.names)
    if isinstance(node, ast.ImportFrom):
        return f"from {'.' * node.level}{node.module or ''} import ..."
    if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
        return "assignment"
    return type(node).__name__


def face_violations(source: str) -> list[str]:
    """Whatever in ``source`` is not its docstring, ``from __future__ import annotations``, an
    ``X as X`` re-export from ``sockfix.core.faults`` or the one ``__all__`` list of those names."""
    found: list[str] = []
    imported: set[str] = set()
    all_lists: list[ast.Assign] = []
    for i, node in enumerate(ast.parse(source).body):
        where = f"line {node.lineno}"
        if (
            i == 0
            and isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            continue
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module == "__future__":
            if [(alias.name, alias.asname) for alias in node.names] != [("annotations", None)]:
                found.append(f"{where}: from __future__ import other than annotations")
        elif (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and within(node.module or "", [FACE_OF])
        ):
            for alias in node.names:
                if alias.asname != alias.name:
                    found.append(
                        f"{where}: {alias.name} is not imported as '{alias.name} as {alias.name}'"
                    )
                imported.add(alias.asname or alias.name)
        elif (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id == "__all__"
        ):
            all_lists.append(node)
        else:
            found.append(f"{where}: {statement(node)}")
    if not all_lists:
        found.append("no __all__ = [...]")
    found += [f"line {node.lineno}: a second __all__" for node in all_lists[1:]]
    for node in all_lists[:1]:
        if not isinstance(node.value, ast.List):
            found.append(f"line {node.lineno}: __all__ is not a [...] list")
            continue
        for item in node.value.elts:
            if not (isinstance(item, ast.Constant) and isinstance(item.value, str)):
                found.append(f"line {item.lineno}: __all__ holds a non-string")
            elif item.value not in imported:
                found.append(f"line {item.lineno}: __all__ names {item.value!r}, not imported here")
    return found


def test_sockfix_faults_only_re_exports_core() -> None:
    assert face_violations((PACKAGE / "faults.py").read_text(encoding="utf-8")) == []


FACE = '''"""Doc."""

from __future__ import annotations

from sockfix.core.faults import Fault as Fault
from sockfix.core.faults.base import State as State

__all__ = ["Fault", "State"]
'''


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (FACE, []),
        (FACE.replace('"""Doc."""\n', ""), []),
        (FACE + "\ndef helper():\n    return 1\n", ["line 10: def helper"]),
        (FACE + "\nasync def helper():\n    pass\n", ["line 10: def helper"]),
        (FACE + "\nclass Own:\n    pass\n", ["line 10: class Own"]),
        (FACE + "\nLIMIT = 3\n", ["line 10: assignment"]),
        (FACE + "\nLIMIT: int\n", ["line 10: assignment"]),
        (FACE + "\n__all__ += ['X']\n", ["line 10: assignment"]),
        (FACE + "\n__all__ = []\n", ["line 10: a second __all__"]),
        (FACE + "\nprint('hi')\n", ["line 10: Expr"]),
        (FACE + '\n"""A second docstring."""\n', ["line 10: Expr"]),
        (FACE + "\nif True:\n    pass\n", ["line 10: If"]),
        (
            FACE.replace("Fault as Fault", "Fault"),
            ["line 5: Fault is not imported as 'Fault as Fault'"],
        ),
        (
            FACE.replace("Fault as Fault", "Fault as F"),
            [
                "line 5: Fault is not imported as 'Fault as Fault'",
                "line 8: __all__ names 'Fault', not imported here",
            ],
        ),
        (
            FACE.replace("Fault as Fault", "*"),
            [
                "line 5: * is not imported as '* as *'",
                "line 8: __all__ names 'Fault', not imported here",
            ],
        ),
        (FACE + "\nimport sockfix.core.faults\n", ["line 10: import sockfix.core.faults"]),
        (
            FACE + "\nfrom sockfix.net.tcp import TCPServer as TCPServer\n",
            ["line 10: from sockfix.net.tcp import ..."],
        ),
        (
            FACE + "\nfrom .core.faults import Fault as Fault\n",
            ["line 10: from .core.faults import ..."],
        ),
        (
            FACE.replace("annotations", "division"),
            ["line 3: from __future__ import other than annotations"],
        ),
        (
            FACE.replace('"State"]', '"State", "Drop"]'),
            ["line 8: __all__ names 'Drop', not imported here"],
        ),
        (FACE.replace('"State"]', "Fault]"), ["line 8: __all__ holds a non-string"]),
        (
            FACE.replace('["Fault", "State"]', '("Fault", "State")'),
            ["line 8: __all__ is not a [...] list"],
        ),
        (FACE.replace('__all__ = ["Fault", "State"]\n', ""), ["no __all__ = [...]"]),
    ],
)
def test_the_face_checker_catches_definitions(source: str, expected: list[str]) -> None:
    assert face_violations(source) == expected
