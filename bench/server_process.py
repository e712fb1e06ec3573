"""The server benchmark's server: ``ponder serve`` as a subprocess, and the thread
histories it stored, read back after it stopped."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx

from ponder.graphs.assistant import build_assistant, sqlite_checkpointer
from ponder.graphs.settings import Settings, dump_settings
from ponder.knowledge.testing import FakeKnowledgeStore

__all__ = ["read_histories", "read_threads", "serve_subprocess", "user_messages"]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serve_subprocess(
    settings: Settings, threads: int = 0, start_timeout_s: float = 600
) -> Iterator[str]:
    """Run ``ponder serve`` on ``settings`` in a subprocess; yield its ``/v1`` URL.

    The settings go to the server as a ``ponder.yaml`` next to its data folder; its log
    goes to ``server.log`` there.

    Args:
        settings: The server's settings; its data folder must exist.
        threads: torch's CPU threads in the server (``OMP_NUM_THREADS``); 0 leaves
            torch's default.
        start_timeout_s: How long the server may take to load and answer ``/health``.

    Raises:
        RuntimeError: The server exited or did not answer ``/health`` in time; the
            message ends with its log.
    """
    folder = settings.data_dir.parent
    config = folder / "ponder.yaml"
    config.write_text(dump_settings(settings))
    port = _free_port()
    ponder = Path(sys.executable).parent / "ponder"
    log_path = folder / "server.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [str(ponder), "serve", "--config", str(config), "--port", str(port)],
            cwd=folder,
            env={**os.environ, "OMP_NUM_THREADS": str(threads)} if threads else None,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_healthy(url, process, log_path, start_timeout_s)
            yield f"{url}/v1"
        finally:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"ponder serve exited with {process.returncode}:\n{log.read_text()}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        time.sleep(0.5)
    raise RuntimeError(f"ponder serve did not start in {timeout_s:.0f} s:\n{log.read_text()}")


def read_histories(settings: Settings, thread_ids: Sequence[str]) -> dict[str, list[str]]:
    """Each thread's stored user messages, read through ``Assistant.history`` on the
    server's checkpointer file (call it after the server stopped).

    Args:
        settings: The server's settings (they name the checkpointer file).
        thread_ids: The threads to read.

    Returns:
        Each thread's user messages, in order; an unknown thread has none.
    """
    return {t: user_messages(m) for t, m in read_threads(settings, thread_ids).items()}


def read_threads(settings: Settings, thread_ids: Sequence[str]) -> dict[str, list[dict[str, str]]]:
    """Each thread's stored messages (``role`` and ``content``, in order), read through
    ``Assistant.history`` on the server's checkpointer file (call it after the server
    stopped); an unknown thread has none."""
    assistant = build_assistant(
        settings,
        language_model=_Unused(),
        store=FakeKnowledgeStore(),
        checkpointer=sqlite_checkpointer(settings.threads_path),
    )
    return {t: assistant.history(t) for t in thread_ids}


def user_messages(messages: Sequence[dict[str, str]]) -> list[str]:
    """The user messages' texts, in order."""
    return [m["content"] for m in messages if m["role"] == "user"]


class _Unused:
    """The model of an assistant that only reads histories: calling it is a bug."""

    name = "unused"

    def load(self) -> None:
        """Nothing to load."""

    def generate(self, *args: object, **kwargs: object) -> list[Any]:
        raise AssertionError("reading thread histories must not call a model")

    def score(self, *args: object, **kwargs: object) -> float:
        raise AssertionError("reading thread histories must not call a model")
