"""Metric functions: pure, per query, each defined in its docstring exactly as computed.

The MultiHop-RAG functions reproduce the benchmark's own scripts (`retrieval_evaluate.py`,
`qa_evaluate.py`), odd parts included, so the numbers compare with the paper's.
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Sequence

from rag.cite import MARKER


def squash(text: str) -> str:
    """MultiHop-RAG's normalization: every space and newline removed, case kept."""
    return text.replace(" ", "").replace("\n", "")


def relevant(chunk: str, facts: Sequence[str]) -> bool:
    """A chunk is relevant when it contains a whole gold fact, both squashed."""
    squashed = squash(chunk)
    return any(squash(fact) in squashed for fact in facts)


def multihop_retrieval(retrieved: Sequence[str], facts: Sequence[str]) -> dict[str, float]:
    """Hits@4, Hits@10, MRR@10 and MAP@10 of one query, as MultiHop-RAG computes them.

    - Hits@k: 1 if a relevant chunk is among the first k.
    - MRR@10: 1 / rank of the first relevant chunk in the first 10, else 0.
    - MAP@10: at each relevant rank r <= 10, add (gold facts first found in that chunk) / r;
      divide the sum by min(number of gold facts, 10). Duplicate facts count in the divisor
      but are found once: the benchmark's definition, not textbook average precision.
    """
    gold = [squash(f) for f in facts]
    found: list[str] = []
    hits4 = hits10 = False
    first: int | None = None
    ap_sum = 0.0
    for rank, chunk in enumerate(retrieved[:10], start=1):
        squashed = squash(chunk)
        if not any(g in squashed for g in gold):
            continue
        hits10 = True
        hits4 = hits4 or rank <= 4
        first = first or rank
        new = 0
        for fact in gold:
            if fact in squashed and fact not in found:
                new += 1
                found.append(fact)
        ap_sum += new / rank
    return {
        "hits@4": float(hits4),
        "hits@10": float(hits10),
        "mrr@10": 1.0 / first if first else 0.0,
        "map@10": ap_sum / min(len(gold), 10) if gold else 0.0,
    }


def fact_coverage(retrieved: Sequence[str], facts: Sequence[str], *, k: int = 10) -> float:
    """Share of the distinct gold facts contained in some chunk of the first k."""
    distinct = list(dict.fromkeys(squash(f) for f in facts))
    if not distinct:
        return 0.0
    chunks = [squash(c) for c in retrieved[:k]]
    return sum(any(f in c for c in chunks) for f in distinct) / len(distinct)


def article_recall(retrieved: Sequence[str], gold: Sequence[str], *, k: int) -> float:
    """Share of the distinct gold articles with at least one chunk among the first k chunks."""
    wanted = set(gold)
    return len(wanted & set(retrieved[:k])) / len(wanted) if wanted else 0.0


def article_ndcg(retrieved: Sequence[str], gold: Sequence[str], *, k: int = 10) -> float:
    """nDCG@k over articles: the chunk list is reduced to articles in order of first
    appearance; gain 1 for a gold article, discounted by log2(rank + 1); divided by the
    ideal (all gold articles first)."""
    wanted = set(gold)
    if not wanted:
        return 0.0
    ranked = list(dict.fromkeys(retrieved))[:k]
    dcg = sum(1 / math.log2(r + 1) for r, a in enumerate(ranked, start=1) if a in wanted)
    ideal = sum(1 / math.log2(r + 1) for r in range(1, min(len(wanted), k) + 1))
    return dcg / ideal


def lenient_correct(answer: str, gold: str) -> bool:
    """MultiHop-RAG's published accuracy: the lowercased answer and gold, split on whitespace
    (punctuation stays attached), share at least one word."""
    return bool(set(answer.lower().split()) & set(gold.lower().split()))


def normalize(text: str) -> str:
    """Lowercase; citation markers, punctuation and the articles a/an/the removed."""
    text = MARKER.sub(" ", text.lower())
    text = text.translate(str.maketrans(string.punctuation + "\u2018\u2019\u201c\u201d", " " * 36))
    return " ".join(w for w in text.split() if w not in {"a", "an", "the"})


def short_answer(answer: str) -> str:
    """The answer's short answer: its first sentence, or only its first word when that is
    yes or no ("Yes, both reported it." gives "yes"), normalized."""
    first = re.split(r"(?<=[.!?])\s", answer.strip(), maxsplit=1)[0]
    words = normalize(first).split()
    if words and words[0] in {"yes", "no"}:
        return words[0]
    return " ".join(words)


def strict_correct(answer: str, golds: Sequence[str]) -> bool:
    """The normalized gold answer is the answer's short answer (any accepted gold)."""
    short = short_answer(answer)
    return any(normalize(g) == short for g in golds)


def precision_recall(predicted: Sequence[bool], actual: Sequence[bool]) -> tuple[float, float]:
    """Precision and recall of `predicted` for the positive class of `actual` (0 when empty)."""
    both = sum(p and a for p, a in zip(predicted, actual, strict=True))
    n_predicted, n_actual = sum(predicted), sum(actual)
    return (both / n_predicted if n_predicted else 0.0, both / n_actual if n_actual else 0.0)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), linear between closest ranks; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
