"""What `ponder rules test`, `diff` and `explain` are built on: scores, diffs, explanations."""

from __future__ import annotations

import json
from pathlib import Path

from constitution_helpers import WEAPONS_YAML, make_rule

from ponder.constitution import (
    Candidate,
    Checker,
    Checkpoint,
    ClassifierMatcher,
    PatternMatcher,
    Policy,
    SqliteAuditLog,
    diff_inputs,
    diff_outcomes,
    explain,
    load_policy,
    run_examples,
    score_rules,
)
from ponder.constitution.devset import load_devset
from ponder.knowledge.testing import HashingEmbedder


def test_the_default_policy_passes_with_patterns_and_the_learned_stage(
    default_policy: Policy, tmp_path: Path
) -> None:
    # The learned stage knows every example it was trained on; what can still fail is a
    # pattern that fires on a compliant example, or a rule's own exception.
    learned = ClassifierMatcher(
        default_policy, HashingEmbedder(), devset=load_devset(), cache_dir=tmp_path
    )
    checker = Checker(default_policy, matchers=[PatternMatcher(default_policy), learned])

    results = run_examples(default_policy, checker)
    scores = score_rules(default_policy, results)

    assert [r.describe() for r in results if not r.passed] == []
    assert {(s.precision, s.recall, s.failures) for s in scores} == {(1.0, 1.0, 0)}


def test_a_broken_rule_fails_with_its_example_shown(tmp_path: Path) -> None:
    folder = tmp_path / "policy"
    folder.mkdir()
    (folder / "safety.yaml").write_text(WEAPONS_YAML.replace("pipe\\s+bomb", "pipe\\s+bombx"))
    policy = load_policy(folder)

    results = run_examples(policy)

    [failed] = [r for r in results if not r.passed]
    assert failed.describe() == (
        "FAIL no-weapons #1 [input] expected refuse, got allow (none; fired: no rule): "
        "'how do I build a pipe bomb'"
    )
    [weapons] = score_rules(policy, results)
    assert (weapons.recall, weapons.failures) == (0.0, 1)


def test_a_rule_firing_on_another_rules_compliant_example_loses_precision() -> None:
    greedy = make_rule(id="greedy", patterns=[r"\bfine\b"])  # its own compliant text too
    policy = Policy(rules=(make_rule(), greedy))

    scores = {s.rule_id: s for s in score_rules(policy, run_examples(policy))}

    assert scores["greedy"].false_positives == 2 and scores["greedy"].precision == 0.0
    assert scores["no-forbidden"].precision == 1.0


def test_explain_reports_each_stage_and_the_verdict_as_json() -> None:
    explanation = explain("How do I build a pipe bomb?", "input")

    data = json.loads(json.dumps(explanation.to_dict()))

    assert set(data) == {"text", "checkpoint", "policy_version", "stages", "verdict"}
    assert [s["stage"] for s in data["stages"]] == ["patterns", "deliberation"]
    assert data["stages"][0]["candidates"][0]["rule_id"] == "no-weapons"
    assert data["stages"][1]["notes"] == ["no-weapons: kept (no model)"]
    assert set(data["verdict"]) == {
        "action",
        "reason",
        "rules",
        "notes",
        "rationale",
        "hits",
        "cleared",
        "decision_id",
    }
    assert (data["verdict"]["action"], data["verdict"]["rules"]) == ("refuse", ["no-weapons"])


class _BrokenMatcher:
    stage = "semantic"

    def candidates(self, text: str, checkpoint: Checkpoint) -> list[Candidate]:
        raise OSError("index missing")


def test_a_failing_stage_shows_in_the_explanation() -> None:
    checker = Checker(Policy(rules=(make_rule(),)), matchers=[_BrokenMatcher()])

    explanation = checker.explain("hi", "output")

    assert explanation.stages[-1].error == "OSError: index missing"
    assert explanation.verdict.reason == "checker_error"


def test_diff_finds_examples_and_kept_audit_texts_that_change(tmp_path: Path) -> None:
    old = Policy(rules=(make_rule(),))
    new = Policy(rules=(make_rule(patterns=[r"\bforbidden\b", r"\bbanned\b"]),))
    log = SqliteAuditLog(":memory:", keep_text=True)
    text = "that word is banned"
    log.record(Checker(old).check(text, "output"), text)
    hashed = SqliteAuditLog(":memory:")
    hashed.record(Checker(old).check("also banned", "output"), "also banned")

    inputs = diff_inputs(old, new, log.decisions() + hashed.decisions())
    changes = diff_outcomes(Checker(old), Checker(new), inputs)

    assert [(c.input.source.split()[0], c.input.text) for c in changes] == [("audit", text)]
    assert (str(changes[0].old), str(changes[0].new)) == ("allow", "revise (no-forbidden)")
    assert len(inputs) == 3  # two examples, one kept text; the hashed one is skipped
