"""Load test: many chat sessions at once against `rag serve` on 127.0.0.1 (issue #17).

    python -m eval.loadtest --sessions 8 --per-session 2 --out runs/load
    python -m eval.loadtest --sessions 8 --out runs/load -- --llm-url http://127.0.0.1:8080/v1

It starts `rag serve` (the arguments after `--` are passed on) with a data dir of its own
unless `--data-dir` names one, waits for the page, then opens `--sessions` gradio_client
sessions that each ask `--per-session` questions of `eval/datasets/default.jsonl` in turn, all
sessions at once, through the page's `/ask` API. A request fails when it raises or its answer
is an error. It is cross-talk when the chat it gets back holds anything but its own question
(each request sends an empty chat), or when its session's evidence panel, a section per
answer, does not end with its own question's. It reports requests per second (answers / wall
time from the first request to the last answer), latency p50 and p95 (per request, from
submit to the final answer), and the server's peak resident set (VmHWM of the `rag serve`
process). Writes report.json; exit code 1 on any failure or cross-talk.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

DATASET = Path(__file__).parent / "datasets" / "default.jsonl"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=8, help="sessions at once (default 8)")
    parser.add_argument("--per-session", type=int, default=2, help="questions each (default 2)")
    parser.add_argument("--data-dir", type=Path, help="an index to serve (default: a new one)")
    parser.add_argument("--out", type=Path, required=True, help="folder for report.json")
    parser.add_argument("serve", nargs="*", help="arguments for rag serve, after --")
    args = parser.parse_args(argv)
    questions = [json.loads(line)["question"] for line in DATASET.read_text().splitlines()]
    with tempfile.TemporaryDirectory(prefix="loadtest-") as scratch:
        home = Path(scratch)
        # The cache dir stays (the joined model and the ONNX export are made once).
        env = {k: v for k, v in os.environ.items() if k == "RAG_CACHE_DIR" or k[:4] != "RAG_"}
        env["RAG_DATA_DIR"] = str(args.data_dir or home / "data")
        report = run(env, args.serve, args.sessions, args.per_session, questions, home)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "report.json").write_text(json.dumps(report, indent=2))
    print(json.dumps({k: v for k, v in report.items() if k != "requests"}, indent=2))
    return 1 if report["failures"] or report["cross_talk"] else 0


def run(
    env: dict[str, str],
    serve_args: list[str],
    sessions: int,
    per_session: int,
    questions: list[str],
    home: Path,
) -> dict[str, Any]:
    from gradio_client import Client

    from eval.servers import rag_serve

    with rag_serve(env, home / "serve.log", *serve_args) as serve:
        clients = [Client(serve.url, verbose=False) for _ in range(sessions)]
        asked = [
            [questions[(s * per_session + n) % len(questions)] for n in range(per_session)]
            for s in range(sessions)
        ]
        requests: list[dict[str, Any]] = []
        lock = threading.Lock()

        def session(number: int) -> None:
            for n, question in enumerate(asked[number]):
                started = time.perf_counter()
                record: dict[str, Any] = {"session": number, "question": question}
                try:
                    chat, evidence, _box = clients[number].predict(
                        question, [], "", "", [], api_name="/ask"
                    )
                    record["seconds"] = time.perf_counter() - started
                    record["cross_talk"] = _cross_talk(chat, evidence, asked[number][: n + 1])
                    answer = _text(chat[-1]["content"]) if chat else ""
                    record["failed"] = not answer or answer.lstrip("*").startswith("Error:")
                    record["answer"] = answer.split("\n")[0]
                except Exception as error:  # a failed request is a finding, not a crash
                    record.update(failed=True, cross_talk=False, error=repr(error))
                    record["seconds"] = time.perf_counter() - started
                with lock:
                    requests.append(record)

        started = time.perf_counter()
        threads = [threading.Thread(target=session, args=(s,)) for s in range(sessions)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - started
        peak = _peak_rss_mb(serve.process.pid)
    latencies = sorted(r["seconds"] for r in requests)
    return {
        "sessions": sessions,
        "per_session": per_session,
        "serve_args": serve_args,
        "answers": len(requests),
        "failures": sum(r["failed"] for r in requests),
        "cross_talk": sum(r["cross_talk"] for r in requests),
        "requests_per_s": len(requests) / wall,
        "latency_p50_s": statistics.median(latencies),
        "latency_p95_s": latencies[int(0.95 * (len(latencies) - 1))],
        "wall_s": wall,
        "serve_peak_rss_mb": peak,
        "requests": requests,
    }


def _text(content: Any) -> str:
    """A chat message's text as gradio_client gives it (parts of Markdown), unescaped."""
    parts = content if isinstance(content, list) else [{"text": str(content)}]
    return re.sub(r"\\(.)", r"\1", "".join(str(part.get("text", "")) for part in parts))


def _cross_talk(chat: list[dict[str, Any]], evidence: str, asked: list[str]) -> bool:
    """Whether a reply is not its own: the chat must hold this question alone (each request
    sends an empty chat), and the session's evidence panel, one section per answer, must end
    with this question's."""
    users = [_text(turn["content"]) for turn in chat if turn["role"] == "user"]
    return users != asked[-1:] or f"Answer {len(asked)}: {asked[-1]}" not in html.unescape(evidence)


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


if __name__ == "__main__":
    sys.exit(main())
