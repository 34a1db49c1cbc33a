"""Read and check the restrictions a user puts on a search: publication dates and sources.

Filters the user gives (flags, settings, the chat's boxes) are checked here, wherever they
come from: a range that ends before it starts and a source the index does not hold are
errors, never searched.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from datetime import date

from rag.errors import InputError, RagError
from rag.types import Filters


def parse_day(text: str | None, *, field: str) -> date | None:
    """A `YYYY-MM-DD` day, or None for an empty value; anything else is an `InputError`."""
    if text is None or not text.strip():
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InputError(
            f"{field}: {text.strip()!r} is not a date",
            hint=f"Write {field} as YYYY-MM-DD, e.g. 2023-10-01, or leave it empty.",
        ) from None


def check_range(
    since: date | None,
    until: date | None,
    *,
    names: tuple[str, str] = ("since", "until"),
    error: type[RagError] = InputError,
) -> None:
    """Refuse a range that ends before it starts, naming both ends as `names` (where each
    came from) with an `error` of the caller's kind."""
    if since and until and since > until:
        raise error(
            f"{names[0]} ({since}) is after {names[1]} ({until})",
            hint="Swap the two dates, or clear one of them.",
        )


def make_filters(
    *, since: str | None = None, until: str | None = None, sources: Iterable[str] = ()
) -> Filters:
    """Filters from what a user typed, checked: real days, in order."""
    first, last = parse_day(since, field="since"), parse_day(until, field="until")
    check_range(first, last)
    return Filters(first, last, tuple(dict.fromkeys(s.strip() for s in sources if s.strip())))


def check_sources(sources: Iterable[str], *, known: Sequence[str]) -> None:
    """Refuse a source that no article in the index has (names match exactly, as searches
    match them), with the closest known names (case aside) as the hint."""
    for source in sources:
        if source in known:
            continue
        by_lower = {name.lower(): name for name in known}
        close = [by_lower[n] for n in difflib.get_close_matches(source.lower(), by_lower)]
        if close:
            hint = "Did you mean " + " or ".join(repr(name) for name in close) + "?"
        elif known:
            shown = ", ".join(repr(name) for name in known[:5])
            hint = f"Known sources include {shown}; `rag status` lists them all."
        else:
            hint = "No article in the index names its source; `rag status` shows what it holds."
        raise InputError(f"unknown source {source!r}: no article in the index has it", hint=hint)


def describe(filters: Filters) -> str:
    """`filters` in words: 'articles published 2023-10-01 to 2023-10-31 from TechCrunch'."""
    parts = ["articles"]
    if filters.since and filters.until:
        parts.append(f"published {filters.since} to {filters.until}")
    elif filters.since:
        parts.append(f"published since {filters.since}")
    elif filters.until:
        parts.append(f"published until {filters.until}")
    if filters.sources:
        parts.append("from " + ", ".join(filters.sources))
    return " ".join(parts)


def no_match(filters: Filters) -> str:
    """What a search says when no article passes the user's own `filters`."""
    return f"No article matches your filters: there are no {describe(filters)} in the index."
