"""The README documents every setting and every command (as datasette's tests do)."""

from __future__ import annotations

import re

from conftest import REPO

from rag.cli import build_parser
from rag.config import Settings

README = (REPO / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_in_the_configuration_table() -> None:
    for name in Settings.model_fields:
        assert f"| `{name}` | `RAG_{name.upper()}` |" in README, name


def test_every_command_is_in_the_commands_table() -> None:
    # `rag --help` lists one command a line, indented by four, under COMMAND.
    listing = build_parser().format_help().split("\n  COMMAND\n", 1)[1].split("\n\n", 1)[0]
    commands = re.findall(r"^ {4}(\S+)", listing, flags=re.MULTILINE)
    assert {"ingest", "ask", "serve", "eval"} <= set(commands), listing
    for command in commands:
        assert f"\n| `rag {command}" in README, command


def test_ci_installs_exactly_as_the_readme_says() -> None:
    first = README.split("```bash\n", 1)[1].split("\n", 1)[0]
    install = first.split(" && ")
    steps = [step for step in install if step.startswith("pip install")]
    assert steps, first
    assert " && ".join(steps) in (REPO / ".ci" / "run").read_text(encoding="utf-8")
