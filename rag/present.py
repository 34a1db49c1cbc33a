"""How results look to a person or a script: answers, passages, status, ingest reports,
problems, article lists and doctor's checks as plain text (the CLI), Markdown (the page)
and JSON.

The CLI and the page show the same things; writing each once here keeps them saying the
same ("undated", "unknown source", the outcome counts of an ingest). Every function is pure:
data in, a string or a JSON-ready value out; printing and Gradio are the callers' business.
"""

from __future__ import annotations

import re
import string
import textwrap
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rag.filters import describe
from rag.types import Answer, Filters, Passage, Problem, SearchResult

if TYPE_CHECKING:
    from rag.doctor import Check
    from rag.manifest import Entry
    from rag.pipeline import IngestReport, Status

NO_SOURCE = "unknown source"
"""What stands for the source of an article that names none."""

MARKDOWN_SPECIALS = re.compile("([" + re.escape(string.punctuation) + "])")


def day(published: datetime | str | None) -> str:
    """The day an article was published (`YYYY-MM-DD`), or 'undated'."""
    if not published:
        return "undated"
    when = datetime.fromisoformat(published) if isinstance(published, str) else published
    return when.date().isoformat()


def outcomes(counts: dict[str, int]) -> str:
    """Articles per outcome of an ingest, as words: '1 changed, 3 new' ('' for none)."""
    return ", ".join(f"{n} {name}" for name, n in sorted(counts.items()))


def escape_markdown(text: str) -> str:
    """`text` shown literally by a Markdown renderer: no markup, no HTML, no links."""
    return MARKDOWN_SPECIALS.sub(r"\\\1", text)


# Plain text, as the CLI prints it.


def source_text(number: int, passage: Passage) -> str:
    """Passage `number` as the sources under an answer list it: title, source, date, url,
    and its text, indented."""
    chunk = passage.chunk
    lines = [f"[{number}] {chunk.title} | {chunk.source or NO_SOURCE} | {day(chunk.published_at)}"]
    if chunk.url:
        lines.append(f"    {chunk.url}")
    lines.append(
        textwrap.fill(chunk.text, width=96, initial_indent="    ", subsequent_indent="    ")
    )
    return "\n".join(lines)


def answer_text(answer: Answer) -> str:
    """An answer as `rag ask` and `rag chat` print it: notes, the text, then how it was
    decided and the cited sources, or why the corpus does not say and the closest passages."""
    lines = [f"note: {note}" for note in answer.notes]
    lines.append(answer.text)
    if answer.abstained:
        lines.append(f"Why: {answer.basis}")
        if answer.passages:
            lines.append("\nClosest passages:")
            lines += [source_text(n, p) for n, p in enumerate(answer.passages[:3], start=1)]
        return "\n".join(lines)
    lines += [f"How: {answer.basis}", "\nSources:"]
    lines += [source_text(c.number, c.passage) for c in answer.citations]
    return "\n".join(lines)


def search_text(found: SearchResult) -> str:
    """The passages a search found, ranked, each with its score and what found it."""
    lines = [f"note: {note}" for note in found.notes]
    for rank, passage in enumerate(found.passages, start=1):
        lines.append(f"{rank:>2}. {passage.score:.3f}  {passage.found_by}  {passage.chunk.id}")
        lines.append(source_text(rank, passage))
    if not found.passages:
        lines.append("nothing found")
    return "\n".join(lines)


def status_text(status: Status) -> str:
    """What the index holds, a row per fact (the problems of the last ingest aside)."""
    stats, last_ingest = status.stats, status.last_ingest
    first, last = _first_and_last(status)
    embedder = f"{status.embedder[0]} ({status.embedder[1]} dims)" if status.embedder else "-"
    rows = [
        ("articles", str(stats.articles)),
        ("chunks", str(stats.chunks)),
        ("sources", ", ".join(f"{name} ({n})" for name, n in stats.sources.items()) or "-"),
        ("dates", f"{first} to {last}" if first else "-"),
        ("embedder", embedder),
        ("model", status.model),
        (
            "model check",
            f"passed on this build and CPU ({status.model_checked})"
            if status.model_checked
            else "not passed yet on this build: it runs before the first answer, "
            "or now with `rag doctor`",
        ),
        ("data dir", str(status.data_dir)),
        ("chunks in", status.store),
    ]
    if last_ingest is not None:
        state = "" if last_ingest.finished_at else " (interrupted: run it again to finish)"
        rows.append(
            (
                "last ingest",
                f"{last_ingest.started_at}{state}: {outcomes(last_ingest.summary) or 'nothing'}"
                f", {len(last_ingest.problems)} problem(s)",
            )
        )
    return "\n".join(f"{name:<13}{value}" for name, value in rows)


def ingest_text(report: IngestReport) -> str:
    """What an ingest did, in one sentence (its problems are listed apart)."""
    if report.articles or not report.problems:
        return (
            f"read {report.articles} articles ({outcomes(report.outcomes) or 'none'}); "
            f"wrote {report.chunks} chunks in {report.seconds:.1f} s"
        )
    return "no articles could be read: nothing was written (see the problems below)"


def problems_text(problems: Sequence[Problem]) -> str:
    """The problems as a table of file, problem and what to do ('' when there are none)."""
    if not problems:
        return ""
    rows = [("file", "problem", "what to do"), *problem_rows(problems)]
    widths = [max(len(row[i]) for row in rows) for i in (0, 1)]
    lines = [f"\n{len(problems)} problem(s):"]
    lines += [f"  {o:<{widths[0]}}  {m:<{widths[1]}}  {h}" for o, m, h in rows]
    return "\n".join(lines)


def articles_text(entries: Sequence[Entry], filters: Filters) -> str:
    """The indexed articles, two lines each (day, title, source, chunks; then the id), under
    a note of the filters that chose them."""
    if not entries:
        return f"no {describe(filters)}" if filters else "the index is empty: rag ingest PATH"
    lines = [f"note: only {describe(filters)}"] if filters else []
    for entry in entries:
        chunks = f"{entry.chunks} chunk{'' if entry.chunks == 1 else 's'}"
        lines.append(
            f"{day(entry.published_at):<10}  {entry.title} | {entry.source or NO_SOURCE} | {chunks}"
        )
        lines.append(f"{'':<10}  {entry.id}")
    return "\n".join(lines)


def checks_text(checks: Sequence[Check]) -> str:
    """What `rag doctor` found: ok or FAIL per part of the installation, with a hint under
    each part that can be fixed."""
    width = max(len(check.name) for check in checks)
    lines = []
    for check in checks:
        lines.append(f"{'ok' if check.ok else 'FAIL':<5} {check.name:<{width}}  {check.detail}")
        if check.hint:
            lines.append(f"{'':<{width + 8}}hint: {check.hint}")
    return "\n".join(lines)


# Markdown, as the page shows it (escaped: the text comes from articles and users).


def status_markdown(status: Status) -> str:
    """The index in one line: articles, sources, date range."""
    stats = status.stats
    if not stats.articles:
        return "The index is empty: add articles in the Corpus tab."
    sources = ", ".join(f"{name} ({n})" for name, n in stats.sources.items())
    first, last = _first_and_last(status)
    dates = f"published {first} to {last}" if first and last else "undated"
    text = f"{stats.articles} articles, {stats.chunks} passages · {dates} · sources: {sources}"
    return escape_markdown(text)


def ingest_markdown(report: IngestReport) -> str:
    """What an ingest did, in one sentence with the count of its problems."""
    text = (
        f"Read {report.articles} articles ({outcomes(report.outcomes) or 'none'}), wrote "
        f"{report.chunks} passages in {report.seconds:.1f} s; {len(report.problems)} problem(s)."
    )
    return escape_markdown(text)


def problem_rows(problems: Sequence[Problem]) -> list[list[str]]:
    """(file, problem, what to do) rows; the page's table component escapes its cells."""
    return [[p.origin, p.message, p.hint] for p in problems]


# JSON, as `--json` prints it.


def passage_json(passage: Passage) -> dict[str, Any]:
    """A passage: where its chunk comes from, its text, and how the search scored it."""
    chunk = passage.chunk
    return {
        "chunk_id": chunk.id,
        "article_id": chunk.article_id,
        "title": chunk.title,
        "source": chunk.source,
        "published_at": chunk.published_at.isoformat() if chunk.published_at else None,
        "url": chunk.url,
        "char_start": chunk.char_start,
        "char_end": chunk.char_end,
        "score": round(passage.score, 4),
        "found_by": passage.found_by,
        "text": chunk.text,
    }


def answer_json(answer: Answer) -> dict[str, Any]:
    """An answer with how it was decided, its citations (and their supporting spans), every
    passage it was given, and its timings."""
    return {
        "question": answer.question,
        "answer": answer.text,
        "abstained": answer.abstained,
        "kind": answer.kind,
        "basis": answer.basis,
        "notes": list(answer.notes),
        "citations": [
            {
                "number": c.number,
                "support": {"start": c.start, "end": c.end, "score": round(c.score, 3)},
                **passage_json(c.passage),
            }
            for c in answer.citations
        ],
        "passages": [passage_json(p) for p in answer.passages],
        "timings": {name: round(seconds, 3) for name, seconds in answer.timings.items()},
    }


def search_json(question: str, found: SearchResult) -> dict[str, Any]:
    """A search: the question, the filters it ran under, its notes and its passages."""
    filters = found.filters
    return {
        "question": question,
        "filters": {
            "since": filters.since.isoformat() if filters.since else None,
            "until": filters.until.isoformat() if filters.until else None,
            "sources": list(filters.sources),
        },
        "notes": list(found.notes),
        "passages": [passage_json(p) for p in found.passages],
    }


def status_json(status: Status) -> dict[str, Any]:
    """What the index holds, which models it uses, and what its last ingest did."""
    stats, last_ingest = status.stats, status.last_ingest
    first, last = _first_and_last(status)
    return {
        "articles": stats.articles,
        "chunks": stats.chunks,
        "sources": stats.sources,
        "first_published": first,
        "last_published": last,
        "embedder": {"name": status.embedder[0], "dim": status.embedder[1]}
        if status.embedder
        else None,
        "model": status.model,
        "model_check": status.model_checked,
        "data_dir": str(status.data_dir),
        "store": status.store,
        "last_ingest": {
            "started_at": last_ingest.started_at,
            "finished_at": last_ingest.finished_at,
            "summary": last_ingest.summary,
            "problems": [vars(p) for p in last_ingest.problems],
        }
        if last_ingest
        else None,
    }


def ingest_json(report: IngestReport) -> dict[str, Any]:
    """What an ingest did: articles per outcome, chunks written, time, and its problems."""
    return {
        "articles": report.articles,
        "outcomes": report.outcomes,
        "chunks": report.chunks,
        "seconds": round(report.seconds, 3),
        "problems": [vars(p) for p in report.problems],
    }


def articles_json(entries: Sequence[Entry]) -> list[dict[str, Any]]:
    """The indexed articles with their ids, as `rag remove` takes them."""
    return [
        {
            "id": e.id,
            "title": e.title,
            "source": e.source,
            "published_at": e.published_at,
            "chunks": e.chunks,
            "origin": e.origin,
        }
        for e in entries
    ]


def _first_and_last(status: Status) -> tuple[str | None, str | None]:
    """The days of the index's oldest and newest articles (None for an empty index)."""
    stats = status.stats
    first = stats.first_published.date().isoformat() if stats.first_published else None
    last = stats.last_published.date().isoformat() if stats.last_published else None
    return first, last
