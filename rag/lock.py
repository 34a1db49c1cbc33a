"""One writer per data dir: the lock that ingests, removals, uploads and rebuilds hold.

While one process writes, another that tries refuses at once, saying which process holds the
lock. It is an `flock` on `data_dir/write.lock`, so it goes with the process that holds it,
however that ends (SIGKILL included): a crashed writer never leaves the index locked.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rag.errors import InputError

WRITE_LOCK = "write.lock"
"""The file in the data dir that one writing process at a time holds locked."""


@contextmanager
def writing(folder: Path) -> Iterator[None]:
    """Hold the write lock of the data dir `folder`, or raise `InputError` if another
    process holds it."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / WRITE_LOCK).open("a+", encoding="utf-8") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            raise InputError(
                f"another process ({lock.read().strip() or 'unknown'}) is writing to the "
                f"index in {folder}",
                hint="Wait for it to finish (an ingest, a removal, or an upload in rag "
                "serve), then run this again.",
            ) from None
        lock.truncate(0)
        lock.write(f"process {os.getpid()}")
        lock.flush()
        yield
