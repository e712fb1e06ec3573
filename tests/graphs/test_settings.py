"""load_settings: a YAML file under PONDER_* variables, with errors by file, line and field."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ponder.agents.core.errors import ConfigError
from ponder.graphs.settings import load_settings


@pytest.fixture(autouse=True)
def _no_ponder_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("PONDER_"):
            monkeypatch.delenv(name)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ponder.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _error(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    return str(caught.value)


def test_file_values_load(tmp_path: Path) -> None:
    path = _write(tmp_path, "reasoning:\n  algorithm: beam\n  samples: 3\n")

    settings = load_settings(path)

    assert (settings.reasoning.algorithm, settings.reasoning.samples) == ("beam", 3)


def test_empty_file_gives_the_defaults(tmp_path: Path) -> None:
    assert load_settings(_write(tmp_path, "")) == load_settings()


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path, "reasoning:\n  algorithm: beam\n  samples: 3\n")
    monkeypatch.setenv("PONDER_REASONING__SAMPLES", "7")

    settings = load_settings(path)

    assert (settings.reasoning.algorithm, settings.reasoning.samples) == ("beam", 7)


def test_unknown_key_names_its_line_and_suggests_the_field(tmp_path: Path) -> None:
    path = _write(tmp_path, "reasoning:\n  algorithm: beam\n  sample: 3\n")

    message = _error(path)

    assert f"{path}:3: field 'reasoning.sample': unknown field; did you mean 'samples'?" in message


def test_unknown_key_in_an_optional_section_suggests_the_field(tmp_path: Path) -> None:
    path = _write(tmp_path, "reasoning_model:\n  sorce: qwen\n")

    assert f"{path}:2: field 'reasoning_model.sorce': unknown field; did you mean 'source'?" in (
        _error(path)
    )


def test_bad_choice_names_its_line_and_value(tmp_path: Path) -> None:
    path = _write(tmp_path, "data_dir: .ponder\nreasoning:\n  algorithm: beem\n")

    message = _error(path)

    assert (
        f"{path}:3: field 'reasoning.algorithm': Input should be 'greedy', "
        "'self_consistency', 'beam' or 'mcts' (got 'beem')"
    ) in message


def test_duplicate_key_is_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "language_model:\n  backend: local\n  backend: openai\n")

    assert f"{path}:3: duplicate key 'backend'" in _error(path)


def test_yaml_syntax_error_names_its_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "data_dir: .ponder\nknowledge: {top_k: 3\nmax_revisions: 1\n")

    message = _error(path)

    assert f"{path}:3: YAML syntax error" in message
    assert "that starts at line 2" in message


def test_chunk_overlap_must_be_below_chunk_chars(tmp_path: Path) -> None:
    path = _write(tmp_path, "knowledge:\n  chunk_chars: 200\n  chunk_overlap: 200\n")

    message = _error(path)

    assert f"{path}:2: field 'knowledge': chunk_overlap (200) must be below chunk_chars (200)" in (
        message
    )


def test_every_problem_is_listed_in_line_order(tmp_path: Path) -> None:
    path = _write(tmp_path, "max_revisions: 9\nreasoning:\n  samples: 0\nverbose: true\n")

    message = _error(path)

    assert "has 3 problem(s)" in message
    listed = [line.strip() for line in message.splitlines()[1:]]
    assert [line.split(": ")[0] for line in listed] == [f"{path}:1", f"{path}:3", f"{path}:4"]


def test_missing_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yaml"

    assert f"{path}: no such file" in _error(path)


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    path = _write(tmp_path, "- data_dir: x\n")

    assert f"{path}:1: expected a mapping of setting names" in _error(path)


def test_bad_environment_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PONDER_REASONING__SAMPLES", "many")

    with pytest.raises(ConfigError) as caught:
        load_settings()

    message = str(caught.value)
    assert "set in the environment: PONDER_REASONING__SAMPLES" in message
    assert "field 'reasoning.samples': Input should be a valid integer" in message


def test_a_bad_secret_is_named_but_never_echoed(tmp_path: Path) -> None:
    path = tmp_path / "ponder.yaml"
    path.write_text("checkpoint_url: mysql://admin:hunter2@db/threads\nmax_revisions: 9\n")

    with pytest.raises(ConfigError) as error:
        load_settings(path)

    message = str(error.value)
    assert f"{path}:1: field 'checkpoint_url'" in message
    assert "hunter2" not in message
    assert "(got 9)" in message  # other fields still show what was given


def test_an_environment_variable_overrides_one_field_of_a_section_given_in_code(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ponder.graphs.settings import ReasoningSettings, Settings

    monkeypatch.setenv("PONDER_REASONING__SAMPLES", "2")

    settings = Settings(reasoning=ReasoningSettings(algorithm="beam", max_seconds=5))

    assert settings.reasoning.samples == 2
    assert (settings.reasoning.algorithm, settings.reasoning.max_seconds) == ("beam", 5)
