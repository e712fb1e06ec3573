"""Fixtures for server tests: fake models, real embedded Chroma, the real server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from server_helpers import API_KEY, language_model, reasoning_model, running

from ponder.agents.models.testing import FunctionChatModel
from ponder.constitution import default_policy_path, load_policy
from ponder.graphs import build_assistant
from ponder.graphs.assistant import Assistant, sqlite_checkpointer
from ponder.graphs.server import create_app
from ponder.graphs.settings import Settings
from ponder.knowledge import ChromaStore, KnowledgeStore, ingest
from ponder.knowledge.testing import HashingEmbedder


@pytest.fixture(scope="session")
def policy():
    return load_policy(default_policy_path())


@pytest.fixture
def store(tmp_path: Path) -> KnowledgeStore:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "eiffel.md").write_text(
        "# Eiffel Tower\n\nThe Eiffel Tower in Paris was completed in 1889 for the World's Fair."
    )
    knowledge = ChromaStore.embedded(tmp_path / "chroma", embedder=HashingEmbedder())
    ingest(docs, knowledge)
    return knowledge


@pytest.fixture
def make_assistant(tmp_path: Path, store, policy) -> Callable[..., Assistant]:
    def make(language: FunctionChatModel | None = None, **settings) -> Assistant:
        # The server's tests send the fake model's drafts as written: claim checking
        # (tests/agents/test_compose_claims.py) would hold them to the one-line corpus.
        settings.setdefault("answers", {"claim_check": False})
        return build_assistant(
            Settings(data_dir=tmp_path, **settings),
            language_model=language or language_model(),
            reasoning_model=FunctionChatModel(reasoning_model),
            policy=policy,
            store=store,
            checkpointer=sqlite_checkpointer(tmp_path / "threads.sqlite"),
        )

    return make


@pytest.fixture
def serve(make_assistant) -> Iterator[Callable[..., tuple[str, Any]]]:
    """``serve(language, server={...}, **settings)`` starts a server: (``/v1`` URL, app)."""
    with ExitStack() as stack:

        def start(language=None, server=None, **settings):
            assistant = make_assistant(language, **settings)
            app = create_app(assistant, Settings(server={"api_keys": [API_KEY], **(server or {})}))
            return stack.enter_context(running(app)), app

        yield start
