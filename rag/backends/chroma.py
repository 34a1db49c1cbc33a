"""The vector store (`rag.seams.Store`): one Chroma collection of chunks, in a folder of the
data directory or on a Chroma server (`chroma run`, reached over HTTP)."""

from __future__ import annotations

import errno
import os
import shutil
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

import numpy as np

from rag.config import DEFAULT_COLLECTION
from rag.errors import DamagedIndexError, RagError, StoreError, check_embedder, storage_error
from rag.seams import Vectors
from rag.types import UNKNOWN_SOURCE, Chunk, Filters, StoreStats

if TYPE_CHECKING:
    from chromadb.api.types import Where

PAGE = 1000
"""Chunks read from Chroma at a time when the search index is rebuilt."""
EF_SEARCH = 400
"""How many neighbours Chroma's HNSW graph follows per query (its default is 100). On
MultiHop-RAG's 9,534 chunks, the 30 nearest to each of 100 dev questions agree with exact
search 99.97% of the time at 400 (97% at the worst question; `eval.bench_scale`); a first
probe found 99.1% (70%) at 100."""
LOW_SPACE = 16 * 1024 * 1024
"""Free bytes under which a failed write to the data dir's Chroma is taken for a full disk."""
LAYOUT = 2
"""What the chunks' metadata holds (2: the publication day as a number, for `where` filters)."""


class ChromaStore:
    """Chunks with their embeddings and metadata in a Chroma collection: persistent in the
    folder `location`, or on the Chroma server at the URL `location`.

    The collection's metadata records the embedder's name and dimension (writing with
    another embedder raises `IndexMismatchError`) and a version that changes with every
    write, so that a reader elsewhere sees that its copy of the chunks is out of date.
    """

    def __init__(self, location: Path | str, *, collection: str = DEFAULT_COLLECTION) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        settings = ChromaSettings(anonymized_telemetry=False)
        self.location = str(location)
        self.served = isinstance(location, str)
        with self._reaching():
            if isinstance(location, str):
                url = urlsplit(location)
                self._client = chromadb.HttpClient(
                    host=url.hostname or "127.0.0.1",
                    port=url.port or (443 if url.scheme == "https" else 8000),
                    ssl=url.scheme == "https",
                    settings=settings,
                )
            else:
                location.mkdir(parents=True, exist_ok=True)
                self._client = chromadb.PersistentClient(path=str(location), settings=settings)
            self._collection = self._client.get_or_create_collection(
                collection,
                configuration={"hnsw": {"space": "cosine", "ef_search": EF_SEARCH}},
                embedding_function=None,
                metadata={"layout": LAYOUT},
            )
            if self.served and self._metadata().get("layout") != LAYOUT:
                self._upgrade()  # a data dir's own Chroma, now served, for `where` filters

    @contextmanager
    def _reaching(self) -> Iterator[None]:
        """Turn a Chroma server that cannot be reached, or that refuses, into a `StoreError`."""
        import httpx
        from chromadb.errors import ChromaError

        try:
            yield
        except ChromaError as exc:
            if not self.served:
                raise _local_failure(Path(self.location), exc) from exc
            raise StoreError(
                f"Chroma at {self.location} refused: {exc}",
                hint="See the Chroma server's log; `rag doctor` checks the index.",
            ) from exc
        except (httpx.TransportError, ValueError) as exc:
            if isinstance(exc, ValueError) and "Could not connect" not in str(exc):
                raise
            raise StoreError(
                f"cannot reach the Chroma server at {self.location}: {exc}",
                hint="Start it (chroma run --path DIR --host 127.0.0.1 --port 8000) or correct "
                "--chroma-url. What was written before is kept: run the command again.",
            ) from exc

    def _metadata(self) -> dict[str, Any]:
        """The collection's metadata as the store has it now (another process may write)."""
        with self._reaching():
            fresh = self._client.get_collection(self._collection.name)
        return dict(fresh.metadata or {})

    def _record(self, **changes: Any) -> None:
        """Change the collection's metadata (Chroma replaces it whole), and its version."""
        recorded = {**self._metadata(), **changes, "version": uuid.uuid4().hex}
        with self._reaching():
            self._collection.modify(metadata=recorded)

    def version(self) -> str:
        """Changes with every write: a copy of the chunks made at another version is stale."""
        return str(self._metadata().get("version", ""))

    def _upgrade(self) -> None:
        """Give the chunks of a store written before `LAYOUT` 2 their day, and its HNSW
        search `EF_SEARCH`."""
        with self._reaching():
            self._collection.modify(configuration={"hnsw": {"ef_search": EF_SEARCH}})
            offset = 0
            while (got := self._collection.get(include=["metadatas"], limit=PAGE, offset=offset))[
                "ids"
            ]:
                dated = [
                    (i, {**m, "day": _day(str(m["published_at"]))})
                    for i, m in zip(got["ids"], got["metadatas"] or [], strict=True)
                    if "published_at" in m
                ]
                if dated:
                    ids, metas = zip(*dated, strict=True)
                    self._collection.update(ids=list(ids), metadatas=list(metas))
                offset += len(got["ids"])
        self._record(layout=LAYOUT)

    @property
    def embedder(self) -> tuple[str, int] | None:
        """The (name, dimension) of the embedder the index was built with, if any."""
        meta = self._metadata()
        if "embedder" not in meta:
            return None
        return str(meta["embedder"]), int(meta["dim"])

    def check_embedder(self, name: str, dim: int | None = None) -> None:
        """Refuse an embedder other than the recorded one (`dim=None` checks the name only)."""
        check_embedder(self.embedder, name, dim, index=self.location)

    def bind_embedder(self, name: str, dim: int) -> None:
        """Record the embedder on first use; afterwards, refuse any other."""
        self.check_embedder(name, dim)
        if self.embedder is None:
            self._record(embedder=name, dim=dim)

    def count(self) -> int:
        with self._reaching():
            return int(self._collection.count())

    def replace_articles(
        self, article_ids: Sequence[str], chunks: Sequence[Chunk], vectors: Vectors
    ) -> None:
        """Store these articles' chunks (all of them, one vector each), removing whatever the
        articles had before. One write for many articles: Chroma takes 2,304 chunks in 1.0 s
        in calls of 256, in 3.4 s in calls of 16 (an article's worth)."""
        with self._reaching():
            self._delete(article_ids)
            if chunks:
                self._collection.add(
                    ids=[chunk.id for chunk in chunks],
                    embeddings=vectors,
                    documents=[chunk.text for chunk in chunks],
                    metadatas=[_metadata(chunk) for chunk in chunks],
                )
        self._record()

    def remove_articles(self, article_ids: Sequence[str]) -> None:
        """Delete every chunk of these articles."""
        if article_ids:
            with self._reaching():
                self._delete(article_ids)
            self._record()

    def _delete(self, article_ids: Sequence[str]) -> None:
        if article_ids:
            where = cast("Where", {"article_id": {"$in": list(article_ids)}})
            self._collection.delete(where=where)

    def chunks(self) -> list[Chunk]:
        """Every chunk, in id order."""
        return self._read(with_vectors=False)[0]

    def everything(self) -> tuple[list[Chunk], Vectors]:
        """Every chunk, in id order, and its embedding (one row each)."""
        return self._read(with_vectors=True)

    def _read(self, *, with_vectors: bool) -> tuple[list[Chunk], Vectors]:
        """Read a page at a time: Chroma hands a page over as Python objects, and all pages at
        once took more memory than the whole ingest before them (1.0 GB at the peak, against
        0.68 GB, for the 9,534 chunks of MultiHop-RAG's articles)."""
        ids: list[str] = []
        chunks: list[Chunk] = []
        pages: list[Vectors] = []
        include: Any = ["documents", "metadatas", *(["embeddings"] if with_vectors else [])]
        with self._reaching():
            while True:
                got = self._collection.get(include=include, limit=PAGE, offset=len(ids))
                if not got["ids"]:
                    break
                ids += got["ids"]
                texts, metas = got["documents"] or [], got["metadatas"] or []
                chunks += [_chunk(text, meta) for text, meta in zip(texts, metas, strict=True)]
                if with_vectors:
                    pages.append(np.asarray(got["embeddings"], dtype=np.float32))
        order = sorted(range(len(ids)), key=ids.__getitem__)
        if not pages:
            dim = self.embedder[1] if self.embedder and with_vectors else 0
            return [chunks[n] for n in order], np.zeros((0, dim), dtype=np.float32)
        return [chunks[n] for n in order], np.concatenate(pages)[order]

    def nearest(self, vector: Vectors, filters: Filters, n: int) -> list[tuple[str, float]]:
        """The ids of the `n` chunks passing `filters` most similar to `vector` by Chroma's
        HNSW search (approximate: see `EF_SEARCH`), most similar first, with their cosine."""
        where = _where(filters)
        with self._reaching():
            found = self._collection.query(
                query_embeddings=np.atleast_2d(vector),
                n_results=n,
                where=cast("Where", where) if where else None,
                include=["distances"],
            )
        return _similar(found)

    def similarity(self, vector: Vectors, ids: Sequence[str]) -> dict[str, float]:
        """The cosine similarity to `vector` of each chunk of `ids`."""
        if not ids:
            return {}
        with self._reaching():
            found = self._collection.query(
                query_embeddings=np.atleast_2d(vector),
                ids=list(ids),
                n_results=len(ids),
                include=["distances"],
            )
        return dict(_similar(found))

    def stats(self) -> StoreStats:
        with self._reaching():
            metadatas = self._collection.get(include=["metadatas"])["metadatas"] or []
        sources: dict[str, str] = {}
        dates: list[datetime] = []
        for meta in metadatas:
            article = str(meta["article_id"])
            if article not in sources:
                sources[article] = str(meta.get("source") or UNKNOWN_SOURCE)
                if "published_at" in meta:
                    dates.append(datetime.fromisoformat(str(meta["published_at"])))
        return StoreStats(
            articles=len(sources),
            chunks=len(metadatas),
            sources=dict(Counter(sources.values()).most_common()),
            first_published=min(dates, default=None),
            last_published=max(dates, default=None),
        )


def _similar(found: Any) -> list[tuple[str, float]]:
    """A query's ids with their cosine similarity (Chroma gives the distance, 1 - cosine)."""
    distances = (found["distances"] or [[]])[0]
    return [(i, 1.0 - float(d)) for i, d in zip(found["ids"][0], distances, strict=True)]


def _where(filters: Filters) -> dict[str, Any] | None:
    """`filters` as a Chroma `where`: days as numbers (an undated chunk passes no range)."""
    terms: list[dict[str, Any]] = []
    if filters.since:
        terms.append({"day": {"$gte": filters.since.toordinal()}})
    if filters.until:
        terms.append({"day": {"$lte": filters.until.toordinal()}})
    if filters.sources:
        terms.append({"source": {"$in": list(filters.sources)}})
    return None if not terms else terms[0] if len(terms) == 1 else {"$and": terms}


def _day(published_at: str) -> int:
    """The UTC day of a publication time, as `date.toordinal` counts it."""
    return datetime.fromisoformat(published_at).astimezone(UTC).date().toordinal()


def _metadata(chunk: Chunk) -> dict[str, str | int]:
    meta: dict[str, str | int] = {
        "article_id": chunk.article_id,
        "ordinal": chunk.ordinal,
        "char_start": chunk.char_start,
        "char_end": chunk.char_end,
        "title": chunk.title,
    }
    for name in ("source", "url"):
        value = getattr(chunk, name)
        if value is not None:
            meta[name] = value
    if chunk.published_at is not None:
        meta["published_at"] = published = chunk.published_at.isoformat()
        meta["day"] = _day(published)
    return meta


def _chunk(text: str, meta: Mapping[str, Any]) -> Chunk:
    published = meta.get("published_at")
    return Chunk(
        article_id=str(meta["article_id"]),
        ordinal=int(meta["ordinal"]),
        text=text,
        char_start=int(meta["char_start"]),
        char_end=int(meta["char_end"]),
        title=str(meta["title"]),
        source=meta.get("source"),
        url=meta.get("url"),
        published_at=datetime.fromisoformat(published) if published else None,
    )


def _local_failure(folder: Path, exc: Exception) -> RagError:
    """A failure of the Chroma in the data dir's `folder`, as the user can act on it: Chroma
    reports a full disk or a read-only folder only as, say, "Error in compaction"."""
    if shutil.disk_usage(folder).free < LOW_SPACE:
        code = errno.ENOSPC
    elif not os.access(folder, os.W_OK):
        code = errno.EROFS
    else:
        return DamagedIndexError(folder.parent, f"Chroma in {folder} failed: {exc}")
    unwritable = storage_error(OSError(code, os.strerror(code)), folder.parent)
    assert unwritable is not None
    return unwritable
