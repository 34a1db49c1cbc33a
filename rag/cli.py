"""The `rag` command line: its commands and flags, and how an error is reported.

What each built-in command does is in `rag.commands`; commands from outside `rag` (`rag
serve`, `rag eval`) plug in through the `newsrag.commands` entry points.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
import traceback
from collections.abc import Sequence
from importlib.metadata import entry_points
from typing import Any

from rag import __version__, commands
from rag.config import GLOBAL_SETTINGS, SEARCH_SETTINGS, Settings, add_setting_flags, load_settings
from rag.errors import RagError, storage_error
from rag.load import READABLE

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
    subcommands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(
        name: str, help: str, *, description: str | None = None, epilog: str | None = None
    ) -> argparse.ArgumentParser:
        return subcommands.add_parser(
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
    ingest.add_argument(
        "--rebuild",
        action="store_true",
        help="delete the index in the data dir first, a damaged one included, and build it "
        "anew from these articles",
    )
    ingest.add_argument(
        "--shard",
        type=_shard,
        metavar="I/N",
        help="index only shard I of N of these articles (by id), so that N machines, each with "
        "its own --data-dir, can ingest one corpus into one --chroma-url",
    )
    ingest.add_argument("--json", action="store_true", help="print a JSON report")
    ingest.set_defaults(handler=commands.ingest)

    ask = command("ask", "Answer a question from the indexed articles, with citations.")
    ask.add_argument("question", metavar="QUESTION")
    add_setting_flags(ask, ["model", "llm_url", "max_tokens", "threads", *SEARCH_SETTINGS])
    ask.add_argument("--json", action="store_true", help="print the answer as JSON")
    ask.set_defaults(handler=commands.ask)

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
    add_setting_flags(chat, ["model", "llm_url", "max_tokens", "threads", *SEARCH_SETTINGS])
    chat.set_defaults(handler=commands.chat)

    search = command(
        "search", "Show the passages a question finds, with scores and what found them."
    )
    search.add_argument("question", metavar="QUERY")
    add_setting_flags(search, SEARCH_SETTINGS)
    search.add_argument("--json", action="store_true", help="print the passages as JSON")
    search.set_defaults(handler=commands.search)

    status = command("status", "Show what the index holds and which models it uses.")
    add_setting_flags(status, ["model", "llm_url"])
    status.add_argument("--json", action="store_true", help="print the status as JSON")
    status.set_defaults(handler=commands.status)

    articles = command("articles", "List the indexed articles, newest first, with their ids.")
    add_setting_flags(articles, ["since", "until", "sources"])
    articles.add_argument("--json", action="store_true", help="print the articles as JSON")
    articles.set_defaults(handler=commands.articles)

    remove = command("remove", "Delete articles from the index, by id or by source.")
    remove.add_argument("ids", nargs="*", metavar="ID", help="article ids (see rag articles)")
    remove.add_argument("--source", metavar="NAME", help="delete every article of this source")
    remove.add_argument("--all", action="store_true", help="delete every article: an empty index")
    remove.set_defaults(handler=commands.remove)

    doctor = command(
        "doctor",
        "Check that this installation can answer: data dir, index, models, llama.cpp build.",
    )
    add_setting_flags(doctor, ["model", "llm_url", "threads"])
    doctor.set_defaults(handler=commands.doctor)

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
    settings: Settings | None = None
    try:
        settings = load_settings(
            {name: getattr(args, name, None) for name in Settings.model_fields}
        )
        return int(args.handler(settings, args))
    except RagError as exc:
        return _report(exc, debug=args.debug)
    except Exception as exc:  # reported only when a full disk or a read-only data dir
        unwritable = storage_error(exc, settings.data_dir) if settings else None
        if unwritable is not None:
            return _report(unwritable, debug=args.debug)
        if isinstance(exc, OSError):  # a path the user gave cannot be read or written
            return _report(
                RagError(str(exc), hint="Check the path and its permissions."), debug=args.debug
            )
        raise
    except KeyboardInterrupt:
        return 130


def _report(error: RagError, *, debug: bool) -> int:
    if debug:
        traceback.print_exc()
    print(f"error: {error.message}", file=sys.stderr)
    if error.hint:
        print(f"hint: {error.hint}", file=sys.stderr)
    return 1


def _shard(text: str) -> tuple[int, int]:
    number, slash, count = text.partition("/")
    if not (slash and number.isdigit() and count.isdigit() and 1 <= int(number) <= int(count)):
        raise argparse.ArgumentTypeError(f"{text!r}: write I/N with 1 <= I <= N, e.g. 2/4")
    return int(number), int(count)


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
