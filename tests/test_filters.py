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


def test_a_filter_that_matches_nothing_falls_back_to_everything_with_a_note(
    pipeline: Pipeline,
) -> None:
    found = pipeline.search("London", k=10, filters=Filters(date(2023, 10, 15), None, ("Wired",)))
    assert len(found.passages) == 5 and not found.filters
    assert found.notes == (
        "Nothing matches articles published since 2023-10-15 from Wired: searched everything.",
    )
