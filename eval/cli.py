"""`rag eval`: registered into the `rag` command through the `newsrag.commands` entry point."""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from rag.config import SEARCH_SETTINGS, Settings, add_setting_flags
from rag.errors import InputError, MissingDependencyError

EXAMPLE = """example:
  rag eval --dataset eval/datasets/default.jsonl --corpus corpus/articles
  rag eval --dataset multihop-rag/queries.dev.json --corpus multihop-rag/corpus.json \\
      --retrieval-only --chunk-tokens 256
  rag eval --dataset multihop-rag/queries.dev.json --corpus multihop-rag/corpus.json \\
      --limit 100 --types inference,comparison --out runs/answers
  rag eval compare runs/a runs/b"""


def register(command: Callable[..., argparse.ArgumentParser]) -> None:
    parser = command(
        "eval",
        "Score the pipeline on a question set (retrieval, answers, citations, speed).",
        description="Run the real pipeline on a question set and write a report: "
        "report.json, report.md, per_query.jsonl and PNG plots. "
        "`rag eval compare A B` compares two reports.",
        epilog=EXAMPLE,
    )
    parser.add_argument(
        "compare",
        nargs="*",
        metavar="compare A B",
        help="compare two reports (folders or report.json files)",
    )
    parser.add_argument(
        "--dataset",
        type=Path,
        metavar="PATH",
        help="question set: newsrag JSONL or MultiHop-RAG queries JSON (auto-detected)",
    )
    parser.add_argument(
        "--corpus",
        type=Path,
        metavar="PATH",
        help="articles the questions are about; "
        "indexed separately (cached), never into your main index",
    )
    parser.add_argument(
        "--out", type=Path, metavar="DIR", help="output folder (default: eval-runs/DATASET-TIME)"
    )
    parser.add_argument(
        "--limit", type=_positive, metavar="N", help="a stratified sample of N questions"
    )
    parser.add_argument(
        "--held-out",
        type=_positive,
        metavar="N",
        help="only the questions that --limit N leaves out (to report on what was not tuned on)",
    )
    parser.add_argument(
        "--types",
        metavar="TYPE,...",
        help="only these question types, comma-separated "
        "(a prefix is enough: inference,comparison)",
    )
    parser.add_argument(
        "--retrieval-only", action="store_true", help="score retrieval only; no model is loaded"
    )
    add_setting_flags(
        parser,
        [
            "model",
            "llm_url",
            "max_tokens",
            "threads",
            "chunk_tokens",
            "chunk_overlap",
            "context_tokens",
            "cache_dir",
            *SEARCH_SETTINGS,
        ],
    )
    parser.set_defaults(handler=run)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def run(settings: Settings, args: argparse.Namespace) -> int:
    if args.compare:
        return _compare(args.compare)
    if args.dataset is None:
        raise InputError(
            "rag eval needs --dataset (or: rag eval compare A B)",
            hint="See `rag eval --help` for examples.",
        )
    if importlib.util.find_spec("matplotlib") is None:
        raise MissingDependencyError(
            "rag eval draws its plots with matplotlib, which is not installed",
            hint="pip install 'newsrag[eval]'",
        )
    from tqdm import tqdm

    from eval.output import write_report
    from eval.questions import load_dataset
    from eval.report import (
        CorpusInfo,
        DatasetInfo,
        Options,
        Report,
        environment,
    )
    from eval.runner import QueryResult, corpus_index, evaluate, select
    from eval.summary import summarize
    from rag.models import describe_model
    from rag.pipeline import Pipeline

    started = time.perf_counter()
    dataset = load_dataset(args.dataset)
    types = [t.strip() for t in args.types.split(",")] if args.types else None
    questions = select(dataset.questions, types=types, limit=args.limit, held_out=args.held_out)
    live = sys.stderr.isatty()
    if args.corpus is not None:
        with tqdm(desc="indexing corpus", unit=" articles", disable=not live) as bar:
            settings = corpus_index(args.corpus, settings, on_article=lambda *_: bar.update())
    pipeline = Pipeline(settings)
    running: dict[str, list[float]] = {}

    with tqdm(total=len(questions), desc="evaluating", unit=" q", disable=not live) as bar:

        def show(result: QueryResult) -> None:
            for name in ("hits@10", "mrr@10", "strict", "lenient"):
                if name in result.scores:
                    running.setdefault(name, []).append(result.scores[name])
            bar.set_postfix({n: f"{sum(v) / len(v):.3f}" for n, v in running.items()})
            bar.update()

        results = evaluate(
            dataset, questions, pipeline, retrieval_only=args.retrieval_only, on_result=show
        )

    stamp = datetime.now(UTC)
    out = args.out or Path("eval-runs") / f"{args.dataset.stem}-{stamp:%Y%m%d-%H%M%S}"
    summary = summarize(results, dataset)
    report = Report(
        created_at=stamp.isoformat(timespec="seconds"),
        seconds=time.perf_counter() - started,
        dataset=DatasetInfo(
            path=str(args.dataset),
            format=dataset.format,
            sha256=dataset.sha256,
            questions_total=len(dataset.questions),
            questions_run=len(questions),
        ),
        corpus=CorpusInfo(str(args.corpus), str(settings.data_dir)) if args.corpus else None,
        options=Options(
            limit=args.limit,
            held_out=args.held_out,
            types=types,
            retrieval_only=args.retrieval_only,
        ),
        settings=settings.model_dump(mode="json"),
        model=None if args.retrieval_only else describe_model(settings),
        environment=environment(Path(__file__).resolve().parent.parent),
        metrics=summary,
    )
    write_report(out, report, results)
    shown = ", ".join(f"{k} {v:.3f}" for k, v in summary.overall.scores.items())
    print(f"{len(results)} questions: {shown}")
    print(f"report: {out / 'report.md'}")
    return 0


def _compare(arguments: list[str]) -> int:
    from eval.markdown import compare
    from eval.summary import Summary

    if len(arguments) != 3 or arguments[0] != "compare":
        raise InputError(
            f"unexpected arguments: {' '.join(arguments)}",
            hint="Use `rag eval --dataset PATH ...` or `rag eval compare A B`.",
        )
    reports = []
    for name in arguments[1:]:
        path = Path(name)
        path = path / "report.json" if path.is_dir() else path
        try:
            report = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise InputError(
                f"cannot read report {path}: {exc}",
                hint="Pass two folders written by `rag eval --out`.",
            ) from exc
        if not isinstance(report, dict) or "overall" not in report.get("metrics", {}):
            raise InputError(
                f"{path} is not a rag eval report",
                hint="Pass two folders written by `rag eval --out`.",
            )
        reports.append(report)
    a, b = (Summary.from_json(report["metrics"]) for report in reports)
    print(compare(a, b), end="")
    return 0
