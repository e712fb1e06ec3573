"""``ponder serve`` as a user runs it (no models load: it stops before building)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PONDER = str(Path(sys.executable).parent / "ponder")


def test_serve_refuses_to_listen_beyond_loopback_without_keys(tmp_path: Path) -> None:
    env = {**os.environ, "PONDER_DATA_DIR": str(tmp_path)}
    env.pop("PONDER_SERVER__API_KEYS", None)

    result = subprocess.run(
        [PONDER, "serve", "--host", "0.0.0.0", "--port", "0"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )

    assert result.returncode == 2
    assert "without API keys" in result.stderr
