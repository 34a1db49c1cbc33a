"""The numbers of an evaluation run: score means overall and per question type,
abstention, speed, and constant-answer baselines, as typed objects with their JSON form.

`summarize` makes them from the scored questions; report.json stores them under
"metrics", and `Summary.from_json` reads them back (to compare two runs).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from eval import metrics
from eval.questions import Dataset
from eval.runner import QueryResult

CONSTANT_BASELINES = ("Yes", "No")


@dataclass(frozen=True)
class Means:
    """The mean of each score over a group of questions, and how many questions each
    score counts (retrieval scores skip questions without evidence)."""

    scores: dict[str, float]
    n: int
    counts: dict[str, int]

    def to_json(self) -> dict[str, Any]:
        return {**self.scores, "n": self.n, "counts": self.counts}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Means:
        """Means as report.json stores them (older reports may lack `n` and `counts`)."""
        scores = {k: float(v) for k, v in data.items() if k not in ("n", "counts")}
        return cls(scores, int(data.get("n", 0)), dict(data.get("counts", {})))


@dataclass(frozen=True)
class Abstention:
    """How well the answers that abstained match the questions the corpus cannot answer."""

    precision: float
    recall: float
    abstained: int
    unanswerable: int


@dataclass(frozen=True)
class Baseline:
    """Strict and lenient accuracy of one constant answer, overall and per question type."""

    overall: dict[str, float]
    by_type: dict[str, dict[str, float]]


@dataclass(frozen=True)
class Summary:
    """Every aggregate number of a run. `abstention` is None when no question was answered
    (a retrieval-only run)."""

    overall: Means
    by_type: dict[str, Means]
    speed: dict[str, float]
    abstention: Abstention | None
    baselines: dict[str, Baseline]

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "overall": self.overall.to_json(),
            "by_type": {name: means.to_json() for name, means in self.by_type.items()},
            "speed": self.speed,
        }
        if self.abstention is not None:
            data["abstention"] = asdict(self.abstention)
        data["baselines"] = {name: asdict(b) for name, b in self.baselines.items()}
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Summary:
        abstention = data.get("abstention")
        return cls(
            overall=Means.from_json(data["overall"]),
            by_type={name: Means.from_json(m) for name, m in data.get("by_type", {}).items()},
            speed=dict(data.get("speed", {})),
            abstention=Abstention(**abstention) if abstention else None,
            baselines={name: Baseline(**b) for name, b in data.get("baselines", {}).items()},
        )


def summarize(results: Sequence[QueryResult], dataset: Dataset) -> Summary:
    """Every aggregate number of a run: means overall and per type, abstention, speed,
    citations, and the constant-answer baselines on the same questions."""
    answered = [r for r in results if r.answer is not None]
    abstention = None
    if answered:
        precision, recall = metrics.precision_recall(
            [r.answer.abstained for r in answered if r.answer],
            [not r.question.answerable for r in answered],
        )
        abstention = Abstention(
            precision=precision,
            recall=recall,
            abstained=sum(bool(r.answer and r.answer.abstained) for r in answered),
            unanswerable=sum(not r.question.answerable for r in answered),
        )
    return Summary(
        overall=_means(results),
        by_type={t: _means(rs) for t, rs in _by_type(results).items()},
        speed=_speed(results),
        abstention=abstention,
        baselines={
            constant: _baseline(results, constant, dataset)
            for constant in (*CONSTANT_BASELINES, dataset.unanswerable_answer)
        },
    )


def _means(results: Sequence[QueryResult]) -> Means:
    values: dict[str, list[float]] = defaultdict(list)
    for result in results:
        for name, value in result.scores.items():
            values[name].append(value)
    return Means(
        scores={name: sum(v) / len(v) for name, v in sorted(values.items())},
        n=len(results),
        counts={name: len(v) for name, v in sorted(values.items())},
    )


def _by_type(results: Sequence[QueryResult]) -> dict[str, list[QueryResult]]:
    groups: dict[str, list[QueryResult]] = defaultdict(list)
    for result in results:
        groups[result.question.type].append(result)
    return dict(sorted(groups.items()))


def _baseline(results: Sequence[QueryResult], constant: str, dataset: Dataset) -> Baseline:
    def scores(rs: Sequence[QueryResult]) -> dict[str, float]:
        golds = [r.question.answers or (dataset.unanswerable_answer,) for r in rs]
        return {
            "strict": sum(metrics.strict_correct(constant, g) for g in golds) / len(rs),
            "lenient": sum(metrics.lenient_correct(constant, g[0]) for g in golds) / len(rs),
        }

    return Baseline(
        overall=scores(results),
        by_type={t: scores(rs) for t, rs in _by_type(results).items()},
    )


def _speed(results: Sequence[QueryResult]) -> dict[str, float]:
    retrieval = [r.retrieval_seconds for r in results]
    answers = [r.answer for r in results if r.answer is not None]
    first = [a.timings["first_token"] for a in answers if "first_token" in a.timings]
    total = [a.timings["total"] for a in answers]
    # Decoding speed: the tokens after the first, over the time after the first.
    streamed = [a for a in answers if "first_token" in a.timings and a.tokens > 1]
    decode = [a.timings["total"] - a.timings["first_token"] for a in streamed]
    tokens = sum(a.tokens - 1 for a in streamed)
    speed = {
        "retrieval_p50_s": metrics.percentile(retrieval, 50),
        "retrieval_p95_s": metrics.percentile(retrieval, 95),
    }
    if answers:
        speed.update(
            {
                "first_token_p50_s": metrics.percentile(first, 50),
                "first_token_p95_s": metrics.percentile(first, 95),
                "answer_p50_s": metrics.percentile(total, 50),
                "answer_p95_s": metrics.percentile(total, 95),
                "tokens_per_s": tokens / sum(decode) if decode else math.nan,
            }
        )
    return speed
