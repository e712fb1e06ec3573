"""LoRA adapter files on a tiny fake model: saved, read, checked against the base weights'
digest, and merged into a copy (the base left as it was). No real weights anywhere."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import torch
from peft import LoraConfig, get_peft_model, get_peft_model_state_dict
from safetensors.torch import save_file

from ponder.agents.core.errors import ConfigError
from ponder.agents.models.adapters import (
    AdapterError,
    apply_adapter,
    policy_sha256,
    read_adapter,
    save_adapter,
    weights_sha256,
)

BASE_SHA = "a" * 64
LORA: dict[str, Any] = {"r": 2, "lora_alpha": 4, "target_modules": ["proj"]}


class TinyFakeModel(torch.nn.Module):
    """A fake base model: one projection for LoRA to adapt, one it leaves alone."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.proj = torch.nn.Linear(4, 4)
        self.out = torch.nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(torch.tanh(self.proj(x)))  # type: ignore[no-any-return]


def _trained(base: TinyFakeModel) -> Any:
    """A LoRA-wrapped copy whose update is not zero (as after training)."""
    peft_model = get_peft_model(copy.deepcopy(base), LoraConfig(**LORA))
    with torch.no_grad():
        for name, parameter in peft_model.named_parameters():
            if "lora_B" in name:
                parameter.copy_(torch.full_like(parameter, 0.5))
    peft_model.eval()
    return peft_model


def _write(path: Path, base: TinyFakeModel, base_sha256: str = BASE_SHA) -> Any:
    peft_model = _trained(base)
    save_adapter(
        path,
        get_peft_model_state_dict(peft_model),
        base="tiny-fake",
        base_sha256=base_sha256,
        lora=LORA,
        trained={"chains": 3, "final_loss": 0.25},
    )
    return peft_model


def test_a_good_adapter_loads_merged_into_a_copy(tmp_path: Path) -> None:
    base = TinyFakeModel()
    trained = _write(tmp_path / "tiny.safetensors", base)
    x = torch.randn(3, 4)
    before = base(x).detach().clone()

    adapter = read_adapter(tmp_path / "tiny.safetensors")
    merged = apply_adapter(base, adapter, base_sha256=BASE_SHA, base="tiny-fake")  # type: ignore[arg-type]

    assert adapter.base == "tiny-fake" and adapter.base_sha256 == BASE_SHA
    assert adapter.lora["r"] == 2 and adapter.trained == {"chains": 3, "final_loss": 0.25}
    assert not merged.training
    assert torch.allclose(merged(x), trained(x), atol=1e-5)
    assert not torch.allclose(merged(x), before, atol=1e-3)  # the update changed the model
    assert torch.equal(base(x), before)  # the shared base weights are untouched


def test_an_adapter_trained_on_other_weights_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.safetensors"
    _write(path, TinyFakeModel(), base_sha256="b" * 64)

    with pytest.raises(AdapterError) as refused:
        apply_adapter(TinyFakeModel(), read_adapter(path), base_sha256=BASE_SHA, base="tiny-base")  # type: ignore[arg-type]

    message = str(refused.value)
    assert str(path) in message and "was trained on tiny-fake" in message
    assert "bbbbbbbbbbbbbbbb" in message and "not on tiny-base (aaaaaaaaaaaaaaaa" in message
    assert "ponder learn finetune" in message
    assert isinstance(refused.value, ConfigError)


def test_a_missing_adapter_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "adapter.safetensors"

    with pytest.raises(AdapterError, match="ponder learn finetune") as error:
        read_adapter(missing)

    assert f"adapter {missing} not found" in str(error.value)


def test_files_that_are_not_ponder_adapters_are_refused(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"not a safetensors file at all")
    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(2)}, str(foreign), metadata={"format": "pt"})

    with pytest.raises(AdapterError, match="not a safetensors adapter file") as damaged:
        read_adapter(garbage)
    with pytest.raises(AdapterError, match=re.escape("is not 'ponder.lora_adapter/1'")) as other:
        read_adapter(foreign)

    assert str(garbage) in str(damaged.value) and str(foreign) in str(other.value)


def test_an_adapter_that_does_not_fit_the_model_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "tiny.safetensors"
    _write(path, TinyFakeModel())

    class OtherFakeModel(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.proj = torch.nn.Linear(4, 8)  # same name, other shape

    with pytest.raises(AdapterError, match="does not fit other") as error:
        apply_adapter(OtherFakeModel(), read_adapter(path), base_sha256=BASE_SHA, base="other")  # type: ignore[arg-type]

    assert str(path) in str(error.value)


def test_the_policy_digest_names_base_and_adapter(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"weights")
    (folder / "config.json").write_text("{}")
    adapter = tmp_path / "a.safetensors"
    _write(adapter, TinyFakeModel())
    other = tmp_path / "b.safetensors"
    _write(other, TinyFakeModel(), base_sha256="c" * 64)

    base = weights_sha256(str(folder))

    assert policy_sha256(str(folder)) == base
    assert policy_sha256(str(folder), adapter) not in (base, policy_sha256(str(folder), other))
    assert policy_sha256(str(folder), adapter) == policy_sha256(str(folder), adapter)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="holds no weight files"):
        weights_sha256(str(tmp_path / "empty"))


def test_an_adapter_for_modules_the_model_lacks_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "tiny.safetensors"
    _write(path, TinyFakeModel())

    class NoProjFakeModel(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.out = torch.nn.Linear(4, 2)

    with pytest.raises(AdapterError, match="does not fit nothing-to-adapt") as error:
        apply_adapter(
            NoProjFakeModel(), read_adapter(path), base_sha256=BASE_SHA, base="nothing-to-adapt"
        )  # type: ignore[arg-type]

    assert str(path) in str(error.value)
