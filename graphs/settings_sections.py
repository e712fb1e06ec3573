"""The sections of :class:`~ponder.graphs.settings.Settings`: one per part it builds.

Split from :mod:`ponder.graphs.settings` so that module keeps the top level (the
settings a whole assistant shares, the order of sources, loading a file with ``file:line``
errors) while this one keeps each part's own options with their defaults and bounds: which
chat model, where knowledge lives, the reasoning search, how answers are checked and
released, and the HTTP server. Each section forbids unknown keys, so a typo in
``ponder.yaml`` fails loading and names the field. All of them are importable from
:mod:`ponder.graphs.settings` as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ponder.agents.compose import AnswerPlan
from ponder.agents.models.dtype import DtypeName
from ponder.agents.models.openai_model import DEFAULT_TIMEOUT_S
from ponder.agents.reasoning.engine import ReasoningConfig
from ponder.graphs.release import ReleasePlan
from ponder.graphs.tenant_settings import TenantsSettings

__all__ = [
    "AnswerSettings",
    "KnowledgeSettings",
    "ModelSettings",
    "ReasoningSettings",
    "ReleaseSettings",
    "ServerSettings",
]


ADAPTER_NEEDS_LOCAL = (
    "a LoRA adapter loads only into local weights (backend: local); a backend: openai "
    "server serves its own weights: remove 'adapter' or load the adapter on that server"
)
"""Why ``adapter`` with ``backend: openai`` is refused, at load and in ``make_model``."""


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
    dtype: DtypeName = "auto"
    """Local dtype; ``auto`` picks float32 on a CPU without native bfloat16 (where
    bfloat16 reads prompts 4-7x slower), bfloat16 on a GPU or a CPU that has it;
    ``float32+bfloat16`` adds a bfloat16 copy for decode (see ponder.agents.models.dtype)."""
    threads: int | None = Field(default=None, ge=1)
    """Local: torch's CPU threads for the process; default ``OMP_NUM_THREADS``, else
    the cores this process may use. The first local model loaded sets them."""
    timeout_s: float = Field(default=DEFAULT_TIMEOUT_S, gt=0)
    """Most seconds one model call may take."""
    adapter: str | None = None
    """Local: a LoRA adapter file (``ponder learn finetune`` writes one), or the name of one
    shipped in the package (``qwen2.5-coder-0.5b-round1``: the 0.5B preset after one round of
    expert iteration), merged into the weights at load, so the assistant runs the policy
    that learned from its own search. It
    records the base weights' SHA-256 and loads only onto those weights, so an adapter
    trained on another model or another copy of the weights is refused. A remote server
    (``backend: openai``) loads its own weights, so an adapter there is refused."""

    @field_validator("adapter")
    @classmethod
    def _adapter_is_local(cls, adapter: str | None, info: ValidationInfo) -> str | None:
        if adapter is not None and info.data.get("backend") == "openai":
            raise ValueError(ADAPTER_NEEDS_LOCAL)
        return adapter


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
    lexical: bool = True
    """Rank chunks by their words too (BM25 over the dense pool, fused by reciprocal rank;
    ``knowledge/lexical.py``), kept because it raised recall@3 on the answer benchmark."""
    lexical_pool: int = Field(default=30, ge=1, le=200)
    """Chunks the dense search proposes for lexical fusion."""
    chunk_chars: int = Field(default=800, ge=100)
    """Most characters per chunk at ingest."""
    chunk_overlap: int = Field(default=120, ge=0)
    """Characters shared by neighbouring chunks."""

    @model_validator(mode="after")
    def _overlap_below_chunk(self) -> KnowledgeSettings:
        if self.chunk_overlap >= self.chunk_chars:
            raise ValueError(
                f"chunk_overlap ({self.chunk_overlap}) must be below chunk_chars "
                f"({self.chunk_chars})"
            )
        return self


@dataclass(frozen=True, kw_only=True)
class ReasoningSettings(ReasoningConfig):
    """The hidden reasoning search: every option of
    :class:`~ponder.agents.reasoning.engine.ReasoningConfig` (declared there, once, with
    its default and bounds), and where traces go."""

    __pydantic_config__ = ConfigDict(extra="forbid")

    trace_path: Path | None = None
    """Append each search as a JSONL line here (training data for a reward model)."""


@dataclass(frozen=True, kw_only=True)
class AnswerSettings(AnswerPlan):
    """How the language node checks an answer: the options of
    :class:`~ponder.agents.compose.AnswerPlan`, declared there."""

    __pydantic_config__ = ConfigDict(extra="forbid")


@dataclass(frozen=True, kw_only=True)
class ReleaseSettings(ReleasePlan):
    """How the output check releases an answer: the options of
    :class:`~ponder.graphs.release.ReleasePlan`, declared there."""

    __pydantic_config__ = ConfigDict(extra="forbid")


class ServerSettings(_Section):
    """The OpenAI-compatible HTTP server that ``ponder serve`` runs."""

    host: str = "127.0.0.1"
    """Address to listen on. Any address but loopback needs ``api_keys``."""
    port: int = Field(default=8000, ge=0, le=65535)
    """Port to listen on."""
    model_name: str = Field(default="ponder", min_length=1)
    """The model id clients send as ``model`` and ``GET /v1/models`` lists."""
    api_keys: list[SecretStr] = []
    """Bearer keys a client must send. None: only clients on loopback are served. From the
    environment: ``PONDER_SERVER__API_KEYS='["key-1", "key-2"]'``."""
    reviewer_keys: list[SecretStr] = []
    """Bearer keys for the human-review endpoints (``/v1/ponder/reviews``), kept apart
    from client keys so that a client cannot approve its own escalated request. With
    client keys set and no reviewer keys, review over HTTP is off (use Python or the CLI).
    """
    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    """Largest request body accepted; a larger one gets 413."""
    max_completion_tokens: int = Field(default=1024, ge=1)
    """Largest ``max_tokens`` a request may ask for; more gets 400."""
    request_timeout_s: float = Field(default=300.0, gt=0)
    """Most seconds one request may take, time in the queue included; then 504."""
    max_concurrent: int = Field(default=2, ge=1, le=256)
    """Turns that run at once; each holds a worker thread."""
    batch_window_ms: float | None = Field(default=5.0, ge=0, le=1000)
    """Batch concurrent turns' model calls on a local model: ``generate`` calls arriving
    within this many milliseconds of the first decode as one batch, a call arriving while
    a batch decodes joins it at the next step, and ``score`` calls share a forward pass
    (:mod:`ponder.agents.models.batching`); raise ``max_concurrent`` to give it turns to
    batch. On by default because it costs one caller nothing: a caller alone waits for no
    window and runs the same computation (measured on SmolLM2 with ``bench/batching.py``:
    one caller through the batching path 0.97x the plain call's time for ``generate``,
    0.98x for ``score``). ``None``: off, each call runs alone (greedy output is the same
    either way)."""
    max_queue: int = Field(default=16, ge=0)
    """Requests that may wait for a turn to finish; one more gets 429."""
    max_queue_wait_s: float = Field(default=120.0, gt=0)
    """Most seconds a request waits in the queue for its turn to start (first come, first
    served); then 429 with ``Retry-After``."""
    thread_wait_s: float = Field(default=60.0, gt=0)
    """Most seconds a request waits for the earlier turn on its thread to end (turns on
    one thread run one at a time, across replicas too); then 409 naming the thread."""
    tenants: TenantsSettings = {}
    """API keys that carry a tenant: its policy overlay and knowledge collection
    (:mod:`ponder.graphs.tenant_settings`). Keys are given as SHA-256 digests."""
