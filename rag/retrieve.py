"""Find the passages closest to a question."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rag.index import Embedder
from rag.types import Passage

if TYPE_CHECKING:
    from rag.backends.chroma import ChromaStore


def retrieve(question: str, *, store: ChromaStore, embedder: Embedder, k: int) -> list[Passage]:
    """The `k` passages most similar to `question`, best first (dense search)."""
    return store.query(embedder.embed_query(question), k=k)
