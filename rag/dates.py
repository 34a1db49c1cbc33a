"""The dates a question names, read without a model.

- Relative dates ("last week", "this month", "yesterday", "in the past 3 days"), resolved
  against an as-of day; months ("in October 2023", "since November 2023"); and the day a
  question asks about ("as of 17 March 2025", "by mid-March"): each becomes a range of
  publication days (`date_range`).
- Whole days ("published on October 7, 2023"): where the question names them (`full_dates`).
"""

from __future__ import annotations

import calendar
import re
from datetime import date, timedelta

MONTHS = {name.lower(): n for n, name in enumerate(calendar.month_name) if name}
MONTHS |= {name.lower(): n for n, name in enumerate(calendar.month_abbr) if name}
MONTHS["sept"] = 9
MONTH = r"(?P<month>" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
YEAR = r"(?P<year>(?:19|20)\d\d)"
FULL_DATES = [
    re.compile(rf"\b{MONTH}\s+{DAY},?\s+{YEAR}\b", re.IGNORECASE),
    re.compile(rf"\b{DAY}\s+{MONTH},?\s+{YEAR}\b", re.IGNORECASE),
    re.compile(r"\b(?P<year>(?:19|20)\d\d)-(?P<month>\d\d)-(?P<day>\d\d)\b"),
]
MONTH_RANGE = re.compile(
    rf"\b(?P<how>in|during|since|from|after|before|until)\s+(?:the\s+month\s+of\s+)?"
    rf"{MONTH}\s+{YEAR}\b",
    re.IGNORECASE,
)
RELATIVE = re.compile(
    r"\b(?:(?P<word>today|yesterday)"
    r"|(?P<which>this|last|past|previous)\s+(?P<unit>week|month|year)"
    r"|(?:in\s+)?the\s+(?:past|last)\s+(?P<n>\d{1,3})\s+(?P<units>days|weeks))\b",
    re.IGNORECASE,
)
AS_OF = re.compile(r"\b(?:as\s+of|by)\s+", re.IGNORECASE)
"""What leads a day the question asks about ("as of 17 March 2025", "by mid-March"): only
what was published by then answers it."""
MONTH_PART = re.compile(
    rf"(?:(?P<part>early|mid|late)[-\s]+)?{MONTH}(?:,?\s+{YEAR})?\b", re.IGNORECASE
)
PART_ENDS = {"early": 10, "mid": 20}
"""The last day of a month's early and mid part ("by mid-March": until 20 March)."""


def date_range(question: str, as_of: date | None) -> tuple[date | None, date | None, str]:
    """(since, until, the words read) of the first relative date, month or as-of day the
    question names; (None, None, "") when it names none (or a relative one, or a month
    without its year, with no as-of day)."""
    found = [
        read
        for read in (
            _relative_range(question, as_of),
            _month_range(question),
            _until(question, as_of),
        )
        if read is not None
    ]
    if not found:
        return None, None, ""
    _, since, until, said = min(found, key=lambda read: read[0])
    return since, until, said


def _relative_range(question: str, as_of: date | None) -> tuple[int, date, date, str] | None:
    relative = RELATIVE.search(question)
    if relative is None or as_of is None:
        return None
    return (relative.start(), *_relative(relative, as_of), relative.group(0))


def _month_range(question: str) -> tuple[int, date | None, date | None, str] | None:
    month = MONTH_RANGE.search(question)
    if month is None:
        return None
    first = date(int(month["year"]), MONTHS[month["month"].lower()], 1)
    last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
    ranges = {
        "since": (first, None),
        "from": (first, None),
        "after": (last + timedelta(days=1), None),
        "before": (None, first - timedelta(days=1)),
        "until": (None, last),
    }
    since, until = ranges.get(month["how"].lower(), (first, last))
    return month.start(), since, until, month.group(0)


def _until(question: str, as_of: date | None) -> tuple[int, None, date, str] | None:
    """The day of "as of 17 March 2025" or "by mid-March" (a month without its year is in
    the year of the `as_of` day)."""
    for lead in AS_OF.finditer(question):
        for pattern in FULL_DATES:
            if (full := pattern.match(question, lead.end())) and (day := _day(full)):
                return lead.start(), None, day, question[lead.start() : full.end()]
        part = MONTH_PART.match(question, lead.end())
        if part is None or not part["month"][0].isupper():  # "by may", not a month
            continue
        month = MONTHS[part["month"].lower()]
        if part["year"]:
            year = int(part["year"])
        elif as_of is not None:
            year = as_of.year
        else:
            continue
        last = calendar.monthrange(year, month)[1]
        end = PART_ENDS.get((part["part"] or "").lower(), last)
        return lead.start(), None, date(year, month, end), question[lead.start() : part.end()]
    return None


def _relative(match: re.Match[str], as_of: date) -> tuple[date, date]:
    word = (match["word"] or "").lower()
    if word == "today":
        return as_of, as_of
    if word == "yesterday":
        return _back(as_of, 1), _back(as_of, 1)
    if match["n"]:
        n = int(match["n"]) * (7 if match["units"].lower() == "weeks" else 1)
        return _back(as_of, n), as_of
    which, unit = match["which"].lower(), match["unit"].lower()
    if unit == "week":
        start = _back(as_of, as_of.weekday())  # Monday of this week
        if which == "this":
            return start, as_of
        if which == "past":
            return _back(as_of, 7), as_of
        return _back(start, 7), _back(start, 1)
    if unit == "month":
        start = as_of.replace(day=1)
        if which == "this":
            return start, as_of
        if which == "past":
            return _back(as_of, 30), as_of
        last = _back(start, 1)
        return last.replace(day=1), last
    start = as_of.replace(month=1, day=1)
    if which == "this":
        return start, as_of
    if which == "past":
        return _back(as_of, 365), as_of
    return start.replace(year=max(start.year - 1, 1)), _back(start, 1)


def _back(day: date, days: int) -> date:
    """The day `days` before `day`, or `date.min` (1 January of year 1) when that is earlier:
    an as-of day comes from a setting or the newest article, and either can be in year 1."""
    return day - timedelta(days=min(days, (day - date.min).days))


def full_dates(question: str) -> list[tuple[int, int, date]]:
    """Where the question names a whole day ("October 7, 2023", "7 October 2023",
    "2023-10-07"), and the day, in order."""
    found = [
        (match.start(), match.end(), day)
        for pattern in FULL_DATES
        for match in pattern.finditer(question)
        if (day := _day(match))
    ]
    return sorted(found)


def _day(match: re.Match[str]) -> date | None:
    """The day a `FULL_DATES` match names, or None ("February 30, 2023" is none)."""
    month = match["month"]
    number = int(month) if month.isdigit() else MONTHS[month.lower()]
    try:
        return date(int(match["year"]), number, int(match["day"]))
    except ValueError:
        return None
