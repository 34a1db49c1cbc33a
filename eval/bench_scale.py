"""Benchmark: the index in the data dir's Chroma against the same index on a Chroma server
(issue #16), for docs/scaling.md.

    python -m eval.bench_scale --corpus ../shared/data/multihop-rag/corpus.json \\
        --dataset ../shared/data/multihop-rag/queries.dev.json --out runs/scale

The corpus is indexed once into the evaluation's cache (as `rag eval --corpus` does); a copy of
its Chroma folder is then served by `chroma run` on 127.0.0.1. For each mode, a process of its
own loads the embedder, then the search index, and searches the first `QUESTIONS` questions:
the memory the search index adds to that process (resident set growth, from /proc), the
search time, and the 30 chunks nearest each question by its vector alone (exact in memory,
Chroma's HNSW on the server: how many agree). A reader of the server runs twice: first it
builds the search index (chunks and BM25) from the server, then it loads what it saved, as
every later start does. For the server, its resident set serving the index against an empty
server's. Per million chunks is each figure divided by the chunks, times a million (all grow
with the chunks: texts, BM25's postings, vectors). Writes report.json and prints it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

QUESTIONS = 100
MILLION = 1_000_000


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["child"]:
        return _child(json.loads(argv[1]))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, required=True, help="MultiHop-RAG corpus.json")
    parser.add_argument("--dataset", type=Path, required=True, help="queries.dev.json")
    parser.add_argument("--out", type=Path, required=True, help="folder for report.json")
    args = parser.parse_args(argv)
    report = run(args.corpus, args.dataset)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "report.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    return 0


def run(corpus: Path, dataset: Path) -> dict[str, Any]:
    from eval.runner import corpus_index
    from eval.servers import chroma_server
    from rag.config import load_settings

    settings = corpus_index(corpus, load_settings())
    folder = settings.data_dir / "chroma"
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as scratch:
        copy = Path(scratch) / "chroma"
        shutil.copytree(folder, copy)
        with chroma_server(Path(scratch) / "empty") as empty:
            empty_rss = _rss(empty.process.pid)
        embedded = _child_run({"data_dir": str(settings.data_dir), "dataset": str(dataset)})
        with chroma_server(copy) as server:
            url = server.url
            reader = str(Path(scratch) / "reader")
            spec = {"url": url, "data_dir": reader, "dataset": str(dataset)}
            built = _child_run(spec)  # builds the search index from the server, and saves it
            served = _child_run(spec)  # loads it, as every later start does
            server_rss = _rss(server.process.pid)
    chunks = embedded["chunks"]
    agree = [
        len(set(exact) & set(approximate)) / len(exact)
        for exact, approximate in zip(embedded.pop("nearest"), served.pop("nearest"), strict=True)
    ]
    built.pop("nearest")
    return {
        "chunks": chunks,
        "embedded": embedded,
        "served": served,
        "served_first_start": built,
        "dense_top30_agreement": {"mean": statistics.mean(agree), "min": min(agree)},
        "server": {"rss_mb": server_rss, "empty_rss_mb": empty_rss},
        "per_million_chunks_gb": {
            "embedded process": embedded["index_mb"] / chunks * MILLION / 1000,
            "reader process on a server": served["index_mb"] / chunks * MILLION / 1000,
            "chroma server": (server_rss - empty_rss) / chunks * MILLION / 1000,
            "chroma folder on disk": _size_mb(folder) / chunks * MILLION / 1000,
        },
    }


def _child(spec: dict[str, Any]) -> int:
    """One mode's process: the search index's memory and the search times."""
    from eval.questions import load_dataset
    from rag.config import load_settings
    from rag.pipeline import Pipeline
    from rag.types import Filters

    overrides = {"data_dir": Path(spec["data_dir"]), "chroma_url": spec.get("url")}
    pipeline = Pipeline(load_settings(overrides))
    questions = [q.question for q in load_dataset(Path(spec["dataset"])).questions[:QUESTIONS]]
    pipeline.embedder.embed_queries(["warm up"])
    before, started = _rss("self"), time.perf_counter()
    pipeline.search(questions[0], k=10)  # loads (or builds) the search index
    first_s, index_mb = time.perf_counter() - started, _rss("self") - before
    times = []
    for question in questions:
        started = time.perf_counter()
        pipeline.search(question, k=10)
        times.append(time.perf_counter() - started)
    times.sort()
    vectors = pipeline.embedder.embed_queries(questions)
    nearest = [  # the 30 nearest chunks to each question: exact in memory, HNSW on a server
        [pipeline.index.chunks[row].id for row in pipeline.index.nearest(v, Filters(), 30)]
        for v in vectors
    ]
    print(
        json.dumps(
            {
                "chunks": len(pipeline.index.chunks),
                "index_mb": index_mb,
                "first_search_s": first_s,
                "rss_mb": _rss("self"),
                "search_p50_s": statistics.median(times),
                "search_p95_s": times[int(0.95 * (len(times) - 1))],
                "nearest": nearest,
            }
        )
    )
    return 0


def _child_run(spec: dict[str, Any]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "eval.bench_scale", "child", json.dumps(spec)],
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _rss(pid: int | str) -> float:
    """The resident set of process `pid` ("self": this one), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def _size_mb(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 1e6


if __name__ == "__main__":
    sys.exit(main())
