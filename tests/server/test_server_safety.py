"""Server safety: OpenAI-shaped errors, keys, limits, the queue, timeouts, disconnects."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest
from fastapi.testclient import TestClient
from server_helpers import API_KEY, BlockingModel, client, idle, language_model

from ponder.agents.core.errors import ConfigError
from ponder.graphs.server import check_exposure, create_app
from ponder.graphs.settings import ServerSettings, Settings

HELLO = [{"role": "user", "content": "Hello"}]
AUTH = {"Authorization": f"Bearer {API_KEY}"}


def _error(response: httpx.Response) -> dict:
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    return body["error"]


def test_malformed_json_is_a_400_in_openai_shape(serve):
    url, _ = serve()

    bad = httpx.post(f"{url}/chat/completions", content=b'{"model": "ponder",', headers=AUTH)
    not_object = httpx.post(f"{url}/chat/completions", json=["ponder"], headers=AUTH)
    wrong_type = httpx.post(
        f"{url}/chat/completions", json={"model": 1, "messages": HELLO}, headers=AUTH
    )

    assert bad.status_code == 400 and _error(bad)["code"] == "invalid_json"
    assert not_object.status_code == 400 and _error(not_object)["code"] == "invalid_json"
    assert wrong_type.status_code == 400 and _error(wrong_type)["param"] == "model"


def test_unknown_model_is_a_404(serve):
    url, _ = serve()

    with pytest.raises(openai.NotFoundError) as caught:
        client(url).chat.completions.create(model="gpt-4o", messages=HELLO)

    assert caught.value.code == "model_not_found"
    assert caught.value.param == "model"
    assert "ponder" in caught.value.message


@pytest.mark.parametrize(
    ("messages", "param"),
    [
        ([], "messages"),
        ([{"role": "user", "content": "   "}], "messages.0.content"),
        (
            [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}],
            "messages.1.role",
        ),
    ],
)
def test_empty_or_misplaced_messages_are_a_400(serve, messages, param):
    url, _ = serve()

    with pytest.raises(openai.BadRequestError) as caught:
        client(url).chat.completions.create(model="ponder", messages=messages)

    assert caught.value.param == param


def test_oversized_body_is_a_413_and_too_many_tokens_a_400(serve):
    url, _ = serve(server={"max_body_bytes": 4096, "max_completion_tokens": 100})
    big = [{"role": "user", "content": "x " * 4096}]

    with pytest.raises(openai.APIStatusError) as too_big:
        client(url).chat.completions.create(model="ponder", messages=big)
    with pytest.raises(openai.BadRequestError) as too_many:
        client(url).chat.completions.create(model="ponder", messages=HELLO, max_tokens=101)

    assert too_big.value.status_code == 413
    assert too_big.value.code == "request_too_large"
    assert too_many.value.param == "max_tokens"


def test_max_tokens_caps_the_answer(serve):
    url, _ = serve(language_model(lambda q: "one two three four five six"))

    completion = client(url).chat.completions.create(model="ponder", messages=HELLO, max_tokens=3)

    assert completion.choices[0].message.content == "one two three"


def test_a_bad_or_missing_key_is_a_401(serve):
    url, _ = serve()

    with pytest.raises(openai.AuthenticationError) as caught:
        client(url, key="wrong-key").chat.completions.create(model="ponder", messages=HELLO)
    missing = httpx.get(f"{url}/models")

    assert caught.value.code == "invalid_api_key"
    assert missing.status_code == 401 and _error(missing)["type"] == "invalid_request_error"


def test_unknown_path_is_a_404_in_openai_shape(serve):
    url, _ = serve()

    response = httpx.get(f"{url}/nothing-here", headers=AUTH)

    assert response.status_code == 404 and _error(response)["type"] == "invalid_request_error"


def test_without_keys_only_loopback_is_served(make_assistant):
    app = create_app(make_assistant(), Settings(server=ServerSettings()))

    with TestClient(app) as remote:  # TestClient's peer is "testclient", not loopback
        response = remote.get("/v1/models")

    assert response.status_code == 403 and _error(response)["code"] == "loopback_only"
    with pytest.raises(ConfigError, match="API keys"):
        check_exposure(ServerSettings(), "0.0.0.0")
    check_exposure(ServerSettings(), "127.0.0.1")
    check_exposure(ServerSettings(api_keys=["k"]), "0.0.0.0")


def test_one_request_queues_and_the_next_is_a_429(serve):
    slow = BlockingModel()
    url, app = serve(slow.model(), server={"max_concurrent": 1, "max_queue": 1})
    api = client(url)

    with ThreadPoolExecutor(2) as pool:
        running = pool.submit(api.chat.completions.create, model="ponder", messages=HELLO)
        assert slow.entered.wait(10)
        queued = pool.submit(api.chat.completions.create, model="ponder", messages=HELLO)
        _wait_for(lambda: app.state.ponder.gate.admitted == 2)
        with pytest.raises(openai.RateLimitError) as caught:
            api.chat.completions.create(model="ponder", messages=HELLO)
        slow.released.set()
        answers = [f.result(10).choices[0].message.content for f in (running, queued)]

    assert caught.value.code == "queue_full"
    assert int(caught.value.response.headers["Retry-After"]) >= 1
    assert answers == ["A slow answer.", "A slow answer."]
    assert app.state.ponder.gate.admitted == 0


def _cancelled(app, thread: str) -> bool:
    """Whether the thread's one turn was recorded as cancelled, with nothing sent."""
    assistant = app.state.ponder.assistant
    state = assistant.graph.get_state({"configurable": {"thread_id": thread}})
    history = [(m["role"], m["content"]) for m in assistant.history(thread)]
    return state.values["outcome"] == "cancelled" and history[1:] == [("assistant", "")]


def _wait_for(condition, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def test_a_slow_turn_is_a_504_and_stops(serve):
    slow = BlockingModel()
    url, app = serve(slow.model(), server={"request_timeout_s": 0.5, "max_concurrent": 1})

    with pytest.raises(openai.APIStatusError) as caught:
        client(url).chat.completions.create(
            model="ponder", messages=HELLO, extra_headers={"X-Ponder-Thread": "slow"}
        )
    slow.released.set()  # the turn was stopped when the deadline passed
    idle(app)

    assert caught.value.status_code == 504 and caught.value.code == "timeout"
    assert _cancelled(app, "slow")


def test_a_client_that_leaves_mid_stream_stops_its_turn(serve):
    slow = BlockingModel()
    url, app = serve(slow.model(), server={"max_concurrent": 1})
    body = {"model": "ponder", "messages": HELLO, "stream": True}
    headers = {**AUTH, "X-Ponder-Thread": "gone"}

    with httpx.stream("POST", f"{url}/chat/completions", json=body, headers=headers) as response:
        lines = response.iter_lines()  # kept open: dropping it would close the connection
        first = next(lines)
        assert slow.entered.wait(10)
    _wait_for(lambda: app.state.ponder.gate.admitted == 0)  # the server saw the client leave
    slow.released.set()  # and only then does the model return
    idle(app)

    assert first.startswith("data: ")
    assert _cancelled(app, "gone")
    assert app.state.ponder.gate.admitted == 0


def test_a_client_that_leaves_before_the_answer_stops_its_turn(serve):
    slow = BlockingModel()
    url, app = serve(slow.model(), server={"max_concurrent": 1})
    headers = {**AUTH, "X-Ponder-Thread": "impatient"}
    body = {"model": "ponder", "messages": HELLO}

    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{url}/chat/completions", json=body, headers=headers, timeout=1.0)
    assert slow.entered.is_set()
    _wait_for(lambda: app.state.ponder.gate.admitted == 0)  # the server saw the client leave
    slow.released.set()
    idle(app)

    assert _cancelled(app, "impatient")
