"""The sentence-transformers embedder (default: all-MiniLM-L6-v2, shipped offline)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import cast

import numpy as np

from rag.errors import ModelError
from rag.index import Vectors


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

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._encode(list(texts))

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        return self.embed_documents(texts)  # MiniLM embeds queries and documents alike

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
