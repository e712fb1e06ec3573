"""A client that leaves mid-stream frees its slot after the step that is running, and its
turn is recorded as cancelled, not half-saved."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
from server_helpers import API_KEY, BlockingModel, client, idle

AUTH = {"Authorization": f"Bearer {API_KEY}"}
FAST = {"classifier": False}  # about serving, not rules: no learned stage


def _wait_for(condition, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def test_a_client_that_leaves_mid_stream_frees_its_slot_and_its_turn_is_cancelled(serve):
    slow = BlockingModel()
    url, app = serve(slow.model(), server={"max_concurrent": 1}, **FAST)
    gate = app.state.ponder.gate
    body = {"model": "ponder", "messages": [{"role": "user", "content": "First"}], "stream": True}

    with httpx.stream(
        "POST", f"{url}/chat/completions", json=body, headers={**AUTH, "X-Ponder-Thread": "gone"}
    ) as response:
        lines = response.iter_lines()  # kept open: dropping it would close the connection
        assert next(lines).startswith("data: ")
        assert slow.entered.wait(10)
    with ThreadPoolExecutor(1) as pool:
        # Another client's turn waits for the one slot, which the left turn's worker holds
        # until its model call (one step) returns.
        other = pool.submit(
            client(url).chat.completions.create,
            model="ponder",
            messages=[{"role": "user", "content": "Hello"}],
            extra_headers={"X-Ponder-Thread": "next"},
        )
        _wait_for(lambda: gate.admitted == 1 and len(gate._waiting) == 1)
        assert slow.calls == 1
        slow.released.set()
        assert other.result(10).choices[0].message.content == "A slow answer."
    idle(app)

    assistant = app.state.ponder.assistant
    state = assistant.graph.get_state({"configurable": {"thread_id": "gone"}})
    assert state.values["outcome"] == "cancelled"
    assert state.next == ()  # nothing of the turn is left to run
    assert assistant.history("gone") == [
        {"role": "user", "content": "First"},
        {"role": "assistant", "content": ""},
    ]
    assert (gate.running, gate.admitted) == (0, 0)


def test_a_stream_closed_early_in_python_is_recorded_as_cancelled(make_assistant):
    slow = BlockingModel()
    slow.released.set()
    assistant = make_assistant(slow.model(), **FAST)

    events = assistant.stream("Hello there", thread_id="closed")
    next(events)
    events.close()
    reply = assistant.invoke("And again", thread_id="closed")

    assert [m["content"] for m in assistant.history("closed")] == [
        "Hello there",
        "",
        "And again",
        "A slow answer.",
    ]
    assert reply.outcome == "answered"
