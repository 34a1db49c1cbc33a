"""What the index holds, article by article, in a small SQLite file beside Chroma.

The manifest makes ingests incremental and crash-safe. Each article has a content hash
(its text, metadata, the chunking and the embedder): an unchanged article is skipped.
Writing an article is three steps, each atomic: the manifest marks it `pending`, the store
replaces its chunks, the manifest marks it `done`. An ingest killed between any two steps
leaves the article `pending`, and the next ingest of it redoes it from the start.

A text found again under another id is stored once: the second article becomes a copy row
of the first (its holder), kept whole so that it can be indexed in its own right when the
holder's text changes or the holder is removed. Which of these an article is (new, changed,
unchanged or a copy) is decided here, by `Manifest.admit`, in one transaction per article.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from rag.config import DEFAULT_COLLECTION, index_name
from rag.errors import ConfigError, sqlite_errors
from rag.types import UNKNOWN_SOURCE, Article, Problem, StoreStats

SCHEMA_VERSION = 3
"""Version 2 keeps each copy whole (version 1's copies table is dropped: the next ingest of
those files records them again); 3 adds the facts table."""
SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY,
    content_hash TEXT NOT NULL,
    body_hash TEXT NOT NULL,
    title TEXT NOT NULL,
    source TEXT,
    published_at TEXT,
    origin TEXT NOT NULL,
    file TEXT NOT NULL,
    chunks INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL CHECK (state IN ('pending', 'done'))
);
CREATE INDEX IF NOT EXISTS articles_body ON articles (body_hash);
CREATE TABLE IF NOT EXISTS copies (
    holder TEXT NOT NULL,
    id TEXT NOT NULL,
    origin TEXT NOT NULL,
    file TEXT NOT NULL,
    source TEXT,
    url TEXT,
    article TEXT NOT NULL,
    PRIMARY KEY (holder, id)
);
CREATE TABLE IF NOT EXISTS facts (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS generation (n INTEGER NOT NULL);
INSERT INTO generation SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM generation);
CREATE TABLE IF NOT EXISTS ingests (
    id INTEGER PRIMARY KEY,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    summary TEXT NOT NULL DEFAULT '{}',
    problems TEXT NOT NULL DEFAULT '[]'
);
"""


# What a manifest that holds articles but records neither kept (see `Manifest.claim`).
UNCLAIMED = {"index": index_name(None, DEFAULT_COLLECTION), "shard": "the whole corpus"}
CLAIM_HINT = "Give each index (--chroma-url, --collection) and each shard its own --data-dir."


@dataclass(frozen=True)
class Entry:
    """One article as the manifest records it."""

    id: str
    content_hash: str
    body_hash: str
    title: str
    source: str | None
    published_at: str | None
    origin: str
    file: str
    chunks: int
    state: str


Outcome = Literal["new", "changed", "unchanged", "copy"]
"""What an ingest does with one article (see `Manifest.admit`)."""


@dataclass(frozen=True)
class Admission:
    """The manifest's decision on one article of an ingest, and the work it leaves to the
    writer, which owns the chunks."""

    outcome: Outcome
    """new or changed: the article is pending, its chunks are to be written, then `finish`ed;
    unchanged: nothing to do; copy: recorded as a copy of the article holding its body."""
    orphans: tuple[Article, ...] = ()
    """Its copies that lose their holder (its body changed, or it became a copy itself), to be
    admitted in their own right before its chunks change."""
    dropped: bool = False
    """A copy now that had chunks of its own: it is pending, its chunks are to be deleted, then
    the entry `remove`d."""


@dataclass(frozen=True)
class IngestRecord:
    """One past ingest: when, what it did, and its problems."""

    started_at: str
    finished_at: str | None
    summary: dict[str, int]
    problems: tuple[Problem, ...]


class Manifest:
    """The manifest file of one data directory."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        with self._db() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version < 2:
                db.execute("DROP TABLE IF EXISTS copies")
            if version < SCHEMA_VERSION:  # else nothing is written: a read-only one is read
                db.executescript(f"{SCHEMA}PRAGMA user_version = {SCHEMA_VERSION};")

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        with sqlite_errors(self.path), closing(sqlite3.connect(self.path, timeout=30)) as db, db:
            yield db

    def get(self, article_id: str) -> Entry | None:
        with self._db() as db:
            row = db.execute("SELECT * FROM articles WHERE id = ?", (article_id,)).fetchone()
        return Entry(*row) if row else None

    def entries(self) -> list[Entry]:
        with self._db() as db:
            return [Entry(*row) for row in db.execute("SELECT * FROM articles ORDER BY id")]

    def stats(self) -> StoreStats:
        """What the index holds: the articles whose chunks are all written (done)."""
        done = [e for e in self.entries() if e.state == "done" and e.chunks]
        dates = [datetime.fromisoformat(e.published_at) for e in done if e.published_at]
        return StoreStats(
            articles=len(done),
            chunks=sum(e.chunks for e in done),
            sources=dict(Counter(e.source or UNKNOWN_SOURCE for e in done).most_common()),
            first_published=min(dates, default=None),
            last_published=max(dates, default=None),
        )

    def admit(self, article: Article, *, content_hash: str, body_hash: str) -> Admission:
        """Decide, in one transaction, what an ingest does with `article`, and record it.

        Unchanged (same content hash, done): only a move to another file is recorded, for
        `--prune`. Else, if a finished article under another id holds the same body, this one
        becomes a copy of it. Else it is new or changed and marked pending, before its chunks
        are written; copies of it whose body is not its new body become orphans.
        """
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")  # read and write as one, even beside another ingest
            row = db.execute("SELECT * FROM articles WHERE id = ?", (article.id,)).fetchone()
            entry = Entry(*row) if row else None
            if entry is not None and entry.state == "done" and entry.content_hash == content_hash:
                if entry.file != article.file:
                    db.execute(
                        "UPDATE articles SET origin = ?, file = ? WHERE id = ?",
                        (article.origin, article.file, article.id),
                    )
                return Admission("unchanged")
            holder = db.execute(
                "SELECT id FROM articles WHERE body_hash = ? AND id != ? AND state = 'done'",
                (body_hash, article.id),
            ).fetchone()
            copies = _copies_of(db, article.id)
            if holder is not None:
                if entry is not None:  # it had a text of its own before: that goes
                    db.execute("UPDATE articles SET state = 'pending' WHERE id = ?", (article.id,))
                db.execute("DELETE FROM copies WHERE id = ?", (article.id,))
                db.execute(
                    "INSERT INTO copies VALUES (?, ?, ?, ?, ?, ?, ?)", _copy_row(holder[0], article)
                )
                orphans = tuple(copies) if entry is not None else ()
                return Admission("copy", orphans, dropped=entry is not None)
            db.execute(
                "INSERT OR REPLACE INTO articles VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, 'pending')",
                (
                    article.id,
                    content_hash,
                    body_hash,
                    article.title,
                    article.source,
                    _iso(article.published_at),
                    article.origin,
                    article.file,
                ),
            )
            db.execute(
                "INSERT OR REPLACE INTO copies VALUES (?, ?, ?, ?, ?, ?, ?)",
                _copy_row(article.id, article),
            )
            orphans = tuple(c for c in copies if c.body != article.body)
            return Admission("changed" if entry is not None else "new", orphans)

    def finish(self, article_id: str, *, chunks: int) -> None:
        """Mark an article done, after its chunks are written; it is nobody's copy now."""
        with self._db() as db:
            db.execute(
                "UPDATE articles SET state = 'done', chunks = ? WHERE id = ?", (chunks, article_id)
            )
            db.execute("DELETE FROM copies WHERE id = ? AND holder != id", (article_id,))
            db.execute("UPDATE generation SET n = n + 1")

    def release(self, article_ids: Sequence[str]) -> list[Article]:
        """Mark these articles pending, before their chunks are deleted, so that an interrupted
        removal leaves nothing that looks whole; the copies they held, which lose their holder."""
        with self._db() as db:
            db.executemany(
                "UPDATE articles SET state = 'pending' WHERE id = ?", [(i,) for i in article_ids]
            )
            return [copy for i in article_ids for copy in _copies_of(db, i)]

    def drop_copies_gone(self, under: Path, *, keep: set[str]) -> int:
        """Forget the copies read from a file inside `under` that no longer exists, except
        the ids in `keep`; how many were forgotten."""
        prefix = str(under).rstrip("/") + "/"
        with self._db() as db:
            rows = db.execute(
                "SELECT holder, id, file FROM copies WHERE holder != id AND substr(file, 1, ?) = ?",
                (len(prefix), prefix),
            ).fetchall()
            gone = [(h, i) for h, i, f in rows if i not in keep and not Path(f).exists()]
            db.executemany("DELETE FROM copies WHERE holder = ? AND id = ?", gone)
        return len(gone)

    def find(self, *, source: str | None = None, under: Path | None = None) -> list[Entry]:
        """The articles from `source`, or read from a file inside folder `under`."""
        with self._db() as db:
            if source is not None:
                rows = db.execute("SELECT * FROM articles WHERE source = ?", (source,))
            else:
                prefix = str(under).rstrip("/") + "/"
                rows = db.execute(
                    "SELECT * FROM articles WHERE substr(file, 1, ?) = ?", (len(prefix), prefix)
                )
            return [Entry(*row) for row in rows]

    def remove(self, article_ids: Sequence[str]) -> None:
        with self._db() as db:
            for table, column in (("articles", "id"), ("copies", "holder")):
                db.executemany(
                    f"DELETE FROM {table} WHERE {column} = ?", [(i,) for i in article_ids]
                )
            db.execute("UPDATE generation SET n = n + 1")

    def claim(self, *, index: str, shard: str | None = None) -> None:
        """Record where this manifest's articles are written and which shard ("I/N", "": all,
        None: unchecked) it keeps, or refuse others: a manifest knows only what it wrote."""
        wanted = {"index": index}
        if shard is not None:
            wanted["shard"] = f"shard {shard}" if shard else "the whole corpus"
        with self._db() as db:
            recorded = dict(db.execute("SELECT name, value FROM facts").fetchall())
            held = db.execute("SELECT 1 FROM articles LIMIT 1").fetchone()
            for name, value in wanted.items():
                if name not in recorded:  # a manifest holding articles already wrote them so
                    recorded[name] = UNCLAIMED[name] if held else value
                    db.execute("INSERT INTO facts VALUES (?, ?)", (name, recorded[name]))
        for name, value in wanted.items():
            if recorded[name] != value:
                raise ConfigError(
                    f"the manifest in {self.path.parent} keeps {recorded[name]}, not {value}",
                    hint=CLAIM_HINT,
                )

    def generation(self) -> int:
        """A counter bumped by every finished article and every removal: what is derived from
        the index (the BM25 index) is current when it was built at this generation."""
        with self._db() as db:
            return int(db.execute("SELECT n FROM generation").fetchone()[0])

    def start_ingest(self) -> int:
        with self._db() as db:
            cursor = db.execute("INSERT INTO ingests (started_at) VALUES (?)", (_now(),))
            return int(cursor.lastrowid or 0)

    def finish_ingest(
        self, ingest: int, *, summary: dict[str, int], problems: Sequence[Problem]
    ) -> None:
        with self._db() as db:
            db.execute(
                "UPDATE ingests SET finished_at = ?, summary = ?, problems = ? WHERE id = ?",
                (_now(), json.dumps(summary), json.dumps([vars(p) for p in problems]), ingest),
            )

    def last_ingest(self) -> IngestRecord | None:
        with self._db() as db:
            row = db.execute(
                "SELECT started_at, finished_at, summary, problems FROM ingests "
                "ORDER BY id DESC LIMIT 1"
            ).fetchone()
        if row is None:
            return None
        problems = tuple(Problem(**p) for p in json.loads(row[3]))
        return IngestRecord(row[0], row[1], json.loads(row[2]), problems)


def _copies_of(db: sqlite3.Connection, holder: str) -> list[Article]:
    rows = db.execute(
        "SELECT article FROM copies WHERE holder = ? AND id != holder ORDER BY id", (holder,)
    )
    return [_article(json.loads(row[0])) for row in rows]


def _copy_row(holder: str, article: Article) -> tuple[str | None, ...]:
    whole = {**vars(article), "published_at": _iso(article.published_at)}
    return (
        holder,
        article.id,
        article.origin,
        article.file,
        article.source,
        article.url,
        json.dumps(whole),
    )


def _article(whole: dict[str, Any]) -> Article:
    published = whole["published_at"]
    return Article(
        **{**whole, "published_at": datetime.fromisoformat(published) if published else None}
    )


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
