"""The parts an assistant is built from, made from settings: models, the knowledge store,
the checker cascade and the search configuration. Each can be replaced in code by passing
the part to :func:`~ponder.graphs.assistant.build_assistant`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ponder.agents.core.errors import ConfigError
from ponder.agents.models.base import ChatModel
from ponder.agents.reasoning.engine import ReasoningConfig
from ponder.constitution import (
    Checker,
    ClassifierMatcher,
    PatternMatcher,
    Policy,
    RuleMatcher,
    SemanticMatcher,
)
from ponder.constitution.checker import Deliberate, PolicyChecker
from ponder.constitution.devset import load_devset
from ponder.constitution.reload import PolicyWatcher, ReloadingChecker
from ponder.graphs.settings import ModelSettings, Settings
from ponder.graphs.settings_sections import ADAPTER_NEEDS_LOCAL

if TYPE_CHECKING:
    from ponder.knowledge import ChromaStore, Embedder

__all__ = [
    "batched",
    "make_checker",
    "make_embedder",
    "make_model",
    "open_store",
    "reasoning_config",
]


def make_model(settings: ModelSettings, progress: Callable[[str], None] | None = None) -> ChatModel:
    """A chat model from its settings.

    Raises:
        ConfigError: ``adapter`` with ``backend: openai`` (settings copied with
            ``model_copy(update=...)`` skip the section's own check, so it is made here too),
            or a bare ``adapter`` name that no shipped adapter has.
    """
    if settings.backend == "openai":
        if settings.adapter is not None:
            raise ConfigError(f"model settings field 'adapter': {ADAPTER_NEEDS_LOCAL}")
        from ponder.agents.models.openai_model import OpenAIModel

        return OpenAIModel(
            settings.source,
            base_url=settings.base_url,
            api_key=settings.api_key,
            timeout_s=settings.timeout_s,
        )
    from ponder.agents.learning.adapters import AdapterNotFound, resolve_adapter
    from ponder.agents.models.local import LocalModel

    adapter = settings.adapter
    if adapter is not None:
        try:
            adapter = resolve_adapter(adapter)
        except AdapterNotFound as error:
            raise ConfigError(f"model settings field 'adapter': {error}") from None
    kwargs: dict[str, Any] = {
        "device": settings.device,
        "dtype": settings.dtype,
        "threads": settings.threads,
        "max_seconds": settings.timeout_s,
        "adapter": adapter,
    }
    if progress is not None:
        kwargs["progress"] = progress
    return LocalModel(settings.source, **kwargs)


def open_store(settings: Settings, embedder: Embedder | None = None) -> ChromaStore:
    """The knowledge store the settings name: a Chroma server, or embedded Chroma.

    Args:
        settings: ``knowledge.server_url``, ``knowledge.collection`` and ``data_dir``.
        embedder: Embeds chunks and queries; default: the packaged all-MiniLM-L6-v2.

    Returns:
        The open store; the caller closes it.
    """
    from ponder.knowledge import ChromaStore, SentenceTransformerEmbedder

    embedder = embedder or SentenceTransformerEmbedder()
    knowledge = settings.knowledge
    if knowledge.server_url:
        from urllib.parse import urlparse

        url = urlparse(knowledge.server_url)
        https = url.scheme == "https"
        return ChromaStore.server(
            url.hostname or "127.0.0.1",
            url.port or (443 if https else 8000),
            collection=knowledge.collection,
            embedder=embedder,
            ssl=https,
        )
    return ChromaStore.embedded(
        settings.knowledge_path, collection=knowledge.collection, embedder=embedder
    )


def make_checker(
    settings: Settings,
    policy: Policy,
    model: ChatModel | None,
    embedder: Embedder | None,
    *,
    reload: bool = True,
) -> PolicyChecker:
    """The checker cascade: patterns, then with ``embedder`` the semantic stage (when
    ``settings.semantic``) and the learned stage (when ``settings.classifier``), then
    deliberation with ``model`` as ``settings.deliberation`` says.

    Args:
        settings: Choose the stages and their thresholds.
        policy: The rules.
        model: The deliberating model, or ``None``.
        embedder: Embeds rule examples and checked texts, or ``None`` (no semantic or
            learned stage).
        reload: Follow the policy's files, so that a saved rule applies from the next
            check without a restart (:class:`ReloadingChecker`). A policy built in code
            has no files and is never reloaded.

    Returns:
        The checker.
    """

    judge = None if settings.deliberation == "off" else model
    devset = load_devset(settings.devset) if settings.devset is not None else None
    deliberate: Deliberate = "uncertain" if settings.deliberation == "uncertain" else "all"

    def build(current: Policy) -> Checker:
        matchers: list[RuleMatcher] = [PatternMatcher(current)]
        if embedder is not None and settings.semantic:
            matchers.append(
                SemanticMatcher(
                    current,
                    embedder,
                    threshold=settings.semantic_threshold,
                    margin=settings.semantic_margin,
                )
            )
        if embedder is not None and settings.classifier:
            matchers.append(
                ClassifierMatcher(
                    current, embedder, devset=devset, threshold=settings.classifier_threshold
                )
            )
        # Inside the uncertain band the model decides (clears below one half); over every
        # candidate it may only clear what it is sure of.
        clear_below = 0.5 if deliberate == "uncertain" else 0.05
        return Checker(
            current, judge, matchers=matchers, deliberate=deliberate, clear_below=clear_below
        )

    if reload and policy.layers:
        return ReloadingChecker(PolicyWatcher(policy), build)
    return build(policy)


def make_embedder(settings: Settings, *, threads: int | None = None) -> Embedder:
    """The default embedder for the checker and the knowledge store, shared by both.

    One :class:`~ponder.knowledge.embedder.MemoEmbedder` wraps the packaged MiniLM, so a
    message checked by the semantic and learned stages and then used as the retrieval
    query is embedded once.

    Args:
        settings: ``embedder`` chooses ONNX Runtime or torch.
        threads: ONNX Runtime's threads (``None``: its own choice).

    Returns:
        The embedder (nothing loads until the first text).
    """
    from ponder.knowledge import embedder

    return embedder.default_embedder(settings.embedder, threads=threads)


def reasoning_config(settings: Settings) -> ReasoningConfig:
    """The search configuration the settings describe: the ``reasoning`` section itself,
    which is a :class:`~ponder.agents.reasoning.engine.ReasoningConfig`."""
    return settings.reasoning


def batched(model: ChatModel, settings: Settings) -> ChatModel:
    """``model`` behind a batching scheduler when ``server.batch_window_ms`` is set (5 ms
    by default) and the model computes in this process (a local model; a remote server
    batches itself).

    Concurrent turns then share the model's forward passes instead of queueing on its
    lock, and a caller alone pays nothing (see :mod:`ponder.agents.models.batching`).
    """
    window_ms = settings.server.batch_window_ms
    from ponder.agents.models.local import LocalModel

    if window_ms is None or not isinstance(model, LocalModel):
        return model
    from ponder.agents.models.batching import BatchingChatModel

    return BatchingChatModel(model, window_s=window_ms / 1000)
