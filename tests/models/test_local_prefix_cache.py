"""LocalModel computes a shared prompt once; the results are those of the plain path.

Compared in float32, where batching and caching change no greedy token (in bfloat16 a
tiny model's near-ties can flip either way).
"""

from __future__ import annotations

import pytest

from ponder.agents.models import GenerationSettings, LocalModel

pytestmark = pytest.mark.real_model

SYSTEM = {"role": "system", "content": "You answer in one short sentence."}
CHATS = [
    [SYSTEM, {"role": "user", "content": "What is the capital of France?"}],
    [SYSTEM, {"role": "user", "content": "Name a yellow fruit."}],
    [
        SYSTEM,
        {"role": "user", "content": "What is 2 + 2?"},
        {"role": "assistant", "content": "2 + 2"},
    ],
]
GREEDY = GenerationSettings(max_tokens=12)


@pytest.fixture(scope="module")
def models() -> tuple[LocalModel, LocalModel]:
    shared = LocalModel("smollm2-135m", dtype="float32")
    plain = LocalModel("smollm2-135m", dtype="float32", share_prefix=False)
    return shared, plain


def test_greedy_text_is_the_same_with_and_without_the_shared_prefix(models) -> None:
    shared, plain = models

    for chat in [*CHATS, CHATS[0]]:  # the repeat is served from the prefix cache
        assert (
            shared.generate(chat, settings=GREEDY)[0].text
            == plain.generate(chat, settings=GREEDY)[0].text
        )


def test_samples_from_one_shared_prompt_differ_and_repeat_with_a_seed(models) -> None:
    shared, _ = models
    settings = GenerationSettings(max_tokens=10, temperature=1.0, seed=5)

    first = shared.generate(CHATS[1], n=4, settings=settings)

    assert [c.text for c in first] == [
        c.text for c in shared.generate(CHATS[1], n=4, settings=settings)
    ]
    assert len({c.text for c in first}) > 1


def test_scores_match_the_plain_forward_pass(models) -> None:
    shared, plain = models

    for continuation in ("Yes", "No", "Paris is the capital."):
        assert shared.score(CHATS[0], continuation) == pytest.approx(
            plain.score(CHATS[0], continuation), abs=1e-3
        )


def test_generate_many_gives_each_chat_its_own_greedy_completion(models) -> None:
    shared, plain = models

    many = shared.generate_many(CHATS, GREEDY)

    singles = [plain.generate(chat, settings=GREEDY)[0] for chat in CHATS]
    assert [c.text for c in many] == [c.text for c in singles]
    assert [c.completion_tokens for c in many] == [c.completion_tokens for c in singles]
    assert [c.prompt_tokens for c in many] == [c.prompt_tokens for c in singles]
