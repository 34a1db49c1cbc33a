"""The embedder's raw speed, the limit `eval.bench` holds newsrag's ingest against: MiniLM
encoding chunk texts with nothing around it, by torch and by ONNX Runtime.

- torch: `SentenceTransformer.encode` in batches of 32 (it sorts the texts by length itself).
- ONNX Runtime: the export newsrag embeds with, fed by the `tokenizers` library from
  the model folder's tokenizer.json; texts sorted by length, padded per batch, cut at the
  model's limit; batches of 8, 16 and 32 tried, the best kept; one thread per core.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rag.config import Settings, cores
from rag.models import load_embedder

ONNX_BATCHES = (8, 16, 32)


def onnx_export(settings: Settings) -> tuple[Path, int]:
    """The ONNX file newsrag's embedder exported (made once, under the cache dir), and how
    many tokens the model reads of a text."""
    from rag.backends.onnx import OnnxEmbedder

    embedder = load_embedder(settings)
    if not isinstance(embedder, OnnxEmbedder):
        raise RuntimeError(f"embedder {settings.embedder!r} does not run on ONNX Runtime here")
    return embedder.onnx_file, embedder.max_length


def torch_rate(path: str, texts: Sequence[str]) -> float:
    """Texts per second of `SentenceTransformer.encode`, batches of 32, after a warm-up."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(path, device="cpu")
    model.encode(list(texts[:32]), batch_size=32)  # first-call costs are not encoding
    started = time.perf_counter()
    model.encode(list(texts), batch_size=32, show_progress_bar=False)
    return len(texts) / (time.perf_counter() - started)


def onnx_rates(
    onnx_file: Path, tokenizer_file: Path, texts: Sequence[str], *, max_length: int
) -> dict[int, float]:
    """Texts per second through ONNX Runtime, for each batch size in `ONNX_BATCHES`."""
    import numpy as np
    import onnxruntime
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    tokenizer.enable_truncation(max_length=max_length)
    tokenizer.no_padding()
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = cores()
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(
        str(onnx_file), options, providers=["CPUExecutionProvider"]
    )
    wanted = {i.name for i in session.get_inputs()}

    def run(batch: Sequence[Any]) -> None:
        width = max(len(e.ids) for e in batch)
        feed = {
            "input_ids": [e.ids + [0] * (width - len(e.ids)) for e in batch],
            "attention_mask": [e.attention_mask + [0] * (width - len(e.ids)) for e in batch],
            "token_type_ids": [e.type_ids + [0] * (width - len(e.ids)) for e in batch],
        }
        session.run(
            None, {n: np.asarray(v, dtype=np.int64) for n, v in feed.items() if n in wanted}
        )

    rates = {}
    run(tokenizer.encode_batch(list(texts[:8])))  # warm-up
    for size in ONNX_BATCHES:
        started = time.perf_counter()
        encoded = sorted(tokenizer.encode_batch(list(texts)), key=lambda e: len(e.ids))
        for start in range(0, len(encoded), size):
            run(encoded[start : start + size])
        rates[size] = len(texts) / (time.perf_counter() - started)
    return rates
