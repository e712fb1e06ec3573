"""LoRA adapters as small files that name the weights they were trained on.

An adapter (``ponder learn finetune`` writes them) is one safetensors file: the LoRA
matrices, and in its metadata the LoRA settings and the SHA-256 of the base weights. It
loads only onto those weights: :func:`apply_adapter` refuses any other base with an
error that names both, because low-rank updates learned against one set of weights are
noise on another. Applying merges the update into a private copy of the weights, so a
model with an adapter runs as fast as one without, and other models sharing the base
weights in the process are untouched.

:func:`weights_sha256` names a model source (a preset's pinned digest, or the digest of
a folder's or a GGUF file's weights); :func:`policy_sha256` names base plus adapter,
the identity a learned value head records.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, cast

from ponder.agents.core.errors import ConfigError
from ponder.agents.models.presets import PRESETS, sha256_file

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel

__all__ = [
    "ADAPTER_FORMAT",
    "AdapterError",
    "AdapterFile",
    "apply_adapter",
    "policy_sha256",
    "read_adapter",
    "save_adapter",
    "weights_sha256",
]

ADAPTER_FORMAT: Final = "ponder.lora_adapter/1"
"""The ``format`` metadata of an adapter file; bump it when the layout changes."""

_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".gguf")
_DIGESTS: dict[tuple[str, int, int], str] = {}
_DIGESTS_LOCK = threading.Lock()


class AdapterError(ConfigError):
    """An adapter file that is not ours, is damaged, or belongs to other weights."""


def _file_digest(path: Path) -> str:
    """SHA-256 of a file, remembered per (path, size, mtime): weights are large."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    with _DIGESTS_LOCK:
        if key not in _DIGESTS:
            _DIGESTS[key] = sha256_file(path)
        return _DIGESTS[key]


def weights_sha256(source: str) -> str:
    """SHA-256 naming the weights of a model source.

    Args:
        source: A preset name (its pinned digest, nothing is read), a ``.gguf`` file, or
            a model folder (a digest over its weight files' names and digests).

    Returns:
        The hex digest.

    Raises:
        ConfigError: If ``source`` is none of these, or a folder holds no weight files.
    """
    if source in PRESETS:
        return PRESETS[source].source.sha256
    path = Path(source).expanduser()
    if path.is_file():
        return _file_digest(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in _WEIGHT_SUFFIXES)
        if not files:
            raise ConfigError(f"{path} holds no weight files ({', '.join(_WEIGHT_SUFFIXES)})")
        digest = hashlib.sha256()
        for file in files:
            digest.update(f"{file.name}:{_file_digest(file)}\n".encode())
        return digest.hexdigest()
    raise ConfigError(f"model {source!r} is neither a preset, a weights file nor a model folder")


def policy_sha256(source: str, adapter: str | os.PathLike[str] | None = None) -> str:
    """SHA-256 naming a policy: the base weights, and the adapter on them if any.

    Args:
        source: The base model (see :func:`weights_sha256`).
        adapter: An adapter file, or None.

    Returns:
        The base's digest without an adapter; else a digest of both digests.
    """
    base = weights_sha256(source)
    if adapter is None:
        return base
    return hashlib.sha256(f"{base}+{_file_digest(Path(adapter))}".encode()).hexdigest()


@dataclass(frozen=True, kw_only=True)
class AdapterFile:
    """An adapter as read from its file."""

    path: Path
    """Where it was read from."""
    base: str
    """The name of the base model it was trained on (for messages)."""
    base_sha256: str
    """The digest of those base weights (:func:`weights_sha256`)."""
    lora: Mapping[str, Any]
    """peft ``LoraConfig`` options: ``r``, ``lora_alpha``, ``target_modules``, ..."""
    trained: Mapping[str, Any]
    """What it was trained on and how (chains, steps, final loss): for reports."""
    tensors: Mapping[str, torch.Tensor]
    """The LoRA matrices, by peft state-dict key."""


def save_adapter(
    path: str | os.PathLike[str],
    tensors: Mapping[str, torch.Tensor],
    *,
    base: str,
    base_sha256: str,
    lora: Mapping[str, Any],
    trained: Mapping[str, Any],
) -> Path:
    """Write an adapter file atomically (a crash leaves the old file or none).

    Args:
        path: The ``.safetensors`` file to write.
        tensors: peft's adapter state dict (``get_peft_model_state_dict``).
        base: The base model's name.
        base_sha256: Its weights' digest.
        lora: The ``LoraConfig`` options, JSON-compatible.
        trained: What it was trained on, JSON-compatible.

    Returns:
        The path written.
    """
    from safetensors.torch import save_file

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    metadata = {
        "format": ADAPTER_FORMAT,
        "base": base,
        "base_sha256": base_sha256,
        "lora": json.dumps(dict(lora), sort_keys=True),
        "trained": json.dumps(dict(trained), sort_keys=True),
    }
    staging = target.with_name(f".{target.name}.tmp")
    contiguous = {key: value.detach().contiguous().cpu() for key, value in tensors.items()}
    save_file(contiguous, str(staging), metadata=metadata)
    os.replace(staging, target)
    return target


def read_adapter(path: str | os.PathLike[str]) -> AdapterFile:
    """Read an adapter file.

    Raises:
        AdapterError: If the file is missing, is not a safetensors file, or is not a
            Ponder adapter of :data:`ADAPTER_FORMAT`.
    """
    from safetensors import SafetensorError, safe_open

    source = Path(path)
    if not source.is_file():
        raise AdapterError(f"adapter {source} not found; train one with `ponder learn finetune`")
    try:
        with safe_open(str(source), framework="pt") as file:
            metadata = file.metadata() or {}
            tensors = {key: file.get_tensor(key) for key in file.keys()}  # noqa: SIM118
    except SafetensorError as error:
        raise AdapterError(f"{source}: not a safetensors adapter file ({error})") from None
    if metadata.get("format") != ADAPTER_FORMAT:
        raise AdapterError(
            f"{source}: metadata format {metadata.get('format')!r} is not {ADAPTER_FORMAT!r}; "
            "it is not a Ponder adapter, or was written by another version"
        )
    try:
        lora = json.loads(metadata["lora"])
        trained = json.loads(metadata.get("trained", "{}"))
        base, base_sha = metadata["base"], metadata["base_sha256"]
    except (KeyError, json.JSONDecodeError) as error:
        raise AdapterError(f"{source}: damaged metadata ({error})") from None
    return AdapterFile(
        path=source, base=base, base_sha256=base_sha, lora=lora, trained=trained, tensors=tensors
    )


def apply_adapter(
    model: PreTrainedModel, adapter: AdapterFile, *, base_sha256: str, base: str
) -> PreTrainedModel:
    """A copy of ``model`` with ``adapter`` merged into its weights.

    Args:
        model: The base model (left unchanged: it may be shared).
        adapter: The adapter, from :func:`read_adapter`.
        base_sha256: The digest of ``model``'s weights (:func:`weights_sha256`).
        base: The base model's name, for messages.

    Returns:
        A new model in eval mode, in ``model``'s dtype and device, with the update merged.

    Raises:
        AdapterError: If the adapter was trained on other weights, or its matrices do
            not fit this model.
    """
    if adapter.base_sha256 != base_sha256:
        raise AdapterError(
            f"{adapter.path} was trained on {adapter.base} (weights SHA-256 "
            f"{adapter.base_sha256[:16]}...), not on {base} ({base_sha256[:16]}...); "
            "use the adapter trained for this model, or train one with `ponder learn finetune`"
        )
    from peft import LoraConfig, get_peft_model, set_peft_model_state_dict

    options: dict[str, Any] = {k: v for k, v in adapter.lora.items() if k != "inference_mode"}
    try:
        config = LoraConfig(inference_mode=True, **options)
        peft_model = get_peft_model(copy.deepcopy(model), config)
        result: Any = set_peft_model_state_dict(peft_model, dict(adapter.tensors))
    except (ValueError, RuntimeError) as error:  # no target module, or matrices' shapes
        detail = str(error).strip().splitlines()[-1].strip()
        raise AdapterError(f"{adapter.path} does not fit {base}: {detail}") from None
    missing = [key for key in result.missing_keys if "lora_" in key]
    if result.unexpected_keys or missing:
        raise AdapterError(
            f"{adapter.path} does not fit {base}: "
            f"{len(result.unexpected_keys)} unexpected and {len(missing)} missing LoRA "
            f"matrices (e.g. {(list(result.unexpected_keys) + missing)[0]})"
        )
    merged = cast("PreTrainedModel", peft_model.merge_and_unload())
    merged.train(False)  # eval mode
    return merged
