"""OpenAIModel against a real HTTP server on loopback speaking the Chat Completions API.

The server's replies are scripted: this tests the client's protocol handling (n samples,
usage, continuation, logprobs, retries, timeouts, errors), not a model.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ponder.agents.errors import ModelOutputError, ModelTimeoutError
from ponder.agents.models import GenerationSettings, OpenAIModel


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[dict] = []
        self.fail_next = 0
        self.delay_s = 0.0


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append(body)
        if self.server.fail_next:
            self.server.fail_next -= 1
            return self._send(500, {"error": {"message": "boom", "type": "server_error"}})
        time.sleep(self.server.delay_s)
        n = body.get("n", 1)
        choice = {
            "index": 0,
            "message": {"role": "assistant", "content": "sample"},
            "finish_reason": "stop",
            "logprobs": {
                "content": [
                    {
                        "token": "Yes",
                        "logprob": -0.2,
                        "bytes": None,
                        "top_logprobs": [
                            {"token": "Yes", "logprob": -0.2, "bytes": None},
                            {"token": "No", "logprob": -1.8, "bytes": None},
                        ],
                    }
                ]
            },
        }
        choices = [
            {**choice, "index": i, "message": {"role": "assistant", "content": f"s{i}"}}
            for i in range(n)
        ]
        self._send(
            200,
            {
                "id": "x",
                "object": "chat.completion",
                "created": 0,
                "model": body["model"],
                "choices": choices,
                "usage": {
                    "prompt_tokens": 7,
                    "completion_tokens": 4 * n,
                    "total_tokens": 7 + 4 * n,
                },
            },
        )

    def _send(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def server() -> Iterator[_Server]:
    srv = _Server()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()


def _model(server: _Server, **kwargs: object) -> OpenAIModel:
    host, port = server.server_address[:2]
    return OpenAIModel("tiny", base_url=f"http://{host}:{port}/v1", **kwargs)


def test_n_samples_in_one_request_with_settings(server: _Server) -> None:
    settings = GenerationSettings(max_tokens=9, temperature=0.5, stop=("\n",), seed=3)

    completions = _model(server).generate([{"role": "user", "content": "hi"}], 3, settings)

    assert [c.text for c in completions] == ["s0", "s1", "s2"]
    assert all(c.prompt_tokens == 7 and c.completion_tokens == 4 for c in completions)
    [request] = server.requests
    assert (request["n"], request["max_tokens"], request["stop"], request["seed"]) == (
        3,
        9,
        ["\n"],
        3,
    )


def test_a_final_assistant_message_asks_the_server_to_continue(server: _Server) -> None:
    messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Step 1:"}]

    _model(server).generate(messages)

    assert server.requests[0]["continue_final_message"] is True


def test_score_reads_top_logprobs(server: _Server) -> None:
    model = _model(server)

    assert model.score([{"role": "user", "content": "ok?"}], "Yes") == pytest.approx(-0.2)
    assert model.score([{"role": "user", "content": "ok?"}], "No") == pytest.approx(-1.8)


def test_server_errors_are_retried(server: _Server) -> None:
    server.fail_next = 1

    [completion] = _model(server, max_retries=2).generate([{"role": "user", "content": "hi"}])

    assert completion.text == "s0"
    assert len(server.requests) == 2


def test_persistent_server_errors_name_the_status(server: _Server) -> None:
    server.fail_next = 5

    with pytest.raises(ModelOutputError, match="HTTP 500"):
        _model(server, max_retries=0).generate([{"role": "user", "content": "hi"}])


def test_a_slow_server_times_out_clearly(server: _Server) -> None:
    server.delay_s = 2.0

    with pytest.raises(ModelTimeoutError, match="did not answer within"):
        _model(server, timeout_s=0.3, max_retries=0).generate([{"role": "user", "content": "hi"}])
