"""HiddenChain: stored by the checkpointer, refused by every user-facing serializer."""

from __future__ import annotations

import json
import pickle

import pytest
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from pydantic import BaseModel

from ponder.agents.core.errors import HiddenReasoningError
from ponder.agents.reasoning.hidden import HiddenChain

CHAIN = HiddenChain({"chains": ["step one: secret"], "reasoning_tokens": 12})


def test_text_forms_show_counts_only() -> None:
    for text in (str(CHAIN), repr(CHAIN), f"{CHAIN}", f"{CHAIN!r}"):
        assert "secret" not in text
        assert "12 tokens" in text


def test_pydantic_serialization_raises() -> None:
    class Leaky(BaseModel):
        reasoning: HiddenChain

    with pytest.raises(Exception, match="hidden reasoning may not be serialized"):
        Leaky(reasoning=CHAIN).model_dump_json()


def test_json_and_pickle_refuse() -> None:
    with pytest.raises(TypeError):
        json.dumps({"r": CHAIN})
    with pytest.raises(HiddenReasoningError):
        pickle.dumps(CHAIN)


def test_the_checkpointer_round_trips_it() -> None:
    serde = JsonPlusSerializer(
        allowed_msgpack_modules=[("ponder.agents.reasoning.hidden", "HiddenChain")]
    )

    restored = serde.loads_typed(serde.dumps_typed({"reasoning": CHAIN}))["reasoning"]

    assert restored == CHAIN
    assert restored.chains == ["step one: secret"]


def test_it_is_immutable_and_copies_its_input() -> None:
    trace = {"chains": ["a"], "reasoning_tokens": 1}
    chain = HiddenChain(trace)
    trace["chains"].append("b")

    assert chain.chains == ["a"]
    with pytest.raises(AttributeError):
        chain._trace = {}  # type: ignore[misc]
