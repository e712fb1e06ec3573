"""Settings: one pydantic object from ``ponder.yaml``, ``PONDER_*`` variables, or code.

Environment variables override the file; nested fields use ``__``, for example
``PONDER_LANGUAGE_MODEL__SOURCE=qwen2.5-coder-0.5b``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from ponder.agents.errors import ConfigError

__all__ = [
    "KnowledgeSettings",
    "ModelSettings",
    "ReasoningSettings",
    "Settings",
    "load_settings",
]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelSettings(_Section):
    """Which chat model a node uses."""

    backend: Literal["local", "openai"] = "local"
    """``local`` runs weights here; ``openai`` calls an OpenAI-compatible server."""
    source: str = "smollm2-135m"
    """Local: a preset, model folder or ``.gguf`` file. OpenAI: the server's model id."""
    base_url: str | None = None
    """OpenAI-compatible server URL, e.g. ``http://127.0.0.1:8000/v1``."""
    api_key: str | None = None
    """Bearer key for the server."""
    device: Literal["cpu", "cuda"] | None = None
    """Local device; default: cuda when present, else cpu."""
    timeout_s: float = Field(default=120.0, gt=0)
    """Most seconds one model call may take."""


class KnowledgeSettings(_Section):
    """Where world knowledge lives."""

    path: Path | None = None
    """Embedded Chroma folder; default ``<data_dir>/knowledge``."""
    server_url: str | None = None
    """A Chroma server (``http://host:port``); overrides ``path`` when set."""
    collection: str = "ponder"
    """Chroma collection name."""
    top_k: int = Field(default=3, ge=1, le=20)
    """Chunks retrieved per question."""
    min_score: float = Field(default=0.25, ge=-1, le=1)
    """Chunks less similar than this (cosine) are not shown to the model."""
    chunk_chars: int = Field(default=800, ge=100)
    """Most characters per chunk at ingest."""
    chunk_overlap: int = Field(default=120, ge=0)
    """Characters shared by neighbouring chunks."""


class ReasoningSettings(_Section):
    """The hidden reasoning search."""

    algorithm: Literal["greedy", "self_consistency", "beam", "mcts"] = "self_consistency"
    """Search algorithm."""
    samples: int = Field(default=4, ge=1, le=64)
    """Chains for self-consistency; expansion width for beam and MCTS."""
    beam_width: int = Field(default=2, ge=1, le=16)
    """Beams kept per depth (beam search)."""
    max_expansions: int = Field(default=16, ge=1)
    """Most node expansions per search."""
    max_tokens: int = Field(default=1200, ge=16)
    """Most reasoning tokens per search."""
    max_step_tokens: int = Field(default=160, ge=8)
    """Most tokens per step (per chain for self-consistency)."""
    temperature: float = Field(default=0.7, ge=0)
    """Sampling temperature of the proposer."""
    seed: int = 0
    """Seed for reproducible searches."""
    trace_path: Path | None = None
    """Append each search as a JSONL line here (training data for a reward model)."""


class Settings(BaseSettings):
    """Everything an assistant is built from. Moving to a cluster changes these, not code."""

    model_config = SettingsConfigDict(
        env_prefix="PONDER_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    data_dir: Path = Path(".ponder")
    """Where embedded state lives: knowledge, threads, traces."""
    language_model: ModelSettings = ModelSettings()
    """The model that writes answers and checks rules."""
    reasoning_model: ModelSettings | None = None
    """The model that reasons; default: the language model."""
    policy: Path | None = None
    """A policy folder or file; default: the policy shipped with Ponder."""
    knowledge: KnowledgeSettings = KnowledgeSettings()
    """The knowledge store."""
    reasoning: ReasoningSettings = ReasoningSettings()
    """The reasoning search."""
    max_revisions: int = Field(default=2, ge=0, le=5)
    """Compose-and-check rounds for a draft that a revise rule flags."""
    checkpoint_db: Path | None = None
    """SQLite file for threads; default ``<data_dir>/threads.sqlite``."""

    @property
    def knowledge_path(self) -> Path:
        """The embedded Chroma folder in use."""
        return self.knowledge.path or self.data_dir / "knowledge"

    @property
    def threads_path(self) -> Path:
        """The SQLite checkpoint file in use."""
        return self.checkpoint_db or self.data_dir / "threads.sqlite"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment beats the file (passed as init values), as in twelve-factor apps.
        return env_settings, init_settings


def load_settings(path: str | Path | None = None, **overrides: Any) -> Settings:
    """Load settings from a YAML file (if given) and ``PONDER_*`` variables.

    Args:
        path: A ``ponder.yaml``; ``None`` uses only the environment and defaults.
        **overrides: Values set in code, applied over the file.

    Raises:
        ConfigError: The file is unreadable or invalid; the message names the file,
            the line and the field.
    """
    from ponder.agents.yamlfile import load_yaml_mapping, locate_errors

    data: dict[str, Any] = {}
    root = None
    if path is not None:
        data, root = load_yaml_mapping(Path(path))
    try:
        return Settings(**{**data, **overrides})
    except ValidationError as e:
        where = str(path) if path is not None else "settings"
        raise ConfigError(
            f"invalid settings in {where}:\n" + "\n".join(locate_errors(e, root, where))
        ) from None


def dump_settings(settings: Settings) -> str:
    """The settings as YAML, for ``ponder config``."""
    return yaml.safe_dump(settings.model_dump(mode="json"), sort_keys=False)
