"""OpenAIModel against a real HTTP server on loopback speaking the Chat Completions API.

The server's replies are scripted: this tests the client's protocol handling (n samples,
usage, continuation, logprobs, retries, timeouts, errors), not a model. The server lives
in ``tests/contracts`` because the ChatModel contract suite runs against it too.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from contracts.openai_chat_server import ChatCompletionsServer, client, serving

from ponder.agents.core.errors import ModelOutputError, ModelTimeoutError
from ponder.agents.models import GenerationSettings


@pytest.fixture
def server() -> Iterator[ChatCompletionsServer]:
    with serving() as running:
        yield running


def test_n_samples_in_one_request_with_settings(server: ChatCompletionsServer) -> None:
    settings = GenerationSettings(max_tokens=9, temperature=0.5, stop=("\n",), seed=3)

    completions = client(server).generate([{"role": "user", "content": "hi"}], 3, settings)

    assert [c.text for c in completions] == ["s0", "s1", "s2"]
    assert all(c.prompt_tokens == 1 and c.completion_tokens == 1 for c in completions)
    [request] = server.requests
    assert (request["n"], request["max_tokens"], request["stop"], request["seed"]) == (
        3,
        9,
        ["\n"],
        3,
    )


def test_a_final_assistant_message_asks_the_server_to_continue(
    server: ChatCompletionsServer,
) -> None:
    messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Step 1:"}]

    client(server).generate(messages)

    assert server.requests[0]["continue_final_message"] is True


def test_score_reads_top_logprobs(server: ChatCompletionsServer) -> None:
    model = client(server)

    assert model.score([{"role": "user", "content": "ok?"}], "Yes") == pytest.approx(-0.2)
    assert model.score([{"role": "user", "content": "ok?"}], "No") == pytest.approx(-1.8)


def test_server_errors_are_retried(server: ChatCompletionsServer) -> None:
    server.fail_next = 1

    [completion] = client(server, max_retries=2).generate([{"role": "user", "content": "hi"}])

    assert completion.text == "s0"
    assert len(server.requests) == 2


def test_persistent_server_errors_name_the_status(server: ChatCompletionsServer) -> None:
    server.fail_next = 5

    with pytest.raises(ModelOutputError, match="HTTP 500"):
        client(server, max_retries=0).generate([{"role": "user", "content": "hi"}])


def test_a_slow_server_times_out_clearly(server: ChatCompletionsServer) -> None:
    server.delay_s = 2.0

    with pytest.raises(ModelTimeoutError, match="did not answer within"):
        client(server, timeout_s=0.3, max_retries=0).generate([{"role": "user", "content": "hi"}])
