"""The Chroma store, real Chroma in a temporary folder, vectors made by hand."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from rag.backends import chroma
from rag.backends.chroma import ChromaStore
from rag.errors import IndexMismatchError
from rag.types import Chunk


def chunk(
    article: str, ordinal: int, *, source: str | None = "S", published_at: datetime | None = None
) -> Chunk:
    text = f"{article} part {ordinal}"
    return Chunk(
        article_id=article,
        ordinal=ordinal,
        text=text,
        char_start=0,
        char_end=len(text),
        title=article.upper(),
        source=source,
        published_at=published_at,
    )


def vectors(*rows: list[float]) -> np.ndarray:
    array = np.array(rows, dtype=np.float32)
    return array / np.linalg.norm(array, axis=1, keepdims=True)


def test_everything_comes_back_in_id_order_with_metadata_and_vectors(tmp_path: Path) -> None:
    store = ChromaStore(tmp_path)
    when = datetime(2025, 4, 23, 8, 30, tzinfo=UTC)
    store.replace_articles(["b"], [chunk("b", 0, source=None)], vectors([0, 0, 1]))
    store.replace_articles(
        ["a"], [chunk("a", 0, published_at=when), chunk("a", 1)], vectors([1, 0, 0], [0, 1, 0])
    )
    chunks, found = store.everything()
    assert [c.id for c in chunks] == ["a::0", "a::1", "b::0"]
    assert found.tolist() == [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
    assert chunks[0].published_at == when and chunks[0].title == "A"
    assert chunks[2].source is None


def test_everything_is_read_in_pages_and_comes_back_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(chroma, "PAGE", 2)
    store = ChromaStore(tmp_path)
    for name, row in zip("edcba", np.eye(5).tolist(), strict=True):
        store.replace_articles([name], [chunk(name, 0)], vectors(row))
    chunks, found = store.everything()
    assert [c.id for c in chunks] == ["a::0", "b::0", "c::0", "d::0", "e::0"]
    assert found.tolist() == np.eye(5)[::-1].tolist()  # each row with its own chunk


def test_replacing_an_article_removes_its_old_chunks(tmp_path: Path) -> None:
    store = ChromaStore(tmp_path)
    store.replace_articles(
        ["a"], [chunk("a", 0), chunk("a", 1), chunk("a", 2)], vectors([1, 0], [0, 1], [1, 1])
    )
    store.replace_articles(["a"], [chunk("a", 0)], vectors([1, 0]))
    assert store.count() == 1
    assert ChromaStore(tmp_path).count() == 1  # persisted


def test_stats_count_articles_sources_and_dates(tmp_path: Path) -> None:
    store = ChromaStore(tmp_path)
    early, late = datetime(2023, 9, 26, tzinfo=UTC), datetime(2023, 12, 25, tzinfo=UTC)
    store.replace_articles(
        ["a"],
        [chunk("a", 0, published_at=early), chunk("a", 1, published_at=early)],
        vectors([1, 0], [0, 1]),
    )
    store.replace_articles(["b"], [chunk("b", 0, published_at=late)], vectors([1, 1]))
    store.replace_articles(["c"], [chunk("c", 0, source=None)], vectors([1, 0]))
    stats = store.stats()
    assert (stats.articles, stats.chunks) == (3, 4)
    assert stats.sources == {"S": 2, "(unknown)": 1}
    assert (stats.first_published, stats.last_published) == (early, late)


def test_the_embedder_is_recorded_and_another_is_refused(tmp_path: Path) -> None:
    store = ChromaStore(tmp_path)
    assert store.embedder is None
    store.bind_embedder("mini", 3)
    reopened = ChromaStore(tmp_path)
    assert reopened.embedder == ("mini", 3)
    reopened.check_embedder("mini", 3)
    with pytest.raises(IndexMismatchError, match="built with embedder 'mini' \\(3 dims\\)") as e:
        reopened.bind_embedder("other", 8)
    assert "--embedder 'mini'" in e.value.hint
    with pytest.raises(IndexMismatchError):
        reopened.check_embedder("mini", 4)


def test_an_index_written_by_an_older_version_still_reads(tmp_path: Path) -> None:
    """Chunks stored with fields no longer written (an author, `published_ts`) read as before."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    from rag.config import DEFAULT_COLLECTION

    client = chromadb.PersistentClient(
        path=str(tmp_path), settings=ChromaSettings(anonymized_telemetry=False)
    )
    collection = client.get_or_create_collection(
        DEFAULT_COLLECTION, configuration={"hnsw": {"space": "cosine"}}, embedding_function=None
    )
    when = datetime(2024, 1, 5, 9, 0, tzinfo=UTC)
    old = {"article_id": "a", "ordinal": 0, "char_start": 0, "char_end": 8, "title": "T"}
    old |= {"source": "S", "author": "A. Reporter", "url": "https://example.org/a"}
    old |= {"published_at": when.isoformat(), "published_ts": int(when.timestamp())}
    collection.add(
        ids=["a::0"], embeddings=vectors([1, 0]), documents=["old text"], metadatas=[old]
    )
    del collection, client

    chunks, found = ChromaStore(tmp_path).everything()
    assert chunks == [
        Chunk(
            "a",
            0,
            "old text",
            0,
            8,
            "T",
            source="S",
            url="https://example.org/a",
            published_at=when,
        )
    ]
    assert found.tolist() == [[1, 0]]
