from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import REPO, SHARED_DATA, write

from eval.questions import load_dataset
from rag.errors import InputError
from rag.load import load_articles
from rag.pipeline import default_corpus

GOOD = {
    "id": "london-1",
    "question": "Who attended the London meeting?",
    "answers": ["UK, France, Germany and Ukraine"],
    "answerable": True,
    "type": "single-article",
    "evidence": [{"article_id": "sha256:abc", "quote": "officials from the UK"}],
}


def jsonl(*items: object) -> str:
    return "\n".join(json.dumps(item) for item in items) + "\n"


def test_own_format_loads(tmp_path: Path) -> None:
    unanswerable = {"id": "x", "question": "Who won?", "answerable": False, "type": "none"}
    dataset = load_dataset(write(tmp_path / "q.jsonl", jsonl(GOOD, unanswerable)))
    assert dataset.format == "newsrag"
    first, second = dataset.questions
    assert first.answers == ("UK, France, Germany and Ukraine",)
    assert first.evidence[0].article_id == "sha256:abc"
    assert (second.answerable, second.answers) == (False, ())
    assert len(dataset.sha256) == 64


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"question": ', "invalid JSON at column"),
        ('["not an object"]', "expected a JSON object"),
        ('{"answers": ["x"]}', "field 'question' is missing"),
        ('{"question": "Who?"}', "an answerable question needs 'answers'"),
        ('{"question": "Who?", "answers": "x"}', "'answers' must be a list"),
        ('{"question": "Who?", "answers": ["x"], "evidence": [{}]}', "'evidence' entry"),
        ('{"question": "Who?", "answerable": "no"}', "'answerable' must be true or false"),
        ('{"question": "And?", "answers": ["x"], "history": "Who?"}', "'history' must be a list"),
    ],
)
def test_a_bad_line_is_named(tmp_path: Path, line: str, message: str) -> None:
    path = write(tmp_path / "q.jsonl", jsonl(GOOD) + line + "\n")
    with pytest.raises(InputError, match=message) as caught:
        load_dataset(path)
    assert f"{path}:2: " in caught.value.message
    assert "eval/README.md" in caught.value.hint


def test_duplicate_ids_and_empty_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="appears twice"):
        load_dataset(write(tmp_path / "q.jsonl", jsonl(GOOD, GOOD)))
    with pytest.raises(InputError, match="no questions"):
        load_dataset(write(tmp_path / "empty.jsonl", "\n"))
    with pytest.raises(InputError, match="not found"):
        load_dataset(tmp_path / "missing.jsonl")


def test_multihop_format_is_detected_from_content(tmp_path: Path) -> None:
    items = [
        {
            "query": "Did A say B?",
            "answer": "Yes",
            "question_type": "comparison_query",
            "evidence_list": [{"url": "https://a.example/1", "fact": "B."}],
        },
        {
            "query": "Who?",
            "answer": "Insufficient information.",
            "question_type": "null_query",
            "evidence_list": [],
        },
    ]
    dataset = load_dataset(write(tmp_path / "anything.txt", json.dumps(items)))
    assert dataset.format == "multihop-rag"
    assert [q.answerable for q in dataset.questions] == [True, False]
    assert dataset.questions[0].evidence[0].quote == "B."
    assert dataset.unanswerable_answer == "Insufficient information."


def test_other_json_arrays_and_bad_multihop_items_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not MultiHop-RAG queries"):
        load_dataset(write(tmp_path / "a.json", '[{"title": "x"}]'))
    bad = [{"query": "Q?", "answer": "Yes", "question_type": "inference_query"}]
    with pytest.raises(InputError, match="item 1: field 'evidence_list'"):
        load_dataset(write(tmp_path / "b.json", json.dumps(bad)))
    with pytest.raises(InputError, match="invalid JSON at line 2"):
        load_dataset(write(tmp_path / "c.json", '[\n{"query": }]'))


def test_the_project_dataset_matches_the_default_corpus() -> None:
    dataset = load_dataset(REPO / "eval/datasets/default.jsonl")
    assert len(dataset.questions) >= 15
    assert any(not q.answerable for q in dataset.questions)
    assert any(q.type == "follow-up-date" for q in dataset.questions)
    assert any(q.history for q in dataset.questions)  # follow-ups in a chat
    bodies = {a.id: a.body for a in load_articles([default_corpus()]).articles}
    for question in dataset.questions:
        assert question.answerable == bool(question.evidence), question.id
        for evidence in question.evidence:
            assert evidence.article_id in bodies, question.id
            assert evidence.quote and evidence.quote in bodies[evidence.article_id], question.id


@pytest.mark.skipif(not (SHARED_DATA / "multihop-rag").is_dir(), reason="shared data not here")
def test_multihop_dev_questions_load() -> None:
    dataset = load_dataset(SHARED_DATA / "multihop-rag/queries.dev.json")
    assert len(dataset.questions) == 511
    assert sum(not q.answerable for q in dataset.questions) == 58
