"""Settings choose the checker's stages and when a model deliberates."""

from __future__ import annotations

import pytest

from ponder.agents.models.testing import FunctionChatModel
from ponder.constitution import default_policy_path, load_policy
from ponder.graphs.assistant import make_checker
from ponder.graphs.settings import Settings
from ponder.knowledge.testing import HashingEmbedder


def _stages(settings: Settings) -> list[str]:
    policy = load_policy(default_policy_path())
    checker = make_checker(settings, policy, None, HashingEmbedder(), reload=False)
    return [matcher.stage for matcher in checker.matchers]


def test_settings_choose_the_stages() -> None:
    assert _stages(Settings(semantic=False, classifier=False)) == ["patterns"]
    assert _stages(Settings(semantic=True, classifier=False)) == ["patterns", "semantic"]
    assert _stages(Settings(semantic=True, classifier=True)) == [
        "patterns",
        "semantic",
        "classifier",
    ]
    assert _stages(Settings(semantic=False, classifier=True)) == ["patterns", "classifier"]


def test_classifier_threshold_comes_from_settings() -> None:
    policy = load_policy(default_policy_path())
    settings = Settings(classifier=True, classifier_threshold=0.9)
    checker = make_checker(settings, policy, None, HashingEmbedder(), reload=False)

    classifier = checker.matchers[-1]
    assert type(classifier).__name__ == "ClassifierMatcher"
    assert classifier.threshold == 0.9  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("deliberation", "asked", "deliberate"),
    [("off", False, "all"), ("uncertain", True, "uncertain"), ("all", True, "all")],
)
def test_deliberation_setting_decides_whether_the_model_judges(
    deliberation: str, asked: bool, deliberate: str
) -> None:
    model = FunctionChatModel(lambda m, n, s: ["x"] * n, score_fn=lambda m, c: -0.7)
    policy = load_policy(default_policy_path())
    settings = Settings(deliberation=deliberation)  # type: ignore[arg-type]

    checker = make_checker(settings, policy, model, None, reload=False)

    assert (checker.model is model) == asked and checker.deliberate == deliberate
