"""What the page shows, as Markdown and HTML strings: escaped, with no Gradio in sight.

Every string that came from an article, a question or the model is escaped here before it
reaches the page, and only http(s) urls ever become links. The page's own markup (links
from [n] markers to passages, highlights) is added after escaping. What the page shows as
the CLI does too (status, ingest reports, problems) is rendered by `rag.present`.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from urllib.parse import urlsplit

from rag.cite import MARKER, parse_markers
from rag.errors import RagError
from rag.filters import describe
from rag.manifest import Entry
from rag.pipeline import Status
from rag.present import NO_SOURCE, day, escape_markdown
from rag.types import UNKNOWN_SOURCE, Answer, Citation, Filters, Passage


def safe_url(url: str | None) -> str | None:
    """`url` if it is an http(s) url with a host, else None (never a `javascript:` link)."""
    if not url:
        return None
    parts = urlsplit(url.strip())
    return url.strip() if parts.scheme.lower() in ("http", "https") and parts.netloc else None


def passage_anchor(turn: int, number: int) -> str:
    return f"nr-{turn}-{number}"


def answer_markdown(answer: Answer, turn: int) -> str:
    """The answer's text with each [n] a link that opens passage n of this turn."""
    pieces: list[str] = []
    last = 0
    for match in MARKER.finditer(answer.text):
        pieces.append(escape_markdown(answer.text[last : match.start()]))
        numbers = parse_markers(match.group(0))
        pieces.append("".join(f"[\\[{n}\\]](#{passage_anchor(turn, n)})" for n in numbers))
        last = match.end()
    pieces.append(escape_markdown(answer.text[last:]))
    return "".join(pieces)


def read_as_markdown(answer: Answer) -> str:
    """A small line above an answer to a follow-up: the question it was rewritten into from
    the conversation, which is the one the answer answers. Empty for a question as asked."""
    if answer.follow_up is None:
        return ""
    return "<sub>" + escape_markdown(f"Read as: {answer.question}") + "</sub>"


def draft_markdown(draft: str) -> str:
    """The model's draft while it is being written (it is checked against the passages after)."""
    return escape_markdown(draft) + " ▌"


def answer_note(answer: Answer, filters: Filters) -> str:
    """One small line under an answer: what was searched (the page's filters, and what the
    search read from the question), and how the short answer was decided or why the
    pipeline declined."""
    parts = [f"{len(answer.passages)} passages"]
    if filters:
        parts.append("searched " + describe(filters))
    parts.extend(answer.notes)
    if answer.basis:
        parts.append(("declined: " if answer.abstained else "") + answer.basis)
    if "total" in answer.timings:
        parts.append(f"{answer.timings['total']:.1f} s")
    return "<sub>" + escape_markdown(" · ".join(parts)) + "</sub>"


def error_markdown(error: Exception) -> str:
    """A pipeline error as the page shows it: what went wrong and what to do, no traceback."""
    if isinstance(error, RagError):
        text = f"Error: {error.message}" + (f". {error.hint}" if error.hint else "")
    else:
        text = f"Error: something went wrong ({type(error).__name__}: {error}). "
        text += "The server's log has the details."
    return "**" + escape_markdown(text) + "**"


def evidence_section(turn: int, answer: Answer) -> str:
    """The passages one answer was given, cited ones marked and their supporting sentences
    lit."""
    items = [
        _passage_html(turn, number, passage, [c for c in answer.citations if c.number == number])
        for number, passage in enumerate(answer.passages, start=1)
    ]
    heading = f"Answer {turn}: {answer.question}"
    body = "".join(items) or "<p>No passage matched.</p>"
    return f'<section class="nr-turn"><h4>{html.escape(heading)}</h4>{body}</section>'


def evidence_html(sections: Sequence[str]) -> str:
    """The evidence panel: the newest answer's passages first."""
    if not sections:
        return '<p class="nr-empty">The passages behind each answer appear here.</p>'
    return '<div class="nr-evidence">' + "".join(reversed(sections)) + "</div>"


def _passage_html(turn: int, number: int, passage: Passage, citations: Sequence[Citation]) -> str:
    chunk = passage.chunk
    label = " · ".join([chunk.title, chunk.source or NO_SOURCE, day(chunk.published_at)])
    pieces, last = [], 0
    for citation in sorted(citations, key=lambda c: c.start):
        if citation.start >= last:
            pieces.append(html.escape(chunk.text[last : citation.start]))
            pieces.append(f"<mark>{html.escape(chunk.text[citation.start : citation.end])}</mark>")
            last = citation.end
    text = "".join(pieces) + html.escape(chunk.text[last:])
    url = safe_url(chunk.url)
    link = (
        f'<a class="nr-url" href="{html.escape(url, quote=True)}" target="_blank" '
        f'rel="noopener noreferrer nofollow">{html.escape(url)}</a>'
        if url
        else ""
    )
    state = f"cited, support {max(c.score for c in citations):.2f}" if citations else "not cited"
    return (
        f'<details class="nr-passage nr-{"cited" if citations else "not-cited"}" '
        f'id="{passage_anchor(turn, number)}">'
        f"<summary><b>[{number}]</b> {html.escape(label)} "
        f'<span class="nr-score">score {passage.score:.2f} · {state}</span></summary>'
        f'<p class="nr-text">{text}</p>{link}</details>'
    )


def source_choices(status: Status) -> list[str]:
    """The sources the filters offer: those articles name, most articles first (the count
    of articles without a source is no source a search can be restricted to)."""
    return [name for name in status.stats.sources if name != UNKNOWN_SOURCE]


def example_questions(articles: Sequence[Entry], n: int = 3) -> list[str]:
    """`n` questions about the newest articles, one per source while sources last."""
    chosen: list[Entry] = []
    for entry in articles:
        if entry.source not in {c.source for c in chosen}:
            chosen.append(entry)
    for entry in articles:
        if len(chosen) >= n:
            break
        if entry not in chosen:
            chosen.append(entry)
    return [f"What do the articles say about “{e.title}”?" for e in chosen[:n]]
