"""The indexed articles as `rag articles` and the chat page list them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from rag.filters import check_sources
from rag.manifest import Entry
from rag.types import Chunk, Filters


def passing(entries: Sequence[Entry], filters: Filters) -> list[Entry]:
    """The `entries` that pass `filters`, newest first, undated ones last. Sources match
    exactly, as in a search, and one no entry has is an `InputError`; an undated article
    never passes a date range."""
    check_sources(filters.sources, known=sorted({e.source for e in entries if e.source}))

    def passes(entry: Entry) -> bool:
        if filters.sources and entry.source not in filters.sources:
            return False
        if not (filters.since or filters.until):
            return True
        if entry.published_at is None:
            return False
        day = datetime.fromisoformat(entry.published_at).date()
        return (filters.since or day) <= day <= (filters.until or day)

    chosen = [e for e in entries if passes(e)]
    chosen.sort(key=lambda e: e.published_at or "", reverse=True)
    return chosen


def entries_of(chunks: Sequence[Chunk]) -> list[Entry]:
    """The articles of `chunks` as done entries, as far as chunks tell: with no hashes, origin
    or file (on a Chroma server, those are in the manifests of the machines that ingested
    them)."""
    entries: dict[str, Entry] = {}
    for chunk in chunks:
        held = entries.get(chunk.article_id)
        published = chunk.published_at.isoformat() if chunk.published_at else None
        entries[chunk.article_id] = Entry(
            chunk.article_id,
            "",
            "",
            chunk.title,
            chunk.source,
            published,
            "",
            "",
            held.chunks + 1 if held else 1,
            "done",
        )
    return list(entries.values())
