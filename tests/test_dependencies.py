"""Every package newsrag imports is one it declares: nothing relies on what happened to be
installed alongside (as `lxml.html.clean` once came with lxml 5 and is gone from lxml 6)."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions

from conftest import REPO

OWN = {"rag", "ui", "eval"}


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared() -> set[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        requirements += extra
    return {normalize(re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0]) for r in requirements}


def imported() -> dict[str, str]:
    """Top-level modules imported by newsrag's code, with a file that imports each."""
    found: dict[str, str] = {}
    for folder in OWN:
        for path in sorted((REPO / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top not in sys.stdlib_module_names and top not in OWN:
                        found.setdefault(top, str(path.relative_to(REPO)))
    return found


def test_every_imported_package_is_declared() -> None:
    providers = packages_distributions()
    wanted = declared()
    undeclared = {
        module: where
        for module, where in imported().items()
        if not {normalize(d) for d in providers.get(module, [module])} & wanted
    }
    assert not undeclared, f"imported but not declared in pyproject.toml: {undeclared}"


def test_the_html_path_has_its_cleaner() -> None:
    """trafilatura imports lxml.html.clean, which lxml 6 moved into lxml_html_clean."""
    assert "lxml-html-clean" in declared()
    import lxml.html.clean  # noqa: F401
