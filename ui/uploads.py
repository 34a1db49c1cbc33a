"""Files people upload in the Corpus tab: checked, renamed safely, kept in the data directory.

Uploads are copied into `DATA_DIR/uploads/` under a sanitized name, so that the articles
keep a file to come from (re-uploading a file of the same name replaces it, and an ingest of
it is incremental like any other). Nothing is ever written outside that folder: a sanitized
name has no path in it, and a name that is a link there is refused, not followed.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Sequence
from pathlib import Path

from rag.fetch import human_size
from rag.types import Problem

UPLOAD_TYPES = (".txt", ".md", ".html", ".htm", ".json", ".jsonl")
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
"""Per file; the server refuses larger uploads before they reach the app."""
MAX_UPLOAD_FILES = 50
"""Per upload: more is refused whole (a folder is for `rag ingest`, which shows progress)."""
MAX_STEM_BYTES = 120
"""Of a saved name before its suffix, in UTF-8: well under the 255 bytes file systems allow."""


def safe_name(name: str) -> str:
    """A file name with no path and no leading dot: letters and digits of any script, `_`
    and `-`, then its suffix in lower case: '../../etc/x<1>.MD' → 'x_1.md',
    'Zürich 北京.txt' → 'Zürich_北京.txt'. Controls, NUL, separators, dots and invisible
    format characters (a right-to-left override) become `_`."""
    path = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    stem, dot, suffix = path.rpartition(".")
    if not dot or not re.fullmatch(r"[A-Za-z0-9]{1,10}", suffix):
        stem, suffix = path, ""  # no suffix a file type could have
    kept = "".join(c if c in "_-" or unicodedata.category(c)[0] in "LNM" else "_" for c in stem)
    kept = re.sub(r"_{2,}", "_", kept).strip("_-")
    kept = kept.encode()[:MAX_STEM_BYTES].decode(errors="ignore").rstrip("_-")
    return (kept or "upload") + ("." + suffix.lower() if suffix else "")


def save_uploads(files: Sequence[str], *, folder: Path) -> tuple[list[Path], list[Problem]]:
    """Copy the uploaded `files` into `folder`: (saved paths, problems of those refused)."""
    if len(files) > MAX_UPLOAD_FILES:
        problem = Problem(
            f"{len(files)} files",
            f"one upload takes at most {MAX_UPLOAD_FILES} files: none was added",
            f"Upload them {MAX_UPLOAD_FILES} at a time, or put them in a folder and run "
            "`rag ingest FOLDER` on the command line.",
        )
        return [], [problem]
    saved: list[Path] = []
    problems: list[Problem] = []
    for file in files:
        upload = Path(file)
        name = _unused(safe_name(upload.name), saved)
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
        elif (target := _target(folder, name)) is None:
            problems.append(
                Problem(
                    name,
                    f"{folder / name} is a link or a folder, not a file of the uploads folder",
                    f"Remove it from {folder}, or rename the file and upload it again.",
                )
            )
        else:
            saved.append(_copy(upload, target))
    return saved, problems


def _unused(name: str, saved: Sequence[Path]) -> str:
    """`name`, or 'stem-2.md' and so on when another file of this upload already has it."""
    taken = {path.name for path in saved}
    stem, suffix = os.path.splitext(name)
    number = 1
    while name in taken:
        number += 1
        name = f"{stem}-{number}{suffix}"
    return name


def _target(folder: Path, name: str) -> Path | None:
    """Where `name` goes in `folder` (made if need be), or None if that is not a plain file
    right inside it."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    if target.is_symlink() or target.resolve().parent != folder.resolve():
        return None
    if target.exists() and not target.is_file():
        return None
    return target


def _copy(upload: Path, target: Path) -> Path:
    """Copy `upload` to `target` whole or not at all: a reader never sees half a file."""
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
    os.close(handle)
    try:
        shutil.copyfile(upload, temporary)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target
