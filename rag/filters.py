"""Read the restrictions a user puts on a search: publication dates and sources."""

from __future__ import annotations

from collections.abc import Iterable
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
