"""The data that flows between stages: plain, frozen, typed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

UNKNOWN_SOURCE = "(unknown)"
"""What `StoreStats.sources` counts articles without a source under (not a source name)."""


@dataclass(frozen=True)
class Article:
    """One news article as loaded, before any model sees it."""

    id: str
    title: str
    body: str
    source: str | None = None
    author: str | None = None
    url: str | None = None
    published_at: datetime | None = None
    origin: str = ""
    """Where it was read from, for messages: the path as given, with line or record number."""
    file: str = ""
    """The absolute path of the file it was read from."""


@dataclass(frozen=True)
class Chunk:
    """A span of an article's body, with the article's metadata carried along.

    `text == article.body[char_start:char_end]` always holds.
    """

    article_id: str
    ordinal: int
    text: str
    char_start: int
    char_end: int
    title: str
    source: str | None = None
    url: str | None = None
    published_at: datetime | None = None

    @property
    def id(self) -> str:
        return f"{self.article_id}::{self.ordinal}"

    def record(self) -> dict[str, Any]:
        """The chunk as JSON holds it (see `from_record`)."""
        published = self.published_at
        return {**vars(self), "published_at": published.isoformat() if published else None}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Chunk:
        published = record["published_at"]
        return cls(
            **{**record, "published_at": datetime.fromisoformat(published) if published else None}
        )


@dataclass(frozen=True)
class Filters:
    """What a search is restricted to: a range of publication days and a set of sources.

    Both ends of the range are inclusive, whole days in UTC. An article without a date never
    matches a range; an empty `sources` allows every source.
    """

    since: date | None = None
    until: date | None = None
    sources: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.since or self.until or self.sources)


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its retrieval score (higher ranks first) and what found it."""

    chunk: Chunk
    score: float
    found_by: str = ""
    """The retrievers that found it (bm25, dense) in the search of the question, or of the part
    of it, that ranked it best."""


@dataclass(frozen=True)
class SearchResult:
    """The passages found for a question, the filters they passed, and notes for the user
    (what was read from the question, whether it had to be dropped, and whether the user's
    own filters matched nothing)."""

    passages: list[Passage]
    filters: Filters
    notes: tuple[str, ...] = ()
    claims: tuple[str, ...] = ()
    """The question's clauses, when it has several (see `rag.plan.Plan.claims`)."""


@dataclass(frozen=True)
class Citation:
    """A `[number]` marker in an answer, the passage it points at, and the sentence of that
    passage that supports the answer: `passage.chunk.text[start:end]`, with its support
    score (0..1, see `rag.verify.support`)."""

    number: int
    passage: Passage
    start: int
    end: int
    score: float


@dataclass(frozen=True)
class Answer:
    """What a question gets back: the text, what it cites, and what it was given."""

    question: str
    text: str
    citations: tuple[Citation, ...]
    passages: tuple[Passage, ...]
    abstained: bool
    """True when the answer is that the corpus does not say."""
    kind: str = "open"
    """The kind of question (`rag.kinds`): yes_no, name or open."""
    basis: str = ""
    """How the short answer was decided, or why the pipeline declined to answer."""
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds per stage: retrieve, first_token, generate, total."""
    tokens: int = 0
    """Tokens the model wrote for the draft."""
    notes: tuple[str, ...] = ()
    """What the search read from the question, and filters it had to drop."""
    follow_up: str | None = None
    """The user's own words when the question was rewritten from the conversation into
    `question`; None when asked as it stood."""


@dataclass(frozen=True)
class Turn:
    """One exchange of a conversation, as a later follow-up question reads it."""

    question: str
    """The standalone question that was answered."""
    answer: str
    """The answer text shown."""


@dataclass(frozen=True)
class Problem:
    """Something wrong with one input, reported at the end of an ingest; the rest goes on."""

    origin: str
    message: str
    hint: str


@dataclass(frozen=True)
class StoreStats:
    """What the index holds, for `rag status`."""

    articles: int
    chunks: int
    sources: dict[str, int] = field(default_factory=dict)
    """Articles per source; articles without one count under `UNKNOWN_SOURCE`."""
    first_published: datetime | None = None
    last_published: datetime | None = None
