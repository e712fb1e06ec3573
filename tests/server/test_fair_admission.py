"""Fair admission under overload: turns start first come first served, and a client told to
wait (429, ``Retry-After``) keeps its place in line."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import openai
import pytest
from server_helpers import API_KEY, BlockingModel, client, idle, timed_model

HELLO = [{"role": "user", "content": "Hello"}]
FAST = {"classifier": False}  # these tests are about admission, not rules: no learned stage


def _ask(api: openai.OpenAI, thread: str) -> str:
    reply = api.chat.completions.create(
        model="ponder", messages=HELLO, extra_headers={"X-Ponder-Thread": thread}
    )
    return reply.choices[0].message.content or ""


def test_under_overload_every_client_is_answered_within_k_turn_times(serve) -> None:
    # K clients, each sending its next message as soon as it has an answer, against one
    # turn at a time and places for 3: half of them are told to wait at any moment.
    k = 6
    url, app = serve(timed_model(0.25), server={"max_concurrent": 1, "max_queue": 2}, **FAST)
    _ask(client(url), "warm-up")
    start = time.monotonic()
    stop = start + 4 * k * app.state.ponder.gate.turn_s

    def run(i: int) -> list[float]:
        # The official client, retrying on 429 after the Retry-After the server sends.
        api = openai.OpenAI(base_url=url, api_key=API_KEY, max_retries=100, timeout=60)
        answered: list[float] = []
        while time.monotonic() < stop:
            assert _ask(api, f"client-{i}") == "A timed answer."
            answered.append(time.monotonic())
        return answered

    with ThreadPoolExecutor(k) as pool:
        answers = list(pool.map(run, range(k)))

    last = max(t for times in answers for t in times)
    turn_s = (last - start) / sum(len(times) for times in answers)  # as served, under load
    waits = [max(b - a for a, b in zip([start, *times], times, strict=False)) for times in answers]
    counts = sorted(len(times) for times in answers)
    assert max(waits) <= k * turn_s * 1.25, (
        f"longest waits {[round(w, 2) for w in waits]} s against {k} turns of {turn_s:.2f} s;"
        f" answers per client {counts}"
    )
    assert counts[-1] - counts[0] <= 2, f"answers per client {counts}"
    assert app.state.ponder.gate.admitted == 0


def test_a_turn_that_cannot_start_in_time_gets_a_429_with_retry_after(serve) -> None:
    slow = BlockingModel()
    url, app = serve(slow.model(), server={"max_concurrent": 1, "max_queue_wait_s": 0.3}, **FAST)
    api = client(url)

    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(_ask, api, "first")
        assert slow.entered.wait(10)
        started = time.monotonic()
        with pytest.raises(openai.RateLimitError) as caught:
            _ask(api, "second")
        waited = time.monotonic() - started
        slow.released.set()
        assert running.result(10) == "A slow answer."

    assert caught.value.code == "queue_timeout"
    assert "max_queue_wait_s" in caught.value.message
    assert waited >= 0.3
    headers = caught.value.response.headers
    assert int(headers["Retry-After"]) >= 1 and int(headers["retry-after-ms"]) > 0
    assert app.state.ponder.assistant.history("second") == []  # it never started
    idle(app)
    assert (app.state.ponder.gate.running, app.state.ponder.gate.admitted) == (0, 0)
