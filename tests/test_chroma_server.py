"""The index on a real Chroma server (`chroma run` on 127.0.0.1, started here): the same
results as Chroma in the data dir, writes seen by readers elsewhere, restarts, a server that
stops mid-ingest, and shards. The embedder is a fake (hashed words), so this stays fast."""

from __future__ import annotations

import json
import random
import re
import threading
import zlib
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import write
from servers import chroma_server, free_port, stop

from rag import ingest
from rag.config import Settings
from rag.errors import ConfigError, InputError, StoreError
from rag.ingest import ArticleDone
from rag.pipeline import Pipeline
from rag.seams import Vectors
from rag.types import Filters

WORDS = (
    "harbour bridge council vote budget minister ceasefire talks London Paris court trial "
    "startup funding chip factory election poll storm flood museum prize league final "
    "vaccine study climate summit tariff export bank rate strike union rail port"
)
SOURCES = ("Post", "Herald", "Gazette")


class HashEmbedder:
    """Hashed word counts: distinct texts get distinct vectors, so rankings have no ties."""

    name = "fake-hash"
    dim = 64
    max_length = 512

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        rows = []
        for text in texts:
            vector = np.full(self.dim, 0.01, dtype=np.float32)
            for word in re.findall(r"\w+", text.lower()):
                vector[zlib.crc32(word.encode()) % self.dim] += 1
            rows.append(vector / np.linalg.norm(vector))
        return np.stack(rows) if rows else np.zeros((0, self.dim), dtype=np.float32)

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        return self.embed_documents(texts)

    def count_tokens(self, text: str) -> int:
        return len(text.split())


def corpus(folder: Path, count: int = 24) -> Path:
    """`count` articles of random news words, each a file, over three sources and October
    2023; returns the folder."""
    rng = random.Random(7)
    for n in range(count):
        vocabulary = WORDS.split()
        body = ". ".join(" ".join(rng.choices(vocabulary, k=12)) for _ in range(rng.randint(3, 9)))
        record = {
            "title": f"Story {n}",
            "url": f"https://x.example/{n}",
            "source": SOURCES[n % 3],
            "published_at": f"2023-10-{1 + n % 28:02d}",
            "body": body + ".",
        }
        write(folder / f"{n:02d}.json", json.dumps(record))
    return folder


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with chroma_server(tmp_path_factory.mktemp("chroma") / "db") as chroma:
        yield chroma.url


def served(settings: Settings, url: str, name: str, **changes: Any) -> Pipeline:
    """A pipeline on collection `name` of the server at `url`, with a data dir of its own."""
    update = {"chroma_url": url, "collection": f"test-{name}", "embedder": "fake-hash", **changes}
    update.setdefault("data_dir", settings.data_dir.with_name(f"data-{name}"))
    return Pipeline(settings.model_copy(update=update), embedder=HashEmbedder())


def stored(pipeline: Pipeline) -> list[tuple[str, str, str | None, str]]:
    """What the store holds: each chunk's id, text, source and day, in id order."""
    return [(c.id, c.text, c.source, f"{c.published_at:%Y-%m-%d}") for c in pipeline.store.chunks()]


SEARCHES = [
    ("harbour bridge vote", Filters()),
    ("ceasefire talks in London", Filters(since=date(2023, 10, 10))),
    ("chip factory funding", Filters(until=date(2023, 10, 12))),
    ("storm flood port", Filters(sources=("Herald",))),
    ("bank rate strike", Filters(date(2023, 10, 5), date(2023, 10, 20), ("Post", "Gazette"))),
]


def test_a_chroma_server_finds_what_the_embedded_store_finds(
    settings: Settings, server: str, tmp_path: Path
) -> None:
    news = corpus(tmp_path / "news")
    local = Pipeline(settings, embedder=HashEmbedder())
    remote = served(settings, server, "same")
    local.ingest([news])
    remote.ingest([news])
    assert stored(remote) == stored(local)
    for question, filters in SEARCHES:
        near, far = (p.search(question, k=8, filters=filters).passages for p in (local, remote))
        assert [p.chunk.id for p in far] == [p.chunk.id for p in near], question
        assert [p.found_by for p in far] == [p.found_by for p in near], question
        assert [p.score for p in far] == pytest.approx([p.score for p in near], abs=1e-5)
        assert far, question
    # Dense search ran on the server: the search index there keeps no vectors.
    assert (local.index.path / "vectors.npy").is_file()
    assert not (remote.index.path / "vectors.npy").exists()
    assert remote.status().stats == local.status().stats
    assert remote.status().store == f"the Chroma server {server}, collection test-same"


def test_re_runs_removals_and_prunes_on_the_server(
    settings: Settings, server: str, tmp_path: Path
) -> None:
    news = corpus(tmp_path / "news", count=6)
    pipeline = served(settings, server, "writes")
    assert pipeline.ingest([news]).outcomes == {"new": 6}
    assert pipeline.ingest([news]).outcomes == {"unchanged": 6}
    story = json.loads((news / "00.json").read_text())
    write(news / "00.json", json.dumps({**story, "body": "The harbour bridge reopened."}))
    assert pipeline.ingest([news]).outcomes == {"changed": 1, "unchanged": 5}
    assert pipeline.search("harbour bridge reopened", k=1).passages[0].chunk.text == (
        "The harbour bridge reopened."
    )
    pipeline.remove(["https://x.example/1"])
    assert "https://x.example/1" not in {c.article_id for c in pipeline.store.chunks()}
    (news / "01.json").unlink()  # else the next ingest reads it as new again
    (news / "02.json").unlink()
    assert pipeline.ingest([news], prune=True).outcomes == {"unchanged": 4, "removed": 1}
    assert {c.article_id for c in pipeline.store.chunks()} == {
        f"https://x.example/{n}" for n in (0, 3, 4, 5)
    }
    assert {a.id for a in pipeline.articles()} == {c.article_id for c in pipeline.index.chunks}


def test_a_reader_elsewhere_sees_another_machines_writes(
    settings: Settings, server: str, tmp_path: Path
) -> None:
    writer = served(settings, server, "shared", data_dir=tmp_path / "writer")
    reader = served(settings, server, "shared", data_dir=tmp_path / "reader")
    writer.ingest([corpus(tmp_path / "news", count=4)])
    reader.check_ready()
    assert len(reader.articles()) == 4 and reader.status().stats.articles == 4
    assert reader.status().last_ingest is None  # this machine ingested nothing
    news = write(
        tmp_path / "late.json",
        json.dumps({"title": "Late", "url": "https://x.example/late", "body": "Zebras voted."}),
    )
    writer.ingest([news])
    found = reader.search("zebras", k=1).passages
    assert [p.chunk.article_id for p in found] == ["https://x.example/late"]
    assert len(reader.articles()) == 5


def test_an_empty_or_unreachable_server_is_a_clear_error(settings: Settings, server: str) -> None:
    with pytest.raises(InputError, match="collection test-empty holds no articles") as empty:
        served(settings, server, "empty").check_ready()
    assert "rag ingest --chroma-url" in empty.value.hint
    down = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(StoreError, match=f"cannot reach the Chroma server at {down}") as error:
        _ = served(settings, down, "down").store
    assert "chroma run" in error.value.hint


def test_the_index_survives_a_server_restart(settings: Settings, tmp_path: Path) -> None:
    port = free_port()
    with chroma_server(tmp_path / "db", port) as chroma:
        served(settings, chroma.url, "kept").ingest([corpus(tmp_path / "news", count=3)])
    with chroma_server(tmp_path / "db", port) as chroma:
        reader = served(settings, chroma.url, "kept", data_dir=tmp_path / "elsewhere")
        assert len(reader.articles()) == 3
        assert reader.search("harbour bridge", k=2).passages


def test_a_server_stopped_mid_ingest_is_a_clear_error_and_loses_nothing_confirmed(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest, "BATCH_CHUNKS", 1)  # each article written on its own
    news = corpus(tmp_path / "news", count=6)
    port = free_port()
    confirmed: list[str] = []
    with chroma_server(tmp_path / "db", port) as chroma:
        pipeline = served(settings, chroma.url, "stopped")

        def stop_after_two(done: ArticleDone) -> None:
            confirmed.append(done.article.id)
            if len(confirmed) == 2:
                stop(chroma.process)

        with pytest.raises(StoreError, match=f"cannot reach the Chroma server at {chroma.url}"):
            pipeline.ingest([news], on_article=stop_after_two)
    assert len(confirmed) == 2
    with chroma_server(tmp_path / "db", port) as chroma:
        again = served(settings, chroma.url, "stopped")  # the same data dir: its manifest
        assert {c.article_id for c in again.store.chunks()} >= set(confirmed)
        report = again.ingest([news])
        assert report.outcomes.get("unchanged") == 2 and sum(report.outcomes.values()) == 6
        ids = [c.id for c in again.store.chunks()]
        assert len(ids) == len(set(ids))
        assert {c.article_id for c in again.store.chunks()} == {
            f"https://x.example/{n}" for n in range(6)
        }


def test_two_shards_ingested_at_once_equal_one_run(
    settings: Settings, server: str, tmp_path: Path
) -> None:
    news = corpus(tmp_path / "news", count=20)
    whole = served(settings, server, "whole")
    whole.ingest([news])
    shards = [served(settings, server, "sharded", data_dir=tmp_path / f"shard{n}") for n in (1, 2)]
    reports: dict[int, Any] = {}

    def run(number: int) -> None:
        reports[number] = shards[number - 1].ingest([news], shard=(number, 2))

    threads = [threading.Thread(target=run, args=(n,)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert stored(shards[0]) == stored(whole)
    new = [reports[n].outcomes.get("new", 0) for n in (1, 2)]
    assert sum(new) == 20 and all(new)
    assert [reports[n].outcomes["in other shards"] for n in (1, 2)] == [20 - new[0], 20 - new[1]]
    # A data dir keeps one shard's manifest: another shard, or the whole corpus, is refused.
    with pytest.raises(ConfigError, match="keeps shard 1/2, not shard 2/2"):
        shards[0].ingest([news], shard=(2, 2))
    with pytest.raises(ConfigError, match="keeps shard 1/2, not the whole corpus"):
        shards[0].ingest([news])


def test_a_shard_needs_a_chroma_server_and_removals_keep_to_their_index(
    settings: Settings, server: str, tmp_path: Path
) -> None:
    news = corpus(tmp_path / "news", count=2)
    local = Pipeline(settings.model_copy(update={"embedder": "fake-hash"}), embedder=HashEmbedder())
    with pytest.raises(ConfigError, match="--shard splits an ingest"):
        local.ingest([news], shard=(1, 2))
    local.ingest([news])
    # The same data dir, pointed at a server: its manifest holds the data dir's articles.
    elsewhere = served(settings, server + "/", "claimed", data_dir=settings.data_dir)
    with pytest.raises(
        ConfigError,
        match="keeps the data dir's Chroma, collection newsrag-chunks, not the Chroma server",
    ):
        elsewhere.remove_all()
    assert len(local.articles()) == 2
