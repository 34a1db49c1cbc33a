"""Scale-out on real servers with the real models, each server started on 127.0.0.1 by the
test and stopped after: an OpenAI-compatible model server (llama-cpp-python's) writing the
answers, and the CLI on a Chroma server. `rag serve` answering several sessions at once is
tests/test_reliability.py's load test (each answer its own, through gradio_client) and
tests/test_browser.py's two people chatting at once."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import LONDON, REPO, rag
from servers import chroma_server, model_server

from rag.config import Settings
from rag.models import resolve_model
from rag.pipeline import default_corpus

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def default_model(env: dict[str, str]) -> Path:
    return resolve_model(Settings(cache_dir=Path(env["RAG_CACHE_DIR"])))


@pytest.fixture(scope="module")
def llm_url(default_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with model_server(default_model, tmp_path_factory.mktemp("llm") / "server.log") as url:
        yield url


def test_the_london_question_is_answered_through_a_model_server(
    env: dict[str, str], llm_url: str
) -> None:
    done = rag(env, "ask", "--json", "--llm-url", llm_url, LONDON)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert not answer["abstained"]
    for country in ("UK", "France", "Germany", "Ukraine"):
        assert country in answer["answer"]
    assert answer["citations"] and "[1]" in answer["answer"]
    cited = answer["citations"][0]
    assert "France, Germany, and Ukraine" in cited["text"][cited["support"]["start"] :]
    # The server weighed the options: its probabilities are in how the answer was decided.
    assert re.search(r"A\) \w+ \(0\.\d\d, 0\.\d\d\)", answer["basis"])


def test_a_model_server_that_is_down_is_a_clear_error_not_a_hang(
    env: dict[str, str], default_model: Path, tmp_path: Path
) -> None:
    with model_server(default_model, tmp_path / "server.log") as url:
        assert rag(env, "ask", "--llm-url", url, LONDON).returncode == 0
    started = time.monotonic()
    done = rag(env, "ask", "--llm-url", url, LONDON, timeout=120)
    assert done.returncode == 1
    assert f"error: cannot reach the model server at {url}/v1" in done.stderr
    assert "hint: Start it" in done.stderr
    assert "Traceback" not in done.stderr
    assert time.monotonic() - started < 60


def test_the_cli_ingests_shards_and_evaluates_on_a_chroma_server(
    env: dict[str, str], tmp_path: Path
) -> None:
    with chroma_server(tmp_path / "db") as chroma:
        url = ["--chroma-url", chroma.url]
        for number in (1, 2):
            data = ["--data-dir", str(tmp_path / f"shard{number}")]
            shard = ["--shard", f"{number}/2"]
            done = rag(env, "ingest", "--json", *url, *data, *shard, str(default_corpus()))
            assert done.returncode == 0, done.stderr
        reader = [*url, "--data-dir", str(tmp_path / "reader")]
        listed = json.loads(rag(env, "articles", "--json", *reader).stdout)
        assert len(listed) == len(list(default_corpus().glob("*.md")))
        found = json.loads(rag(env, "search", "--json", *reader, "London meeting").stdout)
        assert "London" in found["passages"][0]["title"]
        out = tmp_path / "run"
        dataset = str(REPO / "eval/datasets/default.jsonl")
        evaluated = rag(
            env, "eval", *url, "--dataset", dataset, "--corpus", str(default_corpus()),
            "--retrieval-only", "--out", str(out),
        )  # fmt: skip
        assert evaluated.returncode == 0, evaluated.stderr
        report = json.loads((out / "report.json").read_text())
        assert report["metrics"]["overall"]["hits@10"] >= 0.9
