"""Article formats: each parser turns one document's text into `Article`s. No I/O here.

Text (`.txt`), Markdown with YAML front matter, JSON (an array of article objects, or one
object), JSON Lines, HTML pages (main text and metadata by trafilatura) and RSS/Atom feeds
(feedparser; each entry's own content, not the page it links to). A record that cannot be an
article becomes a `Problem` and its neighbours go on.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from calendar import timegm
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, time
from typing import Any

import yaml

from rag.errors import ArticleError
from rag.types import Article, Problem

DATE_HINT = "Write dates as 2025-04-23 or 2025-04-23T14:30:00+00:00."
MAX_BODY_CHARS = 1_000_000
"""Longest body read, in characters: some fifteen times a long news feature (10,000 words,
about 60,000 characters). Such a body is about 1,450 chunks of 200 tokens, which MiniLM embeds
in about 90 s on two cores (measured on MultiHop-RAG's articles joined into one line); a 5 MB
one took over 10 minutes with no progress shown, as an article is written in one piece."""
NO_TEXT_HINT = "Write the article's text into it, or leave it out."
FIELDS = ("title", "body", "source", "author", "url", "published_at")

Parsed = Iterator[Article | Problem]


def article_id(*, url: str | None, source: str | None, body: str) -> str:
    """A stable id: the url when there is one, else a hash of source and body."""
    if url:
        return url
    digest = hashlib.sha256(f"{source or ''}\n{body}".encode()).hexdigest()
    return f"sha256:{digest[:32]}"


def split_front_matter(text: str, *, origin: str) -> tuple[dict[str, Any], str]:
    """Split `---`-fenced YAML front matter from a Markdown body."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        return {}, text
    end = next((i for i, line in enumerate(lines) if i and line.strip() in ("---", "...")), 0)
    if not end:
        raise ArticleError(
            origin,
            "front matter opened with '---' is never closed",
            hint="End the front matter with a line holding only '---'.",
        )
    try:
        meta = yaml.safe_load("".join(lines[1:end])) or {}
    except ValueError as exc:  # a date YAML reads but the calendar refuses: 2025-02-30
        raise ArticleError(
            origin,
            f"front matter has an impossible value: {exc}",
            hint="Fix the date or value in the front matter.",
        ) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 2}" if mark is not None else ""
        raise ArticleError(
            origin,
            f"front matter is not valid YAML{where}: {getattr(exc, 'problem', exc)}",
            hint="Fix the YAML between the '---' lines.",
        ) from exc
    if not isinstance(meta, dict):
        raise ArticleError(
            origin,
            "front matter must be a mapping of field: value",
            hint="Write fields such as 'title: ...' and 'published_at: 2025-04-23'.",
        )
    return meta, "".join(lines[end + 1 :])


def parse_date(value: object, *, origin: str) -> datetime | None:
    """Normalize a date or ISO-8601 timestamp to an aware UTC datetime; naive means UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime.combine(value, time())
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError as exc:
            raise ArticleError(
                origin, f"field 'published_at' is not an ISO-8601 date: {value!r}", hint=DATE_HINT
            ) from exc
    else:
        raise ArticleError(
            origin,
            f"field 'published_at' must be a date, not {type(value).__name__}",
            hint=DATE_HINT,
        )
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def make_article(record: dict[str, Any], *, origin: str, default_title: str = "") -> Article:
    """Validate one record of article fields into an `Article`."""
    body = record.get("body")
    if not isinstance(body, str) or not body.strip():
        raise ArticleError(
            origin,
            "field 'body' is missing or empty",
            hint="Give each article a non-empty 'body' holding its text.",
        )
    fields: dict[str, str | None] = {}
    for name in ("title", "source", "author", "url"):
        value = record.get(name)
        if value is not None and not isinstance(value, str | int | float):
            raise ArticleError(
                origin,
                f"field '{name}' must be text, not {type(value).__name__}",
                hint=f"Write '{name}' as a plain string.",
            )
        fields[name] = (str(value).strip() or None) if value is not None else None
    title = fields["title"] or default_title
    if not title:
        raise ArticleError(origin, "field 'title' is missing", hint="Give each article a 'title'.")
    body = body.strip()
    if len(body) > MAX_BODY_CHARS:
        raise ArticleError(
            origin,
            f"the text is too long for one article ({len(body):,} characters; "
            f"the limit is {MAX_BODY_CHARS:,})",
            hint="Split it into several articles, e.g. one per chapter or section.",
        )
    return Article(
        id=article_id(url=fields["url"], source=fields["source"], body=body),
        title=title,
        body=body,
        source=fields["source"],
        author=fields["author"],
        url=fields["url"],
        published_at=parse_date(record.get("published_at"), origin=origin),
        origin=origin,
    )


def parse_text(text: str, *, origin: str, name: str) -> Parsed:
    """A plain text file: all of it is the body; the title comes from the file name."""
    if not text.strip():
        raise ArticleError(origin, "has no text", hint=NO_TEXT_HINT)
    yield make_article({"body": text}, origin=origin, default_title=title_from_name(name))


def parse_markdown(text: str, *, origin: str, name: str) -> Parsed:
    """Markdown with optional YAML front matter holding the article's fields."""
    meta, body = split_front_matter(text, origin=origin)
    if not body.strip():
        below = " below its front matter" if meta else ""
        raise ArticleError(origin, f"has no text{below}", hint=NO_TEXT_HINT)
    yield make_article({**meta, "body": body}, origin=origin, default_title=_md_title(body, name))


def parse_json(text: str, *, origin: str, fields: Mapping[str, str] | None = None) -> Parsed:
    """A JSON array of article objects, or one object; `fields` maps our names to theirs."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ArticleError(
            origin,
            f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
            hint="Fix the JSON, or write one article object per line as .jsonl.",
        ) from exc
    for number, record in enumerate(data if isinstance(data, list) else [data], start=1):
        yield _record_article(record, origin=f"{origin} record {number}", fields=fields)


def parse_jsonl(text: str, *, origin: str, fields: Mapping[str, str] | None = None) -> Parsed:
    """One article object per line; a broken line is a `Problem` naming it."""
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            yield Problem(
                f"{origin}:{number}",
                f"invalid JSON at column {exc.colno}: {exc.msg}",
                "Fix this line: each line must hold one whole JSON object.",
            )
            continue
        yield _record_article(record, origin=f"{origin}:{number}", fields=fields)


def parse_html(text: str, *, origin: str, url: str | None = None) -> Parsed:
    """A news page: its main text and metadata (title, author, date, site, canonical url)."""
    import trafilatura

    document = trafilatura.bare_extraction(text, url=url, with_metadata=True)
    found: dict[str, Any] = {}
    if isinstance(document, trafilatura.settings.Document):
        found = document.as_dict()
    elif isinstance(document, dict):
        found = document
    if not (found.get("text") or "").strip():
        raise ArticleError(
            origin,
            "no article text found in the page",
            hint="Check that the page holds the article, not only a menu.",
        )
    record = {
        "title": found.get("title"),
        "body": found["text"],
        "author": found.get("author"),
        "source": found.get("sitename") or found.get("hostname"),
        "url": found.get("url") or url,
        "published_at": found.get("date"),
    }
    yield make_article(record, origin=origin)


def parse_feed(text: str, *, origin: str) -> Parsed:
    """An RSS or Atom feed: one article per entry, from the entry's content or summary."""
    import feedparser

    feed = feedparser.parse(io.BytesIO(text.encode()))  # text, never a URL to open
    if not feed.entries:
        reason = f": {feed.bozo_exception}" if feed.bozo else ""
        raise ArticleError(
            origin,
            f"not an RSS or Atom feed with entries{reason}",
            hint="Check the feed in a browser or a feed validator.",
        )
    site = feed.feed.get("title")
    for number, entry in enumerate(feed.entries, start=1):
        contents = entry.get("content") or []
        html = contents[0].get("value") if contents else entry.get("summary", "")
        stamp = entry.get("published_parsed") or entry.get("updated_parsed")
        record = {
            "title": entry.get("title"),
            "body": html_to_text(html or ""),
            "author": entry.get("author"),
            "source": site,
            "url": entry.get("link"),
            "published_at": datetime.fromtimestamp(timegm(stamp), UTC) if stamp else None,
        }
        try:
            yield make_article(record, origin=f"{origin} entry {number}")
        except ArticleError as exc:
            yield exc.as_problem()


def html_to_text(fragment: str) -> str:
    """The text of an HTML fragment, one paragraph per line."""
    if "<" not in fragment:
        return fragment.strip()
    import lxml.html

    spaced = re.sub(r"(?i)<(br|/p|/div|/li|/h[1-6])\b[^>]*>", "\\g<0>\n", fragment)
    text = lxml.html.fragment_fromstring(spaced, create_parent="div").text_content()
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


def _record_article(
    record: object, *, origin: str, fields: Mapping[str, str] | None
) -> Article | Problem:
    try:
        if not isinstance(record, dict):
            raise ArticleError(
                origin,
                f"expected an article object, found {type(record).__name__}",
                hint="Each record must be an object with at least 'title' and 'body'.",
            )
        if fields:
            record = {**record, **{ours: record.get(theirs) for ours, theirs in fields.items()}}
        return make_article(record, origin=origin)
    except ArticleError as exc:
        return exc.as_problem()


def title_from_name(name: str) -> str:
    """A title from a file name: `london-talks_2025.txt` gives `London talks 2025`."""
    stem = name.rsplit(".", 1)[0]
    return stem.replace("_", " ").replace("-", " ").strip().capitalize()


def _md_title(body: str, name: str) -> str:
    first = next((line for line in body.splitlines() if line.strip()), "")
    return first[2:].strip() if first.startswith("# ") else title_from_name(name)
