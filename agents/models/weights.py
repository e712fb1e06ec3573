"""Local weights: where a model source lives, and each (source, device, dtype) loaded once.

A process may hold one model's weights in two dtypes (float32 to read prompts and a
bfloat16 copy to write tokens, see :mod:`~ponder.agents.models.dtype`), and several
``LocalModel`` configurations on the same weights (with and without the prefix cache,
or a forced bfloat16 next to ``auto``): each dtype is loaded once and shared.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ponder.agents.core.errors import ConfigError
from ponder.agents.models.presets import PRESETS, get_preset, materialize

if TYPE_CHECKING:
    from transformers import PreTrainedModel

__all__ = ["default_device", "forget_weights", "load_weights", "resolve_weights"]

_WEIGHTS: dict[tuple[str, str, str], PreTrainedModel] = {}
_LOCK = threading.Lock()


def default_device() -> str:
    """``cuda`` when a GPU is visible, else ``cpu``."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def resolve_weights(source: str, progress: Callable[[str], None]) -> tuple[Path, str | None]:
    """Map a preset name, a model folder or a ``.gguf`` file to (folder, gguf file name).

    Raises:
        ConfigError: ``source`` is none of the three.
    """
    if source in PRESETS:
        return materialize(get_preset(source), progress), None
    path = Path(source).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return path.parent, path.name
    if path.is_dir() and (path / "config.json").is_file():
        return path, None
    raise ConfigError(
        f"model {source!r} is neither a preset ({', '.join(sorted(PRESETS))}), "
        "a model folder with config.json, nor a .gguf file"
    )


def load_weights(
    source: str, folder: Path, gguf_file: str | None, device: str, dtype: str
) -> PreTrainedModel:
    """The model ``source`` (found in ``folder``) on ``device`` in ``dtype``, in eval
    mode, loaded on the first call and shared by every later one."""
    key = (source, device, dtype)
    with _LOCK:
        if key not in _WEIGHTS:
            import torch
            from transformers import AutoModelForCausalLM

            model = AutoModelForCausalLM.from_pretrained(
                folder, gguf_file=gguf_file, dtype=getattr(torch, dtype)
            )
            # Module's own methods (in place): transformers wraps ``to`` and leaves
            # ``eval`` untyped.
            torch.nn.Module.to(model, torch.device(device))
            torch.nn.Module.eval(model)
            _WEIGHTS[key] = model
        return _WEIGHTS[key]


def forget_weights() -> None:
    """Drop every shared weight (models that hold one keep it)."""
    with _LOCK:
        _WEIGHTS.clear()
