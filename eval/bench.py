"""Benchmark: newsrag against the usual LangChain tutorial recipe and against the hardware's
limits, in one run on one machine (issue #15).

    python -m eval.bench --corpus ../shared/data/multihop-rag/corpus.json \\
        --dataset ../shared/data/multihop-rag/queries.dev.json --out runs/bench
    python -m eval.bench --corpus ... --dataset ... --quick     # a few articles, ~2 minutes

Both systems get the same articles, embedder, GGUF model and held-out questions; each
ingest and each answering run is a process of its own (`eval.bench_child`). Writes
report.json, report.md and bench.png (see `eval.bench_report`, and eval/README.md for what
each figure means).
"""

from __future__ import annotations

import argparse
import json
import os
import pty
import select
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eval.bench_report import write_bench
from eval.questions import Dataset, Question, load_dataset
from eval.runner import select as select_questions
from rag.config import Settings, cores, load_settings
from rag.errors import InputError
from rag.pipeline import default_corpus

SAMPLE = 100
"""Questions answered: the stratified sample of 100 that `--held-out 100` takes, which tuning
(on `--limit 100`) never saw."""
COLD_QUESTION = "Who attended the London meeting?"


@dataclass(frozen=True)
class Scale:
    """How much of each measurement a run does."""

    questions: int | None
    """None: the held-out sample; else this many answerable questions with evidence."""
    articles: int | None
    """None: the whole corpus; else the questions' evidence articles and others up to this."""
    sample_chunks: int
    prompts: int
    decode_tokens: int


FULL = Scale(questions=None, articles=None, sample_chunks=1500, prompts=5, decode_tokens=64)
QUICK = Scale(questions=4, articles=20, sample_chunks=100, prompts=2, decode_tokens=32)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, required=True, help="MultiHop-RAG corpus.json")
    parser.add_argument("--dataset", type=Path, required=True, help="queries.dev.json")
    parser.add_argument("--out", type=Path, help="output folder (default: eval-runs/bench-TIME)")
    parser.add_argument("--quick", action="store_true", help="a few articles and questions")
    args = parser.parse_args(argv)
    stamp = datetime.now(UTC)
    out = args.out or Path("eval-runs") / f"bench-{stamp:%Y%m%d-%H%M%S}"
    with tempfile.TemporaryDirectory(prefix="newsrag-bench-") as scratch:
        report = run(args.corpus, args.dataset, Path(scratch), scale=QUICK if args.quick else FULL)
    report["created_at"] = stamp.isoformat(timespec="seconds")
    write_bench(out, report)
    print(f"report: {out / 'report.md'}")
    return 0


def run(corpus: Path, dataset_path: Path, scratch: Path, *, scale: Scale) -> dict[str, Any]:
    """Every measurement, in order; the figures as report.json holds them."""
    started = time.perf_counter()
    dataset = load_dataset(dataset_path)
    questions = select_questions(dataset.questions, types=None, limit=SAMPLE, held_out=SAMPLE)
    if scale.questions is not None:
        with_evidence = [q for q in questions if q.answerable and any(e.quote for e in q.evidence)]
        questions = select_questions(with_evidence, types=None, limit=scale.questions)
    given = corpus
    if scale.articles is not None:
        corpus = _small_corpus(corpus, questions, scratch / "corpus.json", size=scale.articles)
    chosen = {q.id for q in questions}
    warmup = next(q.question for q in dataset.questions if q.id not in chosen)
    settings = load_settings({"data_dir": scratch / "newsrag"})
    threads = settings.threads or cores()
    spec: dict[str, Any] = {
        "settings": settings.model_dump(mode="json"),
        "corpus": str(corpus),
        "dataset": str(dataset_path),
        "question_ids": [q.id for q in questions],
        "warmup": warmup,
        "recipe_dir": str(scratch / "recipe"),
        "threads": threads,
        "prompts": scale.prompts,
        "sample_chunks": scale.sample_chunks,
        "decode_tokens": scale.decode_tokens,
    }
    ingest = _child("newsrag_ingest", spec, scratch)
    recipe_ingest = _child("recipe_ingest", spec, scratch)
    answers = _child("newsrag_answers", spec, scratch)
    recipe_answers = _child("recipe_answers", spec, scratch)
    cli = _cli_times(settings, corpus, scratch)  # after the model check has passed once
    spec["recipe_prompts"] = [r["prompt"] for r in recipe_answers["questions"] if r["prompt"]]
    spec["newsrag_prompts"] = [r["prompt"] for r in answers["questions"]]
    limits = _child("limits", spec, scratch)
    return {
        "quick": scale.questions is not None,
        "seconds": time.perf_counter() - started,
        "corpus": {"path": str(given), "articles": ingest["articles"]},
        "dataset": _dataset_info(dataset, dataset_path, questions),
        "settings": spec["settings"],
        "threads": threads,
        "scale": scale.__dict__,
        "runs": {
            "newsrag_ingest": ingest,
            "recipe_ingest": recipe_ingest,
            "newsrag_answers": answers,
            "recipe_answers": recipe_answers,
            "limits": limits,
            "cli": cli,
        },
    }


def _small_corpus(corpus: Path, questions: list[Question], target: Path, *, size: int) -> Path:
    """The articles holding the questions' evidence, then others in file order, up to `size`."""
    try:
        items = json.loads(corpus.read_text(encoding="utf-8"))
        wanted = {e.article_id for q in questions for e in q.evidence}
        picked = [a for a in items if a.get("url") in wanted]
        picked += [a for a in items if a.get("url") not in wanted][: max(0, size - len(picked))]
    except (OSError, ValueError, AttributeError, TypeError) as exc:
        raise InputError(
            f"--quick needs a MultiHop-RAG corpus.json (a JSON array of articles): {exc}",
            hint="Pass --corpus as MultiHop-RAG's corpus.json, or run without --quick.",
        ) from exc
    target.write_text(json.dumps(picked), encoding="utf-8")
    return target


def _child(task: str, spec: dict[str, Any], scratch: Path) -> dict[str, Any]:
    """Run one task in a new process; its figures, with `wall_s` from spawn to done."""
    print(f"bench: {task.replace('_', ' ')} ...", file=sys.stderr, flush=True)
    spec_file, out_file = scratch / f"{task}.spec.json", scratch / f"{task}.json"
    spec_file.write_text(json.dumps(spec))
    spawned = time.time()
    done = subprocess.run(
        [sys.executable, "-m", "eval.bench_child", task, str(spec_file), str(out_file)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench: {task} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out_file.read_text())
    result["wall_s"] = result["done_at"] - spawned
    return result


def _cli_times(settings: Settings, corpus: Path, scratch: Path) -> dict[str, float]:
    """`rag` as a user meets it, each command a new process: a no-change re-ingest of the
    corpus, `--help`, `status`, and a cold `rag ask` on the default corpus's index."""
    print("bench: rag commands ...", file=sys.stderr, flush=True)
    rag = [sys.executable, "-m", "rag"]
    env = {**os.environ, "RAG_CACHE_DIR": str(settings.cache_dir)}
    index = env | {"RAG_DATA_DIR": str(settings.data_dir)}
    default = env | {"RAG_DATA_DIR": str(scratch / "default")}
    _timed([*rag, "ingest", str(default_corpus())], default)  # beforehand, not a figure
    first, total = _first_output([*rag, "ask", COLD_QUESTION], default)
    return {
        "reingest_s": _timed([*rag, "ingest", str(corpus)], index),
        "help_s": _timed([*rag, "--help"], env),
        "status_s": _timed([*rag, "status"], default),
        "cold_ask_first_output_s": first,
        "cold_ask_total_s": total,
    }


def _timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"bench: {' '.join(command[2:])} failed:\n{done.stderr[-3000:]}")
    return seconds


def _first_output(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Seconds from spawning `command` to its first streamed output, and to its exit.

    stderr is a terminal (a pty) so that `rag ask` streams its progress there as the model
    writes; the first output is the first token's progress line, or the first byte of the
    answer on stdout when the answer declines before the model writes anything.
    """
    control, terminal = pty.openpty()
    started = time.perf_counter()
    process = subprocess.Popen(
        command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=terminal
    )
    os.close(terminal)
    assert process.stdout is not None
    streams = {process.stdout.fileno(): b"", control: b""}
    first: float | None = None
    while streams:
        ready, _, _ = select.select(list(streams), [], [], 1.0)
        for fd in ready:
            try:
                data = os.read(fd, 4096)
            except OSError:  # the pty once the process has gone
                data = b""
            if not data:
                del streams[fd]
                continue
            streams[fd] += data
            if first is None and (fd != control or b"writing the answer" in streams[fd]):
                first = time.perf_counter() - started
        if not ready and process.poll() is not None:
            break
    total = (process.wait(), time.perf_counter() - started)[1]
    os.close(control)
    if process.returncode != 0 or first is None:
        raise RuntimeError(f"bench: rag ask failed:\n{streams.get(control, b'')[-3000:]!r}")
    return first, total


def _dataset_info(dataset: Dataset, path: Path, questions: list[Question]) -> dict[str, Any]:
    return {
        "path": str(path),
        "sha256": dataset.sha256,
        "questions_total": len(dataset.questions),
        "questions_run": len(questions),
        "types": sorted({q.type for q in questions}),
    }


if __name__ == "__main__":
    raise SystemExit(main())
