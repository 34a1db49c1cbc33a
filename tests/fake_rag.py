"""`rag` with a keyword embedder at the model seam, for fast tests that need a process of its
own (one in a mount namespace, with a full disk or a read-only data dir):
`python tests/fake_rag.py ARGS` is `rag ARGS`."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path[:0] = [str(Path(__file__).parent), str(Path(__file__).parent.parent)]

from conftest import KeywordEmbedder  # noqa: E402

import rag.pipeline  # noqa: E402
from rag.cli import main  # noqa: E402

KEYWORDS = ("bridge", "crack", "council", "london", "library")

if __name__ == "__main__":
    rag.pipeline.load_embedder = lambda _settings: KeywordEmbedder(KEYWORDS)  # type: ignore[assignment]
    sys.exit(main(["--embedder", "fake-keyword", *sys.argv[1:]]))
