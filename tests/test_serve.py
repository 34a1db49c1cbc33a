"""`rag serve`'s page answers several sessions at once: the real Gradio app on 127.0.0.1,
asked through gradio_client, with fakes at the model seams."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from conftest import KeywordEmbedder, write
from servers import free_port

from rag.config import Settings
from rag.pipeline import Pipeline
from rag.seams import Message

QUESTIONS = {
    "Did the council close the Harbour Bridge?": "The council closed the Harbour Bridge.",
    "Did the library win the Reading Prize?": "The library won the Reading Prize.",
}


class TogetherGenerator:
    """Answers Yes, but only once `parties` questions are being answered at the same moment:
    answered one at a time, the first waits in vain and fails."""

    name = "together"

    def __init__(self, parties: int) -> None:
        self.barrier = threading.Barrier(parties, timeout=30)

    def choose(self, messages: Sequence[Message], options: Sequence[str]) -> dict[str, float]:
        self.barrier.wait()
        return {option: 0.0 if option == "Yes" else -5.0 for option in options}

    def stream(
        self, messages: Sequence[Message], *, max_tokens: int, stop: Sequence[str] = ()
    ) -> Iterator[str]:
        raise AssertionError("only yes/no questions are asked here")

    def count_tokens(self, text: str) -> int:
        return len(text.split())


def test_two_sessions_are_answered_at_the_same_time_each_its_own(
    settings: Settings, tmp_path: Path
) -> None:
    from gradio_client import Client

    from ui.app import build_app

    pipeline = Pipeline(
        settings.model_copy(update={"embedder": "fake-keyword"}),
        embedder=KeywordEmbedder(["bridge", "library"]),
        generator=TogetherGenerator(parties=len(QUESTIONS)),
    )
    for n, text in enumerate(QUESTIONS.values()):
        pipeline.ingest(
            [write(settings.data_dir.parent / f"news/{n}.md", f"# Story {n}\n\n{text}")]
        )
    app = build_app(pipeline)
    port = free_port()
    app.queue().launch(
        server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True
    )
    try:
        clients = [Client(f"http://127.0.0.1:{port}", verbose=False) for _ in QUESTIONS]
        jobs = [
            client.submit(question, [], "", "", [], api_name="/ask")
            for client, question in zip(clients, QUESTIONS, strict=True)
        ]
        results = [job.result(timeout=60) for job in jobs]
    finally:
        app.close()
    for (question, sentence), (chat, evidence, _box) in zip(
        QUESTIONS.items(), results, strict=True
    ):
        answer = "".join(part["text"] for part in chat[1]["content"])
        assert answer.startswith("Yes"), (question, answer)
        assert sentence.split()[1] in answer  # its own story's words ("council", "library")
        assert f"Answer 1: {question}" in evidence
