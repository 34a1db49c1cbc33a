"""Reliability under load (issue #17): the load test against a real `rag serve` with the real
models, with small numbers (docs/reliability.md has the figures of a full run)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_the_load_test_finds_every_answer_its_own_and_reports_its_figures(
    env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "load"
    command = ["eval.loadtest", "--sessions", "2", "--per-session", "2", "--out", str(out)]
    done = subprocess.run(
        [sys.executable, "-m", *command],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((out / "report.json").read_text())
    assert (report["answers"], report["failures"], report["cross_talk"]) == (4, 0, 0)
    asked = [(r["session"], r["question"]) for r in report["requests"]]
    assert len(set(asked)) == 4  # four different questions, two per session
    assert report["requests_per_s"] > 0 and report["serve_peak_rss_mb"] > 0
    assert report["latency_p50_s"] <= report["latency_p95_s"]
