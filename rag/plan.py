"""What a question asks the index for: its filters, and the parts a multi-hop question has.

News questions name outlets and dates: "Did TechCrunch report ... before The Verge said ...?",
"What happened at the London meeting last week?". Read without a model:

- Outlets: the index's own source names (and their short forms: "The Independent" for
  "The Independent - Life and Style"), as written in the question.
- Dates (`rag.dates`: "last week", "in October 2023", "as of 17 March 2025") become a date
  filter; relative ones are resolved against an as-of day (by default the newest article's).
- Each outlet or full date the question names ("published on October 7, 2023") is the anchor
  of a part: the text around it, searched within that outlet (and a day either side of that
  date), so that evidence for every part of the question is found.
- Its claims: the question cut at clause boundaries (commas, "and", "while", "but", ...),
  each searched on its own within the outlets and day it names (or the question's), so that
  a question joining three reports finds each report's sentence, not three of the likeliest.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from rag.dates import RELATIVE, date_range, full_dates
from rag.types import Filters
from rag.words import spans_between, terms

DATE_WINDOW_DAYS = 1
"""A part anchored on a date searches that day give or take this many days."""
CLAUSE_BREAK = re.compile(
    r"(?:(?<!\s)\s+)?(?:[,;:?]|\b(?:and|while|whereas|but|or|as well as|not only)\b)\s*",
    re.IGNORECASE,
)
"""Where a clause ends, with the space around it. The space before it is taken only from
where its run starts: tried from inside the run too, a megabyte of spaces took hours."""
CLAIM_TERMS = 3
"""A clause with fewer content words than this (outlet names aside) joins the one before it."""
MAX_SPLIT_CHARS = 2000
"""A longer question is searched whole, not in parts and claims: the longest of MultiHop-RAG's
511 development questions has 544 characters, and splitting takes time quadratic in the
length (a question of 40,000 characters took 25 s; one of 2,000 takes under 0.1 s)."""


@dataclass(frozen=True)
class Part:
    """One piece of a question, searched on its own within its outlet and day."""

    text: str
    filters: Filters
    label: str


@dataclass(frozen=True)
class Plan:
    """How to search for a question: the filters it implies, its parts, and what was read."""

    question: str
    filters: Filters
    parts: tuple[Part, ...] = ()
    """The words around each outlet or date the question names (none if it names one)."""
    claims: tuple[Part, ...] = ()
    """Its clauses (none if it has one)."""
    notes: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class _Anchor:
    start: int
    end: int
    source: str | None = None
    day: date | None = None


def plan(question: str, *, sources: Sequence[str], as_of: date | None, given: Filters) -> Plan:
    """The search plan for `question` over an index holding `sources`.

    Filters the user `given` (flags, settings, the page) win over what the question implies.
    """
    notes: list[str] = []
    since, until, said = date_range(question, as_of)
    if said and not (given.since or given.until):
        notes.append(f"Dates: {said} read as {_span(since, until)}" + _as_of(said, as_of))
    else:
        since, until = given.since, given.until
    mentions = _source_mentions(question, sources)
    named = tuple(dict.fromkeys(m.source for m in mentions if m.source))
    chosen = given.sources or named
    if named and not given.sources:
        notes.append("Sources named in the question: " + ", ".join(named))
    filters = Filters(since, until, chosen)
    if len(question) > MAX_SPLIT_CHARS:
        return Plan(question, filters, notes=tuple(notes))
    days = _full_dates(question)
    parts = _parts(question, mentions, days, filters)
    claims = _claims(question, mentions, days, filters)
    return Plan(question, filters, parts, claims, tuple(notes))


def _as_of(said: str, as_of: date | None) -> str:
    relative = RELATIVE.search(said) is not None
    return f" (as of {as_of})" if relative and as_of else ""


def _span(since: date | None, until: date | None) -> str:
    if since and until:
        return str(since) if since == until else f"{since} to {until}"
    return f"since {since}" if since else f"until {until}"


def _full_dates(question: str) -> list[_Anchor]:
    return [_Anchor(start, end, day=day) for start, end, day in full_dates(question)]


def _source_mentions(question: str, sources: Sequence[str]) -> list[_Anchor]:
    """Where the question names one of `sources`, longest names first, without overlaps."""
    found = _names_of(tuple(sources))
    if found is None:
        return []
    pattern, names = found
    return [
        _Anchor(m.start(), m.end(), source=names[m.group(0)]) for m in pattern.finditer(question)
    ]


@functools.lru_cache(maxsize=4)
def _names_of(sources: tuple[str, ...]) -> tuple[re.Pattern[str], dict[str, str]] | None:
    """A pattern for every way of writing `sources`, and the source each way names (made
    once per set of sources: every question asks)."""
    names: dict[str, str] = {}
    for source in sources:
        for name in _short_forms(source):
            names.setdefault(name, source)
    if not names:
        return None
    pattern = re.compile(
        r"(?<!\w)(?:"
        + "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
        + r")(?!\w)"
    )
    return pattern, names


def _short_forms(source: str) -> list[str]:
    """How a question may write a source: in full, without a bracketed end, the part before
    " - " or " | ", and each without a leading "The"/"the"."""
    forms = [source.strip()]
    bare = _unbracketed(source)  # "Courier (sample)" → "Courier"
    if bare and bare not in forms:
        forms.append(bare)
    for separator in (" - ", " | ", ": "):
        head = source.split(separator)[0].strip()
        if head and head not in forms:
            forms.append(head)
    for form in list(forms):
        if form.lower().startswith("the ") and len(form) > 4:
            forms += [form[4:], "the " + form[4:]]
    return [f for f in forms if len(f) >= 3]


def _unbracketed(source: str) -> str:
    """`source` without a bracketed end, as `re.sub(r"\\s*\\([^)]*\\)$", "", source)` would
    have it, in time linear in its length (the regex took minutes for "((((...")."""
    text = source.removesuffix("\n")
    if text.endswith(")"):
        opened = text.find("(", text.rfind(")", 0, len(text) - 1) + 1)
        if opened >= 0:
            return text[:opened].strip()
    return source.strip()


def _parts(
    question: str, sources: list[_Anchor], days: list[_Anchor], filters: Filters
) -> tuple[Part, ...]:
    """Up to two parts per anchor (an outlet mention, or a date): the words before it and
    the words after it, each searched within its outlet and day. A date next to an outlet
    joins it; a date on its own takes the one outlet named (if only one is). A single anchor
    needs no parts."""
    anchors = list(sources)
    for day in days:
        free = [a for a in anchors if a.day is None]
        # "the TechCrunch report ... published on D": the outlet before the date, else just after.
        before = [a for a in free if a.end <= day.start and day.start - a.end <= 80]
        after = [a for a in free if a.start >= day.end and a.start - day.end <= 30]
        nearest = max(before, key=lambda a: a.end, default=None) or min(
            after, key=lambda a: a.start, default=None
        )
        if nearest is not None:
            anchors[anchors.index(nearest)] = _Anchor(
                nearest.start, nearest.end, nearest.source, day.day
            )
        else:
            only = {a.source for a in sources}
            anchors.append(
                _Anchor(day.start, day.end, only.pop() if len(only) == 1 else None, day.day)
            )
    anchors.sort(key=lambda a: a.start)
    if len(anchors) < 2:
        return ()
    parts = []
    for i, anchor in enumerate(anchors):
        since, until = _around(anchor.day, filters)
        part_filters = Filters(since, until, (anchor.source,) if anchor.source else filters.sources)
        label = " ".join(str(x) for x in (anchor.source, anchor.day) if x)
        # Its claim is the words before it ("..., according to Fortune") or after it
        # ("accused by Fortune of ..."): each is searched within this anchor's outlet and day.
        ahead = question[anchors[i - 1].end if i else 0 : anchor.start]
        behind = question[
            anchor.end : anchors[i + 1].start if i + 1 < len(anchors) else len(question)
        ]
        name = question[anchor.start : anchor.end]
        for words in (ahead, behind):
            if len(terms(words)) >= 2:
                parts.append(Part(f"{words.strip(' ,;?')} {name}", part_filters, label))
    return tuple(parts)


def _claims(
    question: str, sources: list[_Anchor], days: list[_Anchor], filters: Filters
) -> tuple[Part, ...]:
    """The question's clauses, each with at least `CLAIM_TERMS` content words, searched
    within the outlets and the day each one names, else within the question's `filters`."""

    def words(span: tuple[int, int]) -> int:
        text = question[span[0] : span[1]]
        for name in sources:
            if span[0] <= name.start < span[1]:
                text = text.replace(question[name.start : name.end], " ")
        return len(terms(text))

    clauses: list[tuple[int, int]] = []
    for span in spans_between(CLAUSE_BREAK, question):
        if clauses and words(clauses[-1]) < CLAIM_TERMS:
            clauses[-1] = (clauses[-1][0], span[1])
        else:
            clauses.append(span)
    if len(clauses) > 1 and words(clauses[-1]) < CLAIM_TERMS:
        last = clauses.pop()
        clauses[-1] = (clauses[-1][0], last[1])
    if len(clauses) < 2:
        return ()
    claims = []
    for n, (start, end) in enumerate(clauses, start=1):
        named = tuple(
            dict.fromkeys(
                a.source
                for a in sources
                if a.source in filters.sources and start <= a.start < end  # the user's win
            )
        )
        since, until = _around(next((d.day for d in days if start <= d.start < end), None), filters)
        claims.append(
            Part(question[start:end], Filters(since, until, named or filters.sources), f"claim {n}")
        )
    return tuple(claims)


def _around(day: date | None, filters: Filters) -> tuple[date | None, date | None]:
    """The days a part naming `day` searches: that day give or take `DATE_WINDOW_DAYS`, or
    the question's own range when it names none."""
    if day is None:
        return filters.since, filters.until
    window = timedelta(days=DATE_WINDOW_DAYS)
    return day - window, day + window
