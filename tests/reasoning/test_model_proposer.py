"""Model-backed proposers: one batched call continuing the assistant's steps so far.

The Proposer contract they share with every proposer is in tests/contracts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pytest

from ponder.agents.core.errors import ModelOutputError
from ponder.agents.models.base import GenerationSettings, Message
from ponder.agents.models.testing import FunctionChatModel, ScriptedChatModel
from ponder.agents.reasoning import (
    ChainProposer,
    ModelProposer,
    SearchState,
    parse_step,
)
from ponder.agents.reasoning.proposer import TOKEN_LOGPROBS
from ponder.agents.reasoning.types import LogprobSummary

STATE = SearchState(
    "How many eggs are in 7 boxes of 12?",
    (parse_step("There are 7 boxes.", tokens=4), parse_step("Each holds 12.", tokens=3)),
)


class Recorder:
    """A model function that records its calls and replies with ``replies``."""

    def __init__(self, replies: list[str]) -> None:
        self.replies = replies
        self.calls: list[tuple[list[Message], int, GenerationSettings]] = []

    def __call__(
        self, messages: Sequence[Message], n: int, settings: GenerationSettings
    ) -> list[str]:
        self.calls.append((list(messages), n, settings))
        return self.replies[:n]


def test_k_candidates_come_from_one_call_continuing_the_assistant_prefix() -> None:
    fn = Recorder(["Total: <calc>7*12</calc> = 84", "Answer: 84", "Total: <calc>7*12</calc> = 74"])
    model = FunctionChatModel(fn)
    proposer = ModelProposer(model, max_step_tokens=40, seed=3, greedy_sibling=False)

    steps = proposer.propose(STATE, 3)

    assert len(fn.calls) == 1
    messages, n, settings = fn.calls[0]
    assert n == 3
    assert [m["role"] for m in messages] == ["system", "user", "assistant"]
    assert messages[1]["content"] == STATE.question
    assert messages[-1]["content"] == "There are 7 boxes.\nEach holds 12.\n"
    assert settings.stop == ("\n",)
    assert (settings.max_tokens, settings.temperature, settings.seed) == (40, 0.8, 3)
    assert [s.calc_result for s in steps] == ["84", None, "84"]
    assert steps[1].answer == "84"
    assert steps[2].calc_error == "7*12 is 84, but the step says 74"
    assert [s.tokens for s in steps] == [4, 2, 4]  # from Completion.completion_tokens


def test_with_a_greedy_sibling_the_samples_share_one_call_after_the_greedy_step() -> None:
    fn = Recorder(["Total: <calc>7*12</calc> = 84", "Answer: 84", "x"])
    proposer = ModelProposer(FunctionChatModel(fn), max_step_tokens=40, seed=3)

    proposer.propose(STATE, 3, max_tokens=25)

    assert [(n, s.temperature, s.max_tokens) for _, n, s in fn.calls] == [
        (1, 0.0, 25),
        (2, 0.8, 25),
    ]


def test_a_call_never_asks_for_more_tokens_than_max_step_tokens() -> None:
    fn = Recorder(["x"])

    ModelProposer(FunctionChatModel(fn), max_step_tokens=10).propose(STATE, 1, max_tokens=500)

    assert fn.calls[0][2].max_tokens == 10


def test_token_log_probabilities_a_model_reports_are_summarized_on_the_step() -> None:
    class Reporting(FunctionChatModel):
        def generate(self, messages, n=1, settings=None):
            return [
                replace(c, extra={TOKEN_LOGPROBS: [-0.5, -1.5]})
                for c in super().generate(messages, n, settings)
            ]

    (step,) = ModelProposer(Reporting(Recorder(["Two tokens"]))).propose(STATE, 1)

    assert step.logprobs == LogprobSummary(total=-2.0, mean=-1.0, min=-1.5)


def test_the_first_step_continues_an_empty_assistant_message() -> None:
    fn = Recorder(["First step"])

    ModelProposer(FunctionChatModel(fn)).propose(SearchState("Q?"), 1)

    assert fn.calls[0][0][-1] == {"role": "assistant", "content": ""}


def test_the_system_prompt_teaches_the_step_format_with_two_examples() -> None:
    fn = Recorder(["x"])

    ModelProposer(FunctionChatModel(fn)).propose(STATE, 1)

    system = fn.calls[0][0][0]["content"]
    assert "<calc>" in system and "Answer:" in system
    assert system.count("Example ") == 2


def test_a_step_cut_at_max_tokens_is_invalid() -> None:
    fn = Recorder(["one two three four five six"])

    (step,) = ModelProposer(FunctionChatModel(fn), max_step_tokens=3).propose(STATE, 1)

    assert not step.valid
    assert step.tokens == 3
    assert "cut off" in step.note


def test_chain_proposer_samples_whole_chains_without_a_line_stop() -> None:
    chain = "7 boxes of 12.\nTotal: <calc>7*12</calc> = 84\nAnswer: 84"
    fn = Recorder([chain, chain])
    proposer = ChainProposer(FunctionChatModel(fn), max_chain_tokens=300)

    steps = proposer.propose(SearchState("Q?"), 2)

    assert fn.calls[0][2].stop == ()
    assert proposer.max_step_tokens == 300
    assert [s.answer for s in steps] == ["84", "84"]
    assert steps[0].text == chain


def test_a_model_returning_the_wrong_number_of_samples_is_a_model_error() -> None:
    class Short:
        name = "short"

        def generate(self, messages, n=1, settings=None):
            return ScriptedChatModel(["only one"]).generate(messages, 1, settings)

        def score(self, messages, continuation):
            raise AssertionError

    with pytest.raises(ModelOutputError, match="returned 1 samples for n=2"):
        ModelProposer(Short(), greedy_sibling=False).propose(STATE, 2)


def test_proposers_validate_their_settings_at_construction() -> None:
    model = FunctionChatModel(Recorder([]))

    with pytest.raises(ValueError, match="temperature"):
        ModelProposer(model, temperature=-1.0)
    with pytest.raises(ValueError, match="max_tokens"):
        ChainProposer(model, max_chain_tokens=0)
