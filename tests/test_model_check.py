"""The check that the answer model runs: a native crash in its child becomes a clear error."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

from rag import model_check
from rag.config import Settings
from rag.errors import ModelError, NativeCrashError
from rag.model_check import ensure_model_runs, last_pass
from rag.pipeline import Pipeline

SIGILL_CHILD = [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGILL)"]
HEALTHY_CHILD = [sys.executable, "-c", "pass"]


@pytest.fixture
def model(tmp_path: Path) -> Path:
    path = tmp_path / "model.gguf"
    path.write_bytes(b"GGUF not really")
    return path


def use_child(monkeypatch: pytest.MonkeyPatch, command: list[str]) -> list[int]:
    """Make the check run `command`; the list it returns counts the runs."""
    runs: list[int] = []

    def child(_model: Path, _threads: int | None) -> list[str]:
        runs.append(1)
        return command

    monkeypatch.setattr(model_check, "child_command", child)
    return runs


def test_a_child_killed_by_sigill_becomes_an_error_naming_the_cause_and_the_fix(
    monkeypatch: pytest.MonkeyPatch, model: Path, tmp_path: Path
) -> None:
    use_child(monkeypatch, SIGILL_CHILD)
    with pytest.raises(NativeCrashError) as caught:
        ensure_model_runs(model, cache_dir=tmp_path / "cache", threads=None)
    error = caught.value
    assert "CPU instructions this machine cannot run" in error.message
    assert "SIGILL" in error.message
    assert f"{sys.executable} -m pip install --force-reinstall" in error.hint
    assert "-C cmake.define.GGML_NATIVE=OFF" in error.hint
    assert last_pass(model, cache_dir=tmp_path / "cache") is None  # a crash is never cached


def test_another_signal_is_named_too(
    monkeypatch: pytest.MonkeyPatch, model: Path, tmp_path: Path
) -> None:
    use_child(monkeypatch, [sys.executable, "-c", "import os; os.abort()"])
    with pytest.raises(NativeCrashError, match=r"crashed in native code \(SIGABRT\)"):
        ensure_model_runs(model, cache_dir=tmp_path, threads=None)


def test_a_python_error_in_the_child_is_reported_with_its_last_line(
    monkeypatch: pytest.MonkeyPatch, model: Path, tmp_path: Path
) -> None:
    use_child(monkeypatch, [sys.executable, "-c", "raise ValueError('not a GGUF file')"])
    with pytest.raises(ModelError, match="failed: ValueError: not a GGUF file") as caught:
        ensure_model_runs(model, cache_dir=tmp_path, threads=None)
    assert not isinstance(caught.value, NativeCrashError)
    assert caught.value.hint.startswith("Run the check by hand to see the whole error: ")
    assert "raise ValueError" in caught.value.hint


@pytest.mark.parametrize(
    ("number", "named", "hint"),
    [(signal.SIGKILL, "SIGKILL", "out of memory"), (signal.SIGRTMIN + 2, "signal ", "doctor")],
)
def test_a_child_killed_from_outside_is_not_called_a_crash(
    monkeypatch: pytest.MonkeyPatch, model: Path, tmp_path: Path, number: int, named: str, hint: str
) -> None:
    use_child(monkeypatch, [sys.executable, "-c", f"import os; os.kill(os.getpid(), {number})"])
    with pytest.raises(ModelError, match=f"was stopped by {named}") as caught:
        ensure_model_runs(model, cache_dir=tmp_path, threads=None)
    assert not isinstance(caught.value, NativeCrashError)
    assert hint in caught.value.hint and "pip install" not in caught.value.hint


def test_a_pass_is_cached_per_build_and_model_and_forced_checks_run_again(
    monkeypatch: pytest.MonkeyPatch, model: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    runs = use_child(monkeypatch, HEALTHY_CHILD)
    assert ensure_model_runs(model, cache_dir=cache, threads=None) is not None
    assert last_pass(model, cache_dir=cache) is not None
    assert ensure_model_runs(model, cache_dir=cache, threads=None) is None  # cached
    assert len(runs) == 1

    use_child(monkeypatch, SIGILL_CHILD)
    ensure_model_runs(model, cache_dir=cache, threads=None)  # still the cached pass
    with pytest.raises(NativeCrashError):
        ensure_model_runs(model, cache_dir=cache, threads=None, force=True)

    os.utime(model, ns=(1, 1))  # another model file (or build) is checked afresh
    assert last_pass(model, cache_dir=cache) is None
    with pytest.raises(NativeCrashError):
        ensure_model_runs(model, cache_dir=cache, threads=None)


def test_status_reports_the_cached_pass(
    monkeypatch: pytest.MonkeyPatch, model: Path, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path / "data", cache_dir=tmp_path / "cache", model=model)
    assert Pipeline(settings).status().model_checked is None
    use_child(monkeypatch, HEALTHY_CHILD)
    ensure_model_runs(model, cache_dir=settings.cache_dir, threads=None)
    assert Pipeline(settings).status().model_checked == last_pass(
        model, cache_dir=settings.cache_dir
    )


def test_an_unwritable_cache_only_means_checking_again(
    monkeypatch: pytest.MonkeyPatch, model: Path, tmp_path: Path
) -> None:
    not_a_folder = tmp_path / "cache"
    not_a_folder.write_text("")
    runs = use_child(monkeypatch, HEALTHY_CHILD)
    assert ensure_model_runs(model, cache_dir=not_a_folder, threads=None) is not None
    assert ensure_model_runs(model, cache_dir=not_a_folder, threads=None) is not None
    assert len(runs) == 2


def test_the_answer_model_is_checked_in_a_child_before_it_loads(
    monkeypatch: pytest.MonkeyPatch, model: Path, tmp_path: Path
) -> None:
    from rag.backends import llama_cpp

    def load(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the model was loaded before the check")

    monkeypatch.setattr(llama_cpp, "LlamaCppGenerator", load)
    use_child(monkeypatch, SIGILL_CHILD)
    settings = Settings(data_dir=tmp_path / "data", cache_dir=tmp_path / "cache", model=model)
    with pytest.raises(NativeCrashError):
        _ = Pipeline(settings).generator
