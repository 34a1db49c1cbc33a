"""The write side of the index: ingests and removals, one article at a time.

Three things hold an index and move together: the Chroma store (chunks and their vectors),
the manifest (what each article is: new, changed, unchanged or a copy, see `rag.manifest`)
and the BM25 search index (rebuilt from the store once a write is over). The manifest decides
what happens to each article; a `Writer` carries that out on the store, so that an ingest
reads from top to bottom: load, hash, admit, write the chunks, finish.

    writer = Writer(settings, store=store, manifest=manifest, index=index, embedder=load)
    report = writer.ingest(["news/"], prune=True)
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rag.chunking import chunk_article, embedding_text
from rag.config import Settings
from rag.errors import ConfigError
from rag.load import load_articles
from rag.manifest import Manifest, Outcome
from rag.seams import Embedder, Store
from rag.search_index import SearchIndex
from rag.types import Article, Problem


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


def index_article(
    article: Article,
    *,
    store: Store,
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


class Writer:
    """Ingests into and removals from the index in `settings.data_dir`.

    `embedder` loads the embedder; it is called only when a chunk is to be written, so that an
    ingest with nothing new loads no model.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        store: Store,
        manifest: Manifest,
        index: SearchIndex,
        embedder: Callable[[], Embedder],
    ) -> None:
        self.settings = settings
        self.store = store
        self.manifest = manifest
        self.index = index
        self._load_embedder = embedder

    def ingest(
        self,
        paths: Sequence[Path | str],
        *,
        source: str | None = None,
        fields: Mapping[str, str] | None = None,
        prune: bool = False,
        on_article: Callable[[ArticleDone], object] | None = None,
    ) -> IngestReport:
        """Load the articles under `paths` and index those that are new or changed.

        Unchanged articles are skipped, a changed one replaces its old chunks, and an article
        whose exact body is already indexed under another id is recorded as a copy of it.
        Paths may be files, folders or http(s) URLs. `source` overrides every article's
        source; `fields` renames JSON keys (see `load_articles`). With `prune`, articles once
        read from a file inside one of the folders in `paths` but not found there now are
        removed.
        `on_article` hears of each article as it is done (for progress bars).
        """
        started = time.perf_counter()
        loaded = load_articles(paths, source=source, fields=fields)
        ingest_id = self.manifest.start_ingest()
        generation = self.manifest.generation()
        outcomes: Counter[str] = Counter()
        chunks = 0
        for article in loaded.articles:
            outcome, written = self._settle(article)
            outcomes[outcome] += 1
            chunks += written
            if on_article is not None:
                on_article(ArticleDone(article, outcome, written, len(loaded.articles)))
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
        if self.manifest.generation() != generation:
            self.index.sync(self.store, self.manifest.generation())
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

    def remove(self, article_ids: Sequence[str]) -> None:
        """Delete these articles, then bring the search index up to date."""
        self._remove(article_ids)
        self.index.sync(self.store, self.manifest.generation())

    def remove_all(self) -> int:
        """Delete every article and every copy of one; how many articles there were."""
        ids = [entry.id for entry in self.manifest.entries()]
        self.manifest.release(ids)  # their copies go with them: nothing is left to re-home
        self.store.remove_articles(ids)
        self.manifest.remove(ids)
        self.index.sync(self.store, self.manifest.generation())
        return len(ids)

    def _settle(self, article: Article) -> tuple[Outcome, int]:
        """Do what the manifest decides for `article` (see `Manifest.admit`): (outcome,
        chunks written).

        Copies it lets go of are settled first, while it is pending: an interrupted run leaves
        them in its keeping, to be settled again when it is. A copy holds no copies of its
        own, so this goes one level deep.
        """
        body = hashlib.sha256(article.body.encode()).hexdigest()
        admission = self.manifest.admit(
            article, content_hash=self._content_hash(article, body), body_hash=body
        )
        if admission.dropped:
            self.store.remove_articles([article.id])
        for orphan in admission.orphans:
            self._settle(orphan)
        if admission.dropped:
            self.manifest.remove([article.id])
        if admission.outcome not in ("new", "changed"):
            return admission.outcome, 0
        written = index_article(
            article,
            store=self.store,
            embedder=self._embedder(),
            chunk_tokens=self.settings.chunk_tokens,
            chunk_overlap=self.settings.chunk_overlap,
        )
        self.manifest.finish(article.id, chunks=written)
        return admission.outcome, written

    def _remove(self, article_ids: Sequence[str]) -> None:
        """Delete these articles: released first (pending, so that an interrupted removal
        leaves nothing that looks whole), then their chunks, then, once the copies they held
        are settled in their own right, their manifest entries. The search index is left to
        the caller (an ingest rebuilds it once, at its end)."""
        orphans = self.manifest.release(article_ids)
        self.store.remove_articles(article_ids)
        for orphan in orphans:
            self._settle(orphan)
        self.manifest.remove(article_ids)

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
