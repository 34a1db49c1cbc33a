"""Incremental, crash-safe ingests: the manifest, real Chroma, a counting fake embedder."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import pytest
from conftest import KeywordEmbedder, write

from rag import ingest
from rag.config import Settings
from rag.errors import IndexMismatchError
from rag.lock import WRITE_LOCK
from rag.pipeline import Pipeline
from rag.seams import Vectors

KEYWORDS = ["london", "paris", "rome"]


class CountingEmbedder(KeywordEmbedder):
    """Counts the texts it embeds; raises on the text holding `fail_on`, to stage a crash."""

    def __init__(self, fail_on: str | None = None) -> None:
        super().__init__(KEYWORDS)
        self.embedded = 0
        self.fail_on = fail_on

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        if self.fail_on and any(self.fail_on in t for t in texts):
            raise KeyboardInterrupt  # as if the process were stopped here
        self.embedded += len(texts)
        return super().embed_documents(texts)


def dump(path: Path, *bodies: str) -> Path:
    records = [
        {"title": f"Story {n}", "url": f"https://x.example/{n}", "source": "Post", "body": body}
        for n, body in enumerate(bodies)
    ]
    return write(path, "\n".join(json.dumps(r) for r in records))


def chunk_ids(pipeline: Pipeline) -> list[str]:
    return sorted(chunk.id for chunk in pipeline.store.everything()[0])


def state(pipeline: Pipeline) -> tuple[list[str], list[tuple[str, str]]]:
    """Chunk ids, and (article id, state) of every manifest entry."""
    return chunk_ids(pipeline), [(e.id, e.state) for e in pipeline.manifest.entries()]


def indexed(pipeline: Pipeline) -> list[tuple[str | None, str | None]]:
    """(source, url) of every chunk in the store."""
    return [(chunk.source, chunk.url) for chunk in pipeline.store.everything()[0]]


def test_an_unchanged_rerun_embeds_nothing(settings: Settings, tmp_path: Path) -> None:
    source = dump(tmp_path / "a.jsonl", "London one.", "Paris two.", "Rome three.")
    embedder = CountingEmbedder()
    pipeline = Pipeline(settings, embedder=embedder)
    assert pipeline.ingest([source]).outcomes == {"new": 3}
    before, ids = embedder.embedded, chunk_ids(pipeline)
    report = pipeline.ingest([source])
    assert report.outcomes == {"unchanged": 3} and report.chunks == 0
    assert embedder.embedded == before
    assert chunk_ids(pipeline) == ids


def test_a_changed_article_replaces_its_chunks(settings: Settings, tmp_path: Path) -> None:
    pipeline = Pipeline(settings, embedder=CountingEmbedder())
    pipeline.ingest([dump(tmp_path / "a.jsonl", "London one.", "Paris " * 300)])
    assert pipeline.store.count() > 2
    report = pipeline.ingest([dump(tmp_path / "a.jsonl", "London one.", "Paris, shorter.")])
    assert report.outcomes == {"unchanged": 1, "changed": 1}
    assert chunk_ids(pipeline) == ["https://x.example/0::0", "https://x.example/1::0"]


def test_new_chunk_settings_reindex_everything(settings: Settings, tmp_path: Path) -> None:
    source = dump(tmp_path / "a.jsonl", "London one.", "Paris two.")
    Pipeline(settings, embedder=CountingEmbedder()).ingest([source])
    smaller = Pipeline(
        settings.model_copy(update={"chunk_tokens": 100}), embedder=CountingEmbedder()
    )
    assert smaller.ingest([source]).outcomes == {"changed": 2}


def test_an_exact_duplicate_is_stored_once_with_every_source(
    settings: Settings, tmp_path: Path
) -> None:
    first = dump(tmp_path / "post.jsonl", "London talks went ahead.")
    second = write(
        tmp_path / "herald.jsonl",
        json.dumps(
            {
                "title": "Talks",
                "url": "https://herald.example/t",
                "source": "Herald",
                "body": "London talks went ahead.",
            }
        ),
    )
    pipeline = Pipeline(settings, embedder=CountingEmbedder())
    assert pipeline.ingest([first, second]).outcomes == {"new": 1, "copy": 1}
    assert indexed(pipeline) == [("Post", "https://x.example/0")]
    assert pipeline.ingest([first, second]).outcomes == {"unchanged": 1, "copy": 1}
    pipeline.remove(["https://x.example/0"])  # the copy kept its source: it takes the text over
    assert indexed(pipeline) == [("Herald", "https://herald.example/t")]


@pytest.mark.parametrize(
    ("batch", "resumed_outcomes"),
    [
        (ingest.BATCH_CHUNKS, {"changed": 3}),  # all three in the batch that crashed
        (1, {"unchanged": 1, "changed": 1, "new": 1}),  # London written, Rome never admitted
    ],
)
def test_an_interrupted_ingest_finishes_on_the_next_run(
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    batch: int,
    resumed_outcomes: dict[str, int],
) -> None:
    monkeypatch.setattr(ingest, "BATCH_CHUNKS", batch)
    source = dump(tmp_path / "a.jsonl", "London one.", "Paris two.", "Rome three.")
    crashing = Pipeline(settings, embedder=CountingEmbedder(fail_on="Paris"))
    with pytest.raises(KeyboardInterrupt):
        crashing.ingest([source])
    assert crashing.manifest.get("https://x.example/1").state == "pending"
    assert crashing.status().last_ingest.finished_at is None
    assert not crashing.is_empty()  # a next question must not add the default corpus

    resumed = Pipeline(settings, embedder=CountingEmbedder())
    assert resumed.ingest([source]).outcomes == resumed_outcomes
    clean = Pipeline(
        settings.model_copy(update={"data_dir": tmp_path / "clean"}), embedder=CountingEmbedder()
    )
    clean.ingest([source])
    assert chunk_ids(resumed) == chunk_ids(clean)
    assert [e.state for e in resumed.manifest.entries()] == ["done"] * 3


def test_status_shows_the_last_ingest_and_its_problems(settings: Settings, tmp_path: Path) -> None:
    source = dump(tmp_path / "a.jsonl", "London one.")
    broken = write(tmp_path / "b.jsonl", "{nope\n")
    pipeline = Pipeline(settings, embedder=CountingEmbedder())
    pipeline.ingest([source, broken])
    last = pipeline.status().last_ingest
    assert last is not None and last.finished_at is not None
    assert last.summary == {"new": 1, "chunks": 1}
    assert [p.origin for p in last.problems] == [f"{broken}:1"]


def test_prune_removes_articles_gone_from_a_folder(settings: Settings, tmp_path: Path) -> None:
    folder = tmp_path / "news"
    keep = write(folder / "keep.txt", "London stays.")
    gone = write(folder / "gone.txt", "Paris leaves.")
    elsewhere = write(tmp_path / "other" / "rome.txt", "Rome elsewhere.")
    pipeline = Pipeline(settings, embedder=CountingEmbedder())
    pipeline.ingest([folder, elsewhere])
    gone.unlink()
    assert pipeline.ingest([folder]).outcomes == {"unchanged": 1}  # without --prune: kept
    assert pipeline.store.count() == 3
    report = pipeline.ingest([folder], prune=True)
    assert report.outcomes == {"unchanged": 1, "removed": 1}
    assert sorted(e.file for e in pipeline.manifest.entries()) == [
        str(keep.resolve()),
        str(elsewhere.resolve()),
    ]
    assert pipeline.store.count() == 2


def test_source_option_and_remove_by_source(settings: Settings, tmp_path: Path) -> None:
    pipeline = Pipeline(settings, embedder=CountingEmbedder())
    pipeline.ingest([write(tmp_path / "a.txt", "London one.")], source="Wire")
    pipeline.ingest([write(tmp_path / "b.txt", "Paris two.")])
    assert pipeline.status().stats.sources == {"Wire": 1, "(unknown)": 1}
    pipeline.remove([entry.id for entry in pipeline.manifest.find(source="Wire")])
    assert pipeline.status().stats.sources == {"(unknown)": 1}
    assert [e.source for e in pipeline.manifest.entries()] == [None]


def test_three_copies_of_an_indexed_text_point_at_it(settings: Settings, tmp_path: Path) -> None:
    pipeline = Pipeline(settings, embedder=CountingEmbedder())
    pipeline.ingest([dump(tmp_path / "a.jsonl", "Same words.")])
    others = [
        {"title": "T", "url": f"https://o.example/{n}", "body": "Same words."} for n in range(2)
    ]
    later = write(tmp_path / "b.jsonl", "\n".join(json.dumps(r) for r in others))
    assert pipeline.ingest([later]).outcomes == {"copy": 2}
    assert pipeline.store.count() == 1
    # Both copies point at it: with it gone, one takes the text over and the other points there.
    pipeline.remove(["https://x.example/0"])
    assert state(pipeline) == (["https://o.example/0::0"], [("https://o.example/0", "done")])
    pipeline.remove(["https://o.example/0"])
    assert state(pipeline) == (["https://o.example/1::0"], [("https://o.example/1", "done")])


def test_prune_keeps_what_failed_to_read_and_follows_moves(
    settings: Settings, tmp_path: Path
) -> None:
    news, archive = tmp_path / "news", tmp_path / "archive"
    flaky = dump(news / "flaky.jsonl", "London one.")
    moving = write(news / "moving.txt", "Paris two.")
    pipeline = Pipeline(settings, embedder=CountingEmbedder())
    pipeline.ingest([news])
    flaky.write_text("{broken\n")  # still there, but unreadable this time
    archive.mkdir()
    moving.rename(archive / "moving.txt")
    pipeline.ingest([archive])  # unchanged, now read from archive/
    report = pipeline.ingest([news], prune=True)
    assert report.outcomes == {"removed": 0}
    assert pipeline.store.count() == 2


def story(path: Path, url: str, body: str, source: str = "Post") -> Path:
    return write(path, json.dumps({"title": "T", "url": url, "source": source, "body": body}))


@pytest.mark.parametrize("how", ["change", "remove"])
def test_copies_get_their_own_chunks_when_the_holder_lets_go(
    settings: Settings, tmp_path: Path, how: str
) -> None:
    holder = story(tmp_path / "a.json", "https://a.example/1", "London talks went ahead.")
    copy = story(tmp_path / "b.json", "https://b.example/1", "London talks went ahead.", "Herald")
    pipeline = Pipeline(settings, embedder=CountingEmbedder())
    assert pipeline.ingest([holder, copy]).outcomes == {"new": 1, "copy": 1}
    if how == "change":
        story(holder, "https://a.example/1", "Paris talks were called off.")
        assert pipeline.ingest([holder]).outcomes == {"changed": 1}
    else:
        pipeline.remove(["https://a.example/1"])
    clean = Pipeline(
        settings.model_copy(update={"data_dir": tmp_path / "clean"}), embedder=CountingEmbedder()
    )
    clean.ingest([holder, copy] if how == "change" else [copy])
    assert state(pipeline) == state(clean)
    entry = pipeline.manifest.get("https://b.example/1")
    assert entry is not None and (entry.origin, entry.source) == (f"{copy} record 1", "Herald")
    results = pipeline.search("London talks", k=1).passages
    assert results[0].chunk.article_id == "https://b.example/1"
    assert results[0].chunk.url == "https://b.example/1"


def test_a_copy_rehomed_when_a_crash_hits_is_finished_by_the_next_run(
    settings: Settings, tmp_path: Path
) -> None:
    holder = story(tmp_path / "a.json", "https://a.example/1", "London talks went ahead.")
    copy = story(tmp_path / "b.json", "https://b.example/1", "London talks went ahead.", "Herald")
    Pipeline(settings, embedder=CountingEmbedder()).ingest([holder, copy])
    story(holder, "https://a.example/1", "Paris talks were called off.")
    crashing = Pipeline(settings, embedder=CountingEmbedder(fail_on="London"))
    with pytest.raises(KeyboardInterrupt):  # after the holder's new text, during the copy's
        crashing.ingest([holder])
    resumed = Pipeline(settings, embedder=CountingEmbedder())
    resumed.ingest([holder])
    clean = Pipeline(
        settings.model_copy(update={"data_dir": tmp_path / "clean"}), embedder=CountingEmbedder()
    )
    clean.ingest([holder, copy])
    assert state(resumed) == state(clean)


def test_prune_forgets_copies_whose_file_is_gone(settings: Settings, tmp_path: Path) -> None:
    folder = tmp_path / "news"
    holder = story(folder / "a.json", "https://a.example/1", "London talks went ahead.")
    copy = story(folder / "b.json", "https://b.example/1", "London talks went ahead.", "Herald")
    pipeline = Pipeline(settings, embedder=CountingEmbedder())
    pipeline.ingest([folder])
    copy.unlink()
    assert pipeline.ingest([folder], prune=True).outcomes == {"unchanged": 1, "removed": 1}
    pipeline.remove(["https://a.example/1"])  # the copy is forgotten: nothing takes the text over
    assert state(pipeline) == ([], [])
    pipeline.ingest([folder])
    holder.unlink()
    pipeline.ingest([folder], prune=True)
    assert state(pipeline) == ([], [])


def test_articles_are_embedded_and_stored_together(settings: Settings, tmp_path: Path) -> None:
    source = dump(tmp_path / "a.jsonl", "London one.", "Paris two.", "Rome three.")
    embedder = CountingEmbedder()
    calls: list[int] = []
    embed = embedder.embed_documents

    def counted(texts: Sequence[str]) -> Vectors:
        calls.append(len(texts))
        return embed(texts)

    embedder.embed_documents = counted  # type: ignore[method-assign]
    pipeline = Pipeline(settings, embedder=embedder)
    assert pipeline.ingest([source]).outcomes == {"new": 3}
    assert calls == [3]  # the three articles in one batch
    dump(tmp_path / "a.jsonl", "London, a new text.", "Paris two.", "Rome three.")
    assert pipeline.ingest([source]).outcomes == {"changed": 1, "unchanged": 2}
    texts = {c.article_id: c.text for c in pipeline.store.everything()[0]}
    assert texts["https://x.example/0"] == "London, a new text."
    assert len(texts) == 3 and [e.state for e in pipeline.manifest.entries()] == ["done"] * 3


def records(path: Path, *articles: tuple[str, str]) -> Path:
    """A JSON Lines file of (url, body) articles."""
    lines = [json.dumps({"title": "Story", "url": url, "body": body}) for url, body in articles]
    return write(path, "\n".join(lines))


def test_a_copy_and_its_holder_both_changed_keep_their_new_texts(
    settings: Settings, tmp_path: Path
) -> None:
    pipeline = Pipeline(settings, embedder=CountingEmbedder())
    source = records(
        tmp_path / "a.jsonl", ("https://b", "London one."), ("https://a", "London one.")
    )
    assert pipeline.ingest([source]).outcomes == {"new": 1, "copy": 1}
    # The copy comes first now, waiting to be embedded when its old holder changes.
    records(tmp_path / "a.jsonl", ("https://a", "Paris two."), ("https://b", "Rome three."))
    pipeline.ingest([source])
    texts = {c.article_id: c.text for c in pipeline.store.everything()[0]}
    assert texts == {"https://a": "Paris two.", "https://b": "Rome three."}
    assert [e.state for e in pipeline.manifest.entries()] == ["done", "done"]


def test_another_embedder_is_refused_before_any_article_is_admitted(
    settings: Settings, tmp_path: Path
) -> None:
    source = dump(tmp_path / "a.jsonl", "London one.")
    Pipeline(settings, embedder=CountingEmbedder()).ingest([source])
    other = CountingEmbedder()
    other.name = "another-model"
    dump(tmp_path / "a.jsonl", "London, a new text.")
    with pytest.raises(IndexMismatchError, match="another-model"):
        Pipeline(settings, embedder=other).ingest([source])
    pipeline = Pipeline(settings, embedder=CountingEmbedder())
    assert [e.state for e in pipeline.manifest.entries()] == ["done"]
    assert pipeline.status().stats.articles == 1


def test_a_second_writer_on_one_data_dir_refuses_until_the_first_is_gone(
    settings: Settings, tmp_path: Path
) -> None:
    import subprocess
    import sys

    from rag.errors import InputError

    news = write(tmp_path / "news" / "a.md", "# Bridge\n\nThe bridge closed.")
    lock = settings.data_dir / WRITE_LOCK
    settings.data_dir.mkdir(parents=True)
    holder = subprocess.Popen(  # another process in the middle of a write: it holds the lock
        [
            sys.executable,
            "-c",
            "import fcntl, sys, time\n"
            f"lock = open({str(lock)!r}, 'a+')\n"
            "fcntl.flock(lock, fcntl.LOCK_EX); lock.write('process 4242'); lock.flush()\n"
            "print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        pipeline = Pipeline(settings, embedder=KeywordEmbedder(["bridge"]))
        for write_once in (lambda: pipeline.ingest([news]), pipeline.remove_all):
            with pytest.raises(InputError, match=r"another process \(process 4242\) is writing"):
                write_once()
        assert pipeline.is_empty()
    finally:
        holder.kill()  # killed, as a crash would: the lock goes with it
        holder.wait()
    assert pipeline.ingest([news]).outcomes == {"new": 1}
    assert lock.read_text() == f"process {os.getpid()}"
