"""The embedder seam: what turns text into vectors, and what it reads of a chunk.

The write side (`rag.ingest`) embeds chunks with it, the read side (`rag.retrieve`) questions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

from rag.types import Chunk

Vectors = npt.NDArray[np.float32]


class Embedder(Protocol):
    """Turns text into unit vectors; `name` and `dim` are recorded in the index."""

    name: str
    dim: int
    max_length: int
    """Most tokens the model reads of one text (the rest is cut off)."""

    def embed_documents(self, texts: Sequence[str]) -> Vectors: ...

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        """Search queries, one row each (a model may embed them unlike documents)."""
        ...

    def count_tokens(self, text: str) -> int: ...


def embedding_text(chunk: Chunk) -> str:
    """What the embedder reads for a chunk: its article's title, then the chunk.

    A chunk as long as the embedder's limit loses its last tokens to the title here: the
    embedder reads the start, the whole chunk is still stored, shown and given to the model.
    """
    return f"{chunk.title}\n{chunk.text}"
