"""Make every sentence of an answer cite the passage that supports it, or drop it.

Small local models often forget the `[n]` markers, cite the wrong passage, or add facts of
their own. So the model's markers are only a first guess: each sentence is checked against the
passages by word overlap (the share of its content words that a passage contains). A sentence
keeps the markers that support it, gets the best-supporting passages when its own markers do
not, and is dropped when no passage supports it. Sentences with no content words ("Yes.")
carry no claim to check and are kept as they are.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.types import Citation, Passage
from rag.words import terms

# [1], [1, 2], [1;2] and [1][2] all count; numbers are 1-based passage numbers.
MARKER = re.compile(r"\[(\d+(?:\s*[,;]\s*\d+)*)\]")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
SUPPORT_THRESHOLD = 0.6
"""Share of a sentence's content words that its cited passages must contain."""
MAX_SOURCES_PER_SENTENCE = 2


def parse_markers(text: str) -> list[int]:
    """Every cited number, in order of first appearance, without repeats."""
    seen: dict[int, None] = {}
    for match in MARKER.finditer(text):
        for part in re.split(r"[,;]", match.group(1)):
            seen.setdefault(int(part), None)
    return list(seen)


def content_words(text: str) -> set[str]:
    """Lowercased, crudely stemmed words that carry meaning (no stopwords, no markers)."""
    return set(terms(MARKER.sub(" ", text)))


def support(claim: set[str], passage_words: set[str]) -> float:
    """The share of `claim` found in `passage_words` (1.0 for an empty claim)."""
    return len(claim & passage_words) / len(claim) if claim else 1.0


def ground(text: str, passages: Sequence[Passage]) -> tuple[str, tuple[Citation, ...]]:
    """The answer with a supported `[n]` on every claim, and the citations in order."""
    words = [content_words(f"{p.chunk.title} {p.chunk.text}") for p in passages]
    kept: list[str] = []
    for sentence in split_sentences(text):
        claim = content_words(sentence)
        own = [n for n in parse_markers(sentence) if 1 <= n <= len(passages)]
        if not claim:
            kept.append(_with_markers(sentence, own))
            continue
        if own and support(claim, set().union(*(words[n - 1] for n in own))) >= SUPPORT_THRESHOLD:
            numbers = [n for n in own if claim & words[n - 1]]
        else:
            numbers = _best_support(claim, words)
        if numbers:
            kept.append(_with_markers(sentence, numbers))
    grounded = " ".join(kept)
    citations = tuple(Citation(n, passages[n - 1]) for n in parse_markers(grounded))
    return grounded, citations


def supporting_span(answer: str, number: int, passage_text: str) -> tuple[int, int]:
    """Where in `passage_text` is the sentence that best supports what `answer` cites to
    passage `number`: (start, end) character offsets."""
    claim = content_words(
        " ".join(s for s in split_sentences(answer) if number in parse_markers(s))
    )
    best, best_shared = (0, 0), 0
    start = 0
    for end in [m.start() for m in SENTENCE_END.finditer(passage_text)] + [len(passage_text)]:
        shared = len(claim & content_words(passage_text[start:end]))
        if shared > best_shared:
            best, best_shared = (start, end), shared
        start = end
    return _trim(passage_text, *best)


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    return start, end


def split_sentences(text: str) -> list[str]:
    """Sentences, with markers written after the full stop moved back into their sentence."""
    sentences: list[str] = []
    for piece in SENTENCE_END.split(text.strip()):
        leading = re.match(r"^((?:\s*\[[\d,;\s]+\])+)\s*", piece)
        if leading and sentences:
            sentences[-1] += " " + leading.group(1).strip()
            piece = piece[leading.end() :]
        if piece.strip():
            sentences.append(piece.strip())
    return sentences


def _best_support(claim: set[str], words: Sequence[set[str]]) -> list[int]:
    """Up to two passages that together cover the claim best, if they cover enough of it."""
    chosen: list[int] = []
    covered: set[str] = set()
    for _ in range(MAX_SOURCES_PER_SENTENCE):
        gains = [len((claim & w) - covered) for w in words]
        if not gains or max(gains) == 0:
            break
        best = gains.index(max(gains))
        chosen.append(best + 1)
        covered |= claim & words[best]
        if support(claim, covered) >= SUPPORT_THRESHOLD:
            return sorted(chosen)
    return []


def _with_markers(sentence: str, numbers: Sequence[int]) -> str:
    """The sentence with its markers replaced by `numbers`, placed before the final stop."""
    bare = re.sub(r"\s+([.,;:!?])", r"\1", MARKER.sub("", sentence)).strip()
    markers = "".join(f"[{n}]" for n in numbers)
    if not markers:
        return bare
    end = len(bare.rstrip(".!?"))
    return f"{bare[:end]} {markers}{bare[end:]}"
