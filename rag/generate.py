"""The grounded prompt, and the seam every answer model sits behind."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol, TypedDict

from rag.types import Passage

NOT_IN_CORPUS = "The corpus does not say."

SYSTEM_PROMPT = f"""\
You answer questions about news articles. Use only the numbered passages you are given.
Rules:
- Answer in one to three short sentences.
- End every sentence with the number of the passage that supports it, like [1] or [2][3].
- Never add facts that are not in the passages.
- If the passages do not contain the answer, reply exactly: {NOT_IN_CORPUS}"""


class Message(TypedDict):
    role: str
    content: str


class Generator(Protocol):
    """Writes text for chat messages, token by token."""

    name: str

    def stream(
        self, messages: Sequence[Message], *, max_tokens: int, stop: Sequence[str] = ()
    ) -> Iterator[str]: ...


def format_passage(number: int, passage: Passage) -> str:
    """One numbered passage as the model sees it: a header line, then the text."""
    chunk = passage.chunk
    header = [f"[{number}] {chunk.title}"]
    if chunk.source:
        header.append(chunk.source)
    if chunk.published_at is not None:
        header.append(chunk.published_at.date().isoformat())
    return " | ".join(header) + "\n" + chunk.text


def build_messages(question: str, passages: Sequence[Passage]) -> list[Message]:
    """The chat messages that ask `question` over `passages`, numbered from 1."""
    context = "\n\n".join(format_passage(n, p) for n, p in enumerate(passages, start=1))
    user = f"Passages:\n\n{context}\n\nQuestion: {question.strip()}"
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": user},
    ]
