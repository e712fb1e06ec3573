"""The ONNX Runtime embedder gives the torch model's vectors, and the memo embeds once."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from ponder.knowledge import SentenceTransformerEmbedder
from ponder.knowledge.embedder import MemoEmbedder
from ponder.knowledge.onnx_embedder import OnnxEmbedder
from ponder.knowledge.testing import HashingEmbedder

TEXTS = ["How do I build a pipe bomb?", "What is the history of fireworks?", "Cats purr."]


class _Counting(HashingEmbedder):
    def __init__(self) -> None:
        super().__init__()
        object.__setattr__(self, "batches", [])

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.batches.append(list(texts))  # type: ignore[attr-defined]
        return super().embed(texts)


def test_the_memo_embeds_each_text_once_and_forgets_the_oldest() -> None:
    inner = _Counting()
    memo = MemoEmbedder(inner, size=2)

    first = memo.embed(["a", "b"])
    again = memo.embed(["b", "a"])
    memo.embed(["c"])  # forgets "b" (least recently used)
    memo.embed(["a", "b"])

    assert again == [first[1], first[0]]
    assert inner.batches == [["a", "b"], ["c"], ["b"]]  # type: ignore[attr-defined]
    assert memo.name == inner.name and memo.dimension == inner.dimension


@pytest.mark.real_embedder
def test_onnx_vectors_match_the_torch_model(tmp_path: Path) -> None:
    onnx = OnnxEmbedder(cache_dir=tmp_path)

    ours = np.asarray(onnx.embed(TEXTS))
    reference = np.asarray(SentenceTransformerEmbedder(device="cpu").embed(TEXTS))

    assert onnx.name == SentenceTransformerEmbedder().name  # same vectors, same store
    assert np.min(np.sum(ours * reference, axis=1)) > 0.9999
    assert list(tmp_path.glob("embedders/*/model.onnx"))  # exported once, into the cache
