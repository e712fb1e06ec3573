"""LoRA adapters that ship in the package, named in settings by their name.

``adapter:`` in model settings takes a file (``ponder learn finetune`` writes them) or the
name of an adapter shipped here (``adapters/NAME.safetensors``), so a user runs the policy
that learned from its own search without training one. A shipped adapter is an ordinary
adapter file: it records the base weights' SHA-256 and loads only onto those weights
(:mod:`ponder.agents.models.adapters`), and the value head trained on that policy ships
beside the others in ``heads/`` (found by the policy's digest, as for the base model).

An existing file wins over a shipped name, so a file called like a shipped adapter in the
working directory is what it looks like: that file.

This is a subpackage of its own because it only finds files: the benchmark's code
fingerprint (``bench/reasoning_config.py``) covers ``agents/learning/*.py``, whose
changes change a learned run's outcomes; naming a shipped file does not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

__all__ = ["ADAPTERS_DIR", "AdapterNotFound", "resolve_adapter", "shipped_adapters"]

ADAPTERS_DIR: Final = Path(__file__).resolve().parent
"""Where the shipped adapters lie (``NAME.safetensors``)."""


class AdapterNotFound(ValueError):
    """An ``adapter`` that is neither a file nor the name of a shipped adapter."""


def shipped_adapters(folder: Path = ADAPTERS_DIR) -> dict[str, Path]:
    """The shipped adapters by name (the file's stem), sorted by name."""
    return {path.stem: path for path in sorted(folder.glob("*.safetensors"))}


def resolve_adapter(value: str, folder: Path = ADAPTERS_DIR) -> str:
    """The adapter file that ``value`` names: a file, or a shipped adapter's name.

    A path that does not exist yet passes through unchanged: settings are read before a
    collection is fine-tuned, and the model names a missing file when it loads.

    Args:
        value: ``adapter:`` from settings or ``--adapter`` from a command line.
        folder: Where the shipped adapters lie; the package's by default.

    Returns:
        The shipped adapter's path for a shipped name (when no file has that name);
        else ``value`` itself.

    Raises:
        AdapterNotFound: If ``value`` is a bare name (no folder, no ``.safetensors``)
            that names no file and no shipped adapter: a misspelt name, told as one.
    """
    path = Path(value)
    if path.is_file():
        return value
    shipped = shipped_adapters(folder)
    if value in shipped:
        return str(shipped[value])
    if path.name == value and path.suffix != ".safetensors":
        names = ", ".join(shipped) or "none"
        raise AdapterNotFound(
            f"adapter {value!r} is not a file nor a shipped adapter (shipped: {names}); "
            "pass a shipped name or the file `ponder learn finetune` wrote"
        )
    return value
