"""The one error tree of newsrag. Every error carries a hint a user can act on.

    RagError
    ├── ConfigError          a setting or flag has a bad value
    ├── InputError           a question, a path or an article cannot be used
    │   └── ArticleError     one article file or record is malformed (names file and field)
    ├── ModelError           a model file is missing, corrupt, or will not load
    │   ├── ChecksumError    a model file's sha256 is not the expected one
    │   └── NativeCrashError the model's native code (llama.cpp) crashed on this machine
    ├── IndexMismatchError   the index was built with another embedder
    ├── DamagedIndexError    a part of the data dir's index is missing or unreadable
    ├── StorageError         the data dir cannot be written: a full disk, or read-only
    ├── StoreError           the Chroma server cannot be reached
    └── MissingDependencyError  an optional package is not installed

"Nothing relevant in the corpus" is an ordinary answer, never an error.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rag.types import Problem


class RagError(Exception):
    """Base of every error newsrag raises on purpose."""

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class ConfigError(RagError):
    """A setting, from rag.toml, the environment or a flag, has a bad value."""


class InputError(RagError):
    """A question or a path given by the user cannot be used."""


class ArticleError(InputError):
    """One article is malformed; the message names the file (and line or field)."""

    def __init__(self, origin: str, problem: str, *, hint: str) -> None:
        super().__init__(f"{origin}: {problem}", hint=hint)
        self.origin = origin
        self.problem = problem

    def as_problem(self) -> Problem:
        return Problem(self.origin, self.problem, self.hint)


class ModelError(RagError):
    """A model file is missing or cannot be loaded."""


class ChecksumError(ModelError):
    """A model file's sha256 does not match the expected one."""


class NativeCrashError(ModelError):
    """llama.cpp died in native code (for example SIGILL: instructions this CPU cannot run)."""


class IndexMismatchError(RagError):
    """The index in the data directory was built with a different embedder."""


class DamagedIndexError(RagError):
    """A part of the index in a data dir (its manifest or its Chroma folder) is missing or
    cannot be read; the hint is the command that rebuilds the index."""

    def __init__(self, data_dir: Path, problem: str) -> None:
        super().__init__(
            f"the index in {data_dir} is damaged: {problem}",
            hint="Rebuild it from your articles: rag ingest --rebuild "
            f"--data-dir {data_dir} PATH... (the files, folders or URLs you ingested). "
            "rag doctor checks each part of the index.",
        )


class StorageError(RagError):
    """The data dir cannot be written: its disk is full, or it is read-only."""


def storage_error(exc: BaseException, data_dir: Path) -> StorageError | None:
    """The `StorageError` behind `exc` (or an exception it was raised from), when it is a
    full disk or a read-only file in `data_dir`; else None."""
    seen: set[int] = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        filename = getattr(exc, "filename", None)
        if filename is None or _under(filename, data_dir):
            code, text = getattr(exc, "errno", None), str(exc).lower()
            if code == errno.ENOSPC or "disk is full" in text or "no space left" in text:
                return StorageError(
                    f"the disk that holds {data_dir} is full",
                    hint="Free some space, then run the same command again: what was "
                    "written before is kept, and an interrupted ingest resumes.",
                )
            if code in (errno.EROFS, errno.EACCES, errno.EPERM) or any(
                words in text for words in ("readonly database", "read-only file system")
            ):
                return StorageError(
                    f"{data_dir} cannot be written: it is read-only",
                    hint="Make it writable, or use another data dir (--data-dir DIR, or "
                    "RAG_DATA_DIR).",
                )
        cause = exc.__cause__ or exc.__context__
        if cause is None:
            break
        exc = cause
    return None


@contextmanager
def sqlite_errors(path: Path) -> Iterator[None]:
    """Turn a damaged SQLite file at `path` (in a data dir) into a `DamagedIndexError`, and a
    full disk or read-only file into a `StorageError`."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        if unwritable := storage_error(exc, path.parent):
            raise unwritable from exc
        raise
    except sqlite3.DatabaseError as exc:  # not a database, or a damaged one
        raise DamagedIndexError(path.parent, f"{path} cannot be read ({exc})") from exc


def _under(filename: str | bytes, folder: Path) -> bool:
    return Path(os.fsdecode(filename)).absolute().is_relative_to(folder.absolute())


class StoreError(RagError):
    """The vector store (a Chroma server) cannot be reached."""


class MissingDependencyError(RagError):
    """An optional package needed for this command is not installed."""


def check_embedder(
    recorded: tuple[str, int] | None, name: str, dim: int | None, *, index: Path | str
) -> None:
    """Refuse embedder `name` (and `dim`, unless None) for the index at `index` when it was
    built (`recorded`) with another."""
    if recorded is None or (recorded[0] == name and dim in (None, recorded[1])):
        return
    same_name = recorded[0] == name
    raise IndexMismatchError(
        f"the index in {index} was built with embedder {recorded[0]!r} "
        f"({recorded[1]} dims), not {name!r}" + (f" ({dim} dims)" if dim else ""),
        hint="The model behind that name changed: use a new --data-dir and ingest again."
        if same_name
        else f"Use --embedder {recorded[0]!r}, or a new --data-dir to build a second index.",
    )
