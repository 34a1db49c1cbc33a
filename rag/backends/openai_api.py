"""Answers from a model server that speaks OpenAI's chat-completions API: llama.cpp's server,
`python -m llama_cpp.server`, vLLM, or a hosted service.

What answering needs from the model, and what a server gives:

- the text, streamed: every such server;
- the log-probabilities of the first token (yes/no and name questions weigh their options by
  them): asked for with `logprobs` and `top_logprobs`. An option outside the top
  `TOP_LOGPROBS` gets the lowest of them (it is at most that likely). A server that returns
  none (some hosted services) gets the model's first word instead: the option it starts with
  gets log-probability 0, the others `UNLIKELY`, and a warning says so once;
- token counts (what fits the context window): `/extras/tokenize/count` (llama-cpp-python),
  `/tokenize` (llama.cpp's server, vLLM); a server with neither gets an estimate of a token
  per `CHARS_PER_TOKEN` characters, which over-counts English.

A connection that fails is tried again `ATTEMPTS` times, `BACKOFF` seconds apart and doubling;
an answer that stops arriving fails after `TIMEOUT` seconds. Neither ever hangs a question.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import httpx

from rag.errors import ModelError
from rag.seams import Message

log = logging.getLogger(__name__)

TIMEOUT = 120.0
"""Seconds a request may wait for the server's next bytes (a long prompt's first token)."""
CONNECT_TIMEOUT = 5.0
ATTEMPTS = 3
BACKOFF = 0.5
TOP_LOGPROBS = 20
"""The most alternatives OpenAI's API returns per token."""
UNLIKELY = -100.0
"""The log-probability of an option the model did not start with, when the server gives none."""
CHARS_PER_TOKEN = 3
KEY_VARIABLE = "RAG_LLM_API_KEY"
"""The environment variable holding the server's API key, if it needs one."""
TOKENIZERS: tuple[tuple[str, Callable[[str, str], dict[str, Any]], str], ...] = (
    ("/extras/tokenize/count", lambda text, _model: {"input": text}, "count"),
    ("/tokenize", lambda text, model: {"content": text, "prompt": text, "model": model}, "tokens"),
)
"""Token-counting endpoints: path (beside /v1), request body, and the field with the count."""

T = TypeVar("T")


class ServerGenerator:
    """Streams chat completions from the server at `url` (`http://HOST:PORT/v1`, or without
    `/v1`); greedy decoding, so answers repeat. The model is the server's first."""

    def __init__(self, url: str, *, api_key: str | None = None) -> None:
        base = url.rstrip("/")
        self.url = base if base.endswith("/v1") else base + "/v1"
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            headers=headers, timeout=httpx.Timeout(TIMEOUT, connect=CONNECT_TIMEOUT)
        )
        models = self._retrying(lambda: self._json("GET", "/models")) or {}
        if not models.get("data"):
            raise ModelError(
                f"the model server at {self.url} serves no model",
                hint="Start it with a model, e.g. python -m llama_cpp.server --model FILE.",
            )
        self.model = str(models["data"][0]["id"])
        self.name = f"{self.model} at {self.url}"
        self._tokenizer: tuple[str, Callable[[str, str], dict[str, Any]], str] | None = None
        self._counting = True
        self._warned = False

    def count_tokens(self, text: str) -> int:
        if self._counting:
            for endpoint in [self._tokenizer] if self._tokenizer else TOKENIZERS:
                assert endpoint is not None
                path, body, field = endpoint
                got = self._json("POST", path, body(text, self.model), extra=True)
                if got is None or field not in got:  # no such endpoint here
                    continue
                self._tokenizer = endpoint
                count = got[field]
                return len(count) if isinstance(count, list) else int(count)
            self._counting = False
            log.warning(
                "the model server at %s counts no tokens: estimating a token per %d characters",
                self.url,
                CHARS_PER_TOKEN,
            )
        return len(text) // CHARS_PER_TOKEN + 1

    def choose(self, messages: Sequence[Message], options: Sequence[str]) -> dict[str, float]:
        """The log-probability of each option's first token as the answer's first token."""
        body = self._request(messages, max_tokens=1, logprobs=True, top_logprobs=TOP_LOGPROBS)
        reply = self._retrying(lambda: self._json("POST", "/chat/completions", body)) or {}
        choice = (reply.get("choices") or [{}])[0]
        first = ((choice.get("logprobs") or {}).get("content") or [None])[0]
        if first and first.get("top_logprobs"):
            top = first["top_logprobs"]
            weights = {t.get("token"): float(t.get("logprob", UNLIKELY)) for t in top}
            floor = min(weights.values())
            return {option: weights.get(option, floor) for option in options}
        if not self._warned:
            self._warned = True
            log.warning(
                "the model server at %s gives no token probabilities: yes/no and name answers "
                "follow the model's first word alone",
                self.url,
            )
        text = (choice.get("message") or {}).get("content") or ""
        return {o: 0.0 if text.strip().startswith(o) else UNLIKELY for o in options}

    def stream(
        self, messages: Sequence[Message], *, max_tokens: int, stop: Sequence[str] = ()
    ) -> Iterator[str]:
        body = self._request(messages, max_tokens=max_tokens, stream=True, stop=list(stop) or None)
        response = self._retrying(lambda: self._open("/chat/completions", body))
        try:
            for line in response.iter_lines():
                data = line.removeprefix("data:").strip()
                if not line.startswith("data:") or not data:
                    continue
                if data == "[DONE]":
                    return
                event = self._parsed(data)
                if "error" in event:
                    raise ModelError(
                        f"the model server at {self.url} failed mid-answer: {event['error']}",
                        hint="See the server's log.",
                    )
                text = ((event.get("choices") or [{}])[0].get("delta") or {}).get("content")
                if text:
                    yield text
        except httpx.HTTPError as exc:
            raise self._failure(exc) from exc
        finally:
            response.close()

    def _request(self, messages: Sequence[Message], **options: Any) -> dict[str, Any]:
        given = {name: value for name, value in options.items() if value is not None}
        return {"model": self.model, "messages": list(messages), "temperature": 0.0, **given}

    def _json(
        self, method: str, path: str, body: dict[str, Any] | None = None, *, extra: bool = False
    ) -> dict[str, Any] | None:
        """The server's JSON reply to one request. An `extra` endpoint is beside /v1, not in
        it, and a server may lack it: None then."""
        url = (self.url.removesuffix("/v1") if extra else self.url) + path
        try:
            response = self._client.request(method, url, json=body)
        except httpx.HTTPError as exc:
            raise self._failure(exc) from exc
        if extra and response.status_code in (404, 405, 501):
            return None
        self._check(response)
        return self._parsed(response.text)

    def _parsed(self, text: str) -> dict[str, Any]:
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            raise ModelError(
                f"the model server at {self.url} sent something other than a JSON object: "
                f"{text[:200]!r}",
                hint="Check that --llm-url is an OpenAI-compatible server (its /v1 base).",
            )
        return parsed

    def _open(self, path: str, body: dict[str, Any]) -> httpx.Response:
        """A streamed response, its status checked; the caller closes it."""
        request = self._client.build_request("POST", self.url + path, json=body)
        try:
            response = self._client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise self._failure(exc) from exc
        if response.is_error:
            response.read()
            response.close()
            self._check(response)
        return response

    def _check(self, response: httpx.Response) -> None:
        if not response.is_error:
            return
        try:
            detail = response.json()
            message = detail.get("error", detail.get("detail", detail))
            if isinstance(message, dict):
                message = message.get("message", message)
        except ValueError:
            message = response.text[:300]
        hint = (
            f"Set {KEY_VARIABLE} to the server's API key."
            if response.status_code in (401, 403)
            else "Lower --k (fewer passages) if the prompt is too long for the server's "
            "context window; else see the server's log."
        )
        raise ModelError(
            f"the model server at {self.url} refused the request "
            f"(HTTP {response.status_code}): {message}",
            hint=hint,
        )

    def _failure(self, exc: httpx.HTTPError) -> ModelError:
        if isinstance(exc, httpx.TimeoutException) and not isinstance(exc, httpx.ConnectTimeout):
            return ModelError(
                f"the model server at {self.url} sent nothing for {TIMEOUT:g} s ({exc!r})",
                hint="See whether the server is overloaded or stuck (its log).",
            )
        return _Unreachable(
            f"cannot reach the model server at {self.url}: {exc or type(exc).__name__}",
            hint="Start it (e.g. python -m llama_cpp.server --model FILE --host 127.0.0.1 "
            "--port 8000) or correct --llm-url.",
        )

    def _retrying(self, call: Callable[[], T]) -> T:
        """`call`, tried again after a connection failure, `BACKOFF` seconds later and
        doubling, `ATTEMPTS` times in all."""
        for attempt in range(ATTEMPTS):
            try:
                return call()
            except _Unreachable:
                if attempt == ATTEMPTS - 1:
                    raise
                time.sleep(BACKOFF * 2**attempt)
        raise AssertionError("unreachable")


class _Unreachable(ModelError):
    """The connection failed: worth another try."""
