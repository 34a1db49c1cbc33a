"""The usual LangChain tutorial RAG, the baseline `eval.bench` measures newsrag against.

Built from stock parts as the tutorials build it: the articles as `Document`s (title and
body, metadata), `RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)`,
`HuggingFaceEmbeddings` over the same local MiniLM, `Chroma.from_documents`, a retriever of
the 4 nearest chunks "stuffed" into the rlm/rag-prompt text, and `ChatLlamaCpp` over the
same GGUF model, composed in LCEL:

    store = build_index(articles, directory, embedder_path=path)
    answers = rag_chain(store, model_path=gguf, context_tokens=4096, threads=2)
    for piece in answers.stream("Who attended the London meeting?"):
        print(piece, end="")

Its dependencies are the `bench` extra: pip install 'newsrag[bench]'.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rag.seams import Message
from rag.types import Article

CHUNK_SIZE = 1000
CHUNK_OVERLAP = 200
K = 4
MAX_TOKENS = 256
RAG_PROMPT = (
    "You are an assistant for question-answering tasks. Use the following pieces of "
    "retrieved context to answer the question. If you don't know the answer, just say that "
    "you don't know. Use three sentences maximum and keep the answer concise.\n"
    "Question: {question}\nContext: {context}\nAnswer:"
)
"""The classic rlm/rag-prompt from the LangChain hub, as one human message."""
N_BATCH = 512
"""Tokens llama.cpp reads per step of the prompt: llama-cpp-python's own default, which
newsrag's generator also gets. ChatLlamaCpp's default of 8 would make the recipe read its
prompt several times slower, a handicap no tutorial reader would notice and none intends."""
UNKNOWN = re.compile(r"\b(?:don[\u2019']t|do not|does not|doesn[\u2019']t) know\b", re.IGNORECASE)
"""An answer saying it doesn't know, as the prompt asks: scored as an abstention."""


def says_unknown(answer: str) -> bool:
    """Whether the recipe's answer says it doesn't know (what its prompt asks for then)."""
    return bool(UNKNOWN.search(answer))


def documents(articles: Sequence[Article]) -> list[Any]:
    """The articles as LangChain `Document`s: title and body, the rest as metadata."""
    from langchain_core.documents import Document

    return [
        Document(
            page_content=f"{a.title}\n\n{a.body}",
            metadata={
                "article_id": a.id,
                "title": a.title,
                "source": a.source or "",
                "url": a.url or "",
                "published_at": a.published_at.isoformat() if a.published_at else "",
            },
        )
        for a in articles
    ]


def embeddings(embedder_path: str) -> Any:
    """The MiniLM model through langchain-huggingface (sentence-transformers, on the CPU)."""
    if Path(embedder_path).exists():
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local folder: never ask the hub
    from langchain_huggingface import HuggingFaceEmbeddings

    return HuggingFaceEmbeddings(model_name=embedder_path)


def build_index(articles: Sequence[Article], directory: Path, *, embedder_path: str) -> Any:
    """Split, embed and store the articles in a Chroma persisted in `directory`; the store."""
    from langchain_chroma import Chroma
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP)
    splits = splitter.split_documents(documents(articles))
    return Chroma.from_documents(
        splits,
        embeddings(embedder_path),
        persist_directory=str(directory),
        client_settings=_client_settings(),
    )


def open_index(directory: Path, *, embedder_path: str) -> Any:
    """The store `build_index` persisted in `directory`."""
    from langchain_chroma import Chroma

    return Chroma(
        persist_directory=str(directory),
        embedding_function=embeddings(embedder_path),
        client_settings=_client_settings(),
    )


def format_docs(docs: Sequence[Any]) -> str:
    return "\n\n".join(doc.page_content for doc in docs)


def prompt() -> Any:
    from langchain_core.prompts import ChatPromptTemplate

    return ChatPromptTemplate.from_messages([("human", RAG_PROMPT)])


def chat_model(*, model_path: Path, context_tokens: int, threads: int) -> Any:
    """ChatLlamaCpp over the GGUF file: greedy, at most `MAX_TOKENS` tokens, streaming."""
    from langchain_community.chat_models import ChatLlamaCpp

    return ChatLlamaCpp(
        model_path=str(model_path),
        n_ctx=context_tokens,
        n_threads=threads,
        n_batch=N_BATCH,
        temperature=0.0,
        max_tokens=MAX_TOKENS,
        verbose=False,
    )


def rag_chain(store: Any, *, model_path: Path, context_tokens: int, threads: int) -> Any:
    """retriever | format_docs and the question, into the prompt, the model and a parser."""
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.runnables import RunnablePassthrough

    retriever = store.as_retriever(search_kwargs={"k": K})
    llm = chat_model(model_path=model_path, context_tokens=context_tokens, threads=threads)
    return (
        {"context": retriever | format_docs, "question": RunnablePassthrough()}
        | prompt()
        | llm
        | StrOutputParser()
    )


def stuffed_messages(store: Any, question: str) -> list[Message]:
    """The chat messages the chain gives the model for `question` (its stuffed prompt)."""
    context = format_docs(store.similarity_search(question, k=K))
    value = prompt().invoke({"context": context, "question": question})
    return [{"role": "user", "content": str(m.content)} for m in value.to_messages()]


def _client_settings() -> Any:
    import chromadb.config

    # As newsrag's store: no telemetry (offline; it would only wait on the network).
    return chromadb.config.Settings(anonymized_telemetry=False)
