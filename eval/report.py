"""Aggregate per-query scores into a report: report.json, report.md, per_query.jsonl, plots."""

from __future__ import annotations

import json
import math
import platform
import subprocess
from collections import defaultdict
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from eval import metrics
from eval.datasets import Dataset
from eval.runner import QueryResult

PACKAGES = (
    "newsrag",
    "chromadb",
    "sentence-transformers",
    "torch",
    "llama-cpp-python",
    "langchain-text-splitters",
)
CONSTANT_BASELINES = ("Yes", "No")

DEFINITIONS = {
    "hits@4, hits@10": "MultiHop-RAG's: share of questions with a relevant chunk in the first "
    "4 / 10; a chunk is relevant when it contains a whole gold fact, spaces and newlines "
    "removed on both sides. Unanswerable (null) questions are excluded.",
    "mrr@10": "Mean of 1 / rank of the first relevant chunk in the first 10 (0 if none).",
    "map@10": "MultiHop-RAG's: at each relevant rank r, (gold facts first found there) / r, "
    "summed and divided by min(number of gold facts, 10). Not textbook average precision.",
    "fact_recall@10, all_facts@10": "Share of a question's distinct gold facts found in the "
    "first 10 chunks, and whether all of them are.",
    "article_recall@k, article_ndcg@10": "Share of the gold articles with a chunk among the "
    "first k chunks; nDCG over the articles in order of first appearance, binary gain.",
    "strict": "The normalized gold answer equals the answer's short answer (its first "
    "sentence, or its first word when that is yes/no; lowercased, without punctuation, "
    "citation markers and a/an/the). An abstention is scored as the dataset's "
    "'unanswerable' answer.",
    "lenient": "MultiHop-RAG's published accuracy: the lowercased answer and gold answer, split "
    "on whitespace, share a word. A constant 'Yes' scores well on it: see the baselines.",
    "abstention precision / recall": "Of the answers that abstained, the share whose question "
    "is unanswerable; of the unanswerable questions, the share answered with an abstention.",
    "cited_with_evidence": "Per answered, answerable question: share of its cited passages "
    "that contain a gold fact (or, for evidence without a quote, come from a gold article).",
    "cites_gold_article": "Per answered, answerable question: 1 if a citation is from a "
    "gold article.",
    "speed": "retrieval = pipeline.search of the first 10 passages; first token and answer "
    "time from the start of pipeline.ask (retrieval included, model loading excluded); "
    "tokens/s = (tokens written - 1) / (answer time - time to first token).",
}


def summarize(results: Sequence[QueryResult], dataset: Dataset) -> dict[str, Any]:
    """Every aggregate number of a run: means overall and per type, abstention, speed,
    citations, and the constant-answer baselines on the same questions."""
    by_type = _by_type(results)
    answered = [r for r in results if r.answer is not None]
    summary: dict[str, Any] = {
        "overall": _means(results),
        "by_type": {t: _means(rs) for t, rs in by_type.items()},
        "speed": _speed(results),
    }
    if answered:
        precision, recall = metrics.precision_recall(
            [r.answer.abstained for r in answered if r.answer],
            [not r.question.answerable for r in answered],
        )
        summary["abstention"] = {
            "precision": precision,
            "recall": recall,
            "abstained": sum(bool(r.answer and r.answer.abstained) for r in answered),
            "unanswerable": sum(not r.question.answerable for r in answered),
        }
    summary["baselines"] = {
        constant: _baseline(results, constant, dataset)
        for constant in (*CONSTANT_BASELINES, dataset.unanswerable_answer)
    }
    return summary


def _means(results: Sequence[QueryResult]) -> dict[str, Any]:
    values: dict[str, list[float]] = defaultdict(list)
    for result in results:
        for name, value in result.scores.items():
            values[name].append(value)
    means: dict[str, Any] = {name: sum(v) / len(v) for name, v in sorted(values.items())}
    means["n"] = len(results)
    means["counts"] = {name: len(v) for name, v in sorted(values.items())}
    return means


def _by_type(results: Sequence[QueryResult]) -> dict[str, list[QueryResult]]:
    groups: dict[str, list[QueryResult]] = defaultdict(list)
    for result in results:
        groups[result.question.type].append(result)
    return dict(sorted(groups.items()))


def _baseline(results: Sequence[QueryResult], constant: str, dataset: Dataset) -> dict[str, Any]:
    def scores(rs: Sequence[QueryResult]) -> dict[str, float]:
        golds = [r.question.answers or (dataset.unanswerable_answer,) for r in rs]
        return {
            "strict": sum(metrics.strict_correct(constant, g) for g in golds) / len(rs),
            "lenient": sum(metrics.lenient_correct(constant, g[0]) for g in golds) / len(rs),
        }

    return {
        "overall": scores(results),
        "by_type": {t: scores(rs) for t, rs in _by_type(results).items()},
    }


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


def environment(repo: Path) -> dict[str, Any]:
    """Package versions, Python and the git revision (None outside a checkout)."""
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    try:
        revision = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = bool(
            subprocess.run(
                ["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True
            ).stdout.strip()
        )
    except (OSError, subprocess.CalledProcessError):
        revision, dirty = None, False
    return {
        "python": platform.python_version(),
        "packages": versions,
        "git_revision": revision,
        "git_dirty": dirty,
    }


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


def write_report(out: Path, report: dict[str, Any], results: Sequence[QueryResult]) -> None:
    """Write report.json, report.md, per_query.jsonl and the PNG plots into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2, default=_json_default) + "\n")
    with (out / "per_query.jsonl").open("w") as file:
        for result in results:
            file.write(json.dumps(per_query_record(result), ensure_ascii=False) + "\n")
    (out / "report.md").write_text(render_markdown(report))
    plot(out, report, results)


def _json_default(value: object) -> object:
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


RETRIEVAL_COLUMNS = (
    "hits@4",
    "hits@10",
    "mrr@10",
    "map@10",
    "all_facts@10",
    "article_recall@10",
    "article_ndcg@10",
)
ANSWER_COLUMNS = ("strict", "lenient", "abstained", "cited_with_evidence", "cites_gold_article")


def render_markdown(report: dict[str, Any]) -> str:
    """The report as tables a person reads, with every metric's definition."""
    m = report["metrics"]
    dataset = report["dataset"]
    lines = [
        f"# Evaluation: {Path(dataset['path']).name}",
        "",
        f"{dataset['questions_run']} of {dataset['questions_total']} questions"
        f"{_selection(report['options'])} "
        f"({dataset['format']} format, sha256 {dataset['sha256'][:12]}), "
        f"{'retrieval only' if report['options']['retrieval_only'] else 'retrieval and answers'}; "
        f"run took {report['seconds']:.0f} s. git {report['environment']['git_revision']}"
        f"{' (uncommitted changes)' if report['environment']['git_dirty'] else ''}.",
        "",
        f"Settings: embedder `{report['settings']['embedder']}`, chunks of "
        f"{report['settings']['chunk_tokens']} tokens (overlap "
        f"{report['settings']['chunk_overlap']}), k = {report['settings']['k']}, retriever "
        f"{_retriever(report['settings'])}, model `{report['model']}`.",
        "",
    ]
    for title, columns in (("Retrieval", RETRIEVAL_COLUMNS), ("Answers", ANSWER_COLUMNS)):
        present = [c for c in columns if c in m["overall"]]
        if not present:
            continue
        lines += [f"## {title}", "", _table(m, present), ""]
    if "strict" in m["overall"]:
        lines += [
            "Constant-answer baselines on the same questions (strict / lenient):",
            "",
            "| answer | " + " | ".join(["all", *m["by_type"]]) + " |",
            "|---" * (len(m["by_type"]) + 2) + "|",
        ]
        for constant, base in m["baselines"].items():
            cells = [base["overall"], *base["by_type"].values()]
            lines.append(
                f"| {constant} | "
                + " | ".join(f"{c['strict']:.3f} / {c['lenient']:.3f}" for c in cells)
                + " |"
            )
        lines.append("")
    if "abstention" in m:
        a = m["abstention"]
        lines += [
            "## Abstention",
            "",
            f"{a['abstained']} answers abstained; {a['unanswerable']} questions are "
            f"unanswerable. Precision {a['precision']:.3f}, recall {a['recall']:.3f}.",
            "",
        ]
    lines += ["## Speed", "", "| measure | value |", "|---|---|"]
    lines += [f"| {name} | {value:.3f} |" for name, value in m["speed"].items()]
    lines += ["", "## How each number is computed", ""]
    lines += [f"- **{name}**: {text}" for name, text in DEFINITIONS.items()]
    return "\n".join(lines) + "\n"


def _table(m: dict[str, Any], columns: Sequence[str]) -> str:
    # n: the questions this table scores (retrieval skips questions without evidence).
    rows = ["| type | n | " + " | ".join(columns) + " |", "|---" * (len(columns) + 2) + "|"]
    for name, values in [("all", m["overall"]), *m["by_type"].items()]:
        cells = [f"{values[c]:.3f}" if c in values else "-" for c in columns]
        n = max(values["counts"].get(c, 0) for c in columns)
        rows.append(f"| {name} | {n} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def plot(out: Path, report: dict[str, Any], results: Sequence[QueryResult]) -> None:
    """metrics_by_type.png (bars per question type) and latency.png (histograms)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = report["metrics"]
    names = [
        c for c in ("hits@10", "mrr@10", "all_facts@10", "strict", "lenient") if c in m["overall"]
    ]
    types = list(m["by_type"])
    figure, axes = plt.subplots(figsize=(max(6, 1.6 * len(types) + 2), 4))
    width = 0.8 / max(1, len(names))
    for i, name in enumerate(names):
        values = [m["by_type"][t].get(name, 0.0) for t in types]
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


def compare(a: dict[str, Any], b: dict[str, Any]) -> str:
    """A Markdown table of every overall number in two reports, and B - A."""
    rows = ["| metric | A | B | B - A |", "|---|---|---|---|"]
    flat_a, flat_b = _flatten(a["metrics"]), _flatten(b["metrics"])
    for name in [*flat_a, *(n for n in flat_b if n not in flat_a)]:
        va, vb = flat_a.get(name), flat_b.get(name)
        delta = f"{vb - va:+.3f}" if va is not None and vb is not None else "-"
        rows.append(f"| {name} | {_cell(va)} | {_cell(vb)} | {delta} |")
    return "\n".join(rows) + "\n"


def _flatten(m: dict[str, Any]) -> dict[str, float]:
    flat = {name: v for name, v in m["overall"].items() if name not in ("n", "counts")}
    for section in ("abstention", "speed"):
        flat.update({f"{section}.{k}": v for k, v in m.get(section, {}).items()})
    return {k: float(v) for k, v in flat.items()}


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _retriever(settings: dict[str, Any]) -> str:
    """How passages were found, as report.md says it (old reports had dense search only)."""
    method = settings.get("retriever", "dense")
    if method != "hybrid":
        return f"`{method}`"
    return (
        f"`hybrid` (BM25 weight {settings['bm25_weight']}, {settings['candidates']} candidates "
        f"per retriever, at most {settings['max_per_article']} passages per article, "
        "one search per outlet or date the question names and per clause, chunks also scored "
        "by their best sentence, overlapping passages of one article skipped)"
    )


def _selection(options: dict[str, Any]) -> str:
    """How the questions were chosen, as words ("" for all of them)."""
    said = []
    if options.get("types"):
        said.append("of types " + ", ".join(options["types"]))
    if options.get("held_out"):
        said.append(f"left out of the stratified sample of {options['held_out']}")
    if options.get("limit"):
        said.append(f"a stratified sample of {options['limit']}")
    return f" ({'; '.join(said)})" if said else ""
