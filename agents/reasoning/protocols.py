"""What a search is made of: a :class:`Proposer` of next steps and a :class:`Scorer` of chains.

An algorithm is a pure function of these parts (see :data:`SearchAlgorithm`); it holds
no model and draws no random numbers: sampling randomness is the proposer's (seeded).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from ponder.agents.reasoning.types import Budget, Clock, SearchResult, SearchState, Step

__all__ = [
    "BatchScorer",
    "Proposer",
    "Scorer",
    "SearchAlgorithm",
    "SiblingSampler",
    "score_many",
]


@runtime_checkable
class Proposer(Protocol):
    """Proposes candidate next steps for a search state."""

    @property
    def max_step_tokens(self) -> int:
        """The most tokens one proposed step can cost."""
        ...

    def propose(self, state: SearchState, k: int, max_tokens: int | None = None) -> list[Step]:
        """Propose up to ``k`` candidate next steps, in one batched call.

        Args:
            state: The question and the steps so far; never terminal.
            k: How many candidates to sample (>= 1).
            max_tokens: The most tokens each step of this call may cost (at most
                ``max_step_tokens``; the search lowers it near the end of its budget);
                None for ``max_step_tokens``.

        Returns:
            At most ``k`` steps. Unusable samples come back as steps with
            ``valid=False``, not as exceptions.
        """
        ...


@runtime_checkable
class SiblingSampler(Proposer, Protocol):
    """A proposer that can sample siblings without proposing the greedy step again.

    A search that starts from the greedy chain (``greedy_first``) later widens nodes
    whose greedy child is already in the tree. :meth:`Proposer.propose` would put the
    greedy step first again, a duplicate whose tokens are paid for and thrown away; a
    proposer without this method still works, at that cost.
    """

    def sample(self, state: SearchState, k: int, max_tokens: int | None = None) -> list[Step]:
        """Sample ``k`` candidate next steps at the proposer's temperature, in one call,
        with no greedy sibling among them (arguments as :meth:`Proposer.propose`)."""
        ...


@runtime_checkable
class Scorer(Protocol):
    """Values a chain of steps: how likely it leads to a correct answer."""

    def score(self, state: SearchState) -> float:
        """Value of the chain in ``state`` (judged mostly by its last step).

        Args:
            state: A state with at least one valid step.

        Returns:
            A value in [0, 1]; higher is better.
        """
        ...


@runtime_checkable
class BatchScorer(Scorer, Protocol):
    """A scorer that values several states faster together than one by one."""

    def score_many(self, states: Sequence[SearchState]) -> list[float]:
        """Values of ``states``, in order; each as :meth:`Scorer.score` would give it."""
        ...


def score_many(scorer: Scorer, states: Sequence[SearchState]) -> list[float]:
    """Score several states, in one batch where the scorer supports it.

    Args:
        scorer: Any scorer; a :class:`BatchScorer` gets one call.
        states: The states to score.

    Returns:
        One value per state, in order.

    Raises:
        ValueError: If the scorer returns the wrong number of values, or a value outside
            [0, 1] (a bug in the scorer).
    """
    if not states:
        return []
    if isinstance(scorer, BatchScorer):
        values = scorer.score_many(states)
    else:
        values = [scorer.score(state) for state in states]
    if len(values) != len(states):
        raise ValueError(f"{type(scorer).__name__} gave {len(values)} values for {len(states)}")
    for value in values:
        if not 0.0 <= value <= 1.0:  # also rejects NaN
            raise ValueError(f"{type(scorer).__name__} returned {value!r}, outside [0, 1]")
    return list(values)


class SearchAlgorithm(Protocol):
    """The shape every search algorithm shares (options such as widths are keywords).

    No algorithm draws random numbers (ties go to the earlier node, which is the greedy
    sibling where there is one), so none takes a random generator; sampling randomness
    lives in the proposer's seed. ``clock`` is where the time limit is read.
    """

    def __call__(
        self,
        question: str,
        proposer: Proposer,
        scorer: Scorer,
        budget: Budget,
        /,
        *,
        clock: Clock | None = None,
    ) -> SearchResult:
        """Search for an answer to ``question`` within ``budget``."""
        ...
