"""`rag chat`: a conversation in the terminal, one question after another.

Questions come a line each from standard input, typed or piped in. A follow-up is rewritten
from the conversation into a question that stands alone (see `rag.followup`) and the rewrite
is shown; on a terminal the model's draft streams in, then makes way for the checked answer
and its sources, printed as `rag ask` prints them. Lines that start with "/" are commands.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
from collections.abc import Iterator
from typing import TextIO

from rag.pipeline import Pipeline
from rag.present import answer_text, source_text
from rag.types import Answer, Turn

COMMANDS = {
    "/sources": "the passages of the last answer",
    "/new": "a new conversation (the questions before are forgotten)",
    "/quit": "end the chat (so does Ctrl-D)",
}


def chat(pipeline: Pipeline) -> int:
    """Answer the questions read from standard input until /quit or its end; exit code 0."""
    interactive = sys.stdin.isatty()
    if interactive:
        print(
            "Ask about the articles; a follow-up is read with the questions before it.",
            *(f"  {name:<9} {what}" for name, what in COMMANDS.items()),
            sep="\n",
            file=sys.stderr,
        )
    history: list[Turn] = []
    last: Answer | None = None
    for line in _lines(interactive):
        text = line.strip()
        if not text:
            continue
        if text.startswith("/"):
            command = text.split()[0].lower()
            if command == "/quit":
                return 0
            if command == "/new":
                history, last = [], None
                print("(a new conversation)")
            elif command == "/sources":
                _print_sources(last)
            else:
                print(f"unknown command {command}: {', '.join(COMMANDS)}")
            continue
        try:
            last = _answer(pipeline, text, history)
        except KeyboardInterrupt:  # Ctrl-C stops this answer, not the conversation
            print("\n(stopped)", file=sys.stderr)
            continue
        history.append(Turn(last.question, last.text))
    return 0


def _lines(interactive: bool) -> Iterator[str]:
    """The lines the user types at a prompt (with line editing), or those piped in, each
    shown as it is read (blank ones aside) so that the output reads as the conversation."""
    if interactive:
        with contextlib.suppress(ImportError):  # not on every platform; input() works without
            import readline  # noqa: F401  (arrow keys and history for input())
        while True:
            try:
                yield input("> ")
            except EOFError:
                print(file=sys.stderr)
                return
    for line in sys.stdin:
        if line.strip():
            print(f"> {line.strip()}")
        yield line


def _answer(pipeline: Pipeline, question: str, history: list[Turn]) -> Answer:
    """Ask `question` after `history`; print the rewrite, the draft as it streams (on a
    terminal), and the checked answer with its sources."""
    standalone = pipeline.standalone_question(question, history)
    if standalone != question:
        print(f"(read as: {standalone})", flush=True)
    draft = Draft(sys.stderr) if sys.stderr.isatty() else None
    try:
        answer = pipeline.ask(standalone, on_token=draft.write if draft else None)
    finally:
        if draft:
            draft.clear()
    print(answer_text(answer))
    print()
    return answer


def _print_sources(answer: Answer | None) -> None:
    if answer is None:
        print("no answer yet: ask a question first")
        return
    if not answer.passages:
        print("the last answer had no passages: nothing matched the search")
        return
    cited = ", ".join(str(c.number) for c in answer.citations) or "none"
    print(f"The passages of the last answer (cited: {cited}):")
    for number, passage in enumerate(answer.passages, start=1):
        print(source_text(number, passage))
    print()


class Draft:
    """The model's draft on a terminal as it is written, wiped when the answer replaces it.

    Rows are counted in characters of the terminal's width, so a draft of wide characters
    (some scripts, emoji) may leave a row behind.
    """

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.text = ""

    def write(self, piece: str) -> None:
        self.text += piece
        self.stream.write(piece)
        self.stream.flush()

    def clear(self) -> None:
        if not self.text:
            return
        width = shutil.get_terminal_size().columns
        rows = sum(max(1, -(-len(line) // width)) for line in self.text.split("\n"))
        up = f"\033[{rows - 1}A" if rows > 1 else ""  # a count of 0 moves one row up too
        self.stream.write(up + "\r\033[J")
        self.stream.flush()
        self.text = ""
