"""What a question asks for: dates and outlets read from its words, and its parts."""

from __future__ import annotations

from datetime import date

import pytest

from rag.plan import plan
from rag.types import Filters

SOURCES = [
    "TechCrunch",
    "The Verge",
    "Fortune",
    "Sporting News",
    "The Independent - Life and Style",
    "Business Today | Latest Stock Market And Economy News India",
    "Port Courier (sample)",
]
AS_OF = date(2025, 4, 23)  # a Wednesday


def dates(question: str, as_of: date | None = AS_OF) -> tuple[date | None, date | None]:
    found = plan(question, sources=SOURCES, as_of=as_of, given=Filters()).filters
    return found.since, found.until


@pytest.mark.parametrize(
    ("question", "since", "until"),
    [
        ("What happened at the London meeting last week?", date(2025, 4, 14), date(2025, 4, 20)),
        ("What was said this week?", date(2025, 4, 21), AS_OF),
        ("Who spoke yesterday?", date(2025, 4, 22), date(2025, 4, 22)),
        ("Anything today?", AS_OF, AS_OF),
        ("What changed this month?", date(2025, 4, 1), AS_OF),
        ("What changed last month?", date(2025, 3, 1), date(2025, 3, 31)),
        ("News from the past month?", date(2025, 3, 24), AS_OF),
        ("Any deals in the past 3 days?", date(2025, 4, 20), AS_OF),
        ("Any deals in the last 2 weeks?", date(2025, 4, 9), AS_OF),
        ("What happened last year?", date(2024, 1, 1), date(2024, 12, 31)),
        ("Who was fired in October 2023?", date(2023, 10, 1), date(2023, 10, 31)),
        ("Who was fired in Sept. 2023?", date(2023, 9, 1), date(2023, 9, 30)),
        ("Who was hired during February 2024?", date(2024, 2, 1), date(2024, 2, 29)),
        ("What happened since November 2023?", date(2023, 11, 1), None),
        ("What happened after October 2023?", date(2023, 11, 1), None),
        ("What happened before November 2023?", None, date(2023, 10, 31)),
        ("What happened until October 2023?", None, date(2023, 10, 31)),
        # The day asked about: only what was published by then answers it.
        ("As of 17 March 2025, when will it reopen?", None, date(2025, 3, 17)),
        ("What was the cost as of March 17, 2025?", None, date(2025, 3, 17)),
        ("By mid-March, what was the cost?", None, date(2025, 3, 20)),
        ("By early March 2024, who had left?", None, date(2024, 3, 10)),
        ("Who had resigned by February?", None, date(2025, 2, 28)),
        ("Did it fall by 4 percent?", None, None),
        ("Will prices rise by may?", None, None),
        # Not date filters: a year alone, an event's name, a month without a year.
        ("Who won the 2024 Super Bowl?", None, None),
        ("What may happen in May?", None, None),
        ("What happened in Smarch 2023?", None, None),
    ],
)
def test_dates_in_the_question_become_a_filter(
    question: str, since: date | None, until: date | None
) -> None:
    assert dates(question) == (since, until)


def test_relative_dates_need_an_as_of_day() -> None:
    assert dates("What happened last week?", as_of=None) == (None, None)


def test_the_filter_read_is_shown_with_its_as_of_day() -> None:
    found = plan("What happened last week?", sources=SOURCES, as_of=AS_OF, given=Filters())
    assert found.notes == ("Dates: last week read as 2025-04-14 to 2025-04-20 (as of 2025-04-23)",)


def test_filters_the_user_gave_win_over_the_question() -> None:
    given = Filters(since=date(2020, 1, 1), sources=("Fortune",))
    found = plan("What did TechCrunch say last week?", sources=SOURCES, as_of=AS_OF, given=given)
    assert found.filters == given and found.notes == ()


@pytest.mark.parametrize(
    ("question", "named"),
    [
        ("What did Fortune report, according to TechCrunch?", ("Fortune", "TechCrunch")),
        ("Does the Sporting News article say so?", ("Sporting News",)),
        ("What did The Independent write?", ("The Independent - Life and Style",)),
        ("Did the Verge say it?", ("The Verge",)),
        ("Was it Business Today that reported it?", (SOURCES[5],)),
        ("What did the Port Courier say?", ("Port Courier (sample)",)),
        ("Did he make a fortune?", ()),  # a word, not the outlet
        ("What did TechCrunchy say?", ()),
    ],
)
def test_outlets_named_in_the_question_become_a_source_filter(
    question: str, named: tuple[str, ...]
) -> None:
    assert plan(question, sources=SOURCES, as_of=None, given=Filters()).filters.sources == named


def test_a_multi_outlet_question_searches_the_words_around_each_outlet_within_it() -> None:
    question = (
        "Who is the subject of a criminal trial reported by TechCrunch, accused by Fortune of "
        "secretly accessing customer funds, claimed by The Verge to have struggled with the "
        "management of FTX, and alleged by TechCrunch to have committed fraud?"
    )
    parts = plan(question, sources=SOURCES, as_of=None, given=Filters()).parts
    outlets = [p.filters.sources[0] for p in parts]
    # The words before an outlet, and those after it up to the next one (unless there is
    # less than two words' worth: ", accused by" is not a claim).
    assert outlets == [
        "TechCrunch",
        "Fortune",
        "The Verge",
        "The Verge",
        "TechCrunch",
        "TechCrunch",
    ]
    assert parts[0].text.startswith("Who is the subject of a criminal trial reported by")
    assert parts[1].text.startswith("of secretly accessing customer funds")
    assert "committed fraud" in parts[-1].text and "criminal trial" not in parts[-1].text
    assert all(p.text.endswith(p.filters.sources[0]) for p in parts)


def test_dates_beside_an_outlet_narrow_its_part_to_that_day_or_so() -> None:
    question = (
        "After the Sporting News report on Tyreek Hill published on December 5, 2023, and the "
        "Sporting News report published on December 7, 2023, did the portrayal change?"
    )
    parts = plan(question, sources=SOURCES, as_of=None, given=Filters()).parts
    searched = [(p.filters.since, p.filters.until, p.filters.sources) for p in parts]
    assert list(dict.fromkeys(searched)) == [
        (date(2023, 12, 4), date(2023, 12, 6), ("Sporting News",)),
        (date(2023, 12, 6), date(2023, 12, 8), ("Sporting News",)),
    ]
    labels = list(dict.fromkeys(p.label for p in parts))
    assert labels == ["Sporting News 2023-12-05", "Sporting News 2023-12-07"]


def test_dates_without_an_outlet_beside_them_take_the_only_outlet_named() -> None:
    question = (
        "Is the offer reported by Sporting News consistent between the article published on "
        "November 29, 2023, stating that new users can claim bonuses, and the article from "
        "December 15, 2023, mentioning a welcome bonus?"
    )
    parts = plan(question, sources=SOURCES, as_of=None, given=Filters()).parts
    assert list(dict.fromkeys((p.filters.since, p.filters.sources) for p in parts)) == [
        (date(2023, 11, 28), ("Sporting News",)),  # the outlet and the date after it
        (date(2023, 12, 14), ("Sporting News",)),  # a date alone
    ]


@pytest.mark.parametrize(
    "question",
    [
        "What did TechCrunch report?",  # one anchor: the filter does it, no parts
        "Was anything published on February 30, 2023 by The Verge?",  # not a real day
    ],
)
def test_a_single_anchor_makes_no_parts(question: str) -> None:
    assert plan(question, sources=SOURCES, as_of=None, given=Filters()).parts == ()


def claims(question: str, given: Filters | None = None) -> list[tuple[str, tuple[str, ...]]]:
    found = plan(question, sources=SOURCES, as_of=None, given=given or Filters()).claims
    return [(c.text, c.filters.sources) for c in found]


def test_a_question_is_cut_into_its_claims_each_searched_within_the_outlets_it_names() -> None:
    question = (
        "Which company, covered by TechCrunch, invests billions in its default search deal, "
        "faces scrutiny over app store fees and is accused by Fortune of hurting publishers?"
    )
    named = ("TechCrunch", "Fortune")
    assert claims(question) == [
        # Too few words of their own ("company", "covered"): joined to the next clause.
        (
            "Which company, covered by TechCrunch, invests billions in its default search deal",
            ("TechCrunch",),
        ),
        ("faces scrutiny over app store fees", named),
        ("is accused by Fortune of hurting publishers", ("Fortune",)),
    ]


@pytest.mark.parametrize(
    "question",
    [
        "Who won the harbour race?",  # one clause
        "Who won, and when?",  # no clause has three words of its own
    ],
)
def test_a_question_of_one_claim_has_no_claims(question: str) -> None:
    assert claims(question) == []


def test_a_claim_naming_a_date_searches_around_it_and_the_users_sources_win() -> None:
    question = (
        "Did the Sporting News report on the Dolphins published on December 5, 2023, "
        "agree with what TechCrunch said about the league's streaming deal?"
    )
    found = plan(question, sources=SOURCES, as_of=None, given=Filters()).claims
    assert (found[0].filters.since, found[0].filters.until) == (
        date(2023, 12, 4),
        date(2023, 12, 6),
    )
    assert found[0].filters.sources == ("Sporting News",)
    assert found[-1].filters.sources == ("TechCrunch",)
    mine = Filters(sources=("The Verge",))
    assert {sources for _, sources in claims(question, mine)} == {("The Verge",)}
