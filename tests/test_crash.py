"""A real `rag ingest` killed with SIGKILL at several points, then run again, ends exactly
where an uninterrupted ingest ends: same articles and chunks, nothing pending, no orphans."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import write

from rag.backends.chroma import ChromaStore

pytestmark = pytest.mark.slow


def ingest(corpus: Path, data_dir: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    return subprocess.Popen(
        [sys.executable, "-m", "rag", "ingest", str(corpus), "--data-dir", str(data_dir)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def done_articles(data_dir: Path) -> int:
    try:
        with sqlite3.connect(data_dir / "manifest.sqlite3", timeout=1) as db:
            return int(
                db.execute("SELECT count(*) FROM articles WHERE state = 'done'").fetchone()[0]
            )
    except sqlite3.OperationalError:  # not created yet, or busy
        return 0


def state(data_dir: Path) -> tuple[list[str], list[tuple[str, str, int]], dict[str, int]]:
    """Chunk ids in Chroma, manifest rows (id, state, chunks), chunks per article in Chroma."""
    chunks = ChromaStore(data_dir / "chroma").everything()[0]
    per_article = Counter(chunk.article_id for chunk in chunks)
    with sqlite3.connect(data_dir / "manifest.sqlite3") as db:
        rows = [tuple(r) for r in db.execute("SELECT id, state, chunks FROM articles ORDER BY id")]
    return sorted(chunk.id for chunk in chunks), rows, dict(per_article)  # type: ignore[return-value]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("crash")
    records = [
        {
            "title": f"Story {n}",
            "url": f"https://news.example/{n}",
            "source": "Wire",
            "body": f"Report number {n}. " + "The council met again to discuss the bridge. " * 40,
        }
        for n in range(60)
    ]
    return write(folder / "news.jsonl", "\n".join(json.dumps(r) for r in records))


@pytest.fixture(scope="module")
def reference(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[object, ...]:
    data_dir = tmp_path_factory.mktemp("reference")
    assert ingest(corpus, data_dir).wait(timeout=600) == 0
    return state(data_dir)


@pytest.mark.parametrize("after_articles", [0, 3, 30])
def test_killed_and_rerun_equals_uninterrupted(
    corpus: Path, reference: tuple[object, ...], tmp_path: Path, after_articles: int
) -> None:
    data_dir = tmp_path / "data"
    process = ingest(corpus, data_dir)
    deadline = time.monotonic() + 300
    while done_articles(data_dir) < after_articles and process.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    if after_articles == 0:
        time.sleep(1.0)  # still starting: loading libraries and the model
    assert process.poll() is None, "the ingest finished before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()

    assert ingest(corpus, data_dir).wait(timeout=600) == 0
    ids, rows, per_article = state(data_dir)
    assert (ids, rows, per_article) == reference
    assert all(row[1] == "done" and per_article[row[0]] == row[2] for row in rows)
