"""Test-wide fixtures.

Loading real weights is an error unless the test is marked ``real_model`` (the chat
model) or ``real_embedder`` (sentence-transformers): unit tests run on fakes, so a test
meant for a fake cannot pass by loading weights (slowly), and the integration tests
share one loaded model per session.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pytest

from ponder.agents.models import local
from ponder.knowledge import embedder as embedder_module
from ponder.knowledge import onnx_embedder as onnx_module

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "examples" / "corpus"

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


class SameVectorEmbedder:
    """A fake embedder that maps every text to the same unit vector."""

    name = "fake-same-vector"
    dimension = 8

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One identical vector per text."""
        return [[1.0] + [0.0] * (self.dimension - 1) for _ in texts]


@pytest.fixture(autouse=True)
def _forbid_real_models(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if request.node.get_closest_marker("real_model") is None:

        def refuse(self: local.LocalModel, device: str) -> None:
            raise AssertionError(
                f"{request.node.nodeid} loads a real model ({self.source}); "
                "mark it @pytest.mark.real_model or use a fake from ponder.agents.models.testing"
            )

        monkeypatch.setattr(local.LocalModel, "_load", refuse)


@pytest.fixture(autouse=True)
def _forbid_real_embedder(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    marks = {m.name for m in request.node.iter_markers()}
    if marks & {"real_embedder", "real_model"}:
        return

    def refuse(model_dir: Path, device: str | None = None) -> object:
        raise AssertionError(
            f"{request.node.nodeid} loads the real embedder from {model_dir}; "
            "mark it @pytest.mark.real_embedder or use HashingEmbedder"
        )

    monkeypatch.setattr(embedder_module, "load_sentence_transformer", refuse)
    monkeypatch.setattr(onnx_module, "_open_session", refuse)

    # The assistant's default embedder (the learned stage is on by default) is a fake here
    # that gives every text the same vector: the learned heads then stop nothing but the
    # policy's own violating examples, so graph tests see the patterns' verdicts. Tests of
    # the learned stage itself pass an embedder (HashingEmbedder) explicitly.
    def fake_default(backend: str = "onnx", *, threads: int | None = None) -> object:
        return embedder_module.MemoEmbedder(SameVectorEmbedder())

    monkeypatch.setattr(embedder_module, "default_embedder", fake_default)


@pytest.fixture(autouse=True, scope="session")
def _heads_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Learned heads, example vectors and ONNX exports made by tests stay out of the
    user's cache (``PONDER_CACHE_DIR`` set by the caller wins, e.g. to reuse an export)."""
    if "PONDER_CACHE_DIR" not in os.environ:
        os.environ["PONDER_CACHE_DIR"] = str(tmp_path_factory.mktemp("ponder-cache"))


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The sample world-knowledge corpus shipped in examples/."""
    return CORPUS


@pytest.fixture(scope="session")
def smollm2() -> local.LocalModel:
    """The embedded default model, loaded once per test session, in float32.

    The tests that use it compare outputs exactly (a batch against a lone request, a reused
    prefix against a fresh one, a search's steps). Those equalities are float32's: on a CPU
    with native bfloat16 the default dtype (auto) is bfloat16, which rounds a batched or
    reused computation differently (scores 2% apart, other greedy tokens). The default's
    choice is tested in ``tests/models/test_dtype.py``.
    """
    model = local.LocalModel("smollm2-135m", dtype="float32")
    model.load()
    return model


@pytest.fixture(scope="session")
def real_embedder():
    """all-MiniLM-L6-v2 from its PyPI package, loaded once per test session."""
    from ponder.knowledge import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder()
    embedder.embed(["warm up"])
    return embedder


CHROMIUM = Path("/usr/bin/chromium")
# Chromium reaches for Google's hosts at start; this network refuses them, many at a time.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def browser():
    """Debian's headless Chromium driven by Playwright.

    ``make test`` installs Chromium (``make system-deps``); Playwright's own browser
    download is never used. One per test: Playwright's sync API runs an event loop in
    this thread while it is open, and ``asyncio.run`` in a later test would fail.
    """
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make system-deps` (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser):
    """A fresh page in its own browser context.

    ``expect`` waits up to 20 s, not Playwright's 5: on a busy 2-core CPU one validation
    of the default policy (31 rules, thousands of examples, read with line numbers) can
    take longer than 5 s.
    """
    from playwright.sync_api import expect

    expect.set_options(timeout=20_000)
    context = browser.new_context()
    try:
        yield context.new_page()
    finally:
        context.close()
