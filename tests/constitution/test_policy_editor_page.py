"""The policy editor page in a real browser: edit a rule, see it checked, save it, and watch
an already running assistant apply it without being rebuilt."""

from __future__ import annotations

import re
import shutil
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn

from ponder.agents.models.testing import FunctionChatModel
from ponder.constitution import default_policy_path
from ponder.constitution.editor import create_app
from ponder.graphs import build_assistant
from ponder.graphs.assistant import sqlite_checkpointer
from ponder.graphs.parts_from_settings import make_checker, make_embedder
from ponder.graphs.settings import Settings
from ponder.knowledge import ChromaStore

WORD = "zorblax"  # a made-up word no rule knows
TIMEOUT_MS = 20_000  # a shared, busy CPU


@contextmanager
def _running(app) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port, in a background thread."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=2))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(200):
            if server.started:
                break
            thread.join(0.05)
        assert server.started, "uvicorn did not start"
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def _assistant(tmp_path: Path, folder: Path):
    def answer(messages, n, settings):
        return [f"I have no information about {WORD}."] * n

    embedder = make_embedder(Settings(data_dir=tmp_path))  # the learned stage's, as deployed
    return build_assistant(
        Settings(data_dir=tmp_path),
        language_model=FunctionChatModel(answer, score_fn=lambda m, c: -0.7),
        reasoning_model=FunctionChatModel(lambda m, n, s: ["Answer: 1"] * n),
        policy=folder,
        store=ChromaStore.embedded(tmp_path / "chroma", embedder=embedder),
        embedder=embedder,
        checkpointer=sqlite_checkpointer(tmp_path / "threads.sqlite"),
    )


@pytest.mark.browser
@pytest.mark.real_embedder
def test_edit_check_save_and_hot_reload(page, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    page.set_default_timeout(TIMEOUT_MS)
    folder = Path(shutil.copytree(default_policy_path(), tmp_path / "policy"))
    saved_before = (folder / "indiscriminate-weapons.yaml").read_text()
    assistant = _assistant(tmp_path, folder)  # built before the save, never rebuilt
    before = assistant.invoke(f"Tell me about {WORD}.")

    # The page tests rules with the checker `ponder rules serve` builds: the assistant's
    # (patterns and the learned stage on the real embedder).
    settings = Settings(data_dir=tmp_path)
    embedder = make_embedder(settings)

    def deployed(policy):
        return make_checker(settings, policy, None, embedder, reload=False)

    with _running(create_app(folder, checker=deployed)) as url:
        page.goto(url)
        page.fill("#search", "weapons")
        expect(page.locator("#rules li")).to_have_count(1)
        page.click("#rules li[data-id=no-weapons]")
        expect(page.locator("#rule-heading")).to_have_text("no-weapons")

        patterns = page.locator("#f-patterns")
        original = patterns.input_value()
        patterns.fill(f"{original}\n{WORD}(")  # an unbalanced parenthesis
        expect(page.locator("#issues")).to_contain_text("invalid regular expression")
        expect(page.locator(".field-error[data-field=patterns]")).to_contain_text(WORD)
        expect(page.locator("#status")).to_have_text(re.compile("not valid"))

        patterns.fill(f"{original}\n{WORD}")
        expect(page.locator("#status")).to_have_text(re.compile(r"^valid: policy version"))
        expect(page.locator("#issues li")).to_have_count(0)

        page.click("#run-tests")
        expect(page.locator("#tests")).to_contain_text("examples pass")
        expect(page.locator("#tests tr.fail")).to_have_count(0)

        page.click("#show-diff")
        expect(page.locator("#diff .add")).to_have_text([f"+      - '{WORD}'\n"])

        page.fill("#author", "Ana")
        page.fill("#comment", f"catch {WORD}")
        page.click("#save")
        expect(page.locator("#save-result")).to_contain_text("Saved indiscriminate-weapons.yaml")

    saved = (folder / "indiscriminate-weapons.yaml").read_text()
    (entry,) = (folder / ".history" / "indiscriminate-weapons.yaml").glob("*.yaml")
    header, previous = entry.read_text().split("\n", 1)
    after = assistant.invoke(f"Tell me about {WORD}.")

    assert f"      - '{WORD}'\n" in saved
    assert [line for line in saved.splitlines() if line not in saved_before.splitlines()] == [
        f"      - '{WORD}'"
    ]
    assert header.endswith(f"by Ana: catch {WORD}") and previous == saved_before
    assert before.outcome == "answered"
    assert after.outcome == "refused"
    assert after.verdicts[0].rules == ["no-weapons"]
    assert after.policy_version != before.policy_version
