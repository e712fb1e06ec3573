"""The reasoning benchmark's whole code path on a fake model: a few items per family.

The fake answers every question the same way (a calculation, then its answer, in
either step format), so the tests check the machinery (tasks, methods, budgets,
replay, resume, statistics, traces, report, plot), not anyone's accuracy.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import pytest

from bench import reasoning_config, reasoning_methods
from bench.reasoning import parse_config, run_benchmark
from bench.reasoning_config import code_fingerprint
from bench.reasoning_methods import MethodSettings, Replay, run_method
from bench.reasoning_prefetch import prefetch_greedy
from bench.reasoning_tasks import DEFAULT_FAMILIES, load_tasks, submitted_answer
from ponder.agents.models.base import GenerationSettings, Message
from ponder.agents.models.testing import FunctionChatModel
from ponder.agents.reasoning import SearchState
from ponder.agents.reasoning.traces import read_traces

PROSE = ["Work it out: <calc>2+3</calc> = 5", "Answer: 5"]
PROGRAM = ["x = 2 + 3", "answer = x"]


def _reply(messages: Sequence[Message], n: int, settings: GenerationSettings) -> list[str]:
    # Continue the assistant's chain one line at a time (or whole, without a line stop).
    lines = PROGRAM if "Python" in messages[0]["content"] else PROSE
    done = len([line for line in messages[-1]["content"].split("\n") if line.strip()])
    rest = lines[min(done, len(lines) - 1) :]
    return [rest[0] if settings.stop else "\n".join(rest)] * n


def _score(messages: Sequence[Message], continuation: str) -> float:
    return math.log(0.7 if continuation == "Yes" else 0.3)


class CountingFake(FunctionChatModel):
    """The fake, counting generate calls."""

    calls: int = 0

    def generate(self, messages, n=1, settings=None):
        self.calls += 1
        return super().generate(messages, n, settings)


class BatchingFake(CountingFake):
    """The fake, plus ``generate_many`` (as ``LocalModel`` has), counting its calls."""

    batches: int = 0

    def generate_many(self, chats, settings=None):
        self.batches += 1
        return [FunctionChatModel.generate(self, chat, 1, settings)[0] for chat in chats]


def _config(tmp_path: Path, *extra: str):
    argv = ["--items", "1", "--results-dir", str(tmp_path), "--traces", str(tmp_path / "t")]
    return parse_config([*argv, *extra])


def test_every_family_and_method_fills_the_tables_with_intervals_and_tests(
    tmp_path: Path,
) -> None:
    config = _config(tmp_path)

    results = run_benchmark(config, CountingFake(_reply, score_fn=_score))

    written = json.loads((tmp_path / "reasoning-qwen2.5-coder-0.5b.json").read_text())
    assert set(written["families"]) == set(DEFAULT_FAMILIES)
    for family, methods in written["families"].items():
        assert set(methods) == {"greedy", "self_consistency", "beam", "mcts", "oracle"}
        for name, cell in methods.items():
            assert cell["n"] == 1 and 0.0 <= cell["accuracy"] <= 1.0
            low, high = cell["ci95"]
            assert 0.0 <= low <= cell["accuracy"] <= high <= 1.0
            if name not in ("greedy", "oracle"):
                assert cell["p_vs_greedy"] == 1.0  # the fake solves nothing or all alike
                assert cell["mean_generated_tokens"] > 0
        for fmt in ("prose", "program"):
            assert "accuracy" in written["step_formats"][fmt][family]["greedy"]
        curve = written["budget_curve"][family]["beam"]
        assert [point["budget"] for point in curve] == ["x1", "x4"]
    assert written["complete"] and results["families"] == written["families"]
    assert written["runtime"]["seconds"] >= 0 and "load_average" in written["runtime"]
    assert (tmp_path / "reasoning-qwen2.5-coder-0.5b.png").stat().st_size > 0
    traces = list(read_traces(tmp_path / "t" / "reasoning-qwen2.5-coder-0.5b.jsonl"))
    assert {t.family for t in traces} == set(DEFAULT_FAMILIES)
    assert all(t.question_id and t.step_format in ("prose", "program") for t in traces)
    assert any(n.reward is not None for t in traces for n in t.nodes if n.finished)


def test_a_stopped_run_continues_where_it_stopped(tmp_path: Path) -> None:
    model = CountingFake(_reply, score_fn=_score)
    run_benchmark(_config(tmp_path, "--families", "basic_arithmetic"), model)
    first_calls = model.calls

    config = _config(tmp_path, "--families", "basic_arithmetic", "--items", "2")
    results = run_benchmark(config, model)

    assert results["families"]["basic_arithmetic"]["greedy"]["n"] == 2
    assert model.calls - first_calls <= first_calls  # only the new item was run
    data = json.loads((tmp_path / "reasoning-qwen2.5-coder-0.5b.json").read_text())
    keys = [(r["index"], r["method"], r["step_format"], r["budget"]) for r in data["records"]]
    assert len(keys) == len(set(keys))


def test_a_run_with_other_settings_is_not_mixed_in_unless_fresh(tmp_path: Path) -> None:
    model = CountingFake(_reply, score_fn=_score)
    run_benchmark(_config(tmp_path, "--families", "chain_sum"), model)

    with pytest.raises(SystemExit, match="other settings"):
        run_benchmark(_config(tmp_path, "--families", "chain_sum", "--beam-width", "3"), model)
    fresh = _config(tmp_path, "--families", "chain_sum", "--beam-width", "3", "--fresh")
    assert run_benchmark(fresh, model)["settings"]["beam_width"] == 3


def test_the_compare_model_runs_greedy_on_the_same_items(tmp_path: Path) -> None:
    argv = ["--families", "basic_arithmetic", "--methods", "greedy"]
    config = _config(tmp_path, *argv, "--compare-model", "smollm2-135m")
    fake = CountingFake(_reply, score_fn=_score)

    results = run_benchmark(config, fake, compare=fake)

    assert set(results["families"]["basic_arithmetic"]) == {
        "greedy",
        "smollm2-135m:greedy",
        "oracle",
    }
    assert results["compare_model"] == "smollm2-135m"


def test_smaller_budgets_replay_the_largest_search_without_new_calls() -> None:
    model = CountingFake(_reply, score_fn=_score)
    settings = MethodSettings(max_step_tokens=20, max_chain_tokens=40, step_format="prose")
    replay = Replay()
    run_method("greedy", "Calculate 2 + 3.", model, settings, replay)

    big = run_method("mcts", "Calculate 2 + 3.", model, settings, replay, budget_tokens=200)
    calls = replay.calls
    small = run_method("mcts", "Calculate 2 + 3.", model, settings, replay, budget_tokens=30)

    assert replay.calls == calls  # every call of the smaller search was remembered
    assert small.tokens <= 30 and small.tokens <= big.tokens
    assert big.answer == "5"


def test_self_consistency_in_a_resumed_sitting_samples_budget_over_greedy_chains() -> None:
    """A resumed sitting has greedy's record but an empty replay: the chain count comes
    from the record's tokens (once it came from the empty replay as 0 tokens, so a
    budget of 104 tokens sampled 104 chains)."""
    model = CountingFake(_reply, score_fn=_score)
    settings = MethodSettings(step_format="program")
    first = Replay()
    greedy = run_method("greedy", "Calculate 2 + 3.", model, settings, first)
    in_process = run_method(
        "self_consistency", "Calculate 2 + 3.", model, settings, first, budget_tokens=40
    )

    resumed = run_method(
        "self_consistency",
        "Calculate 2 + 3.",
        model,
        settings,
        Replay(),
        budget_tokens=40,
        chain_tokens=greedy.tokens,
    )

    sampled = len(resumed.result.tree.children(0))
    assert sampled == round(40 / greedy.tokens) == len(in_process.result.tree.children(0))
    with pytest.raises(ValueError, match="greedy's tokens"):
        run_method(
            "self_consistency", "Calculate 2 + 3.", model, settings, Replay(), budget_tokens=40
        )


def test_the_searches_greedy_sibling_is_the_greedy_methods_step_for_free() -> None:
    model = CountingFake(_reply, score_fn=_score)
    settings = MethodSettings(step_format="program")
    replay = Replay()
    greedy = run_method("greedy", "Calculate 2 + 3.", model, settings, replay)
    temperatures: list[float] = []
    model.fn = lambda messages, n, s: temperatures.append(s.temperature) or _reply(messages, n, s)

    beam = run_method("beam", "Calculate 2 + 3.", model, settings, replay, budget_tokens=400)

    assert greedy.answer == beam.answer == "5"
    first = beam.result.tree.children(0)[0]
    assert first.step is not None and first.step.text == "x = 2 + 3  # = 5"
    assert temperatures and 0.0 not in temperatures  # greedy steps came from the replay


def test_answers_are_scored_by_reasoning_gym_at_full_reward_only() -> None:
    (tasks,) = load_tasks(["basic_arithmetic"], size=1, seed=42)
    item = tasks.items[0]

    assert tasks.reward(item, item.gold) == 1.0
    assert tasks.reward(item, f"{item.gold}.0") == 1.0  # numbers are written canonically
    assert tasks.reward(item, None) == 0.0
    assert submitted_answer(" 1,200.50 ") == "1200.5"
    assert submitted_answer("['a', 'b']") == "['a', 'b']"
    assert item.id == "basic_arithmetic/0"


def test_an_unknown_family_method_or_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown family"):
        load_tasks(["no_such_family"], size=1, seed=0)
    with pytest.raises(SystemExit, match="unknown method"):
        parse_config(["--methods", "greedy,telepathy"])
    with pytest.raises(SystemExit, match="step formats"):
        parse_config(["--step-format", "haiku"])


@pytest.mark.parametrize("step_format", ["prose", "program"])
def test_greedy_chains_prefetched_in_batches_are_replayed_not_decoded_again(
    step_format: str,
) -> None:
    model = BatchingFake(_reply, score_fn=_score)
    settings = MethodSettings(step_format=step_format)
    questions = ["Calculate 2 + 3.", "Calculate 1 + 4.", "Calculate 0 + 5."]
    replays = [Replay() for _ in questions]

    assert prefetch_greedy("greedy", model, settings, questions, replays, batch=2, steps=8)
    outcomes = [
        run_method("greedy", q, model, settings, r) for q, r in zip(questions, replays, strict=True)
    ]

    assert model.batches == 4  # two steps (calculation, answer) of two batches each
    assert model.calls == 0 and all(replay.calls == 0 for replay in replays)
    assert [o.answer for o in outcomes] == ["5", "5", "5"]


def test_by_default_only_the_first_step_is_decoded_across_items() -> None:
    model = BatchingFake(_reply, score_fn=_score)
    questions = ["Calculate 2 + 3.", "Calculate 1 + 4.", "Calculate 0 + 5."]
    replays = [Replay() for _ in questions]

    prefetch_greedy("greedy", model, MethodSettings(), questions, replays, batch=8)
    for question, replay in zip(questions, replays, strict=True):
        run_method("greedy", question, model, MethodSettings(), replay)

    assert model.batches == 1  # the three first steps together
    assert model.calls == 3  # each answer step decoded on its own, from the cached prompt


def test_a_run_made_by_other_code_is_not_continued(tmp_path: Path) -> None:
    model = CountingFake(_reply, score_fn=_score)
    run_benchmark(_config(tmp_path, "--families", "chain_sum"), model)
    out = tmp_path / "reasoning-qwen2.5-coder-0.5b.json"
    data = json.loads(out.read_text())
    assert data["code"] == code_fingerprint()
    data["code"] = "0" * 16  # as if the search or the models changed since that sitting
    out.write_text(json.dumps(data))

    with pytest.raises(SystemExit, match="other code"):
        run_benchmark(_config(tmp_path, "--families", "chain_sum", "--items", "2"), model)


class FakeBatchScorer:
    """A batch scorer (as the learned head is) that records the sizes it was called with."""

    def __init__(self) -> None:
        self.batches: list[int] = []

    def score(self, state: SearchState) -> float:
        return self.score_many([state])[0]

    def score_many(self, states: Sequence[SearchState]) -> list[float]:
        self.batches.append(len(states))
        return [0.5] * len(states)


def test_the_learned_scorer_gets_siblings_together_and_greedy_never_needs_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = FakeBatchScorer()
    asked: list[tuple[str | None, str]] = []

    def learned(model: object, head: str | None, fmt: str) -> FakeBatchScorer:
        asked.append((head, fmt))
        return fake

    def varied(messages: Sequence[Message], n: int, s: GenerationSettings) -> list[str]:
        # Sampled siblings that differ, so an expansion keeps more than one.
        first = _reply(messages, n, s)[0]
        if s.temperature == 0 or first != "x = 2 + 3":
            return [first] * n
        return [f"x = {2 + i} + {3 - i}" for i in range(n)]

    monkeypatch.setattr(reasoning_methods, "_learned_scorer", learned)
    model = CountingFake(varied, score_fn=_score)
    settings = MethodSettings(scorer="learned", value_head="head.npz", step_format="program")
    replay = Replay()
    run_method("greedy", "Calculate 2 + 3.", model, settings, replay)
    assert asked == []  # greedy's chain does not depend on the scorer

    beam = run_method("beam", "Calculate 2 + 3.", model, settings, replay, budget_tokens=400)

    assert beam.answer == "5"
    assert asked == [("head.npz", "program")]
    assert max(fake.batches) > 1  # an expansion's siblings were valued in one call


def test_learned_scorer_options_are_checked_and_the_adapter_is_part_of_the_run() -> None:
    with pytest.raises(SystemExit, match="--scorer learned"):
        parse_config(["--value-head", "head.npz"])
    config = parse_config(["--scorer", "learned", "--adapter", "round1/adapter.safetensors"])
    assert config.model_options["adapter"] == "round1/adapter.safetensors"
    assert config.signature()["adapter"] == "round1/adapter.safetensors"
    assert config.settings.scorer == "learned"


def test_the_learning_sources_count_in_the_fingerprint_only_for_the_learned_scorer() -> None:
    assert code_fingerprint("calculation") == code_fingerprint("self_eval")
    assert code_fingerprint("learned") != code_fingerprint("calculation")


def test_the_fingerprint_follows_what_the_run_executes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = Path(reasoning_config.__file__).resolve().parents[1]
    files = [
        "bench/reasoning_x.py",
        "agents/reasoning/beam.py",
        "agents/reasoning/engine.py",
        "agents/reasoning/learned_scorer.py",
        "agents/learning/head.py",
        "agents/models/local.py",
    ]
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(name)
    fake_module = tmp_path / "bench" / "reasoning_config.py"
    monkeypatch.setattr(reasoning_config, "__file__", str(fake_module))
    assert root != tmp_path

    def changed(name: str) -> tuple[bool, bool]:
        rule, learned = code_fingerprint("calculation"), code_fingerprint("learned")
        (tmp_path / name).write_text(name + " edited")
        return code_fingerprint("calculation") != rule, code_fingerprint("learned") != learned

    assert changed("agents/reasoning/beam.py") == (True, True)
    assert changed("agents/models/local.py") == (True, True)
    assert changed("bench/reasoning_x.py") == (True, True)
    assert changed("agents/reasoning/engine.py") == (False, False)
    assert changed("agents/reasoning/learned_scorer.py") == (False, True)
    assert changed("agents/learning/head.py") == (False, True)


def test_a_sitting_that_resumes_after_greedy_gives_self_consistency_greedys_count(
    tmp_path: Path,
) -> None:
    """Greedy in one sitting, the searches in the next: the chain count comes from
    greedy's record, as it would in one sitting."""
    model = CountingFake(_reply, score_fn=_score)
    family = ("--families", "basic_arithmetic")
    run_benchmark(_config(tmp_path, *family, "--methods", "greedy"), model)

    run_benchmark(_config(tmp_path, *family), model)

    data = json.loads((tmp_path / "reasoning-qwen2.5-coder-0.5b.json").read_text())
    (greedy,) = [
        r for r in data["records"] if r["method"] == "greedy" and r["step_format"] == "program"
    ]
    sc = [r for r in data["records"] if r["method"] == "self_consistency"]
    assert sc and all(r["leaves"] == round(r["budget_tokens"] / greedy["tokens"]) for r in sc)


def test_search_budgets_are_multiples_of_the_items_own_greedy_tokens(tmp_path: Path) -> None:
    model = CountingFake(_reply, score_fn=_score)

    run_benchmark(_config(tmp_path, "--families", "basic_arithmetic", "--items", "2"), model)

    data = json.loads((tmp_path / "reasoning-qwen2.5-coder-0.5b.json").read_text())
    greedy = {
        r["index"]: r
        for r in data["records"]
        if r["method"] == "greedy" and r["step_format"] == "program"
    }
    searches = [r for r in data["records"] if r["budget"] is not None]
    floor = MethodSettings().max_step_tokens // 4
    assert {r["method"] for r in searches} == {"self_consistency", "beam", "mcts"}
    for r in searches:
        assert r["budget_tokens"] == max(floor, r["budget"] * greedy[r["index"]]["tokens"])
        if r["budget"] == 1 and r["method"] != "self_consistency":
            # A greedy-first search at greedy's own budget is greedy decoding.
            assert r["answer"] == greedy[r["index"]]["answer"]
