"""newsrag as LangChain components: its search as a retriever, its answers as a runnable.

`NewsragRetriever` is a `BaseRetriever`: a question in, the passages `rag search` finds out,
as `Document`s. `NewsragAnswerer` is a `Runnable`: a question (and the chat so far) in, a
`GroundedAnswer` out, checked and cited as `rag ask` answers; `.stream()` yields the model's
draft piece by piece, then the answer. Both work over one `Pipeline`, and take the filters of
`rag search` (since, until, sources, as_of) as fields or, per call, from the config's
`configurable` (the retriever also as keyword arguments of `invoke`, as is `k`).

This is the one module of `rag` that imports `langchain_core`.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Generator, Iterator, Mapping, Sequence
from datetime import date, datetime
from typing import Any, NotRequired

from langchain_core.callbacks import (
    AsyncCallbackManagerForRetrieverRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import Document
from langchain_core.messages import (
    AIMessage,
    HumanMessage,
    MessageLikeRepresentation,
    convert_to_messages,
)
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import ConfigurableFieldSpec, RunnableConfig, RunnableSerializable
from langchain_core.runnables.config import run_in_executor
from pydantic import BaseModel, ConfigDict, Field, field_validator
from typing_extensions import TypedDict  # the one whose schema pydantic reads on 3.11

from rag.errors import InputError
from rag.filters import make_filters, parse_day
from rag.pipeline import Pipeline
from rag.present import passage_json
from rag.stream import ask_stream
from rag.types import Answer, Filters, Passage, Turn

FILTERS = ("since", "until", "sources", "as_of")
"""The per-call options both components read from the config's `configurable`."""
SEARCH = (*FILTERS, "k")
"""The retriever's per-call options."""
SPECS = {
    name: ConfigurableFieldSpec(id=name, annotation=annotation, description=description)
    for name, annotation, description in [
        ("since", date | str | None, "Only articles published on or after this day."),
        ("until", date | str | None, "Only articles published on or before this day."),
        ("sources", list[str] | str | None, "Only articles of these sources."),
        ("as_of", date | str | None, 'The day "last week" counts from.'),
        ("k", int | None, "Passages per query."),
    ]
}
"""The per-call options, as LangChain's `config_schema` describes them."""


def document(passage: Passage) -> Document:
    """A passage as LangChain holds it: its text, and in the metadata where it comes from and
    how it scored (the fields of `rag search --json`)."""
    fields = passage_json(passage)
    text = fields.pop("text")
    return Document(page_content=text, metadata=fields, id=passage.chunk.id)


class CitedPassage(BaseModel):
    """A `[number]` in the answer's text and the passage sentence that supports it:
    `passage.page_content[start:end]`, with its support score (0..1)."""

    number: int
    passage: Document
    start: int
    end: int
    score: float

    @property
    def sentence(self) -> str:
        return self.passage.page_content[self.start : self.end]


class GroundedAnswer(BaseModel):
    """An answer as `rag ask` gives it: the text with its `[n]` markers, what they cite, and
    every passage the model was given (numbered from 1), or the abstention and why."""

    question: str
    """The question answered: a follow-up rewritten to stand alone (see `follow_up`)."""
    text: str
    citations: list[CitedPassage]
    passages: list[Document]
    abstained: bool
    """True when the answer is that the corpus does not say."""
    basis: str
    """How the short answer was decided or, when it abstained, why."""
    kind: str
    """The kind of question: yes_no, name or open."""
    notes: list[str] = Field(default_factory=list)
    """What the search read from the question, and filters it had to drop."""
    follow_up: str | None = None
    """The question as asked, when it was rewritten from the chat history."""

    @classmethod
    def of(cls, answer: Answer) -> GroundedAnswer:
        passages = [document(p) for p in answer.passages]
        return cls(
            question=answer.question,
            text=answer.text,
            citations=[  # [n] cites passage n
                CitedPassage(
                    number=c.number,
                    passage=passages[c.number - 1],
                    start=c.start,
                    end=c.end,
                    score=c.score,
                )
                for c in answer.citations
            ],
            passages=passages,
            abstained=answer.abstained,
            basis=answer.basis,
            kind=answer.kind,
            notes=list(answer.notes),
            follow_up=answer.follow_up,
        )


class _Filtered(BaseModel):
    """The filters of `rag search`, as fields: unset ones are the pipeline's settings'."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    pipeline: Pipeline
    since: date | None = None
    until: date | None = None
    sources: tuple[str, ...] = ()
    as_of: date | None = None

    @field_validator("sources", mode="before")
    @classmethod
    def _split_sources(cls, value: Any) -> list[str]:
        return _names(value)

    def _filters(self, given: Mapping[str, Any]) -> tuple[Filters, date | None]:
        """The filters and as-of day of one call: each option `given` (per call, checked and
        named when it is wrong) wins, even an empty one; else the field, else the setting."""
        settings = self.pipeline.settings

        def option(name: str, default: Any) -> Any:
            return given[name] if given.get(name) is not None else default

        filters = make_filters(
            since=_day(option("since", self.since or settings.since), "since"),
            until=_day(option("until", self.until or settings.until), "until"),
            sources=_names(option("sources", self.sources or settings.sources)),
        )
        return filters, parse_day(_day(option("as_of", self.as_of), "as_of"), field="as_of")


def _configured(config: RunnableConfig | None, names: tuple[str, ...]) -> dict[str, Any]:
    """The options among `names` that the config's `configurable` sets."""
    configurable = (config or {}).get("configurable") or {}
    return {name: configurable[name] for name in names if name in configurable}


def _checked(options: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """`options` without LangChain's own `verbose`; any option not in `names` is a
    `TypeError`."""
    given = {name: value for name, value in options.items() if name != "verbose"}
    if unknown := set(given) - set(names):
        raise TypeError(f"unknown option {', '.join(sorted(unknown))}; known: {', '.join(names)}")
    return given


def _day(value: Any, name: str) -> str | None:
    """A day given as a date or as text, as text (`make_filters` reads and checks it)."""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, date):
        return value.isoformat()
    raise InputError(
        f"{name}: {value!r} is not a date", hint=f"Give {name} as a date or as YYYY-MM-DD."
    )


def _names(value: Any) -> list[str]:
    """Source names given as a list, or as text with commas between them."""
    names = value.split(",") if isinstance(value, str) else value
    if not isinstance(names, list | tuple) or not all(isinstance(n, str) for n in names):
        raise InputError(
            f"sources: {value!r} is not a list of source names",
            hint='Give sources as a list of names, e.g. ["TechCrunch", "The Verge"].',
        )
    return list(names)


class NewsragRetriever(_Filtered, BaseRetriever):
    """The `k` passages `rag search` finds for a query, best first, as `Document`s.

    Each document's id is its chunk's id; its metadata holds the chunk and article ids, title,
    source, published_at (ISO), url, char_start and char_end (its span of the article's body),
    score and found_by. Per call, `k` and the filters come from keyword arguments of `invoke`
    or from the config's `configurable`, over the fields.
    """

    k: int | None = Field(default=None, ge=1)
    """Passages per query; unset means the pipeline's setting."""

    @property
    def config_specs(self) -> list[ConfigurableFieldSpec]:
        return [SPECS[name] for name in SEARCH]

    def invoke(
        self, input: str, config: RunnableConfig | None = None, **kwargs: Any
    ) -> list[Document]:
        return super().invoke(input, config, **_configured(config, SEARCH) | kwargs)

    async def ainvoke(
        self, input: str, config: RunnableConfig | None = None, **kwargs: Any
    ) -> list[Document]:
        return await super().ainvoke(input, config, **_configured(config, SEARCH) | kwargs)

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **options: Any
    ) -> list[Document]:
        options = _checked(options, SEARCH)
        k = options.get("k", self.k or self.pipeline.settings.k)
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise InputError(f"k: {k!r} is not a number of passages", hint="Give k as 1 or more.")
        filters, as_of = self._filters(options)
        found = self.pipeline.search(query, k=k, filters=filters, as_of=as_of)
        return [document(p) for p in found.passages]

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun, **options: Any
    ) -> list[Document]:
        sync = run_manager.get_sync()
        return await run_in_executor(
            None, self._get_relevant_documents, query, run_manager=sync, **options
        )


class Question(TypedDict):
    """The answerer's input when it is not just the question."""

    question: str
    chat_history: NotRequired[Sequence[MessageLikeRepresentation]]
    """The conversation so far, oldest first: messages, or ("human"/"ai", text) pairs."""


class NewsragAnswerer(_Filtered, RunnableSerializable[str | Question, GroundedAnswer | str]):
    """Answers as `rag ask` gives them, as a `Runnable`.

    Input: the question, or a `Question` with the chat history, which a follow-up is read
    with (see `Pipeline.ask`). `invoke` returns a `GroundedAnswer`; `stream` yields the
    model's draft (strings) as it is written, then the `GroundedAnswer`. Per call, the filters
    come from keyword arguments or from the config's `configurable`, over the fields.
    """

    @property
    def OutputType(self) -> type[GroundedAnswer]:
        """What `invoke` returns; `stream` yields the draft's strings before it."""
        return GroundedAnswer

    @property
    def config_specs(self) -> list[ConfigurableFieldSpec]:
        return [SPECS[name] for name in FILTERS]

    def invoke(
        self, input: str | Question, config: RunnableConfig | None = None, **kwargs: Any
    ) -> GroundedAnswer:
        def answer(given: str | Question) -> GroundedAnswer:
            question, history, filters, as_of = self._request(given, config, kwargs)
            reply = self.pipeline.ask(question, history=history, filters=filters, as_of=as_of)
            return GroundedAnswer.of(reply)

        done = self._call_with_config(answer, input, config)
        assert isinstance(done, GroundedAnswer)
        return done

    def stream(
        self, input: str | Question, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Iterator[GroundedAnswer | str]:
        # An input that streams in (from a model, or a parallel step) is added up first by
        # `Runnable.transform`, which then calls this.
        yield from self._transform_stream_with_config(
            iter([input]), lambda inputs: self._pieces(next(inputs), config, kwargs), config
        )

    async def astream(
        self, input: str | Question, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AsyncIterator[GroundedAnswer | str]:
        async def given() -> AsyncIterator[str | Question]:
            yield input

        async def pieces(inputs: AsyncIterator[str | Question]) -> AsyncIterator[Any]:
            """`stream`'s pieces, each awaited in a worker thread."""
            stream = self._pieces(await anext(inputs), config, kwargs)
            try:
                while (piece := await run_in_executor(config, next, stream, None)) is not None:
                    yield piece
            finally:
                # Stops the model (a stream busy in its thread stops once it is collected).
                with contextlib.suppress(ValueError):
                    stream.close()

        async for piece in self._atransform_stream_with_config(given(), pieces, config):
            yield piece

    def _pieces(
        self, given: str | Question, config: RunnableConfig | None, kwargs: Mapping[str, Any]
    ) -> Generator[GroundedAnswer | str]:
        """The draft's pieces, then the `GroundedAnswer`, of one call."""
        question, history, filters, as_of = self._request(given, config, kwargs)
        with contextlib.closing(
            ask_stream(self.pipeline, question, history=history, filters=filters, as_of=as_of)
        ) as pieces:  # closed, the model stops
            for piece in pieces:
                yield piece if isinstance(piece, str) else GroundedAnswer.of(piece)

    def _request(
        self, given: str | Question, config: RunnableConfig | None, kwargs: Mapping[str, Any]
    ) -> tuple[str, list[Turn], Filters, date | None]:
        """The question, the conversation before it, the filters and the as-of day of one
        call (checked inside the run, so that callbacks see what is wrong with it)."""
        options = _checked(_configured(config, FILTERS) | dict(kwargs), FILTERS)
        question, history = _question(given)
        return question, history, *self._filters(options)


def _question(given: str | Question) -> tuple[str, list[Turn]]:
    """The question and the conversation before it, from the runnable's input."""
    if isinstance(given, str):
        return given, []
    if not isinstance(given, dict) or not isinstance(given.get("question"), str):
        raise InputError(
            f"the input {given!r} has no question",
            hint='Pass the question as a string, or as {"question": ..., "chat_history": [...]}.',
        )
    turns, asked = [], None
    for message in convert_to_messages(given.get("chat_history") or []):
        if isinstance(message, HumanMessage):
            asked = str(message.text)
        elif isinstance(message, AIMessage) and asked is not None:
            turns.append(Turn(asked, str(message.text)))
            asked = None
    return given["question"], turns
