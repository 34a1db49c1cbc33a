"""`rag doctor`: check, one part at a time, that this installation can answer questions.

Each check runs even when an earlier one failed (unless it needs what failed), and says what
to do about a failure. The llama.cpp check always runs afresh here: a test generation in a
child process (see `rag.model_check`), whose pass is then cached for later answers.
"""

from __future__ import annotations

import importlib.metadata
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass

from rag.config import Settings
from rag.errors import RagError
from rag.model_check import ensure_model_runs
from rag.pipeline import Pipeline


@dataclass(frozen=True)
class Check:
    """One part of the installation and whether it works."""

    name: str
    ok: bool
    detail: str
    hint: str = ""


def run_checks(settings: Settings) -> list[Check]:
    """Data directory, index, answer model and llama.cpp build (or the model server),
    embedder: in that order."""
    pipeline: Pipeline | None = None

    def open_index() -> str:
        nonlocal pipeline
        pipeline = Pipeline(settings)
        stats = pipeline.store.stats()
        recorded = pipeline.store.embedder
        built = f", built with {recorded[0]}" if recorded else ""
        return f"{stats.articles} articles, {stats.chunks} chunks{built}"

    checks = [_attempt("data dir", lambda: _writable(settings)), _attempt("index", open_index)]
    if pipeline is None:
        return checks
    ready = pipeline
    if settings.llm_url:
        checks.append(_attempt("model server", lambda: _served(ready)))
    else:
        model = _attempt("answer model", lambda: str(ready.model_path))
        checks.append(model)
        if model.ok:
            checks.append(_attempt("llama.cpp", lambda: _generation(ready)))
        else:
            checks.append(Check("llama.cpp", False, "not checked: the answer model is missing"))
    checks.append(_attempt("embedder", lambda: _embedding(ready)))
    return checks


def _attempt(name: str, check: Callable[[], str]) -> Check:
    try:
        return Check(name, True, check())
    except RagError as exc:
        return Check(name, False, exc.message, exc.hint)
    except OSError as exc:
        return Check(name, False, str(exc), "Check the path and its permissions.")
    except Exception as exc:  # a broken install is what doctor is run for: report, go on
        return Check(
            name,
            False,
            f"{type(exc).__name__}: {exc}",
            "Reinstall: pip install -r requirements.txt (see README, Troubleshooting).",
        )


def _writable(settings: Settings) -> str:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=settings.data_dir):
        pass
    return f"{settings.data_dir} (writable)"


def _generation(pipeline: Pipeline) -> str:
    settings = pipeline.settings
    seconds = ensure_model_runs(
        pipeline.model_path, cache_dir=settings.cache_dir, threads=settings.threads, force=True
    )
    version = importlib.metadata.version("llama-cpp-python")
    return f"llama-cpp-python {version}: a test generation ran in {seconds or 0:.1f} s"


def _served(pipeline: Pipeline) -> str:
    started = time.perf_counter()
    generator = pipeline.generator
    reply = "".join(generator.stream([{"role": "user", "content": "Say OK."}], max_tokens=2))
    seconds = time.perf_counter() - started
    return f"{generator.name}: a test generation ({reply.strip()!r}) took {seconds:.1f} s"


def _embedding(pipeline: Pipeline) -> str:
    embedder = pipeline.embedder
    embedder.embed_queries(["Who attended the London meeting?"])
    return f"{embedder.name} ({embedder.dim} dims)"
