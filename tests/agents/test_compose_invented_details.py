"""The language node on the small model's reported slips, on fake models: a day added to a
year the source gives alone, and a height the source never states, are not released."""

from __future__ import annotations

from dataclasses import dataclass

from ponder.agents.compose import compose
from ponder.agents.models.testing import FunctionChatModel
from ponder.knowledge.testing import HashingEmbedder


@dataclass(frozen=True)
class Chunk:
    text: str
    title: str = "The Eiffel Tower"
    path: str = "corpus/eiffel-tower.md"
    chunk_index: int = 0


EIFFEL = Chunk(
    "The Eiffel Tower is a wrought-iron lattice tower in Paris. It was completed in 1889 as "
    "the entrance to the World's Fair. It was about 300 metres tall when completed."
)
ENCODER = HashingEmbedder()


def _always(draft: str) -> FunctionChatModel:
    """A fake model that writes ``draft`` for every draft and every repair."""
    return FunctionChatModel(lambda messages, n, settings: [draft] * n)


def _answer(question: str, draft: str):
    """What the language node answers from the Eiffel article when the model writes ``draft``."""
    return compose(
        question, _always(draft), evidence=[EIFFEL], encoder=ENCODER, needs_evidence=True
    )


def test_a_day_the_source_does_not_give_is_replaced_by_the_year_it_does() -> None:
    invented = "The Eiffel Tower was completed on 1st July 1889 [1]."

    result = _answer("When was the Eiffel Tower completed?", invented)

    assert result.check is not None and result.check.kind == "extractive"
    assert "1889" in result.text and "July" not in result.text
    assert "1st July 1889" in result.check.rejected_spans
    assert result.citations and result.citations[0].source == EIFFEL.path


def test_an_invented_height_is_replaced_by_the_height_the_source_states() -> None:
    invented = "The Eiffel Tower is currently 382.68 metres tall [1]."

    result = _answer("How tall is the Eiffel Tower?", invented)

    assert result.check is not None and result.check.kind == "extractive"
    assert "300 metres" in result.text and "382" not in result.text
    assert "382.68 metres" in result.check.rejected_spans
