"""Fakes for the search tests: toy problems as proposers, value tables as scorers.

No model anywhere: a proposer is a lookup in a planted tree, a scorer a lookup in a
value table, so every search outcome can be worked out by hand.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from ponder.agents.reasoning import SearchState, Step, parse_step

# A toy problem with a known optimum. The first candidate at the root ("Try adding")
# is what a proposer samples first and what the scorer likes best, but it leads to the
# wrong answer; the planted correct path starts at the second, lower-valued candidate.
QUESTION = "What is 6 times 7?"
ADD, MULTIPLY, UNSURE = "Try adding: 6 + 7", "Multiply: 6 times 7", "Hmm, unsure"
SUM_13, SUM_14 = "Sum: <calc>6+7</calc> = 13", "Adding gives 14"
PRODUCT_42, PRODUCT_48 = "Product: <calc>6*7</calc> = 42", "Product is 48"

TOY_TREE: dict[tuple[str, ...], list[str]] = {
    (): [ADD, MULTIPLY, UNSURE],
    (ADD,): [SUM_13, SUM_14],
    (ADD, SUM_13): ["Answer: 13"],
    (ADD, SUM_14): ["Answer: 14"],
    (MULTIPLY,): [PRODUCT_42, PRODUCT_48],
    (MULTIPLY, PRODUCT_42): ["Answer: 42"],
    (MULTIPLY, PRODUCT_48): ["Answer: 48"],
    (UNSURE,): ["Still unsure"],
    (UNSURE, "Still unsure"): ["Answer: 1"],
}

TOY_VALUES: dict[str, float] = {
    ADD: 0.9,  # locally attractive, globally wrong
    MULTIPLY: 0.6,
    UNSURE: 0.2,
    SUM_13: 0.3,
    SUM_14: 0.2,
    PRODUCT_42: 0.9,
    PRODUCT_48: 0.3,
    "Still unsure": 0.1,
    "Answer: 13": 0.1,
    "Answer: 14": 0.05,
    "Answer: 42": 0.95,
    "Answer: 48": 0.1,
    "Answer: 1": 0.05,
}


def step(text: str, tokens: int = 3) -> Step:
    """A parsed step, as a model-backed proposer would return it."""
    return parse_step(text, tokens=tokens)


@dataclass
class TreeProposer:
    """Proposes the children planted in ``tree`` for the current path, first ones first."""

    tree: dict[tuple[str, ...], list[str]]
    max_step_tokens: int = 5
    step_tokens: int = 3
    calls: list[tuple[tuple[str, ...], int]] = field(default_factory=list)

    def propose(self, state: SearchState, k: int, max_tokens: int | None = None) -> list[Step]:
        path = tuple(s.text for s in state.steps)
        if path not in self.tree:
            raise AssertionError(f"the toy tree has no children for {path}")
        self.calls.append((path, k))
        return [step(text, self.step_tokens) for text in self.tree[path][:k]]


@dataclass
class FakeSiblingSampler(TreeProposer):
    """A planted tree whose ``propose`` puts the greedy (first) child first and whose
    ``sample`` gives the other children only, recording which was asked."""

    asked: list[tuple[str, tuple[str, ...], int]] = field(default_factory=list)

    def propose(self, state: SearchState, k: int, max_tokens: int | None = None) -> list[Step]:
        self.asked.append(("propose", tuple(s.text for s in state.steps), k))
        return super().propose(state, k, max_tokens)

    def sample(self, state: SearchState, k: int, max_tokens: int | None = None) -> list[Step]:
        """The children after the first (the greedy one), as many as are planted."""
        path = tuple(s.text for s in state.steps)
        self.asked.append(("sample", path, k))
        return super().propose(state, k + 1, max_tokens)[1:]


@dataclass
class TableScorer:
    """Values a state by its last step's text; an unknown step is a test bug."""

    values: dict[str, float]
    scored: list[str] = field(default_factory=list)

    def score(self, state: SearchState) -> float:
        last = state.steps[-1].text
        self.scored.append(last)
        return self.values[last]


@dataclass
class CountingProposer:
    """An endless random problem that counts what it spends.

    Every call returns ``k`` steps costing 1..max_tokens tokens; a step answers
    with probability ``answer_rate`` and is invalid with probability ``invalid_rate``.
    """

    rng: random.Random
    max_step_tokens: int = 20
    answer_rate: float = 0.2
    invalid_rate: float = 0.1
    calls: int = 0
    tokens: int = 0
    on_call: Callable[[], None] | None = None

    def propose(self, state: SearchState, k: int, max_tokens: int | None = None) -> list[Step]:
        if self.on_call is not None:
            self.on_call()
        self.calls += 1
        limit = self.max_step_tokens if max_tokens is None else max_tokens
        steps: list[Step] = []
        for index in range(k):
            cost = self.rng.randint(1, limit)
            roll = self.rng.random()
            if roll < self.invalid_rate:
                steps.append(Step(text="", valid=False, tokens=cost, note="empty step"))
            elif roll < self.invalid_rate + self.answer_rate:
                answer = self.rng.choice(["1", "2", "3"])
                steps.append(Step(text=f"Answer: {answer}", answer=answer, tokens=cost))
            else:
                steps.append(Step(text=f"step {len(state.steps)}.{index}", tokens=cost))
        self.tokens += sum(s.tokens for s in steps)
        return steps


@dataclass
class HashScorer:
    """A deterministic value per chain, so random trees have stable scores."""

    def score(self, state: SearchState) -> float:
        return random.Random(state.chain_text).random()


@dataclass
class ChainListProposer:
    """Returns whole chains (each a finished step) from a fixed list, in order."""

    chains: list[str]
    max_step_tokens: int = 50
    calls: list[int] = field(default_factory=list)

    def propose(self, state: SearchState, k: int, max_tokens: int | None = None) -> list[Step]:
        self.calls.append(k)
        taken, self.chains = self.chains[:k], self.chains[k:]
        return [step(text, tokens=len(text.split())) for text in taken]
