"""Benchmark: ingest a corpus from scratch, compare with the embedder's raw throughput, and
time a no-change re-run.

    python -m eval.bench_ingest --corpus ../shared/data/multihop-rag/corpus.json

Prints JSON: wall time, articles/s, chunks/s and peak RSS of the ingest (models loaded
first, not timed); the embedder's own encode throughput on the same chunk texts, in batches
of 32; their ratio; and the wall time of `rag ingest` run again with nothing changed (a
new process, so imports and start-up count).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rag.chunking import chunk_article, embedding_text
from rag.config import load_settings
from rag.load import load_articles
from rag.pipeline import Pipeline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--limit", type=int, help="only the first N articles (quick check)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="newsrag-bench-") as scratch:
        corpus = args.corpus
        if args.limit:  # a smaller corpus file holding the first N articles
            articles = json.loads(corpus.read_text())[: args.limit]
            corpus = Path(scratch) / "corpus.json"
            corpus.write_text(json.dumps(articles))
        data_dir = Path(scratch) / "data"
        settings = load_settings({"data_dir": data_dir})
        pipeline = Pipeline(settings)
        embedder = pipeline.embedder  # loaded before the clock starts

        started = time.perf_counter()
        report = pipeline.ingest([corpus])
        ingest_s = time.perf_counter() - started
        peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

        texts = [
            embedding_text(chunk)
            for article in load_articles([corpus]).articles
            for chunk in chunk_article(
                article,
                size=settings.chunk_tokens,
                overlap=settings.chunk_overlap,
                count_tokens=embedder.count_tokens,
            )
        ]
        started = time.perf_counter()
        for start in range(0, len(texts), 32):
            embedder.embed_documents(texts[start : start + 32])
        encode_s = time.perf_counter() - started

        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "rag", "ingest", str(corpus), "--data-dir", str(data_dir)],
            check=True,
            capture_output=True,
        )
        rerun_s = time.perf_counter() - started

    pipeline_rate = report.chunks / ingest_s
    raw_rate = len(texts) / encode_s
    print(
        json.dumps(
            {
                "corpus": str(args.corpus),
                "articles": report.articles,
                "chunks": report.chunks,
                "ingest_s": round(ingest_s, 1),
                "articles_per_s": round(report.articles / ingest_s, 2),
                "chunks_per_s": round(pipeline_rate, 2),
                "peak_rss_mb": round(peak_rss_mb),
                "raw_encode_chunks_per_s": round(raw_rate, 2),
                "pipeline_to_raw_ratio": round(pipeline_rate / raw_rate, 3),
                "no_change_rerun_s": round(rerun_s, 2),
                "settings": {
                    "embedder": settings.embedder,
                    "chunk_tokens": settings.chunk_tokens,
                    "chunk_overlap": settings.chunk_overlap,
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
