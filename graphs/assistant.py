"""``build_assistant``: the parts from settings and the state machine over them, handed
to the :class:`~ponder.graphs.assistant_calls.Assistant` a caller talks to.

The graph itself (nodes, edges, the picture) is in :mod:`ponder.graphs.machine`;
``docs/architecture.md`` shows it, drawn from the code.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver

from ponder.agents.models.base import ChatModel
from ponder.agents.router import KeywordRouter, Router
from ponder.constitution import AuditLog, Policy, default_policy_path, load_policy
from ponder.graphs.assistant_calls import Assistant
from ponder.graphs.machine import build_graph
from ponder.graphs.nodes import Parts
from ponder.graphs.parts_from_settings import (  # re-exported: part of this module's API
    batched,
    make_checker,
    make_embedder,
    make_model,
    open_store,
    reasoning_config,
)
from ponder.graphs.persistence import open_audit_log, open_checkpointer, open_suggestion_log
from ponder.graphs.persistence import sqlite_checkpointer as sqlite_checkpointer  # re-export
from ponder.graphs.settings import Settings
from ponder.graphs.tenants import build_tenants
from ponder.knowledge import Embedder, KnowledgeStore

__all__ = [
    "Assistant",
    "build_assistant",
    "build_graph",
    "make_checker",
    "make_embedder",
    "make_model",
    "open_store",
    "reasoning_config",
]


def build_assistant(
    settings: Settings | None = None,
    *,
    language_model: ChatModel | None = None,
    reasoning_model: ChatModel | None = None,
    policy: Policy | str | Path | None = None,
    store: KnowledgeStore | None = None,
    embedder: Embedder | None = None,
    router: Router | None = None,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
    audit: AuditLog | None = None,
    progress: Callable[[str], None] | None = None,
) -> Assistant:
    """Build an assistant from settings, with any part swapped in code.

    Args:
        settings: Defaults to :class:`Settings` from the environment.
        language_model: Writes answers and judges rules; default from settings.
        reasoning_model: Runs the hidden search; default: the settings' reasoning
            model, else the language model (the DCA split lets them differ).
        policy: A loaded policy (used as it is), or a policy folder/file with
            ``settings.policy_overlays`` layered over it; default from settings.
        store: A knowledge store; default: the one the settings name.
        embedder: Embeds queries for the default store, and rule examples for the
            checker's semantic stage (on with ``settings.semantic``).
        router: Decides abilities per request; default :class:`KeywordRouter`.
        checkpointer: Thread persistence; default: PostgreSQL at ``settings.checkpoint_url``,
            else SQLite under ``settings.data_dir`` (see :mod:`ponder.graphs.persistence`).
        audit: Records every verdict; default: PostgreSQL at ``settings.audit_url``, else
            SQLite at ``settings.audit_path``.
        progress: Called with a line of text during long loads.
    """
    settings = settings or Settings()
    # Models made here are batched across concurrent turns when server.batch_window_ms is set.
    language_model = language_model or batched(
        make_model(settings.language_model, progress), settings
    )
    if reasoning_model is None:
        reasoning_model = (
            batched(make_model(settings.reasoning_model, progress), settings)
            if settings.reasoning_model is not None
            else language_model
        )
    if not isinstance(policy, Policy):
        policy = load_policy(
            policy or settings.policy or default_policy_path(), *settings.policy_overlays
        )
    if embedder is None and (settings.semantic or settings.classifier or store is None):
        embedder = make_embedder(settings)  # one memo: the checker and retrieval share it
    checker_embedder = embedder if settings.semantic or settings.classifier else None
    closers: list[Callable[[], None]] = []
    if store is None:
        store = open_store(settings, embedder)
        closers.append(store.close)
    if audit is None:
        audit = open_audit_log(settings)
        closers.append(audit.close)
    if checkpointer is None:
        checkpointer = open_checkpointer(settings)
        closers.append(checkpointer.conn.close)  # a SQLite connection or a psycopg pool
    parts = Parts(
        language_model=language_model,
        reasoning_model=reasoning_model,
        checker=make_checker(settings, policy, language_model, checker_embedder),
        policy=policy,
        router=router or KeywordRouter(),
        store=store,
        audit=audit,
        tenant=None,  # the assistant's own; each tenant's parts name theirs
        settings=settings,
    )
    try:
        tenants = build_tenants(settings, parts, checker_embedder)  # a broken overlay: now
    except BaseException:
        for close in reversed(closers):  # what this call opened, as Assistant.close does
            close()
        raise
    closers.append(tenants.close)
    suggestions = open_suggestion_log(settings)  # beside the audit log
    closers.append(suggestions.close)
    return Assistant(build_graph(parts, checkpointer), parts, closers, suggestions, tenants)
