"""Date and source filters: what users type, and what a filtered search returns."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from conftest import KeywordEmbedder, write

from rag.config import Settings
from rag.errors import InputError
from rag.filters import make_filters, parse_day
from rag.pipeline import Pipeline
from rag.types import Filters


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2023-10-01", date(2023, 10, 1)),
        (" 2024-02-29 ", date(2024, 2, 29)),
        ("", None),
        (None, None),
    ],
)
def test_days_are_read_as_iso_dates(text: str | None, expected: date | None) -> None:
    assert parse_day(text, field="since") == expected


@pytest.mark.parametrize("text", ["2023-02-30", "yesterday", "01/10/2023", "2023-13-01"])
def test_a_bad_day_names_the_field_and_the_format(text: str) -> None:
    with pytest.raises(InputError, match=r"^until: .* is not a date") as raised:
        parse_day(text, field="until")
    assert "YYYY-MM-DD" in raised.value.hint


def test_filters_are_checked_and_tidied() -> None:
    assert make_filters(since="2023-01-01", sources=[" Wired", "", "Wired", "BBC"]) == Filters(
        date(2023, 1, 1), None, ("Wired", "BBC")
    )
    assert not make_filters(since=" ", until="", sources=[""])
    with pytest.raises(InputError, match="is after until"):
        make_filters(since="2023-02-01", until="2023-01-31")


STORIES = [
    ("a", "Wired", "2023-09-30T23:30:00+00:00"),
    ("b", "Wired", "2023-10-01T00:00:00+00:00"),
    ("c", "BBC", "2023-10-31T23:59:59+00:00"),
    ("d", "BBC", "2023-11-01T00:00:00+00:00"),
    ("e", "BBC", None),
]


@pytest.fixture
def pipeline(settings: Settings, tmp_path: Path) -> Pipeline:
    records = [
        {
            "title": f"Story {name}",
            "url": f"https://x.example/{name}",
            "source": source,
            "published_at": published,
            "body": f"London news from desk {name * 3}.",
        }
        for name, source, published in STORIES
    ]
    pipeline = Pipeline(settings, embedder=KeywordEmbedder(["london"]))
    dump = write(tmp_path / "news.jsonl", "\n".join(json.dumps(r) for r in records))
    assert pipeline.ingest([dump]).outcomes == {"new": 5}
    return pipeline


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (Filters(), "abcde"),
        (Filters(since=date(2023, 10, 1)), "bcd"),
        (Filters(until=date(2023, 10, 31)), "abc"),
        (Filters(date(2023, 10, 1), date(2023, 10, 31)), "bc"),
        (Filters(sources=("BBC",)), "cde"),
        (Filters(sources=("Wired", "BBC")), "abcde"),
    ],
)
def test_a_filtered_search_returns_only_what_passes(
    pipeline: Pipeline, filters: Filters, expected: str
) -> None:
    found = pipeline.search("London", k=10, filters=filters).passages
    assert "".join(sorted(p.chunk.article_id[-1] for p in found)) == expected


def test_articles_come_newest_first(pipeline: Pipeline) -> None:
    assert [e.id[-1] for e in pipeline.articles()] == list("dcbae")


@pytest.mark.parametrize(
    ("since", "until", "sources", "unmatched"),
    [
        # The dates alone match nothing: they are named, not the source.
        (date(2031, 1, 1), date(2031, 2, 1), ("BBC",), "published 2031-01-01 to 2031-02-01"),
        # Each matches something, not both together: both are named.
        (date(2023, 10, 15), None, ("Wired",), "published since 2023-10-15 from Wired"),
    ],
)
def test_the_users_filters_that_match_nothing_give_no_passages_and_say_which(
    pipeline: Pipeline,
    since: date | None,
    until: date | None,
    sources: tuple[str, ...],
    unmatched: str,
) -> None:
    expected = (
        f"No article matches your filters: there are no articles {unmatched} in the index.",
    )
    given = Filters(since, until, sources)
    found = pipeline.search("London", k=10, filters=given)
    assert (found.passages, found.filters, found.notes) == ([], given, expected)
    # The same filters from the settings (RAG_SINCE, --since, ...) are the user's too.
    pipeline.settings = pipeline.settings.model_copy(
        update={"since": since, "until": until, "sources": sources}
    )
    assert pipeline.search("London", k=10).notes == expected


@pytest.mark.parametrize(
    ("given", "expected", "searched"),
    [
        (Filters(), "abcde", "everything"),
        (Filters(sources=("BBC",)), "cde", "articles from BBC"),
    ],
)
def test_only_dates_read_from_the_question_are_dropped_when_nothing_matches(
    pipeline: Pipeline, given: Filters, expected: str, searched: str
) -> None:
    found = pipeline.search("London news in January 2020", k=10, filters=given)
    assert "".join(sorted(p.chunk.article_id[-1] for p in found.passages)) == expected
    read = " from BBC" if given.sources else ""
    assert found.notes == (
        "Dates: in January 2020 read as 2020-01-01 to 2020-01-31",
        f"Nothing matches articles published 2020-01-01 to 2020-01-31{read}: searched {searched}.",
    )
    assert found.filters == given


@pytest.mark.parametrize(
    ("source", "hint"),
    [
        ("wired", "Did you mean 'Wired'?"),  # names match exactly; suggestions ignore case
        ("BCC", "Did you mean 'BBC'?"),
        ("Reuters", "Known sources include 'BBC', 'Wired'; `rag status` lists them all."),
    ],
)
def test_a_source_the_index_does_not_hold_is_an_error_with_the_closest_names(
    pipeline: Pipeline, source: str, hint: str
) -> None:
    with pytest.raises(InputError, match=f"^unknown source '{source}': no article") as raised:
        pipeline.search("London", k=10, filters=Filters(sources=("BBC", source)))
    assert raised.value.hint == hint
