"""The learning rounds' benchmark on fakes: a tiny round end to end, and the gathering.

The round runs the reasoning benchmark's own code with its tests' fake chat model and a
fake value head, so these tests check the plumbing (runs, folders, resume, summary
shape, plot), not anyone's accuracy.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from test_reasoning_bench import CountingFake, _reply, _score  # the reasoning bench's fake

from bench import reasoning_methods
from bench.learning import main, parse_plan, reuse_records, run_round
from bench.learning_report import render_rounds, summarize_rounds, write_summary
from bench.reasoning import parse_config, run_benchmark
from bench.reasoning_report import load_records
from ponder.agents.reasoning import SearchState
from ponder.agents.reasoning.traces import Trace, append_traces

LABEL = "qwen2.5-coder-0.5b"
CELL = {"accuracy", "n", "ci95"}


class FakeHead:
    """A value head (a batch scorer) that values every state alike."""

    def score(self, state: SearchState) -> float:
        return 0.5

    def score_many(self, states: Sequence[SearchState]) -> list[float]:
        return [0.5] * len(states)


@pytest.fixture
def fake_head(monkeypatch: pytest.MonkeyPatch) -> list[str | None]:
    """The learned scorer as a fake; lists the head files it was asked for."""
    asked: list[str | None] = []

    def learned(model: object, head: str | None, fmt: str) -> FakeHead:
        asked.append(head)
        return FakeHead()

    monkeypatch.setattr(reasoning_methods, "_learned_scorer", learned)
    return asked


def _collection(tmp_path: Path, *families: str) -> Path:
    """A collection folder with a head file and traces of ``families``' items."""
    folder = tmp_path / "learning" / "round0"
    folder.mkdir(parents=True)
    (folder / "head.npz").write_bytes(b"a head")
    traces = [
        Trace(
            question="q",
            question_id=f"{family}/100000/0",
            family=family,
            algorithm="wide",
            answer=None,
            chosen_node=0,
            score=0.0,
            reasoning_tokens=0,
            expansions=0,
            stop_reason="done",
            chains=[],
            nodes=[],
        )
        for family in families
    ]
    append_traces(folder / "traces.jsonl", traces)
    return folder


def _argv(tmp_path: Path, collection: Path, *extra: str) -> list[str]:
    return [
        *("--round", "0", "--collection", str(collection), "--items", "1"),
        *("--families", "chain_sum", "--heldout-families", "leg_counting"),
        *("--results-dir", str(tmp_path / "results"), *extra),
    ]


def test_a_round_runs_both_scorers_and_a_stopped_round_continues(
    tmp_path: Path, fake_head: list[str | None]
) -> None:
    collection = _collection(tmp_path, "chain_sum")
    plan = parse_plan(_argv(tmp_path, collection, "--compare-model", "smollm2-135m"))
    model = CountingFake(_reply, score_fn=_score)

    summary = run_round(plan, model, compare=model)

    assert set(summary) == {"rounds", "compare_model", "heldout_families"}
    (entry,) = summary["rounds"]
    assert entry["round"] == 0 and list(entry["families"]) == ["chain_sum", "leg_counting"]
    for cells in entry["families"].values():
        assert set(cells) == {"greedy", "search_rule", "search_learned", "self_consistency"}
        assert set(cells["greedy"]) == CELL
        assert set(cells["search_rule"]) == CELL | {"method", "p_vs_greedy"}
        assert cells["search_learned"]["method"] in ("beam", "mcts")
        assert cells["greedy"]["n"] == 1
    assert summary["heldout_families"] == ["leg_counting"]
    assert summary["compare_model"]["name"] == "smollm2-135m"
    assert set(summary["compare_model"]["families"]["chain_sum"]) == {"greedy"}
    assert fake_head and set(fake_head) == {str(collection / "head.npz")}
    rounds = tmp_path / "results" / "learning" / LABEL / "round0"
    for run in ("rule", "learned"):
        assert (rounds / run / f"reasoning-{LABEL}.json").is_file()
    written = json.loads((tmp_path / "results" / f"learning-{LABEL}.json").read_text())
    assert written == summary
    assert (tmp_path / "results" / f"learning-{LABEL}.png").stat().st_size > 0

    calls = model.calls
    again = run_round(parse_plan(_argv(tmp_path, collection)), model)

    assert model.calls == calls  # every item of both runs was already there
    assert again == summary


def test_the_rule_run_alone_needs_no_head_and_the_learned_run_does(tmp_path: Path) -> None:
    collection = tmp_path / "empty"
    collection.mkdir()

    plan = parse_plan(_argv(tmp_path, collection, "--runs", "rule"))
    assert set(plan.runs) == {"rule"}
    with pytest.raises(SystemExit, match="train-head"):
        run_round(parse_plan(_argv(tmp_path, collection)), CountingFake(_reply))


def test_the_round_passes_the_benchmarks_options_through(tmp_path: Path) -> None:
    collection = tmp_path / "round1"
    argv = _argv(tmp_path, collection, "--adapter", "a.safetensors", "--dtype", "float32")
    argv += ["--budgets", "1,4", "--compare-model", "qwen2.5-coder-1.5b"]

    plan = parse_plan(argv)

    rule, learned = plan.runs["rule"], plan.runs["learned"]
    assert rule.methods == ["greedy", "self_consistency", "beam", "mcts"]
    assert learned.methods == ["greedy", "beam", "mcts"]
    assert rule.budgets == learned.budgets == [1, 4]
    assert rule.formats == ["program"] and rule.families == ["chain_sum", "leg_counting"]
    assert learned.settings.scorer == "learned" and rule.settings.scorer == "calculation"
    assert learned.settings.value_head == str(collection / "head.npz")
    for config in (rule, learned):
        assert config.model_options == {"dtype": "float32", "adapter": "a.safetensors"}
        assert config.seed == 42 and config.items == 1
    assert rule.compare_model == "qwen2.5-coder-1.5b" and learned.compare_model is None
    later = parse_plan([*argv[:1], "1", *argv[2:]])  # the 1.5B does not change across rounds
    assert later.runs["rule"].compare_model is None
    assert plan.round_dir == tmp_path / "results" / "learning" / LABEL / "round0"


def test_methods_narrow_each_run_and_a_run_left_with_none_is_not_made(tmp_path: Path) -> None:
    collection = tmp_path / "round1"

    greedy_only = parse_plan(_argv(tmp_path, collection, "--methods", "greedy"))
    searches = parse_plan(_argv(tmp_path, collection, "--methods", "beam"))

    assert set(greedy_only.runs) == {"rule"}  # the learned run has no greedy of its own
    assert greedy_only.runs["rule"].methods == ["greedy"]
    assert searches.runs["rule"].methods == searches.runs["learned"].methods == ["greedy", "beam"]
    with pytest.raises(SystemExit, match="--methods takes"):
        parse_plan(_argv(tmp_path, collection, "--methods", "greedy,bogus"))
    with pytest.raises(SystemExit, match="has none of --methods"):
        parse_plan(_argv(tmp_path, collection, "--runs", "learned", "--methods", "greedy"))


def test_a_held_out_family_that_was_collected_is_refused(
    tmp_path: Path, fake_head: list[str | None]
) -> None:
    collection = _collection(tmp_path, "chain_sum", "leg_counting")

    with pytest.raises(SystemExit, match="held-out family"):
        run_round(parse_plan(_argv(tmp_path, collection)), CountingFake(_reply))
    with pytest.raises(SystemExit, match="both trained on and held out"):
        parse_plan([*_argv(tmp_path, collection), "--heldout-families", "chain_sum"])
    with pytest.raises(SystemExit, match="--runs"):
        parse_plan([*_argv(tmp_path, collection), "--runs", "oracle"])


def _part1(tmp_path: Path, *extra: str) -> Path:
    """A part-1 benchmark run on the fake (both greedy formats, the 1.5B's greedy)."""
    argv = [
        *("--items", "1", "--families", "chain_sum,leg_counting,basic_arithmetic"),
        *("--compare-model", "qwen2.5-coder-1.5b", "--budgets", "1,4"),
        *("--results-dir", str(tmp_path / "part1"), "--traces", str(tmp_path / "part1")),
        *extra,
    ]
    model = CountingFake(_reply, score_fn=_score)
    run_benchmark(parse_config(argv), model, compare=model)
    return tmp_path / "part1" / f"reasoning-{LABEL}.json"


def test_the_rule_run_takes_part_1s_records_and_runs_nothing_again(
    tmp_path: Path, fake_head: list[str | None]
) -> None:
    source = _part1(tmp_path)
    collection = _collection(tmp_path, "chain_sum")
    argv = _argv(tmp_path, collection, "--runs", "rule", "--reuse", str(source))
    plan = parse_plan([*argv, "--compare-model", "qwen2.5-coder-1.5b"])
    model = CountingFake(_reply, score_fn=_score)

    summary = run_round(plan, model, compare=model)

    assert model.calls == 0  # every record the rule run needs came from part 1
    _, theirs = load_records(source)
    _, taken = load_records(plan.runs["rule"].results_dir / f"reasoning-{LABEL}.json")
    wanted = [
        r
        for r in theirs
        if r.family in ("chain_sum", "leg_counting")
        and not (r.method == "greedy" and r.step_format == "prose")
    ]
    assert sorted(r.key for r in taken) == sorted(r.key for r in wanted)
    assert {r.method for r in taken} >= {"qwen2.5-coder-1.5b:greedy", "beam", "mcts"}
    (entry,) = summary["rounds"]
    assert entry["families"]["chain_sum"]["greedy"]["n"] == 1
    assert summary["compare_model"]["name"] == "qwen2.5-coder-1.5b"
    round_file = json.loads((plan.round_dir / "round.json").read_text())
    assert round_file["reuse"] == str(source)


def test_records_of_another_seed_or_code_are_not_taken(tmp_path: Path) -> None:
    source = _part1(tmp_path, "--seed", "7")
    collection = tmp_path / "empty"
    collection.mkdir()
    plan = parse_plan(_argv(tmp_path, collection, "--runs", "rule", "--reuse", str(source)))

    with pytest.raises(SystemExit, match=r"other seed=7 \(this run: 42\)"):
        run_round(plan, CountingFake(_reply, score_fn=_score))
    assert not (plan.runs["rule"].results_dir / f"reasoning-{LABEL}.json").exists()
    with pytest.raises(SystemExit, match="no benchmark results"):
        reuse_records(tmp_path / "none.json", plan.runs["rule"], tmp_path / "out.json")


def _cell(accuracy: float, n: int = 100, p: float | None = None) -> dict[str, Any]:
    cell: dict[str, Any] = {"accuracy": accuracy, "n": n, "ci95": [accuracy - 0.1, accuracy + 0.1]}
    cell["mean_generated_tokens"] = 50.0  # what the run file has besides
    if p is not None:
        cell["p_vs_greedy"] = p
    return cell


def _write_run(folder: Path, families: dict[str, Any], compare: str | None = None) -> None:
    folder.mkdir(parents=True)
    data: dict[str, Any] = {
        "model": LABEL,
        "compare_model": compare,
        "families": families,
        "records": [],
    }
    (folder / f"reasoning-{LABEL}.json").write_text(json.dumps(data))


def test_the_rounds_on_disk_are_gathered_into_the_issues_shape(tmp_path: Path) -> None:
    rounds = tmp_path / "learning" / LABEL
    rule0 = {
        "chain_sum": {
            "greedy": _cell(0.3),
            "self_consistency": _cell(0.4, p=0.2),
            "beam": _cell(0.35, p=0.5),
            "mcts": _cell(0.45, p=0.01),
            "oracle": _cell(0.8),
            "qwen2.5-coder-1.5b:greedy": _cell(0.5),
        },
        "leg_counting": {"greedy": _cell(0.2), "beam": _cell(0.25, p=0.3)},
    }
    _write_run(rounds / "round0" / "rule", rule0, compare="qwen2.5-coder-1.5b")
    learned0 = {
        "chain_sum": {"greedy": _cell(0.3), "beam": _cell(0.5, p=0.001), "mcts": _cell(0.5)}
    }
    _write_run(rounds / "round0" / "learned", learned0)
    _write_run(rounds / "round1" / "rule", {"chain_sum": {"greedy": _cell(0.4)}})
    for number in (0, 1):
        plan = {"heldout_families": ["leg_counting"], "families": ["chain_sum"]}
        (rounds / f"round{number}" / "round.json").write_text(json.dumps(plan))

    summary = write_summary(tmp_path, LABEL)

    assert summary == {
        "rounds": [
            {
                "round": 0,
                "families": {
                    "chain_sum": {
                        "greedy": _plain(0.3),
                        "search_rule": {**_plain(0.45), "p_vs_greedy": 0.01, "method": "mcts"},
                        "search_learned": {**_plain(0.5), "p_vs_greedy": 0.001, "method": "beam"},
                        "self_consistency": {**_plain(0.4), "p_vs_greedy": 0.2},
                    },
                    "leg_counting": {
                        "greedy": _plain(0.2),
                        "search_rule": {**_plain(0.25), "p_vs_greedy": 0.3, "method": "beam"},
                    },
                },
            },
            {"round": 1, "families": {"chain_sum": {"greedy": _plain(0.4)}}},
        ],
        "compare_model": {
            "name": "qwen2.5-coder-1.5b",
            "families": {"chain_sum": {"greedy": _plain(0.5)}},
        },
        "heldout_families": ["leg_counting"],
    }
    assert json.loads((tmp_path / f"learning-{LABEL}.json").read_text()) == summary
    assert (tmp_path / f"learning-{LABEL}.png").stat().st_size > 0
    table = render_rounds(summary)
    assert "search_rule (mcts)" in table and "leg_counting (held out)" in table
    assert "qwen2.5-coder-1.5b greedy" in table


def _plain(accuracy: float) -> dict[str, Any]:
    return {"accuracy": accuracy, "n": 100, "ci95": [accuracy - 0.1, accuracy + 0.1]}


def test_no_rounds_yet_gathers_to_an_empty_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = summarize_rounds(tmp_path, LABEL)

    assert summary == {"rounds": [], "compare_model": None, "heldout_families": []}
    assert main(["--report", "--results-dir", str(tmp_path), "--dtype", "float32"]) == 0
    assert "accuracy" in capsys.readouterr().out  # the table's header, no rows
    assert json.loads((tmp_path / f"learning-{LABEL}.json").read_text()) == summary
