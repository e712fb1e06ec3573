"""Merging reasoning-benchmark runs of different families."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest

from bench.reasoning_merge import main, merge
from bench.reasoning_report import Record, summarize


def _run(family: str, solved: list[bool], *, model: str = "m") -> dict:
    records = [
        Record(
            family=family,
            index=i,
            method=method,
            step_format="program",
            budget=budget,
            budget_tokens=None if budget is None else 40,
            answer="1",
            reward=1.0 if ok else 0.0,
            oracle=ok,
            leaves=1,
            tokens=10,
            scorer_tokens=0,
            expansions=1,
            seconds=0.1,
        )
        for i, ok in enumerate(solved)
        for method, budget in (("greedy", None), ("beam", 4))
    ]
    return {
        "model": model,
        "seed": 42,
        "settings": {"beam_width": 2},
        "step_format": "program",
        "budgets": [1, 4],
        "items": {family: len(solved)},
        "complete": True,
        "runtime": {"seconds": 5.0},
        **summarize(records, "program"),
        "records": [asdict(r) for r in records],
    }


def test_runs_of_different_families_merge_into_one_table() -> None:
    merged, records = merge([_run("a", [True, False]), _run("b", [True])])

    assert set(merged["families"]) == {"a", "b"}
    assert merged["families"]["a"]["greedy"]["accuracy"] == 0.5
    assert merged["families"]["b"]["beam"]["n"] == 1
    assert merged["items"] == {"a": 2, "b": 1}
    assert len(records) == 6 and merged["complete"]


def test_a_run_stopped_early_counts_only_the_families_it_recorded() -> None:
    stopped = _run("a", [True])
    stopped["items"]["b"] = 0  # listed, never reached
    stopped["complete"] = False

    merged, _ = merge([stopped, _run("b", [False])])

    assert merged["families"]["b"]["greedy"]["accuracy"] == 0.0
    assert not merged["complete"]


def test_runs_that_overlap_or_differ_in_model_are_refused() -> None:
    with pytest.raises(ValueError, match="family 'a'"):
        merge([_run("a", [True]), _run("a", [False])])
    with pytest.raises(ValueError, match="models"):
        merge([_run("a", [True]), _run("b", [True], model="other")])


def test_the_command_writes_json_and_plot(tmp_path, capsys) -> None:
    paths = []
    for family in ("a", "b"):
        path = tmp_path / f"{family}.json"
        path.write_text(json.dumps(_run(family, [True, True])))
        paths.append(str(path))
    out = tmp_path / "merged.json"

    assert main([*paths, "--out", str(out)]) == 0

    assert set(json.loads(out.read_text())["families"]) == {"a", "b"}
    assert out.with_suffix(".png").stat().st_size > 0
    assert "greedy" in capsys.readouterr().out
