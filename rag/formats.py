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
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's, where PyYAML has it: PyYAML's own loader took 3 s to give up on front matter
nested a thousand levels deep (libyaml refuses it at once), and 1 ms, not 0.1, on five fields."""
XML_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
"""Control characters no XML text holds: lxml refuses a fragment that starts with one."""

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
    # The closing fence starts its line: "  ---" can be a line of a YAML text.
    end = next((i for i, line in enumerate(lines) if i and line.rstrip() in ("---", "...")), 0)
    if not end:
        raise ArticleError(
            origin,
            "front matter opened with '---' is never closed",
            hint="End the front matter with a line holding only '---'.",
        )
    try:
        meta = yaml.load("".join(lines[1:end]), Loader=SAFE_LOADER) or {}
    except ValueError as exc:  # a date YAML reads but the calendar refuses: 2025-02-30
        raise ArticleError(
            origin,
            f"front matter has an impossible value: {exc}",
            hint="Fix the date or value in the front matter.",
        ) from exc
    except RecursionError:
        hint = "Write the front matter as lines of field: value."
        raise ArticleError(origin, "front matter is nested too deeply to read", hint=hint) from None
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
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 is in year 0 in UTC
        message = f"field 'published_at' is out of range: {value}"
        raise ArticleError(origin, message, hint=DATE_HINT) from None


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
        fields[name] = without_surrogates(str(value)).strip() or None if value is not None else None
    title = fields["title"] or default_title
    if not title:
        raise ArticleError(origin, "field 'title' is missing", hint="Give each article a 'title'.")
    body = without_surrogates(body).strip()
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


def without_surrogates(text: str) -> str:
    """`text` with each lone surrogate (JSON's "\\ud800", a feed's "&#xD800;": half of a
    character, which UTF-8 cannot encode, nor the index store) replaced by U+FFFD."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


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
        data = _read_json(text, origin=origin)
    except json.JSONDecodeError as exc:
        raise ArticleError(
            origin,
            f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
            hint="Fix the JSON, or write one article object per line as .jsonl.",
        ) from exc
    for number, record in enumerate(data if isinstance(data, list) else [data], start=1):
        yield _record_article(record, origin=f"{origin} record {number}", fields=fields)


def parse_jsonl(text: str, *, origin: str, fields: Mapping[str, str] | None = None) -> Parsed:
    """One article object per line; a broken line is a `Problem` naming it. Lines end at
    "\\n" or "\\r" only: U+2028 and U+0085 may stand in a JSON string (`splitlines` cut them)."""
    for number, line in enumerate(re.split(r"\r\n|\r|\n", text), start=1):
        if not line.strip():
            continue
        try:
            record = _read_json(line, origin=f"{origin}:{number}")
        except json.JSONDecodeError as exc:
            yield Problem(
                f"{origin}:{number}",
                f"invalid JSON at column {exc.colno}: {exc.msg}",
                "Fix this line: each line must hold one whole JSON object.",
            )
            continue
        except ArticleError as exc:
            yield exc.as_problem()
            continue
        yield _record_article(record, origin=f"{origin}:{number}", fields=fields)


def _read_json(text: str, *, origin: str) -> Any:
    """`json.loads(text)`: a syntax error is left to the caller (which says where it is);
    JSON nested too deeply, or with too long a number, for Python to read is an `ArticleError`."""
    try:
        return json.loads(text)
    except RecursionError:
        hint = "Write each article as an object of fields, without deep nesting."
        raise ArticleError(origin, "JSON nested too deeply to read", hint=hint) from None
    except ValueError as exc:
        if isinstance(exc, json.JSONDecodeError):
            raise
        hint = "Write such a number as a string, or leave it out."  # int() takes 4,300 digits
        raise ArticleError(origin, "JSON holds a number of over 4,300 digits", hint=hint) from exc


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

    try:
        feed = feedparser.parse(io.BytesIO(text.encode()))  # text, never a URL to open
    except (ValueError, OverflowError) as exc:  # feedparser's own, on "&#xD800;" or "&#1114112;"
        message = f"cannot be read as a feed ({type(exc).__name__}: {exc})"
        hint = "Check its character references: &#xD800; to &#xDFFF; and past &#x10FFFF; are none."
        raise ArticleError(origin, message, hint=hint) from None
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
        where = f"{origin} entry {number}"
        try:
            record = {
                "title": entry.get("title"),
                "body": html_to_text(html or ""),
                "author": entry.get("author"),
                "source": site,
                "url": entry.get("link"),
                "published_at": _feed_date(stamp, origin=where) if stamp else None,
            }
            yield make_article(record, origin=where)
        except ArticleError as exc:
            yield exc.as_problem()


def _feed_date(stamp: Any, *, origin: str) -> datetime:
    """The UTC time of a date feedparser read (a `time.struct_time` in UTC)."""
    try:
        return datetime.fromtimestamp(timegm(stamp), UTC)
    except (ValueError, OverflowError, OSError):  # year 0, or past 9999
        message, hint = f"its date is out of range (year {stamp[0]})", "Fix the entry's date."
        raise ArticleError(origin, message, hint=hint) from None


def html_to_text(fragment: str) -> str:
    """The text of an HTML fragment, one paragraph per line."""
    if "<" not in fragment:
        return fragment.strip()
    import lxml.html

    fragment = XML_CONTROLS.sub("", fragment)
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
