"""reason(): a chat model wired into each search, its reasoning hidden from users."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from ponder.agents.models.base import GenerationSettings, Message
from ponder.agents.models.testing import FunctionChatModel
from ponder.agents.reasoning import (
    ALGORITHMS,
    HiddenChain,
    ReasoningConfig,
    reason,
    run_search,
    write_trace_jsonl,
)

QUESTION = "How many eggs are in 7 boxes of 12?"
CHAIN = ["There are 7 boxes of 12 eggs.", "Eggs: <calc>7*12</calc> = 84", "Answer: 84"]
DETOUR = "Maybe add them: <calc>7+12</calc> = 21"  # wrong idea, wrong arithmetic


def solve(messages: Sequence[Message], n: int, settings: GenerationSettings) -> list[str]:
    """A model that knows the chain; its other samples take a wrong detour."""
    if settings.stop != ("\n",):  # whole chains, for self-consistency
        return ["\n".join(CHAIN)] * (n - 1) + [DETOUR + "\nAnswer: 21"]
    done = [line for line in messages[-1]["content"].split("\n") if line]
    if done and "7+12" in done[-1]:  # the detour (its result as the calculator wrote it)
        return ["Answer: 21"] * n
    next_line = CHAIN[min(len(done), len(CHAIN) - 1)]
    return [next_line] + [DETOUR] * (n - 1)


def judge(messages: Sequence[Message], continuation: str) -> float:
    """Self-evaluation: a competent judge doubts any chain that took the detour."""
    doubtful = "7+12" in messages[-1]["content"]
    p_yes = 0.1 if doubtful else 0.9
    return math.log(p_yes if continuation == "Yes" else 1 - p_yes)


MODEL = FunctionChatModel(solve, judge)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_every_algorithm_answers_and_hides_its_chains(algorithm: str) -> None:
    config = ReasoningConfig(algorithm=algorithm, seed=0, max_expansions=20)

    outcome = reason(QUESTION, MODEL, config)

    assert outcome.answer == "84"
    assert outcome.algorithm == algorithm
    assert outcome.reasoning_tokens == outcome.hidden.reasoning_tokens > 0
    assert outcome.nodes_expanded >= 1
    assert 0.0 < outcome.score <= 1.0
    assert isinstance(outcome.hidden, HiddenChain)
    assert "<calc>7*12</calc>" in outcome.hidden.chains[0]
    trace = outcome.hidden.get_secret_value()
    assert trace["question"] == QUESTION and trace["nodes"][0]["depth"] == 0
    assert trace["algorithm"] == algorithm
    for shown in (repr(outcome), str(outcome)):
        assert "Eggs" not in shown and "calc" not in shown


def test_the_hidden_chains_list_the_chosen_chain_first_then_other_answers() -> None:
    config = ReasoningConfig(algorithm="beam", seed=0)

    chains = reason(QUESTION, MODEL, config).hidden.chains

    assert chains[0] == "\n".join(CHAIN)
    assert any(chain.endswith("Answer: 21") for chain in chains[1:])


def test_the_calculation_scorer_needs_no_model_scores() -> None:
    model = FunctionChatModel(solve)  # score() would raise
    config = ReasoningConfig(algorithm="mcts", scorer="calculation", seed=0)

    assert reason(QUESTION, model, config).answer == "84"


def test_a_budget_too_small_for_an_answer_gives_none_not_an_error() -> None:
    config = ReasoningConfig(algorithm="greedy", max_expansions=1)

    outcome = reason(QUESTION, MODEL, config)

    assert outcome.answer is None
    assert outcome.nodes_expanded == 1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"algorithm": "dfs"}, "unknown algorithm 'dfs'"),
        ({"scorer": "oracle"}, "unknown scorer 'oracle'"),
        ({"samples": 0}, "samples must be >= 1"),
        ({"temperature": -0.5}, "temperature"),
        ({"max_tokens": 50, "max_step_tokens": 96, "algorithm": "beam"}, "below the 96 tokens"),
    ],
)
def test_config_rejects_bad_options_at_construction(options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ReasoningConfig(**options)


def test_traces_append_one_json_line_per_search(tmp_path: Path) -> None:
    path = tmp_path / "traces" / "search.jsonl"
    config = ReasoningConfig(algorithm="beam", seed=0)
    outcome = reason(QUESTION, MODEL, config)
    result = run_search(QUESTION, MODEL, config)

    write_trace_jsonl(path, QUESTION, outcome, verifier_outcome=True)
    write_trace_jsonl(path, QUESTION, result)

    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["reward"] for line in lines] == [1.0, None]
    assert all(line["question"] == QUESTION and line["nodes"] for line in lines)
    assert lines[0]["schema"] == "ponder.reasoning.trace/2"
    with pytest.raises(ValueError, match="different question"):
        write_trace_jsonl(path, "another question", result)


def test_the_reasoning_package_imports_neither_torch_nor_langgraph() -> None:
    code = (
        "import sys, ponder.agents.reasoning\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'langgraph'}))"
    )

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert out.stdout.strip() == "[]"


def _coder(messages: Sequence[Message], n: int, settings: GenerationSettings) -> list[str]:
    """A code model: one line per call, the greedy line right, the sampled ones broken."""
    lines = ["eggs = 7 * 12", "answer = eggs"]
    done = [line for line in messages[-1]["content"].split("\n") if line]
    line = lines[min(len(done), len(lines) - 1)]
    return [line if settings.temperature == 0 else "eggs = boxes * 12"] * n


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_the_program_step_format_runs_lines_and_answers(algorithm: str) -> None:
    config = ReasoningConfig(algorithm=algorithm, step_format="program", scorer="calculation")

    outcome = reason(QUESTION, FunctionChatModel(_coder), config)

    assert outcome.answer == "84"
    trace = outcome.hidden.get_secret_value()
    assert trace["step_format"] == "program"
    assert "eggs = 7 * 12  # = 84" in outcome.hidden.chains[0]


def test_the_node_writes_the_calculators_result_into_the_chain() -> None:
    # The model miscopies 7*12 as 74; the chain the search builds on says 84, as in the
    # benchmark and in `ponder learn collect` (a learned head sees the steps it learned).
    def miscopies(messages: Sequence[Message], n: int, settings: GenerationSettings) -> list[str]:
        done = [line for line in messages[-1]["content"].split("\n") if line]
        if not done:
            return ["Eggs: <calc>7*12</calc> = 74"] * n
        return ["Answer: " + done[-1].rsplit("= ", 1)[-1]] * n

    config = ReasoningConfig(algorithm="greedy", seed=0, scorer="calculation")

    outcome = reason(QUESTION, FunctionChatModel(miscopies), config)

    assert outcome.hidden.chains[0] == "Eggs: <calc>7*12</calc> = 84\nAnswer: 84"
    assert outcome.answer == "84"
