"""The Proposer contract, for the model-backed proposers and the search-test fakes.

``propose(state, k)`` returns at most ``k`` steps, each costing between 0 and the
proposer's ``max_step_tokens`` tokens; a model's unusable sample comes back as an
invalid step, never as an exception.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

import pytest
from reasoning.reasoning_fakes import (
    MULTIPLY,
    QUESTION,
    TOY_TREE,
    ChainListProposer,
    CountingProposer,
    FakeSiblingSampler,
    TreeProposer,
    step,
)

from ponder.agents.models.base import GenerationSettings, Message
from ponder.agents.models.testing import FunctionChatModel, GenerateFn
from ponder.agents.reasoning import ChainProposer, ModelProposer, Proposer, SearchState, Step
from ponder.agents.reasoning.protocols import SiblingSampler

# Longer than any proposer's max_step_tokens below, so every cut is exercised.
RAMBLING = " ".join(["and then"] * 30)
STEP_REPLIES = ["Product: <calc>6*7</calc> = 42", "Answer: 42", "", RAMBLING, "Hmm"]
CHAINS = ["Multiply.\nProduct: <calc>6*7</calc> = 42\nAnswer: 42", "Answer: 13"]
CHAIN_REPLIES = [*CHAINS, RAMBLING]


def _cycling(replies: list[str]) -> GenerateFn:
    def reply(messages: Sequence[Message], n: int, settings: GenerationSettings) -> list[str]:
        return [replies[i % len(replies)] for i in range(n)]

    return reply


def _model_proposer() -> Proposer:
    return ModelProposer(FunctionChatModel(_cycling(STEP_REPLIES)), max_step_tokens=8, seed=0)


def _chain_proposer() -> Proposer:
    model = FunctionChatModel(_cycling(CHAIN_REPLIES))
    return ChainProposer(model, max_chain_tokens=20, seed=0)


MODEL_BACKED = [
    pytest.param(_model_proposer, id="model"),
    pytest.param(_chain_proposer, id="chain"),
]
FAKES = [
    pytest.param(lambda: TreeProposer(TOY_TREE), id="fake-tree"),
    pytest.param(lambda: CountingProposer(random.Random(0)), id="fake-counting"),
    # This fake charges what its script says, so its script must fit max_step_tokens.
    pytest.param(lambda: ChainListProposer(CHAINS * 10), id="fake-chain-list"),
    pytest.param(lambda: FakeSiblingSampler(TOY_TREE), id="fake-sibling-sampler"),
]
# States every proposer above can continue (the tree fake knows only its planted paths).
STATES = [
    pytest.param(SearchState(QUESTION), id="root"),
    pytest.param(SearchState(QUESTION, (step(MULTIPLY),)), id="one-step"),
]


@pytest.fixture(params=MODEL_BACKED + FAKES)
def proposer(request: pytest.FixtureRequest) -> Proposer:
    return request.param()


def test_it_is_a_proposer_with_a_step_token_limit(proposer: Proposer) -> None:
    assert isinstance(proposer, Proposer)
    assert isinstance(proposer.max_step_tokens, int) and proposer.max_step_tokens >= 1


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("k", [1, 2, 5])
def test_propose_returns_at_most_k_steps(proposer: Proposer, state: SearchState, k: int) -> None:
    steps = proposer.propose(state, k)

    assert isinstance(steps, list) and len(steps) <= k
    assert all(isinstance(s, Step) for s in steps)


@pytest.mark.parametrize("state", STATES)
def test_every_step_costs_at_most_max_step_tokens(proposer: Proposer, state: SearchState) -> None:
    steps = proposer.propose(state, 5)

    assert all(0 <= s.tokens <= proposer.max_step_tokens for s in steps)


@pytest.mark.parametrize("make", MODEL_BACKED)
def test_unusable_samples_come_back_as_invalid_steps(make: Callable[[], Proposer]) -> None:
    proposer = make()

    steps = proposer.propose(SearchState(QUESTION), 5)  # the replies include "" and RAMBLING

    invalid = [s for s in steps if not s.valid]
    assert invalid and all(s.note for s in invalid)


# ``sample`` is optional (a search falls back to ``propose``); these offer it.
SAMPLERS = [*MODEL_BACKED, pytest.param(lambda: FakeSiblingSampler(TOY_TREE), id="fake-sampler")]


@pytest.mark.parametrize("make", SAMPLERS)
@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("k", [1, 3])
def test_a_sibling_sampler_samples_at_most_k_steps_within_the_limit(
    make: Callable[[], Proposer], state: SearchState, k: int
) -> None:
    proposer = make()
    assert isinstance(proposer, SiblingSampler)

    steps = proposer.sample(state, k)

    assert isinstance(steps, list) and len(steps) <= k
    assert all(isinstance(s, Step) and 0 <= s.tokens <= proposer.max_step_tokens for s in steps)


@pytest.mark.parametrize("kind", [ModelProposer, ChainProposer])
def test_model_backed_samples_never_decode_greedily(kind: type[ModelProposer]) -> None:
    temperatures: list[float] = []

    def reply(messages: Sequence[Message], n: int, settings: GenerationSettings) -> list[str]:
        temperatures.append(settings.temperature)
        return ["Answer: 42"] * n

    proposer = kind(FunctionChatModel(reply), seed=0)  # a greedy sibling by default
    assert isinstance(proposer, SiblingSampler)

    proposer.sample(SearchState(QUESTION), 3)

    assert temperatures and 0.0 not in temperatures
