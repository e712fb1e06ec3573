"""The reasoning benchmark's whole code path on a fake model: one item per family.

The fake answers every question the same way (a calculation, then its answer), so the
test checks the machinery (tasks, methods, budgets, replay, speed, report, plot), not
anyone's accuracy.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import pytest

from bench.reasoning import parse_config, run_benchmark
from bench.reasoning_methods import METHODS, MethodSettings, Replay, run_method
from bench.reasoning_prefetch import prefetch_greedy
from bench.reasoning_tasks import DEFAULT_FAMILIES, FAMILIES, load_tasks, submitted_answer
from ponder.agents.models.base import GenerationSettings, Message
from ponder.agents.models.testing import FunctionChatModel

CHAIN = "Work it out: <calc>2+3</calc> = 5\nAnswer: 5"


def _reply(messages: Sequence[Message], n: int, settings: GenerationSettings) -> list[str]:
    # Continue the assistant's chain: a calculation first, then the answer.
    so_far = messages[-1]["content"]
    return ["Answer: 5" if "<calc>" in so_far else CHAIN] * n


def _score(messages: Sequence[Message], continuation: str) -> float:
    return math.log(0.7 if continuation == "Yes" else 0.3)


FAKE = FunctionChatModel(_reply, score_fn=_score, name="fake")


class BatchingFake(FunctionChatModel):
    """The fake, plus ``generate_many`` (as ``LocalModel`` has), counting its calls."""

    batches: int = 0

    def generate_many(self, chats, settings=None):
        self.batches += 1
        return [self.generate(chat, 1, settings)[0] for chat in chats]


def test_one_item_per_family_fills_every_method_and_writes_json_and_plot(
    tmp_path: Path,
) -> None:
    config = parse_config(["--items", "1", "--speed-states", "1", "--siblings", "2"])
    out = tmp_path / "reasoning-fake.json"

    results = run_benchmark(config, FAKE, out=out)

    written = json.loads(out.read_text())
    assert written["model"] == "qwen2.5-coder-0.5b"  # the label of --model, not of the fake
    assert set(written["families"]) == set(DEFAULT_FAMILIES)
    for methods in written["families"].values():
        assert set(methods) == set(METHODS)
        for cell in methods.values():
            assert cell["n"] == 1 and 0.0 <= cell["accuracy"] <= 1.0
            assert cell["mean_generated_tokens"] > 0
    assert isinstance(written["batched_speedup"], float)
    assert written["complete"] and results["families"] == written["families"]
    curve = written["budget_curve"]["basic_arithmetic"]["beam"]
    levels = config.levels(FAMILIES["basic_arithmetic"])
    assert [point["budget"] for point in curve] == sorted(levels)
    assert out.with_suffix(".png").stat().st_size > 0


def test_the_compare_model_runs_greedy_on_the_same_items(tmp_path: Path) -> None:
    argv = "--items 1 --families basic_arithmetic --speed-states 0 --methods greedy"
    config = parse_config([*argv.split(), "--compare-model", "smollm2-135m"])

    results = run_benchmark(config, FAKE, compare=FAKE, out=tmp_path / "r.json")

    assert set(results["families"]["basic_arithmetic"]) == {"greedy", "smollm2-135m:greedy"}
    assert results["compare_model"] == "smollm2-135m"


def test_smaller_budgets_replay_the_largest_search_without_new_calls() -> None:
    settings = MethodSettings(budget_tokens=200, max_step_tokens=20, max_chain_tokens=40)
    replay = Replay()

    big = run_method("mcts", "Calculate 2 + 3.", FAKE, settings, replay)
    calls = replay.calls
    small = run_method("mcts", "Calculate 2 + 3.", FAKE, settings, replay, budget_tokens=60)

    assert replay.calls == calls  # every call of the smaller search was remembered
    assert small.tokens <= 60 and small.tokens <= big.tokens
    assert big.answer == small.answer == "5"


def test_answers_are_scored_by_reasoning_gym_at_full_reward_only() -> None:
    (tasks,) = load_tasks(["basic_arithmetic"], size=1, seed=42)
    item = tasks.items[0]

    assert tasks.reward(item, item.gold) == 1.0
    assert tasks.reward(item, f"{item.gold}.0") == 1.0  # numbers are written canonically
    assert tasks.reward(item, None) == 0.0
    assert submitted_answer(" 1,200.50 ") == "1200.5"
    assert submitted_answer("['a', 'b']") == "['a', 'b']"


def test_an_unknown_family_or_method_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown family"):
        load_tasks(["no_such_family"], size=1, seed=0)
    with pytest.raises(SystemExit, match="unknown method"):
        parse_config(["--methods", "greedy,telepathy"])


def test_greedy_chains_prefetched_in_batches_are_replayed_not_decoded_again() -> None:
    model = BatchingFake(_reply, score_fn=_score)
    settings = MethodSettings()
    questions = ["Calculate 2 + 3.", "Calculate 1 + 4.", "Calculate 0 + 5."]
    replays = [Replay() for _ in questions]

    assert prefetch_greedy("greedy", model, settings, questions, replays, batch=2)
    outcomes = [
        run_method("greedy", q, model, settings, r) for q, r in zip(questions, replays, strict=True)
    ]

    assert model.batches == 4  # two steps (calculation, answer) of two batches each
    assert all(replay.calls == 0 for replay in replays)
    assert [o.answer for o in outcomes] == ["5", "5", "5"]
