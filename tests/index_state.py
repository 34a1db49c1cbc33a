"""Everything an index in a data dir holds, for comparing two indexes exactly."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from chromadb.api.shared_system_client import SharedSystemClient

from rag.backends.chroma import ChromaStore
from rag.search_index import META_FILE, SearchIndex

QUERIES = ("bridge crack", "council meeting London", "library prize ferry", "report number 7")
"""BM25 queries whose scores over every chunk are compared."""


@dataclass
class IndexState:
    articles: list[tuple[str, str, str, int]]
    """The manifest's rows: id, content hash, state, chunks."""
    chunks: dict[str, str]
    """Chroma's chunks: id to text."""
    vectors: dict[str, np.ndarray]
    bm25: dict[str, dict[str, float]]
    """Query to chunk id to score, from the search index as saved."""

    def differences(self, other: IndexState, *, atol: float = 0.0) -> list[str]:
        """What differs from `other` (vectors within `atol`), in words; [] when nothing."""
        found = []
        for part in ("articles", "chunks", "bm25"):
            if getattr(self, part) != getattr(other, part):
                found.append(part)
        if self.vectors.keys() != other.vectors.keys():
            found.append("vector ids")
        else:
            worst = max(
                (float(np.abs(v - other.vectors[i]).max()) for i, v in self.vectors.items()),
                default=0.0,
            )
            if worst > atol:
                found.append(f"vectors (largest difference {worst:.2g})")
        return found


def index_state(data_dir: Path) -> IndexState:
    with sqlite3.connect(data_dir / "manifest.sqlite3") as db:
        articles = [
            tuple(row)
            for row in db.execute(
                "SELECT id, content_hash, state, chunks FROM articles ORDER BY id"
            )
        ]
    SharedSystemClient.clear_system_cache()  # what this process read of it before is stale
    store = ChromaStore(data_dir / "chroma")
    chunks, vectors = store.everything()
    index = SearchIndex(data_dir / "search")
    saved = json.loads((index.path / META_FILE).read_text())["generation"]
    index.sync(lambda: store, saved)  # loaded from disk, as saved: not rebuilt
    ids = [chunk.id for chunk in index.chunks]
    return IndexState(
        articles=articles,  # type: ignore[arg-type]
        chunks={chunk.id: chunk.text for chunk in chunks},
        vectors={chunk.id: np.asarray(v) for chunk, v in zip(chunks, vectors, strict=True)},
        bm25={
            q: {i: round(float(s), 4) for i, s in zip(ids, index.bm25(q), strict=True) if s}
            for q in QUERIES
        },
    )
