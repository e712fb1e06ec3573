"""The ChatModel contract, for every backend and every fake.

``generate`` returns exactly ``n`` completions, counts tokens honestly, stops at stop
strings (cutting them), stays within ``max_tokens`` and says which limit ended it;
``score`` is a log-probability; ``n < 1`` is refused with ``ValueError``. Every one
streams: ``stream`` yields, in pieces, the text ``generate`` writes, never a stop string,
and stops at once when sent ``True``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest
from contracts.openai_chat_server import YES_NO_LOGPROBS, client, serving

from ponder.agents.models import ChatModel, Completion, GenerationSettings, Message
from ponder.agents.models.base import StreamingChatModel
from ponder.agents.models.testing import FunctionChatModel, ScriptedChatModel

FRUITS: list[Message] = [{"role": "user", "content": "List three fruits, one per line."}]
STORY: list[Message] = [
    {"role": "user", "content": "Write a long story about a dragon who learns to bake."}
]
QUESTION: list[Message] = [
    {"role": "user", "content": "Is Paris the capital of France? Answer Yes or No."}
]

# What the fakes and the scripted server reply: a stop string early, more words than any
# max_tokens below, so every limit is exercised.
REPLY = "Apples\nBananas. Cherries are small, red and sweet, and they grow on trees"


def _reply(messages: Sequence[Message], n: int, settings: GenerationSettings) -> list[str]:
    return [REPLY] * n


def _log_prob(messages: Sequence[Message], continuation: str) -> float:
    return -0.5 * len(continuation.split())


@pytest.fixture(
    params=[
        "scripted",
        "function",
        "openai",
        pytest.param("local", marks=pytest.mark.real_model),
    ]
)
def chat_model(request: pytest.FixtureRequest) -> Iterator[ChatModel]:
    if request.param == "scripted":
        yield ScriptedChatModel(responses=[REPLY] * 8, scores=YES_NO_LOGPROBS)
    elif request.param == "function":
        yield FunctionChatModel(_reply, score_fn=_log_prob)
    elif request.param == "openai":
        with serving(lambda index: REPLY) as server:
            yield client(server, max_retries=0)
    else:
        yield request.getfixturevalue("smollm2")


def test_it_is_a_named_chat_model(chat_model: ChatModel) -> None:
    assert isinstance(chat_model, ChatModel)
    assert isinstance(chat_model.name, str) and chat_model.name


def test_load_gets_it_ready_and_a_second_load_changes_nothing(chat_model: ChatModel) -> None:
    chat_model.load()
    chat_model.load()

    [completion] = chat_model.generate(FRUITS, settings=GenerationSettings(max_tokens=4))
    assert completion.completion_tokens <= 4


@pytest.mark.parametrize("n", [1, 3])
def test_generate_returns_exactly_n_well_formed_completions(chat_model: ChatModel, n: int) -> None:
    completions = chat_model.generate(FRUITS, n=n, settings=GenerationSettings(max_tokens=8))

    assert len(completions) == n
    for completion in completions:
        assert isinstance(completion, Completion)
        assert isinstance(completion.text, str)
        assert completion.prompt_tokens >= 0
        assert 0 <= completion.completion_tokens <= 8
        assert completion.finish_reason in ("stop", "length")


def test_stop_strings_end_generation_and_are_cut(chat_model: ChatModel) -> None:
    settings = GenerationSettings(max_tokens=60, stop=("\n", "."))

    [completion] = chat_model.generate(FRUITS, settings=settings)

    assert "\n" not in completion.text and "." not in completion.text
    assert completion.finish_reason == "stop"


def test_max_tokens_bounds_the_completion_and_ends_it_with_length(chat_model: ChatModel) -> None:
    [completion] = chat_model.generate(STORY, settings=GenerationSettings(max_tokens=3))

    assert 0 < completion.completion_tokens <= 3
    assert completion.finish_reason == "length"


def test_score_is_a_log_probability(chat_model: ChatModel) -> None:
    value = chat_model.score(QUESTION, "Yes")

    assert isinstance(value, float)
    assert value <= 0.0  # also fails for NaN


@pytest.mark.parametrize("n", [0, -1])
def test_fewer_than_one_sample_is_refused(chat_model: ChatModel, n: int) -> None:
    with pytest.raises(ValueError, match="n must be >= 1"):
        chat_model.generate(FRUITS, n=n)


def _drain(stream) -> tuple[list[str], Completion]:
    pieces: list[str] = []
    try:
        while True:
            pieces.append(next(stream))
    except StopIteration as end:
        return pieces, end.value


def test_stream_yields_in_pieces_the_text_generate_writes(chat_model: ChatModel) -> None:
    assert isinstance(chat_model, StreamingChatModel)
    settings = GenerationSettings(max_tokens=12)

    pieces, completion = _drain(chat_model.stream(STORY, settings))
    [whole] = chat_model.generate(STORY, settings=settings)

    assert len(pieces) > 1 and all(pieces)
    assert "".join(pieces) == completion.text == whole.text
    assert 0 < completion.completion_tokens <= 12
    assert completion.finish_reason == whole.finish_reason


def test_a_stream_never_yields_its_stop_string(chat_model: ChatModel) -> None:
    assert isinstance(chat_model, StreamingChatModel)
    settings = GenerationSettings(max_tokens=60, stop=("\n", "."))

    pieces, completion = _drain(chat_model.stream(FRUITS, settings))

    assert "".join(pieces) == completion.text
    assert "\n" not in completion.text and "." not in completion.text
    assert completion.finish_reason == "stop"


def test_sending_true_stops_a_stream_at_once(chat_model: ChatModel) -> None:
    assert isinstance(chat_model, StreamingChatModel)
    stream = chat_model.stream(STORY, GenerationSettings(max_tokens=40))

    first = next(stream)
    with pytest.raises(StopIteration) as end:
        stream.send(True)

    assert end.value.value.text == first
    assert end.value.value.extra["stopped"] is True
    assert end.value.value.finish_reason == "length"
