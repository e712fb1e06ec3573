"""Fixtures for the constitution tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ponder.constitution import Policy, default_policy_path, load_policy


@pytest.fixture(scope="session")
def default_policy() -> Policy:
    return load_policy(default_policy_path())


@pytest.fixture
def write_policy(tmp_path: Path) -> Callable[..., Path]:
    """Write ``{name: text}`` files into a fresh folder and return the folder."""

    def write(**files: str) -> Path:
        folder = tmp_path / "policies"
        folder.mkdir(exist_ok=True)
        for name, text in files.items():
            (folder / name).write_text(text, encoding="utf-8")
        return folder

    return write
