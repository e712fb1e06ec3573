"""Retrieval with the real all-MiniLM-L6-v2 model, loaded once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from ponder.knowledge import ChromaStore, SentenceTransformerEmbedder, ingest

pytestmark = pytest.mark.real_embedder

DOCUMENTS = {
    "felines.md": "# Felines\n\nDomestic felines are small carnivores kept as pets. "
    "They groom their fur and hunt rodents at night.",
    "volcanoes.md": "# Volcanoes\n\nMagma rises through the crust and erupts as lava, "
    "ash and gas from a mountain's vent.",
    "bread.md": "# Sourdough\n\nA starter of wild yeast leavens the dough, which is "
    "proofed overnight and baked in a hot oven.",
}


def test_a_paraphrased_question_ranks_the_right_document_first(
    tmp_path: Path, real_embedder: SentenceTransformerEmbedder
) -> None:
    folder = tmp_path / "kb"
    folder.mkdir()
    for name, text in DOCUMENTS.items():
        (folder / name).write_text(text)
    with ChromaStore.embedded(tmp_path / "chroma", embedder=real_embedder) as store:
        ingest(folder, store)

        evidence = store.query("Which animal purrs and catches mice?", k=3)

    assert evidence[0].title == "Felines"
    assert evidence[0].path == "kb/felines.md"
    assert evidence[0].score > evidence[1].score + 0.1


def test_the_real_embedder_has_minilm_dimensions(
    real_embedder: SentenceTransformerEmbedder,
) -> None:
    assert real_embedder.dimension == 384
