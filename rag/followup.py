"""Follow-up questions, rewritten from the conversation into questions that stand alone.

Search reads one question at a time, so "what did she say about the crack?" asked after a
question about the mayor finds no mayor. A question that leans on the conversation (it opens
like a continuation, points back with a word such as "she" or "there", or is only a few words
long) is given to the model with the last few turns, to be written out in full. Any other
question stands as it was asked, without a model call.

The model's reply is only a proposal: it is cut to one line without labels or quotes, and the
question as asked is kept when the reply is empty, far too long, or shares no word with it.
A continuation ("and what did Ukraine refuse to recognize?") whose rewrite still shares no
word with the last question gets that question as context, so that it keeps the thread.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.cite import MARKER
from rag.kinds import question_kind
from rag.seams import Generator, Message
from rag.types import Turn
from rag.words import terms

CONTINUATION = re.compile(r"(?:and|but|so|also|what about|how about)\b", re.IGNORECASE)
"""How a question that continues the one before opens ("and what did ...", "what about")."""
POINTING_BACK = frozenset(
    {"he", "she", "it", "they", "them", "his", "her", "its", "their"}
    | {"this", "that", "these", "those", "there"}
)
"""Words that point back at something said before."""
WH_QUESTION = re.compile(
    r"^(?:(?:and|but|so)\s+)?(?:who|whom|whose|which|where|when|why|what(?!\s+about)"
    r"|how(?!\s+about))\b",
    re.IGNORECASE,
)
"""A question after a person, a thing, a time or a reason (not "what about X?")."""
SAME = re.compile(r"\bthe same\b", re.IGNORECASE)
SHORT_WORDS = 3
"""A question of this many words or fewer ("Why?", "And Germany?", "Who else?") is read as
a follow-up: too short to say what it is about."""
RECENT_TURNS = 3
"""The turns the rewrite sees, newest last: the conversation's thread, not all of it."""
ANSWER_CHARS = 400
"""Of each answer, what the rewrite sees: its first sentences say what it was about."""
MAX_TOKENS = 64
"""Room for one long question; a reply that needs more is not a question."""
EXTRA_WORDS = 30
"""A rewrite with more words than the question's and this many more is not a rewrite of it."""
LABEL = re.compile(
    r"^(?:(?:rewritten|rephrased|standalone|stand-alone|follow[- ]up|full)\s+)?"
    r"(?:question|input)\s*:\s*",
    re.IGNORECASE,
)
QUOTES = "\"'`\u201c\u201d\u2018\u2019\u00ab\u00bb*"
"""Quotes (straight, curly, angle) and Markdown's bold marks, stripped from a rewrite's ends."""
FOLLOWING = re.compile(r"\s*\(following: .*\)$")
"""The context a continuation was given (see `keep_thread`), left out when it is given on."""

# The wording of LangChain's condense-question prompt, which instruction-tuned models have
# met often, in one user message (some chat templates refuse a system message). On the
# default Qwen2.5-Coder-0.5B it did best of some twenty wordings tried (own instructions,
# worked examples, a subject line before the question): of nine test follow-ups it rewrote
# six as a reader would ("what did she say about the crack?" after a question about the
# mayor: "What did Ines Okafor say about the crack?") and left the others as good as asked.
# Hardly any wording made it add the conversation's subject to a continuation (only three
# worked examples did, once, ungrammatically): hence `keep_thread`.
PROMPT = """\
Given the following conversation and a follow up question, rephrase the follow up question \
to be a standalone question, in its original language.

Chat History:
{history}
Follow Up Input: {question}
Standalone question:"""


def needs_history(question: str, history: Sequence[Turn]) -> bool:
    """Whether `question` leans on the conversation so far: a cheap test of its wording."""
    if not history:
        return False
    words = re.findall(r"[\w'-]+", question.lower())
    return (
        _continues(question)
        or any(word in POINTING_BACK for word in words)
        or SAME.search(question) is not None
    )


def build_messages(question: str, history: Sequence[Turn]) -> list[Message]:
    """The one user message that asks for `question` as a standalone question."""
    lines = [
        f"Human: {turn.question}\nAssistant: {_shorten(turn.answer)}"
        for turn in history[-RECENT_TURNS:]
    ]
    content = PROMPT.format(history="\n".join(lines), question=question.strip())
    return [{"role": "user", "content": content}]


def rewrite(question: str, history: Sequence[Turn], generator: Generator) -> str:
    """`question` rewritten by `generator` to stand without `history` (see `clean` for when
    the model's reply is not used, and `keep_thread` for what a continuation adds)."""
    reply = "".join(generator.stream(build_messages(question, history), max_tokens=MAX_TOKENS))
    return keep_thread(clean(reply, question), question, history)


def clean(reply: str, question: str) -> str:
    """The model's rewrite of `question` as one plain line, or `question` itself when the
    reply is empty, far too long, shares no word that carries meaning with it, or turns a
    question after a person, a time or a reason into a yes/no question ("When was she
    elected?" is not "Was Ines Okafor elected?")."""
    question = question.strip()
    line = ""
    for raw in reply.splitlines():
        line = LABEL.sub("", raw.strip()).strip().strip(QUOTES).strip()
        if line:
            break
    if not line or len(line.split()) > len(question.split()) + EXTRA_WORDS:
        return question
    asked = set(terms(question))
    if (asked and not asked & set(terms(line))) or line.casefold() == question.casefold():
        return question
    if WH_QUESTION.match(question) and question_kind(line) == "yes_no":
        return question
    return line


def keep_thread(rewritten: str, question: str, history: Sequence[Turn]) -> str:
    """`rewritten`, followed by the last question as context when `question` continues it
    (an opening "and", "what about", or only a few words) but `rewritten` shares no word
    that carries meaning with it."""
    if not history or not _continues(question):
        return rewritten
    last = FOLLOWING.sub("", history[-1].question)
    if set(terms(rewritten)) & set(terms(last)):
        return rewritten
    return f"{rewritten} (following: {last})"


def _continues(question: str) -> bool:
    """Whether `question` reads as a continuation of the one before: by how it opens, or by
    being too short to say what it is about."""
    text = question.strip()
    return CONTINUATION.match(text) is not None or len(text.split()) <= SHORT_WORDS


def _shorten(answer: str) -> str:
    """An answer as the rewrite reads it: without citation markers, at most `ANSWER_CHARS`."""
    text = " ".join(MARKER.sub("", answer).split()).replace(" .", ".")
    if len(text) <= ANSWER_CHARS:
        return text
    return text[:ANSWER_CHARS].rsplit(" ", 1)[0] + " ..."
