"""The sentence-transformers embedder (default: all-MiniLM-L6-v2, shipped offline).

Documents are embedded in batches by torch. A question is embedded alone while somebody
waits, and there torch spends half its time on per-operation overhead: so questions go
through ONNX Runtime instead, running the same weights, exported once into the cache
(measured on two cores for a 60-token question: 40 ms with torch, 21 ms with ONNX Runtime,
vectors equal to 1e-6). A model that cannot be exported, or whose export does not give
torch's vectors, embeds questions with torch.
"""

from __future__ import annotations

import hashlib
import logging
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np

from rag.errors import ModelError
from rag.seams import Vectors

log = logging.getLogger(__name__)
PROBES = [
    "Talks in London.",
    "Officials from France, Germany and Ukraine met in London on Wednesday to discuss the "
    "ceasefire talks, a week after the summit in Paris ended without an agreement on Gaza.",
]
"""Embedded both ways when an export is loaded, the two must agree: texts of two lengths,
so that an export that fixed the length it was traced with is caught."""
AGREEMENT = 1e-4
"""Largest difference in any coordinate allowed between the two engines' vectors."""


class SentenceTransformerEmbedder:
    """Embeds with a sentence-transformers model, normalized so that dot product is cosine."""

    def __init__(
        self, name: str, *, path: str, cache_dir: Path | None = None, batch_size: int = 32
    ) -> None:
        if Path(path).exists():
            # A local model must never wait on a hub that cannot be reached.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]

        try:
            self._model = SentenceTransformer(path, device="cpu")
        except (OSError, ValueError) as exc:
            raise ModelError(
                f"cannot load embedder {name!r}: {exc}",
                hint="Set --embedder to a sentence-transformers model folder, "
                "or unset it for the bundled default.",
            ) from exc
        dim = self._model.get_embedding_dimension()
        if dim is None:
            raise ModelError(
                f"embedder {name!r} has no fixed embedding size",
                hint="Use a sentence-transformers model with a pooling layer.",
            )
        self.name = name
        self.dim = dim
        # A model without a limit of its own is read whole: say so with a large number.
        self.max_length = self._model.max_seq_length or 1_000_000
        self._tokenizer = self._model.tokenizer
        self._batch_size = batch_size
        self._path = Path(path)
        self._cache_dir = cache_dir
        self._session: Any = None
        """ONNX Runtime's session for questions; False once found unusable."""

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._encode(list(texts))

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        # MiniLM embeds queries and documents alike; only the engine differs.
        session = self._query_session()
        if not session or not texts:
            return self.embed_documents(texts)
        try:
            return np.vstack([self._run(session, text) for text in texts])
        except Exception as exc:  # from now on torch, which read this text before
            log.warning("questions are embedded with torch: ONNX Runtime failed (%s)", exc)
            self._session = False
            return self.embed_documents(texts)

    def count_tokens(self, text: str) -> int:
        return len(self._tokenizer.encode(text, add_special_tokens=False, verbose=False))

    def _encode(self, texts: list[str]) -> Vectors:
        vectors = self._model.encode(
            texts,
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return cast(Vectors, np.asarray(vectors, dtype=np.float32))

    def _query_session(self) -> Any:
        """The ONNX Runtime session for questions, exported on first use; None when this
        model is not a mean-pooled transformer, cannot be exported here, or disagrees."""
        if self._session is None:
            self._session = self._load_session() or False
        return self._session

    def _load_session(self) -> Any:
        from sentence_transformers.sentence_transformer.modules import (
            Normalize,
            Pooling,
            Transformer,
        )

        modules = list(self._model)
        pooling = modules[1] if len(modules) > 1 else None
        mean_pooled = (  # and nothing after but normalizing: what the export computes
            isinstance(modules[0], Transformer)
            and isinstance(pooling, Pooling)
            and pooling.pooling_mode == "mean"
            and all(isinstance(m, Normalize) for m in modules[2:])
        )
        if self._cache_dir is None or not mean_pooled:
            return None
        try:
            import onnxruntime
            import torch

            file = self._export()
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = torch.get_num_threads()
            # Idle threads spinning after a question would slow the search that follows.
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            options.log_severity_level = 3
            session = onnxruntime.InferenceSession(
                str(file), options, providers=["CPUExecutionProvider"]
            )
            by_onnx = np.vstack([self._run(session, probe) for probe in PROBES])
        except Exception as exc:  # any failure leaves torch doing the work, as before
            log.warning("questions are embedded with torch: no ONNX export (%s)", exc)
            return None
        gap = float(np.abs(by_onnx - self._encode(PROBES)).max())
        if gap > AGREEMENT:
            log.warning("questions are embedded with torch: the ONNX export differs by %g", gap)
            return None
        return session

    def _export(self) -> Path:
        """The model exported to ONNX under the cache dir, once per model folder content."""
        import torch

        assert self._cache_dir is not None
        key = hashlib.sha256(str(self._path.resolve()).encode())
        for file in sorted(p for p in self._path.rglob("*") if p.is_file()):
            stat = file.stat()
            key.update(f"{file.relative_to(self._path)}|{stat.st_size}|{stat.st_mtime_ns}".encode())
        target = self._cache_dir / "onnx" / f"{key.hexdigest()[:16]}.onnx"
        if target.is_file():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        sample = dict(self._tokenizer([PROBES[-1]], return_tensors="pt"))
        names = list(sample)
        model = _mean_pooled(self._model[0].auto_model, names).eval()
        partial = target.with_suffix(f".{os.getpid()}.partial")
        try:
            with torch.inference_mode(), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the tracer's notes; the probes check it
                torch.onnx.export(
                    model,
                    tuple(sample[n] for n in names),
                    str(partial),
                    input_names=names,
                    output_names=["embedding"],
                    dynamic_axes={n: {0: "batch", 1: "tokens"} for n in names},
                    opset_version=17,
                    dynamo=False,
                )
            partial.replace(target)
        finally:
            partial.unlink(missing_ok=True)
        return target

    def _run(self, session: Any, text: str) -> Vectors:
        inputs = self._tokenizer(
            [text], return_tensors="np", truncation=True, max_length=self.max_length
        )
        wanted = {i.name for i in session.get_inputs()}
        feed = {n: np.asarray(v, dtype=np.int64) for n, v in inputs.items() if n in wanted}
        return cast(Vectors, np.asarray(session.run(None, feed)[0], dtype=np.float32))


def _mean_pooled(transformer: Any, names: list[str]) -> Any:
    """The transformer, mean-pooled over real tokens and normalized: what the
    sentence-transformers pipeline computes, as one module to export."""
    import torch

    class MeanPooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            given = dict(zip(names, inputs, strict=True))
            tokens = self.transformer(**given).last_hidden_state
            mask = given["attention_mask"].unsqueeze(-1).to(tokens.dtype)
            pooled = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=-1)

    return MeanPooled()
