"""The one place where the stages meet: search, ask and status over one index.

The CLI, the UI and the evaluation call a `Pipeline` and never reach around it. It is the
read side; ingests and removals go through it to its `Writer` (see `rag.ingest`), which shares
its store, manifest and search index. Models load on first use; pass `embedder=` or
`generator=` to put something else behind a seam.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from rag.answer import answer, decline, unsupported
from rag.config import Settings, index_name
from rag.errors import InputError, check_embedder
from rag.filters import check_sources, describe, no_match
from rag.followup import needs_history, rewrite

# Re-exported: the types of `Pipeline.ingest`, for its callers.
from rag.ingest import ArticleDone as ArticleDone
from rag.ingest import IngestReport as IngestReport
from rag.ingest import Writer
from rag.integrity import SEARCH_DIR, open_manifest, open_store
from rag.kinds import question_kind
from rag.listing import entries_of, passing
from rag.load import default_corpus as default_corpus
from rag.manifest import Entry, IngestRecord
from rag.model_check import last_pass
from rag.models import describe_model, load_embedder, load_generator, model_file, resolve_model
from rag.plan import Plan, plan
from rag.prompt import fit_context
from rag.retrieve import Tuning, retrieve
from rag.screen import screen
from rag.seams import Embedder, Generator, Store
from rag.search_index import SearchIndex
from rag.types import Answer, Filters, Passage, SearchResult, StoreStats, Turn


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
    store: str
    """Where the chunks and vectors are: a Chroma server's collection, or the data dir's."""


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
        self.manifest = open_manifest(settings)
        self.index = SearchIndex(settings.data_dir / SEARCH_DIR)
        self._embedder = embedder
        self._generator = generator
        self._loading = threading.RLock()

    @functools.cached_property
    def store(self) -> Store:
        """Chroma: on the server at `chroma_url`, else in the data dir (opened on first write
        or search index rebuild: reads never need it)."""
        return open_store(self.settings, self.manifest)

    @functools.cached_property
    def writer(self) -> Writer:
        return Writer(
            self.settings,
            store=self.store,
            manifest=self.manifest,
            index=self.index,
            embedder=lambda: self.embedder,
            generation=self._generation,
        )

    @property
    def embedder(self) -> Embedder:
        with self._loading:  # loaded once, however many threads ask for it first
            if self._embedder is None:
                self._check_embedder(self.settings.embedder)
                self._embedder = load_embedder(self.settings)
            return self._embedder

    @property
    def generator(self) -> Generator:
        with self._loading:
            if self._generator is None:
                self._generator = load_generator(self.settings, lambda: self.model_path)
            return self._generator

    def is_empty(self) -> bool:
        """Nothing was ever ingested (into a Chroma server: by any machine)."""
        return self.store.count() == 0 if self.settings.chroma_url else not self.manifest.entries()

    def ingest_default_if_empty(self) -> IngestReport | None:
        """Give an empty index the bundled articles, so a first question has something to read."""
        return self.ingest([default_corpus()]) if self.is_empty() else None

    def check_ready(self) -> None:
        """Fail fast, before any model loads, on the index's embedder and the model file, and
        on an empty Chroma server (which others may be about to fill: nothing is added)."""
        if (url := self.settings.chroma_url) and self.is_empty():
            raise InputError(
                f"{index_name(url, self.settings.collection)} holds no articles",
                hint=f"Ingest some first: rag ingest --chroma-url {url} PATH",
            )
        self._check_embedder(self.settings.embedder)
        if self._generator is None and not self.settings.llm_url:
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
        shard: tuple[int, int] | None = None,
        on_article: Callable[[ArticleDone], object] | None = None,
    ) -> IngestReport:
        """Add the articles under `paths` to the index (see `Writer.ingest`)."""
        # Before any article is admitted, so that a refused embedder leaves no trace.
        self._check_embedder(self._embedder.name if self._embedder else self.settings.embedder)
        return self.writer.ingest(
            paths, source=source, fields=fields, prune=prune, shard=shard, on_article=on_article
        )

    def remove(self, article_ids: Sequence[str]) -> None:
        """Delete these articles (see `Writer.remove`)."""
        self.writer.remove(article_ids)

    def remove_all(self) -> int:
        """Delete every article; how many there were (see `Writer.remove_all`)."""
        return self.writer.remove_all()

    def standalone_question(self, question: str, history: Sequence[Turn]) -> str:
        """`question` as it reads without the conversation `history` (oldest turn first):
        rewritten by the model when its wording leans on the turns before it (see
        `rag.followup`), else as asked. The model is used only to rewrite."""
        return self._standalone(check_question(question), history)

    def _standalone(self, question: str, history: Sequence[Turn]) -> str:
        if not needs_history(question, history):
            return question
        return rewrite(question, history, self.generator)

    def ask(
        self,
        question: str,
        *,
        history: Sequence[Turn] = (),
        filters: Filters | None = None,
        as_of: date | None = None,
        on_token: Callable[[str], None] | None = None,
    ) -> Answer:
        """Answer `question` from the passages found for it (see `search`): the short answer
        first, then the passage sentences that support it, each citing its passage as [n]
        (see `rag.answer`), or the abstention and why.

        A follow-up to the conversation `history` is first rewritten to stand alone (see
        `standalone_question`); the answer is to that question, and keeps the user's own
        words in `follow_up`. `on_token` sees the short answer as the model writes it.
        `filters` and `as_of` are as in `search`.
        """
        asked = check_question(question)  # checked once here, not again below
        question = self._standalone(asked, history)
        self._user_filters(filters)  # a mistyped source fails before the models load
        generator, _ = self.generator, self.embedder  # load before the clock: not answer time
        kind = question_kind(question)
        started = time.perf_counter()
        found = self._search(question, k=self.settings.k, filters=filters, as_of=as_of)
        timings = {"retrieve": time.perf_counter() - started}
        budget = self.settings.context_tokens - self.settings.max_tokens
        passages = screen(  # what in them speaks to the model is not read (see rag.screen)
            fit_context(
                question, found.passages, budget=budget, count_tokens=generator.count_tokens
            )
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

    def search(
        self, question: str, *, k: int, filters: Filters | None = None, as_of: date | None = None
    ) -> SearchResult:
        """The `k` best passages for `question`, best first, and how they were searched.

        `filters` (default: the settings' since, until and sources) win over the dates and
        sources the question names. They are the user's: a source the index does not hold is
        an `InputError`, and when no article passes them there are no passages, and a note
        says which of them matched nothing. Only what was read from the question is dropped
        when nothing passes it, with a note saying so. `as_of` (default: the settings', else
        the newest article's day) is the day that "last week" in the question counts from.
        """
        return self._search(check_question(question), k=k, filters=filters, as_of=as_of)

    def _search(
        self, question: str, *, k: int, filters: Filters | None, as_of: date | None
    ) -> SearchResult:
        embedder = self.embedder
        given = self._user_filters(filters)
        self._check_embedder(embedder.name, embedder.dim)
        settings, index = self.settings, self.index.snapshot()  # as synced, whatever syncs next
        if given and not index.mask(given).any():
            dates = Filters(given.since, given.until)
            # Every source given is known: the dates match nothing, or only with the sources.
            unmatched = dates if dates and not index.mask(dates).any() else given
            return SearchResult([], given, (no_match(unmatched),))
        as_of = as_of or settings.as_of or index.newest_day()
        search_plan = plan(question, sources=index.sources(), as_of=as_of, given=given)
        tuning = Tuning(
            settings.retriever, settings.bm25_weight, settings.candidates, settings.max_per_article
        )

        def run(this: Plan) -> list[Passage]:
            return retrieve(this, index=index, embedder=embedder, k=k, tuning=tuning)

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
        self._sync()
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
        if self.settings.chroma_url:  # what every machine wrote, as the chunks tell it
            self._sync()
            entries = entries_of(self.index.chunks)
        else:
            entries = [e for e in self.manifest.entries() if e.state == "done"]
        return passing(entries, filters)

    def status(self) -> Status:
        return Status(
            stats=self.store.stats() if self.settings.chroma_url else self.manifest.stats(),
            last_ingest=self.manifest.last_ingest(),
            embedder=self._recorded_embedder(),
            model=describe_model(self.settings),
            model_checked=last_pass(model, cache_dir=self.settings.cache_dir)
            if (model := model_file(self.settings)).is_file() and not self.settings.llm_url
            else None,
            data_dir=self.settings.data_dir,
            store=index_name(self.settings.chroma_url, self.settings.collection),
        )

    def _sync(self) -> None:
        """Bring the search index up to date with the index (from Chroma, if it must)."""
        self.index.sync(lambda: self.store, self._generation())

    def _generation(self) -> str:
        """The index's version: on a Chroma server, which other machines write, the store's;
        else the manifest's counter (which needs no Chroma opened)."""
        if self.settings.chroma_url:
            return self.store.version()
        return f"{self.settings.collection}:{self.manifest.generation()}"

    def _recorded_embedder(self) -> tuple[str, int] | None:
        """The index's embedder: the search index's record, or the store's when it lags behind."""
        if not self.settings.chroma_url and not self.manifest.generation():
            return None  # nothing was ever written
        return self.index.embedder if self.index.built(self._generation()) else self.store.embedder

    def _check_embedder(self, name: str, dim: int | None = None) -> None:
        """Refuse an embedder other than the index's."""
        index = self.settings.chroma_url or self.settings.data_dir
        check_embedder(self._recorded_embedder(), name, dim, index=index)
