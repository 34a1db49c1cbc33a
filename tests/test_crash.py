"""`rag ingest` killed with SIGKILL at random points, then run again, ends exactly where an
uninterrupted ingest ends: the same articles, chunk ids and texts, vectors and BM25 scores.

Ten trials kill a process that embeds with the keyword embedder at the model seam (so that an
ingest takes seconds and its vectors are exact); one more kills a real `rag ingest` with the
real embedder (slow)."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, rag_env, write
from index_state import index_state

TRIALS = 10
SEED = 17


def corpus(folder: Path, articles: int) -> Path:
    records = [
        {
            "title": f"Story {n}",
            "url": f"https://news.example/{n}",
            "source": "Wire",
            "body": f"Report number {n}. " + "The council met again to discuss the bridge. " * 40,
        }
        for n in range(articles)
    ]
    return write(folder / "news.jsonl", "\n".join(json.dumps(r) for r in records))


def ingest(news: Path, data_dir: Path, *, fake: bool) -> subprocess.Popen[bytes]:
    command = [str(REPO / "tests" / "fake_rag.py")] if fake else ["-m", "rag"]
    return subprocess.Popen(
        [sys.executable, *command, "--data-dir", str(data_dir), "ingest", str(news)],
        env=rag_env(data_dir.parent),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def killed_then_rerun(news: Path, data_dir: Path, after: float, *, fake: bool) -> bool:
    """Kill an ingest `after` seconds in, then run it again to the end; False when it ended
    before it could be killed."""
    process = ingest(news, data_dir, fake=fake)
    try:
        process.wait(timeout=after)
        return False
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert ingest(news, data_dir, fake=fake).wait(timeout=600) == 0
    return True


def test_killed_at_random_points_and_rerun_equals_uninterrupted(tmp_path: Path) -> None:
    news = corpus(tmp_path / "news", 100)
    started = time.monotonic()
    assert ingest(news, tmp_path / "reference" / "data", fake=True).wait(timeout=600) == 0
    seconds = time.monotonic() - started
    reference = index_state(tmp_path / "reference" / "data")
    draw = random.Random(SEED)
    kills = late = 0
    while kills < TRIALS:
        after = draw.uniform(0.02, 0.95) * seconds
        data_dir = tmp_path / f"trial-{kills}-{late}" / "data"
        if not killed_then_rerun(news, data_dir, after, fake=True):
            late += 1  # this run was faster than the reference: not a trial
            assert late <= TRIALS, "most ingests ended before they could be killed"
            continue
        differences = index_state(data_dir).differences(reference)
        assert not differences, f"killed after {after:.2f} s: {differences}"
        kills += 1
    print(
        f"\nkill trials: {kills}/{TRIALS} identical (ingest of {seconds:.1f} s; {late} ended first)"
    )


@pytest.mark.slow
def test_a_real_ingest_killed_and_rerun_equals_uninterrupted(tmp_path: Path) -> None:
    news = corpus(tmp_path / "news", 60)
    started = time.monotonic()
    assert ingest(news, tmp_path / "reference" / "data", fake=False).wait(timeout=600) == 0
    seconds = time.monotonic() - started
    trial = tmp_path / "trial" / "data"
    assert killed_then_rerun(news, trial, 0.6 * seconds, fake=False)
    # The int8 embedder quantizes a batch as a whole: a chunk embedded in another batch on the
    # re-run may differ in the last digits.
    reference = index_state(tmp_path / "reference" / "data")
    assert not index_state(trial).differences(reference, atol=0.02)
