"""Real servers for the tests, each on a free port of 127.0.0.1 and stopped after: a Chroma
server (`chroma run`, from the chromadb package), an OpenAI-compatible model server
(`python -m llama_cpp.server`, llama-cpp-python's server extra) and `rag serve` (from
`eval.servers`, which the load test shares); and the browser that drives the chat page
(Debian's chromium through Playwright)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from eval.servers import Server, chroma_server, free_port, rag_serve, running, stop

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page

__all__ = [
    "Server",
    "ask",
    "chroma_server",
    "chromium",
    "free_port",
    "model_server",
    "open_citation",
    "rag_serve",
    "stop",
]

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


@contextmanager
def model_server(model: Path, log: Path) -> Iterator[str]:
    """llama-cpp-python's OpenAI-compatible server with the GGUF file `model`; yields its URL."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "4096",
        "--flash_attn",
        "true",
    ]
    url = f"http://127.0.0.1:{port}"
    with running(command, ready=f"{url}/v1/models", log=log):
        yield url


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's chromium, headless, through Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


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
    """Click the newest answer's `number`th [n] link; the passage it opened."""
    link = page.locator(BOT).last.locator("a[href^='#nr-']").nth(number - 1)
    link.click()
    opened = page.locator("details.nr-passage[open]")
    opened.first.wait_for()
    return opened.first
