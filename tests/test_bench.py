"""`python -m eval.bench --quick` on the real MultiHop-RAG data, with the real models: every
figure is measured (present, finite, and positive where it is a time, a size or a rate)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, SHARED_DATA

pytestmark = pytest.mark.slow
DATA = SHARED_DATA / "multihop-rag"
SCORES = ("hits@10", "mrr@10", "strict", "lenient")
"""Shares (0 to 1): a few questions may all miss, so zero is a measurement too."""
COUNTS = ("abstained", "model_wrote")


@pytest.mark.skipif(
    not (DATA / "corpus.json").is_file(), reason=f"MultiHop-RAG data not found in {DATA}"
)
def test_quick_bench_measures_every_figure(tmp_path: Path) -> None:
    pytest.importorskip("langchain_chroma", reason="the bench extra: pip install 'newsrag[bench]'")
    out = tmp_path / "bench"
    data = ["--corpus", str(DATA / "corpus.json"), "--dataset", str(DATA / "queries.dev.json")]
    done = subprocess.run(
        [sys.executable, "-m", "eval.bench", "--quick", "--out", str(out), *data],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    assert report["quick"] is True
    assert (out / "bench.png").stat().st_size > 0
    markdown = (out / "report.md").read_text()
    assert "quick run" in markdown

    figures = {
        f"{part}.{name}": value
        for part in ("newsrag", "recipe", "limits", "cli")
        for name, value in report[part].items()
    }
    expected = {
        "newsrag.ingest_s", "newsrag.ingest_peak_rss_mb", "newsrag.embed_chunks_per_s",
        "newsrag.reingest_s", "newsrag.first_token_p50_s", "newsrag.answer_p50_s",
        "recipe.ingest_s", "recipe.ingest_peak_rss_mb", "recipe.first_token_p50_s",
        "recipe.answer_p50_s", "limits.torch_chunks_per_s", "limits.onnx_chunks_per_s",
        "limits.prompt_tokens_per_s", "limits.decode_tokens_per_s",
        "limits.newsrag_prompt_tokens_p50", "limits.newsrag_raw_prefill_p50_s",
        "cli.help_s", "cli.status_s", "cli.cold_ask_first_output_s",
    }  # fmt: skip
    assert expected <= set(figures), expected - set(figures)
    for name, value in figures.items():
        assert isinstance(value, int | float) and math.isfinite(value), (name, value)
        if name.split(".")[1] in SCORES:
            assert 0 <= value <= 1, (name, value)
        elif name.split(".")[1] not in COUNTS:
            assert value > 0, (name, value)
    assert report["newsrag"]["questions"] == report["recipe"]["questions"] == 4
    for name, value in report["ratios"].items():
        assert math.isfinite(value), (name, value)
    assert len(report["targets"]) == 11
    for target in report["targets"]:
        assert target["what"] in markdown
        assert isinstance(target["met"], bool)
