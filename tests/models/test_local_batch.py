"""Batched decoding on the real SmolLM2-135M: a request in a batch gets what it gets alone.

Prompts of different lengths are padded between their shared beginning and their own
tokens; these tests fail if the padding leaks into a row (a wrong attention mask or
position ids) or if one row's settings reach another.
"""

from __future__ import annotations

import time

import pytest

from ponder.agents.models import GenerationSettings, LocalModel, Message
from ponder.agents.models.batching import BatchingChatModel, GenerationCancelled

pytestmark = pytest.mark.real_model

CHATS: list[list[Message]] = [
    [{"role": "user", "content": "What is the capital of France?"}],
    [{"role": "user", "content": "Name three colors."}],
    [
        {"role": "system", "content": "You are a terse assistant who answers in one line."},
        {"role": "user", "content": "Why is the sky blue? Explain it to a ten year old child."},
    ],
    [
        {"role": "user", "content": "Count from one to ten."},
        {"role": "assistant", "content": "One, two,"},
    ],
]
SETTINGS = [
    GenerationSettings(max_tokens=10),
    GenerationSettings(max_tokens=3),
    GenerationSettings(max_tokens=12, stop=(".",)),
    GenerationSettings(max_tokens=8, stop=("six",)),
]


def _same(a, b) -> None:
    assert (a.text, a.completion_tokens, a.finish_reason, a.prompt_tokens) == (
        b.text,
        b.completion_tokens,
        b.finish_reason,
        b.prompt_tokens,
    )


def test_greedy_output_in_a_batch_equals_the_output_alone(smollm2: LocalModel) -> None:
    alone = [smollm2.generate(chat, 1, s)[0] for chat, s in zip(CHATS, SETTINGS, strict=True)]
    model = BatchingChatModel(smollm2, window_s=2.0)

    pending = [model.submit(chat, 1, s) for chat, s in zip(CHATS, SETTINGS, strict=True)]
    batched = [p.result(120)[0] for p in pending]

    assert list(model.batch_sizes) == [len(CHATS)]  # one batch, not four calls
    assert {c.extra["batch_rows"] for c in batched} == {len(CHATS)}
    for one, many in zip(alone, batched, strict=True):
        _same(one, many)
    assert "Paris" in batched[0].text


def test_sampled_and_greedy_requests_share_a_batch(smollm2: LocalModel) -> None:
    model = BatchingChatModel(smollm2, window_s=2.0)
    sampled = GenerationSettings(max_tokens=6, temperature=1.0, seed=3)

    first = model.submit(CHATS[0], 3, sampled)
    greedy = model.submit(CHATS[1], 2, SETTINGS[1])
    samples, answers = first.result(120), greedy.result(120)

    assert len(samples) == 3 and len({c.text for c in samples}) > 1
    assert len(answers) == 2
    _same(answers[0], smollm2.generate(CHATS[1], 1, SETTINGS[1])[0])
    again = model.submit(CHATS[0], 3, sampled).result(120)
    assert [c.text for c in again] == [c.text for c in samples]  # the seed holds


def test_a_request_joins_a_running_batch_and_a_cancelled_row_leaves_it(smollm2: LocalModel) -> None:
    model = BatchingChatModel(smollm2, window_s=0.0)
    story = [{"role": "user", "content": "Write a long story about a lighthouse keeper."}]
    long = model.submit(story, 1, GenerationSettings(max_tokens=400))
    time.sleep(0.5)  # the story is being written
    short = model.submit(CHATS[2], 1, SETTINGS[2])  # a longer prompt than the story's
    [answer] = short.result(120)  # joined the story's batch and handed over before its end
    assert not long.done()
    started = time.monotonic()
    long.cancel()

    with pytest.raises(GenerationCancelled):
        long.result(120)
    assert time.monotonic() - started < 5  # it left at its next step, not after 400 tokens
    assert list(model.batch_sizes) == [2]  # one batch, which the short request joined
    _same(answer, smollm2.generate(CHATS[2], 1, SETTINGS[2])[0])


def test_rows_with_no_common_beginning_are_left_padded_without_harm(smollm2: LocalModel) -> None:
    from ponder.agents.models.local_batch import _decode, _Row

    loaded = smollm2._ensure_loaded()
    prompt = tuple(smollm2._prompt_ids(loaded, CHATS[0])[0].tolist())
    other = (loaded.tokenizer.encode("Hello")[0], *prompt)  # longer, and no shared first token
    settings = GenerationSettings(max_tokens=8)

    def row(ids: tuple[int, ...]) -> _Row:
        return _Row(0, ids, settings, None, lambda: False)

    alone, padded, longer = row(prompt), row(prompt), row(other)
    _decode(smollm2, loaded, [alone])
    _decode(smollm2, loaded, [padded, longer])

    assert padded.tokens == alone.tokens and len(alone.tokens) > 0


def test_scores_in_a_batch_equal_the_scores_alone(smollm2: LocalModel) -> None:
    jobs = [
        (CHATS[0], "Paris"),
        (CHATS[1], "Red, blue and yellow."),
        (CHATS[2], "Yes"),
        (CHATS[3], " three, four"),
        (CHATS[0], ""),  # nothing to score: 0.0, as alone
    ]
    alone = [smollm2.score(chat, continuation) for chat, continuation in jobs]
    loaded = smollm2._ensure_loaded()
    loaded.prefixes.clear()
    smollm2.score(CHATS[0], "Paris")  # one row's prompt is held whole; the others' in part
    model = BatchingChatModel(smollm2, window_s=2.0)

    pending = [model.submit_score(chat, continuation) for chat, continuation in jobs]
    batched = [p.result(120) for p in pending]
    pending = [model.submit_score(chat, "No") for chat in CHATS]  # after the prompts it kept
    again = [p.result(120) for p in pending]

    assert list(model.score_batch_sizes) == [len(jobs), len(CHATS)]  # not one call each
    assert batched == pytest.approx(alone, abs=1e-4)
    assert alone[4] == 0.0 and all(s < 0 for s in alone[:4])
    assert again == pytest.approx([smollm2.score(chat, "No") for chat in CHATS], abs=1e-4)
    keys = loaded.prefixes.keys()
    held = {len(key) for key in keys}
    prompts = [smollm2._prompt_ids(loaded, chat).shape[1] for chat in CHATS]
    assert {n - 1 for n in prompts} <= held  # each prompt kept, as a lone score keeps it
