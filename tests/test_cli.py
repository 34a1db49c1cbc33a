"""The `rag` command's contract: errors, exit codes, JSON, help. No model is loaded here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import KeywordEmbedder, write

from rag.cli import build_parser, main
from rag.config import load_settings
from rag.models import DEFAULT_MODEL_FILE
from rag.pipeline import Pipeline


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("RAG_CONFIG", "RAG_MODEL", "RAG_EMBEDDER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RAG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RAG_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_clean_error(code: int, err: str, message: str) -> None:
    assert code == 1
    lines = err.strip().splitlines()
    assert lines[0].startswith("error: ") and message in lines[0], err
    assert lines[1].startswith("hint: "), err
    assert "Traceback" not in err


def test_unknown_path(capsys: pytest.CaptureFixture[str], isolated: Path) -> None:
    code, _, err = run(capsys, "ingest", str(isolated / "missing.json"))
    assert_clean_error(code, err, "no such file or folder")


def test_empty_question(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "ask", "  ")
    assert_clean_error(code, err, "the question is empty")


def test_missing_model_file(capsys: pytest.CaptureFixture[str], isolated: Path) -> None:
    code, _, err = run(capsys, "ask", "Who?", "--model", str(isolated / "none.gguf"))
    assert_clean_error(code, err, "model file not found")


def test_model_file_with_the_wrong_hash(capsys: pytest.CaptureFixture[str], isolated: Path) -> None:
    write(isolated / "cache" / DEFAULT_MODEL_FILE, "truncated download")
    code, _, err = run(capsys, "ask", "Who?")
    assert_clean_error(code, err, "expected 1d9614638d18")


def test_index_built_with_another_embedder(
    capsys: pytest.CaptureFixture[str], isolated: Path
) -> None:
    settings = load_settings(environ={"RAG_DATA_DIR": str(isolated / "data")}, cwd=isolated)
    pipeline = Pipeline(settings, embedder=KeywordEmbedder(["london"]))
    pipeline.ingest([write(isolated / "a.txt", "London news.")])
    code, _, err = run(capsys, "ask", "Who?")
    assert_clean_error(code, err, "built with embedder 'fake-keyword'")


def test_debug_shows_the_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "ask", "", "--debug")
    assert code == 1
    assert "Traceback" in err and "error: the question is empty" in err


def test_bad_setting_from_the_environment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAG_K", "lots")
    code, _, err = run(capsys, "status")
    assert_clean_error(code, err, "environment variable RAG_K")


def test_ingest_of_only_broken_files_fails_with_a_table(
    capsys: pytest.CaptureFixture[str], isolated: Path
) -> None:
    broken = write(isolated / "broken.json", "[{")
    code, out, _ = run(capsys, "ingest", str(broken), "--json")
    assert code == 1
    report = json.loads(out)
    assert report["articles"] == 0
    [problem] = report["problems"]
    assert problem["origin"] == str(broken) and "invalid JSON" in problem["message"]


def test_status_json_on_an_empty_index(capsys: pytest.CaptureFixture[str], isolated: Path) -> None:
    code, out, _ = run(capsys, "status", "--json")
    assert code == 0
    status = json.loads(out)
    assert status["articles"] == 0 and status["embedder"] is None
    assert status["data_dir"] == str(isolated / "data")
    assert "Qwen2.5" in status["model"]


@pytest.mark.parametrize("command", ["ingest", "ask", "status", "remove", "eval"])
def test_every_command_has_help_with_an_example(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        build_parser().parse_args([command, "--help"])
    assert caught.value.code == 0
    assert f"example:\n  rag {command}" in capsys.readouterr().out


def test_importing_the_cli_loads_no_heavy_library() -> None:
    code = (
        "import sys, rag.cli, rag.pipeline;"
        "heavy = {'torch', 'llama_cpp', 'gradio', 'sentence_transformers'} & set(sys.modules);"
        "print(sorted(heavy))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_an_unwritable_data_dir_is_a_clean_error(
    capsys: pytest.CaptureFixture[str], isolated: Path
) -> None:
    blocker = write(isolated / "not-a-dir", "x")
    code, _, err = run(capsys, "status", "--data-dir", str(blocker / "data"))
    assert_clean_error(code, err, "not-a-dir")


def test_remove_needs_ids_or_a_source_it_knows(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "remove")
    assert_clean_error(code, err, "give article ids or --source")
    code, _, err = run(capsys, "remove", "https://nowhere.example/x")
    assert_clean_error(code, err, "not in the index: https://nowhere.example/x")
    code, _, err = run(capsys, "remove", "--source", "Nobody")
    assert_clean_error(code, err, "not in the index: any article of 'Nobody'")


def test_ingest_prints_a_problem_table(capsys: pytest.CaptureFixture[str], isolated: Path) -> None:
    write(isolated / "news" / "bad.jsonl", '{"title": "x"}\n{nope\n')
    code, _, err = run(capsys, "ingest", str(isolated / "news"))
    assert code == 1
    header, first, second = err.strip().splitlines()[1:]
    assert header.split() == ["file", "problem", "what", "to", "do"]
    assert first.split()[0] == f"{isolated / 'news' / 'bad.jsonl'}:1"
    assert "field 'body' is missing or empty" in first
    assert first.index("field") == header.index("problem") == second.index("invalid")


@pytest.mark.parametrize(
    ("host", "warned"), [("0.0.0.0", True), ("127.0.0.1", False), ("::1", False)]
)
def test_serve_warns_when_open_to_the_network_without_auth(
    capsys: pytest.CaptureFixture[str], isolated: Path, host: str, warned: bool
) -> None:
    # A missing model stops `serve` right after its checks, before anything loads.
    code, _, err = run(capsys, "serve", "--host", host, "--model", str(isolated / "none.gguf"))
    assert ("warning: serving on" in err and "--auth USER:PASS" in err) == warned
    assert_clean_error(code, err.split("\n", 1)[1] if warned else err, "model file not found")


def test_serve_auth_needs_a_user_and_a_password(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--auth", "alice"])
    assert "USER:PASS" in capsys.readouterr().err
    args = build_parser().parse_args(["serve", "--auth", "alice:pa:ss", "--host", "0.0.0.0"])
    assert args.auth == ("alice", "pa:ss")


@pytest.mark.parametrize(
    "command",
    [
        ["ask", "Who?"],
        ["search", "Who?"],
        ["serve", "--model", "none.gguf"],  # had the range passed, it would stop, not serve
        ["eval", "--dataset", "q.jsonl"],
    ],
    ids=["ask", "search", "serve", "eval"],
)
def test_a_reversed_date_range_is_refused_by_every_command_that_searches(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    monkeypatch.setenv("RAG_SINCE", "2024-03-01")
    code, _, err = run(capsys, *command, "--until", "2024-01-31")
    assert_clean_error(
        code,
        err,
        "environment variable RAG_SINCE (2024-03-01) is after option --until (2024-01-31)",
    )


@pytest.fixture
def two_sources(
    isolated: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An index of a Wired and a BBC story, which the CLI searches with the keyword embedder."""
    embedder = KeywordEmbedder(["london"])
    monkeypatch.setattr(Pipeline, "embedder", property(lambda _: embedder))
    stories = [
        {"title": "A", "source": "Wired", "published_at": "2025-03-01", "body": "London a."},
        {"title": "B", "source": "BBC", "published_at": "2025-04-01", "body": "London b."},
    ]
    dump = write(isolated / "news.jsonl", "\n".join(json.dumps(s) for s in stories))
    assert main(["ingest", str(dump)]) == 0
    capsys.readouterr()


@pytest.mark.usefixtures("two_sources")
def test_search_under_filters_that_match_nothing_finds_nothing_and_says_why(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "search", "London", "--since", "2025-03-15", "--source", "Wired")
    assert (code, out) == (
        0,
        "note: No article matches your filters: there are no articles published since "
        "2025-03-15 from Wired in the index.\nnothing found\n",
    )


@pytest.mark.usefixtures("two_sources")
def test_search_for_a_source_the_index_does_not_hold_names_the_closest(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAG_SOURCES", "BBC,wired")
    code, _, err = run(capsys, "search", "London", "--json")
    assert_clean_error(code, err, "unknown source 'wired': no article in the index has it")
    assert err.splitlines()[1] == "hint: Did you mean 'Wired'?"
