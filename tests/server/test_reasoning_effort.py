"""Per-request thinking: ``reasoning_effort`` through the OpenAI client and in Python."""

from __future__ import annotations

import openai
import pytest
from server_helpers import client

PROBLEM = "Solve: a crate holds 17 rows of 23 cans; how many cans in all?"
FAST = {"classifier": False}  # about the search, not rules: no learned stage


def _reasoning_tokens(api: openai.OpenAI, effort: str | None) -> tuple[int, str]:
    extra = {} if effort is None else {"reasoning_effort": effort}
    reply = api.chat.completions.create(
        model="ponder", messages=[{"role": "user", "content": PROBLEM}], **extra
    )
    assert reply.usage is not None and reply.usage.completion_tokens_details is not None
    return reply.usage.completion_tokens_details.reasoning_tokens or 0, reply.model_extra["ponder"][
        "route_reason"
    ]


def test_reasoning_effort_changes_the_reported_reasoning_tokens(serve) -> None:
    url, _ = serve(**FAST)
    api = client(url)

    tokens = {effort: _reasoning_tokens(api, effort)[0] for effort in ("none", "low", "high")}
    default, _ = _reasoning_tokens(api, None)
    medium, _ = _reasoning_tokens(api, "medium")

    assert tokens["none"] == 0
    assert 0 < tokens["low"] < medium < tokens["high"]
    assert medium == default  # medium is the reasoning settings as they are


def test_none_skips_the_reasoning_node_and_says_so(serve) -> None:
    url, _ = serve(**FAST)

    _, reason = _reasoning_tokens(client(url), "none")

    assert "reasoning_effort none" in reason


def test_an_unknown_effort_is_a_400_naming_the_field(serve) -> None:
    url, _ = serve(**FAST)

    with pytest.raises(openai.BadRequestError) as caught:
        _reasoning_tokens(client(url), "extreme")

    assert caught.value.param == "reasoning_effort"


def test_invoke_and_stream_take_reasoning_effort_in_python(make_assistant) -> None:
    assistant = make_assistant(**FAST)

    low = assistant.invoke(PROBLEM, reasoning_effort="low").usage.reasoning_tokens
    high = assistant.invoke(PROBLEM, reasoning_effort="high").usage.reasoning_tokens
    streamed = list(assistant.stream(PROBLEM, reasoning_effort="none"))[-1]

    assert 0 < low < high
    assert streamed.reply.usage.reasoning_tokens == 0
    assert "reasoning" not in streamed.reply.abilities
    with pytest.raises(ValueError, match="reasoning_effort must be one of"):
        assistant.invoke(PROBLEM, reasoning_effort="extreme")  # type: ignore[arg-type]
