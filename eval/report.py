"""The report of an evaluation run, as a typed object (report.json is its JSON form; the
files of a run are written by `eval.output`, its Markdown rendered by `eval.markdown`)."""

from __future__ import annotations

import platform
import subprocess
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from eval.summary import Summary

REPORT_VERSION = 1
"""The version of report.json's layout, written into it."""

PACKAGES = (
    "newsrag",
    "chromadb",
    "sentence-transformers",
    "torch",
    "llama-cpp-python",
    "langchain-text-splitters",
)


@dataclass(frozen=True)
class DatasetInfo:
    """The question set of a run (its format, as detected, and its hash), and how many of
    its questions the run asked."""

    path: str
    format: str
    sha256: str
    questions_total: int
    questions_run: int


@dataclass(frozen=True)
class CorpusInfo:
    """The articles the questions are about, and the index built from them."""

    path: str
    index: str


@dataclass(frozen=True)
class Options:
    """How the questions were chosen (`--limit`, `--held-out`, `--types`), and whether only
    retrieval was scored."""

    limit: int | None
    held_out: int | None
    types: list[str] | None
    retrieval_only: bool


@dataclass(frozen=True)
class Environment:
    """Package versions, Python and the git revision (None outside a checkout)."""

    python: str
    packages: dict[str, str | None]
    git_revision: str | None
    git_dirty: bool


@dataclass(frozen=True)
class Report:
    """One run of `rag eval`: what was asked, with which settings, model and code, and the
    numbers (`metrics`). report.json is its JSON form; report.md renders it."""

    created_at: str
    seconds: float
    dataset: DatasetInfo
    corpus: CorpusInfo | None
    options: Options
    settings: dict[str, Any]
    """The settings as JSON (`Settings.model_dump(mode="json")`)."""
    model: str | None
    """The answer model as `rag status` names it; None for a retrieval-only run."""
    environment: Environment
    metrics: Summary

    def to_json(self) -> dict[str, Any]:
        return {
            "report_version": REPORT_VERSION,
            "created_at": self.created_at,
            "seconds": self.seconds,
            "dataset": asdict(self.dataset),
            "corpus": asdict(self.corpus) if self.corpus else None,
            "options": asdict(self.options),
            "settings": self.settings,
            "model": self.model,
            "environment": asdict(self.environment),
            "metrics": self.metrics.to_json(),
        }


def environment(repo: Path) -> Environment:
    """Package versions, Python and the git revision (None outside a checkout)."""
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    try:
        revision = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = bool(
            subprocess.run(
                ["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True
            ).stdout.strip()
        )
    except (OSError, subprocess.CalledProcessError):
        revision, dirty = None, False
    return Environment(
        python=platform.python_version(),
        packages=versions,
        git_revision=revision,
        git_dirty=dirty,
    )
