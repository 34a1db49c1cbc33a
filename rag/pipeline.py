"""The one place where the stages meet: ingest, ask and status over one index.

The CLI, the UI and the evaluation call a `Pipeline` and never reach around it. Models load
on first use; pass `embedder=` or `generator=` to put something else behind a seam.
"""

from __future__ import annotations

import functools
import hashlib
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

from rag.answer import answer, decline, unsupported
from rag.backends.chroma import ChromaStore, StoreStats
from rag.config import Settings
from rag.errors import ConfigError, InputError
from rag.filters import check_sources, describe, no_match
from rag.followup import needs_history, rewrite
from rag.generate import Generator, fit_context
from rag.index import Embedder, index_article
from rag.kinds import question_kind
from rag.load import load_articles
from rag.manifest import Entry, IngestRecord, Manifest
from rag.model_check import ensure_model_runs, last_pass
from rag.models import describe_model, model_file, resolve_embedder, resolve_model
from rag.query import Plan, plan
from rag.retrieve import Tuning, retrieve
from rag.search_index import SearchIndex
from rag.types import Answer, Article, Filters, Passage, Problem, Turn

PACKAGE_DIR = Path(__file__).resolve().parent
Outcome = Literal["new", "changed", "unchanged", "copy"]


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
class SearchResult:
    """The passages found for a question, the filters they passed, and notes for the user
    (what was read from the question, whether it had to be dropped, and whether the user's
    own filters matched nothing)."""

    passages: list[Passage]
    filters: Filters
    notes: tuple[str, ...] = ()
    claims: tuple[str, ...] = ()
    """The question's clauses, when it has several (see `rag.query.Plan.claims`)."""


@dataclass(frozen=True)
class Status:
    """What the index holds and which models it uses."""

    stats: StoreStats
    last_ingest: IngestRecord | None
    embedder: tuple[str, int] | None
    model: str
    model_checked: str | None
    """When the answer model last passed its test generation on this build and CPU."""
    data_dir: Path


def default_corpus() -> Path:
    """The bundled articles: inside the wheel, or in `corpus/` beside the package in a checkout."""
    for candidate in (PACKAGE_DIR / "default_corpus", PACKAGE_DIR.parent / "corpus"):
        candidate = candidate / "articles"
        if candidate.is_dir():
            return candidate
    raise InputError(
        "the default corpus is missing from this installation",
        hint="Reinstall newsrag, or ingest your own articles with `rag ingest PATH`.",
    )


def check_question(question: str) -> str:
    """The question without surrounding space; an empty one is an `InputError`."""
    if not question.strip():
        raise InputError(
            "the question is empty", hint='Ask something, e.g. rag ask "Who met in London?"'
        )
    return question.strip()


class Pipeline:
    """Question answering over the articles in `settings.data_dir`."""

    def __init__(
        self,
        settings: Settings,
        *,
        embedder: Embedder | None = None,
        generator: Generator | None = None,
    ) -> None:
        self.settings = settings
        self.store = ChromaStore(settings.data_dir / "chroma")
        self.manifest = Manifest(settings.data_dir / "manifest.sqlite3")
        self.index = SearchIndex(settings.data_dir / "search")
        self._embedder = embedder
        self._generator = generator

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self.store.check_embedder(self.settings.embedder)
            from rag.backends.sentence_transformers import SentenceTransformerEmbedder

            path = resolve_embedder(self.settings.embedder)
            self._embedder = SentenceTransformerEmbedder(
                self.settings.embedder, path=path, cache_dir=self.settings.cache_dir
            )
        return self._embedder

    @property
    def generator(self) -> Generator:
        if self._generator is None:
            from rag.backends.llama_cpp import LlamaCppGenerator

            # A build for another CPU dies silently in native code: prove it in a child first.
            ensure_model_runs(
                self.model_path, cache_dir=self.settings.cache_dir, threads=self.settings.threads
            )
            self._generator = LlamaCppGenerator(
                self.model_path,
                context_tokens=self.settings.context_tokens,
                threads=self.settings.threads,
            )
        return self._generator

    def is_empty(self) -> bool:
        return self.store.count() == 0

    def ingest_default_if_empty(self) -> IngestReport | None:
        """Give an empty index the bundled articles, so a first question has something to read."""
        return self.ingest([default_corpus()]) if self.is_empty() else None

    def check_ready(self) -> None:
        """Fail fast, before any model loads, on the index's embedder and the model file."""
        self.store.check_embedder(self.settings.embedder)
        if self._generator is None:
            _ = self.model_path

    @functools.cached_property
    def model_path(self) -> Path:
        """The answer model's GGUF file, resolved (and verified) once."""
        return resolve_model(self.settings)

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
        first_of_body: dict[str, str] = {}
        for article in loaded.articles:
            outcome, written = self._ingest_one(article, first_of_body)
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

    def _ingest_one(self, article: Article, first_of_body: dict[str, str]) -> tuple[Outcome, int]:
        """Index one article unless it is unchanged or a copy: (outcome, chunks written).

        `first_of_body` maps body hashes seen in this ingest to their article ids.
        """
        content, body = self._hashes(article)
        entry = self.manifest.get(article.id)
        if entry is not None and entry.state == "done" and entry.content_hash == content:
            first_of_body.setdefault(body, article.id)
            if entry.file != article.file:  # moved: remember where it is now, for --prune
                self.manifest.moved(article)
            return "unchanged", 0
        twin = first_of_body.get(body)
        if twin is None:
            indexed = self.manifest.same_body(body, other_than=article.id)
            twin = indexed.id if indexed is not None else article.id
        first_of_body[body] = twin  # the id that holds this text
        if twin != article.id:
            if entry is not None:  # it had a text of its own before: drop that
                self._remove([article.id])
            self.manifest.add_copy(twin, article)
            return "copy", 0
        self.manifest.begin(article, content_hash=content, body_hash=body)
        self._rehome_copies(article.id, unless_body=body)
        written = index_article(
            article,
            store=self.store,
            embedder=self._embedder_for_writing(),
            chunk_tokens=self.settings.chunk_tokens,
            chunk_overlap=self.settings.chunk_overlap,
        )
        self.manifest.finish(article.id, chunks=written)
        return ("changed" if entry is not None else "new"), written

    def remove(self, article_ids: Sequence[str]) -> None:
        """Delete these articles, then bring the search index up to date."""
        self._remove(article_ids)
        self.index.sync(self.store, self.manifest.generation())

    def remove_all(self) -> int:
        """Delete every article and every copy of one; how many articles there were."""
        ids = [entry.id for entry in self.manifest.entries()]
        self.manifest.mark_pending(ids)
        self.store.remove_articles(ids)
        self.manifest.remove(ids)  # their copies with them: nothing is left to re-home
        self.index.sync(self.store, self.manifest.generation())
        return len(ids)

    def _remove(self, article_ids: Sequence[str]) -> None:
        """Delete these articles: marked pending first, so that an interrupted removal
        leaves nothing that looks whole; then their chunks; then their manifest entries.
        The search index is left to the caller (an ingest rebuilds it once, at its end)."""
        self.manifest.mark_pending(article_ids)
        self.store.remove_articles(article_ids)
        for article_id in article_ids:
            self._rehome_copies(article_id)
        self.manifest.remove(article_ids)

    def _rehome_copies(self, holder: str, *, unless_body: str | None = None) -> None:
        """Index in their own right the copies of `holder`, which no longer holds their text
        (it is pending: changed or being removed). Copies of body `unless_body` stay."""
        first_of_body: dict[str, str] = {}
        for copy in self.manifest.copies_of(holder):
            if hashlib.sha256(copy.body.encode()).hexdigest() != unless_body:
                self._ingest_one(copy, first_of_body)

    def _hashes(self, article: Article) -> tuple[str, str]:
        """(content hash, body hash): the first changes with anything that changes the chunks."""
        body = hashlib.sha256(article.body.encode()).hexdigest()
        published = article.published_at.isoformat() if article.published_at else ""
        fields = [
            article.title,
            article.source or "",
            article.author or "",
            article.url or "",
            published,
            body,
            self.settings.embedder,
            str(self.settings.chunk_tokens),
            str(self.settings.chunk_overlap),
        ]
        return hashlib.sha256("\x1f".join(fields).encode()).hexdigest(), body

    def _embedder_for_writing(self) -> Embedder:
        """The embedder, checked once against the index and the chunk size."""
        embedder = self.embedder
        if self.settings.chunk_tokens > embedder.max_length:
            raise ConfigError(
                f"chunks of {self.settings.chunk_tokens} tokens are longer than embedder "
                f"{embedder.name!r} reads ({embedder.max_length} tokens)",
                hint=f"Use --chunk-tokens {embedder.max_length} or fewer.",
            )
        self.store.bind_embedder(embedder.name, embedder.dim)
        return embedder

    def standalone_question(self, question: str, history: Sequence[Turn]) -> str:
        """`question` as it reads without the conversation `history` (oldest turn first):
        rewritten by the model when its wording leans on the turns before it (see
        `rag.followup`), else as asked. The model is used only to rewrite."""
        question = check_question(question)
        if not needs_history(question, history):
            return question
        return rewrite(question, history, self.generator)

    def ask(
        self,
        question: str,
        *,
        history: Sequence[Turn] = (),
        filters: Filters | None = None,
        on_token: Callable[[str], None] | None = None,
    ) -> Answer:
        """Answer `question` from the passages found for it (see `search`): the short answer
        first, then the passage sentences that support it, each citing its passage as [n]
        (see `rag.answer`), or the abstention and why.

        A follow-up to the conversation `history` is first rewritten to stand alone (see
        `standalone_question`); the answer is to that question, and keeps the user's own
        words in `follow_up`. `on_token` sees the short answer as the model writes it.
        """
        asked = check_question(question)
        question = self.standalone_question(asked, history)
        self._user_filters(filters)  # a mistyped source fails before the models load
        generator, _ = self.generator, self.embedder  # load before the clock: not answer time
        kind = question_kind(question)
        started = time.perf_counter()
        found = self.search(question, k=self.settings.k, filters=filters)
        timings = {"retrieve": time.perf_counter() - started}
        budget = self.settings.context_tokens - self.settings.max_tokens
        passages = fit_context(
            question, found.passages, budget=budget, count_tokens=generator.count_tokens
        )
        reason = unsupported(
            question, kind, passages, rarity=self.index.rarity, sources=self.index.sources()
        )
        if reason is not None:
            reply = decline(reason)
        else:

            def first(piece: str) -> None:
                timings.setdefault("first_token", time.perf_counter() - started)
                if on_token is not None:
                    on_token(piece)

            reply = answer(
                question,
                kind,
                passages,
                claims=found.claims,
                generator=generator,
                rarity=self.index.rarity,
                on_token=first,
            )
        timings["total"] = time.perf_counter() - started
        timings["generate"] = timings["total"] - timings["retrieve"]
        return Answer(
            question,
            reply.text,
            reply.citations,
            tuple(passages),
            reply.abstained,
            kind=kind,
            basis=reply.basis,
            timings=timings,
            tokens=reply.tokens,
            notes=found.notes,
            follow_up=asked if asked != question else None,
        )

    def search(self, question: str, *, k: int, filters: Filters | None = None) -> SearchResult:
        """The `k` best passages for `question`, best first, and how they were searched.

        `filters` (default: the settings' since, until and sources) win over the dates and
        sources the question names. They are the user's: a source the index does not hold is
        an `InputError`, and when no article passes them there are no passages, and a note
        says which of them matched nothing. Only what was read from the question is dropped
        when nothing passes it, with a note saying so.
        """
        question = check_question(question)
        embedder = self.embedder
        self.store.check_embedder(embedder.name, embedder.dim)
        given = self._user_filters(filters)
        settings = self.settings
        known = self.index.sources()
        if given and not self.index.mask(given).any():
            dates = Filters(given.since, given.until)
            # Every source given is known: the dates match nothing, or only with the sources.
            unmatched = dates if dates and not self.index.mask(dates).any() else given
            return SearchResult([], given, (no_match(unmatched),))
        as_of = settings.as_of or self.index.newest_day()
        search_plan = plan(question, sources=known, as_of=as_of, given=given)
        tuning = Tuning(
            settings.retriever, settings.bm25_weight, settings.candidates, settings.max_per_article
        )

        def run(this: Plan) -> list[Passage]:
            return retrieve(this, index=self.index, embedder=embedder, k=k, tuning=tuning)

        passages = run(search_plan)
        notes = search_plan.notes
        if not passages and search_plan.filters != given:  # what the question implied
            searched = describe(given) if given else "everything"
            notes += (f"Nothing matches {describe(search_plan.filters)}: searched {searched}.",)
            search_plan = Plan(question, given)
            passages = run(search_plan)
        claims = tuple(claim.text for claim in search_plan.claims)
        return SearchResult(passages, search_plan.filters, notes, claims)

    def _user_filters(self, filters: Filters | None) -> Filters:
        """The user's filters (`filters`, else the settings'), with every source checked
        against the index, which is brought up to date first."""
        self.index.sync(self.store, self.manifest.generation())
        settings = self.settings
        given = filters or Filters(settings.since, settings.until, settings.sources)
        check_sources(given.sources, known=self.index.sources())
        return given

    def articles(self, filters: Filters | None = None) -> list[Entry]:
        """The indexed articles that pass `filters`, newest first, undated ones last.

        Sources match exactly, as in a search, and one the index lacks is an `InputError`;
        an undated article never passes a date range.
        """
        filters = filters or Filters()
        entries = [e for e in self.manifest.entries() if e.state == "done"]
        check_sources(filters.sources, known=sorted({e.source for e in entries if e.source}))

        def passes(entry: Entry) -> bool:
            if filters.sources and entry.source not in filters.sources:
                return False
            if not (filters.since or filters.until):
                return True
            if entry.published_at is None:
                return False
            day = datetime.fromisoformat(entry.published_at).date()
            return (filters.since or day) <= day <= (filters.until or day)

        done = [e for e in entries if passes(e)]
        done.sort(key=lambda e: e.published_at or "", reverse=True)
        return done

    def status(self) -> Status:
        return Status(
            stats=self.store.stats(),
            last_ingest=self.manifest.last_ingest(),
            embedder=self.store.embedder,
            model=describe_model(self.settings),
            model_checked=last_pass(model, cache_dir=self.settings.cache_dir)
            if (model := model_file(self.settings)).is_file()
            else None,
            data_dir=self.settings.data_dir,
        )
