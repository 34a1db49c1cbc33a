"""The chat page in a real browser: Debian's chromium, driven by Playwright, against a real
`rag serve` on 127.0.0.1 with the real models and the default corpus."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import REPO, rag_env
from playwright.sync_api import Browser, Locator, Page, sync_playwright
from servers import rag_serve

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ANSWER_SECONDS = 240  # one answer from the real model, on a busy 2-core machine
BOT = "#nr-chat [data-testid='bot']"
USER = "#nr-chat [data-testid='user']"
XSS_FLAG = "window.__newsrag_xss"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("serve")
    with rag_serve(rag_env(home), home / "serve.log") as serve:
        yield serve.url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser, server: str) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.add_init_script(f"{XSS_FLAG} = undefined;")
    page.goto(server)
    page.wait_for_selector("#nr-question textarea")
    yield page
    context.close()


def ask(page: Page, question: str) -> list[str]:
    """Ask in the page; return every distinct text the newest answer showed, last = final."""
    before = page.locator(BOT).count()
    page.fill("#nr-question textarea", question)
    page.click("#nr-ask")
    shown: list[str] = []
    deadline = time.monotonic() + ANSWER_SECONDS
    while time.monotonic() < deadline:
        bots = page.locator(BOT)
        if bots.count() > before:
            text = bots.last.inner_text()
            if not shown or shown[-1] != text:
                shown.append(text)
            if ("passages" in text and "▌" not in text) or text.startswith("Error"):
                return shown  # the final answer carries its note line
        time.sleep(0.1)
    pytest.fail(f"no answer to {question!r} within {ANSWER_SECONDS} s; saw {shown[-3:]}")


def open_citation(page: Page, number: int = 1) -> Locator:
    link = page.locator(BOT).last.locator("a[href^='#nr-']").nth(number - 1)
    link.click()
    opened = page.locator("details.nr-passage[open]")
    opened.first.wait_for()
    return opened.first


def test_answers_stream_and_the_london_citation_opens_the_seed(
    page: Page,
) -> None:
    status = page.inner_text("#nr-status")
    assert "5 articles" in status and "Unattributed news summary" in status
    assert page.locator("text=What do the articles say about").count() == 3

    shown = ask(page, "Why was the Harbour Bridge in Port Alder closed?")
    drafts = [text for text in shown if "▌" in text]
    assert len(drafts) >= 2, shown  # the short answer token by token, not all at once
    final = ask(page, "Who attended the London meeting?")[-1]
    assert "London" in final or "UK" in final, final
    passage = open_citation(page)
    assert "London ceasefire talks" in passage.inner_text()
    assert passage.locator("mark").count() == 1
    (REPO / "docs").mkdir(exist_ok=True)
    page.screenshot(path=str(REPO / "docs" / "screenshot.png"))


def test_a_follow_up_is_read_with_the_conversation_until_a_new_chat(page: Page) -> None:
    follow_up = "and what did Ukraine refuse to recognize?"
    ask(page, "Who attended the London meeting?")
    final = ask(page, follow_up)[-1]
    read_as = final.partition("\n")[0]
    assert read_as.startswith("Read as: "), final
    for word in ("Ukraine", "recogni", "London"):
        assert word in read_as, read_as
    assert page.locator(USER).all_inner_texts()[-1] == follow_up  # the user's own words
    # The evidence is of the question as read: the London talks' passages.
    evidence = page.locator("#nr-evidence section").first
    assert evidence.locator("h4").inner_text() == "Answer 2: " + read_as.removeprefix("Read as: ")
    assert "US officials withdraw from London ceasefire talks" in evidence.inner_text()

    page.click("#nr-new-chat")
    page.wait_for_function(f'document.querySelectorAll("{BOT}").length == 0')
    final = ask(page, follow_up)[-1]
    assert "Read as" not in final  # nothing to follow after a new chat


def test_an_uploaded_article_is_found_by_asking_about_it(page: Page, tmp_path: Path) -> None:
    story = tmp_path / "kestrel bay ferry.md"
    story.write_text(
        "---\ntitle: Kestrel Bay ferry to stop running in June\nsource: Kestrel Bay Herald\n"
        "published_at: 2025-05-04\n---\n\n"
        "The Kestrel Bay ferry will stop running on 30 June 2025, its operator Bluewater Lines "
        "said on Friday. The company blamed rising fuel costs and falling passenger numbers.\n"
    )
    page.click("button[role='tab']:has-text('Corpus')")
    page.set_input_files("input[type='file']", str(story))
    page.click("#nr-ingest")
    page.wait_for_selector("#nr-ingest-result:has-text('1 new')", timeout=120_000)
    assert "6 articles" in page.inner_text("#nr-status")

    page.click("button[role='tab']:has-text('Chat')")
    final = ask(page, "When will the Kestrel Bay ferry stop running?")[-1]
    assert "30 June" in final, final
    passage = open_citation(page)
    assert "Kestrel Bay Herald" in passage.inner_text()


def test_script_in_an_article_never_runs(page: Page, tmp_path: Path) -> None:
    payload = f'<script>{XSS_FLAG}=1</script><img src=x onerror="{XSS_FLAG}=1">'
    record = {
        "title": f"Zorblat council {payload}",
        "source": f"Gazette {payload}",
        "url": f"javascript:{XSS_FLAG}=1",
        "published_at": "2025-05-05",
        "body": f"The Zorblat council voted to close the old quarry. {payload} "
        "The quarry will close in June.",
    }
    upload = tmp_path / "zorblat.json"
    upload.write_text(json.dumps(record))
    page.click("button[role='tab']:has-text('Corpus')")
    page.set_input_files("input[type='file']", str(upload))
    page.click("#nr-ingest")
    page.wait_for_selector("#nr-ingest-result:has-text('1 new')", timeout=120_000)
    page.click("button[role='tab']:has-text('Chat')")

    ask(page, f"What did the Zorblat council decide? {payload}")
    for details in page.locator("details.nr-passage").all():
        details.evaluate("d => d.open = true")
    evidence = page.inner_text("#nr-evidence")
    assert "Zorblat council <script>" in evidence  # shown as text
    assert page.locator("a[href^='javascript']").count() == 0
    assert page.locator("#nr-evidence script, #nr-chat script").count() == 0
    page.wait_for_timeout(500)
    assert page.evaluate(XSS_FLAG) is None


def test_a_pipeline_error_is_a_readable_message(page: Page) -> None:
    page.fill("#nr-since textarea", "2025-13-45")
    final = ask(page, "Who attended the London meeting?")[-1]
    assert final.startswith("Error: since: '2025-13-45' is not a date"), final
    assert "Traceback" not in page.content()


def test_two_people_chatting_at_once_see_only_their_own_answers(
    browser: Browser, server: str
) -> None:
    pages = []
    for _ in range(2):
        context = browser.new_context()
        pages.append(context.new_page())
        pages[-1].goto(server)
        pages[-1].wait_for_selector("#nr-question textarea")
    questions = ["What did the Harbour Bridge repairs cost?", "Which library won an award?"]
    for page, question in zip(pages, questions, strict=True):
        page.fill("#nr-question textarea", question)
        page.click("#nr-ask")
    for page, question in zip(pages, questions, strict=True):
        page.wait_for_function(
            f'document.querySelectorAll("{BOT}").length == 1 && '
            f"document.querySelector(\"{BOT}\").innerText.includes('passages')",
            timeout=2 * ANSWER_SECONDS * 1000,
        )
        users = page.locator(USER).all_inner_texts()
        assert users == [question]
        assert page.locator("#nr-evidence h4").all_inner_texts() == [f"Answer 1: {question}"]
    for page in pages:
        page.context.close()
