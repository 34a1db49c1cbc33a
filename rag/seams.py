"""The seams: what an embedder, an answer model and a vector store must offer.

Backends (`rag.backends`) implement these, fakes in the tests stand in for them, and the
stages that use a model or the store (`rag.ingest`, `rag.retrieve`, `rag.answer`,
`rag.followup`, `rag.pipeline`) type against them. Nothing here imports a backend's library.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol, TypedDict

import numpy as np
import numpy.typing as npt

from rag.types import Chunk, Filters, StoreStats

Vectors = npt.NDArray[np.float32]
"""Unit vectors, one row per text."""


class Embedder(Protocol):
    """Turns text into unit vectors; `name` and `dim` are recorded in the index."""

    name: str
    dim: int
    max_length: int
    """Most tokens the model reads of one text (the rest is cut off)."""

    def embed_documents(self, texts: Sequence[str]) -> Vectors: ...

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        """Search queries, one row each (a model may embed them unlike documents)."""
        ...

    def count_tokens(self, text: str) -> int: ...


class Message(TypedDict):
    """One chat message as an answer model reads it."""

    role: str
    content: str


class Generator(Protocol):
    """Writes text for chat messages, token by token, and weighs the options for its first
    token."""

    name: str

    def choose(self, messages: Sequence[Message], options: Sequence[str]) -> dict[str, float]:
        """The log-probability of each option's first token as the reply's first token."""
        ...

    def stream(
        self, messages: Sequence[Message], *, max_tokens: int, stop: Sequence[str] = ()
    ) -> Iterator[str]: ...

    def count_tokens(self, text: str) -> int: ...


class Store(Protocol):
    """Chunks with their vectors, kept on disk or on a server, and the embedder they were
    made with.

    Writing with an embedder other than the recorded one raises `IndexMismatchError`
    (questions are checked against the search index's copy of the record).
    """

    location: str
    """Where it is: a folder, or a server's URL."""
    served: bool
    """On a server: searched there (`nearest`, `similarity`), by any number of processes."""

    def version(self) -> str:
        """Changes with every write: what was derived from it at another version is stale."""
        ...

    @property
    def embedder(self) -> tuple[str, int] | None:
        """The (name, dimension) of the embedder the index was built with, if any."""
        ...

    def check_embedder(self, name: str, dim: int | None = None) -> None:
        """Refuse an embedder other than the recorded one (`dim=None` checks the name only)."""
        ...

    def bind_embedder(self, name: str, dim: int) -> None:
        """Record the embedder on first use; afterwards, refuse any other."""
        ...

    def count(self) -> int:
        """How many chunks it holds."""
        ...

    def replace_articles(
        self, article_ids: Sequence[str], chunks: Sequence[Chunk], vectors: Vectors
    ) -> None:
        """Store these articles' chunks (all of them, one vector each), removing whatever
        the articles had before."""
        ...

    def remove_articles(self, article_ids: Sequence[str]) -> None:
        """Delete every chunk of these articles."""
        ...

    def chunks(self) -> list[Chunk]:
        """Every chunk, in id order."""
        ...

    def everything(self) -> tuple[list[Chunk], Vectors]:
        """Every chunk, in id order, and its embedding (one row each)."""
        ...

    def nearest(self, vector: Vectors, filters: Filters, n: int) -> list[tuple[str, float]]:
        """The ids of the `n` chunks passing `filters` most similar to `vector`, most similar
        first, with their cosine similarity."""
        ...

    def similarity(self, vector: Vectors, ids: Sequence[str]) -> dict[str, float]:
        """The cosine similarity to `vector` of each chunk of `ids`."""
        ...

    def stats(self) -> StoreStats:
        """What it holds, for `rag status`."""
        ...
