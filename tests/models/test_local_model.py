"""LocalModel on the real embedded SmolLM2-135M weights.

What every ChatModel promises (n samples, token counts, stop strings, max_tokens, n < 1)
is checked in tests/contracts; these tests are about this model's answers.
"""

from __future__ import annotations

import pytest

from ponder.agents.models import GenerationSettings, LocalModel

pytestmark = pytest.mark.real_model

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


def test_greedy_answer_is_sensible_with_token_counts(smollm2: LocalModel) -> None:
    [completion] = smollm2.generate(QUESTION, settings=GenerationSettings(max_tokens=24))

    assert "Paris" in completion.text
    assert completion.prompt_tokens > 5
    assert 0 < completion.completion_tokens <= 24


def test_n_samples_come_from_one_call_and_repeat_with_a_seed(smollm2: LocalModel) -> None:
    settings = GenerationSettings(max_tokens=12, temperature=1.0, seed=7)

    first = smollm2.generate(QUESTION, n=4, settings=settings)
    again = smollm2.generate(QUESTION, n=4, settings=settings)

    assert len(first) == 4
    assert [c.text for c in first] == [c.text for c in again]
    assert len({c.text for c in first}) > 1  # sampling, not four copies


def test_a_final_assistant_message_is_continued(smollm2: LocalModel) -> None:
    messages = [*QUESTION, {"role": "assistant", "content": "The capital of France is"}]

    [completion] = smollm2.generate(messages, settings=GenerationSettings(max_tokens=6))

    assert "Paris" in completion.text
    assert not completion.text.lstrip().startswith("The capital")


def test_score_prefers_the_right_continuation(smollm2: LocalModel) -> None:
    right = smollm2.score(QUESTION, "The capital of France is Paris.")
    wrong = smollm2.score(QUESTION, "The capital of France is Tokyo.")

    assert right < 0
    assert right > wrong


def test_stop_strings_are_built_once_per_stop_set_and_still_stop(smollm2: LocalModel) -> None:
    # transformers would rebuild the criteria (reading the whole vocabulary) every call.
    settings = GenerationSettings(max_tokens=40, stop=(".",))

    [first] = smollm2.generate(QUESTION, settings=settings)
    stops = smollm2._ensure_loaded().stops
    built = stops.criteria((".",))
    [second] = smollm2.generate(QUESTION, settings=settings)

    assert stops.criteria((".",)) is built
    assert first.finish_reason == second.finish_reason == "stop"
    assert first.text == second.text and "." not in first.text
