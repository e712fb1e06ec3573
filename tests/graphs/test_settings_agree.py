"""Each option has one default: settings, the engine's values and the parts agree.

An option is declared once (see ``docs/architecture.md``); these tests fail when a second
declaration creeps back in with a default of its own.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
from collections.abc import Callable
from dataclasses import MISSING
from typing import Any

import pytest

from ponder.agents.compose import AnswerPlan, compose
from ponder.agents.models.local import LocalModel
from ponder.agents.models.openai_model import OpenAIModel
from ponder.agents.reasoning import ALGORITHMS, Budget, ReasoningConfig
from ponder.agents.reasoning.proposer import ChainProposer, ModelProposer
from ponder.constitution import SemanticMatcher
from ponder.graphs.nodes import Parts
from ponder.graphs.release import ReleasePlan
from ponder.graphs.settings import AnswerSettings, ReasoningSettings, ReleaseSettings, Settings
from ponder.knowledge import ingest
from ponder.knowledge.chunking import chunk_text


@pytest.fixture
def defaults(monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name in list(os.environ):
        if name.upper().startswith("PONDER_"):
            monkeypatch.delenv(name)
    return Settings()


def _defaults(cls: type) -> dict[str, Any]:
    return {f.name: getattr(cls(), f.name) for f in dataclasses.fields(cls)}


def test_every_reasoning_option_has_one_default_from_budget_to_settings(defaults) -> None:
    budget, config = _defaults(Budget), _defaults(ReasoningConfig)
    section = dataclasses.asdict(defaults.reasoning)

    assert budget.items() <= config.items()
    assert {**config, "trace_path": None} == section
    assert ReasoningConfig().budget == Budget()


def _declared(cls: type) -> dict[str, dataclasses.Field[Any]]:
    return dict(cls.__dataclass_fields__)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("declaration", "section"),
    [
        (Budget, ReasoningConfig),
        (ReasoningConfig, ReasoningSettings),
        (ReleasePlan, ReleaseSettings),
        (AnswerPlan, AnswerSettings),
    ],
)
def test_each_layer_inherits_the_declarations_instead_of_copying_them(declaration, section):
    declared, inherited = _declared(declaration), _declared(section)

    # The very same field objects: a redeclared field would bring a default of its own.
    assert all(inherited[name] is field for name, field in declared.items())


def test_the_release_plan_defaults_are_the_settings(defaults) -> None:
    assert dataclasses.asdict(defaults.release) == _defaults(ReleasePlan)


def test_the_answer_plan_defaults_are_the_settings(defaults) -> None:
    assert dataclasses.asdict(defaults.answers) == _defaults(AnswerPlan)


def test_parts_carry_the_settings_and_no_option_defaults_of_their_own() -> None:
    with_defaults = {
        f.name
        for f in dataclasses.fields(Parts)
        if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
    }

    assert with_defaults == {"audit"}  # a part that may be absent, not an option
    assert Parts.__dataclass_fields__["settings"].type in ("Settings", Settings)


def test_algorithm_names_are_declared_once(tmp_path) -> None:
    from ponder.agents.core.errors import ConfigError
    from ponder.graphs.settings import load_settings

    path = tmp_path / "ponder.yaml"
    path.write_text("reasoning:\n  algorithm: dfs\n")

    with pytest.raises(ConfigError) as error:
        load_settings(path)

    assert ", ".join(repr(name) for name in ALGORITHMS[:-1]) in str(error.value)
    with pytest.raises(
        ValueError, match="unknown algorithm 'dfs'; choose one of " + ", ".join(ALGORITHMS)
    ):
        ReasoningConfig(algorithm="dfs")  # type: ignore[arg-type]


def _parameter_default(function: Callable[..., Any], name: str) -> Any:
    return inspect.signature(function).parameters[name].default


# A library default that a setting feeds: (setting, function, its parameter).
FED = [
    (lambda s: s.semantic_threshold, SemanticMatcher.__init__, "threshold"),
    (lambda s: s.semantic_margin, SemanticMatcher.__init__, "margin"),
    (lambda s: s.knowledge.chunk_chars, chunk_text, "max_chars"),
    (lambda s: s.knowledge.chunk_overlap, chunk_text, "overlap"),
    (lambda s: s.knowledge.chunk_chars, ingest, "max_chars"),
    (lambda s: s.knowledge.chunk_overlap, ingest, "overlap"),
    (lambda s: s.max_answer_tokens, compose, "max_tokens"),
    (lambda s: s.language_model.timeout_s, OpenAIModel.__init__, "timeout_s"),
    (lambda s: s.language_model.adapter, LocalModel.__init__, "adapter"),
]


@pytest.mark.parametrize(("setting", "function", "parameter"), FED)
def test_library_defaults_equal_the_settings_that_feed_them(
    defaults, setting, function, parameter
) -> None:
    assert _parameter_default(function, parameter) == setting(defaults)


@pytest.mark.parametrize("proposer", [ModelProposer, ChainProposer])
def test_a_proposer_built_on_its_own_samples_as_the_reasoning_settings_say(
    defaults, proposer
) -> None:
    section = dataclasses.asdict(defaults.reasoning)
    shared = {
        f.name: f.default
        for f in dataclasses.fields(proposer)
        if f.name in section and f.name not in PROPOSER_OWN and f.default is not MISSING
    }

    # Step or chain length, seed and step format, each with the settings' value.
    assert {"seed", "step_format"} < shared.keys()
    assert len(shared) == 3
    assert shared == {name: section[name] for name in shared}


# The one reasoning option whose proposer default differs: tests of the proposer on its own
# pin 0.8 (tests/reasoning/test_model_proposer.py); the engine always passes its 0.7.
PROPOSER_OWN = {"temperature"}


def test_errors_in_a_section_declared_by_the_engine_name_the_line_and_field(tmp_path) -> None:
    from ponder.agents.core.errors import ConfigError
    from ponder.graphs.settings import load_settings

    path = tmp_path / "ponder.yaml"
    path.write_text("release:\n  chunk_char: 300\nreasoning:\n  max_depth: 0\n")

    with pytest.raises(ConfigError) as error:
        load_settings(path)

    message = str(error.value)
    assert f"{path}:2: field 'release.chunk_char': unknown field; did you mean 'chunk_chars'?" in (
        message
    )
    assert f"{path}:4: field 'reasoning.max_depth': Input should be greater than or equal to 1" in (
        message
    )
