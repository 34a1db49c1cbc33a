"""The grounded prompt: the messages an answer model is given, and the passages that fit."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from rag.seams import Message
from rag.types import Passage

NOT_IN_CORPUS = "The corpus does not say."
PROMPT_OVERHEAD_TOKENS = 192
"""Chat template tokens, the 'Passages:'/'Question:' labels and the instruction (with up to
six names to choose from), with room to spare."""

SYSTEM_PROMPT = """\
You answer questions about news articles. Use only the numbered passages you are given; \
never add facts that are not in them."""

YES_NO_INSTRUCTION = "Answer with one word: Yes or No."
NAME_INSTRUCTION = "Which of these answers the question? Reply with its letter only.\n{options}"
OPEN_INSTRUCTION = (
    "Answer in as few words as you can, copied from the passages; no full sentence. "
    f"If the passages do not answer the question, reply: {NOT_IN_CORPUS}"
)
OPTION_LETTERS = "ABCDEF"
SHORT_ANSWER_EXAMPLE = (
    "[1] Storm shuts the port | Coast News | 2024-01-05\n"
    "The port closed on Friday after waves damaged the north pier. Repairs will cost "
    "3 million dollars, the harbour master, Ana Ruiz, said."
)
SHORT_ANSWER_SHOTS = (
    ("How much will the repairs cost?", "3 million dollars"),
    ("Why did the port close?", "waves damaged the north pier"),
    ("Who is the harbour master?", "Ana Ruiz"),
)
"""Questions on `SHORT_ANSWER_EXAMPLE` and the short answers they want: shown to the model
before an open question, as earlier turns of the chat, so that it answers as briefly."""


def format_passage(number: int, passage: Passage) -> str:
    """One numbered passage as the model sees it: a header line, then the text."""
    chunk = passage.chunk
    header = [f"[{number}] {chunk.title}"]
    if chunk.source:
        header.append(chunk.source)
    if chunk.published_at is not None:
        header.append(chunk.published_at.date().isoformat())
    return inert(" | ".join(header) + "\n" + chunk.text)


CONTROL = re.compile(r"<\|[^<>|\s]{1,40}\|>|</?s>|<(?:start|end)_of_turn>")
"""Chat templates' special tokens (ChatML's and Qwen's, Llama 3's, Llama 2's, Gemma's), which
llama.cpp reads as the tokens themselves wherever they are in a prompt."""


def inert(text: str) -> str:
    """`text` with every chat-template control token spelled with look-alike brackets, so that
    an article cannot end the user's turn and speak as the system or the assistant."""
    return CONTROL.sub(lambda m: m.group().replace("<", "\u2039").replace(">", "\u203a"), text)


def build_messages(
    question: str,
    passages: Sequence[Passage],
    instruction: str,
    *,
    shots: Sequence[tuple[str, str]] = (),
) -> list[Message]:
    """The chat messages that ask `question` over `passages` (numbered from 1), ending
    with `instruction` (one of the `*_INSTRUCTION`s, filled in); `shots` are example
    questions on `SHORT_ANSWER_EXAMPLE` with their answers, asked first."""
    context = "\n\n".join(format_passage(n, p) for n, p in enumerate(passages, start=1))
    messages: list[Message] = [{"role": "system", "content": SYSTEM_PROMPT}]
    for asked, answer in shots:
        example = f"Passages:\n\n{SHORT_ANSWER_EXAMPLE}\n\nQuestion: {asked}\n{instruction}"
        messages.append({"role": "user", "content": example})
        messages.append({"role": "assistant", "content": answer})
    user = f"Passages:\n\n{context}\n\nQuestion: {inert(question.strip())}\n{instruction}"
    messages.append({"role": "user", "content": user})
    return messages


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
