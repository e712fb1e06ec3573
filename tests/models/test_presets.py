"""The packaged-weights cache: split files are assembled once and checked by SHA-256."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest

from ponder.agents.core.errors import ConfigError
from ponder.agents.models import presets
from ponder.agents.models.presets import Preset, SplitGGUF, get_preset, locate_gguf


def _make_parts(root: Path, chunks: list[bytes]) -> tuple[str, ...]:
    names = []
    for i, chunk in enumerate(chunks, start=1):
        name = f"fake_weights_part{i}_{root.name}"
        package = root / name
        (package / "data").mkdir(parents=True)
        (package / "data" / "part.bin").write_bytes(chunk)
        (package / "__init__.py").write_text(
            "import os\n\ndef get_part_path():\n"
            "    return os.path.join(os.path.dirname(__file__), 'data', 'part.bin')\n"
        )
        names.append(name)
    return tuple(names)


@pytest.fixture
def parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[tuple[str, ...], bytes]:
    chunks = [b"GGUF-first-", b"second-", b"third"]
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    names = _make_parts(tmp_path / "site", chunks)
    monkeypatch.setenv("PONDER_CACHE_DIR", str(tmp_path / "cache"))
    yield names, b"".join(chunks)
    for name in names:
        sys.modules.pop(name, None)


def test_split_weights_are_assembled_in_order_and_cached(parts) -> None:
    names, whole = parts
    preset = Preset(
        name="toy",
        description="toy",
        source=SplitGGUF(packages=names, sha256=hashlib.sha256(whole).hexdigest(), install="-"),
    )

    path = locate_gguf(preset)

    assert path.read_bytes() == whole
    assert locate_gguf(preset) == path  # second call reuses the cache


def test_a_file_that_does_not_match_its_pin_is_refused(parts) -> None:
    names, _ = parts
    preset = Preset(
        name="toy",
        description="toy",
        source=SplitGGUF(packages=names, sha256="0" * 64, install="-"),
    )

    with pytest.raises(ConfigError, match="refusing it"):
        locate_gguf(preset)

    assert not list((presets.cache_dir() / "gguf").glob("*.gguf"))


def test_missing_weights_package_names_the_install_command(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PONDER_CACHE_DIR", str(tmp_path))
    preset = Preset(
        name="toy",
        description="toy",
        source=SplitGGUF(packages=("no_such_weights_pkg",), sha256="0" * 64, install="pip x"),
    )

    with pytest.raises(ConfigError, match="not installed; run: pip x"):
        locate_gguf(preset)


def test_unknown_preset_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="smollm2-135m"):
        get_preset("gpt-17")


@pytest.mark.weights
def test_default_preset_file_matches_its_pin() -> None:
    assert locate_gguf(get_preset("smollm2-135m")).name.endswith(".gguf")
