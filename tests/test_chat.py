"""`rag chat` over a pipe: a real index, the keyword embedder and a scripted generator."""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from conftest import KeywordEmbedder, ScriptedGenerator, write

from rag.cli import main
from rag.pipeline import Pipeline
from rag.seams import Message

LONDON = (
    "---\ntitle: London talks\nsource: Post\npublished_at: 2025-04-23\n---\n"
    "Officials from France and Germany met in London. Ukraine refused to recognize Crimea."
)
BRIDGE = "---\ntitle: Bridge closed\nsource: Courier\n---\nThe Harbour Bridge closed in March."
LONDON_SENTENCE = "Officials from France and Germany met in London"


@pytest.fixture
def generator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ScriptedGenerator:
    """The generator every pipeline of the test gets; the index holds two articles."""
    monkeypatch.setenv("RAG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RAG_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("RAG_MODEL", str(write(tmp_path / "model.gguf", "")))
    monkeypatch.chdir(tmp_path)
    embedder = KeywordEmbedder(["london", "ukraine", "bridge"])
    monkeypatch.setenv("RAG_EMBEDDER", embedder.name)
    scripted = ScriptedGenerator()
    monkeypatch.setattr(Pipeline, "embedder", property(lambda _: embedder))
    monkeypatch.setattr(Pipeline, "generator", property(lambda _: scripted))
    write(tmp_path / "corpus" / "london.md", LONDON)
    write(tmp_path / "corpus" / "bridge.md", BRIDGE)
    assert main(["ingest", str(tmp_path / "corpus")]) == 0
    return scripted


def chat(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *lines: str
) -> tuple[int, str, str]:
    capsys.readouterr()
    monkeypatch.setattr(sys, "stdin", io.StringIO("".join(f"{line}\n" for line in lines)))
    code = main(["chat"])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_conversation_with_a_follow_up_sources_and_a_new_start(
    generator: ScriptedGenerator,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    generator.replies += [
        "France and Germany met",
        "What did Ukraine refuse to recognize in London?",
        "Crimea",
        "The Harbour Bridge closed in March",
    ]
    code, out, err = chat(
        capsys,
        monkeypatch,
        "What happened in London?",
        "/sources",
        "",
        "and what did Ukraine refuse to recognize?",
        "/new",
        "and what happened to the bridge?",
        "/quit",
        "Never read: the chat ended before it?",
    )
    assert code == 0, err
    turns = out.split("> ")[1:]
    assert [turn.splitlines()[0] for turn in turns] == [
        "What happened in London?",
        "/sources",
        "and what did Ukraine refuse to recognize?",
        "/new",
        "and what happened to the bridge?",
        "/quit",
    ]
    first, sources, follow_up, new, after_new, _ = turns
    assert first.splitlines()[1] == f"France and Germany met. {LONDON_SENTENCE} [1]."
    assert "Sources:\n[1] London talks | Post | 2025-04-23\n    Officials from France" in first
    assert sources.splitlines()[1] == "The passages of the last answer (cited: 1):"
    assert "[1] London talks | Post | 2025-04-23" in sources
    assert "[2] Bridge closed | Courier | undated" in sources
    assert follow_up.splitlines()[1:3] == [
        "(read as: What did Ukraine refuse to recognize in London?)",
        "Crimea. Ukraine refused to recognize Crimea [1].",
    ]
    assert new.splitlines()[1] == "(a new conversation)"
    # After /new there is nothing to follow: asked as it is, without a rewrite.
    assert "read as" not in after_new
    assert after_new.splitlines()[1].startswith("The Harbour Bridge closed in March. "), out

    _, rewrite, answer_to_rewrite, answer_after_new = generator.prompts
    assert (
        "Human: What happened in London?\nAssistant: France and Germany met. "
        in (rewrite[0]["content"])
    )
    assert "What did Ukraine refuse to recognize in London?" in answer_to_rewrite[-1]["content"]
    assert "and what happened to the bridge?" in answer_after_new[-1]["content"]


def test_the_end_of_the_input_ends_the_chat_and_unknown_commands_are_named(
    generator: ScriptedGenerator,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, out, err = chat(capsys, monkeypatch, "/sources", "/help")
    assert code == 0
    assert out == (
        "> /sources\nno answer yet: ask a question first\n"
        "> /help\nunknown command /help: /sources, /new, /quit\n"
    )
    assert err == ""  # no greeting, no draft: the input is not a terminal
    assert generator.prompts == []


def test_on_a_terminal_the_draft_streams_then_makes_way_for_the_answer(
    generator: ScriptedGenerator,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    generator.replies += ["France and Germany met as officials in London"]
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    monkeypatch.setenv("COLUMNS", "20")
    code, out, err = chat(capsys, monkeypatch, "What happened in London?")
    assert code == 0
    # 45 characters on a terminal 20 wide: three rows, wiped from the first.
    assert err == "France and Germany met as officials in London\033[2A\r\033[J"
    assert out.splitlines()[1].startswith("France and Germany met as officials in London. ")


class InterruptedOnce(ScriptedGenerator):
    """A generator whose first answer is cut short by Ctrl-C."""

    def stream(
        self, messages: Sequence[Message], *, max_tokens: int, stop: Sequence[str] = ()
    ) -> Iterator[str]:
        if not self.prompts:
            self.prompts.append(list(messages))
            yield "France and"
            raise KeyboardInterrupt
        yield from super().stream(messages, max_tokens=max_tokens, stop=stop)


def test_ctrl_c_stops_the_answer_and_the_conversation_goes_on(
    tmp_path: Path,
    generator: ScriptedGenerator,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    interrupted = InterruptedOnce("France and Germany met")
    monkeypatch.setattr(Pipeline, "generator", property(lambda _: interrupted))
    question = "What happened in London?"
    code, out, err = chat(capsys, monkeypatch, question, question)
    assert code == 0
    assert "(stopped)" in err
    assert out.count(LONDON_SENTENCE) == 2  # the second answer, and its source
    assert len(interrupted.prompts) == 2  # the stopped answer is no turn to rewrite from
