"""The Scorer contract, for every shipped scorer and the search-test fakes.

``score`` values a chain of valid steps in [0, 1], and scoring a batch gives what
scoring one by one gives. An invalid step is worth 0 whatever the scorer: the search
gives it that value and never asks the scorer about it (a scorer only ever sees states
of valid steps).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest
from reasoning.reasoning_fakes import (
    MULTIPLY,
    QUESTION,
    TOY_VALUES,
    HashScorer,
    TableScorer,
    TreeProposer,
)

from ponder.agents.models.base import GenerationSettings, Message
from ponder.agents.models.testing import FunctionChatModel, ScriptedChatModel
from ponder.agents.reasoning import (
    Budget,
    BudgetMeter,
    CalculationScorer,
    MajorityScorer,
    Scorer,
    SearchState,
    SearchTree,
    SelfEvalScorer,
    VerifierScorer,
    WeightedScorer,
    exact_match,
    parse_step,
    score_many,
)
from ponder.agents.reasoning.phases import evaluate, expand

CHAINS = [
    ("Step",),
    ("<calc>6*7</calc> = 41",),
    ("<calc>6*7</calc> = 42",),
    ("x", "Answer: 42"),
    ("Multiply: 6 times 7", "Answer: 41"),
    ("Answer: forty-two",),
]


def _state(*texts: str) -> SearchState:
    return SearchState(QUESTION, tuple(parse_step(t, tokens=1) for t in texts))


def _no_generation(messages: Sequence[Message], n: int, settings: GenerationSettings) -> list[str]:
    raise AssertionError("scorers never generate")


def _judge(messages: Sequence[Message], continuation: str) -> float:
    # A judge that believes steps mentioning 42: p(Yes) 0.9 for them, 0.2 otherwise.
    p_yes = 0.9 if "42" in messages[-1]["content"] else 0.2
    return math.log(p_yes if continuation == "Yes" else 1.0 - p_yes)


def _table() -> TableScorer:
    values = {texts[-1]: 0.1 * i for i, texts in enumerate(CHAINS)}
    return TableScorer({**TOY_VALUES, **values})


def _weighted() -> Scorer:
    parts = [
        (CalculationScorer(wrong=0.1, unsupported=0.7), 2.0),
        (VerifierScorer(exact_match("42"), 0.2), 1.0),
    ]
    return WeightedScorer(parts)


SCORERS = [
    pytest.param(
        lambda: SelfEvalScorer(FunctionChatModel(_no_generation, score_fn=_judge)),
        id="self-eval-function",
    ),
    pytest.param(
        lambda: SelfEvalScorer(ScriptedChatModel([], scores={"Yes": -0.1, "No": -2.0})),
        id="self-eval-scripted",
    ),
    pytest.param(lambda: CalculationScorer(wrong=0.1, unsupported=0.7), id="calculation"),
    pytest.param(lambda: VerifierScorer(exact_match("42"), prior=0.2), id="verifier"),
    pytest.param(lambda: MajorityScorer(["42", "42.0", "41"], unanswered=0.2), id="majority"),
    pytest.param(_weighted, id="weighted"),
    pytest.param(_table, id="fake-table"),
    pytest.param(HashScorer, id="fake-hash"),
]


@pytest.fixture(params=SCORERS)
def scorer(request: pytest.FixtureRequest) -> Scorer:
    return request.param()


@dataclass
class _Asked:
    """Passes scoring through to ``scorer`` and keeps every state it was asked about."""

    scorer: Scorer
    states: list[SearchState] = field(default_factory=list)

    def score(self, state: SearchState) -> float:
        self.states.append(state)
        return self.scorer.score(state)


def test_it_is_a_scorer(scorer: Scorer) -> None:
    assert isinstance(scorer, Scorer)


@pytest.mark.parametrize("texts", CHAINS)
def test_every_value_is_in_zero_one(scorer: Scorer, texts: tuple[str, ...]) -> None:
    value = scorer.score(_state(*texts))

    assert isinstance(value, float)
    assert 0.0 <= value <= 1.0  # also fails for NaN


def test_a_batch_scores_as_one_by_one(scorer: Scorer) -> None:
    states = [_state(*texts) for texts in CHAINS]

    batch = score_many(scorer, states)

    assert batch == [scorer.score(state) for state in states]


def test_an_invalid_step_is_worth_zero_and_never_reaches_the_scorer(scorer: Scorer) -> None:
    tree = SearchTree(QUESTION)
    proposer = TreeProposer({(): ["", MULTIPLY]})  # "" parses as an invalid, empty step
    asked = _Asked(scorer)

    alive = expand(tree, 0, proposer, 2, BudgetMeter(Budget(), step_tokens=5))
    evaluate(tree, alive, asked)

    invalid, valid = (tree.node(i) for i in tree.node(0).children)
    assert (invalid.value, invalid.status) == (0.0, "pruned")
    assert valid.value is not None and 0.0 <= valid.value <= 1.0
    assert [s.valid for state in asked.states for s in state.steps] == [True]
