"""Embed chunks and write them to the vector store, one article at a time."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt

from rag.chunking import chunk_article
from rag.types import Article, Chunk

if TYPE_CHECKING:
    from rag.backends.chroma import ChromaStore

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


def index_article(
    article: Article,
    *,
    store: ChromaStore,
    embedder: Embedder,
    chunk_tokens: int,
    chunk_overlap: int,
) -> int:
    """Chunk, embed and store one article, replacing any older copy; returns its chunk count."""
    chunks = chunk_article(
        article, size=chunk_tokens, overlap=chunk_overlap, count_tokens=embedder.count_tokens
    )
    store.replace_article(
        article.id, chunks, embedder.embed_documents([embedding_text(c) for c in chunks])
    )
    return len(chunks)
