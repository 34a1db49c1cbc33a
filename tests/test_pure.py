"""The pure tests run without the heavy libraries: no langchain, chromadb, torch or llama_cpp.

A pure test reads no real Chroma and runs no model: functions on data, the loaders on files,
configuration, rendering, and fakes at the seams. That these never import a heavy library is
what keeps the seams (`rag.seams`) and the lazy imports of the backends honest, so this runs
them in a child pytest with those libraries made unimportable (`--without-heavy`, see
conftest). Component tests (real Chroma in `tmp_path`) and test_chunking (it tests
langchain's splitter through `chunk_article`) are not pure.
"""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import HEAVY, REPO

PURE = (
    "test_answer.py",
    "test_cite.py",
    "test_config.py",
    "test_dependencies.py",
    "test_docs.py",
    "test_eval_metrics.py",
    "test_eval_questions.py",
    "test_followup.py",
    "test_kinds.py",
    "test_layout.py",
    "test_load.py",
    "test_models.py",
    "test_names.py",
    "test_plan.py",
    "test_prompt.py",
    "test_sources.py",
    "test_ui_render.py",
    "test_verify.py",
)


def test_the_pure_tests_pass_without_the_heavy_libraries() -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--without-heavy"]
    result = subprocess.run(
        [*command, *(f"tests/{name}" for name in PURE)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "unimportable: " + ", ".join(HEAVY) in output  # in its header: they were blocked
    assert " passed" in output


def test_every_pure_file_exists() -> None:
    assert [name for name in PURE if not (REPO / "tests" / name).is_file()] == []
