"""The parts an assistant is built from, made from settings: models, the knowledge store,
the checker cascade and the search configuration. Each can be replaced in code by passing
the part to :func:`~ponder.graphs.assistant.build_assistant`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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
from ponder.constitution.reload import PolicyWatcher, ReloadingChecker
from ponder.graphs.settings import ModelSettings, Settings

__all__ = ["make_checker", "make_model", "open_store", "reasoning_config"]


def make_model(settings: ModelSettings, progress: Callable[[str], None] | None = None) -> ChatModel:
    """A chat model from its settings."""
    if settings.backend == "openai":
        from ponder.agents.models.openai_model import OpenAIModel

        return OpenAIModel(
            settings.source,
            base_url=settings.base_url,
            api_key=settings.api_key,
            timeout_s=settings.timeout_s,
        )
    from ponder.agents.models.local import LocalModel

    kwargs: dict[str, Any] = {"device": settings.device, "max_seconds": settings.timeout_s}
    if progress is not None:
        kwargs["progress"] = progress
    return LocalModel(settings.source, **kwargs)


def open_store(settings: Settings, embedder: Any | None = None) -> Any:
    """The knowledge store the settings name: a Chroma server, or embedded Chroma."""
    from ponder.knowledge import KnowledgeStore, SentenceTransformerEmbedder

    embedder = embedder or SentenceTransformerEmbedder()
    knowledge = settings.knowledge
    if knowledge.server_url:
        from urllib.parse import urlparse

        url = urlparse(knowledge.server_url)
        https = url.scheme == "https"
        return KnowledgeStore.server(
            url.hostname or "127.0.0.1",
            url.port or (443 if https else 8000),
            collection=knowledge.collection,
            embedder=embedder,
            ssl=https,
        )
    return KnowledgeStore.embedded(
        settings.knowledge_path, collection=knowledge.collection, embedder=embedder
    )


def make_checker(
    settings: Settings,
    policy: Policy,
    model: ChatModel | None,
    embedder: Any | None,
    *,
    reload: bool = True,
) -> Checker:
    """The checker cascade: patterns, the semantic stage with ``embedder``, then
    deliberation with ``model`` (either may be ``None`` to leave its stage out).

    Args:
        settings: Supplies the semantic and classifier stages' thresholds.
        policy: The rules.
        model: The deliberating model, or ``None``.
        embedder: Embeds rule examples and checked texts, or ``None``.
        reload: Follow the policy's files, so that a saved rule applies from the next
            check without a restart (:class:`ReloadingChecker`). A policy built in code
            has no files and is never reloaded.

    Returns:
        The checker.
    """

    def build(current: Policy) -> Checker:
        matchers: list[RuleMatcher] = [PatternMatcher(current)]
        if embedder is not None:
            matchers.append(
                SemanticMatcher(
                    current,
                    embedder,
                    threshold=settings.semantic_threshold,
                    margin=settings.semantic_margin,
                )
            )
            if settings.classifier:
                threshold = settings.classifier_threshold
                matchers.append(
                    ClassifierMatcher(
                        current, embedder, threshold=threshold, confident=max(threshold, 0.8)
                    )
                )
        return Checker(current, model, matchers=matchers)

    if reload and policy.layers:
        return ReloadingChecker(PolicyWatcher(policy), build)
    return build(policy)


def reasoning_config(settings: Settings) -> ReasoningConfig:
    """The search configuration the settings describe: the ``reasoning`` section itself,
    which is a :class:`~ponder.agents.reasoning.engine.ReasoningConfig`."""
    return settings.reasoning
