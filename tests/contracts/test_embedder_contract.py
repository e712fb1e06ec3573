"""The Embedder contract, for the fake and (marked ``real_embedder``) the real model.

Every text, empty or long, becomes a plain list of ``dimension`` floats of unit length;
the same text always gives the same vector, alone or in a batch, and order is kept; an
empty input gives an empty list.
"""

from __future__ import annotations

import math

import pytest

from ponder.knowledge import Embedder
from ponder.knowledge.embedder import MemoEmbedder
from ponder.knowledge.onnx_embedder import OnnxEmbedder
from ponder.knowledge.testing import HashingEmbedder

TEXTS = [
    "Cats purr.",
    "Volcanoes erupt lava and ash.",
    "",
    "   ",
    "Ünïcödé, emoji 🐈 and 漢字",
    "word " * 300,  # past a transformer's sequence limit: truncated, not refused
]


@pytest.fixture(
    params=[
        "hashing",
        "memo",
        pytest.param("minilm", marks=pytest.mark.real_embedder),
        pytest.param("minilm-onnx", marks=pytest.mark.real_embedder),
    ]
)
def embedder(request: pytest.FixtureRequest) -> Embedder:
    if request.param == "hashing":
        return HashingEmbedder()
    if request.param == "memo":
        return MemoEmbedder(HashingEmbedder(), size=2)
    if request.param == "minilm-onnx":
        return OnnxEmbedder()
    return request.getfixturevalue("real_embedder")


def _close(a: list[float], b: list[float]) -> bool:
    # Batching may change the last float bits of a real model's output, never more.
    return all(math.isclose(x, y, abs_tol=1e-5) for x, y in zip(a, b, strict=True))


def test_it_is_a_named_embedder_with_a_dimension(embedder: Embedder) -> None:
    assert isinstance(embedder, Embedder)
    assert isinstance(embedder.name, str) and embedder.name
    assert isinstance(embedder.dimension, int) and embedder.dimension >= 1


def test_every_text_becomes_a_list_of_dimension_floats(embedder: Embedder) -> None:
    vectors = embedder.embed(TEXTS)

    assert type(vectors) is list and len(vectors) == len(TEXTS)
    for vector in vectors:
        assert type(vector) is list and len(vector) == embedder.dimension
        assert all(type(x) is float and math.isfinite(x) for x in vector)


def test_every_vector_has_unit_length(embedder: Embedder) -> None:
    vectors = embedder.embed(TEXTS)

    assert all(math.isclose(math.hypot(*v), 1.0, abs_tol=1e-5) for v in vectors)


def test_the_same_text_gives_the_same_vector_alone_or_in_a_batch(embedder: Embedder) -> None:
    batch = embedder.embed(TEXTS)

    again = embedder.embed(TEXTS)
    alone = [embedder.embed([text])[0] for text in TEXTS]

    assert again == batch
    assert all(_close(a, b) for a, b in zip(alone, batch, strict=True))


def test_order_is_kept(embedder: Embedder) -> None:
    forward = embedder.embed(TEXTS[:2])

    backward = embedder.embed(TEXTS[1::-1])

    assert all(_close(a, b) for a, b in zip(forward, backward[::-1], strict=True))
    assert not _close(forward[0], forward[1])


def test_no_texts_give_no_vectors(embedder: Embedder) -> None:
    assert embedder.embed([]) == []
