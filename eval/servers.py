"""Servers on 127.0.0.1 for the load test, the scaling bench and the tests: each started on
a free port, used once it answers, and stopped after."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx


@dataclass(frozen=True)
class Server:
    """A running server: its URL and its process."""

    url: str
    process: subprocess.Popen[bytes]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running(
    command: Sequence[str],
    *,
    ready: str,
    log: Path,
    seconds: float = 120,
    env: dict[str, str] | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """`command` running until the block ends, once GET `ready` answers 200."""
    with log.open("ab") as out:
        server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + seconds
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"{command[:4]} exited with {server.returncode}: {log}")
            try:
                if httpx.get(ready, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{command[0]} did not start in {seconds:.0f} s: {log}")
            time.sleep(0.2)
        yield server
    finally:
        stop(server)


def stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@contextmanager
def chroma_server(path: Path, port: int | None = None) -> Iterator[Server]:
    """A Chroma server keeping its data in `path` (on `port`, or a free one)."""
    port = port or free_port()
    chroma = shutil.which("chroma", path=os.path.dirname(sys.executable)) or "chroma"
    command = [chroma, "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)]
    url = f"http://127.0.0.1:{port}"
    log = path.with_name(path.name + ".log")
    with running(command, ready=f"{url}/api/v2/heartbeat", log=log) as process:
        yield Server(url, process)


@contextmanager
def rag_serve(env: dict[str, str], log: Path, *args: str) -> Iterator[Server]:
    """`rag serve` (with `args`) in the environment `env`; yields its URL once the page
    answers (a first start ingests the default corpus and checks the model: minutes)."""
    port = free_port()
    command = [sys.executable, "-m", "rag", "serve", "--port", str(port), *args]
    url = f"http://127.0.0.1:{port}"
    with running(command, ready=url, log=log, seconds=900, env=env) as process:
        yield Server(url, process)
