"""Settings choose the checker's stages."""

from __future__ import annotations

from ponder.constitution import default_policy_path, load_policy
from ponder.graphs.assistant import make_checker
from ponder.graphs.settings import Settings
from ponder.knowledge.testing import HashingEmbedder


def _stages(settings: Settings) -> list[str]:
    policy = load_policy(default_policy_path())
    checker = make_checker(settings, policy, None, HashingEmbedder(), reload=False)
    stages = checker.explain("What is a bath bomb?", "input").stages
    return [report.stage for report in stages if report.stage != "deliberation"]


def test_the_classifier_stage_runs_only_when_asked() -> None:
    assert _stages(Settings()) == ["patterns", "semantic"]  # given an embedder
    assert _stages(Settings(semantic=True, classifier=True)) == [
        "patterns",
        "semantic",
        "classifier",
    ]


def test_classifier_threshold_comes_from_settings() -> None:
    policy = load_policy(default_policy_path())
    settings = Settings(semantic=True, classifier=True, classifier_threshold=0.9)
    checker = make_checker(settings, policy, None, HashingEmbedder(), reload=False)

    classifier = checker.matchers[-1]
    assert type(classifier).__name__ == "ClassifierMatcher"
    assert classifier.threshold == 0.9  # type: ignore[attr-defined]
