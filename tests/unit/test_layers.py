"""Imports run one way: the library never imports the command layer (``patentgen.commands``,
``patentgen.cli``), and no patentgen modules import each other in a circle. Read from the source
with ``ast`` (every import, at module top or inside a function), so nothing is imported here."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "patentgen"
COMMAND_LAYER = ("patentgen.commands", "patentgen.cli")

# Edges allowed for now, each with its reason (none today); delete one when the code no longer has it.
EXEMPT: set[tuple[str, str]] = set()


def modules(package: Path) -> dict[str, tuple[Path, bool]]:
    """Dotted module name -> (file, is a package's ``__init__``) for every .py under ``package``."""
    found = {}
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


def import_graph(package: Path) -> dict[str, dict[str, int]]:
    """module -> {imported module of the same package: line of the first such import}."""
    known, top = modules(package), package.name
    graph: dict[str, dict[str, int]] = {}
    for name, (path, is_package) in known.items():
        here = name.split(".") if is_package else name.split(".")[:-1]
        edges = graph[name] = {}
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = ".".join(here[: len(here) - node.level + 1] + [node.module or ""]).strip(".") if node.level else node.module
                # ``from pkg import x``: the module pkg.x if there is one, else a name in pkg
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
            else:
                continue
            for target in targets:
                if target and target.split(".")[0] == top:
                    edges.setdefault(target, node.lineno)
    return graph


def upward(graph: dict[str, dict[str, int]], exempt=frozenset()) -> list[str]:
    """Imports of the command layer by library modules (anything outside it)."""
    def command(name: str) -> bool:
        return any(name == layer or name.startswith(layer + ".") for layer in COMMAND_LAYER)

    return [f"{source} -> {target} (line {line})" for source, edges in sorted(graph.items()) if not command(source)
            for target, line in sorted(edges.items()) if command(target) and (source, target) not in exempt]


def cycles(graph: dict[str, dict[str, int]], exempt=frozenset()) -> list[list[str]]:
    """Each circle of imports once, as the modules along it from the first in name order (first = last)."""
    found, done = [], set()

    def visit(node: str, path: list[str]) -> None:
        for target in sorted(graph.get(node, {})):
            if (node, target) in exempt:
                continue
            if target in path:
                ring = path[path.index(target):]
                first = ring.index(min(ring))
                circle = ring[first:] + ring[:first] + [min(ring)]  # starting at its first name
                if tuple(circle) not in done:
                    done.add(tuple(circle))
                    found.append(circle)
            elif target not in finished:
                visit(target, path + [target])
        finished.add(node)

    finished: set[str] = set()
    for start in sorted(graph):
        if start not in finished:
            visit(start, [start])
    return found


def test_the_library_never_imports_the_command_layer():
    assert upward(import_graph(PACKAGE), EXEMPT) == []


def test_patentgen_modules_import_each_other_in_no_circle():
    assert cycles(import_graph(PACKAGE), EXEMPT) == []


def test_the_checks_find_an_upward_import_and_a_circle(tmp_path):
    package = tmp_path / "patentgen"
    (package / "commands").mkdir(parents=True)
    files = {
        "__init__.py": "",
        "cli.py": "from .errors import UserError\n",
        "errors.py": "class UserError(Exception):\n    pass\n",
        "runs.py": "from . import models\n\n\ndef load():\n    from .cli import parse  # inside a function counts too\n",
        "models/__init__.py": "from .base import Architecture\n",
        "models/base.py": "def load():\n    from ..runs import load\n",
        "commands/__init__.py": "",
        "commands/train.py": "from patentgen import cli, runs\nimport patentgen.models.base\n",
    }
    for name, text in files.items():
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text(text)
    graph = import_graph(package)
    assert graph["patentgen.commands.train"] == {"patentgen.cli": 1, "patentgen.runs": 1, "patentgen.models.base": 2}
    assert upward(graph) == ["patentgen.runs -> patentgen.cli (line 5)"]
    assert cycles(graph) == [["patentgen.models", "patentgen.models.base", "patentgen.runs", "patentgen.models"]]
    assert cycles(graph, {("patentgen.models.base", "patentgen.runs")}) == []
