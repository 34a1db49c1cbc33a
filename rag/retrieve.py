"""Find the passages closest to a question."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rag.index import Embedder
from rag.types import Filters, Passage

if TYPE_CHECKING:
    from rag.backends.chroma import ChromaStore


def retrieve(
    question: str, *, store: ChromaStore, embedder: Embedder, k: int, filters: Filters
) -> list[Passage]:
    """The `k` passages most similar to `question` that pass `filters`, best first (dense)."""
    return store.query(embedder.embed_query(question), k=k, filters=filters)
