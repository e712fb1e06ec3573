"""Turns on one thread run one at a time: concurrent requests lose no turn (SQLite here;
PostgreSQL with two server processes in ``test_thread_turns_postgres.py``)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest
from server_helpers import (
    API_KEY,
    BlockingModel,
    assert_turns_in_order,
    client,
    idle,
    recalling_model,
)

AUTH = {"Authorization": f"Bearer {API_KEY}"}
FAST = {"classifier": False}  # these tests are about turns, not rules: no learned stage


def _ask(url: str, thread: str, text: str, stream: bool = False) -> str:
    api = client(url)
    messages = [{"role": "user", "content": text}]
    headers = {"X-Ponder-Thread": thread}
    if stream:
        chunks = api.chat.completions.create(
            model="ponder", messages=messages, stream=True, extra_headers=headers
        )
        return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    reply = api.chat.completions.create(model="ponder", messages=messages, extra_headers=headers)
    return reply.choices[0].message.content or ""


def test_concurrent_requests_on_one_thread_all_land_in_its_history(serve) -> None:
    # Three workers could run three turns of the thread at once; the thread lock must not.
    url, app = serve(recalling_model(delay_s=0.05), server={"max_concurrent": 3}, **FAST)
    questions = [f"Message {i}" for i in range(8)]

    with ThreadPoolExecutor(len(questions)) as pool:
        answers = list(
            pool.map(
                lambda iq: _ask(url, "shared", iq[1], stream=iq[0] % 2 == 1), enumerate(questions)
            )
        )

    history = app.state.ponder.assistant.history("shared")
    assert_turns_in_order(history, questions)
    assert sorted(answers) == sorted(m["content"] for m in history[1::2])
    assert app.state.ponder.threads.waiting("shared") == 0


def test_other_threads_run_while_one_thread_waits(serve) -> None:
    slow = BlockingModel()
    url, _ = serve(slow.model(), server={"max_concurrent": 2}, **FAST)

    with ThreadPoolExecutor(1) as pool:
        held = pool.submit(_ask, url, "busy", "First")
        assert slow.entered.wait(10)
        # A different thread is not held up by the busy one (it also waits on the model).
        other = threading.Thread(target=_ask, args=(url, "free", "Hello"))
        other.start()
        _wait_for(lambda: slow.calls == 2)
        slow.released.set()
        other.join(10)
        assert held.result(10) == "A slow answer."


def test_a_turn_on_a_busy_thread_waits_then_gets_a_409_naming_it(serve) -> None:
    slow = BlockingModel()
    url, app = serve(slow.model(), server={"max_concurrent": 2, "thread_wait_s": 0.3}, **FAST)

    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(_ask, url, "busy-thread", "First")
        assert slow.entered.wait(10)
        started = time.monotonic()
        with pytest.raises(openai.ConflictError) as caught:
            _ask(url, "busy-thread", "Second")
        waited = time.monotonic() - started
        slow.released.set()
        assert first.result(10) == "A slow answer."

    assert caught.value.code == "thread_busy"
    assert "'busy-thread'" in caught.value.message and "thread_wait_s" in caught.value.message
    assert waited >= 0.3
    history = app.state.ponder.assistant.history("busy-thread")
    assert [m["content"] for m in history] == ["First", "A slow answer."]


def test_the_next_turn_waits_for_the_worker_of_a_client_that_left(serve) -> None:
    slow = BlockingModel()
    url, app = serve(slow.model(), server={"max_concurrent": 2}, **FAST)
    body = {"model": "ponder", "messages": [{"role": "user", "content": "First"}], "stream": True}
    headers = {**AUTH, "X-Ponder-Thread": "left"}

    with httpx.stream("POST", f"{url}/chat/completions", json=body, headers=headers) as response:
        lines = response.iter_lines()  # kept open: dropping it would close the connection
        assert next(lines).startswith("data: ")
        assert slow.entered.wait(10)
    _wait_for(lambda: app.state.ponder.gate.admitted == 0)  # the server saw the client leave
    with ThreadPoolExecutor(1) as pool:
        second = pool.submit(_ask, url, "left", "Second")
        _wait_for(lambda: app.state.ponder.threads.waiting("left") == 2)
        time.sleep(0.2)
        assert slow.calls == 1  # the left turn's worker is still in its model call
        slow.released.set()
        assert second.result(10) == "A slow answer."
    idle(app)

    history = app.state.ponder.assistant.history("left")
    # The left turn is recorded as cancelled (nothing was sent), then the next one follows.
    assert [m["content"] for m in history] == ["First", "", "Second", "A slow answer."]


def _wait_for(condition, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)
