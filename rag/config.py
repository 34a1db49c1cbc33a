"""Settings, and where they come from.

Precedence, lowest first: defaults < `rag.toml` < `RAG_*` environment variables < CLI flags.
`rag.toml` is read from the current directory, or from the file named by `RAG_CONFIG`.
The flags are made here too (`add_setting_flags`), from the fields themselves, so that every
command (`rag`'s own, `rag serve`, `rag eval`) names and describes a setting the same way.
"""

from __future__ import annotations

import argparse
import os
import tomllib
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any, Literal, cast, get_args, get_origin

import platformdirs
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from rag.errors import ConfigError
from rag.filters import check_range

DEFAULT_EMBEDDER = "sentence-transformers/all-MiniLM-L6-v2"
DEFAULT_COLLECTION = "newsrag-chunks"
ENV_PREFIX = "RAG_"
CONFIG_FILE = "rag.toml"


class Settings(BaseModel):
    """Every setting newsrag reads, with its default and what it does."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    data_dir: Path = Field(
        default_factory=lambda: Path(platformdirs.user_data_dir("newsrag")),
        description="Directory holding the index (Chroma) of ingested articles.",
    )
    cache_dir: Path = Field(
        default_factory=lambda: Path(platformdirs.user_cache_dir("newsrag")),
        description="Directory where the default model is assembled on first use.",
    )
    embedder: str = Field(
        default=DEFAULT_EMBEDDER,
        description="sentence-transformers model name or path used to embed passages.",
    )
    chroma_url: str | None = Field(
        default=None,
        description="Chroma server (http://HOST:PORT) holding the index, searched there; "
        "unset means Chroma in the data dir.",
    )
    collection: str = Field(
        default=DEFAULT_COLLECTION,
        min_length=3,
        max_length=512,
        pattern=r"^[a-zA-Z0-9][a-zA-Z0-9._-]*[a-zA-Z0-9]$",
        description="Chroma collection of the chunks (one server can hold several indexes).",
    )
    model: Path | None = Field(
        default=None,
        description="GGUF model file that writes answers; unset means the bundled default.",
    )
    llm_url: str | None = Field(
        default=None,
        description="OpenAI-compatible model server (e.g. http://127.0.0.1:8000/v1) that writes "
        "answers instead of the local model; its API key, if any, in RAG_LLM_API_KEY.",
    )
    chunk_tokens: int = Field(default=200, ge=16, description="Chunk length in embedder tokens.")
    chunk_overlap: int = Field(default=40, ge=0, description="Tokens shared by consecutive chunks.")
    k: int = Field(default=5, ge=1, le=50, description="Passages retrieved per question.")
    max_tokens: int = Field(
        default=256, ge=1, description="Most tokens the model may write for one answer."
    )
    context_tokens: int = Field(
        default=4096, ge=512, description="The model's context window, in tokens."
    )
    threads: int | None = Field(
        default=None, ge=1, description="CPU threads for the models; unset means all cores."
    )
    retriever: Literal["hybrid", "dense", "bm25"] = Field(
        default="hybrid",
        description="How passages are found: BM25 and dense search fused, or one alone.",
    )
    bm25_weight: float = Field(
        default=0.7,
        ge=0,
        le=1,
        description="Share of BM25 in the fused score (the rest is dense similarity).",
    )
    candidates: int = Field(
        default=30, ge=1, description="Chunks each retriever proposes per search before fusion."
    )
    max_per_article: int = Field(
        default=3, ge=1, description="Most passages taken from one article."
    )
    since: date | None = Field(
        default=None, description="Search only articles published on or after this day."
    )
    until: date | None = Field(
        default=None, description="Search only articles published on or before this day."
    )
    sources: tuple[str, ...] = Field(
        default=(), description="Search only articles of these sources (comma-separated)."
    )
    as_of: date | None = Field(
        default=None,
        description='The day "last week" is counted from; unset means the newest article\'s.',
    )

    @field_validator("sources", mode="before")
    @classmethod
    def _split_sources(cls, value: Any) -> Any:
        return (
            [s.strip() for s in value.split(",") if s.strip()] if isinstance(value, str) else value
        )

    @model_validator(mode="after")
    def _overlap_below_size(self) -> Settings:
        if self.chunk_overlap >= self.chunk_tokens:
            raise ValueError(
                f"chunk_overlap ({self.chunk_overlap}) must be smaller than "
                f"chunk_tokens ({self.chunk_tokens})"
            )
        return self

    @model_validator(mode="after")
    def _range_in_order(self, info: ValidationInfo) -> Settings:
        """A `ConfigError` naming where each end came from (the validation context, as
        `load_settings` gives it) when since is after until."""
        origins = info.context or {}
        names = (origins.get("since", "since"), origins.get("until", "until"))
        check_range(self.since, self.until, names=names, error=ConfigError)
        return self


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Settings:
    """Build Settings from rag.toml, then `RAG_*` variables, then `overrides` (CLI flags).

    `None` values in `overrides` mean "flag not given" and are skipped.
    """
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}

    config_path = Path(environ["RAG_CONFIG"]) if "RAG_CONFIG" in environ else None
    if config_path is None and (cwd or Path.cwd()).joinpath(CONFIG_FILE).is_file():
        config_path = (cwd or Path.cwd()) / CONFIG_FILE
    if config_path is not None:
        for name, value in _read_toml(config_path).items():
            values[name] = value
            origins[name] = f"{config_path} key '{name}'"

    for name in Settings.model_fields:
        env_name = ENV_PREFIX + name.upper()
        if environ.get(env_name):
            values[name] = environ[env_name]
            origins[name] = f"environment variable {env_name}"

    for name, value in (overrides or {}).items():
        if value is not None:
            values[name] = value
            origins[name] = f"option --{name.replace('_', '-')}"

    try:
        return Settings.model_validate(values, context=origins)
    except ValidationError as exc:
        error = exc.errors()[0]
        name = str(error["loc"][0]) if error["loc"] else "chunk_overlap"
        where = origins.get(name, f"setting '{name}'")
        raise ConfigError(
            f"{where}: {error['msg'].removeprefix('Value error, ')}",
            hint="Run `rag --help` or see the configuration table in README.md.",
        ) from exc


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(
            f"config file not found: {path}", hint="Fix or unset RAG_CONFIG."
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{path} is not valid TOML: {exc}", hint="Fix the file; see README.md."
        ) from exc
    unknown = sorted(set(data) - set(Settings.model_fields))
    if unknown:
        raise ConfigError(
            f"{path}: unknown setting '{unknown[0]}'",
            hint="Known settings: " + ", ".join(Settings.model_fields) + ".",
        )
    return data


SEARCH_SETTINGS = [
    "k",
    "retriever",
    "bm25_weight",
    "candidates",
    "max_per_article",
    "since",
    "until",
    "sources",
    "as_of",
]
"""The settings of a search, as flags of every command that searches."""

GLOBAL_SETTINGS = ["data_dir", "chroma_url", "collection", "embedder"]
"""Settings every command takes, before or after the command's name."""


def add_setting_flags(
    parser: argparse.ArgumentParser, names: Sequence[str], *, default: Any = None
) -> None:
    """One `--name` flag per setting, typed and described as in `Settings`.

    A setting of several values (`sources`) is a repeatable singular flag (`--source`);
    dates are checked by `Settings`, which names the flag in its error. The placeholder
    says what goes there, from the setting's type (see `_placeholder`).
    """
    for name in names:
        field = Settings.model_fields[name]
        help = f"{field.description} (env RAG_{name.upper()})"
        if name == "sources":
            parser.add_argument(
                "--source",
                dest="sources",
                action="append",
                metavar="NAME",
                default=default,
                help=help,
            )
            continue
        kinds = [t for t in get_args(field.annotation) if t is not type(None)]
        base: Any = kinds[0] if kinds else field.annotation
        choices = None
        if get_origin(field.annotation) is Literal:
            base, choices = str, get_args(field.annotation)
        parser.add_argument(
            "--" + name.replace("_", "-"),
            type=cast(Callable[[str], Any], str if base is date else base),
            choices=choices,
            metavar=None if choices else _placeholder(name, base, field.metadata),
            default=default,
            help=help,
        )


def _placeholder(name: str, kind: type, constraints: Sequence[Any]) -> str:
    """What goes after a setting's flag: a day, a number (or its range), a folder, a file."""
    if kind is date:
        return "YYYY-MM-DD"
    if kind in (int, float):
        low = next((c.ge for c in constraints if hasattr(c, "ge")), None)
        high = next((c.le for c in constraints if hasattr(c, "le")), None)
        return f"{low:g}..{high:g}" if low is not None and high is not None else "N"
    if kind is Path:
        return "DIR" if name.endswith("_dir") else "PATH"
    if name.endswith("_url"):
        return "URL"
    return "NAME_OR_PATH"  # the free-text settings name a model: on the hub, or a local path


def index_name(chroma_url: str | None, collection: str) -> str:
    """Where an index's chunks are, in words: a Chroma server's collection, or the data dir's."""
    where = f"the Chroma server {chroma_url.rstrip('/')}" if chroma_url else "the data dir's Chroma"
    return f"{where}, collection {collection}"


def cores() -> int:
    """The CPU cores this process may run on: what `threads` means when unset (a container
    or `taskset` may allow fewer than the machine has)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
