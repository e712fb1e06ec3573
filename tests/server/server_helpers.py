"""Helpers for server tests: fake models, a loopback uvicorn runner, the OpenAI client."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import openai
import uvicorn

from ponder.agents.models.testing import FunctionChatModel

SECRET_STEP = "SECRET-STEP-7f3a"
API_KEY = "test-key-0123"


def reasoning_model(messages, n, settings):
    # Every sampled chain carries a marker that must never reach a client.
    return [f"{SECRET_STEP} 17 * 23 = 391\nAnswer: 391"] * n


def language_model(fn: Callable[[str], str] | None = None) -> FunctionChatModel:
    """A fake language model: ``fn(question)`` writes the answer."""

    def generate(messages, n, settings):
        question = messages[-1]["content"]
        if fn is not None:
            return [fn(question)] * n
        if "Eiffel" in messages[0]["content"]:
            return ["It was completed in 1889 [1]."] * n
        return ["Here is my answer."] * n

    # The checker's deliberation asks Yes/No: this fake is sure of nothing, so hits stand.
    return FunctionChatModel(generate, score_fn=lambda m, c: -0.7)


@contextmanager
def running(app) -> Iterator[str]:
    """Run ``app`` under uvicorn on a free loopback port; yields its ``/v1`` base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(200):
            if server.started:
                break
            thread.join(0.05)
        assert server.started, "uvicorn did not start"
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def client(url: str, key: str = API_KEY) -> openai.OpenAI:
    """The official OpenAI client, without retries, pointed at ``url``."""
    return openai.OpenAI(base_url=url, api_key=key, max_retries=0, timeout=30)


class BlockingModel:
    """A fake language model that holds its turn until the test releases it."""

    def __init__(self, answer: str = "A slow answer.") -> None:
        self.answer = answer
        self.entered = threading.Event()
        self.released = threading.Event()
        self.calls = 0

    def model(self) -> FunctionChatModel:
        def generate(messages, n, settings):
            self.calls += 1
            self.entered.set()
            assert self.released.wait(30), "the test never released the model"
            return [self.answer] * n

        return FunctionChatModel(generate, score_fn=lambda m, c: -0.7)


def idle(app) -> None:
    """Wait until the app's turn worker (one, in these tests) has finished its work."""
    app.state.ponder.workers.submit(lambda: None).result(timeout=30)


def recalling_model(delay_s: float = 0.0) -> FunctionChatModel:
    """A fake language model that answers with the thread's previous user message, after
    ``delay_s`` seconds: a reply proves which saved turn its turn started from."""

    def generate(messages, n, settings):
        time.sleep(delay_s)
        earlier = [m["content"] for m in messages[1:-1] if m["role"] == "user"]
        return [f"After: {earlier[-1] if earlier else 'nothing'}"] * n

    return FunctionChatModel(generate, score_fn=lambda m, c: -0.7)


def assert_turns_in_order(history: list[dict[str, str]], questions: list[str]) -> None:
    """Every question is in ``history`` once, each answered right after it, and each answer
    (from :func:`recalling_model`) names the question saved before it: no turn lost, none
    started from a stale state."""
    users = [m["content"] for m in history[0::2]]
    answers = [m["content"] for m in history[1::2]]
    assert [m["role"] for m in history] == ["user", "assistant"] * len(questions)
    assert sorted(users) == sorted(questions)
    assert answers == [f"After: {q}" for q in ["nothing", *users[:-1]]]


def timed_model(turn_s: float) -> FunctionChatModel:
    """A fake language model that takes ``turn_s`` seconds per call, then answers."""

    def generate(messages, n, settings):
        time.sleep(turn_s)
        return ["A timed answer."] * n

    return FunctionChatModel(generate, score_fn=lambda m, c: -0.7)
