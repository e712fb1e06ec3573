"""Knowledge on a real Chroma server, as replicas behind a load balancer share it.

The module starts ``chroma run`` from this virtual environment on a free loopback port
(about 3 s) and stops it afterwards. Each test uses its own collection, so the tests are
independent although they share the server.
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
from uuid import uuid4

import pytest

from ponder.knowledge import KnowledgeStore, ingest
from ponder.knowledge.testing import HashingEmbedder

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


def _server_store(port: int, collection: str) -> KnowledgeStore:
    return KnowledgeStore.server("127.0.0.1", port, collection, embedder=HashingEmbedder())


def test_ingested_files_are_found_with_their_sources_from_another_process(
    chroma_port: int, docs: Path
) -> None:
    collection = f"server-{uuid4().hex[:12]}"
    with _server_store(chroma_port, collection) as writer:
        report = ingest(docs, writer)

    with _server_store(chroma_port, collection) as reader:  # as another replica would
        [best] = reader.query("Cats purr and chase mice.", k=1)
        count = reader.count()

    assert (report.files_added, report.files_skipped) == (2, 1)
    assert count == report.chunks_added
    assert (best.path, best.title) == ("docs/animals/cats.md", "Cats")
    assert best.source == str((docs / "animals" / "cats.md").resolve())
    assert "Cats purr" in best.text


def test_ingesting_unchanged_files_again_adds_nothing(chroma_port: int, docs: Path) -> None:
    collection = f"server-{uuid4().hex[:12]}"
    with _server_store(chroma_port, collection) as store:
        ingest(docs, store)
        ids_before = store.ids()

    with _server_store(chroma_port, collection) as store:
        again = ingest(docs, store)
        ids_after = store.ids()

    assert (again.files_unchanged, again.chunks_added, again.chunks_removed) == (2, 0, 0)
    assert ids_after == ids_before


def test_the_server_url_setting_alone_moves_the_store_to_the_server(
    chroma_port: int, docs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ponder.graphs.assistant import open_store
    from ponder.graphs.settings import load_settings

    collection = f"server-{uuid4().hex[:12]}"
    monkeypatch.setenv("PONDER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PONDER_KNOWLEDGE__SERVER_URL", f"http://127.0.0.1:{chroma_port}")
    monkeypatch.setenv("PONDER_KNOWLEDGE__COLLECTION", collection)

    with open_store(load_settings(), HashingEmbedder()) as store:
        report = ingest(docs, store)
    with _server_store(chroma_port, collection) as server:
        count = server.count()

    assert count == report.chunks_added > 0
    assert not (tmp_path / "data").exists()  # no embedded Chroma folder was made
