"""The whole pipeline on real files and real Chroma, with fakes at the two model seams."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from conftest import KeywordEmbedder, ScriptedGenerator, write

from rag.config import Settings
from rag.errors import ConfigError, InputError
from rag.formats import MAX_BODY_CHARS
from rag.pipeline import Pipeline, default_corpus
from rag.prompt import NOT_IN_CORPUS
from rag.types import Filters, Turn

ARTICLES = {
    "london.md": "---\ntitle: London talks\nsource: Post\npublished_at: 2025-04-23\n---\n"
    "Officials from France and Germany met in London.",
    "paris.md": "---\ntitle: Paris summit\nsource: Herald\n---\nA summit on climate in Paris.",
    "rome.txt": "Rome hosted a football final.",
}
KEYWORDS = ["london", "paris", "rome", "climate", "football", "france"]


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    for name, text in ARTICLES.items():
        write(tmp_path / "corpus" / name, text)
    return tmp_path / "corpus"


def make_pipeline(
    settings: Settings, *replies: str | dict[str, float]
) -> tuple[Pipeline, ScriptedGenerator]:
    generator = ScriptedGenerator(*replies)
    return Pipeline(settings, embedder=KeywordEmbedder(KEYWORDS), generator=generator), generator


def test_an_open_question_gets_the_short_answer_then_the_cited_sentence(
    settings: Settings, corpus: Path
) -> None:
    pipeline, generator = make_pipeline(settings, "France and Germany met")
    report = pipeline.ingest([corpus])
    assert (report.articles, report.chunks, report.problems) == (3, 3, ())

    streamed: list[str] = []
    answer = pipeline.ask("What happened in London?", on_token=streamed.append)
    assert "".join(streamed) == "France and Germany met"
    sentence = "Officials from France and Germany met in London"
    assert answer.text == f"France and Germany met. {sentence} [1]."
    assert (answer.kind, answer.abstained) == ("open", False)
    [citation] = answer.citations
    assert citation.number == 1
    assert citation.passage.chunk.title == "London talks"
    assert citation.passage.chunk.text[citation.start : citation.end] == sentence + "."
    assert 0.5 <= citation.score <= 1.0
    assert answer.passages[0] == citation.passage
    assert set(answer.timings) == {"retrieve", "first_token", "generate", "total"}
    # The model saw the London passage first, numbered [1], with its source and date.
    prompt = generator.prompts[0][-1]["content"]
    assert "[1] London talks | Post | 2025-04-23\nOfficials from France" in prompt


def test_tokens_stream_before_the_answer_returns(settings: Settings, corpus: Path) -> None:
    pipeline, _ = make_pipeline(settings, "France and Germany met")
    pipeline.ingest([corpus])
    events: list[str] = []
    answer = pipeline.ask("What happened in London?", on_token=lambda p: events.append(p))
    events.append(answer.text)
    assert events[:-1] == ["France ", "and ", "Germany ", "met"]
    assert events[-1].startswith("France and Germany met.")


def test_a_yes_no_question_is_decided_by_the_model_s_probabilities(
    settings: Settings, corpus: Path
) -> None:
    pipeline, generator = make_pipeline(
        settings, {"Yes": -0.2, "No": -1.8}, {"Yes": -2.5, "No": -0.1}
    )
    pipeline.ingest([corpus])
    said_yes = pipeline.ask("Did officials from France meet in London?")
    said_no = pipeline.ask("Did officials from France meet in London?")
    assert said_yes.kind == "yes_no"
    assert said_yes.text.startswith("Yes. Officials from France and Germany met in London [1]")
    assert said_no.text.startswith("No. ")
    assert "log P(Yes) - log P(No) = 1.60" in said_yes.basis
    assert generator.prompts[0][-1]["content"].endswith("Answer with one word: Yes or No.")


def test_a_name_question_is_answered_with_a_name_from_the_passages(
    settings: Settings, corpus: Path
) -> None:
    pipeline, generator = make_pipeline(settings, {"B": -0.1})
    pipeline.ingest([corpus])
    answer = pipeline.ask("Which country's officials met in London?")
    options = generator.prompts[0][-1]["content"].split("Reply with its letter only.\n")[1]
    assert options.splitlines()[:2] == ["A) France", "B) Germany"]
    assert answer.text == "Germany. Officials from France and Germany met in London [1]."


def test_a_model_that_finds_no_answer_gives_the_corpus_does_not_say(
    settings: Settings, corpus: Path
) -> None:
    pipeline, _ = make_pipeline(settings, "The corpus does not say.")
    pipeline.ingest([corpus])
    answer = pipeline.ask("What was decided in Paris?")
    assert (answer.text, answer.citations, answer.abstained) == (NOT_IN_CORPUS, (), True)
    assert answer.basis == "The model found no answer in the passages."
    assert answer.passages  # the closest passages are still shown


def test_a_name_no_article_mentions_declines_before_the_model(
    settings: Settings, corpus: Path
) -> None:
    pipeline, generator = make_pipeline(settings)
    pipeline.ingest([corpus])
    answer = pipeline.ask("Who was elected mayor of Millbrook?")
    assert answer.abstained and answer.basis == "No article in the index mentions Millbrook."
    assert generator.prompts == []


def test_a_short_answer_no_sentence_supports_is_withheld(settings: Settings, corpus: Path) -> None:
    pipeline, _ = make_pipeline(settings, "Spain and Italy met")
    pipeline.ingest([corpus])
    answer = pipeline.ask("What happened in London?")
    assert answer.abstained
    assert answer.basis == "No passage sentence supports the draft answer 'Spain and Italy met'."


def test_an_empty_index_abstains_without_calling_the_model(settings: Settings) -> None:
    pipeline, generator = make_pipeline(settings)
    answer = pipeline.ask("Anything?")
    assert answer.abstained and answer.passages == ()
    assert generator.prompts == []


def test_reingesting_replaces_instead_of_duplicating(settings: Settings, corpus: Path) -> None:
    pipeline, _ = make_pipeline(settings)
    pipeline.ingest([corpus])
    before = pipeline.store.everything()[0]
    write(corpus / "rome.txt", "Rome hosted a football final. " * 40)
    pipeline.ingest([corpus])
    stats = pipeline.status().stats
    # rome.txt changed, so it has a new id: two versions are two articles (manifest: issue 4).
    assert stats.articles == 4
    chunks = pipeline.store.everything()[0]
    assert [c for c in chunks if c in before] == before  # every chunk there once, unaltered
    added = [c for c in chunks if c not in before]
    assert len({c.article_id for c in added}) == 1
    assert all(c.text.startswith("Rome hosted a football final.") for c in added)
    pipeline.ingest([corpus])
    assert pipeline.status().stats == stats
    assert pipeline.store.everything()[0] == chunks  # the same chunks, none written twice


def test_problems_are_reported_and_the_rest_ingested(settings: Settings, corpus: Path) -> None:
    write(corpus / "broken.jsonl", '{"title": "x"}\n')
    pipeline, _ = make_pipeline(settings)
    report = pipeline.ingest([corpus])
    assert report.articles == 3
    assert [p.origin for p in report.problems] == [f"{corpus / 'broken.jsonl'}:1"]


def test_status_reports_the_embedder_and_date_range(settings: Settings, corpus: Path) -> None:
    pipeline, _ = make_pipeline(settings)
    pipeline.ingest([corpus])
    status = pipeline.status()
    assert status.embedder == ("fake-keyword", len(KEYWORDS) + 1)
    assert status.stats.sources == {"Post": 1, "Herald": 1, "(unknown)": 1}
    assert status.stats.first_published == status.stats.last_published
    assert status.stats.first_published is not None
    assert status.stats.first_published.isoformat() == "2025-04-23T00:00:00+00:00"


def test_an_empty_question_is_refused(settings: Settings) -> None:
    pipeline, _ = make_pipeline(settings)
    with pytest.raises(InputError, match="empty"):
        pipeline.ask("   ")


def test_the_default_corpus_holds_the_seed_article(settings: Settings) -> None:
    pipeline, _ = make_pipeline(settings)
    report = pipeline.ingest([default_corpus()])
    assert report.problems == ()
    stats = pipeline.status().stats
    assert stats.articles >= 1
    seed = Path(__file__).parent.parent.parent / "shared/seed/london-ceasefire-talks.txt"
    if seed.is_file():
        body = (default_corpus() / "london-ceasefire-talks.md").read_text()
        assert seed.read_text().strip() in body


def test_chunks_longer_than_the_embedder_reads_are_refused(
    settings: Settings, corpus: Path
) -> None:
    embedder = KeywordEmbedder(KEYWORDS)
    embedder.max_length = 64
    pipeline = Pipeline(settings.model_copy(update={"chunk_tokens": 65}), embedder=embedder)
    with pytest.raises(ConfigError, match="65 tokens are longer than embedder") as caught:
        pipeline.ingest([corpus])
    assert "--chunk-tokens 64" in caught.value.hint


def test_an_answer_under_filters_that_match_nothing_says_so_without_the_model(
    settings: Settings, corpus: Path
) -> None:
    dated = settings.model_copy(update={"since": date(2031, 1, 1), "sources": ("Post",)})
    pipeline, generator = make_pipeline(dated)
    pipeline.ingest([corpus])
    answer = pipeline.ask("Who met in London?")
    assert (answer.text, answer.passages, answer.abstained) == (NOT_IN_CORPUS, (), True)
    assert answer.notes == (
        "No article matches your filters: there are no articles published since 2031-01-01 "
        "in the index.",
    )
    assert generator.prompts == []


def test_a_source_the_index_lacks_is_refused_before_the_model_loads(
    settings: Settings, corpus: Path
) -> None:
    missing = settings.model_copy(update={"model": settings.data_dir / "none.gguf"})
    pipeline = Pipeline(missing, embedder=KeywordEmbedder(KEYWORDS))
    pipeline.ingest([corpus])
    with pytest.raises(InputError, match="unknown source 'post'"):  # not the missing model
        pipeline.ask("Who met in London?", filters=Filters(sources=("post",)))


def test_a_question_after_several_names_gets_the_list_the_passage_gives(
    settings: Settings, corpus: Path
) -> None:
    pipeline, _ = make_pipeline(settings, {"B": -0.1})
    pipeline.ingest([corpus])
    answer = pipeline.ask("Which countries' officials met in London?")
    assert answer.text == "France and Germany. Officials from France and Germany met in London [1]."


def test_a_list_of_people_with_their_roles_gives_the_people(
    settings: Settings, tmp_path: Path
) -> None:
    sentence = "The officials, Secretary of State Marco Rubio and envoy Steve Witkoff, left London"
    write(tmp_path / "talks.txt", f"{sentence}, opting for Moscow instead.")
    pipeline, _ = make_pipeline(settings, {"A": -0.1})
    pipeline.ingest([tmp_path / "talks.txt"])
    answer = pipeline.ask("Which officials left London?")
    assert (
        answer.text == f"Marco Rubio and Steve Witkoff. {sentence}, opting for Moscow instead [1]."
    )


def test_a_what_question_whose_draft_repeats_it_is_answered_from_the_passages_names(
    settings: Settings, corpus: Path
) -> None:
    pipeline, generator = make_pipeline(settings, "France and Germany", {"A": -0.1})
    pipeline.ingest([corpus])
    answer = pipeline.ask("What did France and Germany meet in?")
    assert answer.text == "London. Officials from France and Germany met in London [1]."
    assert answer.basis.startswith("the names in the passages")
    assert "A) London" in generator.prompts[1][-1]["content"]


@pytest.mark.parametrize(
    ("question", "draft", "reason"),
    [
        (
            "What happened in London?",
            "London",
            "The draft answer 'London' only repeats the question.",
        ),
        # The passage says they met, not what they said: no statement may be put in their mouths.
        (
            "What did the officials from France say in London?",
            "France and Germany met in London",
            "No passage sentence supports the draft answer 'France and Germany met in London'.",
        ),
    ],
)
def test_a_draft_that_does_not_answer_is_withheld(
    settings: Settings, corpus: Path, question: str, draft: str, reason: str
) -> None:
    pipeline, _ = make_pipeline(settings, draft)
    pipeline.ingest([corpus])
    answer = pipeline.ask(question)
    assert (answer.abstained, answer.basis) == (True, reason)


def test_a_body_past_the_limit_is_refused_and_the_other_articles_are_ingested(
    settings: Settings,
) -> None:
    folder = settings.data_dir.parent / "news"
    sentence = "The council met on Tuesday to discuss the harbour bridge. "
    big = write(folder / "big.txt", sentence * (MAX_BODY_CHARS // len(sentence) + 1))
    records = [
        {"title": "Huge", "body": sentence * (MAX_BODY_CHARS // len(sentence) + 1)},
        {"title": "Small", "body": "London talks resumed."},
    ]
    write(folder / "dump.jsonl", "\n".join(json.dumps(r) for r in records))
    write(folder / "ok.txt", "Talks in London.")
    pipeline = Pipeline(settings, embedder=KeywordEmbedder(["london"]))
    report = pipeline.ingest([folder])
    assert report.outcomes == {"new": 2}
    assert sorted(c.text for c in pipeline.store.everything()[0]) == [
        "London talks resumed.",
        "Talks in London.",
    ]
    assert [p.origin for p in report.problems] == [str(big), f"{folder / 'dump.jsonl'}:1"]
    for problem in report.problems:
        assert problem.message.startswith("the text is too long for one article (")
        assert f"the limit is {MAX_BODY_CHARS:,}" in problem.message
        assert "Split it" in problem.hint


@pytest.fixture
def pipeline_with(settings: Settings, tmp_path: Path) -> tuple[Pipeline, ScriptedGenerator]:
    for name in ("london.md", "paris.md"):
        write(tmp_path / "corpus" / name, ARTICLES[name])
    generator = ScriptedGenerator()
    embedder = KeywordEmbedder(["london", "paris", "climate", "france"])
    pipeline = Pipeline(settings, embedder=embedder, generator=generator)
    pipeline.ingest([tmp_path / "corpus"])
    return pipeline, generator


def test_a_follow_up_is_answered_as_rewritten_and_keeps_the_users_words(
    pipeline_with: tuple[Pipeline, ScriptedGenerator],
) -> None:
    pipeline, generator = pipeline_with
    generator.replies += ["What happened in London?", "France and Germany met"]
    history = [Turn("Who met in London?", "France and Germany [1].")]
    answer = pipeline.ask("and what happened there?", history=history)
    assert answer.question == "What happened in London?"
    assert answer.follow_up == "and what happened there?"
    assert answer.text.startswith("France and Germany met. ")
    assert answer.passages[0].chunk.title == "London talks"  # searched as rewritten
    rewrite_prompt, answer_prompt = generator.prompts
    assert "Follow Up Input: and what happened there?" in rewrite_prompt[0]["content"]
    assert "What happened in London?" in answer_prompt[-1]["content"]
    assert "what happened there" not in answer_prompt[-1]["content"]


def test_a_question_that_stands_alone_is_answered_as_asked_without_a_rewrite(
    pipeline_with: tuple[Pipeline, ScriptedGenerator],
) -> None:
    pipeline, generator = pipeline_with
    generator.replies += ["A summit on climate"]
    history = [Turn("What happened in London?", "France and Germany met [1].")]
    answer = pipeline.ask("What was held in Paris?", history=history)
    assert (answer.question, answer.follow_up) == ("What was held in Paris?", None)
    assert len(generator.prompts) == 1  # the answer only
    assert pipeline.standalone_question("  What was held in Paris? ", history) == (
        "What was held in Paris?"
    )
    assert len(generator.prompts) == 1


def test_the_models_load_once_however_many_threads_ask_first(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    loads: list[str] = []

    def load(name: str) -> Callable[..., object]:
        def loading(*_args: object) -> object:
            loads.append(name)
            time.sleep(0.2)  # long enough for every thread to arrive while it loads
            return KeywordEmbedder(KEYWORDS) if name == "embedder" else ScriptedGenerator()

        return loading

    monkeypatch.setattr("rag.pipeline.load_embedder", load("embedder"))
    monkeypatch.setattr("rag.pipeline.load_generator", load("generator"))
    pipeline = Pipeline(settings)
    threads = [
        threading.Thread(target=lambda: (pipeline.generator, pipeline.embedder)) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(loads) == ["embedder", "generator"]
