from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from conftest import write

from rag.config import load_settings
from rag.errors import ChecksumError, ModelError
from rag.models import DEFAULT_MODEL_FILE, assemble, resolve_model, verify


def parts(tmp_path: Path) -> list[Path]:
    return [write(tmp_path / f"part0{n}.bin", f"piece {n};") for n in range(1, 4)]


def test_parts_are_joined_in_order_and_checked(tmp_path: Path) -> None:
    expected = hashlib.sha256(b"piece 1;piece 2;piece 3;").hexdigest()
    target = tmp_path / "cache" / "model.gguf"
    assemble(parts(tmp_path), target, sha256=expected)
    assert target.read_bytes() == b"piece 1;piece 2;piece 3;"
    verify(target, sha256=expected)


def test_a_wrong_join_leaves_no_file_behind(tmp_path: Path) -> None:
    target = tmp_path / "cache" / "model.gguf"
    with pytest.raises(ChecksumError, match="expected 0000"):
        assemble(parts(tmp_path), target, sha256="0000")
    assert list(target.parent.iterdir()) == []


def test_a_corrupt_cached_default_model_is_refused(tmp_path: Path) -> None:
    settings = load_settings({"cache_dir": tmp_path}, environ={}, cwd=tmp_path)
    write(tmp_path / DEFAULT_MODEL_FILE, "not the model")
    with pytest.raises(ChecksumError, match="has sha256") as caught:
        resolve_model(settings)
    assert "Delete" in caught.value.hint


def test_a_missing_model_file_is_a_model_error(tmp_path: Path) -> None:
    settings = load_settings({"model": tmp_path / "nope.gguf"}, environ={}, cwd=tmp_path)
    with pytest.raises(ModelError, match=r"model file not found: .*nope\.gguf"):
        resolve_model(settings)


def test_a_given_model_path_is_used_as_is(tmp_path: Path) -> None:
    model = write(tmp_path / "mine.gguf", "gguf")
    settings = load_settings({"model": model}, environ={}, cwd=tmp_path)
    assert resolve_model(settings) == model
