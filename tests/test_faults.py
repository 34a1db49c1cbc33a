"""A damaged index, a full disk and a read-only data dir: each is detected and either
rebuilt with a warning (the search index) or refused with a clear error and the command that
repairs it, and a repair or a re-run ends exactly where an undisturbed ingest ends."""

from __future__ import annotations

import logging
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from chromadb.api.shared_system_client import SharedSystemClient
from conftest import REPO, KeywordEmbedder, write
from fake_rag import KEYWORDS
from index_state import index_state

from rag.config import Settings
from rag.doctor import run_checks
from rag.pipeline import Pipeline


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The settings `tests/fake_rag.py` runs with: the embedder's name is in every article's
    content hash."""
    return settings.model_copy(update={"embedder": "fake-keyword"})


@pytest.fixture
def news(tmp_path: Path) -> Path:
    folder = tmp_path / "news"
    for n in range(6):
        write(
            folder / f"story-{n}.md",
            f"---\ntitle: Story {n}\nsource: Wire\npublished_at: 2025-03-0{n + 1}\n---\n\n"
            f"Report number {n}. The council met in London about the bridge crack. " * (5 + n),
        )
    return folder


def ingested(settings: Settings, news: Path) -> Pipeline:
    pipeline = Pipeline(settings, embedder=KeywordEmbedder(KEYWORDS))
    pipeline.ingest([news])
    return pipeline


def searches(pipeline: Pipeline) -> list[list[str]]:
    return [
        [p.chunk.id for p in pipeline.search(q, k=4).passages]
        for q in ("bridge crack", "council London", "report number 3")
    ]


def garble(path: Path) -> None:
    path.write_bytes(b"\x00not what was written\xff" * 64)


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


SEARCH_DAMAGE: dict[str, Callable[[Path], None]] = {
    "chunks garbled": lambda s: garble(s / "chunks.jsonl"),
    "chunks truncated": lambda s: truncate(s / "chunks.jsonl"),
    "vectors garbled": lambda s: garble(s / "vectors.npy"),
    "BM25 files garbled": lambda s: [
        garble(f) for f in s.iterdir() if f.is_file() and f.name != "meta.json"
    ],
    "sentences deleted": lambda s: shutil.rmtree(s / "sentences"),
}


@pytest.mark.parametrize("damage", SEARCH_DAMAGE)
def test_an_unreadable_search_index_is_rebuilt_from_chroma_with_a_warning(
    settings: Settings, news: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    before = searches(ingested(settings, news))
    SEARCH_DAMAGE[damage](settings.data_dir / "search")
    with caplog.at_level(logging.WARNING):
        after = searches(Pipeline(settings, embedder=KeywordEmbedder(KEYWORDS)))
    assert after == before
    assert f"the search index in {settings.data_dir / 'search'} cannot be read" in caplog.text


@pytest.mark.parametrize("part", ["folder", "meta file"])
def test_a_deleted_search_index_is_rebuilt_from_chroma(
    settings: Settings, news: Path, part: str
) -> None:
    before = searches(ingested(settings, news))
    search = settings.data_dir / "search"
    shutil.rmtree(search) if part == "folder" else (search / "meta.json").unlink()
    assert searches(Pipeline(settings, embedder=KeywordEmbedder(KEYWORDS))) == before


def remove_one_articles_chunks(data_dir: Path) -> None:
    from rag.backends.chroma import ChromaStore

    store = ChromaStore(data_dir / "chroma")
    store.remove_articles([store.chunks()[0].article_id])


INDEX_DAMAGE: dict[str, tuple[Callable[[Path], None], str]] = {
    "manifest deleted": (
        lambda d: (d / "manifest.sqlite3").unlink(),
        r"manifest.sqlite3 is missing, and .*chroma is not",
    ),
    "manifest garbled": (lambda d: garble(d / "manifest.sqlite3"), r"manifest.sqlite3 cannot"),
    "manifest truncated": (
        lambda d: truncate(d / "manifest.sqlite3"),
        r"manifest.sqlite3 cannot be read",
    ),
    "Chroma deleted": (
        lambda d: shutil.rmtree(d / "chroma"),
        r"chroma is missing, and the manifest records \d+ chunks",
    ),
    "Chroma garbled": (lambda d: garble(d / "chroma" / "chroma.sqlite3"), r"Chroma in .*chroma"),
    "Chroma truncated": (
        lambda d: truncate(d / "chroma" / "chroma.sqlite3"),
        r"Chroma in .*chroma failed",
    ),
    "chunks missing from Chroma": (
        remove_one_articles_chunks,
        r"chroma holds \d+ chunks, and the manifest records \d+",
    ),
}


@pytest.mark.parametrize("damage", INDEX_DAMAGE)
def test_a_damaged_manifest_or_chroma_is_refused_and_rag_ingest_rebuild_repairs_it(
    settings: Settings,
    news: Path,
    damage: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reference = settings.model_copy(update={"data_dir": tmp_path / "reference"})
    ingested(reference, news)
    ingested(settings, news)
    harm, problem = INDEX_DAMAGE[damage]
    harm(settings.data_dir)
    SharedSystemClient.clear_system_cache()  # a process that opens it now, as a user's would

    monkeypatch.setattr("rag.pipeline.load_embedder", lambda _s: KeywordEmbedder(KEYWORDS))
    index = next(c for c in run_checks(settings) if c.name == "index")
    assert not index.ok and re.search(problem, index.detail), index.detail
    assert index.detail.startswith(f"the index in {settings.data_dir} is damaged: ")
    assert f"rag ingest --rebuild --data-dir {settings.data_dir} PATH" in index.hint
    # As a user would: `rag ingest` refuses, `rag ingest --rebuild` repairs.
    refused_run = subprocess.run(
        fake_rag(settings.data_dir, "ingest", str(news)), shell=True, capture_output=True, text=True
    )
    assert refused_run.returncode == 1
    assert refused_run.stderr.startswith(f"error: the index in {settings.data_dir} is damaged")
    assert "hint: Rebuild it from your articles: rag ingest --rebuild" in refused_run.stderr
    rebuilt = subprocess.run(
        fake_rag(settings.data_dir, "ingest", "--rebuild", str(news)),
        shell=True,
        capture_output=True,
        text=True,
    )
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert not index_state(settings.data_dir).differences(index_state(reference.data_dir))


def fake_rag(data_dir: Path, *args: str) -> str:
    """The shell command that runs `rag ARGS` on `data_dir` with the keyword embedder."""
    command = [sys.executable, str(REPO / "tests" / "fake_rag.py"), "--data-dir", str(data_dir)]
    return shlex.join([*command, *args])


def in_namespace(script: str) -> None:
    """Run the shell `script` as root of a user and mount namespace of its own, where it can
    mount a small tmpfs or a read-only bind mount without privileges."""
    if shutil.which("unshare") is None:
        pytest.fail("these tests need util-linux's unshare")
    subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script],
        check=True,
        timeout=300,
    )


@pytest.mark.parametrize("size", ["20k", "160k", "320k"])
def test_a_full_disk_is_a_clear_error_and_the_rerun_after_space_is_freed_loses_nothing(
    settings: Settings, news: Path, tmp_path: Path, size: str
) -> None:
    """The sizes stop the ingest at the manifest, at Chroma's write and at the search index."""
    ingested(settings, news)  # the reference
    data, out = tmp_path / "full", tmp_path / "out"
    data.mkdir()
    (out / "data").mkdir(parents=True)
    in_namespace(
        f"mount -t tmpfs -o size={size} tmpfs {data}\n"
        f"{fake_rag(data, 'ingest', str(news))} 2> {out}/first.err; echo $? > {out}/first.rc\n"
        f"mount -o remount,size=16m {data}\n"
        f"{fake_rag(data, 'ingest', str(news))} 2> {out}/second.err; echo $? > {out}/second.rc\n"
        f"cp -a {data}/. {out}/data/"
    )
    error = (out / "first.err").read_text()
    assert (out / "first.rc").read_text() == "1\n", error
    assert error == (
        f"error: the disk that holds {data} is full\n"
        "hint: Free some space, then run the same command again: what was written before is "
        "kept, and an interrupted ingest resumes.\n"
    )
    assert (out / "second.rc").read_text() == "0\n", (out / "second.err").read_text()
    assert not index_state(out / "data").differences(index_state(settings.data_dir))


def test_a_read_only_data_dir_refuses_writes_clearly_and_still_answers(
    settings: Settings, news: Path, tmp_path: Path
) -> None:
    ingested(settings, news)
    before = index_state(settings.data_dir)
    write(news / "new.md", "# New\n\nA new crack in the bridge.")
    data, out = settings.data_dir, tmp_path / "out"
    out.mkdir()
    in_namespace(
        f"mount --bind {data} {data} && mount -o remount,bind,ro {data}\n"
        f"{fake_rag(data, 'ingest', str(news))} 2> {out}/ingest.err; echo $? > {out}/ingest.rc\n"
        f"{fake_rag(data, 'search', 'bridge crack')} > {out}/search.out 2>&1; "
        f"echo $? > {out}/search.rc"
    )
    assert (out / "ingest.rc").read_text() == "1\n"
    assert (out / "ingest.err").read_text() == (
        f"error: {data} cannot be written: it is read-only\n"
        "hint: Make it writable, or use another data dir (--data-dir DIR, or RAG_DATA_DIR).\n"
    )
    assert (out / "search.rc").read_text() == "0\n", (out / "search.out").read_text()
    assert "Story" in (out / "search.out").read_text()
    assert not index_state(data).differences(before)
