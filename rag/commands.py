"""What each of `rag`'s own commands does, given the settings and the parsed flags.

A handler asks the `Pipeline`, prints what `rag.present` renders (text, or JSON with
`--json`) and returns the exit code; `rag.cli` parses the command line and reports errors.
Progress goes to standard error, and only on a terminal.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rag import present
from rag.config import Settings
from rag.errors import InputError
from rag.types import Filters, Problem

if TYPE_CHECKING:
    from rag.pipeline import Pipeline


def ingest(settings: Settings, args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from rag.integrity import clear
    from rag.pipeline import ArticleDone, Pipeline

    if args.rebuild:
        clear(settings)
    pipeline = Pipeline(settings)
    with tqdm(unit=" articles", disable=args.json or not sys.stderr.isatty()) as bar:
        written = 0

        def show(done: ArticleDone) -> None:
            nonlocal written
            written += done.chunks
            bar.total = done.total
            bar.set_postfix_str(
                f"{written / max(bar.format_dict['elapsed'], 1e-9):.1f} chunks/s", refresh=False
            )
            bar.update()

        report = pipeline.ingest(
            args.paths,
            source=args.source,
            fields=args.fields,
            prune=args.prune,
            shard=args.shard,
            on_article=show,
        )
    if args.json:
        print(json.dumps(present.ingest_json(report), indent=2))
    else:
        print(present.ingest_text(report))
        _print_problems(report.problems)
    return 1 if report.problems else 0


def remove(settings: Settings, args: argparse.Namespace) -> int:
    from rag.pipeline import Pipeline

    if [bool(args.ids), args.source is not None, args.all].count(True) != 1:
        raise InputError(
            "give article ids, --source or --all: one of them",
            hint="rag remove ID [ID...]  or  rag remove --source NAME  or  rag remove --all",
        )
    pipeline = Pipeline(settings)
    if args.all:
        print(f"removed {pipeline.remove_all()} article(s)")
        return 0
    known = {entry.id for entry in pipeline.manifest.entries()}
    ids = [e.id for e in pipeline.manifest.find(source=args.source)] if args.source else args.ids
    missing = [i for i in ids if i not in known]
    if missing or not ids:
        raise InputError(
            f"not in the index: {', '.join(missing) or 'any article of ' + repr(args.source)}",
            hint="See the ids and sources with `rag articles`."
            + (
                " On a Chroma server, remove an article with the --data-dir that ingested it "
                "(its manifest, or its shard's, keeps the article)."
                if settings.chroma_url
                else ""
            ),
        )
    pipeline.remove(ids)
    print(f"removed {len(ids)} article(s)")
    return 0


def doctor(settings: Settings, args: argparse.Namespace) -> int:
    from rag.doctor import run_checks

    print("checking (a test generation and the embedder take a few seconds) ...", file=sys.stderr)
    checks = run_checks(settings)
    print(present.checks_text(checks))
    return 0 if all(check.ok for check in checks) else 1


def articles(settings: Settings, args: argparse.Namespace) -> int:
    from rag.pipeline import Pipeline

    filters = Filters(settings.since, settings.until, settings.sources)
    entries = Pipeline(settings).articles(filters)
    if args.json:
        print(json.dumps(present.articles_json(entries), indent=2, ensure_ascii=False))
    else:
        print(present.articles_text(entries, filters))
    return 0


def open_pipeline(settings: Settings) -> Pipeline:
    """A pipeline ready to answer: the index's embedder and the model file checked, and the
    default corpus ingested into an empty index (saying so)."""
    from rag.pipeline import Pipeline, default_corpus

    pipeline = Pipeline(settings)
    pipeline.check_ready()
    if pipeline.is_empty():
        print(
            f"The index is empty: ingesting the default corpus ({default_corpus()}) first.",
            file=sys.stderr,
        )
    if report := pipeline.ingest_default_if_empty():
        _print_problems(report.problems)
    return pipeline


def ask(settings: Settings, args: argparse.Namespace) -> int:
    from rag.pipeline import check_question

    check_question(args.question)
    pipeline = open_pipeline(settings)
    tokens = 0

    def show_progress(_piece: str) -> None:
        nonlocal tokens
        tokens += 1
        print(f"\rwriting the answer: {tokens} tokens", end="", file=sys.stderr, flush=True)

    live = sys.stderr.isatty()
    answer = pipeline.ask(args.question, on_token=show_progress if live else None)
    if live:
        print("\r\033[K", end="", file=sys.stderr, flush=True)
    if args.json:
        print(json.dumps(present.answer_json(answer), indent=2, ensure_ascii=False))
    else:
        print(present.answer_text(answer))
    return 0


def chat(settings: Settings, args: argparse.Namespace) -> int:
    from rag import chat as conversation

    return conversation.chat(open_pipeline(settings))


def search(settings: Settings, args: argparse.Namespace) -> int:
    from rag.pipeline import Pipeline, check_question

    pipeline = Pipeline(settings)
    question = check_question(args.question)
    if pipeline.is_empty():
        raise InputError(
            "the index is empty", hint="Add articles first: rag ingest PATH (or rag ask once)."
        )
    found = pipeline.search(question, k=settings.k)
    if args.json:
        print(json.dumps(present.search_json(question, found), indent=2, ensure_ascii=False))
    else:
        print(present.search_text(found))
    return 0


def status(settings: Settings, args: argparse.Namespace) -> int:
    from rag.pipeline import Pipeline

    now = Pipeline(settings).status()
    if args.json:
        print(json.dumps(present.status_json(now), indent=2))
        return 0
    print(present.status_text(now))
    _print_problems(now.last_ingest.problems if now.last_ingest else ())
    return 0


def _print_problems(problems: Sequence[Problem]) -> None:
    if problems:
        print(present.problems_text(problems), file=sys.stderr)
