"""The router: decides per request which abilities a question needs, and says why."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from ponder.agents.computation import only_computation

__all__ = ["KeywordRouter", "Route", "Router", "retrieval_query"]


@dataclass(frozen=True, kw_only=True)
class Route:
    """Which abilities a request uses."""

    knowledge: bool
    """Retrieve evidence from the knowledge store."""
    reasoning: bool
    """Run the hidden reasoning search."""
    reason: str
    """Why, in one sentence, for logs, traces and the CLI."""
    factual: bool = False
    """The question asks for facts (who, what, when...): without relevant evidence the
    language node declines instead of letting the model guess."""
    expression: str | None = None
    """The arithmetic expression the question asks to evaluate, if any: the reasoning
    node runs it as a program step instead of searching."""

    @property
    def abilities(self) -> list[str]:
        """The abilities used, by name."""
        flags = (("knowledge", self.knowledge), ("reasoning", self.reasoning))
        return [name for name, on in flags if on]


class Router(Protocol):
    """Decides the abilities one question needs."""

    def route(self, question: str, *, has_knowledge: bool) -> Route:
        """Route ``question``; ``has_knowledge`` says whether the store holds anything."""
        ...


_ARITHMETIC = re.compile(r"\d[\d.,]*\s*[-+*/×÷^%]\s*\(?\s*\d[\d.,]*|\d+\s*%|\bsqrt\b")
_REASONING_WORDS = re.compile(
    r"\b(calculate|compute|solve|how many|how much|what is the (sum|product|difference)|"
    r"step by step|prove|puzzle|percent(age)?|average|total|twice|half of|times|"
    r"divided|multiplied|equation|if .+ then)\b",
    re.IGNORECASE,
)
_NUMBER = re.compile(
    r"\d|\b(two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|hundred|"
    r"thousand|dozen|half|twice|double|triple)\b",
    re.IGNORECASE,
)
_KNOWLEDGE_WORDS = re.compile(
    r"\b(who|what|when|where|which|why|"
    r"how (tall|old|long|far|big|deep|high|large|many|much|does|did|do|is|are|was|were)|"
    r"tell me about|explain|describe|history of|facts? about|define|definition)\b",
    re.IGNORECASE,
)
_SMALL_TALK = re.compile(
    r"^\s*(hi|hello|hey|thanks|thank you|good (morning|evening|night)|bye|goodbye)\b[\s!.?]*$",
    re.IGNORECASE,
)


class KeywordRouter:
    """A fast, transparent router from surface cues.

    Arithmetic and multi-step cues turn reasoning on; a question that states its
    arithmetic (``17 * 23``, ``15% of 80``) carries the expression, so the reasoning node
    computes it with a tool instead of searching. Informational questions turn knowledge
    on when the store holds anything; small talk needs neither. A model-based router can
    replace it through the :class:`Router` protocol.
    """

    def route(self, question: str, *, has_knowledge: bool) -> Route:
        if _SMALL_TALK.match(question):
            return Route(knowledge=False, reasoning=False, reason="small talk: no ability needed")
        reasons: list[str] = []
        expression = only_computation(question)
        arithmetic = _ARITHMETIC.search(question)
        # A word problem carries its numbers; "how many chambers does the heart have?"
        # asks for a fact, which the knowledge node finds and the search cannot.
        reasoning_cue = _REASONING_WORDS.search(question) if _NUMBER.search(question) else None
        reasoning = bool(expression or arithmetic or reasoning_cue)
        if expression:
            reasons.append(f"reasoning: computes {expression!r} with a tool")
        elif arithmetic:
            reasons.append(f"reasoning: arithmetic {arithmetic.group(0)!r}")
        elif reasoning_cue:
            reasons.append(f"reasoning: multi-step cue {reasoning_cue.group(0)!r}")
        knowledge_cue = _KNOWLEDGE_WORDS.search(question)
        # A pure calculation needs no evidence even when phrased "what is 17 * 23"; any
        # other question looks things up (cheap, and weak matches are filtered later),
        # which also covers languages the cue words do not.
        knowledge = has_knowledge and not (arithmetic or expression)
        if not has_knowledge:
            reasons.append("knowledge skipped: the store is empty")
        elif knowledge and knowledge_cue:
            reasons.append(f"knowledge: factual cue {knowledge_cue.group(0)!r}")
        elif knowledge:
            reasons.append("knowledge: an open question may have evidence")
        return Route(
            knowledge=knowledge,
            reasoning=reasoning,
            reason="; ".join(reasons),
            factual=knowledge and bool(knowledge_cue),
            expression=expression,
        )


_FOLLOW_UP = re.compile(
    r"\b(it|its|it's|he|she|they|them|his|her|their|this|that|these|those)\b", re.I
)


def retrieval_query(question: str, earlier_questions: list[str]) -> str:
    """What to search the knowledge store for: the question, and for a follow-up that
    points back with a pronoun ("How tall is it?") the user's previous question too, so
    that retrieval finds the article the conversation is about.

    Args:
        question: The user's message.
        earlier_questions: The user's earlier messages in the thread, oldest first.

    Returns:
        The search text.
    """
    if not earlier_questions or not _FOLLOW_UP.search(question):
        return question
    return f"{earlier_questions[-1]} {question}"
