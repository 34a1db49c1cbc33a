"""Whether a passage supports a claim, where, and how well; and whether the passages found
for a question can answer it at all.

Words are weighed by how rare they are in the index (`rarity`), so "Okafor" or "demolished"
counts for more than "said". Names, numbers and dates are never optional: a claim whose
name or number is missing from a passage is not supported by it, however many common words
they share. All of this is word matching, no model: it is fast, it is the same for every
answer model, and a test can say exactly what it must do.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rag.words import STOPWORDS, sentences, stem, terms

Rarity = Callable[[str], float]
NUMBER_WORDS = frozenset(
    [
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "twenty",
        "thirty",
        "forty",
        "fifty",
        "hundred",
        "thousand",
        "million",
        "billion",
        "trillion",
    ]
)
CALENDAR = frozenset(
    [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ]
)
QUESTION_WORDS = frozenset(
    ["who", "whom", "whose", "which", "what", "where", "when", "why", "how", "happen", "occur"]
)
"""Words that frame a question rather than say what it is about (as `terms` writes them)."""
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


@dataclass(frozen=True)
class Support:
    """Where a passage supports a claim: the sentence's (start, end) in the passage text,
    and the rarity-weighted share of the claim's words that the sentence holds (0..1)."""

    start: int
    end: int
    score: float


def numbers(text: str) -> set[str]:
    """The numbers written in digits in `text`, thousands separators dropped ("2,400" is
    "2400"; "2.4" stays)."""
    return {re.sub(r",(?=\d{3}\b)", "", n) for n in NUMBER.findall(text)}


def key_terms(text: str) -> set[str]:
    """The words a claim stands or falls by besides its `numbers`: names (capitalized words
    that do not start a sentence, or any capitalized word of a short phrase) and number
    words, as `terms` writes them."""
    keys: set[str] = set()
    words = list(re.finditer(r"[\w'-]+", text))
    short = len(words) <= 6
    for n, match in enumerate(words):
        word = match.group(0).strip("'-")
        lower = word.lower()
        if not word or lower in STOPWORDS or lower in QUESTION_WORDS:
            continue
        # Only the gap since the last word can end a sentence (searching all the text before
        # each word took minutes for a long text).
        gap = text[words[n - 1].end() : match.start()] if n else ""
        starts = n == 0 or re.search(r"[.!?:]\s*$", gap) is not None
        if any(c.isdigit() for c in word):
            continue
        if lower in NUMBER_WORDS or (word[0].isupper() and (short or not starts)):
            keys.update(terms(word))
    return keys


def coverage(words: set[str], holder: set[str], rarity: Rarity) -> float:
    """The rarity-weighted share of `words` found in `holder` (1.0 for no words)."""
    total = sum(rarity(w) for w in words)
    return sum(rarity(w) for w in words & holder) / total if total else 1.0


def support(
    claim: str,
    passage: str,
    rarity: Rarity,
    *,
    about: str = "",
    context: str = "",
    strict: bool = True,
) -> Support | None:
    """The sentence of `passage` that best supports `claim` (see `sentence_support`), or
    None when none does."""
    scored = sentence_support(claim, passage, rarity, about=about, context=context, strict=strict)
    return max(scored, key=lambda s: s.score, default=None)


def sentence_support(
    claim: str,
    passage: str,
    rarity: Rarity,
    *,
    about: str = "",
    context: str = "",
    strict: bool = True,
) -> list[Support]:
    """Every sentence of `passage` that holds all the names and numbers of `claim` (any
    sentence, when `strict` is False), scored by the words of `claim` and of `about` (the
    question it answers, say) that it holds, or else that `context` (the passage's title,
    say) and the rest of the passage hold, at half weight."""
    keys, figures = (key_terms(claim), numbers(claim)) if strict else (set(), set())
    words = set(terms(f"{claim} {about}")) - QUESTION_WORDS | keys
    around = set(terms(f"{context} {passage}"))
    scored = []
    for start, end in sentences(passage):
        held = set(terms(passage[start:end]))
        if not (keys <= held and figures <= numbers(passage[start:end])):
            continue
        score = (coverage(words, held, rarity) + coverage(words, held | around, rarity)) / 2
        scored.append(Support(start, end, score))
    return scored


def missing_names(question: str, texts: Sequence[str]) -> list[str]:
    """The names and numbers of `question` (see `key_terms` and `numbers`) that none of
    `texts` contains, as the question writes them, neighbours joined ("2024 Super Bowl")."""
    held = set().union(*(set(terms(t)) for t in texts)) if texts else set()
    figures = set().union(*(numbers(t) for t in texts)) if texts else set()
    missing_terms = key_terms(question) - held
    missing_figures = numbers(question) - figures
    phrases: list[list[str]] = []
    end = -1  # where the last missing word ends
    for match in re.finditer(r"\w[\w'-]*(?:[.,]\w[\w'-]*)*", question):
        word = match.group(0)
        if set(terms(word)) & missing_terms or numbers(word) & missing_figures:
            if phrases and question[end : match.start()] == " ":  # one space: as written
                phrases[-1].append(word)
            else:
                phrases.append([word])
            end = match.end()
    return list(dict.fromkeys(" ".join(p) for p in phrases))


def answered_share(question: str, texts: Sequence[str], rarity: Rarity) -> float:
    """The rarity-weighted share of the question's content words that `texts` contain."""
    held = set().union(*(set(terms(t)) for t in texts)) if texts else set()
    return coverage(set(terms(question)) - {stem(w) for w in QUESTION_WORDS}, held, rarity)
