"""Find the passages for a question: dense and BM25 search fused, for each part of it.

Each search (the whole question, and each part and claim of it, see `rag.plan`) takes the
best `candidates` chunks of both retrievers that pass its filters and scores every one of
them by both, mixed as `bm25_weight` : 1 - `bm25_weight`:

- lexical: the chunk's BM25 plus `SENTENCE_WEIGHT` times the BM25 of its best sentence,
  each over its best among the chunks the search may return, then over the best of the
  candidates;
- dense: cosine similarity rescaled to the candidates' range. It is always to the whole
  question (one embedding per question); the parts differ in their words and filters.

The searches' lists are merged by reciprocal rank, which gives a passage its score. At most
`max_per_article` passages come from one article (twice that from a report a dated search
singles out), a passage sharing more than a fifth of its text with one already chosen from
its article is skipped, and near-copies of a passage are dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from rag.plan import Part, Plan
from rag.seams import Embedder
from rag.search_index import SearchIndex, top
from rag.types import Chunk, Filters, Passage

Method = Literal["hybrid", "dense", "bm25"]
RANK_CONSTANT = 1
"""Reciprocal-rank merging of the searches: 1 favours each search's first few chunks (chosen
on MultiHop-RAG dev questions; 60, the usual constant, flattens them)."""
NEAR_COPY = 0.8
"""Passages sharing more than this share of their words (Jaccard) are near-copies."""
SENTENCE_WEIGHT = 0.5
"""Weight of a chunk's best sentence in its lexical score (chosen on MultiHop-RAG dev
questions: it picks, among an article's overlapping chunks, the one holding a claim's
sentence whole)."""
SINGLED_OUT = 2
"""A search whose dates (and outlets) leave at most this many articles singles them out
("the TechCrunch report published on November 6"): each may give twice `max_per_article`
passages, since the question asks about that report (chosen on MultiHop-RAG dev questions,
where the fact asked about was often in another part of the report than the one the
question's words match best)."""
OVERLAP = 0.2
"""Passages of one article sharing more than this share of the shorter one's text overlap
(chosen on MultiHop-RAG dev questions: at 0.6, an article's three passages could cover
little more than one passage's text, and its other facts were missed)."""


@dataclass(frozen=True)
class Tuning:
    """How retrieval mixes and caps its results (from `Settings`)."""

    method: Method
    bm25_weight: float
    candidates: int
    max_per_article: int


@dataclass(frozen=True)
class _Hit:
    row: int
    """The chunk's row in the `SearchIndex`."""
    score: float
    found_by: str


def retrieve(
    plan: Plan, *, index: SearchIndex, embedder: Embedder, k: int, tuning: Tuning
) -> list[Passage]:
    """The `k` best passages for `plan`, best first; empty when nothing passes its filters."""
    searches = [Part(plan.question, plan.filters, ""), *plan.parts, *plan.claims]
    # Parts share filters (the words before and after one outlet): what depends only on
    # the filters (which chunks pass, the best of them by the one vector) is done once.
    masks = {f: index.mask(f) for f in dict.fromkeys(part.filters for part in searches)}
    # One vector, the whole question's: each part ranks its outlet's chunks by it, and by
    # BM25 on the part's own words (embedding each part too would triple the cost).
    vector = embedder.embed_queries([plan.question]) if tuning.method != "bm25" else None
    dense = {
        f: index.nearest(vector, f, tuning.candidates) if vector is not None and m.any() else []
        for f, m in masks.items()
    }
    found = [
        _candidates(part, index, masks[part.filters], dense[part.filters], tuning)
        for part in searches
    ]
    cosine = np.full(len(index.chunks), -np.inf, dtype=np.float32)
    if vector is not None:  # only the chunks some search proposes are compared with it
        wanted = {r for f in found for r in (*f.dense_rows, *f.bm25_rows)}
        rows = np.array(sorted(wanted), dtype=np.int64)
        cosine[rows] = index.cosine(vector, rows)
    ranked = _merge([_fuse(f, cosine, tuning) for f in found])
    singled_out = _singled_out(masks, index)
    chosen: list[Passage] = []
    per_article: dict[str, list[Chunk]] = {}
    seen_words: list[set[str]] = []
    for hit in ranked:
        chunk = index.chunks[hit.row]
        same = per_article.setdefault(chunk.article_id, [])
        share = tuning.max_per_article * (2 if chunk.article_id in singled_out else 1)
        if len(same) >= share or any(_overlap(chunk, c) > OVERLAP for c in same):
            continue
        words = index.words(hit.row)
        if any(_jaccard(words, other) > NEAR_COPY for other in seen_words):
            continue
        same.append(chunk)
        seen_words.append(words)
        chosen.append(Passage(chunk, hit.score, hit.found_by))
        if len(chosen) == k:
            break
    return chosen


def _singled_out(masks: dict[Filters, np.ndarray], index: SearchIndex) -> set[str]:
    """The articles of every dated search that leaves at most `SINGLED_OUT` of them."""
    singled_out: set[str] = set()
    for filters, mask in masks.items():
        if not (filters.since or filters.until):
            continue
        articles: set[str] = set()
        for row in np.flatnonzero(mask):
            articles.add(index.chunks[row].article_id)
            if len(articles) > SINGLED_OUT:
                break
        else:
            singled_out |= articles
    return singled_out


@dataclass(frozen=True)
class _Candidates:
    """What one search proposes: the best chunks by the vector and by BM25 (0 where the
    search's filters fail) of its own words."""

    label: str
    dense_rows: list[int]
    bm25: np.ndarray | None
    bm25_rows: list[int]


def _candidates(
    part: Part, index: SearchIndex, allowed: np.ndarray, dense_rows: list[int], tuning: Tuning
) -> _Candidates:
    """One search's candidates; `allowed` marks the chunks that pass its filters and
    `dense_rows` are the best of them by the vector."""
    label = f" · {part.label}" if part.label else ""
    if not allowed.any() or tuning.method == "dense":
        return _Candidates(label, dense_rows if allowed.any() else [], None, [])
    bm25 = _lexical(index, part.text, allowed)
    bm25_rows = top(np.where(bm25 > 0, bm25, -np.inf), tuning.candidates)
    return _Candidates(label, dense_rows if tuning.method == "hybrid" else [], bm25, bm25_rows)


def _fuse(found: _Candidates, cosine: np.ndarray, tuning: Tuning) -> list[_Hit]:
    """One search's hits, best first, its candidates scored by both retrievers."""
    label, dense_rows, bm25, bm25_rows = found.label, found.dense_rows, found.bm25, found.bm25_rows
    if tuning.method == "dense":
        return [_Hit(r, float(cosine[r]), "dense" + label) for r in dense_rows]
    if bm25 is None:
        return []
    if tuning.method == "bm25":
        return [_Hit(r, float(bm25[r]), "bm25" + label) for r in bm25_rows]
    rows = list(dict.fromkeys([*dense_rows, *bm25_rows]))
    if not rows:  # a server may find nothing its copy still holds
        return []
    lexical = bm25[rows] / (float(bm25[rows].max()) or 1.0)
    dense = cosine[rows]
    dense = (dense - dense.min()) / (float(dense.max() - dense.min()) or 1.0)
    fused = tuning.bm25_weight * lexical + (1 - tuning.bm25_weight) * dense
    names = {row: "dense" + label for row in dense_rows}
    names |= {row: ("bm25+dense" if row in names else "bm25") + label for row in bm25_rows}
    hits = [_Hit(row, float(score), names[row]) for row, score in zip(rows, fused, strict=True)]
    hits.sort(key=lambda h: -h.score)
    return hits


def _lexical(index: SearchIndex, text: str, allowed: np.ndarray) -> np.ndarray:
    """The `allowed` chunks' BM25 for `text`, plus `SENTENCE_WEIGHT` times their best
    sentence's, each over its best among them; 0 for the other chunks."""
    chunks = index.bm25(text)
    rows = np.flatnonzero(allowed & (chunks > 0))  # a sentence matches only in such chunks
    lexical = np.zeros(len(chunks), dtype=np.float32)
    if rows.size:
        sentences = index.sentence_bm25(text, rows)
        lexical[rows] = chunks[rows] / float(chunks[rows].max()) + SENTENCE_WEIGHT * (
            sentences / (float(sentences.max()) or 1.0)
        )
    return lexical


def _overlap(a: Chunk, b: Chunk) -> float:
    """Share of the shorter chunk's text that the two share (same article assumed)."""
    shared = min(a.char_end, b.char_end) - max(a.char_start, b.char_start)
    return max(shared, 0) / (min(a.char_end - a.char_start, b.char_end - b.char_start) or 1)


def _merge(lists: Sequence[list[_Hit]]) -> list[_Hit]:
    """The searches' lists as one, best first: each chunk scores 1 / (RANK_CONSTANT + rank)
    in every list that has it, summed, and is labelled by the search that ranked it best
    (the first such list, the whole question's first, also wins ties)."""
    scores: dict[int, float] = {}
    best: dict[int, tuple[int, str]] = {}  # row: (its best rank, that search's label)
    for hits in lists:
        for rank, hit in enumerate(hits):
            scores[hit.row] = scores.get(hit.row, 0.0) + 1 / (RANK_CONSTANT + rank)
            if hit.row not in best or rank < best[hit.row][0]:
                best[hit.row] = rank, hit.found_by
    return [
        _Hit(row, scores[row], best[row][1]) for row in sorted(scores, key=lambda r: -scores[r])
    ]


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0
