"""The bench's figures, ratios and targets (from what `eval.bench` measured), and its files:
report.json (everything, per-question rows included), report.md and bench.png."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict
from importlib import metadata
from pathlib import Path
from typing import Any

from eval.metrics import percentile
from eval.report import environment
from rag.config import Settings
from rag.models import describe_model

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("langchain-core", "langchain-chroma", "langchain-huggingface", "langchain-community")
TARGETS: list[tuple[str, str, str, float]] = [
    # (figure, what it is, comparison, bound): the targets.
    ("ingest_ratio", "ingest wall time, newsrag / recipe", "<=", 0.6),
    ("rss_ratio", "ingest peak RSS, newsrag / recipe", "<=", 1.0),
    ("hits_difference", "Hits@10, newsrag - recipe", ">=", 0.20),
    ("embed_ratio", "embedding throughput, pipeline / fastest raw encode", ">=", 0.9),
    ("first_token_ratio", "warm time to first token p50, newsrag / recipe", "<=", 0.3),
    ("answer_ratio", "whole answer p50, newsrag / recipe", "<=", 0.5),
    ("strict_difference", "strict accuracy, newsrag - recipe", ">=", 0.0),
    ("reingest_s", "no-change re-ingest (new process), s", "<", 3.0),
    ("cold_ask_first_output_s", "cold `rag ask`, first output, s", "<=", 8.0),
    ("help_s", "`rag --help`, s", "<", 0.5),
    ("status_s", "`rag status`, s", "<", 0.5),
]
COMPARE: dict[str, Callable[[float, float], bool]] = {
    "<=": lambda v, b: v <= b,
    "<": lambda v, b: v < b,
    ">=": lambda v, b: v >= b,
}
DEFINITIONS = [
    "**ingest wall time**: from spawning the ingest's process (interpreter start, imports "
    "and model load included) to the index being complete, before the process exits; the "
    "same for both systems. **peak RSS**: `getrusage(RUSAGE_SELF).ru_maxrss` of that process.",
    "**pipeline embedding throughput**: chunks embedded / seconds spent inside newsrag's "
    "`embed_documents` during that ingest. **raw encode**: MiniLM alone on an evenly spread "
    "sample of the chunk texts newsrag embeds (title + chunk): torch's "
    "`SentenceTransformer.encode` (batches of 32) and ONNX Runtime on newsrag's export "
    "(`tokenizers`, sorted by length, padded per batch, best of batches 8/16/32, one thread "
    "per core); tokenizing is timed in both.",
    "**Hits@10, MRR@10**: MultiHop-RAG's scoring (`eval.metrics.multihop_retrieval`) of the "
    "first 10 passages (newsrag: `Pipeline.search`; recipe: `similarity_search(k=10)`) over "
    "the answerable questions with quoted evidence.",
    "**strict accuracy**: `eval.metrics.strict_correct` over every question, scored by "
    "`eval.runner.score`: an abstention counts as the dataset's unanswerable answer. "
    "newsrag's abstentions are its own; the recipe's answer abstains when it says it "
    "doesn't (or does not) know, as its prompt asks. **lenient**: the benchmark's own "
    "`qa_evaluate.py` (the answer and the gold share a word), which favours long answers.",
    "**time to first token** (warm: one model loaded, one warm-up question not counted): from "
    "the call (`Pipeline.ask`; the recipe chain's `stream`) to the first streamed token, "
    "retrieval included; a newsrag answer declined before the model writes counts its whole "
    "time (its first output). **whole answer**: from the call to the complete answer.",
    "**raw prompt / decode tokens/s**: llama.cpp alone (`Llama.eval` of the recipe's stuffed "
    "prompts, chat template applied, from an empty context; then greedy tokens one at a "
    "time). **newsrag raw prefill**: newsrag's own prompt (the first one its model reads for "
    "a question) in tokens / raw prompt tokens/s; set against newsrag's time to first token.",
    "**rag commands**: each a new process (`python -m rag`): a no-change `rag ingest` of the "
    "corpus; `rag --help`; `rag status`; and a cold `rag ask` on an index of the default "
    "corpus, timed from spawning it to its first streamed output (the progress line of the "
    "first token, stderr being a terminal).",
]


def system(ingest: dict[str, Any], answers: dict[str, Any]) -> dict[str, Any]:
    """One system's figures from its ingest and answering runs."""
    rows = answers["questions"]

    def mean(name: str) -> float:
        values = [r["scores"][name] for r in rows if name in r["scores"]]
        return sum(values) / len(values) if values else math.nan

    first = [r["first_token_s"] if r["first_token_s"] is not None else r["answer_s"] for r in rows]
    total = [r["answer_s"] for r in rows]
    return {
        "ingest_s": ingest["wall_s"],
        "ingest_peak_rss_mb": ingest["peak_rss_mb"],
        "articles": ingest["articles"],
        "chunks": ingest["chunks"],
        "questions": len(rows),
        "hits@10": mean("hits@10"),
        "mrr@10": mean("mrr@10"),
        "strict": mean("strict"),
        "lenient": mean("lenient"),
        "abstained": sum(r["abstained"] for r in rows),
        "model_wrote": sum(r["first_token_s"] is not None for r in rows),
        "first_token_p50_s": percentile(first, 50),
        "first_token_p95_s": percentile(first, 95),
        "answer_p50_s": percentile(total, 50),
        "answer_p95_s": percentile(total, 95),
        "answer_peak_rss_mb": answers["peak_rss_mb"],
    }


def figures(runs: dict[str, Any]) -> dict[str, Any]:
    """Every figure of the report: per system, the limits, the commands and the ratios."""
    newsrag = system(runs["newsrag_ingest"], runs["newsrag_answers"])
    recipe = system(runs["recipe_ingest"], runs["recipe_answers"])
    ingest, limits, cli = runs["newsrag_ingest"], runs["limits"], runs["cli"]
    newsrag["embed_chunks_per_s"] = ingest["embedded_texts"] / ingest["embed_seconds"]
    onnx = limits["onnx_chunks_per_s"]
    best_batch = max(onnx, key=onnx.get)
    fastest = max(limits["torch_chunks_per_s"], onnx[best_batch])
    rows = runs["newsrag_answers"]["questions"]
    wrote = [
        (r["first_token_s"], tokens)
        for r, tokens in zip(rows, limits["newsrag_prompt_tokens"], strict=True)
        if r["first_token_s"] is not None and tokens
    ]
    prefill = [tokens / limits["prompt_tokens_per_s"] for _, tokens in wrote]
    raw = {
        "sample_chunks": limits["sample_chunks"],
        "torch_chunks_per_s": limits["torch_chunks_per_s"],
        "onnx_chunks_per_s": onnx[best_batch],
        "onnx_best_batch": int(best_batch),
        "fastest_raw_chunks_per_s": fastest,
        "prompt_tokens_per_s": limits["prompt_tokens_per_s"],
        "decode_tokens_per_s": limits["decode_tokens_per_s"],
        "recipe_prompt_tokens_p50": percentile(limits["recipe_prompt_tokens"], 50),
        "newsrag_prompt_tokens_p50": percentile([t for _, t in wrote], 50),
        "newsrag_raw_prefill_p50_s": percentile(prefill, 50),
        "newsrag_first_token_p50_s": percentile([f for f, _ in wrote], 50),
    }
    ratios = {
        "ingest_ratio": newsrag["ingest_s"] / recipe["ingest_s"],
        "rss_ratio": newsrag["ingest_peak_rss_mb"] / recipe["ingest_peak_rss_mb"],
        "hits_difference": newsrag["hits@10"] - recipe["hits@10"],
        "embed_ratio": newsrag["embed_chunks_per_s"] / fastest,
        "first_token_ratio": newsrag["first_token_p50_s"] / recipe["first_token_p50_s"],
        "answer_ratio": newsrag["answer_p50_s"] / recipe["answer_p50_s"],
        "strict_difference": newsrag["strict"] - recipe["strict"],
        "first_token_to_raw_prefill": raw["newsrag_first_token_p50_s"]
        / raw["newsrag_raw_prefill_p50_s"],
    }
    newsrag["reingest_s"] = cli["reingest_s"]
    values = {**ratios, **cli}
    targets = [
        {"figure": f, "what": what, "value": values[f], "target": f"{op} {bound:g}"}
        | {"met": COMPARE[op](values[f], bound)}
        for f, what, op, bound in TARGETS
    ]
    return {
        "newsrag": newsrag,
        "recipe": recipe,
        "limits": raw,
        "cli": cli,
        "ratios": ratios,
        "targets": targets,
    }


def write_bench(out: Path, report: dict[str, Any]) -> None:
    """report.json, report.md and bench.png of a bench run into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    report = {**report, **figures(report["runs"])}
    report["environment"] = asdict(environment(REPO))
    report["environment"]["packages"] |= {p: _version(p) for p in PACKAGES}
    report["model"] = describe_model(Settings.model_validate(report["settings"]))
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "report.md").write_text(markdown(report))
    plot(out / "bench.png", report)


def markdown(report: dict[str, Any]) -> str:
    n, r, lim, cli = report["newsrag"], report["recipe"], report["limits"], report["cli"]
    env, settings = report["environment"], report["settings"]
    quick = (
        "**A quick run** (`--quick`): a few articles and questions; a check that the bench "
        "works, not a measurement to quote.\n\n"
        if report["quick"]
        else ""
    )
    chosen = (
        "answerable ones with evidence, stratified"
        if report["quick"]
        else "the stratified held-out sample of 100"
    )
    dirty = " (uncommitted changes)" if env["git_dirty"] else ""
    lines = [
        "# Bench: newsrag, the LangChain tutorial recipe, and the hardware's limits",
        "",
        f"{quick}{n['articles']} articles of {report['corpus']['path']}, {n['questions']} "
        f"questions of {report['dataset']['path']} ({chosen}); model {report['model']}, "
        f"embedder `{settings['embedder']}`, {report['threads']} threads; "
        f"git {env['git_revision']}{dirty}; run took {report['seconds']:.0f} s.",
        "",
        "## Targets (issue #15)",
        "",
        "| measure | value | target | met |",
        "|---|---|---|---|",
        *(
            f"| {t['what']} | {t['value']:.3f} | {t['target']} | "
            + ("met |" if t["met"] else "not met |")
            for t in report["targets"]
        ),
        "",
        "## newsrag and the recipe",
        "",
        "| figure | newsrag | recipe |",
        "|---|---|---|",
    ]
    for key in (
        "ingest_s",
        "ingest_peak_rss_mb",
        "chunks",
        "hits@10",
        "mrr@10",
        "strict",
        "lenient",
        "abstained",
        "first_token_p50_s",
        "first_token_p95_s",
        "answer_p50_s",
        "answer_p95_s",
        "answer_peak_rss_mb",
    ):
        lines.append(f"| {key} | {_cell(n[key])} | {_cell(r[key])} |")
    lines += [
        f"| embed_chunks_per_s | {_cell(n['embed_chunks_per_s'])} | - |",
        f"| reingest_s | {_cell(n['reingest_s'])} | - |",
        "",
        f"newsrag's model wrote {n['model_wrote']} of its {n['questions']} answers (the rest "
        "were declined before it ran). newsrag: chunks of "
        f"{settings['chunk_tokens']} tokens, hybrid retrieval, k = {settings['k']}; recipe: "
        "1000-character chunks (overlap 200), 4 nearest chunks stuffed into the prompt.",
        "",
        "## The limits",
        "",
        "| figure | value |",
        "|---|---|",
        *(f"| {key} | {_cell(value)} |" for key, value in lim.items()),
        "| newsrag TTFT p50 / its raw prefill p50 | "
        + f"{_cell(report['ratios']['first_token_to_raw_prefill'])} |",
        "",
        "## rag commands",
        "",
        "| command | seconds |",
        "|---|---|",
        *(f"| {key} | {value:.3f} |" for key, value in cli.items()),
        "",
        "## How each figure is computed",
        "",
        *(f"- {text}" for text in DEFINITIONS),
    ]
    return "\n".join(lines) + "\n"


def plot(target: Path, report: dict[str, Any]) -> None:
    """Bars: newsrag beside the recipe, embedding throughput beside the raw encodes, and the
    commands' times against their targets."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n, r, lim, cli = report["newsrag"], report["recipe"], report["limits"], report["cli"]
    panels: list[tuple[str, Sequence[str], Sequence[float]]] = [
        (title, ("newsrag", "recipe"), (n[key], r[key]))
        for title, key in (
            ("ingest wall time, s", "ingest_s"),
            ("ingest peak RSS, MB", "ingest_peak_rss_mb"),
            ("Hits@10", "hits@10"),
            ("strict accuracy", "strict"),
            ("time to first token p50, s", "first_token_p50_s"),
            ("whole answer p50, s", "answer_p50_s"),
        )
    ]
    panels.append(
        (
            "embedding, chunks/s",
            ("pipeline", "torch", "onnx"),
            (n["embed_chunks_per_s"], lim["torch_chunks_per_s"], lim["onnx_chunks_per_s"]),
        )
    )
    panels.append(("rag commands, s", tuple(cli), tuple(cli.values())))
    figure, axes = plt.subplots(2, 4, figsize=(14, 6.5))
    for axis, (title, names, values) in zip(axes.flat, panels, strict=True):
        axis.bar(range(len(values)), values, color=["C0", "C1", "C2", "C3", "C4"][: len(values)])
        axis.set_xticks(
            range(len(values)), names, rotation=30 if len(names) > 3 else 0, fontsize="small"
        )
        axis.set_title(title, fontsize="medium")
    figure.suptitle("newsrag vs the LangChain recipe" + (" (quick run)" if report["quick"] else ""))
    figure.tight_layout()
    figure.savefig(target, dpi=100)
    plt.close(figure)


def _cell(value: float) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None
