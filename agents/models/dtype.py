"""Which dtype a local model runs in: chosen from the hardware, never assumed.

Reading a prompt (prefill) is a run of large matrix products: on a CPU without native
bfloat16 instructions torch emulates them, and prefill is 4-7x slower in bfloat16 than
in float32. Writing the answer (decode) reads every weight once per token and is bound
by memory traffic, where bfloat16's half-size weights win a little back (both measured
with ``make bench-model`` on a 2-core AVX2 EPYC, SmolLM2-135M and Qwen2.5-Coder-0.5B).
So ``auto`` picks:

- ``cuda``: bfloat16 where the GPU supports it, else float16;
- ``cpu`` with native bfloat16 (AVX-512 BF16 or AMX on x86, the ``bf16`` feature on
  Arm): bfloat16;
- any other CPU: float32.

``float32+bfloat16`` (opt-in) reads prompts with float32 weights and writes tokens with
a second, bfloat16 copy, casting the prompt's KV cache once between them: faster decode
for half again the memory. It is not the default because the cast changes greedy
outputs: a prompt continued from a cast cache is not token-for-token what a full
re-read gives, and SmolLM2-135M's answers got measurably worse (the test suite's
"capital of France" answer lost "Paris"). A forced dtype (``float32``, ``bfloat16``,
``float16``) is used for both phases.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from ponder.agents.core.errors import ConfigError

__all__ = [
    "BF16_CPU_FLAGS",
    "DtypeChoice",
    "DtypeName",
    "check_dtype_name",
    "choose_dtype",
    "cpu_flags",
    "cpu_has_native_bf16",
]

logger = logging.getLogger(__name__)

DtypeName = Literal["auto", "float32", "bfloat16", "float16", "float32+bfloat16"]
"""A dtype setting: ``auto``, a forced torch dtype name, or ``float32+bfloat16`` (float32
prefill, a bfloat16 copy for decode)."""

SPLIT = "float32+bfloat16"

BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16", "bf16"})
"""CPU flags (as ``/proc/cpuinfo`` spells them) of native bfloat16 arithmetic: x86's
AVX-512 BF16 and AMX-BF16, Arm's BF16 extension."""

_CPUINFO = Path("/proc/cpuinfo")


@dataclass(frozen=True, kw_only=True)
class DtypeChoice:
    """A resolved dtype and why it was chosen (logged at load)."""

    dtype: Literal["float32", "bfloat16", "float16"]
    """The torch dtype name of the weights that read prompts (and score)."""
    reason: str
    """One line saying why, for the load log."""
    decode_dtype: Literal["float32", "bfloat16", "float16"] | None = None
    """The dtype of a second copy of the weights that writes new tokens; None: the
    same weights do both."""

    @property
    def label(self) -> str:
        """``float32``, or ``float32+bfloat16`` for prefill and decode in two dtypes."""
        return f"{self.dtype}+{self.decode_dtype}" if self.decode_dtype else self.dtype


def cpu_flags(cpuinfo: Path = _CPUINFO) -> frozenset[str] | None:
    """The feature flags of the first CPU in ``cpuinfo``.

    Args:
        cpuinfo: The file to read (Linux's ``/proc/cpuinfo``; a test passes its own).

    Returns:
        The flags (x86 ``flags`` or Arm ``Features`` line), or None when the file is
        missing or has no such line (not Linux).
    """
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return None


def _torch_reports_bf16() -> bool:
    """torch's own CPU probe, for systems without ``/proc/cpuinfo``."""
    import torch

    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in probes)


def cpu_has_native_bf16(
    flags: frozenset[str] | None, torch_probe: Callable[[], bool] = _torch_reports_bf16
) -> tuple[bool, str]:
    """Whether a CPU computes in bfloat16 natively, and the evidence.

    Args:
        flags: The CPU's flags (:func:`cpu_flags`); None when they could not be read.
        torch_probe: Asked only when there are no flags.

    Returns:
        The answer and a few words naming what decided it.
    """
    if flags is None:
        found = torch_probe()
        return (
            found,
            f"torch's CPU probe says native bfloat16 is {'present' if found else 'absent'}",
        )
    native = sorted(flags & BF16_CPU_FLAGS)
    if native:
        return True, f"the CPU has native bfloat16 ({', '.join(native)})"
    return False, "the CPU has no native bfloat16 (no avx512_bf16, amx_bf16 or bf16 flag)"


def _cuda_bf16() -> bool:
    import torch

    return bool(torch.cuda.is_bf16_supported())


def check_dtype_name(name: str) -> None:
    """Refuse a dtype setting that is not ``auto`` or one of the three dtype names.

    Raises:
        ConfigError: Naming the value and the accepted ones.
    """
    if name not in get_args(DtypeName):
        raise ConfigError(f"dtype must be one of {', '.join(get_args(DtypeName))}, got {name!r}")


def choose_dtype(
    requested: str,
    device: str,
    *,
    read_flags: Callable[[], frozenset[str] | None] = cpu_flags,
    cuda_bf16: Callable[[], bool] = _cuda_bf16,
) -> DtypeChoice:
    """Resolve a dtype setting for a device.

    Args:
        requested: ``auto``, ``float32``, ``bfloat16``, ``float16`` or ``float32+bfloat16``.
        device: ``cpu`` or a CUDA device (``cuda``, ``cuda:1``).
        read_flags: Reads the CPU's flags (a test passes a fake CPU).
        cuda_bf16: Whether the GPU supports bfloat16 (a test passes a fake GPU).

    Returns:
        The dtype and the reason.

    Raises:
        ConfigError: ``requested`` is not one of the four names.
    """
    check_dtype_name(requested)
    if requested == SPLIT:
        return DtypeChoice(dtype="float32", decode_dtype="bfloat16", reason="set explicitly")
    if requested != "auto":
        return DtypeChoice(dtype=requested, reason="set explicitly")  # type: ignore[arg-type]
    if device.startswith("cuda"):
        if cuda_bf16():
            return DtypeChoice(dtype="bfloat16", reason="auto: the GPU supports bfloat16")
        return DtypeChoice(dtype="float16", reason="auto: the GPU lacks bfloat16, float16 instead")
    if device != "cpu":
        return DtypeChoice(dtype="float32", reason=f"auto: float32, the safe choice on {device}")
    native, evidence = cpu_has_native_bf16(read_flags())
    if native:
        return DtypeChoice(dtype="bfloat16", reason=f"auto: {evidence}")
    return DtypeChoice(
        dtype="float32",
        reason=f"auto: {evidence}; emulated bfloat16 reads prompts 4-7x slower than float32",
    )
