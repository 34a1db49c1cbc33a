"""`rag serve`'s page answers several sessions at once, and with `--auth` nothing but its
login form before the login: the real Gradio app on 127.0.0.1, served as `rag serve` serves it
(`ui.app.launch`), asked through gradio_client and httpx, with fakes at the model seams."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import KeywordEmbedder, ScriptedGenerator, write
from servers import free_port

from rag.config import Settings, load_settings
from rag.pipeline import Pipeline
from rag.seams import Message

LOGIN = ("alice", "s3cret-Pass")
SECRET = ("Marrowby", "Quillfeather", "tramway", "Vantry")
"""Words of the fast tests' corpus, which no answer given before the login may hold."""
MAY_ANSWER = {
    "/": "the login form (Gradio serves the page without its components before the login)",
    "/login": "takes the user and password",
    "/logout": "forgets a login",
    "/favicon.ico": "Gradio's icon",
    "/manifest.json": "the app's title and icon",
    "/robots.txt": "the same two lines for any app",
    "/theme.css": "the theme's style sheet",
    "/gradio_api/theme.css": "the same",
    "/gradio_api/login_check": "says 401 until the login",
    "/gradio_api/startup-events": "Gradio calls it itself, with no login, as it starts",
    "/assets/{path:path}": "the page's JavaScript and CSS, shipped with gradio",
    "/static/{path:path}": "fonts and images shipped with gradio",
    "/svelte/{path:path}": "the Svelte runtime, shipped with gradio",
}
"""The routes that answer without the login, and why that shows nothing of the corpus."""
DATA_ROUTES = {
    "/config",
    "/gradio_api/info",
    "/gradio_api/queue/join",
    "/gradio_api/queue/data",
    "/gradio_api/upload",
    "/gradio_api/file={path_or_url:path}",
    "/gradio_api/call/{api_name}",
    "/gradio_api/run/{api_name}",
    "/gradio_api/cancel",
    "/gradio_api/heartbeat/{session_hash}",
    "/openapi.json",
}
"""Some of the routes that show or change the corpus or a session, among those listed."""
QUESTIONS = {
    "Did the council close the Harbour Bridge?": "The council closed the Harbour Bridge.",
    "Did the library win the Reading Prize?": "The library won the Reading Prize.",
}


class TogetherGenerator:
    """Answers Yes, but only once `parties` questions are being answered at the same moment:
    answered one at a time, the first waits in vain and fails."""

    name = "together"

    def __init__(self, parties: int) -> None:
        self.barrier = threading.Barrier(parties, timeout=30)

    def choose(self, messages: Sequence[Message], options: Sequence[str]) -> dict[str, float]:
        self.barrier.wait()
        return {option: 0.0 if option == "Yes" else -5.0 for option in options}

    def stream(
        self, messages: Sequence[Message], *, max_tokens: int, stop: Sequence[str] = ()
    ) -> Iterator[str]:
        raise AssertionError("only yes/no questions are asked here")

    def count_tokens(self, text: str) -> int:
        return len(text.split())


def test_two_sessions_are_answered_at_the_same_time_each_its_own(
    settings: Settings, tmp_path: Path
) -> None:
    from gradio_client import Client

    from ui.app import build_app, launch

    pipeline = Pipeline(
        settings.model_copy(update={"embedder": "fake-keyword"}),
        embedder=KeywordEmbedder(["bridge", "library"]),
        generator=TogetherGenerator(parties=len(QUESTIONS)),
    )
    for n, text in enumerate(QUESTIONS.values()):
        pipeline.ingest(
            [write(settings.data_dir.parent / f"news/{n}.md", f"# Story {n}\n\n{text}")]
        )
    app = build_app(pipeline)
    port = free_port()
    launch(app, host="127.0.0.1", port=port, block=False)
    try:
        clients = [Client(f"http://127.0.0.1:{port}", verbose=False) for _ in QUESTIONS]
        jobs = [
            client.submit(question, [], "", "", [], api_name="/ask")
            for client, question in zip(clients, QUESTIONS, strict=True)
        ]
        results = [job.result(timeout=60) for job in jobs]
    finally:
        app.close()
    for (question, sentence), (chat, evidence, _box) in zip(
        QUESTIONS.items(), results, strict=True
    ):
        answer = "".join(part["text"] for part in chat[1]["content"])
        assert answer.startswith("Yes"), (question, answer)
        assert sentence.split()[1] in answer  # its own story's words ("council", "library")
        assert f"Answer 1: {question}" in evidence


# `--auth`: nothing before the login but the login form


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any, Path]]:
    """The page as `rag serve --auth alice:…` serves it, on 127.0.0.1: its URL, the app,
    and the file of its one article."""
    from ui.app import build_app, launch

    home = tmp_path_factory.mktemp("served")
    settings = load_settings(
        {"data_dir": home / "data", "cache_dir": home / "cache", "embedder": "fake-keyword"},
        environ={},
        cwd=home,
    )
    yes = [{"Yes": 0.0}] * 20
    pipeline = Pipeline(
        settings, embedder=KeywordEmbedder(["tramway"]), generator=ScriptedGenerator(*yes)
    )
    story = "---\ntitle: Marrowby tramway reopens\nsource: Quillfeather Vantry Gazette\n---\n\n"
    article = write(home / "news" / "tram.md", story + "The Marrowby tramway reopened.")
    pipeline.ingest([article])
    app = build_app(pipeline)
    port = free_port()
    launch(app, host="127.0.0.1", port=port, auth=LOGIN, block=False)
    try:
        yield f"http://127.0.0.1:{port}", app, article
    finally:
        app.close()


def every_route(app: Any) -> list[tuple[str, str]]:
    """(method, path) of each route of the served app, those of included routers too."""
    found: list[tuple[str, str]] = []
    pending = [("", route) for route in app.server_app.routes]
    while pending:
        prefix, route = pending.pop()
        if hasattr(route, "path"):
            methods = getattr(route, "methods", None) or {"GET"}
            found += [(method, prefix + route.path) for method in methods]
        else:  # FastAPI keeps an included router as one route of its own kind
            inner = prefix + route.include_context.prefix
            pending += [(inner, child) for child in route.original_router.routes]
    return sorted(set(found))


def requests_of(path: str, article: Path) -> list[str]:
    """`path` with its parameters filled in: each of the page's API names, the corpus file
    for a file route, 0 for the rest."""
    path = path.replace("{path_or_url:path}", str(article))
    names = ("ask", "ingest") if "{api_name}" in path else ("",)
    return [re.sub(r"\{[^}]+\}", "0", path.replace("{api_name}", name)) for name in names]


def test_every_route_but_the_login_pages_wants_the_login(
    served: tuple[str, Any, Path],
) -> None:
    url, app, article = served
    routes = every_route(app)
    assert {path for _, path in routes} >= DATA_ROUTES  # the listing misses none of them
    refused, answered = set(), set()
    with httpx.Client(base_url=url, timeout=30) as client:
        for method, path in [*routes, ("GET", "/nowhere"), ("GET", "/?all_endpoints=true")]:
            for request in requests_of(path, article):
                response = client.request(method, request, json={})
                body = response.text
                assert not any(word in body for word in SECRET), (method, request, body[:300])
                if (path.split("?")[0].rstrip("/") or "/") in MAY_ANSWER:
                    answered.add((method, path))
                    assert response.status_code < 500, (method, request, response.status_code)
                else:
                    refused.add((method, path))
                    assert response.status_code == 401, (method, request, response.status_code)
        # Logged in, the same client sees the corpus: the checks above could fail.
        assert client.post("/login", data={"username": LOGIN[0], "password": LOGIN[1]}).is_success
        assert "Quillfeather" in client.get("/config").text
    print(f"\n--auth: {len(routes)} routes; {len(refused)} refused, {len(answered)} open")


def test_gradio_client_asks_only_with_the_login(served: tuple[str, Any, Path]) -> None:
    from gradio_client import Client

    url, _, _ = served
    with pytest.raises(Exception, match=r"(?i)login|auth|401"):
        Client(url, verbose=False)
    with pytest.raises(Exception, match=r"(?i)login|auth|credentials|400"):
        Client(url, auth=(LOGIN[0], "wrong"), verbose=False)
    client = Client(url, auth=LOGIN, verbose=False)
    chat, evidence, _box = client.predict(
        "Did the Marrowby tramway reopen?", [], "", "", [], api_name="/ask"
    )
    assert "".join(part["text"] for part in chat[1]["content"]).startswith("Yes")
    assert "Quillfeather" in evidence


def test_the_server_refuses_an_upload_over_the_size_limit(served: tuple[str, Any, Path]) -> None:
    from ui.uploads import MAX_UPLOAD_BYTES

    url, _, _ = served
    with httpx.Client(base_url=url, timeout=60) as client:
        client.post("/login", data={"username": LOGIN[0], "password": LOGIN[1]})
        for size, status in ((MAX_UPLOAD_BYTES + 1, 413), (1000, 200)):
            upload = {"files": ("story.txt", b"x" * size, "text/plain")}
            response = client.post("/gradio_api/upload", files=upload)
            assert response.status_code == status, response.text[:200]
