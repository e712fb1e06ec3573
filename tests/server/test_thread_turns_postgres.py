"""Turns on one thread run one at a time across two server processes sharing PostgreSQL.

Each replica is its own ``python replica_server.py`` process, so nothing but the database
(its advisory locks) can serialise them. Needs ``PONDER_TEST_POSTGRES_URL`` (``.ci/run``
starts a server and sets it).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from postgres_fixtures import postgres_url  # noqa: F401 (a fixture)
from server_helpers import assert_turns_in_order, client

from ponder.graphs.persistence import postgres_checkpointer

HERE = Path(__file__).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def replicas(tmp_path: Path, postgres_url: str) -> Iterator[list[str]]:  # noqa: F811
    """Two server processes on one database; yields their ``/v1`` URLs."""
    ports = [_free_port(), _free_port()]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    procs: list[subprocess.Popen[bytes]] = []
    try:
        # One after the other: replicas that set up the tables at the same moment can
        # deadlock in graphs/persistence.py (its setup lock against CREATE INDEX
        # CONCURRENTLY), which is not what this test is about.
        for i, port in enumerate(ports):
            data = str(tmp_path / f"replica{i}")
            procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        str(HERE / "replica_server.py"),
                        postgres_url,
                        data,
                        str(port),
                    ],
                    cwd=HERE,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=(tmp_path / f"replica{i}.log").open("wb"),
                )
            )
            _wait_healthy(procs[-1], port, tmp_path / f"replica{i}.log")
        yield [f"http://127.0.0.1:{port}/v1" for port in ports]
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(10)


def _wait_healthy(
    proc: subprocess.Popen[bytes], port: int, log: Path, seconds: float = 180
) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"replica on port {port} exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"replica on port {port} did not answer /health in {seconds} s")


@pytest.mark.postgres
def test_concurrent_turns_on_two_replicas_lose_no_turn(
    replicas: list[str],
    postgres_url: str,  # noqa: F811
) -> None:
    questions = [f"Message {i}" for i in range(8)]

    def ask(i: int) -> str:
        reply = client(replicas[i % 2]).chat.completions.create(
            model="ponder",
            messages=[{"role": "user", "content": questions[i]}],
            extra_headers={"X-Ponder-Thread": "shared"},
        )
        return reply.choices[0].message.content or ""

    with ThreadPoolExecutor(len(questions)) as pool:
        answers = list(pool.map(ask, range(len(questions))))

    saver = postgres_checkpointer(postgres_url)
    try:
        saved = saver.get_tuple({"configurable": {"thread_id": "shared"}})
    finally:
        saver.conn.close()
    assert saved is not None
    history = saved.checkpoint["channel_values"]["messages"]
    assert_turns_in_order(history, questions)
    assert sorted(answers) == sorted(m["content"] for m in history[1::2])
