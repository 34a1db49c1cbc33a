"""Load news articles from files into `Article`s. No models here.

Formats: `.txt` (the whole file is the body), `.md` with YAML front matter, `.json` (an array
of article objects, or one object) and `.jsonl` (one object per line). A folder is read
recursively. A broken file or record becomes a `Problem`; the rest of the batch goes on.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import yaml

from rag.errors import ArticleError, InputError
from rag.types import Article, Problem

SUFFIXES = (".txt", ".md", ".markdown", ".json", ".jsonl")
DATE_HINT = "Write dates as 2025-04-23 or 2025-04-23T14:30:00+00:00."


@dataclass
class LoadResult:
    """Articles read from the given paths, and what went wrong on the way."""

    articles: list[Article] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def load_articles(paths: Iterable[Path], *, source: str | None = None) -> LoadResult:
    """Read every article under `paths`; a path that does not exist is an `InputError`.

    `source`, when given, is every article's source (the outlet), whatever the files say.
    """
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(
                sorted(p for p in path.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file())
            )
        elif path.is_file():
            files.append(path)
        else:
            raise InputError(
                f"no such file or folder: {path}",
                hint="Pass article files (.txt, .md, .json, .jsonl) or folders holding them.",
            )
    unique: dict[Path, Path] = {}  # a file given twice is read once
    for file in files:
        unique.setdefault(file.resolve(), file)
    result = LoadResult()
    by_id: dict[str, Article] = {}
    for resolved, file in unique.items():
        try:
            for item in _load_file(file):
                if isinstance(item, Article):
                    item = _from_file(item, resolved, source=source)
                if isinstance(item, Problem):
                    result.problems.append(item)
                elif item.id in by_id and by_id[item.id].body != item.body:
                    result.problems.append(
                        Problem(
                            item.origin,
                            f"same id as {by_id[item.id].origin} ({item.id}) but another text; "
                            "this one is kept",
                            "Give each article its own url; two texts cannot share one.",
                        )
                    )
                    by_id[item.id] = item
                else:
                    by_id.setdefault(item.id, item)
        except ArticleError as exc:
            result.problems.append(exc.as_problem())
        except OSError as exc:
            result.problems.append(
                Problem(
                    str(file),
                    f"cannot be read: {exc.strerror}",
                    "Check that the file exists and is readable.",
                )
            )
    result.articles = list(by_id.values())
    return result


def _from_file(article: Article, file: Path, *, source: str | None) -> Article:
    article = replace(article, file=str(file))
    if source is None:
        return article
    return replace(
        article, source=source, id=article_id(url=article.url, source=source, body=article.body)
    )


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


def _load_file(path: Path) -> Iterator[Article | Problem]:
    origin = str(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ArticleError(
            origin,
            f"unsupported file type '{path.suffix}'",
            hint="Convert it to .txt, .md, .json or .jsonl.",
        )
    data = path.read_bytes()
    if b"\x00" in data[:8192]:
        raise ArticleError(origin, "binary file, not text", hint="Only text can be ingested.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        text = data.decode("cp1252", errors="replace")
        yield Problem(
            origin,
            f"not valid UTF-8 (byte {exc.start}); read as Windows-1252",
            "Check the text for garbled characters; save the file as UTF-8.",
        )
    if suffix == ".txt":
        yield make_article({"body": text}, origin=origin, default_title=_title_from_name(path))
    elif suffix in (".md", ".markdown"):
        meta, body = split_front_matter(text, origin=origin)
        yield make_article(
            {**meta, "body": body}, origin=origin, default_title=_md_title(body, path)
        )
    elif suffix == ".json":
        yield from _json_articles(text, origin=origin)
    else:
        yield from _jsonl_articles(text, origin=origin)


def _json_articles(text: str, *, origin: str) -> Iterator[Article | Problem]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ArticleError(
            origin,
            f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
            hint="Fix the JSON, or write one article object per line as .jsonl.",
        ) from exc
    for number, record in enumerate(data if isinstance(data, list) else [data], start=1):
        yield _record_article(record, origin=f"{origin} record {number}")


def _jsonl_articles(text: str, *, origin: str) -> Iterator[Article | Problem]:
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
        yield _record_article(record, origin=f"{origin}:{number}")


def _record_article(record: object, *, origin: str) -> Article | Problem:
    try:
        if not isinstance(record, dict):
            raise ArticleError(
                origin,
                f"expected an article object, found {type(record).__name__}",
                hint="Each record must be an object with at least 'title' and 'body'.",
            )
        return make_article(record, origin=origin)
    except ArticleError as exc:
        return exc.as_problem()


def _title_from_name(path: Path) -> str:
    return path.stem.replace("_", " ").replace("-", " ").strip().capitalize()


def _md_title(body: str, path: Path) -> str:
    first = next((line for line in body.splitlines() if line.strip()), "")
    return first[2:].strip() if first.startswith("# ") else _title_from_name(path)
