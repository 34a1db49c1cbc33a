"""What kind of answer a question wants, read from its wording (no model).

- `yes_no`: "Did TechCrunch report ...?", "Between the report of May 2 and the one of May 9,
  was there a change ...?": the main clause starts with an auxiliary verb.
- `name`: "Who ...?", "Which company ...?", "Where ...?", "What football club ...?": a name,
  a place or a short phrase that the passages spell out.
- `open`: everything else ("Why ...?", "How much ...?", "When ...?", "What did ... say?"):
  a short phrase in the model's words, checked against the passages.
"""

from __future__ import annotations

import re
from typing import Literal

Kind = Literal["yes_no", "name", "open"]

AUXILIARY = (
    r"(?:is|are|was|were|am|do|does|did|has|have|had|can|could|will|would|should|shall|may"
    r"|might|must)(?:n't)?"
)
# A leading phrase such as "Between A and B," or "After the report by X on May 2," is set
# aside: the main clause follows its last comma before the auxiliary.
YES_NO = re.compile(rf"^(?:[^?]*,\s*)?{AUXILIARY}\s+(?!you\b)", re.IGNORECASE)
WH_WORD = re.compile(r"\b(who|whom|whose|which|what|where|when|why|how)\b", re.IGNORECASE)
NAME_WHAT = re.compile(
    rf"^what\s+(?:(?:is|was|are|were)\s+(?:the\s+)?(?:name|term|title)\b"
    rf"|(?!{AUXILIARY}\b|happen|cause|makes?\b|year|date|day|time|percent|amount|number"
    rf"|price|age\b)\w+(?<!ed)\b)",
    re.IGNORECASE,
)
"""`What` before a noun ("What company ...", "What is the name of ..."), not a verb."""


def question_kind(question: str) -> Kind:
    """The kind of answer `question` wants (see the module's docstring)."""
    text = question.strip()
    wh = WH_WORD.search(text)
    lead = text[: wh.start()] if wh else text
    if YES_NO.match(text) and (wh is None or YES_NO.match(lead + " ")):
        return "yes_no"
    if wh is None:
        return "open"
    clause = text[wh.start() :]
    word = wh.group(1).lower()
    if word in ("who", "whom", "whose", "which", "where") or NAME_WHAT.match(clause):
        return "name"
    return "open"
