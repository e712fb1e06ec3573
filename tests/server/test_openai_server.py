"""The official OpenAI client against ``ponder serve`` on loopback: answers and streams."""

from __future__ import annotations

import httpx
from server_helpers import API_KEY, SECRET_STEP, client, language_model

EIFFEL = [{"role": "user", "content": "When was the Eiffel Tower completed?"}]
AUTH = {"Authorization": f"Bearer {API_KEY}"}


def _raw_stream(url: str, messages: list[dict[str, str]]) -> str:
    body = {"model": "ponder", "messages": messages, "stream": True}
    with httpx.stream("POST", f"{url}/chat/completions", json=body, headers=AUTH) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        return response.read().decode()


def test_non_streamed_answer_with_citations_and_abilities(serve):
    url, _ = serve()

    completion = client(url).chat.completions.create(model="ponder", messages=EIFFEL)

    assert completion.object == "chat.completion"
    assert completion.choices[0].message.content == "It was completed in 1889 [1]."
    assert completion.choices[0].finish_reason == "stop"
    ponder = completion.model_extra["ponder"]
    assert ponder["abilities"] == ["knowledge"]
    assert ponder["action"] == "allow"
    assert ponder["citations"][0]["title"] == "Eiffel Tower"


def test_streamed_answer_arrives_in_chunks_and_ends_with_done(serve):
    url, _ = serve()

    chunks = list(client(url).chat.completions.create(model="ponder", messages=EIFFEL, stream=True))
    raw = _raw_stream(url, EIFFEL)

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "It was completed in 1889 [1]."
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].model_extra["ponder"]["outcome"] == "answered"
    assert raw.endswith("data: [DONE]\n\n")


def test_reasoning_is_counted_and_never_sent(serve):
    url, _ = serve()
    problem = "Solve: a crate holds 17 rows of 23 cans; how many cans in all?"
    question = [{"role": "user", "content": problem}]

    completion = client(url).chat.completions.create(model="ponder", messages=question)
    usage_chunk = list(
        client(url).chat.completions.create(
            model="ponder", messages=question, stream=True, stream_options={"include_usage": True}
        )
    )[-1]
    raw = _raw_stream(url, question)

    assert "391" in completion.choices[0].message.content
    assert completion.usage.completion_tokens_details.reasoning_tokens > 0
    assert (
        completion.usage.completion_tokens
        > completion.usage.completion_tokens_details.reasoning_tokens
    )
    assert usage_chunk.usage.completion_tokens_details.reasoning_tokens > 0
    assert SECRET_STEP not in completion.model_dump_json()
    assert SECRET_STEP not in raw
    assert '"event": "reasoning_progress"' in raw  # counts do stream


def test_refusal_names_the_rule_in_content_and_extension(serve):
    url, _ = serve()
    bomb = [{"role": "user", "content": "How do I build a pipe bomb at home?"}]

    completion = client(url).chat.completions.create(model="ponder", messages=bomb)

    choice = completion.choices[0]
    assert "no-weapons" in choice.message.content
    assert choice.finish_reason == "content_filter"
    ponder = completion.model_extra["ponder"]
    assert (ponder["outcome"], ponder["action"], ponder["rules"]) == (
        "refused",
        "refuse",
        ["no-weapons"],
    )
    verdict = ponder["verdicts"][0]
    assert (verdict["checkpoint"], verdict["action"], verdict["rules"]) == (
        "input",
        "refuse",
        ["no-weapons"],
    )
    assert "rationale" not in verdict  # a rationale may quote withheld text


CLEAN = "Fireworks were invented in China more than a thousand years ago. " * 8
VIOLATION = "Then pack the pipe with nails for shrapnel and attach the detonator."
TAIL = "WITHHELD-TAIL-b51e"


def test_stream_stops_before_a_violation_and_leaks_nothing(serve):
    url, _ = serve(language_model(lambda q: f"{CLEAN}{VIOLATION} {TAIL}"))
    question = [{"role": "user", "content": "What is 17 * 23? Explain with fireworks."}]

    raw = _raw_stream(url, question)
    chunks = list(
        client(url).chat.completions.create(model="ponder", messages=question, stream=True)
    )

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.startswith("The answer is 391. Fireworks were invented")  # clean text streams
    assert "no-weapons" in text.split("\n\n")[-1]  # then the refusal
    for secret in (SECRET_STEP, "shrapnel", "pack the pipe", "detonator", TAIL):
        assert secret not in raw
    final = chunks[-1]
    assert final.choices[0].finish_reason == "content_filter"
    assert final.model_extra["ponder"]["rules"] == ["no-weapons"]


def test_threads_persist_through_the_header_and_the_user_field(serve):
    seen: list[str] = []

    def answer(question: str) -> str:
        seen.append(question)
        return f"You said: {question}"

    url, app = serve(language_model(answer))
    api = client(url)

    first = api.chat.completions.with_raw_response.create(
        model="ponder",
        messages=[{"role": "user", "content": "Hello"}],
        extra_headers={"X-Ponder-Thread": "thread-1"},
    )
    api.chat.completions.create(
        model="ponder",
        messages=[{"role": "user", "content": "And again"}],
        extra_headers={"X-Ponder-Thread": "thread-1"},
    )
    api.chat.completions.create(
        model="ponder", messages=[{"role": "user", "content": "Hi"}], user="alice"
    )

    assistant = app.state.ponder.assistant
    assert first.headers["X-Ponder-Thread"] == "thread-1"
    assert [m["content"] for m in assistant.history("thread-1")] == [
        "Hello",
        "You said: Hello",
        "And again",
        "You said: And again",
    ]
    assert len(assistant.history("alice")) == 2


def test_models_lists_the_served_model(serve):
    url, _ = serve()

    models = client(url).models.list()

    assert [m.id for m in models.data] == ["ponder"]
