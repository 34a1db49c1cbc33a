"""What the chat page shows, before any browser: escaping, links, highlights, uploads."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from rag.errors import InputError
from rag.filters import check_sources, make_filters
from rag.manifest import Entry
from rag.pipeline import Status
from rag.present import escape_markdown
from rag.types import Answer, Chunk, Citation, Passage, StoreStats
from ui import render
from ui.uploads import MAX_UPLOAD_BYTES, safe_name, save_uploads

EVIL = '<script>window.__xss=1</script><img src=x onerror="window.__xss=1">'


def passage(text: str, *, title: str = "Talks", url: str | None = None) -> Passage:
    chunk = Chunk(
        "a1",
        0,
        text,
        0,
        len(text),
        title,
        source="Herald",
        url=url,
        published_at=datetime(2025, 4, 23, tzinfo=UTC),
    )
    return Passage(chunk, 0.731)


def answer(
    text: str, passages: list[Passage], cited: list[int], *, span: tuple[int, int] = (0, 0)
) -> Answer:
    citations = tuple(Citation(n, passages[n - 1], *span, 0.8) for n in cited)
    return Answer("Who met?", text, citations, tuple(passages), abstained=False)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://news.example/a", "https://news.example/a"),
        ("HTTP://news.example", "HTTP://news.example"),
        ("javascript:alert(1)", None),
        (" JavaScript:alert(1)", None),
        ("data:text/html,<script>", None),
        ("//news.example/a", None),
        ("https://", None),
        (None, None),
    ],
)
def test_only_http_urls_become_links(url: str | None, expected: str | None) -> None:
    assert render.safe_url(url) == expected


def test_markdown_escaping_leaves_no_markup() -> None:
    escaped = escape_markdown("[x](javascript:alert(1)) <b>*hi*</b>")
    assert "<" not in escaped.replace("\\<", "") and "](" not in escaped
    assert escaped.replace("\\", "") == "[x](javascript:alert(1)) <b>*hi*</b>"


def test_markers_link_to_their_passage_of_this_turn() -> None:
    passages = [passage("Ministers met."), passage("France attended.")]
    shown = render.answer_markdown(
        answer("France attended [2]. <i>Yes</i> [1][2].", passages, [1, 2]), 3
    )
    assert shown.count("](#nr-3-2)") == 2 and shown.count("](#nr-3-1)") == 1
    assert "<i>" not in shown


def test_an_answer_to_a_rewritten_follow_up_says_what_it_was_read_as() -> None:
    asked = answer("Text [1].", [passage("Text.")], [1])
    assert render.read_as_markdown(asked) == ""
    rewritten = replace(asked, question=f"What did {EVIL} say?", follow_up="and what did it say?")
    escaped = escape_markdown(f"Read as: What did {EVIL} say?")
    assert render.read_as_markdown(rewritten) == f"<sub>{escaped}</sub>"


def test_evidence_escapes_article_strings_and_drops_unsafe_links() -> None:
    evil = passage(f"Text {EVIL}.", title=f"Title {EVIL}", url="javascript:window.__xss=1")
    html = render.evidence_section(1, answer("Text [1].", [evil], [1]))
    assert "<script" not in html and "<img" not in html and "javascript:" not in html
    assert "&lt;script&gt;" in html
    assert 'id="nr-1-1"' in html and "cited" in html


def test_the_cited_passage_has_its_supporting_sentence_marked() -> None:
    text = "Talks opened. Ministers from France and Germany attended. It rained."
    good = passage(text, url="https://news.example/a?x=1&y=2")
    start = text.index("Ministers")
    span = (start, text.index("It rained"))
    shown = answer("France and Germany. Ministers ... [1].", [good, good], [1], span=span)
    html = render.evidence_section(2, shown)
    assert "<mark>Ministers from France and Germany attended. </mark>" in html
    assert 'href="https://news.example/a?x=1&amp;y=2"' in html
    assert html.count("<mark>") == 1  # passage 2 was given but not cited
    assert "cited, support 0.80" in html and "score 0.73 · not cited" in html


def test_the_note_under_an_answer_says_how_it_was_decided_or_why_it_declined() -> None:
    declined = Answer(
        "Who won?",
        "The corpus does not say.",
        (),
        (),
        abstained=True,
        basis="No article in the index mentions Millbrook.",
    )
    note = render.answer_note(declined, make_filters())
    assert "declined: No article in the index mentions Millbrook" in note.replace("\\", "")


def test_errors_read_as_a_sentence_without_a_traceback() -> None:
    shown = render.error_markdown(InputError("since: 'x' is not a date", hint="Write YYYY-MM-DD."))
    assert shown.replace("\\", "") == "**Error: since: 'x' is not a date. Write YYYY-MM-DD.**"
    assert "KeyError" in render.error_markdown(KeyError("k"))


def test_filter_errors_read_like_every_other_error() -> None:
    with pytest.raises(InputError) as reversed_range:
        make_filters(since="2024-03-01", until="2024-01-31")
    with pytest.raises(InputError) as unknown:
        check_sources(["wired"], known=["BBC", "Wired"])
    assert [
        render.error_markdown(e.value).replace("\\", "") for e in (reversed_range, unknown)
    ] == [
        "**Error: since (2024-03-01) is after until (2024-01-31). "
        "Swap the two dates, or clear one of them.**",
        "**Error: unknown source 'wired': no article in the index has it. Did you mean 'Wired'?**",
    ]


def test_the_filters_offer_only_sources_a_search_can_be_restricted_to() -> None:
    # Articles without a source are counted under a label that no search would accept.
    stats = StoreStats(articles=4, chunks=4, sources={"Post": 2, "(unknown)": 1, "Herald": 1})
    status = Status(
        stats,
        last_ingest=None,
        embedder=None,
        model="m",
        model_checked=None,
        data_dir=Path("."),
        store="chroma",
    )
    assert render.source_choices(status) == ["Post", "Herald"]


def entry(title: str, source: str | None, day: str | None) -> Entry:
    return Entry(title, "", "", title, source, day, "", "", 1, "done")


def test_examples_prefer_one_article_per_source() -> None:
    articles = [
        entry("A1", "A", "2025-03-03"),
        entry("A2", "A", "2025-03-02"),
        entry("B1", "B", "2025-03-01"),
    ]
    assert render.example_questions(articles, 2) == [
        "What do the articles say about “A1”?",
        "What do the articles say about “B1”?",
    ]
    assert len(render.example_questions(articles, 5)) == 3


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("news.md", "news.md"),
        ("../../etc/passwd.TXT", "passwd.txt"),
        ("C:\\Users\\me\\x<1>.html", "x_1.html"),
        (".hidden.json", "hidden.json"),
        ("мир новости.jsonl", "мир_новости.jsonl"),
        ("a b;rm -rf.md", "a_b_rm_-rf.md"),
    ],
)
def test_upload_names_are_sanitized(name: str, expected: str) -> None:
    assert safe_name(name) == expected


def test_uploads_of_the_wrong_type_or_size_are_refused(tmp_path: Path) -> None:
    good = tmp_path / "in" / "story.md"
    good.parent.mkdir()
    good.write_text("# Story\n\nText.")
    script = tmp_path / "in" / "run.sh"
    script.write_text("echo hi")
    huge = tmp_path / "in" / "huge.json"
    with huge.open("wb") as out:
        out.truncate(MAX_UPLOAD_BYTES + 1)
    saved, problems = save_uploads([str(good), str(script), str(huge)], folder=tmp_path / "up")
    assert saved == [tmp_path / "up" / "story.md"] and saved[0].read_text() == good.read_text()
    assert [(p.origin, p.message.split(" ")[0]) for p in problems] == [
        ("run.sh", ".sh"),
        ("huge.json", "the"),
    ]
