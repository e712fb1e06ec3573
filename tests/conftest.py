"""Test-wide fixtures.

Loading a real model is an error unless the test is marked ``real_model``: unit tests
run on fakes, and the few integration tests share one loaded model per session.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ponder.agents.models import local

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "examples" / "corpus"

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(autouse=True)
def _forbid_real_models(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if request.node.get_closest_marker("real_model") is None:

        def refuse(self: local.LocalModel, device: str) -> None:
            raise AssertionError(
                f"{request.node.nodeid} loads a real model ({self.source}); "
                "mark it @pytest.mark.real_model or use a fake from ponder.agents.models.testing"
            )

        monkeypatch.setattr(local.LocalModel, "_load", refuse)


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The sample world-knowledge corpus shipped in examples/."""
    return CORPUS


@pytest.fixture(scope="session")
def smollm2() -> local.LocalModel:
    """The embedded default model, loaded once per test session."""
    model = local.LocalModel("smollm2-135m")
    model.load()
    return model


@pytest.fixture(scope="session")
def real_embedder():
    """all-MiniLM-L6-v2 from its PyPI package, loaded once per test session."""
    from ponder.knowledge import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder()
    embedder.embed(["warm up"])
    return embedder
