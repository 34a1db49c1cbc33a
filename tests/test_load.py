from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import SHARED_DATA, write

from rag.errors import ArticleError
from rag.formats import article_id, split_front_matter
from rag.load import load_articles

MD = """---
title: Talks in London
source: The Example Post
author: A. Reporter
published_at: 2025-04-23
---

Officials met in London.
"""


def test_front_matter_fields_become_article_metadata(tmp_path: Path) -> None:
    [article] = load_articles([write(tmp_path / "a.md", MD)]).articles
    assert article.title == "Talks in London"
    assert article.source == "The Example Post"
    assert article.author == "A. Reporter"
    assert article.published_at == datetime(2025, 4, 23, tzinfo=UTC)
    assert article.body == "Officials met in London."
    assert article.url is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-04-23T10:00:00+02:00", datetime(2025, 4, 23, 8, tzinfo=UTC)),
        ("2025-04-23T10:00:00Z", datetime(2025, 4, 23, 10, tzinfo=UTC)),
        ("2025-04-23 10:00", datetime(2025, 4, 23, 10, tzinfo=UTC)),
    ],
)
def test_timestamps_are_normalized_to_utc(tmp_path: Path, value: str, expected: datetime) -> None:
    text = MD.replace("published_at: 2025-04-23", f"published_at: '{value}'")
    [article] = load_articles([write(tmp_path / "a.md", text)]).articles
    assert article.published_at == expected


def test_markdown_without_front_matter_takes_its_heading_as_title(tmp_path: Path) -> None:
    [article] = load_articles([write(tmp_path / "a.md", "# Big news\n\nIt happened.")]).articles
    assert article.title == "Big news"
    assert article.published_at is None


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("---\ntitle: x\n\nbody", "never closed"),
        ("---\ntitle: ok\nsource: a: b\n---\nbody", "not valid YAML at line 3: mapping values"),
        ("---\n- a list\n---\nbody", "must be a mapping"),
    ],
)
def test_broken_front_matter_names_the_file(text: str, problem: str) -> None:
    with pytest.raises(ArticleError, match=problem) as caught:
        split_front_matter(text, origin="news/a.md")
    assert str(caught.value).startswith("news/a.md: ")


def test_a_bad_date_is_reported_and_the_rest_loads(tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.md", MD.replace("2025-04-23", "'last Tuesday'"))
    good = write(tmp_path / "good.txt", "Plain text news.")
    result = load_articles([bad, good])
    assert [a.title for a in result.articles] == ["Good"]
    [problem] = result.problems
    assert problem.origin == str(bad)
    assert "published_at" in problem.message and "last Tuesday" in problem.message


def test_txt_title_comes_from_the_file_name(tmp_path: Path) -> None:
    [article] = load_articles([write(tmp_path / "london-talks_2025.txt", " Body. \n")]).articles
    assert article.title == "London talks 2025"
    assert article.body == "Body."


def test_id_is_the_url_when_there_is_one() -> None:
    assert article_id(url="https://x.example/a", source="S", body="b") == "https://x.example/a"


def test_id_without_url_hashes_source_and_body_not_the_path(tmp_path: Path) -> None:
    first = load_articles([write(tmp_path / "one/a.md", MD)]).articles[0]
    moved = load_articles([write(tmp_path / "two/b.md", MD)]).articles[0]
    other_source = load_articles(
        [write(tmp_path / "c.md", MD.replace("The Example Post", "Other Post"))]
    ).articles[0]
    assert first.id == moved.id
    assert first.id.startswith("sha256:")
    assert other_source.id != first.id


def test_json_array_and_jsonl_records(tmp_path: Path) -> None:
    records = [
        {"title": "A", "body": "Alpha.", "url": "https://x.example/a", "source": "S"},
        {"title": "B", "body": "Beta.", "published_at": "2023-11-27T08:45:59+00:00"},
    ]
    array = write(tmp_path / "dump.json", json.dumps(records))
    lines = write(tmp_path / "dump.jsonl", "\n".join(json.dumps(r) for r in records))
    for path in (array, lines):
        result = load_articles([path])
        assert [a.title for a in result.articles] == ["A", "B"]
        assert result.articles[0].id == "https://x.example/a"
        assert result.problems == []


def test_jsonl_bad_lines_are_named_and_skipped(tmp_path: Path) -> None:
    text = "\n".join(
        [
            json.dumps({"title": "A", "body": "Alpha."}),
            '{"title": "B", "body": ',
            json.dumps({"title": "C"}),
            json.dumps(["not", "an", "object"]),
            json.dumps({"title": "E", "body": "Echo."}),
        ]
    )
    path = write(tmp_path / "feed.jsonl", text)
    result = load_articles([path])
    assert [a.title for a in result.articles] == ["A", "E"]
    assert [(p.origin, p.message.split(":")[0]) for p in result.problems] == [
        (f"{path}:2", "invalid JSON at column 24"),
        (f"{path}:3", "field 'body' is missing or empty"),
        (f"{path}:4", "expected an article object, found list"),
    ]


def test_invalid_json_file_names_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path / "dump.json", '[\n{"title": "A",\n "body": }\n]')
    [problem] = load_articles([path]).problems
    assert problem.origin == str(path)
    assert "line 3 column 10" in problem.message


def test_binary_and_unknown_files_are_problems_not_crashes(tmp_path: Path) -> None:
    binary = tmp_path / "image.txt"
    binary.write_bytes(b"\x89PNG\x00\x00\x01")
    unknown = write(tmp_path / "notes.docx", "x")
    empty = write(tmp_path / "empty.txt", "  \n")
    result = load_articles([binary, unknown, empty])
    assert result.articles == []
    assert [(p.origin, p.message) for p in result.problems] == [
        (str(binary), "binary file, not text"),
        (str(unknown), "unsupported file type '.docx'"),
        (str(empty), "has no text"),
    ]


def test_invalid_utf8_is_read_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "latin.txt"
    path.write_bytes("Caf\u00e9 talks resumed.".encode("cp1252"))
    result = load_articles([path])
    assert result.articles[0].body == "Café talks resumed."
    assert "not valid UTF-8" in result.problems[0].message


def test_folders_are_read_recursively_in_order(tmp_path: Path) -> None:
    write(tmp_path / "b/two.txt", "Two.")
    write(tmp_path / "a/one.txt", "One.")
    write(tmp_path / "a/skip.png", "x")
    assert [a.title for a in load_articles([tmp_path]).articles] == ["One", "Two"]


def test_a_missing_path_is_a_problem_and_the_rest_loads(tmp_path: Path) -> None:
    write(tmp_path / "good" / "a.txt", "Talks resumed.")
    (tmp_path / "dangling.txt").symlink_to(tmp_path / "gone.txt")
    result = load_articles([tmp_path / "good", tmp_path / "nowhere", tmp_path / "dangling.txt"])
    assert [a.body for a in result.articles] == ["Talks resumed."]
    assert [(p.origin, p.message) for p in result.problems] == [
        (str(tmp_path / "nowhere"), "no such file or folder"),
        (
            str(tmp_path / "dangling.txt"),
            "a symbolic link to nothing (its target is missing, or it loops)",
        ),
    ]
    assert all(p.hint for p in result.problems)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda folder: None, "no articles found in this folder"),
        (
            lambda folder: (folder / "loop").symlink_to(folder / "loop"),
            "no articles found in this folder",
        ),
        (
            lambda folder: (folder / "self").symlink_to(folder, target_is_directory=True),
            "no articles found in this folder",
        ),
        (
            lambda folder: write(folder / "a.png", "x") and write(folder / "b.docx", "x"),
            "no articles found in this folder "
            "(only files of types that cannot be read: .docx x1, .png x1)",
        ),
    ],
    ids=["empty", "symlink-loop", "link-to-itself", "unreadable-types"],
)
def test_a_folder_without_articles_is_a_problem(
    tmp_path: Path, make: Callable[[Path], object], message: str
) -> None:
    folder = tmp_path / "news"
    folder.mkdir()
    make(folder)
    result = load_articles([folder])
    assert result.articles == []
    assert [(p.origin, p.message) for p in result.problems] == [(str(folder), message)]


def test_symlink_loops_beside_articles_are_skipped(tmp_path: Path) -> None:
    write(tmp_path / "news" / "a.txt", "Talks resumed.")
    (tmp_path / "news" / "loop.txt").symlink_to(tmp_path / "news" / "loop.txt")
    (tmp_path / "news" / "again").symlink_to(tmp_path / "news", target_is_directory=True)
    result = load_articles([tmp_path / "news"])
    assert [a.body for a in result.articles] == ["Talks resumed."]
    assert result.problems == []


def test_empty_text_and_markdown_say_so_in_their_own_words(tmp_path: Path) -> None:
    files = [
        write(tmp_path / "empty.txt", ""),
        write(tmp_path / "blank.md", "\n  \n"),
        write(tmp_path / "fields-only.md", "---\ntitle: T\n---\n\n"),
    ]
    result = load_articles(files)
    assert [(p.origin, p.message) for p in result.problems] == [
        (str(files[0]), "has no text"),
        (str(files[1]), "has no text"),
        (str(files[2]), "has no text below its front matter"),
    ]


@pytest.mark.skipif(not (SHARED_DATA / "multihop-rag").is_dir(), reason="shared data not here")
def test_multihop_rag_corpus_loads_as_is() -> None:
    result = load_articles([SHARED_DATA / "multihop-rag" / "corpus.json"])
    assert result.problems == []
    assert len(result.articles) == 609
    assert len({a.id for a in result.articles}) == 609
    assert all(a.url == a.id and a.source and a.published_at for a in result.articles)


def test_one_id_with_two_texts_keeps_the_later_and_says_so(tmp_path: Path) -> None:
    first = {"title": "A", "body": "First text.", "url": "https://x.example/a"}
    second = {**first, "body": "Second text."}
    path = write(tmp_path / "dump.jsonl", "\n".join(json.dumps(r) for r in (first, second)))
    result = load_articles([path, path])  # the same file twice is no duplicate
    assert [a.body for a in result.articles] == ["Second text."]
    [problem] = result.problems
    assert problem.origin == f"{path}:2"
    assert "same id as" in problem.message and f"{path}:1" in problem.message


def test_folders_named_like_articles_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "feeds.json").mkdir()
    write(tmp_path / "feeds.json" / "a.txt", "Inside.")
    (tmp_path / "gone.txt").symlink_to(tmp_path / "missing.txt")
    result = load_articles([tmp_path])
    assert [a.body for a in result.articles] == ["Inside."]
    assert result.problems == []


def test_hidden_files_and_folders_are_neither_read_nor_reported(tmp_path: Path) -> None:
    write(tmp_path / "news" / "story.txt", "Officials met in London.")
    write(tmp_path / "news" / ".DS_Store", "\x00\x01")
    write(tmp_path / "news" / ".git" / "config", "[core]")
    write(tmp_path / "news" / ".drafts" / "draft.txt", "Not yet an article.")
    result = load_articles([tmp_path / "news"])
    assert [a.title for a in result.articles] == ["Story"]
    assert result.problems == []
