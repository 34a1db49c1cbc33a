"""What kind of answer a question wants, read from its wording."""

from __future__ import annotations

import pytest

from rag.kinds import question_kind


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("Did TechCrunch report that Google paid Apple?", "yes_no"),
        ("Does the article from The Verge claim X, while Fortune reports Y?", "yes_no"),
        ("Is the bridge open again?", "yes_no"),
        ("Between the report of May 2 and the one of May 9, was there a change in tone?", "yes_no"),
        ("After the Fortune report on October 4, 2023, did TechCrunch agree?", "yes_no"),
        ("Has the narrative changed, which readers noticed?", "yes_no"),
        ("Isn't the bridge closed?", "yes_no"),
        ("Who attended the London meeting?", "name"),
        ("Which US officials withdrew from the talks?", "name"),
        ("Where did Rubio and Witkoff go instead?", "name"),
        ("What company, reported by TechCrunch, is accused of fraud?", "name"),
        ("What football club would have been higher without a penalty?", "name"),
        ("What is the name of the mayor?", "name"),
        ("Considering two reports, which letter do both names start with?", "name"),
        ("Who won the 2024 Super Bowl?", "name"),
        ("Why was the Harbour Bridge closed?", "open"),
        ("How often did the ferry run?", "open"),
        ("When will the bridge be demolished?", "open"),
        ("What did the French foreign minister say?", "open"),
        ("What does Ukraine refuse to recognize?", "open"),
        ("What happened in London?", "open"),
        ("What year was Apple founded?", "open"),
        ("What percentage of voters backed the plan?", "open"),
        ("Tell me about the bridge", "open"),
    ],
)
def test_question_kind(question: str, kind: str) -> None:
    assert question_kind(question) == kind
