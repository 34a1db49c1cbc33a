"""The `rag` command's contract: errors, exit codes, JSON, help. No model is loaded here."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import KeywordEmbedder, write

from rag.cli import build_parser, main
from rag.config import load_settings
from rag.load import TEXT_SUFFIXES
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


def test_unknown_path_is_a_problem_row(capsys: pytest.CaptureFixture[str], isolated: Path) -> None:
    code, out, err = run(capsys, "ingest", str(isolated / "missing.json"))
    assert code == 1
    assert "no articles could be read: nothing was written" in out and "error:" not in err
    row = err.strip().splitlines()[-1].split()
    assert row[:5] == [str(isolated / "missing.json"), "no", "such", "file", "or"]


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


COMMANDS = [
    "ingest",
    "ask",
    "chat",
    "search",
    "status",
    "articles",
    "remove",
    "doctor",
    "serve",
    "eval",
]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_an_example(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        build_parser().parse_args([command, "--help"])
    assert caught.value.code == 0
    assert f"example:\n  rag {command}" in capsys.readouterr().out


HEAVY = ("torch", "llama_cpp", "gradio", "sentence_transformers", "onnxruntime", "chromadb")


def heavy_imports_after(code: str) -> tuple[str, str]:
    """Run `code` in a new interpreter: (the heavy libraries it imported, what it printed)."""
    probe = f"{code}\nimport sys; print(sorted(set({HEAVY!r}) & set(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    printed, _, heavy = result.stdout.rstrip("\n").rpartition("\n")
    return heavy, printed


def test_importing_the_cli_loads_no_heavy_library() -> None:
    assert heavy_imports_after("import rag.cli, rag.pipeline") == ("[]", "")


def test_an_unwritable_data_dir_is_a_clean_error(
    capsys: pytest.CaptureFixture[str], isolated: Path
) -> None:
    blocker = write(isolated / "not-a-dir", "x")
    code, _, err = run(capsys, "status", "--data-dir", str(blocker / "data"))
    assert_clean_error(code, err, "not-a-dir")


def test_remove_needs_ids_or_a_source_it_knows(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "remove")
    assert_clean_error(code, err, "give article ids, --source or --all")
    code, _, err = run(capsys, "remove", "--all", "--source", "BBC")
    assert_clean_error(code, err, "give article ids, --source or --all")
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


def help_of(command: str, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit):
        build_parser().parse_args([command, "--help"])
    return capsys.readouterr().out


def test_bare_rag_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys)
    assert code == 0 and not err
    assert out.startswith("usage: rag")
    for command in COMMANDS:
        assert f"\n    {command} " in out, command


def test_global_flags_go_before_or_after_the_command(
    capsys: pytest.CaptureFixture[str], isolated: Path
) -> None:
    data = str(isolated / "elsewhere")
    after = run(capsys, "status", "--json", "--data-dir", data)
    before = run(capsys, "--data-dir", data, "--json", "status")
    assert before == after
    assert json.loads(before[1])["data_dir"] == data
    _, out, _ = run(capsys, "--data-dir", "ignored", "status", "--data-dir", data, "--json")
    assert json.loads(out)["data_dir"] == data
    code, _, err = run(capsys, "--debug", "ask", "")
    assert code == 1 and "Traceback" in err


def test_json_before_a_command_without_json_is_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--json", "remove", "some-id"])
    assert caught.value.code == 2
    assert "rag remove has no --json" in capsys.readouterr().err


DATE_FLAGS = [f"--{name.replace('_', '-')}" for name in ("since", "until", "as_of")]


@pytest.mark.parametrize("command", COMMANDS)
def test_date_flags_ask_for_a_day(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    text = help_of(command, capsys)
    for flag in DATE_FLAGS:
        assert f"{flag} {flag.split('-')[-1].upper()}" not in text
        if flag in text:
            assert f"{flag} YYYY-MM-DD" in text


def test_setting_flags_say_what_goes_there(capsys: pytest.CaptureFixture[str]) -> None:
    text = " ".join(help_of("ask", capsys).split())
    for shown in (
        "--data-dir DIR",
        "--embedder NAME_OR_PATH",
        "--model PATH",
        "--max-tokens N",
        "--threads N",
        "--k 1..50",
        "--bm25-weight 0..1",
        "--since YYYY-MM-DD",
        "--source NAME",
        "--retriever {hybrid,dense,bm25}",
    ):
        assert shown in text, shown


STORIES = [
    ("https://x.example/old", "Wired", "2023-09-30T23:30:00+00:00"),
    ("https://x.example/new", "BBC", "2023-11-01T00:00:00+00:00"),
    ("https://x.example/mid", "BBC", "2023-10-15T08:00:00+00:00"),
    ("https://x.example/undated", "Wired", None),
]


@pytest.fixture
def indexed(isolated: Path) -> Path:
    """The stories indexed with the fake keyword embedder: a command that loaded the real
    embedder would refuse this index."""
    records = [
        {
            "title": f"Story {url.rsplit('/', 1)[1]}",
            "url": url,
            "source": source,
            "published_at": day,
            "body": f"London news from {url}.",
        }
        for url, source, day in STORIES
    ]
    settings = load_settings(environ={"RAG_DATA_DIR": str(isolated / "data")}, cwd=isolated)
    pipeline = Pipeline(settings, embedder=KeywordEmbedder(["london"]))
    pipeline.ingest([write(isolated / "news.jsonl", "\n".join(json.dumps(r) for r in records))])
    return isolated / "data"


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ([], ["new", "mid", "old", "undated"]),
        (["--since", "2023-10-01"], ["new", "mid"]),
        (["--until", "2023-10-15"], ["mid", "old"]),
        (["--source", "Wired"], ["old", "undated"]),
        (["--source", "BBC", "--source", "Wired", "--until", "2023-10-01"], ["old"]),
        (["--source", "BBC", "--since", "2024-01-01"], []),
    ],
)
def test_articles_lists_the_index_newest_first_with_the_search_filters(
    capsys: pytest.CaptureFixture[str], indexed: Path, flags: list[str], expected: list[str]
) -> None:
    code, out, _ = run(capsys, "articles", "--json", *flags)
    assert code == 0
    listed = json.loads(out)
    assert [a["id"].rsplit("/", 1)[1] for a in listed] == expected
    assert all(a["chunks"] >= 1 and a["source"] in ("BBC", "Wired") for a in listed)


def test_articles_shows_dates_sources_and_ids(
    capsys: pytest.CaptureFixture[str], indexed: Path
) -> None:
    code, out, _ = run(capsys, "articles")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "2023-11-01  Story new | BBC | 1 chunk"
    assert lines[1].split() == ["https://x.example/new"]
    assert lines[6].startswith("undated     Story undated | Wired")
    code, out, _ = run(capsys, "articles", "--source", "BBC", "--since", "2024-01-01")
    assert (code, out) == (0, "no articles published since 2024-01-01 from BBC\n")
    code, _, err = run(capsys, "articles", "--source", "wired")
    assert_clean_error(code, err, "unknown source 'wired'")
    assert "Did you mean 'Wired'?" in err


def test_articles_on_an_empty_index(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "articles") == (0, "the index is empty: rag ingest PATH\n", "")


def test_articles_and_status_load_no_model_and_no_store(indexed: Path) -> None:
    heavy, printed = heavy_imports_after("from rag.cli import main; main(['articles'])")
    assert heavy == "[]"
    assert "https://x.example/undated" in printed
    heavy, printed = heavy_imports_after("from rag.cli import main; main(['status'])")
    assert heavy == "[]"
    assert re.search(r"articles +4\n", printed), printed


def test_help_loads_no_heavy_library() -> None:
    heavy, printed = heavy_imports_after(
        "from rag.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass"
    )
    assert heavy == "[]"
    assert "usage: rag" in printed


def test_remove_points_at_articles_for_the_ids(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "remove", "https://nowhere.example/x")
    assert_clean_error(code, err, "not in the index")
    assert "`rag articles`" in err
    assert "see rag articles" in help_of("remove", capsys)


def test_remove_all_empties_the_index_copies_included(
    capsys: pytest.CaptureFixture[str], indexed: Path, isolated: Path
) -> None:
    copy = {"title": "Reprint", "url": "https://y.example/reprint", "source": "Echo"}
    copy["body"] = "London news from https://x.example/new."  # the text of an indexed story
    settings = load_settings(environ={"RAG_DATA_DIR": str(indexed)}, cwd=isolated)
    pipeline = Pipeline(settings, embedder=KeywordEmbedder(["london"]))
    report = pipeline.ingest([write(isolated / "copy.json", json.dumps(copy))])
    assert report.outcomes == {"copy": 1}
    # Re-homing the copy would need the real embedder, which this index refuses.
    assert run(capsys, "remove", "--all") == (0, "removed 4 article(s)\n", "")
    assert run(capsys, "articles")[1] == "the index is empty: rag ingest PATH\n"
    status = json.loads(run(capsys, "status", "--json")[1])
    assert (status["articles"], status["chunks"]) == (0, 0)


def test_status_says_whether_the_model_check_has_run(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "status")
    assert code == 0
    assert "model check  not passed yet on this build: it runs before the first answer" in out


def test_ingest_reads_the_rest_past_a_missing_path_and_exits_1(
    capsys: pytest.CaptureFixture[str], isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Pipeline, "embedder", KeywordEmbedder(["london"]))
    monkeypatch.setenv("RAG_EMBEDDER", KeywordEmbedder.name)  # the embedder configured
    write(isolated / "good" / "a.txt", "London talks resumed.")
    missing = isolated / "missing-path"
    code, out, _ = run(capsys, "ingest", "good", str(missing), "--json")
    assert code == 1
    report = json.loads(out)
    assert report["outcomes"] == {"new": 1} and report["chunks"] == 1
    assert [(p["origin"], p["message"]) for p in report["problems"]] == [
        (str(missing), "no such file or folder")
    ]
    code, out, err = run(capsys, "ingest", "good")
    assert code == 0 and "1 unchanged" in out and err == ""


def test_ingest_help_names_every_format_it_reads(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["ingest", "--help"], ["--help"]):
        with pytest.raises(SystemExit):
            build_parser().parse_args(argv)
        shown = " ".join(capsys.readouterr().out.split())
        assert set(TEXT_SUFFIXES) <= set(re.findall(r"(?<![\w.])\.\w+", shown)), argv
        assert "folders and http(s) URLs" in shown, argv


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


@pytest.mark.parametrize("shard", ["0/2", "3/2", "1", "a/b", "1/0"])
def test_a_shard_is_written_i_of_n(capsys: pytest.CaptureFixture[str], shard: str) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["ingest", "--shard", shard, "news/"])
    assert "write I/N with 1 <= I <= N" in capsys.readouterr().err


def test_an_unreachable_chroma_server_is_a_clean_error(
    capsys: pytest.CaptureFixture[str], isolated: Path
) -> None:
    from servers import free_port

    url = f"http://127.0.0.1:{free_port()}"
    news = write(isolated / "a.md", "# A\n\nBody.")
    code, _out, err = run(capsys, "ingest", "--chroma-url", url, "--shard", "1/2", str(news))
    assert_clean_error(code, err, f"cannot reach the Chroma server at {url}")
