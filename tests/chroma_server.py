"""A real Chroma server for tests: ``chroma run`` from this virtual environment.

Import the fixture into a test module or conftest: ``from chroma_server import
chroma_port`` (pytest puts ``tests/`` on the import path for the root ``conftest.py``).
The server starts on a free loopback port (about 3 s) the first time a module's test asks
for it and stops after that module; tests share it, so each uses its own collection.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = ["chroma_port"]

logger = logging.getLogger(__name__)

CHROMA = Path(sys.executable).parent / "chroma"
START_TIMEOUT_S = 60.0  # two busy cores can slow a start that takes 3 s when idle


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _log_tail(log: Path) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-40:])


def _wait_until_up(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    url = f"http://127.0.0.1:{port}/api/v2/heartbeat"
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"chroma run exited with {process.returncode}; its log:\n{_log_tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"chroma run answered no heartbeat in {START_TIMEOUT_S} s; log:\n{_log_tail(log)}")


@pytest.fixture(scope="module")
def chroma_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """The port of a ``chroma run`` server on 127.0.0.1, for this module's tests."""
    folder = tmp_path_factory.mktemp("chroma-server")
    port, log = _free_port(), folder / "server.log"
    command = [str(CHROMA), "run", "--path", str(folder / "db"), "--host", "127.0.0.1"]
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*command, "--port", str(port)], stdout=output, stderr=subprocess.STDOUT, env=env
        )
    started = time.monotonic()
    try:
        _wait_until_up(process, port, log)
        logger.info("chroma run answered in %.1f s", time.monotonic() - started)
        yield port
        crashed = process.poll()
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if crashed is not None:
        pytest.fail(f"chroma run died during the tests ({crashed}); log:\n{_log_tail(log)}")
