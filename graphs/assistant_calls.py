"""The :class:`Assistant` a caller talks to: one user message in, a :class:`Reply` or a
stream of events out, plus the thread's pending review and history.

:func:`~ponder.graphs.assistant.build_assistant` builds it from settings; it is kept apart
from that building (which models, stores and logs to open) so the calls a program makes
read on their own. It holds the compiled graph and the parts, and builds the graph once
more per ``reasoning_effort`` level and tenant a call asks for.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncGenerator, Callable, Iterator, Sequence
from concurrent.futures import Executor
from typing import Any

from langgraph.types import Command

from ponder.constitution import ClassifierMatcher, SemanticMatcher
from ponder.constitution.suggest import SuggestionLog, suggest_from_review
from ponder.graphs._threaded import iterate_in_thread
from ponder.graphs.effort import Effort, check_effort, with_effort
from ponder.graphs.events import Event, events_from_part
from ponder.graphs.machine import build_graph
from ponder.graphs.nodes import Parts
from ponder.graphs.reply import Reply, reply_from_state
from ponder.graphs.review import (
    NoPendingReviewError,
    PendingReview,
    ReviewDecision,
    ReviewPendingError,
)
from ponder.graphs.state import new_turn
from ponder.graphs.streaming import StreamControl
from ponder.graphs.tenants import (
    Tenants,
    check_thread_tenant,
    thread_config,
    thread_tenant,
)
from ponder.graphs.turn_run import events_of, turn_parts

__all__ = ["Assistant"]


class Assistant:
    """A built assistant: send it messages, get :class:`Reply` objects or stream events back."""

    def __init__(
        self,
        graph: Any,
        parts: Parts,
        closers: Sequence[Callable[[], None]] = (),
        suggestions: SuggestionLog | None = None,
        tenants: Tenants | None = None,
    ) -> None:
        self.graph = graph
        self.parts = parts
        self._closers = list(closers)
        self.suggestions = suggestions
        """Where reviewers' decisions become suggested rule examples (``ponder rules
        suggest``); ``None`` keeps none."""
        self.tenants = tenants or Tenants()
        """The tenants a call may run as (``tenant=``), from ``server.tenants``."""
        self._variants: dict[tuple[str | None, Effort | None], Any] = {}

    def close(self) -> None:
        """Close what the assistant opened itself (thread store, audit log, knowledge
        store); parts passed in by the caller stay open. Safe to call twice."""
        closers, self._closers = self._closers, []
        for close in reversed(closers):
            close()

    def __enter__(self) -> Assistant:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def load(self) -> None:
        """Load the models' weights and the checker's learned heads now, so that the first
        answer is not the slow one (``ponder ask``, ``chat`` and ``serve`` call it before
        taking questions)."""
        self.parts.language_model.load()
        if self.parts.reasoning_model is not self.parts.language_model:
            self.parts.reasoning_model.load()
        # The embedding stages embed the examples and fit (or load) the learned heads.
        for matcher in self.parts.checker.matchers:
            if isinstance(matcher, SemanticMatcher | ClassifierMatcher):
                matcher.prepare()
        self.tenants.prepare()

    def invoke(
        self,
        message: str,
        *,
        thread_id: str | None = None,
        max_tokens: int | None = None,
        reasoning_effort: Effort | None = None,
        tenant: str | None = None,
    ) -> Reply:
        """Answer one user message.

        Args:
            message: The user's message.
            thread_id: Continue this thread; a new thread when ``None``.
            max_tokens: Most tokens for the answer; ``None`` for
                ``settings.max_answer_tokens``. Reasoning has its own budget.
            reasoning_effort: ``none`` skips the hidden reasoning; ``low``, ``medium`` and
                ``high`` search as ``settings.reasoning_effort`` says; ``None`` searches
                as ``settings.reasoning`` says.
            tenant: Run as this tenant of ``server.tenants`` (its policy overlay and
                knowledge collection); ``None`` for the assistant's own.

        Returns:
            The reply: answer, citations, abilities, verdicts and reasoning token count.

        Raises:
            ValueError: The message is empty, ``max_tokens`` is below 1,
                ``reasoning_effort`` is not a level or ``tenant`` is unknown.
            TenantThreadError: ``thread_id`` was started as another tenant (or none).
        """
        graph, turn, config = self._turn(message, thread_id, max_tokens, reasoning_effort, tenant)
        state = graph.invoke(turn, config)
        return reply_from_state(state, config["configurable"]["thread_id"])

    async def ainvoke(
        self,
        message: str,
        *,
        thread_id: str | None = None,
        max_tokens: int | None = None,
        reasoning_effort: Effort | None = None,
        tenant: str | None = None,
    ) -> Reply:
        """Async :meth:`invoke` (the model work runs in a worker thread)."""
        return await asyncio.to_thread(
            self.invoke,
            message,
            thread_id=thread_id,
            max_tokens=max_tokens,
            reasoning_effort=reasoning_effort,
            tenant=tenant,
        )

    def stream(
        self,
        message: str,
        *,
        thread_id: str | None = None,
        max_tokens: int | None = None,
        reasoning_effort: Effort | None = None,
        tenant: str | None = None,
        stream_answer: bool = True,
    ) -> Iterator[Event]:
        """Answer one user message, telling what happens as it happens.

        The answer arrives in :class:`~ponder.graphs.events.AnswerDelta` events, each
        passed by the output check before it is yielded (see :mod:`ponder.graphs.release`);
        reasoning arrives as counts only. With ``stream_answer`` (the default) the answer
        is one draft, released in checked windows while the model writes it (see
        :mod:`ponder.graphs.streaming`), so its first words come long before its last.
        The last event is a :class:`~ponder.graphs.events.Done` with the same reply
        :meth:`invoke` returns.
        Closing the iterator early stops the turn after the step that is running (a
        streamed draft's model stops at its next token) and records it as
        ``cancelled``: the thread keeps the user's message and what was sent of the
        answer, and its next turn starts after them.

        Args:
            message: The user's message.
            thread_id: Continue this thread; a new thread when ``None``.
            max_tokens: Most tokens for the answer, as in :meth:`invoke`.
            reasoning_effort: How hard to think, as in :meth:`invoke`.
            stream_answer: Write one draft and release it as it is written; False
                writes the answer as :meth:`invoke` does (the best of its drafts),
                then releases it.
            tenant: Run as this tenant, as in :meth:`invoke`.

        Returns:
            An iterator of events.

        Raises:
            ValueError: As :meth:`invoke` (raised here, before any event).
        """
        graph, turn, config = self._turn(message, thread_id, max_tokens, reasoning_effort, tenant)
        parts = turn_parts(graph, turn, config, StreamControl() if stream_answer else None)
        return (event for part in parts for event in events_from_part(*part))

    def astream(
        self,
        message: str,
        *,
        thread_id: str | None = None,
        max_tokens: int | None = None,
        executor: Executor | None = None,
        reasoning_effort: Effort | None = None,
        tenant: str | None = None,
        stream_answer: bool = True,
    ) -> AsyncGenerator[Event, None]:
        """Async :meth:`stream`: the turn runs in a worker thread of ``executor``.

        When the caller stops iterating (or is cancelled), the turn stops after the step
        that is running; a step cannot be interrupted halfway.

        Args:
            message: The user's message.
            thread_id: Continue this thread; a new thread when ``None``.
            max_tokens: Most tokens for the answer, as in :meth:`invoke`.
            executor: Runs the turn; its size bounds how many turns run at once.
                Default: the event loop's default executor.
            reasoning_effort: How hard to think, as in :meth:`invoke`.
            stream_answer: Write one draft and release it as it is written; False
                writes the answer as :meth:`invoke` does (the best of its drafts),
                then releases it.
            tenant: Run as this tenant, as in :meth:`invoke`.

        Returns:
            An async generator of the events :meth:`stream` yields; ``aclose`` it to stop
            the turn early.

        Raises:
            ValueError: As :meth:`stream`.
        """
        graph, turn, config = self._turn(message, thread_id, max_tokens, reasoning_effort, tenant)
        control = StreamControl() if stream_answer else None
        return events_of(
            iterate_in_thread(
                lambda: turn_parts(graph, turn, config, control),
                executor,
                stop=control.stop if control is not None else None,
            )
        )

    def pending_review(self, thread_id: str) -> PendingReview | None:
        """The thread's turn waiting for a human reviewer, or ``None``."""
        snapshot = self.graph.get_state({"configurable": {"thread_id": thread_id}})
        for paused in snapshot.interrupts:
            return PendingReview.from_payload(thread_id, paused.value)
        return None

    def resolve_review(self, thread_id: str, decision: ReviewDecision | dict[str, Any]) -> Reply:
        """Apply a reviewer's decision to the thread's paused turn and finish the turn.

        Args:
            thread_id: The thread whose turn waits for review.
            decision: Approve, edit (with the replacement text) or refuse.

        Returns:
            The finished turn's reply.

        Raises:
            NoPendingReviewError: Nothing in the thread waits for review.
            pydantic.ValidationError: ``decision`` is malformed.
        """
        decision = ReviewDecision.model_validate(decision)
        pending = self.pending_review(thread_id)
        if pending is None:
            raise NoPendingReviewError(f"thread {thread_id!r} has no turn waiting for review")
        tenant = thread_tenant(self.graph, thread_id)[1]  # the turn goes on as its tenant
        config = thread_config(thread_id, tenant)
        state = self._graph_for(None, tenant).invoke(Command(resume=decision.model_dump()), config)
        if self.suggestions is not None:  # the decision is a labelled example to suggest
            self.suggestions.add(
                suggest_from_review(
                    self.tenants.parts(tenant, self.parts).checker.policy,
                    text=pending.text,
                    checkpoint=pending.checkpoint,
                    rules=pending.rules,
                    decision=decision.decision,
                    author=decision.reviewer,
                    decision_id=pending.decision_id,
                    rule=decision.rule,
                )
            )
        return reply_from_state(state, thread_id)

    async def aresolve_review(
        self, thread_id: str, decision: ReviewDecision | dict[str, Any]
    ) -> Reply:
        """Async :meth:`resolve_review`."""
        return await asyncio.to_thread(self.resolve_review, thread_id, decision)

    def history(self, thread_id: str) -> list[dict[str, str]]:
        """The thread's messages so far."""
        snapshot = self.graph.get_state({"configurable": {"thread_id": thread_id}})
        return list(snapshot.values.get("messages", []))

    def _turn(
        self,
        message: str,
        thread_id: str | None,
        max_tokens: int | None,
        reasoning_effort: str | None = None,
        tenant: str | None = None,
    ) -> tuple[Any, dict[str, Any], dict[str, Any]]:
        if not message.strip():
            raise ValueError("message is empty: send the user's text")
        if max_tokens is not None and max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {max_tokens}")
        graph = self._graph_for(check_effort(reasoning_effort), tenant)
        if thread_id is not None:
            check_thread_tenant(self.graph, thread_id, tenant)
        if thread_id is not None and (pending := self.pending_review(thread_id)) is not None:
            raise ReviewPendingError(
                f"thread {thread_id!r} waits for a reviewer's decision on {pending.decision_id} "
                "(Assistant.resolve_review, or POST /v1/ponder/reviews/THREAD)"
            )
        config = thread_config(thread_id or uuid.uuid4().hex, tenant)
        return graph, new_turn(message, max_tokens), config

    def _graph_for(self, effort: Effort | None, tenant: str | None = None) -> Any:
        """The state machine for a call's ``reasoning_effort`` and tenant: the same nodes
        and thread store over parts whose search settings (or router, for ``none``),
        checker and store differ; built once per level and tenant."""
        if effort is None and tenant is None:
            return self.graph
        graph = self._variants.get((tenant, effort))
        if graph is None:
            parts = with_effort(self.tenants.parts(tenant, self.parts), effort)
            graph = build_graph(parts, self.graph.checkpointer)
            graph = self._variants.setdefault((tenant, effort), graph)
        return graph
