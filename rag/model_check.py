"""Does the answer model run on this machine? A tiny generation in a child process, once a build.

llama.cpp is native code compiled on the user's machine. A build that uses CPU instructions
this machine cannot run (for example AMX, which some virtual machines advertise and then trap)
dies of SIGILL on the first real prompt: no traceback, no message, exit status 132. So before
the first answer on a given build, a child process loads the model and writes two tokens; if
it dies, the parent raises `NativeCrashError` naming the cause and the command that reinstalls
llama-cpp-python portably. A pass is cached per build, model and CPU (sizes and times of the
native libraries and the model file, and the CPU's flags), so later answers pay nothing.

Run as `python -m rag.model_check MODEL THREADS` (0 threads: all cores): the child itself.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import platform
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from rag.errors import ModelError, NativeCrashError

CACHE_FILE = "model-check.json"
TIMEOUT_SECONDS = 300
"""The check takes 1-4 s here (model load included); a hang is a failure."""
CRASHES = {signal.SIGILL, signal.SIGSEGV, signal.SIGBUS, signal.SIGFPE, signal.SIGABRT}
"""Signals by which native code dies of itself (SIGKILL and SIGTERM come from outside)."""
PORTABLE_BUILD = "cmake.define.GGML_NATIVE=OFF"
"""The llama-cpp-python build setting that compiles for any x86-64 CPU with AVX2 (see README)."""


def child_command(model: Path, threads: int | None) -> list[str]:
    """The child that proves the model runs: it loads `model` and writes two tokens.

    `-P`: the current directory is not put on the path, so no other `rag` can shadow ours.
    """
    return [sys.executable, "-P", "-m", "rag.model_check", str(model), str(threads or 0)]


def ensure_model_runs(
    model: Path, *, cache_dir: Path, threads: int | None, force: bool = False
) -> float | None:
    """Raise `NativeCrashError` (or `ModelError`) unless `model` generates on this build.

    Returns the seconds the check took, or None when a pass for this build, model and CPU
    was already cached (and `force` is not set).
    """
    key = build_key(model)
    cache = cache_dir / CACHE_FILE
    passed = _read_cache(cache)
    if key in passed and not force:
        return None
    started = time.perf_counter()
    run_child(child_command(model, threads), model=model)
    seconds = time.perf_counter() - started
    passed[key] = {
        "model": str(model),
        "checked_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        partial = cache.with_name(cache.name + ".partial")
        partial.write_text(json.dumps(passed, indent=2), encoding="utf-8")
        partial.replace(cache)
    except OSError:  # an unwritable cache costs a check per process, not the answer
        pass
    return seconds


def last_pass(model: Path, *, cache_dir: Path) -> str | None:
    """When `model` last passed the check on this build and CPU (ISO time), or None."""
    entry = _read_cache(cache_dir / CACHE_FILE).get(build_key(model))
    return str(entry["checked_at"]) if entry else None


def run_child(command: Sequence[str], *, model: Path) -> None:
    """Run the check's child; turn its death into an error that says why and what to do."""
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise ModelError(
            f"a test generation with {model.name} did not finish in {TIMEOUT_SECONDS} s",
            hint="Check that the machine is not out of memory, then run `rag doctor`.",
        ) from exc
    if result.returncode == 0:
        return
    if result.returncode < 0:
        raise _death(-result.returncode, model)
    last = (result.stderr.strip().splitlines() or ["no message"])[-1]
    raise ModelError(
        f"a test generation with {model.name} failed: {last}",
        hint=f"Run the check by hand to see the whole error: {shlex.join(command)}",
    )


def reinstall_command() -> str:
    """The command that rebuilds the installed llama-cpp-python for the plainest CPU of
    its kind (on x86-64: AVX2, FMA, F16C and BMI2, nothing newer)."""
    try:
        version = importlib.metadata.version("llama-cpp-python")
        requirement = f"llama-cpp-python=={version}"
    except importlib.metadata.PackageNotFoundError:
        requirement = "llama-cpp-python"
    return (
        f"{sys.executable} -m pip install --force-reinstall --no-deps --no-cache-dir "
        f"-C {PORTABLE_BUILD} '{requirement}'"
    )


def build_key(model: Path) -> str:
    """What a pass depends on: the native libraries, the model file, the CPU, and how the
    model is loaded (flash attention runs other native code)."""
    parts = [_cpu(), *(_stamp(p) for p in _native_libraries()), _stamp(model), "flash_attn"]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


def _death(number: int, model: Path) -> ModelError:
    """The error for a child killed by signal `number`: a crash in native code, or not."""
    try:
        name = signal.Signals(number).name
    except ValueError:  # a real-time signal has no name of its own
        name = f"signal {number}"
    if number not in CRASHES:
        return ModelError(
            f"a test generation with {model.name} was stopped by {name}",
            hint="SIGKILL mostly means the machine ran out of memory: close other programs "
            "or pass a smaller --model, then run `rag doctor`."
            if number == signal.SIGKILL
            else "Run `rag doctor` to check again.",
        )
    if number == signal.SIGILL:
        message = (
            "the llama.cpp build uses CPU instructions this machine cannot run: a test "
            f"generation with {model.name} died of SIGILL (illegal instruction) in native code"
        )
    else:
        message = f"llama.cpp crashed in native code ({name}) during a test generation"
    plainest = "any x86-64 CPU with AVX2" if platform.machine() == "x86_64" else "any CPU"
    return NativeCrashError(
        message, hint=f"Reinstall llama-cpp-python built for {plainest}: {reinstall_command()}"
    )


def _native_libraries() -> list[Path]:
    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or spec.origin is None:
        return []
    folder = Path(spec.origin).parent / "lib"
    return sorted(folder.iterdir()) if folder.is_dir() else []


def _stamp(path: Path) -> str:
    stat = path.stat()
    return f"{path} {stat.st_size} {stat.st_mtime_ns}"


def _cpu() -> str:
    """The CPU's model and flags (Linux), else what `platform` knows."""
    try:
        lines = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        lines = []
    wanted = [ln for ln in lines if ln.startswith(("model name", "flags", "Features"))]
    return " | ".join([platform.machine(), *dict.fromkeys(wanted)])


def _read_cache(path: Path) -> dict[str, dict[str, str]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _generate(model: Path, threads: int | None) -> None:
    """The child's work: the real backend, a short chat prompt, two tokens."""
    from rag.backends.llama_cpp import LlamaCppGenerator
    from rag.seams import Message

    generator = LlamaCppGenerator(model, context_tokens=512, threads=threads)
    # A few hundred tokens, so that the kernels for batches of tokens run, as in an answer.
    passage = "The council met in London on Tuesday to discuss the bridge. " * 20
    prompt = [Message(role="user", content=f"{passage}\nReply with one word: who met?")]
    for _ in generator.stream(prompt, max_tokens=2):
        pass


def main(argv: Sequence[str]) -> int:
    model, threads = argv
    _generate(Path(model), int(threads) or None)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
