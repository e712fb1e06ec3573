"""Tenants: per-key policy and knowledge, built once with the assistant.

A tenant (declared in ``server.tenants``, :mod:`ponder.graphs.tenant_settings`) runs the
assistant's graph over its own parts: a checker for the assistant's policy with the
tenant's overlay layered on top (:func:`~ponder.constitution.loader.load_policy`, which
refuses an overlay that loosens the floor), and a store on the tenant's collection in the
assistant's Chroma folder or server. :func:`build_tenants` builds every tenant's parts
when the assistant is built, so a broken overlay stops ``ponder serve`` at startup, naming
the tenant and the file and line, rather than failing its first request. Each tenant's
checker follows its files (the floor's and the overlay's) as the assistant's does, so an
edited rule applies from the next check.

A thread belongs to the tenant that started it: each saved turn records the tenant in
the checkpoint's metadata, and continuing a thread as another tenant (or as none) raises
:class:`TenantThreadError`, so one tenant cannot read another's conversation (and the
documents quoted in it) by naming its thread.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ponder.agents.core.errors import ConfigError, PonderError
from ponder.constitution import ClassifierMatcher, Policy, SemanticMatcher, load_policy
from ponder.constitution.checker import PolicyChecker
from ponder.graphs.nodes import Parts
from ponder.graphs.parts_from_settings import make_checker
from ponder.graphs.settings import Settings
from ponder.graphs.tenant_settings import TenantSettings
from ponder.knowledge import Embedder, KnowledgeStore

__all__ = [
    "TENANT_METADATA_KEY",
    "Tenant",
    "TenantThreadError",
    "Tenants",
    "build_tenants",
    "check_thread_tenant",
    "thread_config",
    "thread_tenant",
]

logger = logging.getLogger(__name__)

TENANT_METADATA_KEY = "ponder_tenant"
"""The checkpoint metadata key that records which tenant a thread's turn ran as."""


class TenantThreadError(PonderError):
    """A thread started by one tenant (or by none) was continued as another."""


@dataclass(frozen=True)
class Tenant:
    """What one tenant runs with; unset parts are the assistant's own."""

    name: str
    """The tenant's name, as in ``server.tenants``."""
    policy: Policy
    """The assistant's policy with the tenant's overlay on top, as loaded at build time
    (the checker may have reloaded a newer one since)."""
    checker: PolicyChecker
    """Checks the tenant's turns; follows the policy's files."""
    store: KnowledgeStore | None
    """The tenant's knowledge collection."""


class Tenants:
    """Every tenant of an assistant, by name.

    Args:
        tenants: The built tenants.
        closers: Close what building them opened (their stores).
    """

    def __init__(
        self,
        tenants: Mapping[str, Tenant] | None = None,
        closers: Sequence[Callable[[], None]] = (),
    ) -> None:
        self._tenants = dict(tenants or {})
        self._closers = list(closers)

    @property
    def names(self) -> tuple[str, ...]:
        """The tenants' names, in the order they were declared."""
        return tuple(self._tenants)

    def get(self, name: str) -> Tenant:
        """The tenant called ``name``.

        Raises:
            ValueError: No such tenant; the message lists the known ones.
        """
        tenant = self._tenants.get(name)
        if tenant is None:
            known = ", ".join(repr(n) for n in self._tenants) or "none"
            raise ValueError(
                f"unknown tenant {name!r}; the assistant's tenants (server.tenants) are: {known}"
            )
        return tenant

    def parts(self, name: str | None, base: Parts) -> Parts:
        """``base`` with the tenant's checker, policy and store, recording the tenant with
        each verdict; ``base`` itself for ``None`` (no tenant).

        Raises:
            ValueError: No such tenant.
        """
        if name is None:
            return base
        tenant = self.get(name)
        return dataclasses.replace(
            base, checker=tenant.checker, policy=tenant.policy, store=tenant.store, tenant=name
        )

    def prepare(self) -> None:
        """Embed each tenant checker's rule examples and fit (or load) its learned heads
        now, as :meth:`~ponder.graphs.assistant.Assistant.load` does for the assistant's."""
        for tenant in self._tenants.values():
            for matcher in tenant.checker.matchers:
                if isinstance(matcher, SemanticMatcher | ClassifierMatcher):
                    matcher.prepare()

    def close(self) -> None:
        """Close the stores the tenants opened. Safe to call twice."""
        closers, self._closers = self._closers, []
        for close in reversed(closers):
            close()


def build_tenants(settings: Settings, parts: Parts, embedder: Embedder | None) -> Tenants:
    """Build every tenant in ``settings.server.tenants`` over an assistant's parts.

    Args:
        settings: The assistant's settings (stages, thresholds and the tenants).
        parts: The assistant's parts: its policy (which must come from files, for the
            overlays to layer over), language model, checker and store.
        embedder: The checker's embedder, or ``None`` (no semantic or learned stage).

    Returns:
        The tenants; empty when none are declared.

    Raises:
        ConfigError: A tenant's overlay does not load or loosens the policy, or its
            collection cannot be opened; every failing tenant is listed, each with the
            loader's file-and-line problems.
    """
    built: dict[str, Tenant] = {}
    closers: list[Callable[[], None]] = []
    problems: list[str] = []
    try:
        for name, declared in settings.server.tenants.items():
            try:
                built[name] = _build_tenant(name, declared, settings, parts, embedder, closers)
            except ConfigError as exc:
                problems.append(f"tenant {name!r} (server.tenants.{name}): {exc}")
    except BaseException:
        Tenants(closers=closers).close()
        raise
    if problems:
        Tenants(closers=closers).close()
        listing = "\n  ".join(problems)
        raise ConfigError(
            f"{len(problems)} tenant(s) cannot be built; fix them and start again:\n  {listing}"
        )
    if built:
        logger.info("tenants built: %s", ", ".join(built))
    return Tenants(built, closers)


def _build_tenant(
    name: str,
    declared: TenantSettings,
    settings: Settings,
    parts: Parts,
    embedder: Embedder | None,
    closers: list[Callable[[], None]],
) -> Tenant:
    policy, checker = parts.policy, parts.checker
    if declared.policy_overlay is not None:
        policy = _layered(parts.policy, declared.policy_overlay)
        checker = make_checker(settings, policy, parts.language_model, embedder)
    store = parts.store
    if declared.knowledge_collection is not None:
        store = _collection(parts.store, declared.knowledge_collection)
        closers.append(store.close)
    return Tenant(name=name, policy=policy, checker=checker, store=store)


def _layered(base: Policy, overlay: Path) -> Policy:
    """The assistant's policy (its files, floor first) with ``overlay`` on top."""
    if not base.layers:
        raise ConfigError(
            "its policy_overlay needs the assistant's policy loaded from files to layer over, "
            "but the policy was built in code; pass a policy folder (or a policy loaded with "
            "load_policy) to build_assistant"
        )
    return load_policy(base.layers[0], *base.layers[1:], overlay)


def _collection(base: KnowledgeStore | None, collection: str) -> KnowledgeStore:
    """The tenant's collection beside the assistant's store."""
    from ponder.knowledge import ChromaStore

    if not isinstance(base, ChromaStore):
        kind = "no store" if base is None else f"a {type(base).__name__}"
        raise ConfigError(
            f"its knowledge_collection {collection!r} must live beside the assistant's Chroma "
            f"store, but the assistant has {kind}; let the settings open the store, or pass "
            "a ChromaStore"
        )
    return base.with_collection(collection)


def thread_config(thread_id: str, tenant: str | None) -> dict[str, Any]:
    """The LangGraph config for a turn on ``thread_id``: every checkpoint it saves records
    ``tenant`` in its metadata (LangGraph copies a config's ``metadata`` into them)."""
    config: dict[str, Any] = {"configurable": {"thread_id": thread_id}}
    if tenant is not None:
        config["metadata"] = {TENANT_METADATA_KEY: tenant}
    return config


def thread_tenant(graph: Any, thread_id: str) -> tuple[bool, str | None]:
    """Whether the thread has saved turns, and the tenant its last one ran as (``None``
    for no tenant)."""
    checkpointer = getattr(graph, "checkpointer", None)
    if checkpointer is None:
        return False, None
    saved = checkpointer.get_tuple({"configurable": {"thread_id": thread_id}})
    if saved is None:
        return False, None
    owner = saved.metadata.get(TENANT_METADATA_KEY)
    return True, owner if isinstance(owner, str) else None


def check_thread_tenant(graph: Any, thread_id: str, tenant: str | None) -> None:
    """Refuse to continue a thread as a tenant other than the one that started it.

    Raises:
        TenantThreadError: The thread's turns ran as another tenant, or as none.
    """
    started, owner = thread_tenant(graph, thread_id)
    if started and owner != tenant:
        raise TenantThreadError(
            f"thread {thread_id!r} was started with another API key's tenant; continue it "
            "with the key that started it, or name a new thread"
        )
