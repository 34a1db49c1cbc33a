"""The house keeps its shape: no module over 350 lines, no import cycle (imports for types
included), `rag` never imports `ui` or `eval`, and only `rag.langchain` imports
LangChain's core."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import REPO

PACKAGES = ("rag", "ui", "eval")
MAX_LINES = 350


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            name = ".".join(path.relative_to(REPO).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def imported(path: Path) -> set[str]:
    """Every module that `path` imports anywhere (at the top, in functions, or under
    TYPE_CHECKING), and each name imported from one as `module.name`."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def imports(path: Path, known: dict[str, Path]) -> set[str]:
    """The project's modules that `path` imports anywhere."""
    return imported(path) & set(known)


def test_no_module_is_over_the_limit() -> None:
    lengths = {name: len(path.read_text().splitlines()) for name, path in modules().items()}
    assert {name: n for name, n in lengths.items() if n > MAX_LINES} == {}


def test_rag_never_imports_ui_or_eval() -> None:
    known = modules()
    reaching = {
        name: sorted(n for n in imports(path, known) if n.split(".")[0] != "rag")
        for name, path in known.items()
        if name.split(".")[0] == "rag"
    }
    assert {name: out for name, out in reaching.items() if out} == {}


def test_there_is_no_import_cycle() -> None:
    known = modules()
    graph = {name: imports(path, known) - {name} for name, path in known.items()}
    state: dict[str, str] = {}  # "open" while its imports are being walked, then "done"

    def walk(name: str, path: list[str]) -> list[str] | None:
        state[name] = "open"
        for other in sorted(graph[name]):
            if state.get(other) == "open":
                return [*path[path.index(other) :], other]
            if other not in state and (cycle := walk(other, [*path, other])):
                return cycle
        state[name] = "done"
        return None

    for name in sorted(graph):
        if name not in state:
            assert walk(name, [name]) is None


def test_only_rag_langchain_imports_langchain_core() -> None:
    """The rest of `rag` works without LangChain's core (its splitter aside)."""
    importing = {
        name
        for name, path in modules().items()
        if any(n.split(".")[0] == "langchain_core" for n in imported(path))
    }
    assert {name for name in importing if name.startswith("rag")} == {"rag.langchain"}
