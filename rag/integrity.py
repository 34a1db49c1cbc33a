"""Whether the parts of a data dir's index are all there, and starting one afresh.

A data dir's index is three parts that move together (see `rag.ingest`): the manifest, the
record of what was ingested; Chroma's folder, the chunks and their vectors; and the search
index, derived from Chroma. A search index that cannot be read is rebuilt from Chroma, with
a warning (see `rag.search_index`). A manifest or Chroma folder that is missing or cannot be
read, or a Chroma that holds fewer chunks than the manifest says were written, is refused
with `DamagedIndexError`, whose hint is `rag ingest --rebuild`: nothing is guessed from what
is left, as an index that looks whole but lacks articles would answer wrongly in silence.
With a Chroma server, the server keeps the chunks and each machine only its own manifest.
"""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

from rag.config import Settings
from rag.errors import ConfigError, DamagedIndexError, StoreError, storage_error
from rag.lock import writing
from rag.manifest import Manifest

if TYPE_CHECKING:
    from rag.backends.chroma import ChromaStore

MANIFEST_FILE = "manifest.sqlite3"
CHROMA_DIR = "chroma"
SEARCH_DIR = "search"


def open_manifest(settings: Settings) -> Manifest:
    """The manifest in the data dir (a new one if there is no index yet), refused when it
    is gone while the Chroma folder is there, or the Chroma folder is gone while the
    manifest records written chunks."""
    data_dir = settings.data_dir
    path, chroma = data_dir / MANIFEST_FILE, data_dir / CHROMA_DIR
    if settings.chroma_url:
        return Manifest(path)
    if not path.exists() and chroma.exists():
        raise DamagedIndexError(data_dir, f"{path} is missing, and {chroma} is not")
    manifest = Manifest(path)
    written = manifest.stats().chunks
    if written and not (chroma / "chroma.sqlite3").is_file():
        raise DamagedIndexError(
            data_dir, f"{chroma} is missing, and the manifest records {written} chunks"
        )
    return manifest


def open_store(settings: Settings, manifest: Manifest) -> ChromaStore:
    """Chroma: on the server at `chroma_url`, or in the data dir, refused when it cannot be
    read or holds fewer chunks than `manifest` says were written. (It may hold more: the
    chunks of an article that an interrupted ingest left pending.)"""
    from rag.backends.chroma import ChromaStore

    if settings.chroma_url:
        return ChromaStore(settings.chroma_url, collection=settings.collection)
    data_dir = settings.data_dir
    try:
        store = ChromaStore(data_dir / CHROMA_DIR, collection=settings.collection)
        stored = store.count()
    except (StoreError, OSError) as exc:  # what Chroma raises when its files are damaged
        if unwritable := storage_error(exc, data_dir):
            raise unwritable from exc
        raise DamagedIndexError(data_dir, f"{data_dir / CHROMA_DIR}: {exc}") from exc
    written = manifest.stats().chunks
    if stored < written:
        raise DamagedIndexError(
            data_dir,
            f"{data_dir / CHROMA_DIR} holds {stored} chunks, and the manifest records {written}",
        )
    return store


def clear(settings: Settings) -> None:
    """Delete the index in the data dir (manifest, Chroma and search index), whatever state
    it is in, holding the write lock. Uploads and settings stay."""
    if settings.chroma_url:
        raise ConfigError(
            "--rebuild starts afresh the index in a data dir, not on a Chroma server",
            hint="Ingest into a new --collection, or empty this one: rag remove --all.",
        )
    data_dir = settings.data_dir
    with writing(data_dir):
        for part in data_dir.glob(f"{MANIFEST_FILE}*"):  # with SQLite's journal files
            part.unlink()
        for folder in (CHROMA_DIR, SEARCH_DIR, f"{SEARCH_DIR}.*"):
            for path in data_dir.glob(folder):
                shutil.rmtree(path)
