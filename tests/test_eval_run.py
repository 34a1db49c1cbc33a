"""An evaluation end to end on a tiny corpus: real Chroma and files, fakes at the model seams."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import KeywordEmbedder, ScriptedGenerator, write

from eval.markdown import compare, render_markdown
from eval.output import write_report
from eval.questions import Question, load_dataset
from eval.report import DatasetInfo, Environment, Options, Report
from eval.runner import conversation, evaluate, select
from eval.summary import Summary, summarize
from rag.cli import main
from rag.config import Settings
from rag.pipeline import Pipeline
from rag.types import Turn

ARTICLES = [
    {
        "title": "London talks",
        "url": "https://x.example/london",
        "source": "Post",
        "body": "Officials from France and Germany met in London on Wednesday.",
    },
    {
        "title": "Paris summit",
        "url": "https://x.example/paris",
        "source": "Herald",
        "body": "A climate summit opened in Paris.",
    },
    {
        "title": "Rome final",
        "url": "https://x.example/rome",
        "source": "Sport",
        "body": "Rome hosted the football final.",
    },
]
QUESTIONS = [
    {
        "id": "1",
        "question": "Which country met Germany in London?",
        "answers": ["France"],
        "type": "who",
        "evidence": [
            {"article_id": "https://x.example/london", "quote": "France and Germany met in London"}
        ],
    },
    {
        "id": "2",
        "question": "What opened in Paris?",
        "answers": ["A climate summit"],
        "type": "what",
        "evidence": [{"article_id": "https://x.example/paris"}],
    },
    {"id": "3", "question": "Who won the election in Rome?", "answerable": False, "type": "none"},
]
KEYWORDS = ["london", "paris", "rome", "climate", "football", "met", "election"]


@pytest.fixture
def run_dir(tmp_path: Path, settings: Settings) -> Path:
    corpus = write(tmp_path / "corpus.json", json.dumps(ARTICLES))
    dataset = load_dataset(
        write(tmp_path / "questions.jsonl", "\n".join(json.dumps(q) for q in QUESTIONS))
    )
    generator = ScriptedGenerator(
        {"A": -0.1},  # France: right, cites the London passage
        "A jazz festival",  # wrong, and no passage supports it: withheld -> abstains
        {"A": -0.1},  # a name from passages that do not speak of elections -> abstains
    )
    pipeline = Pipeline(settings, embedder=KeywordEmbedder(KEYWORDS), generator=generator)
    pipeline.ingest([corpus])
    results = evaluate(
        dataset, select(dataset.questions, types=None, limit=None), pipeline, retrieval_only=False
    )
    report = Report(
        created_at="2024-01-01T00:00:00+00:00",
        seconds=1.0,
        dataset=DatasetInfo("questions.jsonl", "newsrag", "0" * 64, 3, 3),
        corpus=None,
        options=Options(limit=None, held_out=None, types=None, retrieval_only=False),
        settings=settings.model_dump(mode="json"),
        model="scripted",
        environment=Environment("3.11", {}, git_revision=None, git_dirty=False),
        metrics=summarize(results, dataset),
    )
    write_report(tmp_path / "run", report, results)
    return tmp_path / "run"


def test_report_numbers(run_dir: Path) -> None:
    m = json.loads((run_dir / "report.json").read_text())["metrics"]
    overall = m["overall"]
    # Retrieval: question 1 has a quote found at rank 1; question 2 only an article id.
    assert overall["hits@10"] == overall["mrr@10"] == 1.0
    assert m["by_type"]["what"]["article_recall@10"] == 1.0
    # Answers: 1 right, 2 abstained (wrong), 3 abstained (right).
    assert overall["strict"] == pytest.approx(2 / 3)
    assert m["by_type"]["none"]["strict"] == 1.0
    assert m["abstention"] == {"precision": 0.5, "recall": 1.0, "abstained": 2, "unanswerable": 1}
    assert overall["cited_with_evidence"] == 1.0 and overall["cites_gold_article"] == 1.0
    assert m["baselines"]["The corpus does not say."]["overall"]["strict"] == pytest.approx(1 / 3)
    assert m["speed"]["answer_p50_s"] > 0 and m["speed"]["retrieval_p95_s"] > 0


def test_report_files(run_dir: Path) -> None:
    lines = (run_dir / "per_query.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    assert len(lines) == 3
    assert first["retrieved"][0]["chunk_id"] == "https://x.example/london::0"
    [citation] = first["citations"]
    assert (citation["number"], citation["chunk_id"]) == (1, "https://x.example/london::0")
    start, end, score = citation["support"]
    assert first["retrieved"][0]["text"][start:end].startswith("Officials from France")
    assert 0 < score <= 1
    assert (first["kind"], first["basis"][:9]) == ("name", "the names")
    markdown = (run_dir / "report.md").read_text()
    assert "## Retrieval" in markdown and "## How each number is computed" in markdown
    for png in ("metrics_by_type.png", "latency.png"):
        assert (run_dir / png).read_bytes().startswith(b"\x89PNG")


def test_compare_two_runs(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = json.loads((run_dir / "report.json").read_text())
    better = json.loads(json.dumps(report))
    better["metrics"]["overall"]["strict"] = 1.0
    table = compare(Summary.from_json(report["metrics"]), Summary.from_json(better["metrics"]))
    assert "| strict | 0.667 | 1.000 | +0.333 |" in table
    write(run_dir.parent / "b" / "report.json", json.dumps(better))
    assert main(["eval", "compare", str(run_dir), str(run_dir.parent / "b")]) == 0
    assert "+0.333" in capsys.readouterr().out


def test_eval_cli_errors_name_the_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = write(tmp_path / "q.jsonl", '{"question": "Who?", "answers": ["x"]}\n{"q\n')
    assert main(["eval", "--dataset", str(bad), "--data-dir", str(tmp_path)]) == 1
    assert f"error: {bad}:2: invalid JSON" in capsys.readouterr().err
    assert main(["eval"]) == 1
    assert "needs --dataset" in capsys.readouterr().err
    assert main(["eval", "compare", "only-one"]) == 1


def test_eval_corpus_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dataset = write(tmp_path / "q.jsonl", json.dumps(QUESTIONS[0]) + "\n")
    common = ["eval", "--dataset", str(dataset), "--cache-dir", str(tmp_path / "cache")]
    assert main([*common, "--corpus", str(tmp_path / "missing")]) == 1
    assert "corpus not found or empty" in capsys.readouterr().err
    broken = write(tmp_path / "broken.json", "[{")
    assert main([*common, "--corpus", str(broken)]) == 1
    assert f"no article could be read from {broken}" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*common, "--limit", "0"])
    assert "must be 1 or more" in capsys.readouterr().err


def test_a_report_says_how_its_questions_were_chosen(settings: Settings) -> None:
    every = Options(limit=None, held_out=None, types=None, retrieval_only=False)
    report = Report(
        created_at="2024-01-01T00:00:00+00:00",
        seconds=1.0,
        dataset=DatasetInfo("questions.jsonl", "newsrag", "0" * 64, 300, 50),
        corpus=None,
        options=every,
        settings=settings.model_dump(mode="json"),
        model=None,
        environment=Environment("3.11", {}, git_revision=None, git_dirty=False),
        metrics=Summary.from_json({"overall": {"hits@10": 1.0, "n": 50}}),
    )
    assert "\n50 of 300 questions (newsrag format," in render_markdown(report)
    chosen = Options(limit=50, held_out=256, types=["inference"], retrieval_only=False)
    said = (
        "\n50 of 300 questions (of types inference; left out of the stratified sample of 256; "
        "a stratified sample of 50) (newsrag format,"
    )
    assert said in render_markdown(replace(report, options=chosen))


def test_a_follow_up_is_asked_after_its_history(tmp_path: Path, settings: Settings) -> None:
    corpus = write(tmp_path / "corpus.json", json.dumps(ARTICLES))
    generator = ScriptedGenerator("A climate summit")
    pipeline = Pipeline(settings, embedder=KeywordEmbedder(KEYWORDS), generator=generator)
    pipeline.ingest([corpus])
    follow_up = Question("f", "And when?", (), False, "none", (), ("What opened in Paris?",))
    [turn] = conversation(follow_up, pipeline)
    assert turn == Turn(
        "What opened in Paris?", "A climate summit. A climate summit opened in Paris [1]."
    )
