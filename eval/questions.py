"""Question sets: the project's own JSON Lines format, and MultiHop-RAG's query file.

Both load into `Question`s. The format is detected from the content, not the file name:
a JSON array of objects with `query`, `question_type` and `evidence_list` is MultiHop-RAG;
anything else must be the project's JSON Lines format (see eval/README.md).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from rag.errors import InputError
from rag.prompt import NOT_IN_CORPUS

Format = Literal["newsrag", "multihop-rag"]
MULTIHOP_UNANSWERABLE = "Insufficient information."
FORMAT_HINT = "See eval/README.md for the dataset format."


@dataclass(frozen=True)
class Evidence:
    """One piece of gold evidence: an article, and optionally a sentence quoted from it."""

    article_id: str | None
    quote: str | None


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    answers: tuple[str, ...]
    """Accepted gold answers; the first is the canonical one."""
    answerable: bool
    type: str
    evidence: tuple[Evidence, ...]
    history: tuple[str, ...] = ()
    """The questions asked before it in the same chat (it is a follow-up), in order."""


@dataclass(frozen=True)
class Dataset:
    path: Path
    format: Format
    sha256: str
    questions: tuple[Question, ...]
    unanswerable_answer: str
    """What the dataset's gold answer says when the corpus does not answer."""


def load_dataset(path: Path) -> Dataset:
    """Read a question set, detecting its format; errors name the line or item and field."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise InputError(f"dataset not found: {path}", hint=FORMAT_HINT) from exc
    except IsADirectoryError as exc:
        raise InputError(f"dataset is a folder, not a file: {path}", hint=FORMAT_HINT) from exc
    text = raw.decode("utf-8", errors="replace")
    digest = hashlib.sha256(raw).hexdigest()
    if text.lstrip().startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
                hint=FORMAT_HINT,
            ) from exc
        if isinstance(data, list) and data and isinstance(data[0], dict) and "query" in data[0]:
            questions = tuple(_multihop_question(item, path, n) for n, item in enumerate(data, 1))
            return Dataset(path, "multihop-rag", digest, questions, MULTIHOP_UNANSWERABLE)
        raise InputError(
            f"{path}: a JSON array that is not MultiHop-RAG queries "
            "(objects with 'query', 'answer', 'question_type', 'evidence_list')",
            hint=FORMAT_HINT,
        )
    own = [
        _own_question(line, path, number)
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip()
    ]
    if not own:
        raise InputError(f"{path}: no questions in the file", hint=FORMAT_HINT)
    _check_unique_ids(own, path)
    return Dataset(path, "newsrag", digest, tuple(own), NOT_IN_CORPUS)


def _own_question(line: str, path: Path, number: int) -> Question:
    where = f"{path}:{number}"
    try:
        item = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{where}: invalid JSON at column {exc.colno}: {exc.msg}", hint=FORMAT_HINT
        ) from exc
    if not isinstance(item, dict):
        raise InputError(f"{where}: expected a JSON object", hint=FORMAT_HINT)
    question = _text(item, "question", where)
    answerable = item.get("answerable", True)
    if not isinstance(answerable, bool):
        raise InputError(f"{where}: field 'answerable' must be true or false", hint=FORMAT_HINT)
    answers = item.get("answers", [])
    if not isinstance(answers, list) or not all(isinstance(a, str) and a for a in answers):
        raise InputError(f"{where}: field 'answers' must be a list of strings", hint=FORMAT_HINT)
    if answerable and not answers:
        raise InputError(f"{where}: an answerable question needs 'answers'", hint=FORMAT_HINT)
    entries = item.get("evidence") or []
    if not isinstance(entries, list):
        raise InputError(f"{where}: field 'evidence' must be a list", hint=FORMAT_HINT)
    evidence = []
    for entry in entries:
        if not isinstance(entry, dict) or not (entry.get("article_id") or entry.get("quote")):
            raise InputError(
                f"{where}: each 'evidence' entry needs 'article_id' and/or 'quote'",
                hint=FORMAT_HINT,
            )
        evidence.append(Evidence(entry.get("article_id"), entry.get("quote")))
    history = item.get("history", [])
    if not isinstance(history, list) or not all(isinstance(h, str) and h for h in history):
        raise InputError(
            f"{where}: field 'history' must be a list of the questions asked before",
            hint=FORMAT_HINT,
        )
    return Question(
        id=str(item.get("id", number)),
        question=question,
        answers=tuple(answers),
        answerable=answerable,
        type=str(item.get("type", "unspecified")),
        evidence=tuple(evidence),
        history=tuple(history),
    )


def _multihop_question(item: Any, path: Path, number: int) -> Question:
    where = f"{path} item {number}"
    if not isinstance(item, dict):
        raise InputError(f"{where}: expected a JSON object", hint=FORMAT_HINT)
    query = _text(item, "query", where)
    answer = _text(item, "answer", where)
    kind = _text(item, "question_type", where)
    evidence_list = item.get("evidence_list")
    if not isinstance(evidence_list, list):
        raise InputError(f"{where}: field 'evidence_list' must be a list", hint=FORMAT_HINT)
    evidence = []
    for entry in evidence_list:
        if not isinstance(entry, dict) or not isinstance(entry.get("fact"), str):
            raise InputError(f"{where}: an evidence entry has no 'fact'", hint=FORMAT_HINT)
        evidence.append(Evidence(entry.get("url"), entry["fact"]))
    return Question(
        id=hashlib.sha256(query.encode()).hexdigest()[:12],
        question=query,
        answers=(answer,),
        answerable=kind != "null_query",
        type=kind,
        evidence=tuple(evidence),
    )


def _text(item: dict[str, Any], name: str, where: str) -> str:
    value = item.get(name)
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{where}: field '{name}' is missing or empty", hint=FORMAT_HINT)
    return value


def _check_unique_ids(questions: list[Question], path: Path) -> None:
    seen: set[str] = set()
    for question in questions:
        if question.id in seen:
            raise InputError(
                f"{path}: question id '{question.id}' appears twice",
                hint="Give every question its own 'id'.",
            )
        seen.add(question.id)
