"""Shared fixtures: fakes at the model seams, settings in a temporary directory."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import pytest

from rag.config import Settings, load_settings
from rag.seams import Message, Vectors

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
HEAVY = (
    "chromadb",
    "langchain",
    "langchain_core",
    "langchain_text_splitters",
    "llama_cpp",
    "torch",
)
"""What `--without-heavy` makes unimportable: the libraries behind the store, the splitter and
the models, which the pure tests (`tests/test_pure.py`) must not need."""


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--run-slow",
        action="store_true",
        help="also run the tests with real models, browser tests included",
    )
    parser.addoption(
        "--without-heavy",
        action="store_true",
        help="make " + ", ".join(HEAVY) + " unimportable, as if not installed",
    )


def pytest_configure(config: pytest.Config) -> None:
    if not config.getoption("--without-heavy"):
        return
    loaded = [name for name in HEAVY if name in sys.modules]
    if loaded:
        raise pytest.UsageError(f"--without-heavy: already imported: {', '.join(loaded)}")
    for name in HEAVY:
        sys.modules[name] = None  # type: ignore[assignment]  # import raises ImportError


def pytest_report_header(config: pytest.Config) -> str | None:
    if config.getoption("--without-heavy"):
        return "unimportable: " + ", ".join(HEAVY)
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="real models: run with --run-slow")
    for item in items:
        if "slow" in item.keywords or "browser" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def no_model_check_child(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fast tests never start the model check's child (it loads the real model)."""
    if "slow" in request.keywords or "browser" in request.keywords:
        return

    def refuse(*_args: object) -> list[str]:
        raise AssertionError("a fast test started the model check's child")

    monkeypatch.setattr("rag.model_check.child_command", refuse)


class KeywordEmbedder:
    """One dimension per keyword, so which passage is nearest is known in advance."""

    name = "fake-keyword"
    max_length = 512

    def __init__(self, keywords: Sequence[str]) -> None:
        self.keywords = [k.lower() for k in keywords]
        self.dim = len(self.keywords) + 1

    def _vector(self, text: str) -> Vectors:
        words = re.findall(r"\w+", text.lower())
        vector = np.array([words.count(k) for k in self.keywords] + [0.01], dtype=np.float32)
        return vector / np.linalg.norm(vector)

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        return np.stack([self._vector(t) for t in texts]) if texts else np.zeros((0, self.dim))

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        return self.embed_documents(texts)

    def count_tokens(self, text: str) -> int:
        return len(text.split())


class ScriptedGenerator:
    """Replies with the queued replies in order and records every prompt it was given: a
    text is streamed word by word, a mapping of options to log-probabilities is what
    `choose` weighs (options it does not name get -20)."""

    name = "scripted"

    def __init__(self, *replies: str | Mapping[str, float]) -> None:
        self.replies = list(replies)
        self.prompts: list[list[Message]] = []

    def stream(
        self, messages: Sequence[Message], *, max_tokens: int, stop: Sequence[str] = ()
    ) -> Iterator[str]:
        self.prompts.append(list(messages))
        reply = self.replies.pop(0)
        assert isinstance(reply, str), f"stream() was called where {reply} was scripted"
        yield from re.findall(r"\S+\s*", reply)

    def choose(self, messages: Sequence[Message], options: Sequence[str]) -> dict[str, float]:
        self.prompts.append(list(messages))
        reply = self.replies.pop(0)
        assert not isinstance(reply, str), f"choose() was called where {reply!r} was scripted"
        return {option: reply.get(option, -20.0) for option in options}

    def count_tokens(self, text: str) -> int:
        return len(text.split())


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(
        {"data_dir": tmp_path / "data", "cache_dir": tmp_path / "cache"}, environ={}, cwd=tmp_path
    )


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


LONDON = "Who attended the London meeting?"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """An environment for `rag` processes with data and cache dirs of the module's own."""
    return rag_env(tmp_path_factory.mktemp("rag"))


def rag_env(home: Path) -> dict[str, str]:
    """This process's environment without RAG_* settings, with data and cache dirs in `home`."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    environ.update(RAG_DATA_DIR=str(home / "data"), RAG_CACHE_DIR=str(home / "cache"))
    return environ


def rag(env: dict[str, str], *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """`rag ARGS` in a process of its own, in the environment `env`."""
    return subprocess.run(
        [sys.executable, "-m", "rag", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
