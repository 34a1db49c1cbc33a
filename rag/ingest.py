"""The write side of the index: ingests and removals.

Three things hold an index and move together: the Chroma store (chunks and their vectors),
the manifest (what each article is: new, changed, unchanged or a copy, see `rag.manifest`)
and the BM25 search index (rebuilt from the store once a write is over). The manifest decides
what happens to each article; a `Writer` carries that out on the store, so that an ingest
reads from top to bottom: load, hash, admit, chunk, then (a few articles at a time, so that
the embedder gets full batches) embed, write the chunks, finish.

    writer = Writer(
        settings, store=store, manifest=manifest, index=index, embedder=load, generation=version
    )
    report = writer.ingest(["news/"], prune=True)
"""

from __future__ import annotations

import functools
import hashlib
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

from rag.chunking import chunk_article, embedding_text
from rag.config import Settings, index_name
from rag.errors import ConfigError
from rag.load import load_articles
from rag.lock import writing
from rag.manifest import Manifest, Outcome
from rag.seams import Embedder, Store
from rag.search_index import SearchIndex
from rag.types import Article, Chunk, Problem

P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True)
class IngestReport:
    """What an ingest did: articles read, chunks written, and the inputs it could not use."""

    articles: int
    chunks: int
    problems: tuple[Problem, ...]
    seconds: float
    outcomes: dict[str, int] = field(default_factory=dict)
    """Articles per outcome (new, changed, unchanged, copy), and removed ones with prune."""


@dataclass(frozen=True)
class ArticleDone:
    """One article of an ingest is done: what happened to it, out of how many."""

    article: Article
    outcome: Outcome
    chunks: int
    """Chunks written for it (0 unless new or changed)."""
    total: int
    """Articles in this ingest."""


@dataclass(frozen=True)
class _Waiting:
    """An admitted article whose chunks wait for the next batch to be embedded."""

    id: str
    body_hash: str


BATCH_CHUNKS = 256
"""Chunks embedded and stored at once, across articles: the embedder sorts them by length, so
that a batch pads little (an article alone, a dozen chunks of every length, pads a lot), and
Chroma takes them in one write."""


def in_shard(article_id: str, shard: tuple[int, int]) -> bool:
    """Whether the article is in shard I of N (counted from 1): by a hash of its id, so that
    an article, changed or not, always falls in the same shard. Copies are found within a
    shard: one text under two ids in two shards is indexed twice."""
    number, count = shard
    return int.from_bytes(hashlib.sha256(article_id.encode()).digest()[:8]) % count == number - 1


def _alone(method: Callable[Concatenate[Writer, P], T]) -> Callable[Concatenate[Writer, P], T]:
    """`method` run holding the data dir's write lock (see `rag.lock`)."""

    @functools.wraps(method)
    def alone(writer: Writer, /, *args: P.args, **kwargs: P.kwargs) -> T:
        with writing(writer.settings.data_dir):
            return method(writer, *args, **kwargs)

    return alone


class Writer:
    """Ingests into and removals from the index in `settings.data_dir`.

    `embedder` loads the embedder; it is called only when a chunk is to be written, so that an
    ingest with nothing new loads no model. `generation` is the index's version, which the
    search index is brought up to once a write is over.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        store: Store,
        manifest: Manifest,
        index: SearchIndex,
        embedder: Callable[[], Embedder],
        generation: Callable[[], str],
    ) -> None:
        self.settings = settings
        self.store = store
        self.manifest = manifest
        self.index = index
        self._load_embedder = embedder
        self._generation = generation
        self._waiting: list[tuple[_Waiting, list[Chunk]]] = []
        """Admitted articles, chunked, waiting to be embedded with the next batch."""

    @_alone
    def ingest(
        self,
        paths: Sequence[Path | str],
        *,
        source: str | None = None,
        fields: Mapping[str, str] | None = None,
        prune: bool = False,
        shard: tuple[int, int] | None = None,
        on_article: Callable[[ArticleDone], object] | None = None,
    ) -> IngestReport:
        """Load the articles under `paths` and index those that are new or changed.

        Unchanged articles are skipped, a changed one replaces its old chunks, and an article
        whose exact body is already indexed under another id is recorded as a copy of it.
        Paths may be files, folders or http(s) URLs. `source` overrides every article's
        source; `fields` renames JSON keys (see `load_articles`). With `prune`, articles once
        read from a file inside one of the folders in `paths` but not found there now are
        removed.
        With `shard` (I, N), only the articles of shard I of N are indexed (see `in_shard`):
        N processes, each with its own manifest, can index one corpus into one store.
        `on_article` hears of each article as it is done (for progress bars).
        """
        started = time.perf_counter()
        if shard and not self.settings.chroma_url:
            raise ConfigError(
                "--shard splits an ingest between machines that write to one Chroma server",
                hint="Give --chroma-url too, or ingest without --shard.",
            )
        self._claim(shard=f"{shard[0]}/{shard[1]}" if shard else "")
        loaded = load_articles(paths, source=source, fields=fields)
        mine = [a for a in loaded.articles if shard is None or in_shard(a.id, shard)]
        ingest_id = self.manifest.start_ingest()
        try:
            done = self._settle_all(mine, on_article)
        finally:
            self._waiting.clear()  # what an error left waiting is pending: settled next run
        outcomes: Counter[str] = Counter(d.outcome for d in done)
        chunks = sum(d.chunks for d in done)
        if prune:
            seen = {article.id for article in loaded.articles}
            folders = [Path(p).resolve() for p in paths if Path(p).is_dir()]
            # Only articles whose file is gone: a file that failed to read this time stays.
            gone = [
                entry.id
                for folder in folders
                for entry in self.manifest.find(under=folder)
                if entry.id not in seen and not Path(entry.file).exists()
            ]
            copies_gone = sum(self.manifest.drop_copies_gone(f, keep=seen) for f in folders)
            self._remove(gone)
            outcomes["removed"] = len(gone) + copies_gone
        # Also when nothing changed now: a run killed before its rebuild left it out of date.
        if not self.index.built(now := self._generation()):
            self.index.sync(lambda: self.store, now)
        if shard is not None:
            outcomes["in other shards"] = len(loaded.articles) - len(mine)
        report = IngestReport(
            articles=len(loaded.articles),
            chunks=chunks,
            problems=tuple(loaded.problems),
            seconds=time.perf_counter() - started,
            outcomes=dict(outcomes),
        )
        self.manifest.finish_ingest(
            ingest_id, summary={**outcomes, "chunks": chunks}, problems=loaded.problems
        )
        return report

    @_alone
    def remove(self, article_ids: Sequence[str]) -> None:
        """Delete these articles, then bring the search index up to date."""
        self._claim()
        self._remove(article_ids)
        self.index.sync(lambda: self.store, self._generation())

    @_alone
    def remove_all(self) -> int:
        """Delete every article and every copy of one; how many articles there were."""
        self._claim()
        ids = [entry.id for entry in self.manifest.entries()]
        self.manifest.release(ids)  # their copies go with them: nothing is left to re-home
        self.store.remove_articles(ids)
        self.manifest.remove(ids)
        self.index.sync(lambda: self.store, self._generation())
        return len(ids)

    def _settle_all(
        self, articles: Sequence[Article], on_article: Callable[[ArticleDone], object] | None
    ) -> list[ArticleDone]:
        """Settle each article; `on_article` hears of each once its chunks are written."""
        done: list[ArticleDone] = []
        told = 0
        for article in articles:
            outcome, written = self._settle(article)
            done.append(ArticleDone(article, outcome, written, len(articles)))
            if not self._waiting or article is articles[-1]:
                self._write_waiting()
                if on_article is not None:
                    for each in done[told:]:
                        on_article(each)
                told = len(done)
        return done

    def _settle(self, article: Article) -> tuple[Outcome, int]:
        """Do what the manifest decides for `article` (see `Manifest.admit`): (outcome,
        chunks written).

        Copies it lets go of are settled first, while it is pending: an interrupted run leaves
        them in its keeping, to be settled again when it is. A copy holds no copies of its
        own, so this goes one level deep.
        """
        body = hashlib.sha256(article.body.encode()).hexdigest()
        if any(body == w.body_hash or article.id == w.id for w, _ in self._waiting):
            # Written first: the manifest then knows it as done (this article is a copy of
            # it, or its next version), and one write never holds a chunk id twice.
            self._write_waiting()
        admission = self.manifest.admit(
            article, content_hash=self._content_hash(article, body), body_hash=body
        )
        if admission.dropped:
            self._write_waiting()  # a removal never comes before a write it follows
            self.store.remove_articles([article.id])
        waiting = {w.id for w, _ in self._waiting}
        for orphan in admission.orphans:
            # A copy already waiting has a newer text of its own (its `finish` forgets that
            # it was a copy); the orphan is its old one.
            if orphan.id not in waiting:
                self._settle(orphan)
        if admission.dropped:
            self._write_waiting()  # the orphans' chunks, before the entry holding them goes
            self.manifest.remove([article.id])
        if admission.outcome not in ("new", "changed"):
            return admission.outcome, 0
        chunks = chunk_article(
            article,
            size=self.settings.chunk_tokens,
            overlap=self.settings.chunk_overlap,
            count_tokens=self._embedder().count_tokens,
        )
        self._waiting.append((_Waiting(article.id, body), chunks))
        if sum(len(c) for _, c in self._waiting) >= BATCH_CHUNKS:
            self._write_waiting()
        return admission.outcome, len(chunks)

    def _write_waiting(self) -> None:
        """Embed the waiting articles' chunks together, store them in one write, then finish
        each article: until then it is pending, and an interrupted run settles it again."""
        if not self._waiting:
            return
        chunks = [c for _, article_chunks in self._waiting for c in article_chunks]
        vectors = self._embedder().embed_documents([embedding_text(c) for c in chunks])
        self.store.replace_articles([w.id for w, _ in self._waiting], chunks, vectors)
        for waiting, article_chunks in self._waiting:
            self.manifest.finish(waiting.id, chunks=len(article_chunks))
        self._waiting.clear()

    def _remove(self, article_ids: Sequence[str]) -> None:
        """Delete these articles: released first (pending, so that an interrupted removal
        leaves nothing that looks whole), then their chunks, then, once the copies they held
        are settled in their own right, their manifest entries. The search index is left to
        the caller (an ingest rebuilds it once, at its end)."""
        self._write_waiting()
        orphans = self.manifest.release(article_ids)
        self.store.remove_articles(article_ids)
        for orphan in orphans:
            self._settle(orphan)
        self._write_waiting()
        self.manifest.remove(article_ids)

    def _claim(self, shard: str | None = None) -> None:
        """Refuse to write with a manifest kept for another index (or shard)."""
        settings = self.settings
        self.manifest.claim(index=index_name(settings.chroma_url, settings.collection), shard=shard)

    def _content_hash(self, article: Article, body_hash: str) -> str:
        """A hash that changes with anything that changes the article's chunks (and with its
        author, which chunks no longer carry: kept so that the hashes already recorded hold)."""
        published = article.published_at.isoformat() if article.published_at else ""
        fields = [
            article.title,
            article.source or "",
            article.author or "",
            article.url or "",
            published,
            body_hash,
            self.settings.embedder,
            str(self.settings.chunk_tokens),
            str(self.settings.chunk_overlap),
        ]
        return hashlib.sha256("\x1f".join(fields).encode()).hexdigest()

    def _embedder(self) -> Embedder:
        """The embedder, checked against the index and the chunk size."""
        embedder = self._load_embedder()
        if self.settings.chunk_tokens > embedder.max_length:
            raise ConfigError(
                f"chunks of {self.settings.chunk_tokens} tokens are longer than embedder "
                f"{embedder.name!r} reads ({embedder.max_length} tokens)",
                hint=f"Use --chunk-tokens {embedder.max_length} or fewer.",
            )
        self.store.bind_embedder(embedder.name, embedder.dim)
        return embedder
