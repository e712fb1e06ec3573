"""The language node with claim checking, on fake models: what is released and why."""

from __future__ import annotations

from compose_helpers import APOLLO, ENCODER, QUESTION, Chunk

from ponder.agents.compose import AnswerPlan, compose
from ponder.agents.computation import compute
from ponder.agents.extractive import DECLINE
from ponder.agents.models.testing import FunctionChatModel, ScriptedChatModel


def test_a_supported_draft_passes_unchanged() -> None:
    draft = "Armstrong and Aldrin landed the lunar module Eagle on 20 July 1969 [1]."
    model = ScriptedChatModel(responses=[draft])

    result = compose(QUESTION, model, evidence=[APOLLO], encoder=ENCODER, needs_evidence=True)

    assert result.text == draft
    assert result.check is not None and result.check.kind == "drafted"
    assert result.check.supported == result.check.claims == 1
    assert [c.source for c in result.citations] == ["corpus/apollo-11.md"]


def test_a_wrong_date_is_repaired_when_a_rewrite_is_supported() -> None:
    wrong = "Armstrong and Aldrin landed the lunar module on 24 July 1969 [1]."
    right = "Armstrong and Aldrin landed the lunar module on 20 July 1969 [1]."
    prompts: list[str] = []

    def write(messages, n, settings):
        prompts.append(messages[0]["content"])
        return [wrong] if settings.temperature == 0 else [wrong, right][:n]

    result = compose(
        QUESTION, FunctionChatModel(write), evidence=[APOLLO], encoder=ENCODER, needs_evidence=True
    )

    assert result.text == right
    assert result.check is not None and result.check.kind == "repaired"
    assert "24 July 1969" in prompts[1]  # the rewrite was told what was unsupported
    assert "24 July 1969" not in result.text


def test_a_wrong_date_that_stays_wrong_is_replaced_by_the_cited_evidence() -> None:
    wrong = "Armstrong and Aldrin landed the lunar module on 24 July 1969 [1]."
    model = FunctionChatModel(lambda messages, n, settings: [wrong] * n)

    result = compose(QUESTION, model, evidence=[APOLLO], encoder=ENCODER, needs_evidence=True)

    assert result.check is not None and result.check.kind == "extractive"
    assert "20 July 1969" in result.text and "24 July" not in result.text
    assert result.text.endswith("[1].")
    assert result.citations and result.citations[0].title == APOLLO.title
    assert "24 July 1969" in " ".join(result.check.rejected_spans)


def test_an_arithmetic_question_is_answered_from_the_tool_result() -> None:
    tool = compute("17 * 23")
    assert tool is not None
    model = ScriptedChatModel(responses=["17 * 23 = 381."])  # the model gets it wrong

    result = compose(
        "What is 17 * 23?",
        model,
        reasoning_answer=tool.value,
        tool_results=[tool],
        plan=AnswerPlan(repair_candidates=0),
    )

    assert result.text == "17 * 23 = 391."
    assert result.check is not None and result.check.kind == "computed"


def test_a_model_that_states_the_tool_result_is_kept() -> None:
    tool = compute("17 * 23")
    assert tool is not None
    model = ScriptedChatModel(responses=["17 times 23 is 391."])

    result = compose("What is 17 * 23?", model, reasoning_answer="391", tool_results=[tool])

    assert result.text == "17 times 23 is 391."
    assert result.check is not None and result.check.kind == "drafted"


def test_an_unanswerable_question_is_declined_without_asking_the_model() -> None:
    model = ScriptedChatModel(responses=[])  # any call would raise

    result = compose("What is the capital of Peru?", model, evidence=[], needs_evidence=True)

    assert result.text == DECLINE
    assert result.check is not None and result.check.kind == "declined"
    assert result.citations == ()


def test_a_question_the_evidence_does_not_answer_is_declined() -> None:
    invented = "The tower cost 7.8 million francs [1]."
    model = FunctionChatModel(lambda messages, n, settings: [invented] * n)
    eiffel = Chunk("The Eiffel Tower was completed in 1889.", title="The Eiffel Tower")

    result = compose(
        "How much did the Eiffel Tower cost?",
        model,
        evidence=[eiffel],
        encoder=ENCODER,
        needs_evidence=True,
    )

    assert result.text == DECLINE
    assert result.check is not None and result.check.kind == "declined"


def test_with_claim_checking_off_the_draft_goes_as_written() -> None:
    wrong = "Armstrong and Aldrin landed the lunar module on 24 July 1969 [1]."
    model = FunctionChatModel(lambda messages, n, settings: [wrong] * n)

    result = compose(
        QUESTION, model, evidence=[APOLLO], plan=AnswerPlan(claim_check=False, candidates=1)
    )

    assert result.text == wrong
    assert result.check is not None and result.check.kind == "unchecked"


def test_an_invented_sentence_is_dropped_and_the_supported_one_kept() -> None:
    right = "Armstrong and Aldrin landed the lunar module Eagle on 20 July 1969 [1]."
    model = ScriptedChatModel(responses=[f"{right} They spent 31 days on the Moon."])

    result = compose(QUESTION, model, evidence=[APOLLO], encoder=ENCODER, needs_evidence=True)

    assert result.text == right
    assert result.check is not None and result.check.kind == "trimmed"
    assert "31 days" in result.check.rejected_spans


def test_a_sentence_that_names_the_place_but_not_what_was_asked_is_no_answer() -> None:
    from ponder.agents.claims import Source
    from ponder.agents.extractive import extractive_answer

    amazon = Source(
        number=1,
        title="The Amazon River",
        text="The Amazon rises high in the Andes mountains of Peru and flows east.",
    )

    assert extractive_answer("What is the capital of Peru?", [amazon], ENCODER) is None
    found = extractive_answer("Where does the Amazon rise?", [amazon], ENCODER)
    assert found is not None and "Andes" in found.text
