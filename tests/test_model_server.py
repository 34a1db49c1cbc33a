"""The model-server backend against a scripted OpenAI-compatible server on 127.0.0.1 (a fake
at the model seam; tests/test_slow.py runs it against a real llama-cpp-python server)."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from servers import free_port

from rag.backends import openai_api
from rag.backends.openai_api import ServerGenerator
from rag.config import load_settings
from rag.errors import ModelError
from rag.models import load_generator
from rag.pipeline import Pipeline

ASKED = [{"role": "user", "content": "Who met in London?"}]


@dataclass
class Script:
    """What the fake server answers, and what it was sent."""

    chat: Callable[[dict[str, Any]], Any] = lambda body: {}
    """The reply to a chat request: a dict (JSON), a list of SSE data strings, or an int
    (an HTTP error status)."""
    tokenize: dict[str, Any] | None = None
    """Replies by path to token-counting requests (an int: an HTTP error status); missing
    paths are 404."""
    key: str | None = None
    requests: list[tuple[str, dict[str, Any], str]] = field(default_factory=list)


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: Any) -> None:
            pass

        def _reply(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if script.key and self.headers.get("Authorization") != f"Bearer {script.key}":
                return self._reply(401, {"error": {"message": "bad key"}})
            self._reply(200, {"data": [{"id": "scripted-model"}]})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            script.requests.append((self.path, body, self.headers.get("Authorization", "")))
            if self.path != "/v1/chat/completions":
                if script.tokenize and self.path in script.tokenize:
                    counted = script.tokenize[self.path]
                    if isinstance(counted, int):  # an HTTP error status
                        return self._reply(counted, {"detail": "tokenizer failed"})
                    return self._reply(200, counted)
                return self._reply(404, {"detail": "Not Found"})
            reply = script.chat(body)
            if isinstance(reply, int):
                return self._reply(reply, {"error": {"message": "prompt too long"}})
            if isinstance(reply, dict):
                return self._reply(200, reply)
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for data in reply:
                self.wfile.write(f"data: {data}\n\n".encode())
                self.wfile.flush()

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", script
    httpd.shutdown()
    httpd.server_close()


def delta(text: str) -> str:
    return json.dumps({"choices": [{"delta": {"content": text}}]})


def test_stream_yields_the_servers_pieces_in_order(server: tuple[str, Script]) -> None:
    url, script = server
    script.chat = lambda body: [
        delta("UK, "),
        delta("France"),
        json.dumps({"choices": []}),
        "[DONE]",
    ]
    generator = ServerGenerator(url + "/v1/")
    pieces = list(generator.stream(ASKED, max_tokens=7, stop=["\n"]))
    assert pieces == ["UK, ", "France"]
    path, body, _ = script.requests[-1]
    assert path == "/v1/chat/completions"
    assert body["model"] == "scripted-model"
    assert (body["max_tokens"], body["stop"], body["stream"]) == (7, ["\n"], True)
    assert body["messages"] == ASKED and body["temperature"] == 0.0
    assert generator.name == f"scripted-model at {url}/v1"


def logprobs(top: dict[str, float]) -> dict[str, Any]:
    listed = [{"token": t, "logprob": p} for t, p in top.items()]
    return {
        "choices": [
            {"message": {"content": "x"}, "logprobs": {"content": [{"top_logprobs": listed}]}}
        ]
    }


def test_choose_weighs_the_options_by_the_first_tokens_log_probabilities(
    server: tuple[str, Script],
) -> None:
    url, script = server
    script.chat = lambda body: logprobs({"Yes": -0.2, "No": -1.9, "The": -3.5})
    generator = ServerGenerator(url)
    assert generator.choose(ASKED, ["Yes", "No"]) == {"Yes": -0.2, "No": -1.9}
    body = script.requests[-1][1]
    assert (body["max_tokens"], body["logprobs"], body["top_logprobs"]) == (1, True, 20)
    assert "stream" not in body
    # An option outside the top alternatives is at most as likely as the least of them.
    assert generator.choose(ASKED, ["A", "B"]) == {"A": -3.5, "B": -3.5}


def test_without_log_probabilities_the_first_word_decides_with_a_warning(
    server: tuple[str, Script], caplog: pytest.LogCaptureFixture
) -> None:
    url, script = server
    script.chat = lambda body: {"choices": [{"message": {"content": " No, it did not."}}]}
    generator = ServerGenerator(url)
    with caplog.at_level(logging.WARNING):
        assert generator.choose(ASKED, ["Yes", "No"]) == {"Yes": openai_api.UNLIKELY, "No": 0.0}
        generator.choose(ASKED, ["Yes", "No"])
    assert [r.message for r in caplog.records].count(caplog.records[0].message) == 1
    assert "no token probabilities" in caplog.records[0].message


@pytest.mark.parametrize(
    ("replies", "expected"),
    [
        ({"/extras/tokenize/count": {"count": 11}}, 11),  # llama-cpp-python's server
        ({"/tokenize": {"tokens": [1, 2, 3]}}, 3),  # llama.cpp's server, vLLM
        ({}, len("fifteen letters") // openai_api.CHARS_PER_TOKEN + 1),  # neither: estimated
    ],
)
def test_tokens_are_counted_by_whichever_endpoint_the_server_has(
    server: tuple[str, Script], replies: dict[str, Any], expected: int
) -> None:
    url, script = server
    script.tokenize = replies
    generator = ServerGenerator(url)
    assert generator.count_tokens("fifteen letters") == expected
    asked = len(script.requests)
    assert generator.count_tokens("fifteen letters") == expected
    # The endpoint that worked is asked directly; a server with none is asked no more.
    assert len(script.requests) - asked == (1 if replies else 0)


def test_the_api_key_is_sent_and_a_refused_one_says_which_variable_holds_it(
    server: tuple[str, Script], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, script = server
    script.key = "s3cret"
    with pytest.raises(ModelError, match=r"HTTP 401.*bad key") as refused:
        ServerGenerator(url, api_key="wrong")
    assert openai_api.KEY_VARIABLE in refused.value.hint
    monkeypatch.setenv(openai_api.KEY_VARIABLE, "s3cret")
    script.chat = lambda body: [delta("ok"), "[DONE]"]
    settings = load_settings({"llm_url": url}, environ={})
    generator = load_generator(settings, model_path=lambda: pytest.fail("no GGUF file is needed"))
    assert list(generator.stream(ASKED, max_tokens=2)) == ["ok"]
    assert script.requests[-1][2] == "Bearer s3cret"


def test_a_refused_request_is_an_error_with_the_servers_message(
    server: tuple[str, Script],
) -> None:
    url, script = server
    script.chat = lambda body: 400
    generator = ServerGenerator(url)
    with pytest.raises(ModelError, match=r"HTTP 400\): prompt too long") as refused:
        list(generator.stream(ASKED, max_tokens=2))
    assert "--k" in refused.value.hint
    with pytest.raises(ModelError, match="HTTP 400"):
        generator.choose(ASKED, ["Yes", "No"])


def test_a_server_that_is_down_is_retried_with_backoff_then_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    waits: list[float] = []
    monkeypatch.setattr(openai_api.time, "sleep", waits.append)
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ModelError, match=f"cannot reach the model server at {url}/v1") as down:
        ServerGenerator(url)
    assert "--llm-url" in down.value.hint
    assert waits == [openai_api.BACKOFF, 2 * openai_api.BACKOFF]


def test_a_server_that_stops_answering_fails_after_the_timeout(
    server: tuple[str, Script], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, script = server
    released = threading.Event()

    def stuck(body: dict[str, Any]) -> Any:
        released.wait(10)
        return {}

    script.chat = stuck
    monkeypatch.setattr(openai_api, "TIMEOUT", 0.5)
    generator = ServerGenerator(url)
    started = time.monotonic()
    try:
        with pytest.raises(ModelError, match=r"sent nothing for 0\.5 s"):
            list(generator.stream(ASKED, max_tokens=2))
    finally:
        released.set()
    assert time.monotonic() - started < 5  # the timeout, not the server, ended the wait


def test_a_pipeline_with_a_model_server_needs_no_gguf_file(
    server: tuple[str, Script], settings: Any
) -> None:
    url, _script = server
    served = settings.model_copy(update={"llm_url": url, "model": settings.cache_dir / "no.gguf"})
    pipeline = Pipeline(served)
    pipeline.check_ready()  # the missing --model file is not looked at
    assert isinstance(pipeline.generator, ServerGenerator)
    status = pipeline.status()
    assert status.model == f"the model server at {url}" and status.model_checked is None


def test_a_failing_token_count_is_an_error_not_a_silent_estimate(
    server: tuple[str, Script],
) -> None:
    url, script = server
    script.tokenize = {"/extras/tokenize/count": {"count": 4}}
    generator = ServerGenerator(url)
    assert generator.count_tokens("four words are here") == 4
    script.tokenize = {"/extras/tokenize/count": 500}  # the endpoint that worked now fails
    with pytest.raises(ModelError, match=r"HTTP 500\): tokenizer failed"):
        generator.count_tokens("four words are here")


def test_replies_that_are_not_the_api_are_errors_naming_the_server(
    server: tuple[str, Script],
) -> None:
    url, script = server
    generator = ServerGenerator(url)
    script.chat = lambda body: ["<html>proxy error</html>"]
    with pytest.raises(ModelError, match="sent something other than a JSON object"):
        list(generator.stream(ASKED, max_tokens=2))
    script.chat = lambda body: [delta("UK"), json.dumps({"error": {"message": "out of memory"}})]
    with pytest.raises(ModelError, match=r"failed mid-answer: .*out of memory"):
        list(generator.stream(ASKED, max_tokens=2))
