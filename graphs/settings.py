"""Settings: one pydantic object from ``ponder.yaml``, ``PONDER_*`` variables, or code.

Environment variables override the file; nested fields use ``__``, for example
``PONDER_LANGUAGE_MODEL__SOURCE=qwen2.5-coder-0.5b``.

The sections (one per part: models, knowledge, reasoning, answers, release, server) are
declared in :mod:`ponder.graphs.settings_sections` and importable from here too.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from ponder.agents.core.errors import ConfigError
from ponder.agents.core.yamlfile import (
    ParsedYaml,
    Problem,
    describe_validation_error,
    duplicate_keys,
    format_problems,
    load_yaml_file,
    node_line,
)
from ponder.constitution.semantic import DEFAULT_MARGIN, DEFAULT_THRESHOLD
from ponder.graphs.effort import ReasoningEffortSettings
from ponder.graphs.settings_sections import (
    AnswerSettings,
    KnowledgeSettings,
    ModelSettings,
    ReasoningSettings,
    ReleaseSettings,
    ServerSettings,
)

__all__ = [
    "AnswerSettings",
    "KnowledgeSettings",
    "ModelSettings",
    "ReasoningSettings",
    "ReleaseSettings",
    "ServerSettings",
    "Settings",
    "load_settings",
]


class Settings(BaseSettings):
    """Everything an assistant is built from. Moving to a cluster changes these, not code."""

    # ``null`` in the environment is None, as in YAML: PONDER_SERVER__BATCH_WINDOW_MS=null
    # turns batching off.
    model_config = SettingsConfigDict(
        env_prefix="PONDER_",
        env_nested_delimiter="__",
        env_parse_none_str="null",
        extra="forbid",
        frozen=True,
    )

    data_dir: Path = Path(".ponder")
    """Where embedded state lives: knowledge, threads, traces."""
    language_model: ModelSettings = ModelSettings()
    """The model that writes answers and checks rules."""
    reasoning_model: ModelSettings | None = None
    """The model that reasons; default: the language model."""
    policy: Path | None = None
    """A policy folder or file; default: the policy shipped with Ponder."""
    policy_overlays: list[Path] = []
    """Team or tenant policy folders layered over ``policy``, in order. They may add or
    tighten rules and never loosen one (``ponder rules effective`` shows the merge)."""
    knowledge: KnowledgeSettings = KnowledgeSettings()
    """The knowledge store."""
    reasoning: ReasoningSettings = ReasoningSettings()
    """The reasoning search."""
    reasoning_effort: ReasoningEffortSettings = ReasoningEffortSettings()
    """The search options a call's ``reasoning_effort`` (``low``, ``medium``, ``high``)
    sets over ``reasoning``; ``none`` skips the reasoning node (:mod:`ponder.graphs.effort`)."""
    max_revisions: int = Field(default=2, ge=0, le=5)
    """Compose-and-check rounds for a draft that a revise rule flags."""
    max_answer_tokens: int = Field(default=160, ge=1)
    """Most tokens the language node writes per answer when a call does not say. A call
    may ask for more or fewer (``max_tokens`` in Python; ``max_tokens`` or
    ``max_completion_tokens`` over HTTP, up to ``server.max_completion_tokens``)."""
    checkpoint_db: Path | None = None
    """SQLite file for threads; default ``<data_dir>/threads.sqlite``."""
    audit_db: Path | None = None
    """SQLite file for the audit log of every checker decision; default
    ``<data_dir>/audit.sqlite``."""
    checkpoint_url: SecretStr | None = None
    """A PostgreSQL URL (``postgresql://user:password@host:5432/db``) for threads, so every
    replica behind a load balancer can continue any thread; overrides ``checkpoint_db``."""
    audit_url: SecretStr | None = None
    """A PostgreSQL URL for the audit log, the same database as ``checkpoint_url`` or
    another; overrides ``audit_db``."""
    audit_keep_text: bool = False
    """Keep each checked text in the audit log, not only its SHA-256. ``ponder rules diff``
    can re-check only kept texts."""
    semantic: bool = False
    """Run the checker's semantic stage (closeness to each rule's examples, embedded with
    the knowledge embedder). Off until its thresholds are tuned for your rules and
    embedder; ``ponder rules test`` and ``explain`` run it either way."""
    semantic_threshold: float = Field(default=DEFAULT_THRESHOLD, ge=-1, le=1)
    """Least cosine similarity to a rule's violating example for the semantic stage."""
    semantic_margin: float = Field(default=DEFAULT_MARGIN, ge=0, le=2)
    """Least lead of that similarity over the rule's closest compliant example."""
    classifier: bool = True
    """Run the learned stage: heads fitted on the effective policy's examples decide whether
    a text breaks a rule and name it; trained automatically when the examples change and
    cached under ``$PONDER_CACHE_DIR`` (``ponder rules train``; ``bench/safety.py``)."""
    classifier_threshold: float | None = Field(default=None, ge=0, le=1)
    """Override the learned stage's threshold; ``None`` uses the one chosen on the
    development set (the least that stops at most 5% of its benign texts, which are
    written as hard twins of the rules' violating examples)."""
    devset: Path | None = None
    """A development set (YAML of benign ``questions`` and ``responses`` on sensitive
    topics) that chooses the learned stage's thresholds; default: the one shipped. Write
    your own for a policy of your own."""
    deliberation: Literal["off", "uncertain", "all"] = "off"
    """When the language model judges a candidate rule: never (the default: the small
    local models measured did not help, see ``bench/results/safety.json``), only inside the
    learned stage's uncertain band, or every candidate (it may then clear any hit)."""
    embedder: Literal["onnx", "torch"] = "onnx"
    """How the packaged MiniLM embedder runs: ONNX Runtime (exported once into the cache;
    the same vectors, faster) or sentence-transformers on torch."""
    answers: AnswerSettings = AnswerSettings()
    """How the language node checks an answer's claims against the evidence and tool
    results before it is released."""
    release: ReleaseSettings = ReleaseSettings()
    """How the output check judges an answer as it is sent."""
    server: ServerSettings = ServerSettings()
    """The HTTP server."""

    @field_validator("checkpoint_url", "audit_url")
    @classmethod
    def _postgres_url(cls, url: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if url is None:
            return None
        scheme, separator, _ = url.get_secret_value().partition("://")
        if not separator or scheme not in ("postgresql", "postgres"):
            got = f"a {scheme!r} URL" if separator else "no scheme"
            raise ValueError(
                f"{info.field_name} must be a postgresql:// URL, such as "
                f"postgresql://ponder:secret@db.internal:5432/ponder; got {got}"
            )
        return url

    @property
    def knowledge_path(self) -> Path:
        """The embedded Chroma folder in use."""
        return self.knowledge.path or self.data_dir / "knowledge"

    @property
    def threads_path(self) -> Path:
        """The SQLite checkpoint file in use."""
        return self.checkpoint_db or self.data_dir / "threads.sqlite"

    @property
    def audit_path(self) -> Path:
        """The SQLite audit log in use."""
        return self.audit_db or self.data_dir / "audit.sqlite"

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
        return env_settings, _SectionsAsDicts(settings_cls, init_settings)


class _SectionsAsDicts(PydanticBaseSettingsSource):
    """Init values with section objects turned into dicts of the fields they set.

    pydantic-settings merges sources dict by dict: a section passed as an object, such as
    ``Settings(reasoning=ReasoningSettings(algorithm="beam"))``, would be replaced whole
    by one ``PONDER_REASONING__*`` variable; as a dict, the variable overrides one field.
    """

    def __init__(self, settings_cls: type[BaseSettings], inner: PydanticBaseSettingsSource):
        super().__init__(settings_cls)
        self._inner = inner

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # __call__ gives every value at once

    def __call__(self) -> dict[str, Any]:
        return {name: _fields_set(value) for name, value in self._inner().items()}


def _fields_set(value: Any) -> Any:
    """A section object as a dict of its fields (for a dataclass section, all of them,
    which an environment variable still overrides one by one); anything else as it is."""
    if isinstance(value, BaseModel):
        return value.model_dump(exclude_unset=True)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    return value


def load_settings(path: str | Path | None = None, **overrides: Any) -> Settings:
    """Load settings from a YAML file (if given) and ``PONDER_*`` variables.

    Args:
        path: A ``ponder.yaml``; ``None`` uses only the environment and defaults.
        **overrides: Values set in code, applied over the file.

    Returns:
        The settings.

    Raises:
        ConfigError: The file is missing, unreadable or invalid, or a ``PONDER_*`` variable
            is; the message lists every problem as ``file:line: field 'a.b': message``.
    """
    parsed = _read_settings_file(path) if path is not None else None
    values: dict[str, Any] = parsed.document if parsed is not None else {}
    problems = duplicate_keys(parsed) if parsed is not None else []
    try:
        settings = Settings(**{**values, **overrides})
    except ValidationError as exc:
        problems += describe_validation_error(exc, parsed, Settings)
    except SettingsError as exc:
        raise ConfigError(f"{exc}; a nested PONDER_* variable must hold JSON") from None
    else:
        if not problems:
            return settings
    where = f"settings file {path}" if path is not None else "settings"
    listing = "\n  ".join(format_problems(problems))
    raise ConfigError(
        f"{where} has {len(problems)} problem(s){_env_note()}; fix them and load again:"
        f"\n  {listing}"
    )


def _read_settings_file(path: str | Path) -> ParsedYaml:
    """The parsed file, whose document is a mapping of setting names (empty: ``{}``)."""
    parsed = load_yaml_file(path)
    if isinstance(parsed, Problem):
        raise ConfigError(f"cannot load settings: {parsed}")
    document = parsed.document if parsed.document is not None else {}
    if not isinstance(document, dict):
        raise ConfigError(
            f"{path}:1: expected a mapping of setting names to values at the top level, "
            f"got a {type(document).__name__}"
        )
    for key in document:
        if not isinstance(key, str):
            line = node_line(parsed.root, (str(key),), key=True)
            raise ConfigError(f"{path}:{line}: setting names are text; got the key {key!r}")
    return ParsedYaml(file=parsed.file, root=parsed.root, document=document)


def _env_note() -> str:
    """Names the ``PONDER_*`` variables that are set: they override the file."""
    prefix = str(Settings.model_config.get("env_prefix") or "").upper()
    names = sorted(name for name in os.environ if prefix and name.upper().startswith(prefix))
    return f" (set in the environment: {', '.join(names)})" if names else ""


def dump_settings(settings: Settings) -> str:
    """The settings as YAML, for ``ponder config``."""
    return yaml.safe_dump(settings.model_dump(mode="json"), sort_keys=False)
