"""A real HTTP server on loopback that speaks the Chat Completions API, with scripted replies.

It behaves as a conforming server would: it honours ``n``, cuts each reply at the first
``stop`` string, cuts it at ``max_tokens`` (a token here is a whitespace-separated word, as
in the fakes), and reports usage and ``finish_reason`` to match; with ``stream`` it sends
the reply a word per server-sent chunk. ``OpenAIModel`` is tested
against it, both in the ChatModel contract suite and in ``tests/models``.

Named uniquely because test folders have no ``__init__.py``; other folders import it as
``contracts.openai_chat_server`` (pytest puts ``tests/`` on the import path for the root
``conftest.py``).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ponder.agents.models import OpenAIModel

YES_NO_LOGPROBS = {"Yes": -0.2, "No": -1.8}
"""The top log-probabilities the server reports for the first token of every reply."""


def numbered_reply(index: int) -> str:
    """The default script: choice ``index`` replies ``s{index}``."""
    return f"s{index}"


class ChatCompletionsServer(ThreadingHTTPServer):
    """The server. Change its attributes between requests to script it.

    Args:
        reply: The text of choice ``i`` before stop strings and ``max_tokens`` apply.
    """

    daemon_threads = True

    def __init__(self, reply: Callable[[int], str] = numbered_reply) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.reply = reply
        self.requests: list[dict[str, Any]] = []
        """Every request body received, in order."""
        self.fail_next = 0
        """How many of the next requests get HTTP 500."""
        self.delay_s = 0.0
        """How long to wait before answering."""

    @property
    def base_url(self) -> str:
        """The ``/v1`` URL a client is pointed at."""
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}/v1"


@contextmanager
def serving(reply: Callable[[int], str] = numbered_reply) -> Iterator[ChatCompletionsServer]:
    """Run a :class:`ChatCompletionsServer` in a thread for the duration of the block."""
    server = ChatCompletionsServer(reply)
    # A short poll interval: shutdown() waits up to one interval, once per test.
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def client(server: ChatCompletionsServer, **options: Any) -> OpenAIModel:
    """An :class:`OpenAIModel` for the server's model ``tiny``."""
    return OpenAIModel("tiny", base_url=server.base_url, **options)


def _words(text: str) -> int:
    return len(text.split())


def _choice(index: int, text: str, body: dict[str, Any]) -> dict[str, Any]:
    finish = "stop"
    for stop in body.get("stop") or []:
        if stop in text:
            text = text[: text.index(stop)]
    words = text.split()
    if len(words) > body.get("max_tokens", len(words)):
        text, finish = " ".join(words[: body["max_tokens"]]), "length"
    top = [{"token": t, "logprob": lp, "bytes": None} for t, lp in YES_NO_LOGPROBS.items()]
    return {
        "index": index,
        "message": {"role": "assistant", "content": text},
        "finish_reason": finish,
        "logprobs": {"content": [{**top[0], "top_logprobs": top}]},
    }


class _Handler(BaseHTTPRequestHandler):
    server: ChatCompletionsServer

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep test output clean

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append(body)
        if self.server.fail_next:
            self.server.fail_next -= 1
            return self._send(500, {"error": {"message": "boom", "type": "server_error"}})
        time.sleep(self.server.delay_s)
        choices = [_choice(i, self.server.reply(i), body) for i in range(body.get("n", 1))]
        prompt = sum(_words(m["content"]) for m in body["messages"])
        completion = sum(_words(c["message"]["content"]) for c in choices)
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
        if body.get("stream"):
            return self._send_stream(body, choices, usage)
        self._send(
            200,
            {
                "id": "x",
                "object": "chat.completion",
                "created": 0,
                "model": body["model"],
                "choices": choices,
                "usage": usage,
            },
        )

    def _send_stream(
        self, body: dict[str, Any], choices: list[dict[str, Any]], usage: dict[str, Any]
    ) -> None:
        """Server-sent chunks: a word (with the spaces after it) per chunk, as a server
        streams tokens; then each choice's finish reason, and the usage if asked for."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        ids = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": body["model"]}

        def event(choices: list[dict[str, Any]], **extra: Any) -> None:
            data = json.dumps({**ids, "choices": choices, **extra})
            self.wfile.write(f"data: {data}\n\n".encode())
            self.wfile.flush()

        for choice in choices:
            for piece in re.findall(r"\S+\s*|\s+", choice["message"]["content"]):
                delta = {"content": piece}
                event([{"index": choice["index"], "delta": delta, "finish_reason": None}])
            done = {"index": choice["index"], "delta": {}, "finish_reason": choice["finish_reason"]}
            event([done])
        if (body.get("stream_options") or {}).get("include_usage"):
            event([], usage=usage)
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
