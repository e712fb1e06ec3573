"""``build_assistant``: wire the nodes into one LangGraph ``StateGraph``.

::

    input_check ─refuse─────────────────────────────► emit
        │ allow
        ▼
      route ─► retrieve? ─► reason? ─► compose ─► output_check ─allow/refuse─► emit
                                          ▲            │ revise
                                          └────────────┘ (bounded)
"""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.graph import END, START, StateGraph

from ponder.agents.models.base import ChatModel
from ponder.agents.reasoning.engine import ReasoningConfig
from ponder.agents.reasoning.types import Budget
from ponder.agents.router import KeywordRouter, Router
from ponder.constitution import Checker, Policy, default_policy_path, load_policy
from ponder.graphs.nodes import Nodes, Parts
from ponder.graphs.reply import Reply, reply_from_state
from ponder.graphs.settings import ModelSettings, Settings
from ponder.graphs.state import TurnState

__all__ = ["Assistant", "build_assistant", "build_graph", "make_model", "open_store"]


def _after_input(state: TurnState) -> str:
    return "route" if state.get("outcome") is None or not state.get("answer") else "emit"


def _after_route(state: TurnState) -> str:
    route = state["route"]
    assert route is not None
    if route.knowledge:
        return "retrieve"
    return "reason" if route.reasoning else "compose"


def _after_retrieve(state: TurnState) -> str:
    route = state["route"]
    return "reason" if route is not None and route.reasoning else "compose"


def _after_output(state: TurnState) -> str:
    return "emit" if state.get("answer") else "compose"


def build_graph(parts: Parts, checkpointer: BaseCheckpointSaver[Any] | None = None) -> Any:
    """Compile the assistant's state machine over ``parts``."""
    nodes = Nodes(parts)
    graph = StateGraph(TurnState)
    graph.add_node("input_check", nodes.input_check)
    graph.add_node("route", nodes.route)
    graph.add_node("retrieve", nodes.retrieve)
    graph.add_node("reason", nodes.reason)
    graph.add_node("compose", nodes.compose)
    graph.add_node("output_check", nodes.output_check)
    graph.add_node("emit", nodes.emit)
    graph.add_edge(START, "input_check")
    graph.add_conditional_edges("input_check", _after_input, ["route", "emit"])
    graph.add_conditional_edges("route", _after_route, ["retrieve", "reason", "compose"])
    graph.add_conditional_edges("retrieve", _after_retrieve, ["reason", "compose"])
    graph.add_edge("reason", "compose")
    graph.add_edge("compose", "output_check")
    graph.add_conditional_edges("output_check", _after_output, ["compose", "emit"])
    graph.add_edge("emit", END)
    return graph.compile(checkpointer=checkpointer)


def _serializer() -> JsonPlusSerializer:
    # Only Ponder's own state types may be revived from a checkpoint.
    from ponder.agents.compose import Citation, Draft
    from ponder.agents.reasoning.hidden import HiddenChain
    from ponder.agents.router import Route
    from ponder.constitution import RuleHit, Verdict
    from ponder.knowledge import Evidence

    types = (Citation, Draft, HiddenChain, Route, RuleHit, Verdict, Evidence)
    return JsonPlusSerializer(allowed_msgpack_modules=[(t.__module__, t.__name__) for t in types])


def sqlite_checkpointer(path: Path) -> BaseCheckpointSaver[Any]:
    """A thread store in one SQLite file (created with its folder if missing)."""
    from langgraph.checkpoint.sqlite import SqliteSaver

    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, check_same_thread=False)
    return SqliteSaver(conn, serde=_serializer())


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
        return KnowledgeStore.server(
            url.hostname or "127.0.0.1",
            url.port or 8000,
            collection=knowledge.collection,
            embedder=embedder,
        )
    return KnowledgeStore.embedded(
        settings.knowledge_path, collection=knowledge.collection, embedder=embedder
    )


def reasoning_config(settings: Settings) -> ReasoningConfig:
    """The search configuration the settings describe."""
    r = settings.reasoning
    return ReasoningConfig(
        algorithm=r.algorithm,
        samples=r.samples,
        beam_width=r.beam_width,
        expansion_width=r.expansion_width,
        exploration=r.exploration,
        budget=Budget(
            max_expansions=r.max_expansions, max_tokens=r.max_tokens, max_seconds=r.max_seconds
        ),
        max_step_tokens=r.max_step_tokens,
        max_chain_tokens=r.max_chain_tokens,
        temperature=r.temperature,
        seed=r.seed,
        scorer=r.scorer,
    )


class Assistant:
    """A built assistant: send it messages, get :class:`Reply` objects back."""

    def __init__(self, graph: Any, parts: Parts) -> None:
        self.graph = graph
        self.parts = parts

    def invoke(self, message: str, *, thread_id: str | None = None) -> Reply:
        """Answer one user message.

        Args:
            message: The user's message.
            thread_id: Continue this thread; a new thread when ``None``.

        Returns:
            The reply: answer, citations, abilities, verdicts and reasoning token count.
        """
        if not message.strip():
            raise ValueError("message is empty: send the user's text")
        thread_id = thread_id or uuid.uuid4().hex
        config = {"configurable": {"thread_id": thread_id}}
        state = self.graph.invoke({"question": message}, config)
        return reply_from_state(state, thread_id)

    async def ainvoke(self, message: str, *, thread_id: str | None = None) -> Reply:
        """Async :meth:`invoke` (the model work runs in a worker thread)."""
        return await asyncio.to_thread(self.invoke, message, thread_id=thread_id)

    def history(self, thread_id: str) -> list[dict[str, str]]:
        """The thread's messages so far."""
        snapshot = self.graph.get_state({"configurable": {"thread_id": thread_id}})
        return list(snapshot.values.get("messages", []))


def build_assistant(
    settings: Settings | None = None,
    *,
    language_model: ChatModel | None = None,
    reasoning_model: ChatModel | None = None,
    policy: Policy | str | Path | None = None,
    store: Any | None = None,
    embedder: Any | None = None,
    router: Router | None = None,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
    progress: Callable[[str], None] | None = None,
) -> Assistant:
    """Build an assistant from settings, with any part swapped in code.

    Args:
        settings: Defaults to :class:`Settings` from the environment.
        language_model: Writes answers and judges rules; default from settings.
        reasoning_model: Runs the hidden search; default: the settings' reasoning
            model, else the language model (the DCA split lets them differ).
        policy: A loaded policy or a policy folder/file; default from settings.
        store: A knowledge store; default: the one the settings name.
        embedder: Embeds queries for the default store.
        router: Decides abilities per request; default :class:`KeywordRouter`.
        checkpointer: Thread persistence; default SQLite under ``settings.data_dir``.
        progress: Called with a line of text during long loads.
    """
    settings = settings or Settings()
    language_model = language_model or make_model(settings.language_model, progress)
    if reasoning_model is None:
        reasoning_model = (
            make_model(settings.reasoning_model, progress)
            if settings.reasoning_model is not None
            else language_model
        )
    if not isinstance(policy, Policy):
        policy = load_policy(policy or settings.policy or default_policy_path())
    parts = Parts(
        language_model=language_model,
        reasoning_model=reasoning_model,
        checker=Checker(policy, language_model),
        policy=policy,
        router=router or KeywordRouter(),
        store=store if store is not None else open_store(settings, embedder),
        reasoning=reasoning_config(settings),
        top_k=settings.knowledge.top_k,
        min_score=settings.knowledge.min_score,
        max_revisions=settings.max_revisions,
        trace_path=settings.reasoning.trace_path,
    )
    if checkpointer is None:
        checkpointer = sqlite_checkpointer(settings.threads_path)
    return Assistant(build_graph(parts, checkpointer), parts)
