"""Fakes for the learning tests: a planted-tree policy that reads steps back, toy items.

No model anywhere. :class:`FakePolicy` proposes the children planted for the chain so
far (the first is its greedy step) and "reads" a step as a hidden vector derived from
the step's text: a direction that says whether the step is on the right path plus
noise, so a head can learn it and the tests can tell when it did.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ponder.agents.models.base import Completion, GenerationSettings, Message
from ponder.agents.models.readout import StepReading
from ponder.agents.reasoning.answers import normalize_answer

QUESTION = "What is 6 times 7?"
RIGHT, WRONG, ODD = "Multiply: <calc>6*7</calc> = 42", "Add: <calc>6+7</calc> = 13", "Guess 40"

# Each chain so far (step texts) -> the continuations, greedy first.
TREE: dict[tuple[str, ...], list[str]] = {
    (): [WRONG, RIGHT, ODD, RIGHT + " again"],
    (WRONG,): ["Answer: 13", "So the answer is 13"],
    (WRONG, "So the answer is 13"): ["Answer: 13"],
    (RIGHT,): ["Answer: 42", "Answer: 24"],
    (ODD,): ["Answer: 40", "Answer: 42"],
    (RIGHT + " again",): ["Answer: 42", "Answer: 42 indeed"],
}

HIDDEN = 16
"""Width of a fake hidden state (per layer)."""


def _chain(messages: Sequence[Message]) -> tuple[str, ...]:
    last = messages[-1]
    if last["role"] != "assistant" or not last["content"]:
        return ()
    return tuple(line for line in last["content"].split("\n") if line)


def _noise(text: str, size: int) -> np.ndarray:
    seed = int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)
    return np.random.default_rng(seed).normal(0.0, 1.0, size).astype(np.float32)


@dataclass
class FakePolicy:
    """A policy fake: planted steps to propose, text-derived hidden states to read.

    Args:
        tree: Chain so far -> continuations, greedy first.
        fail_on: A question whose first call raises (a crash in the middle of a run).
    """

    tree: dict[tuple[str, ...], list[str]] = field(default_factory=lambda: dict(TREE))
    name: str = "fake-policy"
    policy_sha256: str = "f" * 64
    fail_on: str | None = None
    generated: int = 0
    read: int = 0

    def load(self) -> None:
        """Nothing to load."""

    def generate(
        self, messages: Sequence[Message], n: int = 1, settings: GenerationSettings | None = None
    ) -> list[Completion]:
        settings = settings or GenerationSettings()
        question = next(m["content"] for m in reversed(messages) if m["role"] == "user")
        if self.fail_on is not None and question == self.fail_on:
            raise RuntimeError(f"planted crash on {question!r}")
        options = self.tree.get(_chain(messages), ["Answer: 0"])
        if settings.temperature == 0:
            texts = [options[0]] * n
        else:
            rest = options[1:] or options
            texts = [rest[i % len(rest)] for i in range(n)]
        self.generated += n
        return [
            Completion(text=t, prompt_tokens=10, completion_tokens=len(t.split())) for t in texts
        ]

    def score(self, messages: Sequence[Message], continuation: str) -> float:
        raise AssertionError("FakePolicy has no score()")

    def read_step(
        self, messages: Sequence[Message], continuation: str, layers: Sequence[int]
    ) -> StepReading:
        self.read += 1
        chain = (*_chain(messages), continuation)
        signal = 1.0 if any("42" in step for step in chain) else -1.0
        rows = []
        for layer in layers:
            row = _noise(f"{layer}:{'|'.join(chain)}", HIDDEN)
            row[0] += 3.0 * signal
            rows.append(row)
        tokens = max(1, len(continuation.split()))
        return StepReading(hidden=np.stack(rows), logprobs=tuple([-0.5 * signal - 1.0] * tokens))


@dataclass(frozen=True)
class ToyItem:
    """A training item whose right answer is ``gold``."""

    id: str
    question: str = QUESTION
    gold: str = "42"
    family: str = "toy"

    def reward(self, answer: str | None) -> float:
        return 1.0 if answer is not None and normalize_answer(answer) == self.gold else 0.0
