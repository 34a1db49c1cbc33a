"""Property-based tests of all that reads untrusted text: every article loader (through
`load_articles`, as `rag ingest` reads files), the dates and sources read from a question, the
citation parser and the verifier, fed the inputs of tests/fuzz_report.py. The property: only
newsrag's own errors (`RagError`) escape, each naming its input; a loader reports what it
cannot read as a `Problem` naming the file, never through `rag.load`'s catch-all (which is
there for bugs); nothing outruns its deadline; a URL list is read with `urlopen` replaced, so
nothing leaves the machine. Each target first runs the inputs of the bugs it found (`known`).
"""

from __future__ import annotations

import email.message
import http.client
import io
import os
import re
import socket
import urllib.error
import urllib.request
import urllib.response
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from fuzz_report import (
    DOCUMENTS,
    HUGE_DOCS,
    LOSSLESS,
    MB,
    deep_json,
    dumps,
    encode,
    entry,
    fenced,
    files,
    fuzz,
    huge,
    texts,
)
from hypothesis import strategies as st

from rag import fetch
from rag.cite import parse_markers
from rag.dates import date_range, full_dates
from rag.errors import ArticleError, InputError
from rag.filters import check_sources, make_filters
from rag.formats import MAX_BODY_CHARS
from rag.load import decode, load_articles
from rag.plan import plan
from rag.types import Filters
from rag.verify import answered_share, key_terms, missing_names, numbers, sentence_support, support

CATCH_ALL = "could not be parsed: "
"""How `rag.load` reports an exception that no parser turned into an `ArticleError`: a bug."""

YEAR_0 = "0001-01-01T00:00:00+01:00"
"""A time that is in year 0 in UTC."""
KNOWN_FILES = {  # the inputs of the bugs this test found
    "md": [fenced("title: " + "[" * 3000 + "]" * 3000, "Body."), fenced(f"title: {YEAR_0}", "B")],
    "json": [deep_json(50_000, "["), dumps({"title": "T", "body": "B", "published_at": YEAR_0})],
    "jsonl": ['{"title": "T", "body": "B", "n": ' + "7" * 5000 + "}\n" + dumps({"title": "U"})],
    "rss": [
        *(entry(text) for text in ("&#xD800;", "&#1114112;", "&#99999999999999999999;", "\x01<")),
        entry("Text", "0000-01-01T00:00:00Z"),
    ],
}


# The loaders, through load_articles as `rag ingest` calls it.
def shown(path: Path) -> str:
    """`path` as messages show it: bytes of another encoding than UTF-8 as U+FFFD."""
    return os.fsencode(path).decode("utf-8", errors="replace")


def names_it(origin: str, name: str) -> bool:
    """Whether `origin` is `name` (a file or URL), or a record, line or entry of it."""
    return origin == name or origin.startswith((f"{name} record ", f"{name}:", f"{name} entry "))


def check_load(path: Path, data: bytes, names: Sequence[str] = ()) -> None:
    """Write `data` to `path` and load it: every problem names the file (or a URL listed in
    it), says what to do and is no stray exception; every article is whole, valid Unicode
    (the stores take nothing else), dated in UTC."""
    path.write_bytes(data)
    try:
        result = load_articles([path])
    finally:
        path.unlink()
    names = [shown(path), *names]
    for problem in result.problems:
        assert any(names_it(problem.origin, name) for name in names), problem
        assert problem.message and problem.hint and not problem.message.startswith(CATCH_ALL)
        assert f"{problem.origin}{problem.message}{problem.hint}".encode()  # can be printed
    for article in result.articles:
        assert any(names_it(article.origin, name) for name in names), article.origin
        assert article.title and article.body == article.body.strip() != ""
        assert len(article.body) <= MAX_BODY_CHARS
        fields = (article.id, article.title, article.body, article.origin, article.file)
        assert all(t is None or t.encode() for t in (*fields, article.source, article.url))
        assert article.published_at is None or article.published_at.utcoffset() == timedelta(0)


NAMES = st.one_of(
    st.text(st.characters(exclude_categories=["Cs"], exclude_characters="/\x00"), max_size=30),
    st.binary(max_size=30).map(lambda name: name.decode("utf-8", "surrogateescape")),
).filter(lambda name: "/" not in name and "\x00" not in name and name.strip("."))


def test_text_files(pytestconfig: pytest.Config, tmp_path: Path) -> None:
    def check(example: tuple[str, bytes]) -> None:
        check_load(tmp_path / f"{example[0]}.txt", example[1])

    examples = st.tuples(st.just("article") | NAMES, files(texts()))
    known = [("caf\udce9", b"A Latin-1 file name.")]
    fuzz(pytestconfig, "load .txt", examples, check, known=known)
    big = st.tuples(st.just("big"), files(huge(), mutated=False))
    fuzz(pytestconfig, "load .txt", big, check, huge=True)


@pytest.mark.parametrize("kind", ["md", "json", "jsonl", "html", "rss"])
def test_article_files(pytestconfig: pytest.Config, tmp_path: Path, kind: str) -> None:
    def check(data: bytes) -> None:
        check_load(tmp_path / f"article.{kind}", data)

    known = [doc.encode() for doc in KNOWN_FILES.get(kind, [])]
    fuzz(pytestconfig, f"load .{kind}", files(DOCUMENTS[kind]), check, known=known)
    big = files(HUGE_DOCS[kind], mutated=False)
    fuzz(pytestconfig, f"load .{kind}", big, check, huge=True)


# URL lists: each URL listed gets the next scripted reply of a fake `urlopen`.
URLS = ["https://news.example/a", "http://news.example/b?x=1", "ftp://old.example/x", "#", ""]
URLS += ["file:///etc/passwd", "https://exa mple.com/x", "http://[::1", "http://[99]/", "https://"]
URLS += ["http://news.example/\x00", "https://ex\xe4mple.com/\ud800", "HTTPS://NEWS.EXAMPLE/C"]
LINES = st.sampled_from(URLS) | texts(parts=5) | texts(parts=3).map("https://a.example/".__add__)
LISTS = st.lists(LINES, max_size=5).map("\n".join)
TYPES = ["text/html", "application/json", "application/x-ndjson", "application/rss+xml"]
TYPES += ["application/atom+xml", "text/xml", "text/plain", "image/png", ""]
FAILURES: list[Callable[[], Exception]] = [
    lambda: urllib.error.URLError("Name or service not known"),
    lambda: urllib.error.URLError(TimeoutError("timed out")),
    lambda: TimeoutError("timed out"),
    lambda: ConnectionResetError(104, "Connection reset by peer"),
    lambda: http.client.RemoteDisconnected("Remote end closed connection without response"),
    lambda: http.client.InvalidURL("nonnumeric port: ''"),
    lambda: UnicodeEncodeError("ascii", "\xe4", 0, 1, "ordinal not in range(128)"),
    lambda: http.client.IncompleteRead(b"<html"),
]
BODIES = files(st.one_of(*DOCUMENTS.values(), texts()))
REPLIES = st.one_of(
    st.tuples(st.just("ok"), st.sampled_from(TYPES), BODIES, st.sampled_from(["", *URLS])),
    st.tuples(st.just("http"), st.integers(100, 599), texts(surrogates=False, parts=3)),
    st.tuples(st.just("fail"), st.integers(0, len(FAILURES) - 1)),
)


def test_url_lists(
    pytestconfig: pytest.Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    replies: list[tuple[Any, ...]] = []  # for each URL asked in turn, the next
    asked: list[str] = []

    def urlopen(request: urllib.request.Request, *, timeout: float) -> Any:
        url, (kind, *reply) = request.full_url, replies[len(asked) % len(replies)]
        asked.append(url)
        if kind == "http":
            raise urllib.error.HTTPError(url, reply[0], reply[1], email.message.Message(), None)
        if kind == "fail":
            raise FAILURES[reply[0]]()
        headers = email.message.Message()
        headers["Content-Type"] = reply[0]
        return urllib.response.addinfourl(io.BytesIO(reply[1]), headers, reply[2] or url, 200)

    def offline(*_args: object) -> None:
        raise AssertionError("a fuzz test reached for the network")

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    monkeypatch.setattr(socket, "getaddrinfo", offline)
    monkeypatch.setattr(socket.socket, "connect", offline)

    def check(example: tuple[bytes, list[tuple[Any, ...]]]) -> None:
        data, replies[:] = example
        asked.clear()
        try:
            text = decode(data, origin="")[0]
        except ArticleError:  # refused: the problem names the file
            text = ""
        listed = [line.strip() for line in text.splitlines() if line.strip()]
        check_load(tmp_path / "today.urls", data, listed)

    examples = st.tuples(files(LISTS), st.lists(REPLIES, min_size=1, max_size=5))
    known = [(b"http://[::1\nhttp://[99]/", [("fail", 0)])]
    monkeypatch.setattr(fetch, "MAX_BYTES", 4096)  # some replies are larger
    fuzz(pytestconfig, "load .urls", examples, check, known=known)
    monkeypatch.setattr(fetch, "MAX_BYTES", 10 * MB)
    long_url = files(huge("https://a.example/".__add__), mutated=False)
    long_body = huge(str.encode).map(lambda body: [("ok", "text/plain", body, "")])
    big = st.tuples(long_url, st.just([("fail", 0)])) | st.tuples(st.just(b"http://a/"), long_body)
    fuzz(pytestconfig, "load .urls", big, check, huge=True)


# Valid articles, written without loss, load as written.
CLEAN = texts(surrogates=False).map(lambda text: text.replace("\x00", "").replace("\ufeff", ""))
ARTICLES = st.lists(st.tuples(*[CLEAN.filter(str.strip)] * 2), min_size=1, max_size=3)


def written_as(kind: str, articles: list[tuple[str, str]]) -> str:
    records = [{"title": title, "body": body} for title, body in articles]
    if kind == "json":
        return dumps(records, ascii=False)
    if kind == "jsonl":
        return "\n".join(dumps(record, ascii=False) for record in records)
    # allow_unicode would write \x85 raw, which YAML then reads as a line break
    return fenced(yaml.safe_dump({"title": articles[0][0]}), articles[0][1])


def test_valid_articles_load_as_written(pytestconfig: pytest.Config, tmp_path: Path) -> None:
    def check(example: tuple[str, list[tuple[str, str]], str]) -> None:
        kind, articles, encoding = example
        articles = articles[:1] if kind == "md" else articles
        expected: dict[str, tuple[str, str]] = {}
        for title, body in articles:  # the same body twice is the same article
            expected.setdefault(body.strip(), (title.strip(), body.strip()))
        path = tmp_path / f"article.{kind}"
        path.write_bytes(encode(written_as(kind, articles), encoding))
        result = load_articles([path])
        assert result.problems == []
        assert [(a.title, a.body) for a in result.articles] == list(expected.values())

    kinds = st.sampled_from(["json", "jsonl", "md"])
    examples = st.tuples(kinds, ARTICLES, st.sampled_from(LOSSLESS))
    known = [("jsonl", [("Talks\u2028resumed", "In\x85Paris")], "utf-8")]
    known += [("md", [("Part one\n---\nPart two", "Body")], "utf-8")]
    known += [("json", [("Title", "Body")], "utf-16")]
    fuzz(pytestconfig, "load round trip", examples, check, known=known)


# What a question names: dates and sources; the user's filters.
AS_OF = st.none() | st.dates() | st.sampled_from([date.min, date(1, 1, 9), date.max])
SOURCE_NAMES = ["TechCrunch", "The Verge", "The Independent - Life and Style", "(", "()", ""]
SOURCE_NAMES += ["Business Today | Latest", "Port Courier (sample)", "The ", "the the", " "]
SOURCE_NAMES += ["London", "and", "[1]", ".*", "\\", "(?P<x>", "\ud800", "\x00"]
SOURCES = st.lists(st.sampled_from(SOURCE_NAMES) | texts(parts=4), max_size=6)
DAYS = st.tuples(st.none() | st.dates(), st.none() | st.dates())
GIVEN = st.builds(
    lambda days, sources: Filters(*(sorted(days) if None not in days else days), tuple(sources)),
    DAYS,
    st.lists(st.sampled_from(SOURCE_NAMES), max_size=2),
)


def test_dates_in_questions(pytestconfig: pytest.Config) -> None:
    def check(example: tuple[str, date | None]) -> None:
        question, as_of = example
        since, until, said = date_range(question, as_of)
        assert said in question and bool(said) == (since is not None or until is not None)
        assert not (since and until and since > until)
        assert all(0 <= start < end <= len(question) for start, end, _ in full_dates(question))

    examples = st.tuples(texts(), AS_OF)
    known = [("What happened last week?", date.min), ("And last year?", date(1, 6, 1))]
    known += [("Deals in the past 999 weeks?", date(10, 1, 1)), ("yesterday", date.min)]
    fuzz(pytestconfig, "question dates", examples, check, known=known)
    fuzz(pytestconfig, "question dates", st.tuples(huge(), AS_OF), check, huge=True)


def test_question_plans(pytestconfig: pytest.Config) -> None:
    def check(example: tuple[str, list[str], date | None, Filters]) -> None:
        question, sources, as_of, given = example
        found = plan(question, sources=sources, as_of=as_of, given=given)
        for filters in (found.filters, *(p.filters for p in found.parts + found.claims)):
            assert not (filters.since and filters.until and filters.since > filters.until)
            assert set(filters.sources) <= {*sources, *given.sources}

    examples = st.tuples(texts(), SOURCES, AS_OF, GIVEN)
    fuzz(pytestconfig, "question plan", examples, check)
    day, none, names = date(2024, 1, 1), Filters(), ["TechCrunch"]
    questions = ["a, " * (MB // 3 + 1), "a" + " " * MB + "b", "TechCrunch, " * (MB // 12 + 1)]
    known = [(q, names, day, none) for q in questions] + [("Who?", ["(" * MB], day, none)]
    big = st.tuples(huge(), SOURCES, AS_OF, GIVEN)
    fuzz(pytestconfig, "question plan", big, check, huge=True, known=known)


DAY_TEXTS = st.none() | st.dates().map(str) | texts(parts=4)
DAY_TEXTS |= st.sampled_from([" 2023-10-31 ", "2023-02-30", "20231001", "2023-W40-1", "\ud800"])


def test_filters(pytestconfig: pytest.Config) -> None:
    def check(example: tuple[str | None, str | None, list[str], list[str]]) -> None:
        since, until, sources, known = example
        try:
            filters = make_filters(since=since, until=until, sources=sources)
        except InputError as exc:  # names the field: since, until, or both
            assert exc.message.startswith(("since", "until")) and exc.hint, exc.message
        else:
            assert not (filters.since and filters.until and filters.since > filters.until)
        try:
            check_sources(sources, known=known)
        except InputError as exc:
            unknown = next(source for source in sources if source not in known)
            assert repr(unknown) in exc.message and exc.hint
        else:
            assert set(sources) <= set(known)

    examples = st.tuples(DAY_TEXTS, DAY_TEXTS, SOURCES, SOURCES)
    fuzz(pytestconfig, "question filters", examples, check)
    big = st.tuples(huge(), huge(), st.lists(huge(), min_size=1, max_size=1), SOURCES)
    fuzz(pytestconfig, "question filters", big, check, huge=True)


# The citation parser and the verifier.
def test_citation_markers(pytestconfig: pytest.Config) -> None:
    def check(text: str) -> None:
        cited = parse_markers(text)
        assert len(set(cited)) == len(cited)
        assert set(cited) <= {int(n) for n in re.findall(r"(?<!\d)\d{1,6}(?!\d)", text)}

    known = ["[" + "9" * 5000 + "]"]
    fuzz(pytestconfig, "cite markers", texts(), check, known=known)
    fuzz(pytestconfig, "cite markers", huge(), check, huge=True)


RARITIES = [lambda _word: 1.0, lambda word: float(len(word) % 4), lambda _word: 0.0]


def test_verifier(pytestconfig: pytest.Config) -> None:
    def check(example: tuple[str, str, str, int, bool]) -> None:
        claim, passage, about, which, strict = example
        rarity = RARITIES[which]
        options: dict[str, Any] = {"about": about, "context": about[::-1], "strict": strict}
        found = sentence_support(claim, passage, rarity, **options)
        for span in found:
            sentence = passage[span.start : span.end]
            assert 0 <= span.start < span.end <= len(passage) and sentence == sentence.strip()
            assert -1e-9 <= span.score <= 1 + 1e-9
        best = support(claim, passage, rarity, **options)
        assert best == max(found, key=lambda s: s.score, default=None)
        assert all(name in claim for name in missing_names(claim, [passage, about]))
        assert -1e-9 <= answered_share(claim, [passage], rarity) <= 1 + 1e-9
        assert all(isinstance(k, str) for k in key_terms(claim) | numbers(passage))

    examples = st.tuples(texts(), texts(), texts(), st.integers(0, 2), st.booleans())
    fuzz(pytestconfig, "verify support", examples, check)
    cases = [("word " * (MB // 5 + 1), ""), ("Who?", "a" + " " * MB + "b"), ("Ana  Ruiz", "")]
    known = [(claim, passage, "", 0, True) for claim, passage in cases]
    big = st.tuples(huge() | texts(), huge(), texts(), st.integers(0, 2), st.booleans())
    fuzz(pytestconfig, "verify support", big, check, huge=True, known=known)
