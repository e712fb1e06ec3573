"""``adapter:`` in a model's settings: a LoRA adapter file (``ponder learn finetune``)
reaches the local model that loads it, and a remote backend, which cannot load it, is
refused with an error naming the field. Nothing here loads weights (a local model loads
lazily, at its first call)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ponder.agents.core.errors import ConfigError
from ponder.agents.learning.head import find_head
from ponder.agents.models.adapters import policy_sha256
from ponder.agents.models.local import LocalModel
from ponder.graphs.parts_from_settings import make_model
from ponder.graphs.settings import Settings, load_settings


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PONDER_LANGUAGE_MODEL__ADAPTER", raising=False)
    monkeypatch.delenv("PONDER_LANGUAGE_MODEL__BACKEND", raising=False)


def test_the_adapter_parses_from_a_settings_file_and_defaults_to_none(tmp_path) -> None:
    path = tmp_path / "ponder.yaml"
    path.write_text(
        "language_model: {source: qwen2.5-coder-0.5b, adapter: learning/r0/adapter.safetensors}\n"
    )

    settings = load_settings(path)

    assert settings.language_model.adapter == "learning/r0/adapter.safetensors"
    assert Settings().language_model.adapter is None


def test_the_adapter_comes_from_the_environment_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PONDER_LANGUAGE_MODEL__ADAPTER", "/models/a.safetensors")

    assert Settings().language_model.adapter == "/models/a.safetensors"


def test_the_adapter_reaches_the_local_model_built_from_settings() -> None:
    settings = Settings(language_model={"adapter": "learning/r0/adapter.safetensors"})

    model = make_model(settings.language_model)

    assert isinstance(model, LocalModel)
    assert model.adapter == "learning/r0/adapter.safetensors"
    assert model.name == "smollm2-135m+adapter"  # the adapter shows in the model's name


def test_no_adapter_leaves_the_local_model_on_its_base_weights() -> None:
    model = make_model(Settings().language_model)

    assert isinstance(model, LocalModel) and model.adapter is None


def test_an_adapter_for_a_remote_server_is_refused_at_load_naming_file_line_and_field(
    tmp_path,
) -> None:
    path = tmp_path / "ponder.yaml"
    path.write_text(
        "data_dir: .ponder\n"
        "reasoning_model:\n"
        "  backend: openai\n"
        "  source: Qwen/Qwen2.5-7B-Instruct\n"
        "  adapter: adapter.safetensors\n"
    )

    with pytest.raises(ConfigError) as error:
        load_settings(path)

    message = str(error.value)
    assert f"{path}:5: field 'reasoning_model.adapter'" in message
    assert "backend: local" in message


def test_make_model_refuses_a_remote_adapter_that_skipped_validation() -> None:
    # model_copy(update=...) does not validate, as `ponder rules` uses it.
    remote = Settings().language_model.model_copy(
        update={"backend": "openai", "adapter": "adapter.safetensors"}
    )

    with pytest.raises(ConfigError, match=r"field 'adapter'.*backend: local"):
        make_model(remote)


def _readme_learning_blocks() -> list[str]:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", readme, flags=re.DOTALL)
    return [b for b in blocks if "adapter:" in b and "scorer: learned" in b]


def test_the_readmes_learning_settings_load(tmp_path) -> None:
    trained, _ = _readme_learning_blocks()
    path = tmp_path / "ponder.yaml"
    path.write_text(trained)

    settings = load_settings(path)

    assert settings.language_model.adapter == "learning/round0/adapter.safetensors"
    assert settings.reasoning.scorer == "learned" and settings.reasoning.value_head


def test_the_readmes_shipped_policy_settings_find_the_shipped_adapter_and_its_head(
    tmp_path,
) -> None:
    _, shipped = _readme_learning_blocks()
    path = tmp_path / "ponder.yaml"
    path.write_text(shipped)

    settings = load_settings(path)
    model = make_model(settings.language_model)

    assert isinstance(model, LocalModel) and model.adapter is not None
    assert Path(model.adapter).is_file()  # the packaged file, resolved from its name
    assert settings.reasoning.scorer == "learned" and settings.reasoning.value_head is None
    head = find_head(policy_sha256(model.source, model.adapter))
    assert head is not None and head.name == "qwen2.5-coder-0.5b-round1.npz"
