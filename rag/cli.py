"""The `rag` command: ingest articles, ask questions, show the index status."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
import traceback
from collections.abc import Callable, Sequence
from datetime import date, datetime
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast, get_args, get_origin

from rag import __version__
from rag.config import Settings, load_settings
from rag.errors import InputError, RagError
from rag.load import READABLE
from rag.types import Answer, Filters, Passage, Problem

if TYPE_CHECKING:
    from rag.pipeline import Pipeline

EXAMPLES = {
    "ingest": "example:\n  rag ingest ~/news/ multihop-rag/corpus.json",
    "ask": 'example:\n  rag ask "Who attended the London meeting?"\n'
    '  rag ask --json "Who met in London?" | jq .answer',
    "search": 'example:\n  rag search "TechCrunch FTX trial" --since 2023-10-01\n'
    '  rag search --json "What did The Verge say about Apple last week?"',
    "status": "example:\n  rag status --json",
    "articles": "example:\n  rag articles --source TechCrunch --since 2023-10-01\n"
    "  rag articles --json | jq -r '.[].id'",
    "remove": "example:\n  rag remove https://example.com/story\n"
    "  rag remove --source 'Daily Example'\n"
    "  rag remove --all",
    "doctor": "example:\n  rag doctor\n  rag doctor --model ~/models/other.gguf",
    "chat": "example:\n  rag chat\n"
    "  printf 'Who met in London?\\nand what did Ukraine refuse?\\n' | rag chat",
}


SEARCH_SETTINGS = [
    "k",
    "retriever",
    "bm25_weight",
    "candidates",
    "max_per_article",
    "since",
    "until",
    "sources",
    "as_of",
]
"""The settings of a search, as flags of every command that searches."""

GLOBAL_SETTINGS = ["data_dir", "embedder"]
"""Settings every command takes, before or after the command's name."""


def add_setting_flags(
    parser: argparse.ArgumentParser, names: Sequence[str], *, default: Any = None
) -> None:
    """One `--name` flag per setting, typed and described as in `Settings`.

    A setting of several values (`sources`) is a repeatable singular flag (`--source`);
    dates are checked by `Settings`, which names the flag in its error. The placeholder
    says what goes there, from the setting's type (see `_placeholder`).
    """
    for name in names:
        field = Settings.model_fields[name]
        help = f"{field.description} (env RAG_{name.upper()})"
        if name == "sources":
            parser.add_argument(
                "--source",
                dest="sources",
                action="append",
                metavar="NAME",
                default=default,
                help=help,
            )
            continue
        kinds = [t for t in get_args(field.annotation) if t is not type(None)]
        base: Any = kinds[0] if kinds else field.annotation
        choices = None
        if get_origin(field.annotation) is Literal:
            base, choices = str, get_args(field.annotation)
        parser.add_argument(
            "--" + name.replace("_", "-"),
            type=cast(Callable[[str], Any], str if base is date else base),
            choices=choices,
            metavar=None if choices else _placeholder(name, base, field.metadata),
            default=default,
            help=help,
        )


def _placeholder(name: str, kind: type, constraints: Sequence[Any]) -> str:
    """What goes after a setting's flag: a day, a number (or its range), a folder, a file."""
    if kind is date:
        return "YYYY-MM-DD"
    if kind in (int, float):
        low = next((c.ge for c in constraints if hasattr(c, "ge")), None)
        high = next((c.le for c in constraints if hasattr(c, "le")), None)
        return f"{low:g}..{high:g}" if low is not None and high is not None else "N"
    if kind is Path:
        return "DIR" if name.endswith("_dir") else "PATH"
    return "NAME_OR_PATH"  # the free-text settings name a model: on the hub, or a local path


def _add_global_flags(parser: argparse.ArgumentParser, *, default: Any) -> None:
    add_setting_flags(parser, GLOBAL_SETTINGS, default=default)
    parser.add_argument(
        "--debug", action="store_true", default=default, help="show tracebacks on errors"
    )


def build_parser() -> argparse.ArgumentParser:
    """`rag` and its commands. The global flags (and `--json`, for the commands that have
    it) go before or after the command's name; one given after it wins."""
    parser = argparse.ArgumentParser(
        prog="rag",
        description="Ask questions about news articles; every answer cites its sources.",
        epilog='example:\n  rag ask "Who attended the London meeting?"\n  rag articles',
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"newsrag {__version__}")
    _add_global_flags(parser, default=None)
    parser.add_argument(
        "--json",
        dest="json_before_command",
        action="store_true",
        help="print JSON, for the commands that have --json",
    )
    # A command's copies of the global flags stay unset unless given, so as not to hide
    # the values given before the command's name.
    common = argparse.ArgumentParser(add_help=False)
    _add_global_flags(common, default=argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(
        name: str, help: str, *, description: str | None = None, epilog: str | None = None
    ) -> argparse.ArgumentParser:
        return commands.add_parser(
            name,
            parents=[common],
            help=help,
            description=description or help,
            epilog=epilog or EXAMPLES[name],
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    adds = f"Add articles to the index from files ({READABLE}), folders and http(s) URLs."
    ingest = command(
        "ingest",
        adds,
        description=textwrap.fill(
            f"{adds} Exit code 0 when every input was read without problems, 1 when any "
            "failed (the problems are listed; the rest is still ingested)."
        ),
    )
    ingest.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="article files, folders, or http(s) URLs of pages and feeds",
    )
    add_setting_flags(ingest, ["chunk_tokens", "chunk_overlap"])
    ingest.add_argument(
        "--source", metavar="NAME", help="the outlet of these articles, whatever the files say"
    )
    ingest.add_argument(
        "--fields",
        type=_field_map,
        metavar="FIELD=KEY,...",
        help="JSON keys that hold the article fields, e.g. body=content,"
        "title=headline,published_at=date",
    )
    ingest.add_argument(
        "--prune",
        action="store_true",
        help="remove articles once read from these folders that are gone now",
    )
    ingest.add_argument("--json", action="store_true", help="print a JSON report")
    ingest.set_defaults(handler=_ingest)

    ask = command("ask", "Answer a question from the indexed articles, with citations.")
    ask.add_argument("question", metavar="QUESTION")
    add_setting_flags(ask, ["model", "max_tokens", "threads", *SEARCH_SETTINGS])
    ask.add_argument("--json", action="store_true", help="print the answer as JSON")
    ask.set_defaults(handler=_ask)

    chat = command(
        "chat",
        "Chat about the indexed articles: follow-up questions, /sources, /new, /quit.",
        description=textwrap.fill(
            "A conversation in the terminal, one question a line (typed or piped in). A "
            "follow-up question is rewritten from the conversation into one that stands alone "
            "before the search, and the rewrite is shown. /sources lists the passages of the "
            "last answer, /new forgets the conversation, /quit (or the end of input) ends it."
        ),
    )
    add_setting_flags(chat, ["model", "max_tokens", "threads", *SEARCH_SETTINGS])
    chat.set_defaults(handler=_chat)

    search = command(
        "search", "Show the passages a question finds, with scores and what found them."
    )
    search.add_argument("question", metavar="QUERY")
    add_setting_flags(search, SEARCH_SETTINGS)
    search.add_argument("--json", action="store_true", help="print the passages as JSON")
    search.set_defaults(handler=_search)

    status = command("status", "Show what the index holds and which models it uses.")
    add_setting_flags(status, ["model"])
    status.add_argument("--json", action="store_true", help="print the status as JSON")
    status.set_defaults(handler=_status)

    articles = command("articles", "List the indexed articles, newest first, with their ids.")
    add_setting_flags(articles, ["since", "until", "sources"])
    articles.add_argument("--json", action="store_true", help="print the articles as JSON")
    articles.set_defaults(handler=_articles)

    remove = command("remove", "Delete articles from the index, by id or by source.")
    remove.add_argument("ids", nargs="*", metavar="ID", help="article ids (see rag articles)")
    remove.add_argument("--source", metavar="NAME", help="delete every article of this source")
    remove.add_argument("--all", action="store_true", help="delete every article: an empty index")
    remove.set_defaults(handler=_remove)

    doctor = command(
        "doctor",
        "Check that this installation can answer: data dir, index, models, llama.cpp build.",
    )
    add_setting_flags(doctor, ["model", "threads"])
    doctor.set_defaults(handler=_doctor)

    # Commands that live outside `rag` (such as `rag eval`) register through entry points:
    # each gets `command` to make its parser with the common flags.
    for entry_point in entry_points(group="newsrag.commands"):
        entry_point.load()(command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.json_before_command:
        if "json" not in args:
            parser.error(f"rag {args.command} has no --json")
        args.json = True
    try:
        overrides = {name: getattr(args, name, None) for name in Settings.model_fields}
        return int(args.handler(load_settings(overrides), args))
    except RagError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        return 1
    except OSError as exc:  # a path the user gave cannot be read or written
        if args.debug:
            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        print("hint: Check the path and its permissions.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _ingest(settings: Settings, args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from rag.pipeline import ArticleDone, Pipeline

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
            on_article=show,
        )
    if args.json:
        print(
            json.dumps(
                {
                    "articles": report.articles,
                    "outcomes": report.outcomes,
                    "chunks": report.chunks,
                    "seconds": round(report.seconds, 3),
                    "problems": [vars(p) for p in report.problems],
                },
                indent=2,
            )
        )
    else:
        outcomes = ", ".join(f"{n} {name}" for name, n in sorted(report.outcomes.items()))
        if report.articles or not report.problems:
            print(
                f"read {report.articles} articles ({outcomes or 'none'}); "
                f"wrote {report.chunks} chunks in {report.seconds:.1f} s"
            )
        else:
            print("no articles could be read: nothing was written (see the problems below)")
        _print_problems(report.problems)
    return 1 if report.problems else 0


def _field_map(text: str) -> dict[str, str]:
    from rag.formats import FIELDS

    mapping = {}
    for pair in text.split(","):
        ours, _, theirs = pair.partition("=")
        if ours.strip() not in FIELDS or not theirs.strip():
            raise argparse.ArgumentTypeError(
                f"{pair!r}: write FIELD=KEY with FIELD one of {', '.join(FIELDS)}"
            )
        mapping[ours.strip()] = theirs.strip()
    return mapping


def _remove(settings: Settings, args: argparse.Namespace) -> int:
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
            hint="See the ids and sources with `rag articles`.",
        )
    pipeline.remove(ids)
    print(f"removed {len(ids)} article(s)")
    return 0


def _doctor(settings: Settings, args: argparse.Namespace) -> int:
    from rag.doctor import run_checks

    print("checking (a test generation and the embedder take a few seconds) ...", file=sys.stderr)
    checks = run_checks(settings)
    width = max(len(check.name) for check in checks)
    for check in checks:
        print(f"{'ok' if check.ok else 'FAIL':<5} {check.name:<{width}}  {check.detail}")
        if check.hint:
            print(f"{'':<{width + 8}}hint: {check.hint}")
    return 0 if all(check.ok for check in checks) else 1


def _articles(settings: Settings, args: argparse.Namespace) -> int:
    from rag.filters import describe
    from rag.pipeline import Pipeline

    filters = Filters(settings.since, settings.until, settings.sources)
    entries = Pipeline(settings).articles(filters)
    if args.json:
        rows = [
            {
                "id": e.id,
                "title": e.title,
                "source": e.source,
                "published_at": e.published_at,
                "chunks": e.chunks,
                "origin": e.origin,
            }
            for e in entries
        ]
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    if not entries:
        print(f"no {describe(filters)}" if filters else "the index is empty: rag ingest PATH")
        return 0
    if filters:
        print(f"note: only {describe(filters)}")
    for entry in entries:
        day = (
            datetime.fromisoformat(entry.published_at).date().isoformat()
            if entry.published_at
            else "undated"
        )
        chunks = f"{entry.chunks} chunk{'' if entry.chunks == 1 else 's'}"
        print(f"{day:<10}  {entry.title} | {entry.source or 'unknown source'} | {chunks}")
        print(f"{'':<10}  {entry.id}")
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


def _ask(settings: Settings, args: argparse.Namespace) -> int:
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
        print(json.dumps(_answer_json(answer), indent=2, ensure_ascii=False))
        return 0
    print_answer(answer)
    return 0


def _chat(settings: Settings, args: argparse.Namespace) -> int:
    from rag.chat import chat

    return chat(open_pipeline(settings))


def print_answer(answer: Answer) -> None:
    """An answer as `rag ask` and `rag chat` print it: notes, the text, then how it was
    decided and the cited sources, or why the corpus does not say and the closest passages."""
    for note in answer.notes:
        print(f"note: {note}")
    print(answer.text)
    if answer.abstained:
        print(f"Why: {answer.basis}")
        if answer.passages:
            print("\nClosest passages:")
            for number, passage in enumerate(answer.passages[:3], start=1):
                print(format_source(number, passage))
        return
    print(f"How: {answer.basis}")
    print("\nSources:")
    for citation in answer.citations:
        print(format_source(citation.number, citation.passage))


def _search(settings: Settings, args: argparse.Namespace) -> int:
    from rag.pipeline import Pipeline, check_question

    pipeline = Pipeline(settings)
    question = check_question(args.question)
    if pipeline.is_empty():
        raise InputError(
            "the index is empty", hint="Add articles first: rag ingest PATH (or rag ask once)."
        )
    found = pipeline.search(question, k=settings.k)
    if args.json:
        filters = found.filters
        print(
            json.dumps(
                {
                    "question": question,
                    "filters": {
                        "since": filters.since.isoformat() if filters.since else None,
                        "until": filters.until.isoformat() if filters.until else None,
                        "sources": list(filters.sources),
                    },
                    "notes": list(found.notes),
                    "passages": [_passage_json(p) for p in found.passages],
                },
                indent=2,
                ensure_ascii=False,
            )
        )
        return 0
    for note in found.notes:
        print(f"note: {note}")
    for rank, passage in enumerate(found.passages, start=1):
        print(f"{rank:>2}. {passage.score:.3f}  {passage.found_by}  {passage.chunk.id}")
        print(format_source(rank, passage))
    if not found.passages:
        print("nothing found")
    return 0


def _status(settings: Settings, args: argparse.Namespace) -> int:
    from rag.pipeline import Pipeline

    status = Pipeline(settings).status()
    stats = status.stats
    first = stats.first_published.date().isoformat() if stats.first_published else None
    last = stats.last_published.date().isoformat() if stats.last_published else None
    embedder = {"name": status.embedder[0], "dim": status.embedder[1]} if status.embedder else None
    last_ingest = status.last_ingest
    if args.json:
        print(
            json.dumps(
                {
                    "articles": stats.articles,
                    "chunks": stats.chunks,
                    "sources": stats.sources,
                    "first_published": first,
                    "last_published": last,
                    "embedder": embedder,
                    "model": status.model,
                    "model_check": status.model_checked,
                    "data_dir": str(status.data_dir),
                    "last_ingest": {
                        "started_at": last_ingest.started_at,
                        "finished_at": last_ingest.finished_at,
                        "summary": last_ingest.summary,
                        "problems": [vars(p) for p in last_ingest.problems],
                    }
                    if last_ingest
                    else None,
                },
                indent=2,
            )
        )
        return 0
    rows = [
        ("articles", str(stats.articles)),
        ("chunks", str(stats.chunks)),
        ("sources", ", ".join(f"{name} ({n})" for name, n in stats.sources.items()) or "-"),
        ("dates", f"{first} to {last}" if first else "-"),
        ("embedder", f"{embedder['name']} ({embedder['dim']} dims)" if embedder else "-"),
        ("model", status.model),
        (
            "model check",
            f"passed on this build and CPU ({status.model_checked})"
            if status.model_checked
            else "not passed yet on this build: it runs before the first answer, "
            "or now with `rag doctor`",
        ),
        ("data dir", str(status.data_dir)),
    ]
    if last_ingest is not None:
        done = ", ".join(f"{n} {name}" for name, n in sorted(last_ingest.summary.items()))
        state = "" if last_ingest.finished_at else " (interrupted: run it again to finish)"
        rows.append(
            (
                "last ingest",
                f"{last_ingest.started_at}{state}: {done or 'nothing'}"
                f", {len(last_ingest.problems)} problem(s)",
            )
        )
    for name, value in rows:
        print(f"{name:<13}{value}")
    _print_problems(last_ingest.problems if last_ingest else ())
    return 0


def _passage_json(passage: Passage) -> dict[str, Any]:
    chunk = passage.chunk
    return {
        "chunk_id": chunk.id,
        "article_id": chunk.article_id,
        "title": chunk.title,
        "source": chunk.source,
        "published_at": chunk.published_at.isoformat() if chunk.published_at else None,
        "url": chunk.url,
        "char_start": chunk.char_start,
        "char_end": chunk.char_end,
        "score": round(passage.score, 4),
        "found_by": passage.found_by,
        "text": chunk.text,
    }


def _answer_json(answer: Answer) -> dict[str, Any]:
    return {
        "question": answer.question,
        "answer": answer.text,
        "abstained": answer.abstained,
        "kind": answer.kind,
        "basis": answer.basis,
        "notes": list(answer.notes),
        "citations": [
            {
                "number": c.number,
                "support": {"start": c.start, "end": c.end, "score": round(c.score, 3)},
                **_passage_json(c.passage),
            }
            for c in answer.citations
        ],
        "passages": [_passage_json(p) for p in answer.passages],
        "timings": {name: round(seconds, 3) for name, seconds in answer.timings.items()},
    }


def format_source(number: int, passage: Passage) -> str:
    """Passage `number` as the sources under an answer list it: title, source, date, url,
    and its text, indented."""
    chunk = passage.chunk
    date = chunk.published_at.date().isoformat() if chunk.published_at else "undated"
    lines = [f"[{number}] {chunk.title} | {chunk.source or 'unknown source'} | {date}"]
    if chunk.url:
        lines.append(f"    {chunk.url}")
    lines.append(
        textwrap.fill(chunk.text, width=96, initial_indent="    ", subsequent_indent="    ")
    )
    return "\n".join(lines)


def _print_problems(problems: Sequence[Problem]) -> None:
    if not problems:
        return
    rows = [("file", "problem", "what to do")]
    rows += [(p.origin, p.message, p.hint) for p in problems]
    widths = [max(len(row[i]) for row in rows) for i in (0, 1)]
    print(f"\n{len(problems)} problem(s):", file=sys.stderr)
    for origin, message, hint in rows:
        print(f"  {origin:<{widths[0]}}  {message:<{widths[1]}}  {hint}", file=sys.stderr)
