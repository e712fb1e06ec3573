"""``ponder rules serve``: loopback only unless told otherwise, and a folder to edit."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from ponder.graphs.cli.rules import rules_app


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "example.com"])
def test_a_non_loopback_host_needs_allow_remote(tmp_path: Path, host: str) -> None:
    result = CliRunner().invoke(rules_app, ["serve", str(tmp_path), "--host", host])

    assert result.exit_code == 2
    assert "--allow-remote" in result.output


def test_without_a_folder_it_says_to_name_one(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PONDER_POLICY", raising=False)

    result = CliRunner().invoke(rules_app, ["serve"])

    assert result.exit_code != 0
    assert "ponder rules serve POLICY_DIR" in str(result.exception)
