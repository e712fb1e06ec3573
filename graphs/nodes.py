"""The graph's nodes: thin functions that read the state, call the library, return an update.

Each node writes only the fields it owns (see :class:`~ponder.graphs.state.TurnState`);
a turn's fields start afresh from the graph's input, so no node resets anything. What to
do about a verdict that stops a text is decided by
:func:`~ponder.constitution.decide.decide`; the nodes apply its decision.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from langgraph.config import get_config, get_stream_writer
from langgraph.types import interrupt

from ponder.agents.compose import AnswerRequest, Draft, compose_request
from ponder.agents.computation import compute
from ponder.agents.models.base import ChatModel
from ponder.agents.reasoning.engine import reason, write_trace_jsonl
from ponder.agents.router import Router, retrieval_query
from ponder.constitution import AuditLog, Checkpoint, Policy, Verdict
from ponder.constitution.checker import PolicyChecker
from ponder.constitution.decide import (
    Allow,
    Decision,
    Escalate,
    Redact,
    Refuse,
    Revise,
    decide,
    refuse,
)
from ponder.graphs.events import AnswerDelta
from ponder.graphs.release import Release, release_checked
from ponder.graphs.review import HOLD_MESSAGE, ReviewDecision, pending_payload
from ponder.graphs.settings import Settings
from ponder.graphs.state import Outcome, TurnState
from ponder.graphs.streaming import stream_control, write_released
from ponder.knowledge.lexical import hybrid_query
from ponder.knowledge.store import KnowledgeStore

logger = logging.getLogger(__name__)

__all__ = ["Nodes", "Parts"]


@dataclass(frozen=True, kw_only=True)
class Parts:
    """Everything the nodes call. Swapping a part swaps a protocol implementation."""

    language_model: ChatModel
    reasoning_model: ChatModel
    checker: PolicyChecker
    """Checks texts; names the policy behind each verdict (``policy_for``)."""
    policy: Policy
    router: Router
    store: KnowledgeStore | None
    """Where ``retrieve`` finds evidence, or ``None`` for no knowledge."""
    audit: AuditLog | None = None
    """Records every verdict with the thread it belongs to; ``None`` records nothing."""
    tenant: str | None
    """The tenant (``server.tenants``) whose turns these parts run, recorded with each
    verdict; ``None`` for the assistant's own."""
    settings: Settings
    """The options the nodes read: the search (``reasoning``), ``knowledge.top_k`` and
    ``min_score``, ``max_revisions``, ``max_answer_tokens`` and ``release``. The defaults
    live there, never here."""


class Nodes:
    """One method per graph node, over a set of :class:`Parts`."""

    def __init__(self, parts: Parts) -> None:
        self.parts = parts

    def input_check(self, state: TurnState) -> TurnState:
        """Check the user's message; one the rules stop ends the turn here, or pauses it."""
        question = state["question"]
        verdict = self._check(question, "input")
        decision = decide(verdict, self._policy(verdict), text=question)
        return {
            "messages": [{"role": "user", "content": question}],
            "verdicts": [verdict],
            "policy_version": verdict.policy_version,
            **self._apply(decision, verdict),
        }

    def route(self, state: TurnState) -> TurnState:
        """Decide which abilities the question needs."""
        has_knowledge = self.parts.store is not None and self.parts.store.count() > 0
        return {"route": self.parts.router.route(state["question"], has_knowledge=has_knowledge)}

    def retrieve(self, state: TurnState) -> TurnState:
        """Fetch evidence, then drop chunks that carry instructions or break rules."""
        assert self.parts.store is not None
        # Fetch spare chunks, so that a planted chunk that gets dropped cannot crowd
        # honest evidence out of the top k.
        knowledge = self.parts.settings.knowledge
        earlier = [m["content"] for m in state.get("messages", [])[:-1] if m["role"] == "user"]
        query = retrieval_query(state["question"], earlier)
        if knowledge.lexical:
            found = hybrid_query(
                self.parts.store, query, k=2 * knowledge.top_k, pool=knowledge.lexical_pool
            )
        else:
            found = self.parts.store.query(query, k=2 * knowledge.top_k)
        relevant = [e for e in found if e.score >= knowledge.min_score]
        verdicts = self.parts.checker.check_many([e.text for e in relevant], "knowledge")
        self._audit([(v, e.text) for v, e in zip(verdicts, relevant, strict=True)])
        kept = [e for e, v in zip(relevant, verdicts, strict=True) if v.allowed]
        kept = kept[: knowledge.top_k]
        fired = [v for v in verdicts if not v.allowed]
        if fired:
            logger.warning("dropped %d knowledge chunk(s) by rule", len(fired))
        return {"evidence": kept, "verdicts": fired}

    def reason(self, state: TurnState) -> TurnState:
        """Run the hidden search, or the question's own expression as one program step;
        only counts and tool results leave this node in public fields."""
        route = state.get("route")
        if route is not None and route.expression:
            result = compute(route.expression)
            if result is not None:
                return {"reasoning_answer": result.value, "tool_results": [result]}
        search = self.parts.settings.reasoning
        outcome = reason(state["question"], self.parts.reasoning_model, search)
        if search.trace_path is not None:
            write_trace_jsonl(search.trace_path, state["question"], outcome)
        return {
            "reasoning": outcome.hidden,
            "reasoning_answer": outcome.answer,
            "reasoning_tokens": outcome.reasoning_tokens,
            "nodes_expanded": outcome.nodes_expanded,
        }

    def compose(self, state: TurnState) -> TurnState:
        """Write the answer (again, with the critique, when revising).

        For a caller that streams, write one draft and release it through the output
        check while it is written (see :mod:`ponder.graphs.streaming`); the output check
        node then decides about that release.
        """
        route = state.get("route")
        store = self.parts.store
        request = AnswerRequest(
            question=state["question"],
            evidence=state.get("evidence", []),
            reasoning_answer=state.get("reasoning_answer"),
            tool_results=state.get("tool_results", []),
            critique=state.get("critique"),
            history=state.get("messages", [])[:-1][-6:],
            max_tokens=state.get("max_answer_tokens") or self.parts.settings.max_answer_tokens,
            needs_evidence=route is not None and route.factual,
            encoder=store.embedder if store is not None else None,
            plan=self.parts.settings.answers,
        )
        model = self.parts.language_model
        revisions = state.get("revisions", 0) + (1 if state.get("critique") else 0)
        control = stream_control()
        if control is None:
            return {"draft": compose_request(request, model), "revisions": revisions}
        writer = get_stream_writer()
        draft, streamed = write_released(
            request,
            model,
            judge=lambda window: self._check(window, "output"),
            send=lambda piece: writer(AnswerDelta(text=piece)),
            plan=self.parts.settings.release,
            control=control,
        )
        return {"draft": draft, "revisions": revisions, "streamed": streamed}

    def output_check(self, state: TurnState) -> TurnState:
        """Check the draft as it is released, then apply the decision on what stopped it.

        The draft is judged in overlapping chunks and each chunk is sent (as an
        :class:`AnswerDelta` on the stream) once it passes, so a violation stops the
        answer before its text goes out. A streamed draft was released so while it was
        written (``streamed``); what stopped it is decided here the same way. Text
        already sent cannot be rewritten: a revise rule that fires after that redacts
        the rest (the last resort) instead.
        """
        draft = state["draft"]
        assert draft is not None
        streamed = state.get("streamed")
        if streamed is None:
            text, release = draft.text, self._release(draft.text)
        else:  # released by compose as it was written
            assert streamed.release is not None, "a stopped stream ends the turn at compose"
            text, release = streamed.text, streamed.release
        verdicts = [release.verdict]
        if release.complete:
            outcome: Outcome = "revised" if state.get("revisions", 0) else "answered"
            return {"verdicts": verdicts, **self._answer(draft.text, draft, outcome)}
        verdict, sent = release.verdict, text[: release.end]
        rewrites_left = self.parts.settings.max_revisions - state.get("revisions", 0)
        policy = self._policy(verdict)
        decision = decide(verdict, policy, text=text, sent=sent, rewrites_left=rewrites_left)
        if isinstance(decision, Redact):
            again = self._release(decision.text, start=len(sent))
            verdicts.append(again.verdict)
            if again.complete:
                return {"verdicts": verdicts, **self._answer(decision.text, draft, "revised")}
            verdict, sent = again.verdict, decision.text[: again.end]
            policy = self._policy(verdict)
            decision = decide(verdict, policy, text=decision.text, sent=sent, redacted=True)
        return {"verdicts": verdicts, **self._apply(decision, verdict, sent)}

    def review(self, state: TurnState) -> TurnState:
        """Wait for a reviewer's decision on an escalated turn, then apply it.

        LangGraph runs this node again from its start when the turn resumes, so nothing
        before ``interrupt`` may do work or have effects.
        """
        pending = state["review"]
        assert pending is not None
        decision = ReviewDecision.model_validate(interrupt(pending))
        sent = state.get("answer", "")
        logger.info(
            "review of decision %s: %s by %s",
            pending["decision_id"],
            decision.decision,
            decision.reviewer,
        )
        if decision.decision == "refuse":
            verdict = next(v for v in state["verdicts"] if v.decision_id == pending["decision_id"])
            refusal = refuse(verdict, self._policy(verdict), sent=sent)
            return {"review": None, **self._refused(refusal, sent)}
        if decision.decision == "edit":
            assert decision.text is not None
            get_stream_writer()(AnswerDelta(text=decision.text))
            return {
                "review": None,
                "answer": sent + decision.text,
                "citations": [],
                "outcome": "revised",
            }
        if pending["checkpoint"] == "input":
            return {"review": None, "outcome": None}  # the turn goes on to routing
        get_stream_writer()(AnswerDelta(text=pending["text"]))
        return {"review": None, "answer": sent + pending["text"], "outcome": "answered"}

    def emit(self, state: TurnState) -> TurnState:
        """Send a refusal (after its verdict was announced) and record the answer."""
        if refusal := state.get("refusal"):
            get_stream_writer()(AnswerDelta(text=refusal))
        return {"messages": [{"role": "assistant", "content": state.get("answer", "")}]}

    def _release(self, text: str, start: int = 0) -> Release:
        writer = get_stream_writer()
        return release_checked(
            text,
            lambda window: self._check(window, "output"),
            lambda piece: writer(AnswerDelta(text=piece)),
            self.parts.settings.release,
            start=start,
        )

    def _apply(self, decision: Decision, verdict: Verdict, sent: str = "") -> TurnState:
        """The update that carries out ``decision`` after ``sent`` was sent."""
        match decision:
            case Allow():
                return {}
            case Revise(critique=critique):
                return {"critique": critique}
            case Refuse():
                return self._refused(decision, sent)
            case Escalate(held=held):
                # The turn pauses in ``review``; the user sees the hold message.
                notice = f"\n\n{HOLD_MESSAGE}" if sent else HOLD_MESSAGE
                get_stream_writer()(AnswerDelta(text=notice))
                return {
                    "answer": sent,
                    "citations": [],
                    "outcome": "escalated",
                    "review": pending_payload(verdict, held),
                }
            case Redact():
                raise AssertionError("a redaction is released by output_check, not applied")

    def _refused(self, refusal: Refuse, sent: str) -> TurnState:
        # The refusal follows whatever the user has already been sent; emit sends it.
        return {
            "answer": sent + refusal.text,
            "refusal": refusal.text,
            "citations": [],
            "outcome": "refused",
        }

    def _answer(self, text: str, draft: Draft, outcome: Outcome) -> TurnState:
        return {
            "answer": text,
            "citations": list(draft.citations),
            "answer_check": draft.check,
            "outcome": outcome,
        }

    def _audit(self, checked: Sequence[tuple[Verdict, str]]) -> None:
        if self.parts.audit is not None and checked:
            self.parts.audit.record_many(checked, thread_id=_thread_id(), tenant=self.parts.tenant)

    def _policy(self, verdict: Verdict) -> Policy:
        # The rules that decided, even if a reloading checker has newer ones since.
        return self.parts.checker.policy_for(verdict)

    def _check(self, text: str, checkpoint: Checkpoint) -> Verdict:
        verdict = self.parts.checker.check(text, checkpoint)
        self._audit([(verdict, text)])
        return verdict


def _thread_id() -> str | None:
    try:
        config = get_config()
    except RuntimeError:  # a node called outside a graph run, as in a unit test
        return None
    return config.get("configurable", {}).get("thread_id")
