"""The graph's nodes: thin functions that read the state, call the library, return an update."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from langgraph.config import get_config, get_stream_writer
from langgraph.types import interrupt

from ponder.agents.compose import compose
from ponder.agents.models.base import ChatModel
from ponder.agents.reasoning.engine import reason, write_trace_jsonl
from ponder.agents.router import Router
from ponder.constitution import (
    AuditLog,
    Checker,
    Checkpoint,
    Policy,
    Verdict,
    critique_for,
    guidance_for,
    redact,
    refusal_message,
)
from ponder.constitution.reload import ReloadingChecker
from ponder.graphs.events import AnswerDelta
from ponder.graphs.release import Release, release_checked
from ponder.graphs.review import HOLD_MESSAGE, ReviewDecision, pending_payload
from ponder.graphs.settings import Settings
from ponder.graphs.state import RESET, TurnState
from ponder.knowledge.store import KnowledgeStore

logger = logging.getLogger(__name__)

__all__ = ["Nodes", "Parts"]


@dataclass(frozen=True, kw_only=True)
class Parts:
    """Everything the nodes call. Swapping a part swaps a protocol implementation."""

    language_model: ChatModel
    reasoning_model: ChatModel
    checker: Checker
    policy: Policy
    router: Router
    store: KnowledgeStore | None
    """Where ``retrieve`` finds evidence, or ``None`` for no knowledge."""
    audit: AuditLog | None = None
    """Records every verdict with the thread it belongs to; ``None`` records nothing."""
    settings: Settings
    """The options the nodes read: the search (``reasoning``), ``knowledge.top_k`` and
    ``min_score``, ``max_revisions``, ``max_answer_tokens`` and ``release``. The defaults
    live there, never here."""


class Nodes:
    """One method per graph node, over a set of :class:`Parts`."""

    def __init__(self, parts: Parts) -> None:
        self.parts = parts

    def input_check(self, state: TurnState) -> dict[str, Any]:
        """Start the turn: reset per-turn fields and check the user's message."""
        question = state["question"]
        verdict = self._check(question, "input")
        update: dict[str, Any] = {
            "messages": [{"role": "user", "content": question}],
            "route": None,
            "evidence": [],
            "reasoning": None,
            "reasoning_answer": None,
            "reasoning_tokens": 0,
            "nodes_expanded": 0,
            "draft": None,
            "critique": None,
            "revisions": 0,
            "answer": "",  # the last turn's answer must not count as this one's
            "citations": [],
            "refusal": None,
            "verdicts": [RESET, verdict],
            "policy_version": verdict.policy_version,
            "review": None,
        }
        if verdict.action == "revise":
            # A revise rule on the question shapes the answer (answer generally, correct
            # the premise) instead of refusing it: the first draft is written with guidance.
            update["critique"] = guidance_for(verdict, self._policy(verdict))
        elif not verdict.allowed:
            update.update(self._stop(verdict, held=question))
        return update

    def route(self, state: TurnState) -> dict[str, Any]:
        """Decide which abilities the question needs."""
        has_knowledge = self.parts.store is not None and self.parts.store.count() > 0
        return {"route": self.parts.router.route(state["question"], has_knowledge=has_knowledge)}

    def retrieve(self, state: TurnState) -> dict[str, Any]:
        """Fetch evidence, then drop chunks that carry instructions or break rules."""
        assert self.parts.store is not None
        # Fetch spare chunks, so that a planted chunk that gets dropped cannot crowd
        # honest evidence out of the top k.
        knowledge = self.parts.settings.knowledge
        found = self.parts.store.query(state["question"], k=2 * knowledge.top_k)
        relevant = [e for e in found if e.score >= knowledge.min_score]
        verdicts = self.parts.checker.check_many([e.text for e in relevant], "knowledge")
        self._audit([(v, e.text) for v, e in zip(verdicts, relevant, strict=True)])
        kept = [e for e, v in zip(relevant, verdicts, strict=True) if v.allowed]
        kept = kept[: knowledge.top_k]
        fired = [v for v in verdicts if not v.allowed]
        if fired:
            logger.warning("dropped %d knowledge chunk(s) by rule", len(fired))
        return {"evidence": kept, "verdicts": fired}

    def reason(self, state: TurnState) -> dict[str, Any]:
        """Run the hidden search; only counts leave this node in public fields."""
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

    def compose(self, state: TurnState) -> dict[str, Any]:
        """Write the answer (again, with the critique, when revising)."""
        history = state.get("messages", [])[:-1][-6:]
        draft = compose(
            state["question"],
            self.parts.language_model,
            evidence=state.get("evidence", []),
            reasoning_answer=state.get("reasoning_answer"),
            critique=state.get("critique"),
            history=history,
            max_tokens=state.get("max_answer_tokens") or self.parts.settings.max_answer_tokens,
        )
        revisions = state.get("revisions", 0) + (1 if state.get("critique") else 0)
        return {"draft": draft, "revisions": revisions}

    def output_check(self, state: TurnState) -> dict[str, Any]:
        """Check the draft as it is released: allow it, rewrite, redact, or refuse.

        The draft is judged in overlapping chunks and each chunk is sent (as an
        :class:`AnswerDelta` on the stream) once it passes, so a violation stops the
        answer before its text goes out. Text already sent cannot be rewritten: a revise
        rule that fires after that redacts the rest (the last resort) instead.
        """
        draft = state["draft"]
        assert draft is not None
        release = self._release(draft.text)
        verdict = release.verdict
        if release.complete:
            outcome = "revised" if state.get("revisions", 0) else "answered"
            return {"verdicts": [verdict], **self._answer(draft.text, draft, outcome)}
        sent = draft.text[: release.end]
        if verdict.action == "revise":
            if not sent and state.get("revisions", 0) < self.parts.settings.max_revisions:
                critique = critique_for(verdict, self._policy(verdict))
                return {"verdicts": [verdict], "critique": critique}
            return self._last_resort(draft, verdict, sent)
        return {"verdicts": [verdict], **self._stop(verdict, sent, held=draft.text[len(sent) :])}

    def _release(self, text: str, start: int = 0) -> Release:
        writer = get_stream_writer()
        return release_checked(
            text,
            lambda window: self._check(window, "output"),
            lambda piece: writer(AnswerDelta(text=piece)),
            self.parts.settings.release,
            start=start,
        )

    def _last_resort(self, draft: Any, verdict: Verdict, sent: str) -> dict[str, Any]:
        # Rewrites ran out, or part of the draft is sent: redact what the rules allow, and
        # refuse if that is not enough. Text already sent must stay as it was.
        rules = [self._policy(verdict).rule(hit.rule_id) for hit in verdict.hits]
        redacted = redact(draft.text, rules)
        if not redacted.startswith(sent):
            return {
                "verdicts": [verdict],
                **self._stop(verdict, sent, held=draft.text[len(sent) :]),
            }
        release = self._release(redacted, start=len(sent))
        verdicts = [verdict, release.verdict]
        if release.complete:
            return {"verdicts": verdicts, **self._answer(redacted, draft, "revised")}
        sent = redacted[: release.end]
        return {
            "verdicts": verdicts,
            **self._stop(release.verdict, sent, held=redacted[len(sent) :]),
        }

    def review(self, state: TurnState) -> dict[str, Any]:
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
            return {"review": None, **self._refusal(verdict, sent), "outcome": "refused"}
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
            return {"review": None, "answer": "", "outcome": "answered"}  # on to routing
        get_stream_writer()(AnswerDelta(text=pending["text"]))
        return {"review": None, "answer": sent + pending["text"], "outcome": "answered"}

    def emit(self, state: TurnState) -> dict[str, Any]:
        """Send a refusal (after its verdict was announced) and record the answer."""
        if state.get("refusal"):
            get_stream_writer()(AnswerDelta(text=state["refusal"]))
        return {"messages": [{"role": "assistant", "content": state.get("answer", "")}]}

    def _audit(self, checked: Sequence[tuple[Verdict, str]]) -> None:
        if self.parts.audit is not None and checked:
            self.parts.audit.record_many(checked, thread_id=_thread_id())

    def _policy(self, verdict: Verdict) -> Policy:
        # A reloading checker may have loaded newer rules since: use the ones that decided.
        checker = self.parts.checker
        if isinstance(checker, ReloadingChecker):
            return checker.policy_for(verdict)
        return checker.policy

    def _check(self, text: str, checkpoint: Checkpoint) -> Verdict:
        verdict = self.parts.checker.check(text, checkpoint)
        self._audit([(verdict, text)])
        return verdict

    def _answer(self, text: str, draft: Any, outcome: str) -> dict[str, Any]:
        return {"answer": text, "citations": list(draft.citations), "outcome": outcome}

    def _stop(self, verdict: Verdict, sent: str = "", *, held: str) -> dict[str, Any]:
        # Escalation holds the text for a reviewer (see ``review``); the rest refuse.
        if verdict.action != "escalate":
            return self._refusal(verdict, sent)
        get_stream_writer()(AnswerDelta(text=f"\n\n{HOLD_MESSAGE}" if sent else HOLD_MESSAGE))
        return {
            "answer": sent,
            "refusal": None,
            "citations": [],
            "outcome": "escalated",
            "review": pending_payload(verdict, held),
        }

    def _refusal(self, verdict: Any, sent: str = "") -> dict[str, Any]:
        # The refusal follows whatever the user has already been sent of the answer.
        message = refusal_message(verdict, self._policy(verdict))
        rest = f"\n\n{message}" if sent else message
        return {"answer": sent + rest, "refusal": rest, "citations": [], "outcome": "refused"}


def _thread_id() -> str | None:
    try:
        config = get_config()
    except RuntimeError:  # a node called outside a graph run, as in a unit test
        return None
    return config.get("configurable", {}).get("thread_id")
