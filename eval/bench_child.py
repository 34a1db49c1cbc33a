"""The measurements `eval.bench` runs, each in a process of its own so that its peak memory
is its own and its imports and model loads count where they should.

    python -m eval.bench_child TASK SPEC.json OUT.json

TASK is one of `TASKS`. SPEC holds the settings (as JSON), the corpus, the dataset and the
question ids; OUT receives the task's figures, its peak RSS in MB (`getrusage` of this
process) and `done_at` (the wall clock when the work was done, before the process exits).
"""

from __future__ import annotations

import json
import resource
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from eval import recipe
from eval.bench_encode import onnx_export, onnx_rates, torch_rate
from eval.bench_llama import chat_tokens, decode_rate, load, prefill_seconds
from eval.questions import Dataset, Question, load_dataset
from eval.runner import QueryResult, evaluate, score
from rag.chunking import chunk_article, embedding_text
from rag.config import Settings
from rag.load import load_articles
from rag.models import resolve_embedder, resolve_model
from rag.pipeline import Pipeline
from rag.seams import Embedder, Generator, Message, Vectors
from rag.types import Answer, Chunk, Passage

Spec = dict[str, Any]


class TimedEmbedder:
    """An embedder that counts the texts and seconds spent in `embed_documents`."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name, self.dim, self.max_length = inner.name, inner.dim, inner.max_length
        self.texts = 0
        self.seconds = 0.0

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        started = time.perf_counter()
        vectors = self.inner.embed_documents(texts)
        self.seconds += time.perf_counter() - started
        self.texts += len(texts)
        return vectors

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        return self.inner.embed_queries(texts)

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)


class RecordingGenerator:
    """A generator that keeps the messages of every call: the first call of a question is
    the prompt the model reads before its first token."""

    def __init__(self, inner: Generator) -> None:
        self.inner = inner
        self.name = inner.name
        self.calls: list[list[Message]] = []

    def choose(self, messages: Sequence[Message], options: Sequence[str]) -> dict[str, float]:
        self.calls.append(list(messages))
        return self.inner.choose(messages, options)

    def stream(
        self, messages: Sequence[Message], *, max_tokens: int, stop: Sequence[str] = ()
    ) -> Iterator[str]:
        self.calls.append(list(messages))
        return self.inner.stream(messages, max_tokens=max_tokens, stop=stop)

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)


def newsrag_ingest(spec: Spec) -> dict[str, Any]:
    """newsrag's ingest of the corpus into the spec's (empty) data dir."""
    settings = Settings.model_validate(spec["settings"])
    timed = TimedEmbedder(Pipeline(settings).embedder)
    report = Pipeline(settings, embedder=timed).ingest([Path(spec["corpus"])])
    return {
        "done_at": time.time(),
        "articles": report.articles,
        "chunks": report.chunks,
        "embedded_texts": timed.texts,
        "embed_seconds": timed.seconds,
    }


def recipe_ingest(spec: Spec) -> dict[str, Any]:
    """The recipe's index of the corpus, persisted in the spec's `recipe_dir`."""
    settings = Settings.model_validate(spec["settings"])
    articles = load_articles([Path(spec["corpus"])]).articles
    store = recipe.build_index(
        articles, Path(spec["recipe_dir"]), embedder_path=resolve_embedder(settings.embedder)
    )
    done_at = time.time()
    return {"done_at": done_at, "articles": len(articles), "chunks": len(store.get()["ids"])}


def newsrag_answers(spec: Spec) -> dict[str, Any]:
    """newsrag's answers and retrieval, scored by `eval.runner`, one warm model."""
    settings = Settings.model_validate(spec["settings"])
    dataset, questions = _questions(spec)
    recorder = RecordingGenerator(Pipeline(settings).generator)
    pipeline = Pipeline(settings, generator=recorder)
    pipeline.ask(spec["warmup"])
    rows: list[dict[str, Any]] = []

    def keep(result: QueryResult) -> None:
        assert result.answer is not None
        prompt = recorder.calls[0] if recorder.calls else None
        rows.append(_row(result, prompt))
        recorder.calls.clear()

    recorder.calls.clear()
    evaluate(dataset, questions, pipeline, retrieval_only=False, on_result=keep)
    return {"questions": rows}


def recipe_answers(spec: Spec) -> dict[str, Any]:
    """The recipe's streamed answers and its 10 nearest chunks, scored as newsrag's are."""
    settings = Settings.model_validate(spec["settings"])
    dataset, questions = _questions(spec)
    store = recipe.open_index(
        Path(spec["recipe_dir"]), embedder_path=resolve_embedder(settings.embedder)
    )
    chain = recipe.rag_chain(
        store,
        model_path=resolve_model(settings),
        context_tokens=settings.context_tokens,
        threads=spec["threads"],
    )
    for _ in chain.stream(spec["warmup"]):
        pass
    rows = []
    for number, question in enumerate(questions):
        started = time.perf_counter()
        first: float | None = None
        pieces = []
        for piece in chain.stream(question.question):
            if piece and first is None:
                first = time.perf_counter() - started
            pieces.append(piece)
        total = time.perf_counter() - started
        text = "".join(pieces).strip()
        timings = {"total": total} | ({"first_token": first} if first is not None else {})
        abstained = recipe.says_unknown(text)
        answer = Answer(
            question.question, text, (), (), abstained, timings=timings, tokens=len(pieces)
        )
        started = time.perf_counter()
        docs = store.similarity_search(question.question, k=10)
        found = [_passage(doc, rank) for rank, doc in enumerate(docs)]
        result = QueryResult(question, found, time.perf_counter() - started, answer)
        result.scores = score(result, dataset, k=recipe.K)
        prompt = recipe.stuffed_messages(store, question.question)
        rows.append(_row(result, prompt if number < spec["prompts"] else None))
    return {"questions": rows}


def limits(spec: Spec) -> dict[str, Any]:
    """MiniLM's raw encode of a sample of newsrag's chunk texts (torch, ONNX Runtime), and
    llama.cpp's raw prompt and decode speed on the recipe's prompts; the token counts of
    newsrag's prompts."""
    settings = Settings.model_validate(spec["settings"])
    path = resolve_embedder(settings.embedder)
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(Path(path) / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()

    def count(text: str) -> int:
        return len(tokenizer.encode(text, add_special_tokens=False).ids)

    texts = [
        embedding_text(chunk)
        for article in load_articles([Path(spec["corpus"])]).articles
        for chunk in chunk_article(
            article, size=settings.chunk_tokens, overlap=settings.chunk_overlap, count_tokens=count
        )
    ]
    n = min(spec["sample_chunks"], len(texts))
    sample = [texts[i * len(texts) // n] for i in range(n)]  # evenly spread over the corpus
    onnx_file, max_length = onnx_export(settings)
    torch = torch_rate(path, sample)
    onnx = onnx_rates(onnx_file, Path(path) / "tokenizer.json", sample, max_length=max_length)

    llm = load(
        resolve_model(settings), context_tokens=settings.context_tokens, threads=spec["threads"]
    )
    prompts = [chat_tokens(llm, messages) for messages in spec["recipe_prompts"]]
    prefill_seconds(llm, prompts[0])  # warm-up, not counted
    seconds = [prefill_seconds(llm, tokens) for tokens in prompts]
    decode = decode_rate(llm, spec["decode_tokens"])
    return {
        "chunk_texts": len(texts),
        "sample_chunks": n,
        "torch_chunks_per_s": torch,
        "onnx_chunks_per_s": {str(size): rate for size, rate in onnx.items()},
        "recipe_prompt_tokens": [len(t) for t in prompts],
        "prompt_tokens_per_s": sum(len(t) for t in prompts) / sum(seconds),
        "decode_tokens_per_s": decode,
        "newsrag_prompt_tokens": [
            len(chat_tokens(llm, messages)) if messages else None
            for messages in spec["newsrag_prompts"]
        ],
    }


TASKS: dict[str, Callable[[Spec], dict[str, Any]]] = {
    "newsrag_ingest": newsrag_ingest,
    "recipe_ingest": recipe_ingest,
    "newsrag_answers": newsrag_answers,
    "recipe_answers": recipe_answers,
    "limits": limits,
}


def _questions(spec: Spec) -> tuple[Dataset, list[Question]]:
    dataset = load_dataset(Path(spec["dataset"]))
    by_id = {q.id: q for q in dataset.questions}
    return dataset, [by_id[i] for i in spec["question_ids"]]


def _row(result: QueryResult, prompt: list[Message] | None) -> dict[str, Any]:
    answer = result.answer
    assert answer is not None
    return {
        "id": result.question.id,
        "type": result.question.type,
        "answer": answer.text,
        "abstained": answer.abstained,
        "first_token_s": answer.timings.get("first_token"),
        "answer_s": answer.timings["total"],
        "scores": result.scores,
        "prompt": prompt,
    }


def _passage(doc: Any, rank: int) -> Passage:
    meta = doc.metadata
    chunk = Chunk(
        meta["article_id"], rank, doc.page_content, 0, len(doc.page_content), meta["title"]
    )
    return Passage(chunk, 0.0)


def main() -> None:
    task, spec_file, out_file = sys.argv[1:4]
    result = TASKS[task](json.loads(Path(spec_file).read_text()))
    result.setdefault("done_at", time.time())
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    Path(out_file).write_text(json.dumps(result))


if __name__ == "__main__":
    main()
