"""A sentence-transformers model run by ONNX Runtime, without torch.

A mean-pooled model (MiniLM, the default) is exported to ONNX once, into the cache, by
`SentenceTransformerEmbedder.export_onnx` (rag.backends.sentence_transformers), which keeps
the export only when its vectors equal torch's, then quantizes its weights to int8 when the
vectors stay close (a cosine of 0.97 or more to torch's on its probe texts). From then on
this embedder reads the export and the model folder's `tokenizer.json` with ONNX Runtime and
`tokenizers` alone: torch is never imported, which saves seconds of start-up and hundreds of
megabytes.

Texts are embedded shortest first, in batches padded to their longest text, so that little is
spent on padding. Measured on two cores (AVX-512) with 1,054 chunks of the MultiHop-RAG news
(200 tokens and a title each): 52 chunks/s in float32 against 29 for sentence-transformers
with torch (which sorts by length too); a question alone: 21 ms, against 40 ms with torch.
int8 takes a third less time again: an ingest of the 609 articles in 129 s against 200 s
in float32; on a CPU with AVX alone, 24 chunks/s against 17. Its activations are scaled per
batch, so a text's vector varies a little with the texts beside it (a cosine of 0.988 or
more). ONNX Runtime's threads spin while they wait for work, which helps batches (52
chunks/s against 48) and, measured, slows neither the search nor the answer that follow a
question.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, cast

import numpy as np

from rag.seams import Vectors

FORMAT = "int8"
"""How exports are made now (see `export_onnx`); an export made another way is made anew."""
BATCH = 8
"""Texts per run: larger batches pad more and gain nothing on a CPU (measured with 1,050
chunks on two cores: 52 chunks/s in batches of 8, 46 in batches of 16)."""


@dataclass(frozen=True)
class Export:
    """What an export records beside the `.onnx` file: read back without loading torch."""

    dim: int
    max_length: int


def export_file(model_path: Path, cache_dir: Path) -> Path:
    """Where the export of the model folder at `model_path` lives: one file per content of
    the folder, per version of the libraries that read it and per way of exporting it (made
    and checked again after any of them changes)."""
    versions = [metadata.version(p) for p in ("onnxruntime", "tokenizers")]
    key = hashlib.sha256("|".join([str(model_path.resolve()), *versions, FORMAT]).encode())
    for file in sorted(p for p in model_path.rglob("*") if p.is_file()):
        stat = file.stat()
        key.update(f"{file.relative_to(model_path)}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    return cache_dir / "onnx" / f"{key.hexdigest()[:16]}.onnx"


def save_facts(file: Path, facts: Export) -> None:
    """Record the export's facts; written before the export itself is moved into place."""
    file.with_suffix(".json").write_text(json.dumps(asdict(facts)))


def read_facts(file: Path) -> Export | None:
    """The facts of the checked export at `file`, if it was made."""
    try:
        facts = Export(**json.loads(file.with_suffix(".json").read_text()))
    except (OSError, ValueError, TypeError):
        return None
    return facts if file.is_file() else None


class OnnxEmbedder:
    """Embeds with an ONNX export of a mean-pooled, normalized sentence-transformers model."""

    def __init__(
        self, name: str, *, onnx_file: Path, model_path: Path, facts: Export, threads: int
    ) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        self.name = name
        self.dim = facts.dim
        self.max_length = facts.max_length
        self.onnx_file = onnx_file
        # Two tokenizers: one counts every token of a text, one cuts it where the model stops.
        self._counter = Tokenizer.from_file(str(model_path / "tokenizer.json"))
        self._counter.no_padding()
        self._counter.no_truncation()
        self._tokenizer = Tokenizer.from_file(str(model_path / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=facts.max_length)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.log_severity_level = 3
        self._session = onnxruntime.InferenceSession(
            str(onnx_file), options, providers=["CPUExecutionProvider"]
        )
        self._inputs = {i.name for i in self._session.get_inputs()}

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        encodings = self._tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        for start in range(0, len(order), BATCH):
            rows = order[start : start + BATCH]
            vectors[rows] = self._run([encodings[i] for i in rows])
        return vectors

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        # MiniLM embeds queries and documents alike.
        return self.embed_documents(texts)

    def count_tokens(self, text: str) -> int:
        return len(self._counter.encode(text, add_special_tokens=False).ids)

    def _run(self, encodings: Sequence[Any]) -> Vectors:
        width = max(len(e.ids) for e in encodings)
        columns = {
            "input_ids": [e.ids for e in encodings],
            "token_type_ids": [e.type_ids for e in encodings],
            "attention_mask": [e.attention_mask for e in encodings],
        }
        feed = {}
        for name in self._inputs:
            padded = np.zeros((len(encodings), width), dtype=np.int64)
            for row, values in enumerate(columns[name]):
                padded[row, : len(values)] = values
            feed[name] = padded
        return cast(Vectors, np.asarray(self._session.run(None, feed)[0], dtype=np.float32))
