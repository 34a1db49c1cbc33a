"""Files people upload in the Corpus tab: checked, renamed safely, kept in the data directory.

Uploads are copied into `DATA_DIR/uploads/` under a sanitized name, so that the articles
keep a file to come from (re-uploading a file of the same name replaces it, and an ingest of
it is incremental like any other).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence
from pathlib import Path

from rag.fetch import human_size
from rag.types import Problem

UPLOAD_TYPES = (".txt", ".md", ".html", ".htm", ".json", ".jsonl")
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
"""Per file; the server refuses larger uploads before they reach the app."""


def safe_name(name: str) -> str:
    """A file name that is only letters, digits, `.`, `_` and `-`, with no path and no
    leading dot, keeping its suffix: '../../etc/x<1>.md' → 'x_1_.md'."""
    path = Path(name.replace("\\", "/")).name
    suffix = Path(path).suffix.lower()
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", path[: len(path) - len(suffix)]).strip("_")
    return (stem[:80] or "upload") + re.sub(r"[^a-z0-9.]", "", suffix)


def save_uploads(files: Sequence[str], *, folder: Path) -> tuple[list[Path], list[Problem]]:
    """Copy the uploaded `files` into `folder`: (saved paths, problems of those refused)."""
    saved: list[Path] = []
    problems: list[Problem] = []
    for file in files:
        upload = Path(file)
        name = safe_name(upload.name)
        size = upload.stat().st_size
        if Path(name).suffix not in UPLOAD_TYPES:
            problems.append(
                Problem(
                    name,
                    f"{Path(name).suffix or 'no extension'} is not an article type",
                    f"Upload {', '.join(UPLOAD_TYPES)} files.",
                )
            )
        elif size > MAX_UPLOAD_BYTES:
            problems.append(
                Problem(
                    name,
                    f"the file is {human_size(size)}, "
                    f"over the {human_size(MAX_UPLOAD_BYTES)} limit",
                    "Split it, or ingest it with `rag ingest` on the command line.",
                )
            )
        else:
            folder.mkdir(parents=True, exist_ok=True)
            saved.append(Path(shutil.copyfile(upload, folder / name)))
    return saved, problems
