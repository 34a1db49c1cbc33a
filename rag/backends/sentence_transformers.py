"""The sentence-transformers embedder with torch (default: all-MiniLM-L6-v2, shipped offline),
and its export to ONNX.

A mean-pooled model is exported once to ONNX and embedded from then on by ONNX Runtime
(`rag.backends.onnx`: no torch, twice as fast). This embedder is what the export is checked
against, and what embeds with a model that cannot be exported (another pooling, layers after
the pooling) or where ONNX Runtime is missing.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np

from rag.backends.onnx import Export, OnnxEmbedder, save_facts
from rag.errors import ModelError
from rag.seams import Vectors

log = logging.getLogger(__name__)
PROBES = [
    "Talks in London.",
    "Officials from France, Germany and Ukraine met in London on Wednesday to discuss the "
    "ceasefire talks, a week after the summit in Paris ended without an agreement on Gaza.",
]
"""Embedded both ways when an export is made, the two must agree: texts of two lengths,
so that an export that fixed the length it was traced with is caught."""
AGREEMENT = 1e-4
"""Largest difference in any coordinate allowed between the two engines' vectors."""
INT8_AGREEMENT = 0.97
"""Smallest cosine allowed between a vector of the int8 export and torch's. Measured on the
9,534 MultiHop-RAG chunks: 0.994 on average, 0.988 at worst (0.978 for an empty text);
retrieval on the 453 answerable dev questions: Hits@10 0.947 against 0.945 in float32,
MRR@10 0.715 against 0.710."""


class SentenceTransformerEmbedder:
    """Embeds with a sentence-transformers model, normalized so that dot product is cosine."""

    def __init__(self, name: str, *, path: str, batch_size: int = 32) -> None:
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

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._encode(list(texts))

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        # MiniLM embeds queries and documents alike.
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

    def can_export(self) -> bool:
        """Whether the model is a transformer, mean-pooled, then at most normalized: what
        the ONNX export computes."""
        from sentence_transformers.sentence_transformer.modules import (
            Normalize,
            Pooling,
            Transformer,
        )

        modules = list(self._model)
        pooling = modules[1] if len(modules) > 1 else None
        return (
            isinstance(modules[0], Transformer)
            and isinstance(pooling, Pooling)
            and pooling.pooling_mode == "mean"
            and all(isinstance(m, Normalize) for m in modules[2:])
        )

    def export_onnx(self, target: Path) -> Export | None:
        """Export the model to ONNX at `target`, its facts beside it; None, with a warning,
        when that cannot be done here. The export is kept only if it gives this embedder's
        vectors (checked with ONNX Runtime on `PROBES`), then its weights are quantized to
        int8 (a third less time per chunk) if the vectors stay within `INT8_AGREEMENT`."""
        if not self.can_export():
            return None
        import torch

        partial = target.with_suffix(f".{os.getpid()}.partial")
        int8 = target.with_suffix(f".{os.getpid()}.int8")
        facts = Export(dim=self.dim, max_length=self.max_length)
        try:
            sample = dict(self._tokenizer([PROBES[-1]], return_tensors="pt"))
            names = list(sample)
            model = _mean_pooled(self._model[0].auto_model, names).eval()
            target.parent.mkdir(parents=True, exist_ok=True)
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
            expected = self._encode(PROBES)
            by_onnx = self._onnx(partial, facts)
            counts = [by_onnx.count_tokens(p) for p in PROBES]
            if counts != [self.count_tokens(p) for p in PROBES]:
                log.warning("embedding with torch: tokenizer.json counts tokens differently")
                return None
            gap = float(np.abs(by_onnx.embed_documents(PROBES) - expected).max())
            if gap > AGREEMENT:
                log.warning("embedding with torch: the ONNX export differs by %g", gap)
                return None
            _quantize(partial, int8)
            cosine = float(
                (self._onnx(int8, facts).embed_documents(PROBES) * expected).sum(1).min()
            )
            if cosine < INT8_AGREEMENT:
                log.warning("embedding in float32: int8 vectors reach a cosine of %.3f", cosine)
            else:
                int8.replace(partial)
            save_facts(target, facts)
            partial.replace(target)
        except Exception as exc:  # any failure leaves torch doing the work
            log.warning("embedding with torch: no ONNX export (%s)", exc)
            return None
        finally:
            for leftover in (partial, int8):  # gone once in place, or never made
                with contextlib.suppress(OSError):
                    leftover.unlink()
        return facts

    def _onnx(self, file: Path, facts: Export) -> OnnxEmbedder:
        return OnnxEmbedder(
            self.name, onnx_file=file, model_path=self._path, facts=facts, threads=1
        )


def _quantize(source: Path, target: Path) -> None:
    """Write `source` with its matrix weights in int8, per output channel (ONNX Runtime's
    dynamic quantization: activations are quantized as each batch runs)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Its advice to pre-process the graph (which fails on this one) goes nowhere; without a
    # handler of the root's own, `logging.warning` would install one that prints every
    # library's debug messages from then on.
    quiet = logging.NullHandler()
    logging.getLogger().addHandler(quiet)
    try:
        quantize_dynamic(
            source,
            target,
            per_channel=True,
            op_types_to_quantize=["MatMul"],
            weight_type=QuantType.QInt8,
        )
    finally:
        logging.getLogger().removeHandler(quiet)


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
