"""newsrag as LangChain components (rag/langchain.py): the retriever against a real small index
(real files, real Chroma, the keyword embedder), the answer runnable with the scripted
generator, and LangChain's own standard retriever tests."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any
from uuid import UUID

import pytest
from conftest import KeywordEmbedder, ScriptedGenerator, write
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.documents import Document
from langchain_core.language_models import FakeListChatModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import ConfigurableField, RunnableLambda, RunnablePassthrough
from langchain_tests.integration_tests import RetrieversIntegrationTests

from rag.config import Settings
from rag.errors import InputError
from rag.langchain import GroundedAnswer, NewsragAnswerer, NewsragRetriever
from rag.pipeline import Pipeline
from rag.prompt import NOT_IN_CORPUS
from rag.types import Filters

ARTICLES = {
    "talks.md": "---\ntitle: London talks\nsource: Post\npublished_at: 2025-04-23\n"
    "url: https://post.example/talks\n---\nOfficials from France and Germany met in London.",
    "summit.md": "---\ntitle: London summit ends\nsource: Herald\npublished_at: 2025-05-10\n---\n"
    "The London summit on trade ended with a deal between France and Italy.",
    "budget.md": "---\ntitle: Budget vote\nsource: Herald\npublished_at: 2025-05-12\n---\n"
    "The London council voted on its budget for trade and schools.",
    "paris.md": "---\ntitle: Paris climate\nsource: Post\n---\nA summit on climate in Paris.",
    "rome.txt": "Rome hosted a football final.",
}
KEYWORDS = ["london", "paris", "rome", "climate", "football", "france", "trade", "summit"]
LONDON = "What happened in London?"


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """One small index, written once; each test opens it with its own pipeline."""
    home = tmp_path_factory.mktemp("langchain")
    for name, text in ARTICLES.items():
        write(home / "corpus" / name, text)
    settings = Settings(data_dir=home / "data", cache_dir=home / "cache")
    Pipeline(settings, embedder=KeywordEmbedder(KEYWORDS)).ingest([home / "corpus"])
    return settings


def pipeline_over(settings: Settings, *replies: str | dict[str, float]) -> Pipeline:
    generator = ScriptedGenerator(*replies)
    return Pipeline(settings, embedder=KeywordEmbedder(KEYWORDS), generator=generator)


@pytest.fixture
def pipeline(index: Settings) -> Pipeline:
    return pipeline_over(index)


def ids(documents: list[Document]) -> list[str | None]:
    return [d.id for d in documents]


def test_the_retriever_gives_what_rag_search_finds_with_its_metadata(pipeline: Pipeline) -> None:
    found = pipeline.search(LONDON, k=4).passages
    documents = NewsragRetriever(pipeline=pipeline, k=4).invoke(LONDON)
    assert len(documents) == 4
    assert {d.metadata["title"] for d in documents[:3]} == {
        "London talks",
        "London summit ends",
        "Budget vote",
    }
    assert ids(documents) == [p.chunk.id for p in found]
    assert [d.metadata["score"] for d in documents] == [round(p.score, 4) for p in found]
    talks = next(d for d in documents if d.metadata["title"] == "London talks")
    article_id = talks.metadata["article_id"]
    assert talks.page_content == "Officials from France and Germany met in London."
    assert talks.metadata == {
        "chunk_id": f"{article_id}::0",
        "article_id": article_id,
        "title": "London talks",
        "source": "Post",
        "published_at": "2025-04-23T00:00:00+00:00",
        "url": "https://post.example/talks",
        "char_start": 0,
        "char_end": len(talks.page_content),
        "score": talks.metadata["score"],
        "found_by": talks.metadata["found_by"],
    }
    assert talks.id == talks.metadata["chunk_id"]
    assert set(talks.metadata["found_by"].split("+")) <= {"bm25", "dense"}


@pytest.mark.parametrize(
    ("options", "filters"),
    [
        ({"sources": ["Herald"]}, Filters(sources=("Herald",))),
        ({"sources": "Post"}, Filters(sources=("Post",))),
        ({"since": "2025-05-01"}, Filters(since=date(2025, 5, 1))),
        ({"until": date(2025, 5, 10)}, Filters(until=date(2025, 5, 10))),
        (
            {"since": "2025-05-01", "until": "2025-05-11", "sources": ["Herald"]},
            Filters(date(2025, 5, 1), date(2025, 5, 11), ("Herald",)),
        ),
    ],
)
def test_filters_work_as_fields_as_keywords_and_from_the_config(
    pipeline: Pipeline, options: dict[str, Any], filters: Filters
) -> None:
    expected = [p.chunk.id for p in pipeline.search(LONDON, k=5, filters=filters).passages]
    unfiltered = [p.chunk.id for p in pipeline.search(LONDON, k=5).passages]
    assert expected and expected != unfiltered  # each filter changes what is found
    retriever = NewsragRetriever(pipeline=pipeline)
    assert ids(NewsragRetriever(pipeline=pipeline, **options).invoke(LONDON)) == expected
    assert ids(retriever.invoke(LONDON, **options)) == expected
    assert ids(retriever.invoke(LONDON, {"configurable": options})) == expected
    assert ids(retriever.invoke(LONDON)) == unfiltered  # per call means per call


def test_a_call_s_options_win_over_the_fields(pipeline: Pipeline) -> None:
    retriever = NewsragRetriever(pipeline=pipeline, sources=("Post",), k=1)
    [herald] = retriever.invoke(LONDON, sources=["Herald"])
    assert herald.metadata["source"] == "Herald"
    assert len(retriever.invoke(LONDON, {"configurable": {"k": 2, "sources": ["Herald"]}})) == 2


def test_an_empty_option_of_a_call_clears_the_field(pipeline: Pipeline) -> None:
    retriever = NewsragRetriever(pipeline=pipeline, sources=("Post",))
    assert {d.metadata["source"] for d in retriever.invoke(LONDON)} == {"Post"}
    everything = {d.metadata["source"] for d in retriever.invoke(LONDON, sources=[])}
    assert everything == {"Post", "Herald", None}


def test_as_of_sets_the_day_that_last_week_counts_from(pipeline: Pipeline) -> None:
    question = "What happened in London last week?"
    retriever = NewsragRetriever(pipeline=pipeline)
    weeks = {"2025-04-28": "London talks", "2025-05-14": "London summit ends"}
    for as_of, title in (weeks | {"2025-05-20": "Budget vote"}).items():
        day = date.fromisoformat(as_of)
        documents = retriever.invoke(question, as_of=as_of)
        assert [d.metadata["title"] for d in documents] == [title]
        assert ids(documents) == [
            p.chunk.id for p in pipeline.search(question, k=5, as_of=day).passages
        ]
        assert ids(NewsragRetriever(pipeline=pipeline, as_of=day).invoke(question)) == ids(
            documents
        )


def test_ainvoke_and_abatch_give_what_invoke_gives(pipeline: Pipeline) -> None:
    retriever = NewsragRetriever(pipeline=pipeline, k=2)
    expected = retriever.invoke(LONDON, sources=["Herald"])

    async def run() -> tuple[list[Document], list[list[Document]]]:
        one = await retriever.ainvoke(LONDON, {"configurable": {"sources": ["Herald"]}})
        many = await retriever.abatch([LONDON, "Who hosted the football final?"])
        return one, many

    one, many = asyncio.run(run())
    assert ids(one) == ids(expected)
    assert ids(many[0]) == ids(retriever.invoke(LONDON))
    assert many[1][0].page_content == "Rome hosted a football final."


def test_wrong_options_are_errors_that_name_them(pipeline: Pipeline) -> None:
    retriever = NewsragRetriever(pipeline=pipeline)
    with pytest.raises(InputError, match="unknown source 'Heral'") as error:
        retriever.invoke(LONDON, sources=["Heral"])
    assert "Herald" in error.value.hint
    with pytest.raises(InputError, match="since: 'May 2025' is not a date"):
        retriever.invoke(LONDON, {"configurable": {"since": "May 2025"}})
    with pytest.raises(InputError, match=r"since \(2025-06-01\) is after until"):
        retriever.invoke(LONDON, since="2025-06-01", until="2025-05-01")
    with pytest.raises(InputError, match="k: 0"):
        retriever.invoke(LONDON, k=0)
    with pytest.raises(TypeError, match="unknown option top_k"):
        retriever.invoke(LONDON, top_k=3)


class Events(BaseCallbackHandler):
    """The callbacks LangChain makes, in order, as (event, run name or payload)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, Any]] = []

    def on_retriever_start(self, serialized: Any, query: str, **kwargs: Any) -> None:
        self.seen.append(("retriever_start", kwargs.get("name")))

    def on_retriever_end(self, documents: Any, **kwargs: Any) -> None:
        self.seen.append(("retriever_end", len(documents)))

    def on_chain_start(self, serialized: Any, inputs: Any, **kwargs: Any) -> None:
        self.seen.append(("chain_start", kwargs.get("name")))

    def on_chain_end(self, outputs: Any, **kwargs: Any) -> None:
        self.seen.append(("chain_end", type(outputs).__name__))

    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self.seen.append(("chain_error", type(error).__name__))


def test_the_retriever_reports_to_callbacks_and_composes_in_lcel(pipeline: Pipeline) -> None:
    prompts: list[str] = []

    def seen(prompt: Any) -> Any:
        prompts.append(prompt.to_string())
        return prompt

    chain = (
        {
            "context": NewsragRetriever(pipeline=pipeline, k=1)
            | (lambda docs: "\n".join(d.page_content for d in docs)),
            "question": RunnablePassthrough(),
        }
        | ChatPromptTemplate.from_template("Context: {context}\nQuestion: {question}")
        | RunnableLambda(seen)
        | FakeListChatModel(responses=["Rome."])
        | StrOutputParser()
    )
    events = Events()
    assert chain.invoke("Who hosted the football final?", {"callbacks": [events]}) == "Rome."
    assert prompts == [
        "Human: Context: Rome hosted a football final.\nQuestion: Who hosted the football final?"
    ]
    assert ("retriever_start", "NewsragRetriever") in events.seen
    assert ("retriever_end", 1) in events.seen


def test_configurable_fields_work_as_langchain_documents_them(pipeline: Pipeline) -> None:
    retriever = NewsragRetriever(pipeline=pipeline).configurable_fields(
        sources=ConfigurableField(id="outlet")
    )
    documents = retriever.invoke(LONDON, {"configurable": {"outlet": ("Post",)}})
    assert {d.metadata["source"] for d in documents} == {"Post"}


DRAFT = "France and Germany met"
SENTENCE = "Officials from France and Germany met in London."


def test_the_answerer_returns_the_answer_rag_ask_gives(index: Settings) -> None:
    expected = pipeline_over(index, DRAFT).ask(LONDON)
    answer = NewsragAnswerer(pipeline=pipeline_over(index, DRAFT)).invoke(LONDON)
    assert isinstance(answer, GroundedAnswer)
    assert answer.text == expected.text == f"{DRAFT}. {SENTENCE[:-1]} [1]."
    assert (answer.abstained, answer.kind, answer.basis) == (False, "open", expected.basis)
    [citation] = answer.citations
    assert citation.number == 1
    assert citation.sentence == SENTENCE
    assert citation.passage.metadata["title"] == "London talks"
    assert citation.passage == answer.passages[0]
    assert ids(answer.passages) == [p.chunk.id for p in expected.passages]
    assert citation.score == expected.citations[0].score


def test_stream_yields_the_draft_then_the_answer(index: Settings) -> None:
    answerer = NewsragAnswerer(pipeline=pipeline_over(index, DRAFT))
    events = Events()
    pieces = list(answerer.stream(LONDON, {"callbacks": [events]}))
    *draft, answer = pieces
    assert draft == ["France ", "and ", "Germany ", "met"]
    assert isinstance(answer, GroundedAnswer)
    assert answer.text.startswith(DRAFT + ". ")
    assert events.seen == [("chain_start", "NewsragAnswerer"), ("chain_end", "GroundedAnswer")]


def test_an_unsupported_question_streams_only_the_abstention(index: Settings) -> None:
    pipeline = pipeline_over(index)  # nothing scripted: the model must not be asked
    [answer] = NewsragAnswerer(pipeline=pipeline).stream("Who won the chess olympiad?")
    assert isinstance(answer, GroundedAnswer)
    assert (answer.text, answer.abstained, answer.citations) == (NOT_IN_CORPUS, True, [])
    assert answer.basis  # and why
    filtered = NewsragAnswerer(pipeline=pipeline, since="2026-01-01").invoke(LONDON)
    assert filtered.abstained and filtered.passages == []
    [note] = filtered.notes
    assert note.startswith("No article matches your filters") and "2026-01-01" in note


def test_a_follow_up_is_read_with_the_chat_history(index: Settings) -> None:
    pipeline = pipeline_over(index, "What did France do in London?", DRAFT)
    history = [("human", "What happened in Rome?"), ("ai", "A football final [1].")]
    answer = NewsragAnswerer(pipeline=pipeline).invoke(
        {"question": "And what about France in London?", "chat_history": history}
    )
    assert answer.follow_up == "And what about France in London?"
    assert answer.question.startswith("What did France do in London?")
    rewrite = pipeline.generator.prompts[0][-1]["content"]  # type: ignore[attr-defined]
    assert "What happened in Rome?" in rewrite and "A football final" in rewrite


def test_the_answerer_is_one_step_of_a_larger_chain(index: Settings) -> None:
    chain = (
        RunnableLambda(lambda ticket: ticket["subject"])
        | NewsragAnswerer(pipeline=pipeline_over(index, DRAFT, DRAFT))
        | RunnableLambda(lambda answer: f"{answer.text} ({len(answer.citations)} cited)")
    )
    expected = f"{DRAFT}. {SENTENCE[:-1]} [1]. (1 cited)"
    assert chain.invoke({"subject": LONDON}) == expected
    assert list(chain.stream({"subject": LONDON})) == [expected]


def test_filters_reach_the_answer_per_call(index: Settings) -> None:
    answerer = NewsragAnswerer(pipeline=pipeline_over(index, DRAFT))
    answer = answerer.invoke(LONDON, {"configurable": {"sources": ["Herald"], "k": 9}})
    assert {d.metadata["source"] for d in answer.passages} == {"Herald"}
    with pytest.raises(TypeError, match="unknown option k"):
        answerer.invoke(LONDON, k=3)


def test_errors_reach_the_caller_and_the_callbacks(index: Settings) -> None:
    answerer = NewsragAnswerer(pipeline=pipeline_over(index))
    events = Events()
    with pytest.raises(InputError, match="unknown source 'Nobody'"):
        list(answerer.stream(LONDON, {"callbacks": [events]}, sources=["Nobody"]))
    assert events.seen[-1] == ("chain_error", "InputError")
    with pytest.raises(InputError, match="has no question"):
        answerer.invoke({"input": LONDON})


def test_astream_and_astream_events_stream_the_draft(index: Settings) -> None:
    answerer = NewsragAnswerer(pipeline=pipeline_over(index, DRAFT, DRAFT))

    async def run() -> tuple[list[Any], list[str]]:
        pieces = [piece async for piece in answerer.astream(LONDON)]
        kinds = [event["event"] async for event in answerer.astream_events(LONDON, version="v2")]
        return pieces, kinds

    pieces, kinds = asyncio.run(run())
    assert pieces[:-1] == ["France ", "and ", "Germany ", "met"]
    assert isinstance(pieces[-1], GroundedAnswer)
    assert kinds == ["on_chain_start", *["on_chain_stream"] * 5, "on_chain_end"]


class TestStandardRetrieverTests(RetrieversIntegrationTests):
    """LangChain's own tests of a retriever, on the small index."""

    @pytest.fixture(autouse=True)
    def _pipeline(self, index: Settings) -> None:
        self.pipeline = pipeline_over(index)

    @property
    def retriever_constructor(self) -> type[NewsragRetriever]:
        return NewsragRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"pipeline": self.pipeline}

    @property
    def retriever_query_example(self) -> str:
        return "London summit on trade"


def test_an_input_that_streams_in_is_answered_whole(index: Settings) -> None:
    """A question written by a model upstream, and a question and history from a parallel
    step, each arrive in many chunks; the answer is to the whole of them."""
    answerer = NewsragAnswerer(pipeline=pipeline_over(index, DRAFT, DRAFT, DRAFT))
    asked = FakeListChatModel(responses=[LONDON]) | StrOutputParser() | answerer
    *_, answer = asked.stream("Which question?")
    assert isinstance(answer, GroundedAnswer) and answer.question == LONDON
    assert answer.text.startswith(DRAFT + ". ")

    async def last() -> Any:
        return [piece async for piece in asked.astream("Which question?")][-1]

    assert asyncio.run(last()).question == LONDON
    history = [("human", "What happened in Rome?"), ("ai", "A football final [1].")]
    framed = {
        "question": RunnablePassthrough(),
        "chat_history": RunnableLambda(lambda _: history),
    } | answerer
    *_, answer = framed.stream("What happened in London?")  # stands alone: not rewritten
    assert (answer.question, answer.follow_up) == (LONDON, None)


def test_batch_abatch_and_ainvoke_answer_each_question(index: Settings) -> None:
    answerer = NewsragAnswerer(pipeline=pipeline_over(index))
    questions = ["Who won the chess olympiad?", "Who won the sailing regatta?"]
    assert [a.abstained for a in answerer.batch(questions)] == [True, True]

    async def run() -> list[GroundedAnswer]:
        return [*await answerer.abatch(questions), await answerer.ainvoke(questions[0])]

    answers = asyncio.run(run())
    assert [a.question for a in answers] == [*questions, questions[0]]


def test_the_answerer_takes_dates_and_as_of_per_call(index: Settings) -> None:
    answerer = NewsragAnswerer(pipeline=pipeline_over(index, DRAFT, DRAFT))
    march = answerer.invoke(LONDON, since="2025-05-01", until="2025-05-11")
    assert [d.metadata["title"] for d in march.passages] == ["London summit ends"]
    week = answerer.invoke(
        "What happened in London last week?", {"configurable": {"as_of": "2025-05-20"}}
    )
    assert [d.metadata["title"] for d in week.passages] == ["Budget vote"]


def test_the_schemas_name_the_input_output_and_per_call_options(pipeline: Pipeline) -> None:
    answerer = NewsragAnswerer(pipeline=pipeline)
    assert answerer.get_output_jsonschema()["title"] == "GroundedAnswer"
    given = answerer.get_input_jsonschema()
    assert given["anyOf"] == [{"type": "string"}, {"$ref": "#/$defs/Question"}]
    question = given["$defs"]["Question"]
    assert question["required"] == ["question"] and "chat_history" in question["properties"]
    options = answerer.config_schema().model_json_schema()["$defs"]["Configurable"]
    assert set(options["properties"]) == {"since", "until", "sources", "as_of"}
    chain = NewsragRetriever(pipeline=pipeline) | (lambda docs: docs[0].page_content) | answerer
    options = chain.config_schema().model_json_schema()["$defs"]["Configurable"]
    assert set(options["properties"]) == {"since", "until", "sources", "as_of", "k"}
