from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from conftest import write

from rag.config import DEFAULT_EMBEDDER, Settings, load_settings
from rag.errors import ConfigError


def test_defaults_need_no_configuration(tmp_path: Path) -> None:
    settings = load_settings(environ={}, cwd=tmp_path)
    assert settings.embedder == DEFAULT_EMBEDDER
    assert settings.model is None
    assert settings.data_dir.name == "newsrag"


def test_precedence_toml_then_environment_then_flags(tmp_path: Path) -> None:
    write(tmp_path / "rag.toml", "k = 3\nmax_tokens = 100\nchunk_tokens = 128\n")
    environ = {"RAG_K": "4", "RAG_MAX_TOKENS": "120"}
    settings = load_settings({"k": 7, "max_tokens": None}, environ=environ, cwd=tmp_path)
    assert settings.chunk_tokens == 128  # rag.toml over the default
    assert settings.max_tokens == 120  # environment over rag.toml; an absent flag is skipped
    assert settings.k == 7  # the flag over everything


def test_rag_config_names_the_file(tmp_path: Path) -> None:
    config = write(tmp_path / "elsewhere.toml", f"data_dir = '{tmp_path / 'idx'}'\n")
    write(tmp_path / "rag.toml", "k = 2\n")
    settings = load_settings(environ={"RAG_CONFIG": str(config)}, cwd=tmp_path)
    assert settings.data_dir == tmp_path / "idx"
    assert settings.k == 5


def test_unknown_toml_setting_is_named(tmp_path: Path) -> None:
    write(tmp_path / "rag.toml", "top_k = 3\n")
    with pytest.raises(ConfigError, match="unknown setting 'top_k'") as caught:
        load_settings(environ={}, cwd=tmp_path)
    assert "k, " in caught.value.hint


def test_bad_value_names_where_it_came_from(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="environment variable RAG_K"):
        load_settings(environ={"RAG_K": "many"}, cwd=tmp_path)
    with pytest.raises(ConfigError, match="option --k"):
        load_settings({"k": 0}, environ={}, cwd=tmp_path)
    write(tmp_path / "rag.toml", "k = [\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(environ={}, cwd=tmp_path)


def test_overlap_must_be_smaller_than_the_chunk(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"option --chunk-overlap: chunk_overlap \(64\) must"):
        load_settings({"chunk_tokens": 64, "chunk_overlap": 64}, environ={}, cwd=tmp_path)


def test_a_reversed_date_range_names_both_ends_and_where_they_came_from(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({"until": "2024-01-31"}, environ={"RAG_SINCE": "2024-03-01"}, cwd=tmp_path)
    assert caught.value.message == (
        "environment variable RAG_SINCE (2024-03-01) is after option --until (2024-01-31)"
    )
    assert caught.value.hint == "Swap the two dates, or clear one of them."
    write(tmp_path / "rag.toml", "since = 2024-03-01\nuntil = 2024-02-01\n")
    with pytest.raises(
        ConfigError, match=r"'since' \(2024-03-01\) is after .* 'until' \(2024-02-01\)$"
    ):
        load_settings(environ={}, cwd=tmp_path)
    # A flag wins over the file: a range of one day is fine. Built directly, no origins.
    settings = load_settings({"since": "2024-02-01"}, environ={}, cwd=tmp_path)
    assert settings.since == settings.until == date(2024, 2, 1)
    with pytest.raises(ConfigError, match=r"^since \(2024-03-01\) is after until \(2024-02-29\)"):
        Settings(since=date(2024, 3, 1), until=date(2024, 2, 29))
