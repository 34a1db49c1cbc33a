"""Web safety (#17): what articles, questions and file names carry is shown as text and never
runs; uploads are limited in size, type and count, renamed safely and kept in their folder;
`rag serve` listens on this machine only unless told otherwise, and with `--auth` answers
nothing but its login form before the login (every route: tests/test_serve.py).

The upload tests use real files. The slow ones start a real `rag serve --auth` (real models)
on a corpus of XSS payloads and drive it in Chromium, logging in through the login form.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import rag, rag_env, write
from playwright.sync_api import Page
from servers import BOT, USER, Server, ask, chromium, open_citation, rag_serve

from rag.cli import build_parser
from ui.uploads import MAX_UPLOAD_BYTES, MAX_UPLOAD_FILES, safe_name, save_uploads

FLAG = "window.__newsrag_xss"
MARKUP = (
    "<script>JS</script>",
    '<img src=x onerror="JS">',
    '<svg onload="JS"></svg>',
    '"><script>JS</script>',
    '\'><img src=x onerror="JS">',
    '<details open ontoggle="JS">x</details>',
    '<input autofocus onfocus="JS">',
    '<iframe src="javascript:JS"></iframe>',
    '<a href="javascript:JS">link</a>',
    "[link](javascript:JS)",
    "![x](javascript:JS)",
    "![x](data:image/svg+xml,<svg onload='JS'>)",
    "[page](data:text/html,<script>JS</script>)",
)
"""Payloads for any text (JS stands for the script each would run): HTML elements, event
handlers, attribute breakouts, `javascript:` and `data:` urls, Markdown links and images."""
URLS = (
    "javascript:JS",
    " JaVaScRiPt:JS",
    "data:text/html,<script>JS</script>",
    'https://example.com/"><img src=x onerror="JS">',
    "https://example.com/?q=<script>JS</script>",
)
"""Payloads for an article's url, one per article."""
LOGIN = ("alice", "s3cret-Pass")
"""The real `rag serve`'s `--auth`."""


# Uploads


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/cron.d/evil.txt", "evil.txt"),
        ("..\\..\\windows\\evil.md", "evil.md"),
        ("..", "upload"),
        ("...md", "upload.md"),
        (".env.json", "env.json"),
        ("-rf.md", "rf.md"),
        ("nul\x00byte.txt", "nul_byte.txt"),
        ("line\nbreak\r\ttab\x1b[31m.md", "line_break_tab_31m.md"),
        ("invoice\u202etxt.html", "invoice_txt.html"),  # a right-to-left override
        ("Zu\u0308rich 北京 новости.txt", "Zürich_北京_новости.txt"),  # kept, composed
        ('<img src=x onerror="alert(1)">.TXT', "img_src_x_onerror_alert_1.txt"),
        ("story.tar.gz", "story_tar.gz"),
    ],
)
def test_upload_names_keep_no_path_no_control_and_no_leading_dot(name: str, expected: str) -> None:
    assert safe_name(name) == expected


@pytest.mark.parametrize("name", ["a" * 300 + ".md", "北" * 300 + ".md", "é" * 255])
def test_over_long_upload_names_are_cut_to_fit_a_file_system(name: str) -> None:
    safe = safe_name(name)
    assert len(safe.encode()) <= 130 and safe.startswith(name[:10])
    assert safe.endswith(".md") == name.endswith(".md")


HOSTILE = {
    "..\\..\\evil.md": "evil.md",
    "..md": "upload.md",
    ".bashrc.txt": "bashrc.txt",
    'x"><script>alert(1)<\\script>.txt': "script.txt",
    "a\nb\x7f.md": "a_b.md",
    "ok.md": "ok.md",
    "ok.MD": "ok-2.md",  # the same sanitized name: kept apart
}
"""Names of real files (a file name holds no '/') a browser or a script could send, and the
names they are saved under."""


def test_uploads_are_saved_only_inside_the_uploads_folder(tmp_path: Path) -> None:
    folder = tmp_path / "data" / "uploads"
    files = [write(tmp_path / "in" / name, f"# {n}\n\nText {n}.") for n, name in enumerate(HOSTILE)]
    before = {p for p in tmp_path.rglob("*")}
    saved, problems = save_uploads([str(f) for f in files], folder=folder)
    assert problems == [] and [p.name for p in saved] == list(HOSTILE.values())
    assert [p.read_text() for p in saved] == [f.read_text() for f in files]
    # Nothing else was written, anywhere, and no temporary file is left.
    assert {p for p in tmp_path.rglob("*")} - before == {folder.parent, folder, *saved}


def test_a_link_in_the_uploads_folder_is_refused_not_followed(tmp_path: Path) -> None:
    outside = write(tmp_path / "outside" / "keep.md", "untouched")
    folder = tmp_path / "uploads"
    folder.mkdir()
    (folder / "story.md").symlink_to(outside)
    upload = write(tmp_path / "in" / "story.md", "# Story\n\nNew text.")
    saved, problems = save_uploads([str(upload)], folder=folder)
    assert saved == [] and outside.read_text() == "untouched"
    assert [p.origin for p in problems] == ["story.md"] and "link" in problems[0].message


def test_more_files_than_one_upload_takes_are_refused_whole(tmp_path: Path) -> None:
    files = [str(write(tmp_path / "in" / f"{n}.md", f"# {n}\n\nText.")) for n in range(51)]
    saved, problems = save_uploads(files, folder=tmp_path / "up")
    assert MAX_UPLOAD_FILES == 50 and saved == [] and not (tmp_path / "up").exists()
    assert [(p.origin, p.message) for p in problems] == [
        ("51 files", "one upload takes at most 50 files: none was added")
    ]
    saved, problems = save_uploads(files[:50], folder=tmp_path / "up")
    assert len(saved) == 50 and problems == []


def test_uploads_over_the_size_limit_or_of_other_types_are_refused(tmp_path: Path) -> None:
    sizes = {"limit.txt": MAX_UPLOAD_BYTES, "over.txt": MAX_UPLOAD_BYTES + 1}
    for name, size in sizes.items():
        with (tmp_path / name).open("wb") as out:
            out.truncate(size)  # sparse: no 20 MB written
    others = [write(tmp_path / name, "x") for name in ("run.sh", "x.html.exe", "README")]
    paths = [str(tmp_path / name) for name in sizes] + [str(p) for p in others]
    saved, problems = save_uploads(paths, folder=tmp_path / "up")
    assert [p.name for p in saved] == ["limit.txt"]
    assert [(p.origin, p.message.split(",")[0]) for p in problems] == [
        ("over.txt", "the file is 20 MB"),
        ("run.sh", ".sh is not an article type"),
        ("x_html.exe", ".exe is not an article type"),
        ("README", "no extension is not an article type"),
    ]


# Articles, a question and file names full of XSS payloads, through the real page


class Payloads:
    """The payloads tried, numbered: payload n runs `(FLAG=FLAG||[]).push(n)` if it ever runs."""

    def __init__(self) -> None:
        self.tried: list[tuple[str, str]] = []  # (field, payload)

    def __call__(self, field: str, template: str) -> str:
        script = f"({FLAG}={FLAG}||[]).push({len(self.tried) + 1})"
        self.tried.append((field, template.replace("JS", script)))
        return self.tried[-1][1]

    def of(self, field: str) -> list[str]:
        return [text for name, text in self.tried if name == field]


XSS = Payloads()
ARTICLES = [
    {
        "title": f"Zorblat quarry report {n} " + " ".join(XSS("title", t) for t in part),
        "source": f"Zorblat Gazette {n} " + " ".join(XSS("source", t) for t in part),
        "url": XSS("url", url),
        "published_at": f"2025-05-0{n}",
        "body": f"The Zorblat council voted to close the old quarry, says report {n}. "
        + " ".join(XSS("body", t) for t in part)
        + " The quarry will close in June.",
    }
    for n, (url, part) in enumerate(
        zip(URLS, [MARKUP[i :: len(URLS)] for i in range(len(URLS))], strict=True), start=1
    )
]
QUESTION = "What did the Zorblat council decide about the quarry? " + " ".join(
    XSS("question", t) for t in MARKUP[::3]
)
UPLOADS = [XSS("upload name", t) for t in ('<img src=x onerror="JS">', "<script>JS</script>")]
INJECTED = """(flag) => {
  const found = [];
  const urls = ["href", "src", "action", "formaction", "xlink:href", "srcdoc", "data"];
  for (const el of document.querySelectorAll("*")) {
    const text = el.tagName === "SCRIPT" ? el.textContent : "";
    if (text.includes(flag) && !text.startsWith("window.gradio_config = ")) found.push(text);
    for (const { name, value } of el.attributes) {
      const bad = name.startsWith("on") || (urls.includes(name) && !/^https?:[/][/]/.test(value));
      if (bad && value.includes(flag)) found.push(`${el.tagName} ${name}=${value}`);
    }
  }
  const shown = "#nr-chat [data-testid], #nr-evidence, #nr-status, #nr-problems td";
  for (const el of document.querySelectorAll(shown)) {
    el.querySelectorAll("script, iframe, object, embed, img, form").forEach(
      (bad) => found.push(`a <${bad.tagName}> in #${el.id || el.dataset.testid}`));
    el.querySelectorAll("a[href]").forEach((a) => {
      const href = a.getAttribute("href");
      if (!/^(https?:[/][/]|#nr-)/.test(href)) found.push(`a link to ${href}`);
    });
  }
  return found;
}"""
"""What a payload would have put in the page: event handlers, scripts, `javascript:` and
`data:` links, and elements the escaped text never makes. (Gradio's config, JSON in a script
with `<` written `\\u003c`, holds the payloads as data.)"""


@pytest.fixture(scope="module")
def xss_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A real `rag serve --auth` (default host) on the articles of XSS payloads."""
    home = tmp_path_factory.mktemp("xss")
    env = rag_env(home)
    corpus = write(home / "xss.jsonl", "\n".join(json.dumps(a) for a in ARTICLES))
    ingested = rag(env, "ingest", str(corpus))
    assert ingested.returncode == 0, ingested.stderr
    with rag_serve(env, home / "serve.log", "--auth", ":".join(LOGIN)) as server:
        yield server


def log_in(page: Page, url: str) -> None:
    """Through the login form, as a person would."""
    page.goto(url)
    page.locator("input[type=text]").fill(LOGIN[0])
    page.locator("input[type=password]").fill(LOGIN[1])
    page.get_by_role("button", name="Login").click()
    page.wait_for_selector("#nr-question textarea")


@pytest.mark.browser
def test_xss_payloads_are_shown_as_text_and_never_run(
    xss_server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        dialogs: list[str] = []
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        log_in(page, xss_server.url)
        ask(page, QUESTION)
        if page.locator(BOT).last.locator("a[href^='#nr-']").count():
            open_citation(page)
        summaries = page.locator("details.nr-passage > summary")
        for summary in summaries.all():
            if not summary.evaluate("s => s.parentElement.open"):
                summary.click()  # opens its passage
        evidence = page.inner_text("#nr-evidence")
        links = page.locator("#nr-evidence a.nr-url").evaluate_all(
            "links => links.map((a) => a.getAttribute('href'))"
        )
        asked = page.locator(USER).last.inner_text()
        page.click("#nr-sources input")  # the filter's choices, given as the page opened
        choices = "\n".join(page.get_by_role("option").all_inner_texts())
        page.keyboard.press("Escape")

        page.click("button[role='tab']:has-text('Corpus')")
        on_disk = write(tmp_path / (UPLOADS[0] + ".txt"), "Zorblat quarry, a letter.")
        in_memory = {"name": UPLOADS[1] + ".md", "mimeType": "text/markdown", "buffer": b"Hi"}
        page.set_input_files("#nr-files input[type=file]", [str(on_disk)])
        page.set_input_files("#nr-files input[type=file]", [in_memory])
        files = page.inner_text("#nr-files")
        page.click("#nr-ingest")
        page.wait_for_selector("#nr-ingest-result:has-text('new')", timeout=120_000)
        page.wait_for_timeout(1000)  # an image's onerror comes after its load fails
        executed = page.evaluate(FLAG)
        injected = page.evaluate(INJECTED, FLAG.removeprefix("window."))
        status = page.inner_text("#nr-status")

    ran = sorted(set(executed or []))  # the numbers of the payloads that ran
    with capsys.disabled():
        by_field = dict.fromkeys(field for field, _ in XSS.tried)
        print(
            f"\nXSS set: {len(XSS.tried)} payloads, {len(ran)} executed ("
            + ", ".join(f"{field} {len(XSS.of(field))}" for field in by_field)
            + ")"
        )
    assert (ran, dialogs, injected) == ([], [], [])
    shown = {  # where each field's payloads must be seen, as text
        "title": [evidence],
        "source": [evidence, status, choices],
        "body": [evidence],
        "question": [asked, evidence],
        "upload name": [files],
    }
    for field, texts in shown.items():
        for payload in XSS.of(field):
            assert all(payload in text for text in texts), (field, payload)
    http = [url for url in XSS.of("url") if url.startswith("https://")]
    assert links == http  # only http(s) urls are links, and exactly as written


# Loopback and `--auth`, in the real `rag serve`


def listening(port: int) -> set[str]:
    """The addresses a socket listens on at `port`, from the kernel's tables."""
    found = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                raw = bytes.fromhex(address)
                words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
                found.add(str(ipaddress.ip_address(words)))
    return found


def test_rag_serve_listens_on_this_machine_only_by_default() -> None:
    assert build_parser().parse_args(["serve"]).host == "127.0.0.1"


@pytest.mark.slow
def test_the_real_rag_serve_listens_on_loopback_and_wants_the_login(xss_server: Server) -> None:
    from gradio_client import Client

    assert listening(int(xss_server.url.rsplit(":", 1)[1])) == {"127.0.0.1"}
    with httpx.Client(base_url=xss_server.url, timeout=30) as client:
        page = client.get("/")
        assert page.status_code == 200 and "auth_required" in page.text
        assert "Zorblat" not in page.text
        for method, path in [
            ("GET", "/config"),
            ("GET", "/gradio_api/info"),
            ("POST", "/gradio_api/queue/join"),
            ("GET", "/gradio_api/queue/data?session_hash=x"),
            ("POST", "/gradio_api/call/ask"),
            ("POST", "/gradio_api/upload"),
            ("POST", "/gradio_api/cancel"),
            ("GET", "/openapi.json"),
        ]:
            response = client.request(method, path, json={})
            assert response.status_code == 401 and "Zorblat" not in response.text, path
    with pytest.raises(Exception, match=r"(?i)login|auth|401"):
        Client(xss_server.url, verbose=False)
    _chat, evidence, _box = Client(xss_server.url, auth=LOGIN, verbose=False).predict(
        "Which council voted to close the old quarry?", [], "", "", [], api_name="/ask"
    )
    assert "Zorblat" in evidence
