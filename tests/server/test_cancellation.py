"""A client that leaves mid-stream frees its slot after the step that is running, and its
turn is recorded as cancelled, not half-saved."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import httpx
from server_helpers import API_KEY, BlockingModel, client, idle, language_model

from ponder.agents.models.batching import (
    BatchingChatModel,
    BatchRequest,
    BatchResult,
    GenerationCancelled,
)

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


class _SteppingBatchModel:
    """A fake batched model that decodes one step each time the test allows one, until
    its request leaves the batch."""

    name = "fake-stepping"

    def __init__(self) -> None:
        self.allow = threading.Semaphore(0)
        self.waiting = threading.Event()
        """Set while a step waits for the test's permission."""
        self.left = threading.Event()
        self.steps = 0
        self.requests: list[BatchRequest] = []

    def load(self) -> None:
        pass

    def generate(self, messages, n=1, settings=None):
        raise AssertionError("the batching model must use generate_batch")

    def score(self, messages, continuation) -> float:
        return -0.7

    def generate_batch(self, requests: Sequence[BatchRequest]) -> list[BatchResult]:
        self.requests.extend(requests)
        while not any(r.cancelled() for r in requests):  # never done: only a leave ends it
            self.waiting.set()
            assert self.allow.acquire(timeout=30), "the test never allowed the next step"
            self.waiting.clear()
            self.steps += 1
        self.left.set()
        return [GenerationCancelled("left the batch") for _ in requests]


def _post_and_leave(url: str, body: dict, thread: str) -> socket.socket:
    """Send a chat completion over a raw socket, so the test can hang up mid-turn."""
    address = urlsplit(url)
    payload = json.dumps(body).encode()
    head = (
        f"POST {address.path}/chat/completions HTTP/1.1\r\nHost: {address.netloc}\r\n"
        f"Authorization: Bearer {API_KEY}\r\nX-Ponder-Thread: {thread}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
    )
    sock = socket.create_connection((address.hostname, address.port))
    sock.sendall(head.encode() + payload)
    return sock


def test_a_client_that_leaves_takes_its_rows_out_of_the_batch_within_one_step(serve):
    fake = _SteppingBatchModel()
    batching = BatchingChatModel(language_model(), window_s=0, backend=fake)
    url, app = serve(batching, server={"max_concurrent": 1}, **FAST)
    body = {"model": "ponder", "messages": [{"role": "user", "content": "First"}]}

    sock = _post_and_leave(url, body, "gone")  # a JSON reply: the answer is batched
    assert fake.waiting.wait(10)
    fake.allow.release(2)  # two decode steps, then the client hangs up mid-step
    _wait_for(lambda: fake.steps == 2 and fake.waiting.is_set())
    sock.close()
    (request,) = fake.requests
    _wait_for(request.cancelled)  # the turn's worker saw the hang-up, not the step's end
    fake.allow.release()  # the step that was running ends...
    assert fake.left.wait(10)  # ...and the request leaves, asking for no further step
    idle(app)

    assert fake.steps == 3
    assistant = app.state.ponder.assistant
    state = assistant.graph.get_state({"configurable": {"thread_id": "gone"}})
    assert state.values["outcome"] == "cancelled" and state.next == ()
    assert assistant.history("gone") == [
        {"role": "user", "content": "First"},
        {"role": "assistant", "content": ""},
    ]
    gate = app.state.ponder.gate
    _wait_for(lambda: (gate.running, gate.admitted) == (0, 0))  # released on the loop
    batching.close()
