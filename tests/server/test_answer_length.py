"""A request's ``max_tokens`` reaches the model, up to the server's limit.

The answer length a client asks for (``max_tokens``, or ``max_completion_tokens``, which
wins) is what the language model is asked to write, above the assistant's default answer
length too; only more than ``server.max_completion_tokens`` is refused. Checked through
the official OpenAI client, on a real loopback server, with a fake model that records the
:class:`GenerationSettings` it was given.
"""

from __future__ import annotations

import openai
import pytest
from server_helpers import client

from ponder.agents.models import GenerationSettings
from ponder.agents.models.testing import FunctionChatModel

# No knowledge or reasoning cue, so the language model writes the answer straight away.
TEA = [{"role": "user", "content": "Write two lines on green tea."}]


class _RecordingModel:
    """A fake language model that answers briefly and keeps every GenerationSettings."""

    def __init__(self) -> None:
        self.settings: list[GenerationSettings] = []

    def model(self) -> FunctionChatModel:
        def generate(messages, n, settings: GenerationSettings) -> list[str]:
            self.settings.append(settings)
            return ["Green tea is made from unoxidized leaves."] * n

        return FunctionChatModel(generate, score_fn=lambda messages, continuation: -0.7)

    @property
    def answer_limits(self) -> list[int]:
        return [s.max_tokens for s in self.settings]


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens"])
def test_a_request_for_500_tokens_gets_500_above_the_default_length(serve, field: str) -> None:
    recorder = _RecordingModel()
    url, _ = serve(recorder.model(), server={"max_completion_tokens": 1000})

    completion = client(url).chat.completions.create(model="ponder", messages=TEA, **{field: 500})

    assert completion.choices[0].message.content == "Green tea is made from unoxidized leaves."
    assert recorder.answer_limits == [500]


def test_without_a_limit_the_assistant_default_applies(serve) -> None:
    recorder = _RecordingModel()
    url, _ = serve(recorder.model(), server={"max_completion_tokens": 1000}, max_answer_tokens=90)

    client(url).chat.completions.create(model="ponder", messages=TEA)

    assert recorder.answer_limits == [90]


def test_max_completion_tokens_wins_over_max_tokens(serve) -> None:
    recorder = _RecordingModel()
    url, _ = serve(recorder.model(), server={"max_completion_tokens": 1000})

    client(url).chat.completions.create(
        model="ponder", messages=TEA, max_tokens=300, max_completion_tokens=700
    )

    assert recorder.answer_limits == [700]


def test_more_than_the_server_limit_is_refused_before_the_model_runs(serve) -> None:
    recorder = _RecordingModel()
    url, _ = serve(recorder.model(), server={"max_completion_tokens": 1000})

    with pytest.raises(openai.BadRequestError) as refused:
        client(url).chat.completions.create(model="ponder", messages=TEA, max_tokens=1001)

    assert refused.value.param == "max_tokens" and "1000" in refused.value.message
    assert recorder.answer_limits == []
