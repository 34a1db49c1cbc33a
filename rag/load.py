"""Load news articles from files, folders and URLs into `Article`s. No models here.

What is read, by file suffix: `.txt`, `.md`/`.markdown`, `.json`, `.jsonl`/`.ndjson`,
`.html`/`.htm`, `.rss`/`.atom`/`.xml` (feeds), and `.urls` (one URL per line, each fetched).
An argument that is an http(s) URL is fetched and read by its content type. A folder is read
recursively. Whatever cannot be read becomes a `Problem` with a hint; the rest goes on.
"""

from __future__ import annotations

import codecs
import os
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from rag import fetch, formats
from rag.errors import ArticleError, InputError
from rag.formats import article_id
from rag.types import Article, Problem

PACKAGE_DIR = Path(__file__).resolve().parent

TEXT_SUFFIXES = {
    ".txt": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".html": "html",
    ".htm": "html",
    ".rss": "feed",
    ".atom": "feed",
    ".xml": "feed",
    ".urls": "urls",
}
MAX_FILE_BYTES = 256 * 1024 * 1024
"""Largest file read: larger ones are reported, not loaded into memory."""
READABLE = ", ".join(TEXT_SUFFIXES)
"""The file suffixes read, as help texts and hints name them."""
FORMATS_HINT = f"Give {READABLE} files, folders of them, or http(s) URLs (see README)."


@dataclass
class LoadResult:
    """Articles read from the given paths, and what went wrong on the way."""

    articles: list[Article] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def load_articles(
    paths: Iterable[Path | str],
    *,
    source: str | None = None,
    fields: Mapping[str, str] | None = None,
) -> LoadResult:
    """Read every article under `paths` (files, folders, http(s) URLs).

    Whatever cannot be read (a missing path included) is a `Problem`; the rest is read.
    `source`, when given, is every article's source (its outlet). `fields` maps
    article fields to the keys of JSON records that name them otherwise (body=content).
    """
    inputs, skipped = _inputs(paths)
    result = LoadResult(problems=skipped)
    by_id: dict[str, Article] = {}
    for item in _read_all(inputs, fields=fields):
        if isinstance(item, Problem):
            result.problems.append(item)
            continue
        if source is not None:
            item = replace(
                item, source=source, id=article_id(url=item.url, source=source, body=item.body)
            )
        if item.id in by_id and by_id[item.id].body != item.body:
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
    result.articles = list(by_id.values())
    return result


def _inputs(paths: Iterable[Path | str]) -> tuple[list[Path | str], list[Problem]]:
    """Files (each once, folders expanded in name order) and URLs, in the order given; and
    the problems of the paths themselves: missing, a folder without articles, or a folder
    holding files of types that cannot be read."""
    unique: dict[Path | str, Path | str] = {}
    problems = []
    for given in paths:
        if isinstance(given, str) and given.startswith(("http://", "https://")):
            unique.setdefault(given, given)
            continue
        path = Path(given)
        files: list[Path] = []
        if path.is_dir():
            # rglob does not enter symlinked folders, and is_file() is False for a link
            # that loops or leads nowhere: a loop is skipped, never followed. Hidden files
            # and folders (.DS_Store, .git/) are not articles and are not reported.
            found = sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            files = [p for p in found if p.suffix.lower() in TEXT_SUFFIXES]
            skipped = Counter(
                p.suffix.lower() or "(none)" for p in found if p.suffix.lower() not in TEXT_SUFFIXES
            )
            kinds = ", ".join(f"{suffix} x{n}" for suffix, n in sorted(skipped.items()))
            if not files:
                problems.append(
                    Problem(
                        str(path),
                        "no articles found in this folder"
                        + (f" (only files of types that cannot be read: {kinds})" if kinds else ""),
                        f"Put {READABLE} files in it, or give another folder (see README).",
                    )
                )
            elif skipped:
                problems.append(
                    Problem(
                        str(path),
                        f"skipped {sum(skipped.values())} files of "
                        f"types that cannot be read ({kinds})",
                        FORMATS_HINT,
                    )
                )
        elif path.is_file():
            files = [path]
        else:
            problems.append(
                Problem(
                    str(path),
                    "a symbolic link to nothing (its target is missing, or it loops)"
                    if path.is_symlink()
                    else "no such file or folder",
                    "Check the path; pass article files, folders holding them, or http(s) URLs.",
                )
            )
        for file in files:
            unique.setdefault(file.resolve(), file)
    return list(unique.values()), problems


def _read_all(
    inputs: list[Path | str], *, fields: Mapping[str, str] | None
) -> Iterator[Article | Problem]:
    for given in inputs:
        try:
            if isinstance(given, Path):
                yield from _read_file(given, fields=fields)
            else:
                yield from _read_url(given, fields=fields)
        except ArticleError as exc:
            yield exc.as_problem()
        except OSError as exc:
            yield Problem(
                str(given),
                f"cannot be read: {exc.strerror or exc}",
                "Check that the file exists and is readable.",
            )
        except Exception as exc:  # a parser choking on odd input must not stop the batch
            yield Problem(
                str(given),
                f"could not be parsed: {type(exc).__name__}: {exc}",
                "Check that it is what its name or address says; skip it if not an article.",
            )


def _read_file(path: Path, *, fields: Mapping[str, str] | None) -> Iterator[Article | Problem]:
    origin = str(path)
    shown = os.fsencode(path).decode("utf-8", errors="replace")
    if shown != origin:  # bytes of another encoding, as surrogates: no store or terminal takes them
        raise ArticleError(
            shown,
            "the file name is not valid UTF-8",
            hint="Rename the file to a UTF-8 name (convmv -f latin1 -t utf8 renames from Latin-1).",
        )
    kind = TEXT_SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise ArticleError(origin, f"unsupported file type '{path.suffix}'", hint=FORMATS_HINT)
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ArticleError(
            origin,
            f"too large ({fetch.human_size(size)}; the limit is "
            f"{fetch.human_size(MAX_FILE_BYTES)})",
            hint="Split it into smaller files, e.g. JSON Lines in parts.",
        )
    text, warning = decode(path.read_bytes(), origin=origin)
    if warning is not None:
        yield warning
    file = str(path.resolve())
    for item in _parse(kind, text, origin=origin, name=path.name, fields=fields):
        yield replace(item, file=file) if isinstance(item, Article) else item


def _read_url(url: str, *, fields: Mapping[str, str] | None) -> Iterator[Article | Problem]:
    response = fetch.fetch(url)
    text, warning = decode(response.body, origin=url)
    if warning is not None:
        yield warning
    kind = _kind_of(response.content_type, text)
    yield from _parse(kind, text, origin=url, name=url, fields=fields, url=response.url)


def _parse(
    kind: str,
    text: str,
    *,
    origin: str,
    name: str,
    fields: Mapping[str, str] | None,
    url: str | None = None,
) -> Iterator[Article | Problem]:
    if kind == "text":
        yield from formats.parse_text(text, origin=origin, name=name)
    elif kind == "markdown":
        yield from formats.parse_markdown(text, origin=origin, name=name)
    elif kind == "json":
        yield from formats.parse_json(text, origin=origin, fields=fields)
    elif kind == "jsonl":
        yield from formats.parse_jsonl(text, origin=origin, fields=fields)
    elif kind == "html":
        yield from formats.parse_html(text, origin=origin, url=url)
    elif kind == "feed":
        yield from formats.parse_feed(text, origin=origin)
    else:  # a list of URLs, one per line, each read like a URL given on the command line
        urls = [line.strip() for line in text.splitlines()]
        yield from _read_all([u for u in urls if u and not u.startswith("#")], fields=fields)


def _kind_of(content_type: str, text: str) -> str:
    """The format of a fetched document, by its content type (and its start, for XML)."""
    if content_type in ("application/json",):
        return "json"
    if content_type in ("application/x-ndjson", "application/jsonl"):
        return "jsonl"
    if "xml" in content_type or "rss" in content_type or "atom" in content_type:
        return "feed" if "<html" not in text[:1000].lower() else "html"
    if content_type == "text/plain":
        return "text"
    return "html"


BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16's, which starts it
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
"""Byte order marks of the encodings whose text holds NUL bytes (Windows writes UTF-16)."""


def decode(data: bytes, *, origin: str) -> tuple[str, Problem | None]:
    """Text from bytes: UTF-16 or UTF-32 after its byte order mark, else UTF-8, else
    Windows-1252 with a warning; binary data is refused."""
    encoding = next((name for bom, name in BOMS if data.startswith(bom)), None)
    if encoding is not None:
        try:
            return data.decode(encoding), None
        except UnicodeDecodeError as exc:
            raise ArticleError(
                origin,
                f"starts as {encoding.upper()} text but is not valid {encoding.upper()} "
                f"(byte {exc.start})",
                hint="Save the file as UTF-8.",
            ) from None
    if b"\x00" in data[:8192]:
        raise ArticleError(origin, "binary file, not text", hint="Only text can be ingested.")
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        warning = Problem(
            origin,
            f"not valid UTF-8 (byte {exc.start}); read as Windows-1252",
            "Check the text for garbled characters; save the file as UTF-8.",
        )
        return data.decode("cp1252", errors="replace"), warning


def default_corpus() -> Path:
    """The bundled articles: inside the wheel, or in `corpus/` beside the package in a checkout."""
    for candidate in (PACKAGE_DIR / "default_corpus", PACKAGE_DIR.parent / "corpus"):
        candidate = candidate / "articles"
        if candidate.is_dir():
            return candidate
    raise InputError(
        "the default corpus is missing from this installation",
        hint="Reinstall newsrag, or ingest your own articles with `rag ingest PATH`.",
    )
