"""The README's example questions, asked of the default assistant as on a fresh clone: the
default model, the default embedder, the sample corpus ingested, every setting at its
default. Each answer is checked against the corpus; the work each one takes is bounded
(no hidden search for the arithmetic, at most the first draft and the repair drafts)."""

from __future__ import annotations

import re

import pytest

from ponder.agents.atoms import dates_in
from ponder.graphs import Settings, build_assistant
from ponder.graphs.assistant import sqlite_checkpointer
from ponder.knowledge import ingest

pytestmark = [pytest.mark.real_model, pytest.mark.real_embedder]


@pytest.fixture(scope="module")
def assistant(tmp_path_factory, corpus):
    data = tmp_path_factory.mktemp("fresh-clone")
    settings = Settings(data_dir=data)
    with build_assistant(
        settings, checkpointer=sqlite_checkpointer(data / "threads.sqlite")
    ) as built:
        assert built.parts.store is not None
        ingest(corpus, built.parts.store)  # `ponder knowledge ingest examples/corpus`
        built.load()
        yield built


def _most_answer_tokens(settings: Settings) -> int:
    drafts = 1 + settings.answers.repair_candidates
    return drafts * settings.max_answer_tokens


def _cites(reply, article: str) -> bool:
    return any(c.source.endswith(article) for c in reply.citations)


def test_apollo_11_landed_on_20_july_1969(assistant) -> None:
    reply = assistant.invoke("When did Apollo 11 land on the Moon?")

    assert [d for d, _ in dates_in(reply.answer)][:1] and all(
        (d.month, d.year) == (7, 1969) and d.day in (None, 20) for d, _ in dates_in(reply.answer)
    ), reply.answer
    assert "20 July 1969" in reply.answer or "July 20, 1969" in reply.answer
    assert "24 July" not in reply.answer
    assert _cites(reply, "apollo-11.md"), reply.citations
    assert reply.usage.answer_tokens <= _most_answer_tokens(assistant.parts.settings)


def test_the_eiffel_tower_was_completed_in_1889_without_an_invented_day(assistant) -> None:
    reply = assistant.invoke("When was the Eiffel Tower completed?")

    assert "1889" in reply.answer, reply.answer
    assert not [d for d, _ in dates_in(reply.answer) if d.year == 1889 and d.day], reply.answer
    assert _cites(reply, "eiffel-tower.md"), reply.citations


def test_penicillin_was_discovered_by_fleming(assistant) -> None:
    reply = assistant.invoke("Who discovered penicillin?")

    assert "Fleming" in reply.answer, reply.answer
    years = set(re.findall(r"\b1[89]\d\d\b", reply.answer))
    assert years <= {"1928", "1929", "1939", "1941", "1944", "1945"}, reply.answer
    assert _cites(reply, "penicillin.md"), reply.citations


def test_17_times_23_is_391_from_the_tool(assistant) -> None:
    reply = assistant.invoke("What is 17 * 23?")

    assert "391" in reply.answer and "381" not in reply.answer, reply.answer
    assert reply.abilities == ["reasoning"]
    assert reply.usage.reasoning_tokens == 0  # computed as a program step, no search
    assert reply.claims is not None and reply.claims.supported == reply.claims.claims


def test_a_question_the_corpus_does_not_cover_is_declined(assistant) -> None:
    reply = assistant.invoke("What is the capital of Peru?")

    assert "do not say" in reply.answer, reply.answer
    assert reply.citations == []
