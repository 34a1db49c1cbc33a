"""An answer as a stream (rag/stream.py): what the answering thread raises reaches the reader,
and a reader that stops early stops the model."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from conftest import KeywordEmbedder, ScriptedGenerator, write

from rag.config import Settings
from rag.pipeline import Pipeline
from rag.seams import Message
from rag.stream import ask_stream
from rag.types import Answer

WORDS = 40


class Slow(ScriptedGenerator):
    """Writes `WORDS` words, one every 20 ms, and records how many it wrote and whether the
    reply was closed before its end."""

    def __init__(self, fail: BaseException | None = None) -> None:
        super().__init__()
        self.fail = fail
        self.written = 0
        self.ended = threading.Event()

    def stream(
        self, messages: Sequence[Message], *, max_tokens: int, stop: Sequence[str] = ()
    ) -> Iterator[str]:
        try:
            for _ in range(WORDS):
                if self.fail is not None:
                    raise self.fail
                time.sleep(0.02)
                self.written += 1
                yield "London "
        finally:
            self.ended.set()


def pipeline_with(settings: Settings, tmp_path: Path, generator: Slow) -> Pipeline:
    write(tmp_path / "talks.md", "---\ntitle: Talks\n---\nOfficials met in London.")
    pipeline = Pipeline(settings, embedder=KeywordEmbedder(["london"]), generator=generator)
    pipeline.ingest([tmp_path / "talks.md"])
    return pipeline


def test_the_draft_then_the_answer(settings: Settings, tmp_path: Path) -> None:
    pieces = list(ask_stream(pipeline_with(settings, tmp_path, Slow()), "What happened in London?"))
    assert pieces[:-1] == ["London "] * WORDS
    assert isinstance(pieces[-1], Answer)


def test_a_reader_that_stops_early_stops_the_model(settings: Settings, tmp_path: Path) -> None:
    generator = Slow()
    stream = ask_stream(pipeline_with(settings, tmp_path, generator), "What happened in London?")
    assert next(stream) == "London "
    stream.close()
    assert generator.ended.wait(5)
    assert generator.written < WORDS / 2


class Interrupted(BaseException):
    """Not an `Exception`: what a thread can die of that `except Exception` lets through."""


@pytest.mark.parametrize("error", [RuntimeError("model crashed"), Interrupted("stop")])
def test_what_the_answering_thread_raises_is_raised_to_the_reader(
    settings: Settings, tmp_path: Path, error: BaseException
) -> None:
    pipeline = pipeline_with(settings, tmp_path, Slow(fail=error))
    raised: list[BaseException] = []

    def read() -> None:
        try:
            list(ask_stream(pipeline, "What happened in London?"))
        except BaseException as caught:
            raised.append(caught)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(10)
    assert raised == [error]  # raised, not waited for forever
