"""Per-request thinking: OpenAI's ``reasoning_effort`` mapped to the hidden search's settings.

A call may ask for ``none`` (no hidden reasoning: the reasoning node is skipped), ``low``,
``medium`` or ``high``. Each level other than ``none`` is a few search options set over
the ``reasoning`` settings, declared in ``reasoning_effort`` so that an operator can
retune them (``reasoning_effort.high.samples: 16``). A call that asks for nothing gets
the ``reasoning`` settings as they are.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Literal, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, Field

from ponder.agents.reasoning.engine import Algorithm, ReasoningConfig
from ponder.agents.router import Route, Router

if TYPE_CHECKING:
    from ponder.graphs.nodes import Parts

__all__ = [
    "EFFORTS",
    "Effort",
    "EffortSettings",
    "NoReasoningRouter",
    "ReasoningEffortSettings",
    "check_effort",
    "with_effort",
]

Effort = Literal["none", "low", "medium", "high"]
"""How hard a call asks the assistant to think."""
EFFORTS: tuple[Effort, ...] = get_args(Effort)

_C = TypeVar("_C", bound=ReasoningConfig)


class EffortSettings(BaseModel):
    """The search options one effort level sets; an unset one keeps ``reasoning``'s."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    algorithm: Algorithm | None = None
    """The search algorithm."""
    samples: int | None = Field(default=None, ge=1, le=64)
    """Chains sampled by self-consistency."""
    beam_width: int | None = Field(default=None, ge=1, le=16)
    """Beams kept by beam search."""
    max_expansions: int | None = Field(default=None, ge=1)
    """Most proposer calls."""
    max_tokens: int | None = Field(default=None, ge=1)
    """Most reasoning tokens."""
    max_seconds: float | None = Field(default=None, gt=0)
    """Most seconds of search."""

    def apply(self, reasoning: _C) -> _C:
        """``reasoning`` with this level's options set (validated as ``reasoning`` is)."""
        return dataclasses.replace(reasoning, **self.model_dump(exclude_none=True))


class ReasoningEffortSettings(BaseModel):
    """What ``low``, ``medium`` and ``high`` set; ``none`` skips the reasoning node."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    low: EffortSettings = EffortSettings(algorithm="greedy", max_expansions=4, max_tokens=256)
    """One greedy chain, short."""
    medium: EffortSettings = EffortSettings()
    """The ``reasoning`` settings as they are."""
    high: EffortSettings = EffortSettings(samples=8, beam_width=4, max_expansions=32)
    """Twice the chains and beams of the defaults, and more expansions."""

    def apply(self, effort: Effort, reasoning: _C) -> _C:
        """The search settings for ``effort`` (not ``none``, which runs no search)."""
        if effort == "none":
            raise ValueError("reasoning_effort 'none' runs no search")
        level: EffortSettings = getattr(self, effort)
        return level.apply(reasoning)


def check_effort(effort: str | None) -> Effort | None:
    """``effort`` as an :data:`Effort`.

    Raises:
        ValueError: It is not one of ``none``, ``low``, ``medium``, ``high``.
    """
    if effort is None:
        return None
    for known in EFFORTS:
        if effort == known:
            return known
    raise ValueError(f"reasoning_effort must be one of {', '.join(EFFORTS)}; got {effort!r}")


class NoReasoningRouter:
    """Routes as ``inner`` does, without the reasoning node (``reasoning_effort: none``).

    Args:
        inner: The assistant's router.
    """

    def __init__(self, inner: Router) -> None:
        self.inner = inner

    def route(self, question: str, *, has_knowledge: bool) -> Route:
        """The inner route, with reasoning (and its program step) off."""
        route = self.inner.route(question, has_knowledge=has_knowledge)
        if not route.reasoning and route.expression is None:
            return route
        return dataclasses.replace(
            route,
            reasoning=False,
            expression=None,
            reason=f"{route.reason}; no reasoning (reasoning_effort none)",
        )


def with_effort(parts: Parts, effort: Effort | None) -> Parts:
    """``parts`` for a call's effort: ``none`` skips the reasoning node (by its router),
    a level sets its search options over the ``reasoning`` settings, ``None`` keeps them.

    Args:
        parts: The assistant's (or a tenant's) parts.
        effort: The call's ``reasoning_effort``, already checked.

    Returns:
        The parts to build the call's graph on.
    """
    if effort == "none":
        return dataclasses.replace(parts, router=NoReasoningRouter(parts.router))
    if effort is None:
        return parts
    settings = parts.settings
    search = settings.reasoning_effort.apply(effort, settings.reasoning)
    return dataclasses.replace(parts, settings=settings.model_copy(update={"reasoning": search}))
