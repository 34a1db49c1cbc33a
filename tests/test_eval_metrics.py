"""Metric functions against cases computed by hand, MultiHop-RAG's odd definitions included."""

from __future__ import annotations

import math

import pytest

from eval import metrics
from eval.questions import Question
from eval.runner import select
from rag.errors import InputError

FILLER = "unrelated text"


def test_retrieval_metrics_of_two_facts_at_ranks_two_and_three() -> None:
    retrieved = [FILLER, "zz A b yy", "C d", *[FILLER] * 7]
    scores = metrics.multihop_retrieval(retrieved, ["A b", "C d"])
    assert scores["hits@4"] == scores["hits@10"] == 1.0
    assert scores["mrr@10"] == 0.5
    assert scores["map@10"] == pytest.approx((1 / 2 + 1 / 3) / 2)


def test_relevance_ignores_spaces_and_newlines_but_not_case() -> None:
    assert metrics.relevant("in NewYork  City today", ["New York\nCity"])
    assert not metrics.relevant("in new york city today", ["New York City"])


def test_a_first_hit_at_rank_five_is_not_a_hit_at_four() -> None:
    scores = metrics.multihop_retrieval([FILLER] * 4 + ["fact"], ["fact"])
    assert (scores["hits@4"], scores["hits@10"], scores["mrr@10"]) == (0.0, 1.0, 0.2)


def test_rank_eleven_counts_for_nothing() -> None:
    scores = metrics.multihop_retrieval([FILLER] * 10 + ["fact"], ["fact"])
    assert scores == {"hits@4": 0.0, "hits@10": 0.0, "mrr@10": 0.0, "map@10": 0.0}


def test_map_counts_every_fact_a_chunk_holds_and_duplicates_in_the_divisor() -> None:
    assert metrics.multihop_retrieval(["A and B"], ["A", "B"])["map@10"] == 1.0  # 2/1 / 2
    assert metrics.multihop_retrieval(["A"], ["A", "A"])["map@10"] == 0.5  # found once, / 2


def test_fact_coverage_counts_distinct_facts() -> None:
    assert metrics.fact_coverage(["A", FILLER, "B"], ["A", "B", "C", "A"]) == pytest.approx(2 / 3)
    assert metrics.fact_coverage(["A", "B"], ["A", "B"], k=1) == 0.5


def test_article_recall_and_ndcg() -> None:
    retrieved = ["a", "b", "a", "c"]
    assert metrics.article_recall(retrieved, ["c", "a"], k=2) == 0.5
    assert metrics.article_recall(retrieved, ["c", "a"], k=4) == 1.0
    # articles in order of first appearance: a, b, c; gold at ranks 1 and 3
    expected = (1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    assert metrics.article_ndcg(retrieved, ["c", "a"]) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("answer", "gold", "correct"),
    [
        ("Donald Trump [1].", "Donald Trump", True),
        ("Yes.", "Yes", False),  # the benchmark splits on whitespace only
        ("yes, both did", "Yes", False),
        ("Yes it did", "Yes", True),
        ("The corpus does not say.", "Insufficient information.", False),
    ],
)
def test_lenient_is_the_benchmark_word_overlap(answer: str, gold: str, correct: bool) -> None:
    assert metrics.lenient_correct(answer, gold) is correct


@pytest.mark.parametrize(
    ("answer", "golds", "correct"),
    [
        ("Yes, both reported it [1][2].", ["Yes"], True),
        ("No. TechCrunch did not [2].", ["Yes"], False),
        ("Donald Trump [1]. He was accused of fraud.", ["Donald Trump"], True),
        ("The answer is Donald Trump.", ["Donald Trump"], False),
        ("The Verge.", ["The Verge"], True),
        ("Sam Altman", ["Altman", "Sam Altman"], True),
    ],
)
def test_strict_compares_the_short_answer(answer: str, golds: list[str], correct: bool) -> None:
    assert metrics.strict_correct(answer, golds) is correct


def test_precision_recall_and_percentiles() -> None:
    assert metrics.precision_recall([True, True, False, False], [True, False, True, False]) == (
        0.5,
        0.5,
    )
    assert metrics.precision_recall([False], [True]) == (0.0, 0.0)
    assert metrics.percentile([4, 1, 3, 2], 50) == 2.5
    assert metrics.percentile([1, 2, 3, 4], 95) == pytest.approx(3.85)
    assert math.isnan(metrics.percentile([], 50))


def question(n: int, kind: str) -> Question:
    return Question(str(n), f"q{n}", ("a",), True, kind, ())


def test_a_limited_run_is_a_stratified_sample_in_file_order() -> None:
    kinds = ["A", "B", "A", "C", "A", "B", "A", "C", "A", "B"]  # A 5, B 3, C 2
    questions = [question(n, kind) for n, kind in enumerate(kinds)]
    chosen = select(questions, types=None, limit=4)
    # quotas 2.0, 1.2, 0.8: two A, one B, and the largest remainder (C) takes the last place
    assert [(q.id, q.type) for q in chosen] == [("0", "A"), ("1", "B"), ("2", "A"), ("3", "C")]
    assert [q.type for q in select(questions, types=["B", "C"], limit=None)] == ["B", "C"] * 2 + [
        "B"
    ]
    rest = select(questions, types=None, limit=None, held_out=4)
    assert [q.id for q in rest] == ["4", "5", "6", "7", "8", "9"]
    # of those (A 3, B 2, C 1), quotas 1.5, 1.0, 0.5: the tie goes to the first type, A
    assert [q.id for q in select(questions, types=None, limit=3, held_out=4)] == ["4", "5", "6"]


def test_a_held_out_set_that_leaves_nothing_out_is_refused() -> None:
    questions = [question(n, "A") for n in range(3)]
    with pytest.raises(InputError, match="--held-out 3 leaves none of the 3 questions out"):
        select(questions, types=None, limit=None, held_out=3)
