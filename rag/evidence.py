"""Which passage sentences the model reads, and which ones an answer cites.

Both are chosen by `rag.verify`'s sentence scores: the model reads each passage's sentences
that hold most of the question (`excerpts`); an answer cites the sentence that best supports
its short answer or each of its claims (`best_support`), weighed by its passage's search
score.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from rag.types import Passage
from rag.verify import Rarity, Support, sentence_support, support

SUPPORT_SENTENCES = 2
EXCERPT_SENTENCES = 8
"""Sentences the model reads: each passage's best for the question, then the next best."""


def relevance(question: str, passages: Sequence[Passage], rarity: Rarity) -> list[list[Support]]:
    """Every sentence of each passage, scored by how much of `question` it holds (names not
    required, see `sentence_support`), best first."""
    return [
        sorted(
            sentence_support(question, p.chunk.text, rarity, context=p.chunk.title, strict=False),
            key=lambda s: -s.score,
        )
        for p in passages
    ]


def excerpts(passages: Sequence[Passage], scored: Sequence[Sequence[Support]]) -> list[Passage]:
    """`passages`, each cut down to the sentences that matter most (`scored`, as `relevance`
    gives them): its best one, and the best of the rest up to `EXCERPT_SENTENCES` in all, in
    reading order and joined by an ellipsis."""
    chosen = [list(spans[:1]) for spans in scored]
    rest = sorted(
        ((span.score, n) for n, spans in enumerate(scored) for span in spans[1:]), reverse=True
    )
    for _, n in rest[: max(EXCERPT_SENTENCES - len(passages), 0)]:
        chosen[n].append(scored[n][len(chosen[n])])
    cut = []
    for passage, spans in zip(passages, chosen, strict=True):
        text = passage.chunk.text
        parts = [text[s.start : s.end] for s in sorted(spans, key=lambda s: s.start)]
        cut.append(replace(passage, chunk=replace(passage.chunk, text=" … ".join(parts) or text)))
    return cut


def best_support(
    claim: str, passages: Sequence[Passage], rarity: Rarity, *, about: str = "", strict: bool = True
) -> tuple[int, Support] | None:
    """The passage number and sentence that best support `claim` (scored on the words of
    `claim` and `about`); with `strict` False its names and numbers are not required. A
    sentence's score counts in proportion to its passage's search score: of two sentences
    that say as much, the one the search ranked higher is more often the evidence."""
    best: tuple[int, Support] | None = None
    for number, passage in enumerate(passages, start=1):
        found = support(
            claim,
            passage.chunk.text,
            rarity,
            about=about,
            context=passage.chunk.title,
            strict=strict,
        )
        if found is not None and (
            best is None or _weight((number, found), passages) > _weight(best, passages)
        ):
            best = (number, found)
    return best


def _weight(found: tuple[int, Support], passages: Sequence[Passage]) -> float:
    """A supporting sentence's score times its passage's search score."""
    number, span = found
    return span.score * passages[number - 1].score


def strongest(
    found: Sequence[tuple[int, Support]], passages: Sequence[Passage]
) -> list[tuple[int, Support]]:
    """The `SUPPORT_SENTENCES` of `found` (passage numbers and sentences) that weigh most,
    each sentence once."""
    kept: list[tuple[int, Support]] = []
    for number, span in sorted(found, key=lambda f: -_weight(f, passages)):
        if all((number, span.start) != (n, s.start) for n, s in kept):
            kept.append((number, span))
    return kept[:SUPPORT_SENTENCES]
