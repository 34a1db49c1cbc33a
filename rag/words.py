"""Words as the lexical parts of newsrag compare them: the citation check and BM25 search;
and the stretches of text between breaks (clauses, sentences) that they compare."""

from __future__ import annotations

import re

STOPWORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "also",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "according",
        "article",
        "articles",
        "report",
        "reported",
        "reports",
        "said",
        "says",
        "passage",
        "passages",
        "yes",
    ]
)


def terms(text: str) -> list[str]:
    """The words of `text` that carry meaning, in order: lowercased, crudely stemmed, without
    stopwords and one-letter words."""
    words = re.findall(r"\w+", text.lower())
    return [stem(w) for w in words if len(w) > 1 and w not in STOPWORDS]


def stem(word: str) -> str:
    """A crude stem: without -ing, -ed, -es or -s, or else a final -e, so that "recognize",
    "recognized" and "recognizing" (or "close", "closed", "closes") meet."""
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word[:-1] if word.endswith("e") and len(word) >= 4 else word


SENTENCE_BREAK = re.compile(
    r"(?<=[.!?])\s+|(?<=[.!?][\"'\u201d\u2019)])\s+|(?<=[.!?][\"'\u201d\u2019)]{2})\s+"
    r"|(?<!\s)\s*\n\s*"
)
"""Where a sentence ends: the space after . ! or ? (and up to two closing quotes or
brackets, which stay with the sentence), or a line break. A line break is only looked for
from where a run of space starts: tried from inside the run too, a megabyte of spaces took
hours."""


def sentences(text: str) -> list[tuple[int, int]]:
    """The (start, end) of every sentence (or line) of `text`, without surrounding space."""
    spans = []
    for start, end in spans_between(SENTENCE_BREAK, text):
        piece = text[start:end]
        if piece.strip():
            spans.append((start + len(piece) - len(piece.lstrip()), start + len(piece.rstrip())))
    return spans


def spans_between(breaks: re.Pattern[str], text: str) -> list[tuple[int, int]]:
    """The (start, end) of each non-empty stretch of `text` between matches of `breaks`."""
    spans = []
    start = 0
    for gap in [*breaks.finditer(text), None]:
        end = gap.start() if gap else len(text)
        if end > start:
            spans.append((start, end))
        start = gap.end() if gap else end
    return spans
