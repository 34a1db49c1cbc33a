"""The files of an evaluation run: report.json, report.md (rendered by `eval.markdown`),
per_query.jsonl and the PNG plots."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eval.markdown import render_markdown
from eval.report import Report
from eval.runner import QueryResult


def per_query_record(result: QueryResult) -> dict[str, Any]:
    """One line of per_query.jsonl."""
    answer = result.answer
    return {
        "id": result.question.id,
        "type": result.question.type,
        "question": result.question.question,
        "gold": list(result.question.answers),
        "answerable": result.question.answerable,
        "retrieved": [
            {"chunk_id": p.chunk.id, "score": round(p.score, 4), "text": p.chunk.text}
            for p in result.retrieved
        ],
        "retrieval_s": round(result.retrieval_seconds, 4),
        "answer": answer.text if answer else None,
        "abstained": answer.abstained if answer else None,
        "kind": answer.kind if answer else None,
        "basis": answer.basis if answer else None,
        "citations": [
            {
                "number": c.number,
                "chunk_id": c.passage.chunk.id,
                "support": [c.start, c.end, round(c.score, 3)],
            }
            for c in answer.citations
        ]
        if answer
        else None,
        "timings": {k: round(v, 4) for k, v in answer.timings.items()} if answer else None,
        "tokens": answer.tokens if answer else None,
        "scores": result.scores,
    }


def write_report(out: Path, report: Report, results: Sequence[QueryResult]) -> None:
    """Write report.json, report.md, per_query.jsonl and the PNG plots into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report.to_json(), indent=2) + "\n")
    with (out / "per_query.jsonl").open("w") as file:
        for result in results:
            file.write(json.dumps(per_query_record(result), ensure_ascii=False) + "\n")
    (out / "report.md").write_text(render_markdown(report))
    plot(out, report, results)


def plot(out: Path, report: Report, results: Sequence[QueryResult]) -> None:
    """metrics_by_type.png (bars per question type) and latency.png (histograms)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = report.metrics
    names = [
        c
        for c in ("hits@10", "mrr@10", "all_facts@10", "strict", "lenient")
        if c in m.overall.scores
    ]
    types = list(m.by_type)
    figure, axes = plt.subplots(figsize=(max(6, 1.6 * len(types) + 2), 4))
    width = 0.8 / max(1, len(names))
    for i, name in enumerate(names):
        values = [m.by_type[t].scores.get(name, 0.0) for t in types]
        axes.bar([x + i * width for x in range(len(types))], values, width, label=name)
    axes.set_xticks([x + width * (len(names) - 1) / 2 for x in range(len(types))], types)
    axes.set_ylim(0, 1)
    axes.set_title("Metrics per question type")
    axes.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(out / "metrics_by_type.png", dpi=100)
    plt.close(figure)

    figure, axes = plt.subplots(figsize=(7, 4))
    axes.hist([r.retrieval_seconds for r in results], bins=20, alpha=0.7, label="retrieval")
    answers = [r.answer.timings["total"] for r in results if r.answer is not None]
    if answers:
        axes.hist(answers, bins=20, alpha=0.7, label="whole answer")
    axes.set_xlabel("seconds")
    axes.set_ylabel("questions")
    axes.set_title("Latency")
    axes.legend()
    figure.tight_layout()
    figure.savefig(out / "latency.png", dpi=100)
    plt.close(figure)
