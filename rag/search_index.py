"""What searches read: every chunk and a BM25 index over it, in memory, and the vectors.

Chroma is where chunks and vectors are kept; this is derived from it, saved in
`data_dir/search/`, and rebuilt when the index's generation is not the one it was built at
(after an ingest or removal, here or by another process) or its layout is older. Its meta
file records the store's embedder, so that a question is checked without opening Chroma.

Dense search runs in memory for Chroma in the data dir, exactly (every vector is compared),
as its HNSW graph in one process misses another process's writes (see docs/scaling.md); for a
Chroma server, there, in HNSW with `where` filters: only chunks and BM25 are kept here.

BM25 reads each chunk with a header of its title, source and date, so that "the TechCrunch
article of October 7, 2023" finds it by words alone. A second BM25 index reads each sentence,
so that a chunk can also be scored by its sentence that best matches a claim: overlapping
chunks of an article share most words; the one holding the whole sentence is the one to show.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import os
import shutil
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np

from rag.seams import Store, Vectors
from rag.types import Chunk, Filters
from rag.words import sentences, terms

META_FILE = "meta.json"
CHUNKS_FILE = "chunks.jsonl"
VECTORS_FILE = "vectors.npy"
LAYOUT = 6
"""Bumped whenever what is saved changes (2: sentences; 3: stems without a final -e; 4: chunks
without an author; 5: the store's embedder in the meta file; 6: no vectors for a store on a
server, and the generation as text)."""
SENTENCES_DIR = "sentences"
log = logging.getLogger(__name__)
MEMBERS_FILE = "sentence_members.npz"


def lexical_text(chunk: Chunk) -> str:
    """What BM25 reads for a chunk: title, source, spelled-out date, then the text."""
    published = chunk.published_at
    day = f"{published:%B} {published.day}, {published.year}" if published else ""
    return "\n".join([chunk.title, chunk.source or "", day, chunk.text])


@dataclass
class _Loaded:
    generation: str
    chunks: list[Chunk]
    vectors: Vectors | None  # None: dense search runs on the store's server
    bm25: Any
    sentence_bm25: Any
    members: np.ndarray
    """The sentences of every chunk, one chunk after another (indexes into `sentence_bm25`)."""
    member_starts: np.ndarray  # where each chunk's sentences start in `members`...
    member_ends: np.ndarray  # ... and end (each chunk has at least one)
    source_names: list[str]
    sources: np.ndarray
    """Each chunk's source as an index into `source_names`."""
    days: np.ndarray
    """Publication day of each chunk (date.toordinal, UTC), 0 when undated."""
    words: dict[int, set[str]] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)  # by chunk id, for the server's hits


class SearchIndex:
    """The chunks of a `Store`, ready to search, kept in the folder `path`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._loaded: _Loaded | None = None
        self._store: Callable[[], Store] | None = None
        self._syncing = threading.Lock()  # one rebuild at a time; searches read `_loaded`

    def sync(self, store: Callable[[], Store], generation: str) -> None:
        """Make the index match the store as of `generation`: load it from disk, or rebuild it
        from `store()` when it was built at another generation."""
        self._store = store
        with self._syncing:
            if self._loaded is not None and self._loaded.generation == generation:
                return
            if self.built(generation):
                try:
                    self._loaded = self._load()
                    return
                except (OSError, ValueError, KeyError, EOFError) as exc:  # damaged on disk
                    log.warning(
                        "the search index in %s cannot be read (%s): rebuilding it from the store",
                        self.path,
                        exc,
                    )
            opened = store()
            chunks, vectors = (opened.chunks(), None) if opened.served else opened.everything()
            self._build(chunks, vectors, opened.embedder, generation)

    def built(self, generation: str) -> bool:
        """Whether the index on disk was built at `generation` (and in this layout)."""
        meta = self._meta()
        return meta.get("generation") == generation and meta.get("layout") == LAYOUT

    @property
    def embedder(self) -> tuple[str, int] | None:
        """The (name, dimension) of the embedder of the store it was built from, if any."""
        recorded = self._meta().get("embedder")
        return (str(recorded[0]), int(recorded[1])) if recorded else None

    def _meta(self) -> dict[str, Any]:
        try:
            return dict(json.loads((self.path / META_FILE).read_text()))
        except (OSError, ValueError):
            return {}

    def snapshot(self) -> SearchIndex:
        """The index as it is now, for one question: a later sync changes `self`, not it."""
        return copy.copy(self)

    @property
    def chunks(self) -> list[Chunk]:
        return self._require().chunks

    def nearest(self, vector: Vectors, filters: Filters, n: int) -> list[int]:
        """The rows of the `n` chunks passing `filters` most similar to `vector`, most
        similar first."""
        loaded = self._require()
        if loaded.vectors is None:
            # A chunk the server has and this copy lacks was written since the last sync.
            found = self._served().nearest(vector, filters, n)
            return [loaded.rows[i] for i, _ in found if i in loaded.rows]
        rows = np.flatnonzero(self.mask(filters))
        cosine = np.full(len(loaded.chunks), -np.inf, dtype=np.float32)
        cosine[rows] = self.cosine(vector, rows)
        return top(cosine, n)

    def cosine(self, vector: Vectors, rows: np.ndarray) -> np.ndarray:
        """Cosine similarity to `vector` of each chunk of `rows` (ascending row numbers)."""
        loaded = self._require()
        if not len(rows):
            return np.zeros(0, dtype=np.float32)
        if loaded.vectors is None:
            ids = [loaded.chunks[row].id for row in rows]
            similar = self._served().similarity(vector, ids)
            # A chunk removed from the server since the last sync: the least similar there is.
            return np.array([similar.get(i, -1.0) for i in ids], dtype=np.float32)
        vectors = loaded.vectors
        wanted = vectors if len(rows) == len(vectors) else vectors[rows]
        return np.asarray(wanted @ np.ravel(vector), dtype=np.float32)

    def _served(self) -> Store:
        assert self._store is not None  # set by sync()
        return self._store()

    def bm25(self, query: str) -> np.ndarray:
        """The BM25 score of every chunk for `query`."""
        loaded = self._require()
        scores = _scores(loaded.bm25, query)
        return np.zeros(len(loaded.chunks), dtype=np.float32) if scores is None else scores

    def sentence_bm25(self, query: str, rows: np.ndarray) -> np.ndarray:
        """For each chunk of `rows`, the BM25 score for `query` of its best-matching sentence
        (every sentence is scored; the best is taken only for the chunks asked for, as most
        searches may return few)."""
        loaded = self._require()
        scores = _scores(loaded.sentence_bm25, query) if len(rows) else None
        if scores is None:
            return np.zeros(len(rows), dtype=np.float32)
        # The members of each chunk of `rows`, one chunk after another.
        starts, ends = loaded.member_starts[rows], loaded.member_ends[rows]
        lengths = ends - starts
        firsts = np.cumsum(lengths) - lengths
        picked = np.arange(int(lengths.sum())) + np.repeat(starts - firsts, lengths)
        return np.maximum.reduceat(scores[loaded.members[picked]], firsts)

    def mask(self, filters: Filters) -> np.ndarray:
        """True for the chunks that pass `filters`."""
        loaded = self._require()
        keep = np.ones(len(loaded.chunks), dtype=bool)
        if filters.since:
            keep &= loaded.days >= filters.since.toordinal()
        if filters.until:
            keep &= (loaded.days > 0) & (loaded.days <= filters.until.toordinal())
        if filters.sources:
            codes = [i for i, name in enumerate(loaded.source_names) if name in filters.sources]
            keep &= np.isin(loaded.sources, codes)
        return keep

    def sources(self) -> list[str]:
        """Every source name in the index."""
        return [name for name in self._require().source_names if name]

    def newest_day(self) -> date | None:
        """The latest publication day of any chunk, if any is dated."""
        days = self._require().days
        return date.fromordinal(int(days.max())) if days.size and days.max() > 0 else None

    def words(self, row: int) -> set[str]:
        """The content words of chunk `row` (for spotting near-copies), computed once."""
        cache = self._require().words
        if row not in cache:
            cache[row] = set(terms(self.chunks[row].text))
        return cache[row]

    def rarity(self, word: str) -> float:
        """How rare a content word (as `terms` gives it) is among the chunks: its inverse
        document frequency, log((chunks + 1) / (chunks holding it + 0.5)); highest for a
        word no chunk holds."""
        loaded = self._require()
        column = loaded.bm25.vocab_dict.get(word) if loaded.bm25 is not None else None
        holding = 0
        if column is not None and column + 1 < len(loaded.bm25.scores["indptr"]):
            pointers = loaded.bm25.scores["indptr"]
            holding = int(pointers[column + 1] - pointers[column])
        return math.log((len(loaded.chunks) + 1) / (holding + 0.5))

    def _require(self) -> _Loaded:
        if self._loaded is None:
            raise RuntimeError("SearchIndex.sync() must run before a search")
        return self._loaded

    def _build(
        self,
        chunks: Sequence[Chunk],
        vectors: Vectors | None,
        embedder: tuple[str, int] | None,
        generation: str,
    ) -> None:
        import bm25s

        fresh = self.path.with_name(f"{self.path.name}.building-{os.getpid()}")
        shutil.rmtree(fresh, ignore_errors=True)
        fresh.mkdir(parents=True)
        if chunks:
            bm25 = bm25s.BM25()
            bm25.index([terms(lexical_text(c)) or ["_"] for c in chunks], show_progress=False)
            bm25.save(str(fresh), show_progress=False)
            sentences, members = _sentences(chunks)
            by_sentence = bm25s.BM25()
            by_sentence.index([terms(s) or ["_"] for s in sentences], show_progress=False)
            by_sentence.save(str(fresh / SENTENCES_DIR), show_progress=False)
            np.savez(
                fresh / MEMBERS_FILE,
                members=np.concatenate(members),
                starts=np.cumsum([0] + [len(m) for m in members[:-1]]),
            )
        if vectors is not None:
            np.save(fresh / VECTORS_FILE, np.asarray(vectors, dtype=np.float32))
        with (fresh / CHUNKS_FILE).open("w", encoding="utf-8") as out:
            for chunk in chunks:
                out.write(json.dumps(chunk.record(), ensure_ascii=False) + "\n")
        meta = {"generation": generation, "layout": LAYOUT, "embedder": embedder}
        (fresh / META_FILE).write_text(json.dumps(meta))
        # Swap folders: a crash in between leaves no index, or the old one; both get rebuilt.
        old = self.path.with_name(f"{self.path.name}.old-{os.getpid()}")
        if self.path.exists():
            self.path.rename(old)
        fresh.rename(self.path)
        shutil.rmtree(old, ignore_errors=True)
        self._loaded = self._load()

    def _load(self) -> _Loaded:
        import bm25s
        from threadpoolctl import threadpool_limits

        # One query's matrix product is small; idle BLAS threads spinning after it would
        # steal the cores the embedder needs next (measured: 36 ms per question became 95).
        threadpool_limits(limits=1, user_api="blas")

        meta = json.loads((self.path / META_FILE).read_text())
        with (self.path / CHUNKS_FILE).open(encoding="utf-8") as lines:
            chunks = [Chunk.from_record(json.loads(line)) for line in lines]
        bm25 = by_sentence = None
        members = starts = np.zeros(0, dtype=np.int64)
        if chunks:
            bm25 = bm25s.BM25.load(str(self.path), show_progress=False)
            by_sentence = bm25s.BM25.load(str(self.path / SENTENCES_DIR), show_progress=False)
            with np.load(self.path / MEMBERS_FILE) as saved:
                members, starts = saved["members"], saved["starts"]
        names = sorted({c.source or "" for c in chunks})
        saved = self.path / VECTORS_FILE
        vectors = np.load(saved) if saved.is_file() else None
        return _Loaded(
            generation=meta["generation"],
            chunks=chunks,
            vectors=vectors,
            rows={} if vectors is not None else {c.id: row for row, c in enumerate(chunks)},
            bm25=bm25,
            sentence_bm25=by_sentence,
            members=members,
            member_starts=starts,
            member_ends=np.append(starts[1:], len(members)),
            source_names=names,
            sources=np.array([names.index(c.source or "") for c in chunks], dtype=np.int32),
            days=np.array([_day(c.published_at) for c in chunks], dtype=np.int64),
        )


def top(scores: np.ndarray, n: int) -> list[int]:
    """The rows of the `n` highest finite scores, highest first."""
    n = min(n, int(np.isfinite(scores).sum()))
    if n == 0:
        return []
    best = np.argpartition(-scores, n - 1)[:n]
    return [int(r) for r in best[np.argsort(-scores[best], kind="stable")]]


def _scores(model: Any, query: str) -> np.ndarray | None:
    """Every document's BM25 score in bm25s `model` for `query`; None when the model is
    empty or has none of the query's words."""
    vocab = model.vocab_dict if model is not None else {}
    words = [w for w in terms(query) if w in vocab]
    return np.asarray(model.get_scores(words), dtype=np.float32) if words else None


def _sentences(chunks: Sequence[Chunk]) -> tuple[list[str], list[np.ndarray]]:
    """The distinct sentences of `chunks` (overlapping chunks share them: a sentence is its
    article and place in it), and the ones each chunk holds. A chunk's first and last
    sentence may be cut short by the chunk's edge."""
    texts: list[str] = []
    seen: dict[tuple[str, int, int], int] = {}
    members = []
    for chunk in chunks:
        held = []
        # An empty chunk holds one empty sentence: every chunk holds at least one.
        for start, end in sentences(chunk.text) or [(0, 0)]:
            key = (chunk.article_id, chunk.char_start + start, chunk.char_start + end)
            if key not in seen:
                seen[key] = len(texts)
                texts.append(chunk.text[start:end])
            held.append(seen[key])
        members.append(np.array(held, dtype=np.int64))
    return texts, members


def _day(published: datetime | None) -> int:
    return published.astimezone(UTC).date().toordinal() if published else 0
