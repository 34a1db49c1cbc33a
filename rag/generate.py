"""The grounded prompt, and the seam every answer model sits behind."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Protocol, TypedDict

from rag.types import Passage

NOT_IN_CORPUS = "The corpus does not say."
PROMPT_OVERHEAD_TOKENS = 64
"""Chat template tokens and the 'Passages:'/'Question:' labels, with room to spare."""

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

    def count_tokens(self, text: str) -> int: ...


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


def fit_context(
    question: str,
    passages: Sequence[Passage],
    *,
    budget: int,
    count_tokens: Callable[[str], int],
) -> list[Passage]:
    """The passages as the prompt gives them: best first while the prompt stays within
    `budget` tokens, then grouped by article (in the order of each article's best passage)
    and in reading order within an article, so that the model reads a story in sequence."""
    used = count_tokens(SYSTEM_PROMPT) + count_tokens(question) + PROMPT_OVERHEAD_TOKENS
    kept: list[Passage] = []
    for passage in passages:
        cost = count_tokens(format_passage(len(kept) + 1, passage))
        if used + cost > budget:
            break
        kept.append(passage)
        used += cost
    first_rank: dict[str, int] = {}
    for rank, passage in enumerate(kept):
        first_rank.setdefault(passage.chunk.article_id, rank)
    return sorted(kept, key=lambda p: (first_rank[p.chunk.article_id], p.chunk.char_start))
