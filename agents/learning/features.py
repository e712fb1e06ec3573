"""What a value model sees of a partial chain: the policy's hidden states and free scalars.

For the chain's last step, the policy reads the step after the prompt the search gave
it (:meth:`~ponder.agents.models.readout.ReadoutModel.read_step`): the hidden states
at the step's last token from a few layers, and each token's log-probability. Beside
them come scalars any search has for free (:data:`SCALARS`): how sure the policy was,
what the tools found (a calculation, a refuted one, a number from nowhere), the rule
scorer's value, depth, whether the chain finished, whether its answer was computed, and
how many of the step's siblings agree with it.

Siblings are the states scored together: a search scores one expansion's children in
one batch (:func:`~ponder.agents.reasoning.phases.evaluate`), and so does the
collection, so "agreement" means the same at training and at search time.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ponder.agents.models.readout import ReadoutModel
from ponder.agents.reasoning.answers import normalize_answer
from ponder.agents.reasoning.checks import answer_backed, unsupported_numbers, unused_numbers
from ponder.agents.reasoning.prompts import Example
from ponder.agents.reasoning.proposer import build_messages
from ponder.agents.reasoning.scorers import CalculationScorer
from ponder.agents.reasoning.types import SearchState

__all__ = ["SCALARS", "FeatureExtractor", "FeatureRows", "prompt_sha256"]

SCALARS: tuple[str, ...] = (
    "logprob_mean",
    "logprob_min",
    "log_tokens",
    "calc_present",
    "calc_error",
    "unsupported",
    "rule_value",
    "depth",
    "finished",
    "answer_backed",
    "unused",
    "sibling_agreement",
)
"""The free scalar features, in column order: mean and least token log-probability of
the step, log(1 + its tokens), whether it calculates, whether that failed or disagreed
with the text, whether it used a number from nowhere, the rule scorer's value of the
chain (:class:`~ponder.agents.reasoning.scorers.CalculationScorer`), its depth, whether
it answers, whether that answer is a computed value, how many question numbers a
finished chain left out, and the share of its siblings that reached the same answer
(finished) or the same result (unfinished)."""


def prompt_sha256(system_prompt: str, examples: Sequence[Example]) -> str:
    """SHA-256 naming a prompt: hidden states read after another prompt differ."""
    text = json.dumps([system_prompt, [list(example) for example in examples]])
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, eq=False)
class FeatureRows:
    """Features of several states, one row each."""

    hidden: np.ndarray
    """Hidden states of the requested layers, concatenated: ``(rows, layers * size)``."""
    scalars: np.ndarray
    """The :data:`SCALARS`: ``(rows, len(SCALARS))``, float32."""

    def __len__(self) -> int:
        return int(self.hidden.shape[0])

    @staticmethod
    def concat(parts: Sequence[FeatureRows]) -> FeatureRows:
        """The rows of several parts, in order.

        Parts without rows are left out: a tree whose every step was pruned unscored is
        stored with an empty part of width 0, which would not stack with the others.
        """
        kept = [part for part in parts if len(part)] or list(parts[:1])
        return FeatureRows(
            hidden=np.concatenate([part.hidden for part in kept]),
            scalars=np.concatenate([part.scalars for part in kept]),
        )

    def take(self, rows: np.ndarray | Sequence[int]) -> FeatureRows:
        """The chosen rows."""
        index = np.asarray(rows, dtype=np.int64)
        return FeatureRows(hidden=self.hidden[index], scalars=self.scalars[index])


class FeatureExtractor:
    """Reads states with the policy and computes their features.

    Args:
        model: The policy (it proposed the steps).
        system_prompt: The system prompt the steps were proposed under.
        examples: The worked examples shown before the question.
        layers: Which hidden states to read (see
            :data:`~ponder.agents.models.readout.DEFAULT_LAYERS`).
    """

    def __init__(
        self,
        model: ReadoutModel,
        *,
        system_prompt: str,
        examples: Sequence[Example],
        layers: Sequence[int],
    ) -> None:
        if not layers:
            raise ValueError("a FeatureExtractor reads at least one layer")
        self.model = model
        self.system_prompt = system_prompt
        self.examples = tuple(examples)
        self.layers = tuple(layers)
        self._rule = CalculationScorer()

    @property
    def prompt_sha256(self) -> str:
        """The digest of the prompt the states are read after."""
        return prompt_sha256(self.system_prompt, self.examples)

    def extract(self, states: Sequence[SearchState]) -> FeatureRows:
        """Features of ``states``, which are siblings (scored together).

        Args:
            states: States with at least one step each.

        Returns:
            One row per state, in order.

        Raises:
            ValueError: If a state has no steps.
        """
        if not states:
            return FeatureRows(
                hidden=np.zeros((0, 0), np.float32), scalars=np.zeros((0, len(SCALARS)))
            )
        agreement = _agreement(states)
        hidden, scalars = [], []
        for state, agree in zip(states, agreement, strict=True):
            if not state.steps:
                raise ValueError("features describe a chain's last step; this state has none")
            parent = SearchState(state.question, state.steps[:-1])
            messages = build_messages(parent, self.system_prompt, self.examples)
            reading = self.model.read_step(messages, state.steps[-1].text, self.layers)
            hidden.append(reading.hidden.reshape(-1))
            scalars.append(self._scalars(state, reading.logprobs, agree))
        return FeatureRows(
            hidden=np.stack(hidden).astype(np.float32),
            scalars=np.asarray(scalars, dtype=np.float32),
        )

    def _scalars(
        self, state: SearchState, logprobs: Sequence[float], agreement: float
    ) -> list[float]:
        step = state.steps[-1]
        finished = step.answer is not None
        backed = answer_backed(state.steps) if finished else None
        values = {
            "logprob_mean": float(np.mean(logprobs)) if logprobs else 0.0,
            "logprob_min": float(min(logprobs)) if logprobs else 0.0,
            "log_tokens": math.log1p(len(logprobs)),
            "calc_present": float(step.calculation is not None),
            "calc_error": float(step.calc_error is not None),
            "unsupported": float(bool(unsupported_numbers(state.question, state.steps[:-1], step))),
            "rule_value": self._rule.score(state),
            "depth": float(len(state.steps)),
            "finished": float(finished),
            "answer_backed": float(backed is True),
            "unused": float(len(unused_numbers(state.question, state.steps))) if finished else 0.0,
            "sibling_agreement": agreement,
        }
        return [values[name] for name in SCALARS]


def _key(state: SearchState) -> str | None:
    """What siblings agree on: the answer of a finished step, else its result."""
    step = state.steps[-1] if state.steps else None
    if step is None:
        return None
    if step.answer is not None:
        return "answer:" + normalize_answer(step.answer)
    return None if step.calc_result is None else "result:" + step.calc_result


def _agreement(states: Sequence[SearchState]) -> list[float]:
    """For each state, the share of the other states with the same key (0 alone)."""
    keys = [_key(state) for state in states]
    counts = Counter(key for key in keys if key is not None)
    others = len(states) - 1
    if others == 0:
        return [0.0] * len(states)
    return [0.0 if key is None else (counts[key] - 1) / others for key in keys]
