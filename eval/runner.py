"""Run a question set through the real pipeline and score every question."""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from eval import metrics
from eval.questions import Dataset, Question
from rag.config import Settings
from rag.errors import InputError
from rag.pipeline import ArticleDone, Pipeline
from rag.types import Answer, Passage, Turn

DEPTH = 10
"""Passages retrieved per question for the retrieval metrics (they look at the first 10)."""


@dataclass
class QueryResult:
    """One question's retrieval, answer and scores."""

    question: Question
    retrieved: list[Passage]
    retrieval_seconds: float
    answer: Answer | None = None
    scores: dict[str, float] = field(default_factory=dict)


def select(
    questions: Sequence[Question],
    *,
    types: Sequence[str] | None,
    limit: int | None,
    held_out: int | None = None,
) -> list[Question]:
    """Filter by type (a prefix is enough: `inference` for `inference_query`), then take a
    stratified sample of `limit`: each type keeps its share (largest remainder), and within a
    type the questions come in file order. With `held_out`, the sample is taken from the
    questions that a sample of `held_out` leaves out (what tuning on it did not see)."""
    chosen = [q for q in questions if not types or any(q.type.startswith(t) for t in types)]
    if held_out is not None:
        seen = {id(q) for q in select(chosen, types=None, limit=held_out)}
        rest = [q for q in chosen if id(q) not in seen]
        if chosen and not rest:
            raise InputError(
                f"--held-out {held_out} leaves none of the {len(chosen)} questions out",
                hint="Pass the --limit that tuning used, smaller than the question count.",
            )
        chosen = rest
    if not chosen:
        known = ", ".join(sorted({q.type for q in questions}))
        raise InputError(
            f"no question has the type(s) {', '.join(types or [])}",
            hint=f"Types in this dataset: {known}.",
        )
    if limit is None or limit >= len(chosen):
        return chosen
    counts = Counter(q.type for q in chosen)
    quota = {t: limit * n / len(chosen) for t, n in counts.items()}
    take = {t: int(share) for t, share in quota.items()}
    for t in sorted(quota, key=lambda t: quota[t] - take[t], reverse=True)[
        : limit - sum(take.values())
    ]:
        take[t] += 1
    selected: list[Question] = []
    for question in chosen:
        if take[question.type] > 0:
            take[question.type] -= 1
            selected.append(question)
    return selected


def corpus_index(
    corpus: Path, settings: Settings, *, on_article: Callable[[ArticleDone], object] | None = None
) -> Settings:
    """`settings` for a separate index of `corpus` under the cache dir (and, on a Chroma
    server, in a collection of its own), built once per corpus content, embedder and
    chunking; an interrupted build is started again from nothing."""
    key = hashlib.sha256()
    files = sorted(p for p in corpus.rglob("*") if p.is_file()) if corpus.is_dir() else [corpus]
    if not corpus.exists() or not files:
        raise InputError(
            f"corpus not found or empty: {corpus}",
            hint="Pass --corpus as an article file or folder.",
        )
    for file in files:
        key.update(str(file.relative_to(corpus) if corpus.is_dir() else file.name).encode())
        key.update(hashlib.sha256(file.read_bytes()).digest())
    key.update(f"{settings.embedder}|{settings.chunk_tokens}|{settings.chunk_overlap}".encode())
    if settings.chroma_url:  # on a server, in a collection of its own beside the user's index
        key.update(settings.chroma_url.encode())
    directory = settings.cache_dir / "eval-index" / key.hexdigest()[:16]
    settings = settings.model_copy(update={"data_dir": directory})
    if settings.chroma_url:
        settings = settings.model_copy(update={"collection": f"newsrag-eval-{directory.name}"})
    marker = directory / "complete.json"
    if marker.is_file():
        return settings
    shutil.rmtree(directory, ignore_errors=True)
    pipeline = Pipeline(settings)
    report = pipeline.ingest([corpus], on_article=on_article)
    if not report.articles:
        first = report.problems[0] if report.problems else None
        raise InputError(
            f"no article could be read from {corpus}"
            + (
                f" ({len(report.problems)} problems; first: {first.origin}: {first.message})"
                if first
                else ""
            ),
            hint="Check it with `rag ingest` into a scratch --data-dir to see every problem.",
        )
    marker.write_text(
        json.dumps(
            {
                "corpus": str(corpus),
                "articles": report.articles,
                "chunks": report.chunks,
                "seconds": report.seconds,
            }
        )
    )
    return settings


def evaluate(
    dataset: Dataset,
    questions: Sequence[Question],
    pipeline: Pipeline,
    *,
    retrieval_only: bool,
    on_result: Callable[[QueryResult], object] | None = None,
) -> list[QueryResult]:
    """Retrieve (and unless `retrieval_only`, answer) every question, scoring as it goes."""
    if pipeline.is_empty():
        raise InputError(
            f"the index in {pipeline.settings.data_dir} is empty",
            hint="Pass --corpus with the articles the questions are about.",
        )
    depth = max(DEPTH, pipeline.settings.k)
    results = []
    for question in questions:
        answer = None
        if not retrieval_only:
            answer = pipeline.ask(question.question, history=conversation(question, pipeline))
        started = time.perf_counter()
        # A follow-up is searched as the pipeline rewrote it (as asked, without a model).
        asked = answer.question if answer else question.question
        retrieved = pipeline.search(asked, k=depth).passages
        result = QueryResult(question, retrieved, time.perf_counter() - started, answer)
        result.scores = score(result, dataset, k=pipeline.settings.k)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results


def conversation(question: Question, pipeline: Pipeline) -> list[Turn]:
    """The chat a follow-up comes at the end of: each question of its history, answered by
    the pipeline in turn, as the user would have seen it."""
    turns: list[Turn] = []
    for earlier in question.history:
        answer = pipeline.ask(earlier, history=turns)
        turns.append(Turn(answer.question, answer.text))
    return turns


def score(result: QueryResult, dataset: Dataset, *, k: int) -> dict[str, float]:
    """Every per-query score that applies to this question (see eval/README.md)."""
    question = result.question
    scores: dict[str, float] = {}
    texts = [p.chunk.text for p in result.retrieved]
    articles = [p.chunk.article_id for p in result.retrieved]
    facts = [e.quote for e in question.evidence if e.quote]
    gold_articles = [e.article_id for e in question.evidence if e.article_id]
    if question.answerable and facts:
        scores.update(metrics.multihop_retrieval(texts, facts))
        coverage = metrics.fact_coverage(texts, facts, k=DEPTH)
        scores["fact_recall@10"] = coverage
        scores["all_facts@10"] = float(coverage == 1.0)
    if question.answerable and gold_articles:
        scores[f"article_recall@{k}"] = metrics.article_recall(articles, gold_articles, k=k)
        scores["article_recall@10"] = metrics.article_recall(articles, gold_articles, k=DEPTH)
        scores["article_ndcg@10"] = metrics.article_ndcg(articles[:DEPTH], gold_articles)
    answer = result.answer
    if answer is None:
        return scores
    text = dataset.unanswerable_answer if answer.abstained else answer.text
    golds = question.answers or (dataset.unanswerable_answer,)
    scores["strict"] = float(metrics.strict_correct(text, golds))
    scores["lenient"] = float(metrics.lenient_correct(text, golds[0]))
    scores["abstained"] = float(answer.abstained)
    if question.answerable and not answer.abstained and answer.citations:
        cited = [c.passage.chunk for c in answer.citations]
        with_evidence = [
            any(
                (e.quote and metrics.relevant(c.text, [e.quote]))
                or (not e.quote and e.article_id == c.article_id)
                for e in question.evidence
            )
            for c in cited
        ]
        scores["cited_with_evidence"] = sum(with_evidence) / len(cited)
        if gold_articles:
            scores["cites_gold_article"] = float(any(c.article_id in gold_articles for c in cited))
    return scores
