from __future__ import annotations

from datetime import UTC, datetime

from rag.generate import NOT_IN_CORPUS, build_messages, format_passage
from rag.types import Chunk, Passage


def passage(
    title: str, text: str, *, source: str | None = None, published_at: datetime | None = None
) -> Passage:
    chunk = Chunk(
        article_id=title,
        ordinal=0,
        text=text,
        char_start=0,
        char_end=len(text),
        title=title,
        source=source,
        published_at=published_at,
    )
    return Passage(chunk, score=0.5)


def test_passages_are_numbered_with_title_source_and_date() -> None:
    first = passage(
        "Talks", "They met.", source="The Post", published_at=datetime(2025, 4, 23, 9, tzinfo=UTC)
    )
    second = passage("Undated", "No date here.")
    messages = build_messages("  Who met?  ", [first, second])
    assert [m["role"] for m in messages] == ["system", "user"]
    user = messages[1]["content"]
    assert "[1] Talks | The Post | 2025-04-23\nThey met." in user
    assert "[2] Undated\nNo date here." in user
    assert user.index("[1]") < user.index("[2]") < user.index("Question: Who met?")
    assert user.endswith("Question: Who met?")


def test_system_prompt_asks_for_citations_and_names_the_abstention() -> None:
    system = build_messages("q", [passage("T", "x")])[0]["content"]
    assert "[1]" in system
    assert NOT_IN_CORPUS in system


def test_format_passage_keeps_the_text_verbatim() -> None:
    text = "Line one.\n\nLine two with [brackets]."
    assert format_passage(7, passage("T", text)).endswith("\n" + text)
