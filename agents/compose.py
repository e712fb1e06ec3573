"""The language node: writes the user-facing answer from the reasoning result and the evidence."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Protocol

import jinja2

from ponder.agents.grounding import most_grounded
from ponder.agents.models.base import ChatModel, GenerationSettings, Message

__all__ = ["Citation", "Draft", "EvidenceLike", "compose", "format_sources"]


class EvidenceLike(Protocol):
    """What the language node reads of a retrieved chunk."""

    @property
    def text(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def chunk_index(self) -> int: ...


@dataclass(frozen=True, kw_only=True)
class Citation:
    """A source the answer rests on."""

    number: int
    """The ``[n]`` marker used in the answer."""
    title: str
    """The source's title."""
    source: str
    """The source's display path (relative to the folder it was ingested from)."""
    chunk_index: int
    """Which chunk of the source."""


@dataclass(frozen=True, kw_only=True)
class Draft:
    """An answer before the output check."""

    text: str
    """The answer text, without the sources list."""
    citations: tuple[Citation, ...]
    """Sources cited in the text, or all evidence shown to the model if it cited none."""
    tokens: int
    """Tokens generated."""


_CITE = re.compile(r"\[(\d{1,2})\]")


def _environment() -> jinja2.Environment:
    loader = jinja2.FunctionLoader(
        lambda name: resources.files("ponder.agents").joinpath("prompts", name).read_text("utf-8")
    )
    return jinja2.Environment(loader=loader, undefined=jinja2.StrictUndefined, autoescape=False)


_ENV = _environment()


def _cited(text: str, evidence: Sequence[EvidenceLike]) -> tuple[Citation, ...]:
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


def compose(
    question: str,
    model: ChatModel,
    *,
    evidence: Sequence[EvidenceLike] = (),
    reasoning_answer: str | None = None,
    critique: str | None = None,
    history: Sequence[Message] = (),
    max_tokens: int = 160,
    candidates: int = 4,
) -> Draft:
    """Write the answer to ``question``.

    Args:
        question: The user's message.
        model: The language model (may differ from the reasoning model).
        evidence: Retrieved chunks, cited as ``[1]``, ``[2]``... in order.
        reasoning_answer: The hidden search's final answer, if reasoning ran.
        critique: Guidance from the output check when a draft must be revised.
        history: Earlier turns of the thread.
        max_tokens: Most tokens to generate per draft.
        candidates: With evidence, draft this many answers (the greedy one and
            samples, in two batched calls) and keep the best grounded in the evidence.

    Returns:
        The draft with its citations and token count.
    """
    system = _ENV.get_template("compose.j2").render(
        evidence=list(evidence), reasoning_answer=reasoning_answer, critique=critique
    )
    messages: list[Message] = [{"role": "system", "content": system.strip()}]
    messages += list(history)
    messages.append({"role": "user", "content": question})
    completions = model.generate(messages, n=1, settings=GenerationSettings(max_tokens=max_tokens))
    if evidence and candidates > 1:
        sampled = GenerationSettings(max_tokens=max_tokens, temperature=0.7, seed=0)
        completions += model.generate(messages, n=candidates - 1, settings=sampled)
    best = most_grounded([c.text for c in completions], [e.text for e in evidence])
    text = completions[best].text.strip()
    tokens = sum(c.completion_tokens for c in completions)
    if reasoning_answer and reasoning_answer.strip().lower() not in text.lower():
        # Small language models sometimes drop the result they were handed; the answer
        # must carry it, so state it first.
        text = f"The answer is {reasoning_answer.strip()}. {text}".strip()
    return Draft(text=text, citations=_cited(text, evidence), tokens=tokens)


def format_sources(citations: Sequence[Citation]) -> str:
    """The ``Sources:`` block shown under an answer."""
    lines = [f"[{c.number}] {c.title} ({c.source}, part {c.chunk_index + 1})" for c in citations]
    return "Sources:\n" + "\n".join(lines) if lines else ""
