"""The one error tree of newsrag. Every error carries a hint a user can act on.

    RagError
    ├── ConfigError          a setting or flag has a bad value
    ├── InputError           a question, a path or an article cannot be used
    │   └── ArticleError     one article file or record is malformed (names file and field)
    ├── ModelError           a model file is missing, corrupt, or will not load
    │   ├── ChecksumError    a model file's sha256 is not the expected one
    │   └── NativeCrashError the model's native code (llama.cpp) crashed on this machine
    ├── IndexMismatchError   the index was built with another embedder
    ├── StoreError           the Chroma server cannot be reached
    └── MissingDependencyError  an optional package is not installed

"Nothing relevant in the corpus" is an ordinary answer, never an error.
"""

from __future__ import annotations

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
