"""The adapter that ships (the 0.5B preset after one round of expert iteration): named in
settings by its name, recorded against the preset's pinned weights, with its own value
head found by the policy's digest. Nothing here loads model weights."""

from __future__ import annotations

from pathlib import Path

import pytest

from ponder.agents.core.errors import ConfigError
from ponder.agents.learning.adapters import (
    ADAPTERS_DIR,
    AdapterNotFound,
    resolve_adapter,
    shipped_adapters,
)
from ponder.agents.learning.head import HEADS_DIR, ValueHead, find_head
from ponder.agents.models.adapters import policy_sha256, read_adapter, weights_sha256
from ponder.agents.models.local import LocalModel
from ponder.graphs.parts_from_settings import make_model
from ponder.graphs.settings import Settings

SHIPPED = "qwen2.5-coder-0.5b-round1"


def test_the_shipped_adapter_is_recorded_against_the_presets_pinned_weights() -> None:
    assert SHIPPED in shipped_adapters()
    adapter = read_adapter(shipped_adapters()[SHIPPED])

    assert adapter.base_sha256 == weights_sha256("qwen2.5-coder-0.5b")  # the pinned digest
    assert adapter.tensors and adapter.lora["r"] >= 1
    assert adapter.path.stat().st_size < 5_000_000  # a small file, as the issue asks


def test_the_shipped_adapters_policy_has_its_own_shipped_head() -> None:
    policy = policy_sha256("qwen2.5-coder-0.5b", ADAPTERS_DIR / f"{SHIPPED}.safetensors")

    path = find_head(policy)

    assert path == HEADS_DIR / f"{SHIPPED}.npz"
    head = ValueHead.load(path)
    assert head.meta.policy_sha256 == policy
    assert head.meta.policy_sha256 != weights_sha256("qwen2.5-coder-0.5b")  # not the base's


def test_a_shipped_name_resolves_to_the_package_file() -> None:
    assert resolve_adapter(SHIPPED) == str(ADAPTERS_DIR / f"{SHIPPED}.safetensors")


def test_a_file_wins_over_a_shipped_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / SHIPPED).write_bytes(b"mine")

    assert resolve_adapter(SHIPPED) == SHIPPED


def test_a_path_not_written_yet_passes_through_for_the_model_to_name_at_load() -> None:
    assert resolve_adapter("learning/round9/adapter.safetensors") == (
        "learning/round9/adapter.safetensors"
    )


def test_a_misspelt_name_is_refused_naming_the_shipped_ones(tmp_path: Path) -> None:
    with pytest.raises(AdapterNotFound, match=rf"'qwen-round1'.*shipped: {SHIPPED}"):
        resolve_adapter("qwen-round1")
    with pytest.raises(AdapterNotFound, match="shipped: none"):
        resolve_adapter("qwen-round1", folder=tmp_path)


def test_settings_name_the_shipped_adapter_and_the_model_gets_its_file() -> None:
    settings = Settings(language_model={"source": "qwen2.5-coder-0.5b", "adapter": SHIPPED})

    model = make_model(settings.language_model)

    assert isinstance(model, LocalModel)
    assert model.adapter == str(ADAPTERS_DIR / f"{SHIPPED}.safetensors")


def test_a_misspelt_adapter_in_settings_is_a_config_error_naming_the_field() -> None:
    settings = Settings(language_model={"adapter": "qwen-round1"})

    with pytest.raises(ConfigError, match=r"field 'adapter'.*'qwen-round1'.*shipped"):
        make_model(settings.language_model)
