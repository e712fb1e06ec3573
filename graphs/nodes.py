"""The graph's nodes: thin functions that read the state, call the library, return an update."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ponder.agents.compose import compose
from ponder.agents.models.base import ChatModel
from ponder.agents.reasoning.engine import ReasoningConfig, reason, write_trace_jsonl
from ponder.agents.router import Router
from ponder.constitution import Checker, Policy, critique_for, redact, refusal_message
from ponder.graphs.state import RESET, TurnState

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
    store: Any | None
    """A knowledge store (``query``, ``count``), or ``None`` for no knowledge."""
    reasoning: ReasoningConfig
    top_k: int = 3
    min_score: float = 0.25
    max_revisions: int = 2
    trace_path: Path | None = None


class Nodes:
    """One method per graph node, over a set of :class:`Parts`."""

    def __init__(self, parts: Parts) -> None:
        self.parts = parts

    def input_check(self, state: TurnState) -> dict[str, Any]:
        """Start the turn: reset per-turn fields and check the user's message."""
        question = state["question"]
        verdict = self.parts.checker.check(question, "input")
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
            "citations": [],
            "verdicts": [RESET, verdict],
            "policy_version": self.parts.policy.version,
        }
        if not verdict.allowed:
            update.update(self._refusal(verdict))
        return update

    def route(self, state: TurnState) -> dict[str, Any]:
        """Decide which abilities the question needs."""
        has_knowledge = self.parts.store is not None and self.parts.store.count() > 0
        return {"route": self.parts.router.route(state["question"], has_knowledge=has_knowledge)}

    def retrieve(self, state: TurnState) -> dict[str, Any]:
        """Fetch evidence, then drop chunks that carry instructions or break rules."""
        assert self.parts.store is not None
        found = self.parts.store.query(state["question"], k=self.parts.top_k)
        relevant = [e for e in found if e.score >= self.parts.min_score]
        verdicts = self.parts.checker.check_many([e.text for e in relevant], "knowledge")
        kept = [e for e, v in zip(relevant, verdicts, strict=True) if v.allowed]
        fired = [v for v in verdicts if not v.allowed]
        if fired:
            logger.warning("dropped %d knowledge chunk(s) by rule", len(fired))
        return {"evidence": kept, "verdicts": fired}

    def reason(self, state: TurnState) -> dict[str, Any]:
        """Run the hidden search; only counts leave this node in public fields."""
        outcome = reason(state["question"], self.parts.reasoning_model, self.parts.reasoning)
        if self.parts.trace_path is not None:
            write_trace_jsonl(self.parts.trace_path, state["question"], outcome.result)
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
        )
        revisions = state.get("revisions", 0) + (1 if state.get("critique") else 0)
        return {"draft": draft, "revisions": revisions}

    def output_check(self, state: TurnState) -> dict[str, Any]:
        """Check the draft: allow it, ask for a rewrite, redact, or refuse."""
        draft = state["draft"]
        assert draft is not None
        verdict = self.parts.checker.check(draft.text, "output")
        if verdict.allowed:
            outcome = "revised" if state.get("revisions", 0) else "answered"
            return {"verdicts": [verdict], **self._answer(draft.text, draft, outcome)}
        if verdict.action == "revise":
            if state.get("revisions", 0) < self.parts.max_revisions:
                return {"verdicts": [verdict], "critique": critique_for(verdict, self.parts.policy)}
            return self._last_resort(draft, verdict)
        return {"verdicts": [verdict], **self._refusal(verdict)}

    def _last_resort(self, draft: Any, verdict: Any) -> dict[str, Any]:
        # Rewrites ran out: redact what the rules allow, and refuse if that is not enough.
        rules = [self.parts.policy.rule(hit.rule_id) for hit in verdict.hits]
        redacted = redact(draft.text, rules)
        recheck = self.parts.checker.check(redacted, "output")
        if recheck.allowed:
            return {"verdicts": [verdict, recheck], **self._answer(redacted, draft, "revised")}
        return {"verdicts": [verdict, recheck], **self._refusal(recheck)}

    def emit(self, state: TurnState) -> dict[str, Any]:
        """Record the answer in the thread's history."""
        return {"messages": [{"role": "assistant", "content": state.get("answer", "")}]}

    def _answer(self, text: str, draft: Any, outcome: str) -> dict[str, Any]:
        return {"answer": text, "citations": list(draft.citations), "outcome": outcome}

    def _refusal(self, verdict: Any) -> dict[str, Any]:
        outcome = "escalated" if verdict.action == "escalate" else "refused"
        return {
            "answer": refusal_message(verdict, self.parts.policy),
            "citations": [],
            "outcome": outcome,
        }
