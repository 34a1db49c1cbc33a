"""An evaluation report as Markdown: report.md's tables, with every metric's definition,
and the table that compares two runs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eval.summary import Summary

if TYPE_CHECKING:
    from eval.report import Options, Report

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


def render_markdown(report: Report) -> str:
    """The report as tables a person reads, with every metric's definition."""
    m, dataset, settings = report.metrics, report.dataset, report.settings
    lines = [
        f"# Evaluation: {Path(dataset.path).name}",
        "",
        f"{dataset.questions_run} of {dataset.questions_total} questions"
        f"{_selection(report.options)} "
        f"({dataset.format} format, sha256 {dataset.sha256[:12]}), "
        f"{'retrieval only' if report.options.retrieval_only else 'retrieval and answers'}; "
        f"run took {report.seconds:.0f} s. git {report.environment.git_revision}"
        f"{' (uncommitted changes)' if report.environment.git_dirty else ''}.",
        "",
        f"Settings: embedder `{settings['embedder']}`, chunks of "
        f"{settings['chunk_tokens']} tokens (overlap "
        f"{settings['chunk_overlap']}), k = {settings['k']}, retriever "
        f"{_retriever(settings)}, model `{report.model}`.",
        "",
    ]
    for title, columns in (("Retrieval", RETRIEVAL_COLUMNS), ("Answers", ANSWER_COLUMNS)):
        present = [c for c in columns if c in m.overall.scores]
        if not present:
            continue
        lines += [f"## {title}", "", _table(m, present), ""]
    if "strict" in m.overall.scores:
        lines += [
            "Constant-answer baselines on the same questions (strict / lenient):",
            "",
            "| answer | " + " | ".join(["all", *m.by_type]) + " |",
            "|---" * (len(m.by_type) + 2) + "|",
        ]
        for constant, base in m.baselines.items():
            cells = [base.overall, *base.by_type.values()]
            lines.append(
                f"| {constant} | "
                + " | ".join(f"{c['strict']:.3f} / {c['lenient']:.3f}" for c in cells)
                + " |"
            )
        lines.append("")
    if (a := m.abstention) is not None:
        lines += [
            "## Abstention",
            "",
            f"{a.abstained} answers abstained; {a.unanswerable} questions are "
            f"unanswerable. Precision {a.precision:.3f}, recall {a.recall:.3f}.",
            "",
        ]
    lines += ["## Speed", "", "| measure | value |", "|---|---|"]
    lines += [f"| {name} | {value:.3f} |" for name, value in m.speed.items()]
    lines += ["", "## How each number is computed", ""]
    lines += [f"- **{name}**: {text}" for name, text in DEFINITIONS.items()]
    return "\n".join(lines) + "\n"


def _table(m: Summary, columns: Sequence[str]) -> str:
    # n: the questions this table scores (retrieval skips questions without evidence).
    rows = ["| type | n | " + " | ".join(columns) + " |", "|---" * (len(columns) + 2) + "|"]
    for name, means in [("all", m.overall), *m.by_type.items()]:
        cells = [f"{means.scores[c]:.3f}" if c in means.scores else "-" for c in columns]
        n = max(means.counts.get(c, 0) for c in columns)
        rows.append(f"| {name} | {n} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def compare(a: Summary, b: Summary) -> str:
    """A Markdown table of every overall number of two runs, and B - A."""
    rows = ["| metric | A | B | B - A |", "|---|---|---|---|"]
    flat_a, flat_b = _flatten(a), _flatten(b)
    for name in [*flat_a, *(n for n in flat_b if n not in flat_a)]:
        va, vb = flat_a.get(name), flat_b.get(name)
        delta = f"{vb - va:+.3f}" if va is not None and vb is not None else "-"
        rows.append(f"| {name} | {_cell(va)} | {_cell(vb)} | {delta} |")
    return "\n".join(rows) + "\n"


def _flatten(m: Summary) -> dict[str, float]:
    flat: dict[str, float] = dict(m.overall.scores)
    sections = {"abstention": asdict(m.abstention) if m.abstention else {}, "speed": m.speed}
    for section, values in sections.items():
        flat.update({f"{section}.{k}": float(v) for k, v in values.items()})
    return flat


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


def _selection(options: Options) -> str:
    """How the questions were chosen, as words ("" for all of them)."""
    said = []
    if options.types:
        said.append("of types " + ", ".join(options.types))
    if options.held_out:
        said.append(f"left out of the stratified sample of {options.held_out}")
    if options.limit:
        said.append(f"a stratified sample of {options.limit}")
    return f" ({'; '.join(said)})" if said else ""
