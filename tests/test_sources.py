"""HTML pages, RSS/Atom feeds, URL lists and field mappings; web sources from a local server."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from conftest import write

from rag import fetch, load
from rag.load import load_articles
from rag.types import Article

PAGE = """<html><head><title>Bridge reopens | Courier</title>
<meta property="og:site_name" content="Alder Courier"><meta name="author" content="Jo Smith">
<meta property="article:published_time" content="2025-04-14T09:30:00+02:00">
<link rel="canonical" href="https://courier.example/bridge"></head>
<body><nav>Home | News | Sport</nav><article><h1>Bridge reopens</h1>
<p>The Harbour Bridge in Port Alder reopened to all traffic on Saturday, six weeks after it was
closed when engineers found a crack in its main span. The final cost was 3.1 million euros.</p>
<p>A speed limit of 30 kilometres per hour will apply for one year while sensors monitor it.</p>
</article><footer>Copyright Courier</footer></body></html>"""

RSS = """<?xml version="1.0"?><rss version="2.0"><channel><title>Valley Wire</title>
<item><title>Ferry doubles</title><link>https://wire.example/ferry</link>
<pubDate>Mon, 03 Mar 2025 10:00:00 +0100</pubDate><author>desk@wire.example (Desk)</author>
<description>&lt;p&gt;The ferry now runs every &lt;b&gt;ten&lt;/b&gt; minutes.&lt;/p&gt;
</description></item>
<item><title>No text</title><link>https://wire.example/empty</link></item>
</channel></rss>"""

ATOM = """<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">
<title>Atom News</title><entry><title>Library prize</title>
<link href="https://atom.example/prize"/><updated>2025-04-22T08:00:00Z</updated>
<content type="html">&lt;p&gt;The library won the National Reading Prize.&lt;/p&gt;</content>
</entry></feed>"""


class Site(BaseHTTPRequestHandler):
    routes: ClassVar[dict[str, tuple[int, str, bytes, float]]] = {}

    def do_GET(self) -> None:
        status, kind, body, delay = self.routes.get(self.path, (404, "text/plain", b"no", 0))
        time.sleep(delay)
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        # The client may give up first (timeout or size limit), as the tests want.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def site() -> Iterator[str]:
    Site.routes = {
        "/bridge": (200, "text/html; charset=utf-8", PAGE.encode(), 0),
        "/feed.xml": (200, "application/rss+xml", RSS.encode(), 0),
        "/atom": (200, "application/atom+xml", ATOM.encode(), 0),
        "/slow": (200, "text/html", PAGE.encode(), 2.0),
        "/big": (200, "text/html", PAGE.encode() * 50, 0),
    }
    server = ThreadingHTTPServer(("127.0.0.1", 0), Site)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def check_page(article: Article) -> None:
    assert article.title == "Bridge reopens"
    assert article.author == "Jo Smith"
    assert article.source == "Alder Courier"
    assert article.url == "https://courier.example/bridge"
    assert article.published_at == datetime(2025, 4, 14, tzinfo=UTC)
    body = article.body
    assert "3.1 million euros" in body and "Home | News" not in body and "Copyright" not in body


def test_an_html_file(tmp_path: Path) -> None:
    result = load_articles([write(tmp_path / "bridge.html", PAGE)])
    assert result.problems == []
    check_page(result.articles[0])


def test_rss_and_atom_files(tmp_path: Path) -> None:
    rss = write(tmp_path / "wire.rss", RSS)
    result = load_articles([rss, write(tmp_path / "news.atom", ATOM)])
    ferry, prize = result.articles
    assert (ferry.title, ferry.source, ferry.url) == (
        "Ferry doubles",
        "Valley Wire",
        "https://wire.example/ferry",
    )
    assert ferry.body == "The ferry now runs every ten minutes."
    assert ferry.published_at == datetime(2025, 3, 3, 9, tzinfo=UTC)
    assert (prize.source, prize.published_at) == ("Atom News", datetime(2025, 4, 22, 8, tzinfo=UTC))
    [problem] = result.problems  # the entry without text
    assert problem.origin == f"{rss} entry 2" and "body" in problem.message


def test_pages_and_feeds_by_url(site: str) -> None:
    result = load_articles([f"{site}/bridge", f"{site}/feed.xml", f"{site}/atom"])
    assert [a.title for a in result.articles] == [
        "Bridge reopens",
        "Ferry doubles",
        "Library prize",
    ]
    check_page(result.articles[0])


def test_a_url_list_reports_each_failure(
    site: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fetch, "TIMEOUT_SECONDS", 0.5)
    monkeypatch.setattr(fetch, "MAX_BYTES", 4000)
    listing = write(
        tmp_path / "today.urls",
        "\n".join(
            [
                "# morning links",
                f"{site}/bridge",
                f"{site}/missing",
                f"{site}/slow",
                f"{site}/big",
                "ftp://old.example/x",
            ]
        ),
    )
    result = load_articles([listing])
    assert [a.title for a in result.articles] == ["Bridge reopens"]
    assert [(p.origin, p.message) for p in result.problems] == [
        (f"{site}/missing", "HTTP 404 Not Found"),
        (f"{site}/slow", "timed out after 0.5 s"),
        (f"{site}/big", "larger than 3.91 KB"),
        ("ftp://old.example/x", "only http:// and https:// URLs can be fetched"),
    ]
    assert all(p.hint for p in result.problems)


def test_field_mapping_for_other_json_schemas(tmp_path: Path) -> None:
    records = [
        {
            "headline": "Prize",
            "content": "The library won.",
            "link": "https://a.example/p",
            "date": "2025-04-22",
        }
    ]
    path = write(tmp_path / "other.json", json.dumps(records))
    assert [p.message for p in load_articles([path]).problems] == [
        "field 'body' is missing or empty"
    ]
    fields = {"title": "headline", "body": "content", "url": "link", "published_at": "date"}
    [article] = load_articles([path], fields=fields).articles
    assert (article.title, article.url, article.published_at) == (
        "Prize",
        "https://a.example/p",
        datetime(2025, 4, 22, tzinfo=UTC),
    )


def test_oversized_files_and_unreadable_types_are_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(load, "MAX_FILE_BYTES", 100)
    big = write(tmp_path / "news" / "big.txt", "word " * 100)
    write(tmp_path / "news" / "ok.txt", "Short news.")
    for name in ("a.png", "b.png", "c.docx"):
        write(tmp_path / "news" / name, "x")
    result = load_articles([tmp_path / "news"])
    assert [a.body for a in result.articles] == ["Short news."]
    assert [(p.origin, p.message) for p in result.problems] == [
        (
            str(tmp_path / "news"),
            "skipped 3 files of types that cannot be read (.docx x1, .png x2)",
        ),
        (str(big), "too large (500 bytes; the limit is 100 bytes)"),
    ]


def test_odd_inputs_are_problems_not_crashes(tmp_path: Path) -> None:
    impossible = write(tmp_path / "a.md", "---\ntitle: T\npublished_at: 2025-02-30\n---\nText.")
    spaced = write(tmp_path / "b.urls", "https://exa mple.com/x\nhttp://[::1\n")
    url_feed = write(tmp_path / "c.rss", "file:///etc/passwd")
    result = load_articles([impossible, spaced, url_feed])
    assert result.articles == []
    assert [p.origin for p in result.problems] == [
        str(impossible),
        "https://exa mple.com/x",
        "http://[::1",
        str(url_feed),
    ]
    assert "impossible value" in result.problems[0].message
    assert "not an RSS or Atom feed" in result.problems[3].message
