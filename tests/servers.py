"""Real servers for the tests, each on a free port of 127.0.0.1 and stopped after: a Chroma
server (`chroma run`, from the chromadb package), an OpenAI-compatible model server
(`python -m llama_cpp.server`, llama-cpp-python's server extra) and `rag serve` (from
`eval.servers`, which the load test shares)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from eval.servers import Server, chroma_server, free_port, rag_serve, running, stop

__all__ = ["Server", "chroma_server", "free_port", "model_server", "rag_serve", "stop"]


@contextmanager
def model_server(model: Path, log: Path) -> Iterator[str]:
    """llama-cpp-python's OpenAI-compatible server with the GGUF file `model`; yields its URL."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "4096",
        "--flash_attn",
        "true",
    ]
    url = f"http://127.0.0.1:{port}"
    with running(command, ready=f"{url}/v1/models", log=log):
        yield url
