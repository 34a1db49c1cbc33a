"""An answer as a stream: the model's draft piece by piece, then the checked `Answer`.

`Pipeline.ask` hands the draft to a callback as the model writes it; the chat page and the
LangChain runnable pull it from an iterator instead, so the answer is made in a thread of its
own and its pieces pass through a queue.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator, Sequence
from datetime import date

from rag.pipeline import Pipeline
from rag.types import Answer, Filters, Turn


def ask_stream(
    pipeline: Pipeline,
    question: str,
    *,
    history: Sequence[Turn] = (),
    filters: Filters | None = None,
    as_of: date | None = None,
) -> Iterator[str | Answer]:
    """The pieces of the draft, then the `Answer` (see `Pipeline.ask`); what `ask` raises is
    raised here, where the pieces are read."""
    pieces: queue.Queue[str | Answer | Exception] = queue.Queue()

    def work() -> None:
        try:
            pieces.put(
                pipeline.ask(
                    question, history=history, filters=filters, as_of=as_of, on_token=pieces.put
                )
            )
        except Exception as error:  # raised again in the reader's thread
            pieces.put(error)

    threading.Thread(target=work, name="newsrag-answer", daemon=True).start()
    while True:
        piece = pieces.get()
        if isinstance(piece, Exception):
            raise piece
        yield piece
        if isinstance(piece, Answer):
            return
