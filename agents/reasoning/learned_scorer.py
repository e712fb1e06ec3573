"""The learned scorer: a value head trained on the policy's own verified search trees.

``scorer: learned`` in the ``reasoning`` settings (or ``--scorer learned`` in the
benchmarks) values each partial chain with a
:class:`~ponder.agents.learning.head.ValueHead`: the policy reads the chain's last step
(hidden states at its last token, token log-probabilities), free scalars are added
(the tool checks, depth, agreement among the siblings scored in the same batch), and
the head gives the calibrated probability that the chain ends right, blended with the
rule scorer's value by the head's ``rule_weight``. Training: ``ponder
learn collect`` then ``ponder learn train-head`` (see :mod:`ponder.agents.learning`).

The head refuses a policy other than the one it was trained on (its SHA-256, base
weights and adapter) and a prompt or step format other than its own: the hidden states
it learned from would not be the ones it is shown.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field

from ponder.agents.core.errors import ConfigError
from ponder.agents.learning.features import FeatureExtractor, prompt_sha256
from ponder.agents.learning.head import ValueHead, find_head
from ponder.agents.models.base import ChatModel
from ponder.agents.models.readout import ReadoutModel
from ponder.agents.reasoning.prompts import Example
from ponder.agents.reasoning.proposer import StepFormat, default_prompts
from ponder.agents.reasoning.types import SearchState

__all__ = ["LearnedScorer", "learned_scorer_for"]


@dataclass(eq=False)
class LearnedScorer:
    """Values chains with a learned head on the policy's own readings.

    Implements :class:`~ponder.agents.reasoning.protocols.BatchScorer`: a search's
    expansion is scored in one call, so the siblings' agreement is a feature.

    Args:
        model: The policy that proposes the steps.
        head: A head trained on that policy.
        system_prompt: The proposer's system prompt.
        examples: The proposer's worked examples.
        step_format: The proposer's step format.

    Raises:
        HeadError: If the head was trained on another policy, prompt or step format.
    """

    model: ReadoutModel
    head: ValueHead
    system_prompt: str
    examples: Sequence[Example]
    step_format: str
    _extractor: FeatureExtractor = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.head.check_policy(self.model.policy_sha256, self.model.name)
        self.head.check_prompt(prompt_sha256(self.system_prompt, self.examples), self.step_format)
        self._extractor = FeatureExtractor(
            self.model,
            system_prompt=self.system_prompt,
            examples=self.examples,
            layers=self.head.meta.layers,
        )

    def score(self, state: SearchState) -> float:
        """The head's value of one chain (scored without siblings)."""
        return self.score_many([state])[0]

    def score_many(self, states: Sequence[SearchState]) -> list[float]:
        """The head's values of sibling chains, in order, each in [0, 1]."""
        if not states:
            return []
        values = self.head.values(self._extractor.extract(states))
        return [float(value) for value in values]


def learned_scorer_for(
    model: ChatModel,
    head_path: str | os.PathLike[str] | None,
    step_format: StepFormat,
    *,
    system_prompt: str | None = None,
    examples: Sequence[Example] | None = None,
) -> LearnedScorer:
    """The learned scorer for ``model``, from a head file or the one shipped for it.

    Args:
        model: The policy; it must read steps back (a local model).
        head_path: A head file; None for the shipped head trained on this policy.
        step_format: The search's step format.
        system_prompt: The proposer's system prompt; None for the step format's default.
        examples: The proposer's worked examples; None for the step format's default.

    Returns:
        The scorer.

    Raises:
        ConfigError: If the model cannot read steps back, or no head is given and none
            ships for this policy.
        HeadError: If the head belongs to another policy or prompt.
    """
    if not isinstance(model, ReadoutModel):
        raise ConfigError(
            f"scorer: learned reads the policy's hidden states, which {model.name} "
            "(not a local model) does not show; use scorer: calculation"
        )
    path = head_path if head_path is not None else find_head(model.policy_sha256)
    if path is None:
        raise ConfigError(
            f"no value head ships for {model.name} (policy SHA-256 "
            f"{model.policy_sha256[:16]}...); train one (ponder learn collect, then "
            "ponder learn train-head) and set reasoning.value_head to its file"
        )
    default_prompt, default_examples = default_prompts(step_format)
    return LearnedScorer(
        model=model,
        head=ValueHead.load(path),
        system_prompt=default_prompt if system_prompt is None else system_prompt,
        examples=default_examples if examples is None else examples,
        step_format=step_format,
    )
