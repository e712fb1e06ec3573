"""Every example in examples/ runs as a user would run it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

pytestmark = pytest.mark.real_model


# Examples read PONDER_* overrides like any Ponder program: keep their searches small here.
SMALL_SEARCH = {
    "PONDER_REASONING__SAMPLES": "2",
    "PONDER_REASONING__MAX_CHAIN_TOKENS": "96",
    "PONDER_REASONING__MAX_SECONDS": "30",
}


def _run(*args: str, cwd: Path, stdin: str | None = None) -> str:
    result = subprocess.run(
        [sys.executable, *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=600,
        env={**os.environ, **SMALL_SEARCH},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_quickstart(tmp_path: Path) -> None:
    out = _run(str(EXAMPLES / "quickstart.py"), str(tmp_path / "data"), cwd=tmp_path)

    assert "chunks added" in out
    assert "penicillin.md" in out
    assert "outcome=refused" in out
    assert "reasoning_tokens=0" in out  # the refusal
    assert out.count("Q: ") == 3


def test_split_models(tmp_path: Path) -> None:
    out = _run(str(EXAMPLES / "split_models.py"), "What is 48 / 6 + 5?", cwd=tmp_path)

    assert "reasoning model:" in out
    assert "abilities: reasoning" in out
