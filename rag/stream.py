"""An answer as a stream: the model's draft piece by piece, then the checked `Answer`.

`Pipeline.ask` hands the draft to a callback as the model writes it; the chat page and the
LangChain runnable pull it from an iterator instead, so the answer is made in a thread of its
own and its pieces pass through a queue. A reader that stops early (a closed page, a consumer
that breaks off) stops the model at its next piece, which frees it for the next question.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Sequence
from datetime import date

from rag.pipeline import Pipeline
from rag.types import Answer, Filters, Turn


class _Abandoned(Exception):
    """Raised in the answering thread when nobody reads its pieces any more."""


def ask_stream(
    pipeline: Pipeline,
    question: str,
    *,
    history: Sequence[Turn] = (),
    filters: Filters | None = None,
    as_of: date | None = None,
) -> Generator[str | Answer]:
    """The pieces of the draft, then the `Answer` (see `Pipeline.ask`); what `ask` raises is
    raised here, where the pieces are read."""
    pieces: queue.Queue[str | Answer | BaseException] = queue.Queue()
    abandoned = threading.Event()

    def put(piece: str) -> None:
        if abandoned.is_set():
            raise _Abandoned
        pieces.put(piece)

    def work() -> None:
        try:
            answer = pipeline.ask(
                question, history=history, filters=filters, as_of=as_of, on_token=put
            )
        except BaseException as error:  # raised again in the reader's thread
            pieces.put(error)
        else:
            pieces.put(answer)

    threading.Thread(target=work, name="newsrag-answer", daemon=True).start()
    try:
        while True:
            piece = pieces.get()
            if isinstance(piece, BaseException):
                raise piece
            yield piece
            if isinstance(piece, Answer):
                return
    finally:
        abandoned.set()
