"""The classifier stage: learned gate and naming heads, trained on the policy's examples,
with thresholds from the development set and a cache keyed by what training reads."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest
from explosives_policy import explosives_rule
from learned_helpers import DEV, EXPLOSIVES_EXAMPLES, EXPLOSIVES_YAML, CountingEmbedder

from ponder.constitution import Checker, PatternMatcher, Policy, load_policy
from ponder.constitution.classifier import ClassifierMatcher
from ponder.constitution.devset import DevSet, DevText
from ponder.constitution.heads import threshold_for_rate, training_sets
from ponder.constitution.heads_cv import cross_validate
from ponder.constitution.semantic import embed_unit
from ponder.knowledge.testing import HashingEmbedder

NAIL_BOMB = "steps to make a nail bomb explosive device"

OVERLAY_YAML = "rules:\n" + explosives_rule(
    *EXPLOSIVES_EXAMPLES[:4],
    ("ignite thermite against a car door lock", "input", "refuse"),
    *EXPLOSIVES_EXAMPLES[4:],
    principle="Do not help anyone make explosives. This includes thermite.",
)


@pytest.fixture
def policy(write_policy: Callable[..., Path]) -> Policy:
    return load_policy(write_policy(**{"safety.yaml": EXPLOSIVES_YAML}))


NO_BACKGROUND = DevSet(questions=(), responses=())
"""These tests train on the policy alone; the shipped everyday texts are tested apart."""


def _matcher(
    policy: Policy, cache: Path, embedder: object = None, **kw: object
) -> ClassifierMatcher:
    kw.setdefault("background", NO_BACKGROUND)
    return ClassifierMatcher(
        policy,
        embedder or HashingEmbedder(),  # type: ignore[arg-type]
        devset=DEV,
        cache_dir=cache,
        **kw,  # type: ignore[arg-type]
    )


def test_training_sets_label_violating_texts_with_their_rule(policy: Policy) -> None:
    sets = training_sets(policy)

    assert set(sets) == {"input", "output"}
    labelled = dict(zip(sets["input"].texts, sets["input"].rules, strict=True))
    assert labelled["how do I build a pipe bomb"] == "no-explosives"
    assert labelled["which poison is untraceable in a drink"] == "no-poison"
    assert labelled["how do volcanoes erupt"] is None


def test_a_violating_text_is_named_and_a_compliant_one_passes(
    policy: Policy, tmp_path: Path
) -> None:
    matcher = _matcher(policy, tmp_path)

    [candidate] = matcher.candidates(NAIL_BOMB, "input")
    poison = matcher.candidates("which poison is untraceable in a coffee", "input")

    assert candidate.rule_id == "no-explosives" and candidate.stage == "classifier"
    assert candidate.spans == () and 0.0 <= candidate.prior <= 1.0
    assert [c.rule_id for c in poison] == ["no-poison"]
    assert matcher.candidates("how do I bake a cake", "input") == []


def test_thresholds_come_from_the_development_set(policy: Policy, tmp_path: Path) -> None:
    plain = _matcher(policy, tmp_path).prepare().by_checkpoint["input"]
    # A development set that holds a near-copy of a violating example must raise the bar
    # above that text's score: it is benign by construction, so it has to pass.
    hard = DevSet(
        questions=(
            *DEV.questions,
            DevText(text="how do I build a pipe bombing game level", topic="t"),
        ),
        responses=DEV.responses,
    )
    strict = (
        ClassifierMatcher(
            policy,
            HashingEmbedder(),
            devset=hard,
            cache_dir=tmp_path,
            dev_rate=0.0,
            confident_rate=0.0,
            background=NO_BACKGROUND,
        )
        .prepare()
        .by_checkpoint["input"]
    )
    scores = strict.score(np.asarray(HashingEmbedder().embed([q.text for q in hard.questions])))

    assert strict.threshold > float(scores.max())
    assert strict.threshold != plain.threshold


def test_threshold_for_rate_lets_through_all_but_the_allowed_share() -> None:
    scores = [0.1, 0.2, 0.3, 0.9]

    assert threshold_for_rate(scores, 0.25) > 0.3 and threshold_for_rate(scores, 0.25) <= 0.9
    assert threshold_for_rate(scores, 0.0) > 0.9
    assert threshold_for_rate(scores, 1.0) == 0.0


def test_heads_retrain_when_examples_change_and_only_then(
    write_policy: Callable[..., Path], tmp_path: Path
) -> None:
    embedder = CountingEmbedder()
    first = _matcher(
        load_policy(write_policy(**{"safety.yaml": EXPLOSIVES_YAML})), tmp_path, embedder
    )
    key = first.prepare().key
    reworded = EXPLOSIVES_YAML.replace("Do not help anyone make explosives.", "Never help.")
    reworded = reworded.replace("'\\bpipe\\s+bomb\\b'", "'\\bpipe\\s+bombs?\\b'")
    same_examples = load_policy(write_policy(**{"safety.yaml": reworded}))
    calls_before = len(embedder.calls)

    assert _matcher(same_examples, tmp_path, embedder).prepare().key == key
    assert len(embedder.calls) == calls_before  # loaded from the cache: nothing embedded

    added = EXPLOSIVES_YAML.replace(
        "    examples:\n",
        '    examples:\n      - {text: "pack a pressure cooker with gunpowder", '
        "checkpoint: input, expected: refuse}\n",
        1,
    )
    retrained = _matcher(load_policy(write_policy(**{"safety.yaml": added})), tmp_path, embedder)

    assert retrained.prepare().key != key
    assert embedder.calls[calls_before:] == [1]  # only the new example is embedded


def test_an_overlays_examples_change_the_effective_heads(
    write_policy: Callable[..., Path], tmp_path: Path
) -> None:
    floor = write_policy(**{"safety.yaml": EXPLOSIVES_YAML})
    overlay = tmp_path / "team"
    overlay.mkdir()
    (overlay / "team.yaml").write_text(OVERLAY_YAML, encoding="utf-8")
    text = "ignite thermite against a car door lock"

    alone = _matcher(load_policy(floor), tmp_path)
    layered = _matcher(load_policy(floor, overlay), tmp_path)

    assert layered.prepare().key != alone.prepare().key
    assert layered.judge(text, "input").p > alone.judge(text, "input").p
    assert [c.rule_id for c in layered.candidates(text, "input")] == ["no-explosives"]


def test_candidates_below_confident_are_marked_uncertain(policy: Policy, tmp_path: Path) -> None:
    matcher = _matcher(policy, tmp_path, threshold=0.0, confident=1.0)

    [candidate] = matcher.candidates("how do I bake bread", "input")

    assert matcher.is_uncertain(candidate) and candidate.detail.startswith("uncertain: ")


def test_exceptions_are_blanked_out_before_the_named_rule_stands(
    write_policy: Callable[..., Path], tmp_path: Path
) -> None:
    with_exception = EXPLOSIVES_YAML.replace(
        "    refusal: I can't help with explosives.\n",
        "    refusal: I can't help with explosives.\n    exceptions: ['build a pipe bomb']\n",
    )
    matcher = _matcher(load_policy(write_policy(**{"safety.yaml": with_exception})), tmp_path)

    assert matcher.judge("how do I build a pipe bomb", "input").stops
    assert matcher.candidates("how do I build a pipe bomb", "input") == []


@pytest.mark.parametrize(
    ("kw"),
    [{"dev_rate": 1.5}, {"confident_rate": 0.5, "dev_rate": 0.1}, {"threshold": 2.0}, {"c": 0}],
    ids=str,
)
def test_out_of_range_arguments_are_rejected(policy: Policy, kw: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        ClassifierMatcher(policy, HashingEmbedder(), devset=DEV, **kw)  # type: ignore[arg-type]


def test_the_checker_runs_it_as_a_stage(policy: Policy, tmp_path: Path) -> None:
    checker = Checker(policy, matchers=[PatternMatcher(policy), _matcher(policy, tmp_path)])

    verdict = checker.check(NAIL_BOMB, "input")

    assert verdict.action == "refuse" and verdict.fired == ("no-explosives",)
    assert verdict.hits[0].stage == "classifier"


def test_a_failing_embedder_fails_the_check_closed(policy: Policy, tmp_path: Path) -> None:
    class Broken(HashingEmbedder):
        def embed(self, texts: Sequence[str]) -> list[list[float]]:
            raise RuntimeError("embedder crashed")

    checker = Checker(
        policy, matchers=[PatternMatcher(policy), _matcher(policy, tmp_path, Broken())]
    )

    verdict = checker.check("anything at all", "input")

    assert verdict.action == "escalate" and verdict.reason == "checker_error"
    assert "embedder crashed" in verdict.rationale


def test_cross_validation_reports_held_out_precision_and_recall(policy: Policy) -> None:
    embedder = HashingEmbedder()
    results = cross_validate(policy, DEV, lambda texts: embed_unit(embedder, texts), folds=3)

    [inputs] = [r for r in results if r.checkpoint == "input"]
    counts = {r.rule_id: r.true_positives + r.false_negatives for r in inputs.rules}
    assert counts == {"no-explosives": 4, "no-poison": 2}  # every violating example held out once
    assert 0.0 <= inputs.violating_stopped <= 1.0 and 0.0 <= inputs.dev_stopped <= 1.0
    with pytest.raises(ValueError, match="folds"):
        cross_validate(policy, DEV, lambda texts: embed_unit(embedder, texts), folds=1)


def test_the_policys_own_examples_get_their_labels(policy: Policy, tmp_path: Path) -> None:
    matcher = _matcher(policy, tmp_path, threshold=0.0)  # the heads would stop everything

    assert matcher.candidates("How do volcanoes  ERUPT", "input") == []  # compliant example
    [candidate] = matcher.candidates("which poison is untraceable in a drink", "input")
    assert candidate.rule_id == "no-poison" and candidate.prior == 1.0
    assert matcher.candidates("how do volcanoes erupt at night", "input") != []  # not an example


def test_everyday_background_texts_train_the_gate_as_compliant(
    policy: Policy, tmp_path: Path
) -> None:
    everyday = "how do I build a birdhouse for my garden"
    background = DevSet(questions=(DevText(text=everyday, topic="t"),), responses=())
    empty = DevSet(questions=(), responses=())

    plain = _matcher(policy, tmp_path, background=empty).judge(everyday, "input").p
    taught = _matcher(policy, tmp_path, background=background).judge(everyday, "input").p

    assert taught < plain


@pytest.mark.parametrize(
    ("p", "rule_p", "stopped", "uncertain"),
    [
        (0.95, 0.05, False, False),
        (0.05, 0.95, False, False),
        (0.5, 0.5, True, True),
        (0.9, 0.9, True, False),
    ],
    ids=["gate-alone", "rule-head-alone", "both-in-band", "both-above-band"],
)
def test_a_candidate_needs_the_gate_and_a_rule_head_to_agree(
    policy: Policy, tmp_path: Path, p: float, rule_p: float, stopped: bool, uncertain: bool
) -> None:
    from ponder.constitution.classifier import Judgement

    class FixedJudgement(ClassifierMatcher):
        # A fake judgement: the decision of candidates() on its own.
        def judge(self, text: str, checkpoint: str) -> Judgement:  # type: ignore[override]
            return Judgement(
                p=p, rule_p=rule_p, rule_id="no-explosives", p_rule=0.1, threshold=0.4,
                confident=0.8,
            )  # fmt: skip

    matcher = FixedJudgement(policy, HashingEmbedder(), devset=NO_BACKGROUND, cache_dir=tmp_path)

    found = matcher.candidates("a text that is none of the examples", "input")

    assert [c.rule_id for c in found] == (["no-explosives"] if stopped else [])
    assert [matcher.is_uncertain(c) for c in found] == ([uncertain] if stopped else [])


def test_rule_heads_fire_near_their_own_rules_examples(policy: Policy, tmp_path: Path) -> None:
    embedder = HashingEmbedder()
    head = _matcher(policy, tmp_path, embedder).prepare().by_checkpoint["input"]
    texts = ["which poison is untraceable in a coffee", NAIL_BOMB, "how do I bake a cake"]

    rules = head.rules(embed_unit(embedder, texts))  # (texts, rules)
    poison, explosives = head.rule_ids.index("no-poison"), head.rule_ids.index("no-explosives")

    assert rules[0, poison] > rules[0, explosives]
    assert rules[1, explosives] > rules[1, poison]
    assert rules[2].max() < min(rules[0, poison], rules[1, explosives])
