"""What one answer is written from (:class:`AnswerRequest`), and what follows from it
before any draft is judged: the prompt's messages, the sources a claim may rest on, the
citations of a text, and whether the answer declines unwritten.

Kept apart from :mod:`ponder.agents.compose` (which drafts, judges and falls back) and
:mod:`ponder.agents.compose_stream` (which streams one draft), since both take the same
request and derive the same things from it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources

import jinja2

from ponder.agents.answer_types import AnswerPlan, Citation, EvidenceLike
from ponder.agents.claims import Source, TextEncoder
from ponder.agents.computation import ToolResult
from ponder.agents.extractive import about_the_question
from ponder.agents.models.base import Message

__all__ = ["AnswerRequest", "answer_sources", "cite", "declines_unwritten"]

_CITE = re.compile(r"\[(\d{1,2})\]")


def _environment() -> jinja2.Environment:
    loader = jinja2.FunctionLoader(
        lambda name: resources.files("ponder.agents").joinpath("prompts", name).read_text("utf-8")
    )
    return jinja2.Environment(loader=loader, undefined=jinja2.StrictUndefined, autoescape=False)


_ENV = _environment()


def cite(text: str, evidence: Sequence[EvidenceLike]) -> tuple[Citation, ...]:
    """The citations of ``text``: the evidence its ``[n]`` markers name, in order.

    Args:
        text: The answer as written.
        evidence: The chunks the answer was written from, numbered from 1 as shown.

    Returns:
        One citation per evidence chunk ``text`` cites, or per chunk when it cites none.
    """
    numbers = sorted({int(n) for n in _CITE.findall(text) if 1 <= int(n) <= len(evidence)})
    # A small model often drops the markers; the answer was still written from every
    # source it was shown, so those are the honest citations.
    numbers = numbers or list(range(1, len(evidence) + 1))
    return tuple(
        Citation(
            number=n,
            title=evidence[n - 1].title,
            source=evidence[n - 1].path,
            chunk_index=evidence[n - 1].chunk_index,
        )
        for n in numbers
    )


def answer_sources(
    evidence: Sequence[EvidenceLike],
    tool_results: Sequence[ToolResult],
    reasoning_answer: str | None,
) -> list[Source]:
    """What a claim of the answer may rest on: the evidence, numbered as shown to the
    model, the tool results, and the reasoning's answer when no tool computed one."""
    sources = [
        Source(number=n, title=e.title, text=e.text) for n, e in enumerate(evidence, start=1)
    ] + [Source(number=None, title="", text=t.text) for t in tool_results]
    if reasoning_answer and not tool_results:
        sources.append(Source(number=None, title="", text=f"The answer is {reasoning_answer}."))
    return sources


def declines_unwritten(
    question: str,
    plan: AnswerPlan,
    needs_evidence: bool,
    evidence: Sequence[EvidenceLike],
    tool_results: Sequence[ToolResult],
    reasoning_answer: str | None,
) -> bool:
    """Whether the answer declines before any draft is written: claim checking is on and
    a factual question has nothing to rest on, or only evidence about something else
    (another capital, not Peru's), which no draft could be supported by."""
    if not plan.claim_check or not needs_evidence or tool_results or reasoning_answer:
        return False
    sources = answer_sources(evidence, tool_results, reasoning_answer)
    return not evidence or not about_the_question(question, sources)


@dataclass(frozen=True, kw_only=True)
class AnswerRequest:
    """What one answer is written from: what :func:`~ponder.agents.compose.compose_request` and
    :func:`~ponder.agents.compose_stream.stream_draft` take, and what both derive from it
    (the messages, the citations, whether to decline unwritten)."""

    question: str
    """The user's message."""
    evidence: Sequence[EvidenceLike] = ()
    """Retrieved chunks, cited as ``[1]``, ``[2]``... in order."""
    reasoning_answer: str | None = None
    """The hidden search's final answer, if reasoning ran."""
    tool_results: Sequence[ToolResult] = ()
    """What tools computed for the question (the answer states them)."""
    critique: str | None = None
    """Guidance from the output check when a draft must be revised."""
    history: Sequence[Message] = ()
    """Earlier turns of the thread."""
    max_tokens: int = 160
    """Most tokens to generate per draft."""
    needs_evidence: bool = False
    """The question asks for facts (the router's ``factual``): without relevant evidence
    (and no tool result) the answer declines instead of guessing."""
    encoder: TextEncoder | None = None
    """Embeds claims and evidence for the support score (the knowledge store's
    embedder); ``None`` scores support by shared words alone."""
    plan: AnswerPlan = field(default_factory=AnswerPlan)
    """How to check the answer."""

    @property
    def grounded(self) -> bool:
        """Whether there is something to hold a draft to: evidence, a tool result or the
        reasoning's answer."""
        return bool(self.evidence or self.tool_results or self.reasoning_answer)

    def declines(self) -> bool:
        """Whether the answer declines before any draft is written (:func:`declines_unwritten`)."""
        return declines_unwritten(
            self.question,
            self.plan,
            self.needs_evidence,
            self.evidence,
            self.tool_results,
            self.reasoning_answer,
        )

    def cited(self, text: str) -> tuple[Citation, ...]:
        """The evidence ``text`` cites, or all of it when it cites none."""
        return cite(text, self.evidence)

    def messages(self, unsupported: Sequence[str] | None) -> list[Message]:
        """The messages of the question, with or without spans a rewrite must avoid."""
        system = _ENV.get_template("compose.j2").render(
            evidence=list(self.evidence),
            reasoning_answer=self.reasoning_answer,
            tool_results=[t.text for t in self.tool_results],
            critique=self.critique,
            unsupported=list(unsupported or []),
        )
        messages: list[Message] = [{"role": "system", "content": system.strip()}]
        messages += list(self.history)
        messages.append({"role": "user", "content": self.question})
        return messages
