"""The chat page in a real browser: Debian's chromium, driven by Playwright, against a real
`rag serve` on 127.0.0.1 with the real models and the default corpus. (What articles, questions
and file names carry is shown as text and never runs: tests/test_web_safety.py.)"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import REPO, rag_env
from playwright.sync_api import Browser, Page
from servers import ANSWER_SECONDS, BOT, USER, ask, chromium, open_citation, rag_serve

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("serve")
    with rag_serve(rag_env(home), home / "serve.log") as serve:
        yield serve.url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


@pytest.fixture
def page(browser: Browser, server: str) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(server)
    page.wait_for_selector("#nr-question textarea")
    yield page
    context.close()


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
