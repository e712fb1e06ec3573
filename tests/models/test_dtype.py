"""dtype ``auto``: float32 on a CPU without native bfloat16, bfloat16 where the hardware has
it; the CPU's flags are faked (a cpuinfo file or a flag set), never assumed."""

from __future__ import annotations

from pathlib import Path

import pytest

from ponder.agents.core.errors import ConfigError
from ponder.agents.models.dtype import choose_dtype, cpu_flags, cpu_has_native_bf16

AVX2_EPYC = frozenset({"fpu", "sse2", "avx", "avx2", "fma", "f16c"})
SAPPHIRE_RAPIDS = AVX2_EPYC | {"avx512f", "avx512_bf16", "amx_tile", "amx_bf16"}


def _never(*_: object) -> bool:
    raise AssertionError("the GPU probe must not be asked about a CPU")


def test_auto_picks_float32_on_a_cpu_without_native_bfloat16() -> None:
    choice = choose_dtype("auto", "cpu", read_flags=lambda: AVX2_EPYC, cuda_bf16=_never)

    assert (choice.dtype, choice.decode_dtype) == ("float32", None)
    assert choice.label == "float32"
    assert "no native bfloat16" in choice.reason


def test_float32_prefill_with_a_bfloat16_decoder_is_an_opt_in() -> None:
    split = choose_dtype("float32+bfloat16", "cpu", read_flags=lambda: AVX2_EPYC)

    assert (split.dtype, split.decode_dtype, split.label) == (
        "float32",
        "bfloat16",
        "float32+bfloat16",
    )


def test_auto_picks_bfloat16_on_a_cpu_with_avx512_bf16_or_amx() -> None:
    choice = choose_dtype("auto", "cpu", read_flags=lambda: SAPPHIRE_RAPIDS, cuda_bf16=_never)
    amx_only = choose_dtype(
        "auto", "cpu", read_flags=lambda: AVX2_EPYC | {"amx_bf16"}, cuda_bf16=_never
    )

    assert choice.dtype == amx_only.dtype == "bfloat16"
    assert choice.decode_dtype is None and choice.label == "bfloat16"
    assert "amx_bf16" in choice.reason and "avx512_bf16" in choice.reason


def test_auto_on_cuda_asks_the_gpu() -> None:
    assert choose_dtype("auto", "cuda", cuda_bf16=lambda: True).dtype == "bfloat16"
    assert choose_dtype("auto", "cuda:1", cuda_bf16=lambda: False).dtype == "float16"


def test_a_forced_dtype_is_taken_as_given_and_an_unknown_one_is_refused() -> None:
    forced = choose_dtype("float32", "cpu", read_flags=lambda: AVX2_EPYC)
    assert (forced.dtype, forced.decode_dtype) == ("float32", None)
    assert choose_dtype("bfloat16", "cpu", read_flags=lambda: AVX2_EPYC).dtype == "bfloat16"
    assert choose_dtype("float32", "cuda", cuda_bf16=lambda: True).reason == "set explicitly"
    with pytest.raises(ConfigError, match="'half'"):
        choose_dtype("half", "cpu")


def test_flags_are_read_from_a_cpuinfo_file(tmp_path: Path) -> None:
    x86 = tmp_path / "x86"
    x86.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512_bf16\n\nprocessor\t: 1\n")
    arm = tmp_path / "arm"
    arm.write_text("processor\t: 0\nFeatures\t: fp asimd bf16 i8mm\n")

    assert cpu_flags(x86) == {"fpu", "avx2", "avx512_bf16"}
    assert cpu_has_native_bf16(cpu_flags(arm))[0]
    assert cpu_flags(tmp_path / "missing") is None


def test_without_readable_flags_torch_is_asked() -> None:
    assert cpu_has_native_bf16(None, torch_probe=lambda: True) == (
        True,
        "torch's CPU probe says native bfloat16 is present",
    )
    assert not cpu_has_native_bf16(None, torch_probe=lambda: False)[0]
    assert not cpu_has_native_bf16(AVX2_EPYC, torch_probe=_never)[0]  # flags win
