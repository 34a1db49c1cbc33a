"""`rag serve`: registered into the `rag` command through the `newsrag.commands` entry point."""

from __future__ import annotations

import argparse
import ipaddress
import sys
from collections.abc import Callable

from rag.config import SEARCH_SETTINGS, Settings, add_setting_flags

EXAMPLE = """example:
  rag serve                          # http://127.0.0.1:7860, this machine only
  rag serve --host 0.0.0.0 --port 8080 --auth alice:s3cret"""


def register(command: Callable[..., argparse.ArgumentParser]) -> None:
    parser = command(
        "serve",
        "Chat with the index in a browser.",
        description="Serve the chat page: answers with clickable citations, date and source "
        "filters, and a tab to add articles.",
        epilog=EXAMPLE,
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        metavar="ADDRESS",
        help="address to listen on (default: %(default)s)",
    )
    parser.add_argument(
        "--port", type=int, default=7860, metavar="N", help="port (default: %(default)s)"
    )
    parser.add_argument("--auth", type=_credentials, metavar="USER:PASS", help="require this login")
    add_setting_flags(parser, ["model", "llm_url", "max_tokens", "threads", *SEARCH_SETTINGS])
    parser.set_defaults(handler=run)


def run(settings: Settings, args: argparse.Namespace) -> int:
    from rag.pipeline import Pipeline

    if not _is_loopback(args.host) and args.auth is None:
        print(
            f"warning: serving on {args.host} without --auth: anyone who can reach this "
            "address can read the corpus and add to it. Add --auth USER:PASS.",
            file=sys.stderr,
        )
    pipeline = Pipeline(settings)
    pipeline.check_ready()
    report = pipeline.ingest_default_if_empty()
    if report is not None:
        print(f"The index was empty: ingested the default corpus ({report.articles} articles).")
    _ = pipeline.embedder, pipeline.generator  # load now, not on the first question

    from ui.app import build_app, launch

    app = build_app(pipeline)
    print(f"newsrag: serving http://{args.host}:{args.port}", flush=True)
    launch(app, host=args.host, port=args.port, auth=args.auth)
    return 0


def _credentials(text: str) -> tuple[str, str]:
    user, colon, password = text.partition(":")
    if not (user and colon and password):
        raise argparse.ArgumentTypeError("write it as USER:PASS")
    return user, password


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
