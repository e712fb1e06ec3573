"""The server benchmark's whole code path on a fake model, served in-process by uvicorn,
and its arithmetic (percentiles, load counts, the thread check) on planted data."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn

from bench.server import render_table, run_benchmark
from bench.server_config import parse_config
from bench.server_load import client_message
from bench.server_stats import (
    TIMEOUT,
    Attempt,
    Conversation,
    find_thread_mixups,
    percentile,
    summarize_load,
)
from ponder.agents.models.testing import FunctionChatModel
from ponder.graphs import build_assistant
from ponder.graphs.server import create_app
from ponder.graphs.settings import Settings
from ponder.knowledge.testing import FakeKnowledgeStore


def _slow_reply(messages, n, settings):
    time.sleep(0.02)  # long enough that a one-slot server turns clients away with 429
    return ["Hello there, friend."] * n


FAKE = FunctionChatModel(_slow_reply, score_fn=lambda m, c: -0.7, name="fake")


@contextmanager
def _serve_fake(settings: Settings) -> Iterator[str]:
    assistant = build_assistant(settings, language_model=FAKE, store=FakeKnowledgeStore())
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(assistant, settings), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            thread.join(0.05)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def test_a_tiny_run_fills_every_key_with_no_errors_and_no_mixups(tmp_path: Path) -> None:
    out = tmp_path / "server.json"
    argv = "--clients 3 --seconds 3 --reps 2 --stream-requests 2 --max-concurrent 1 --max-queue 0"
    argv += " --ttft-requests 2 --ttft-max-tokens 40"
    argv += " --same-thread-requests 4 --throughput-seconds 1 --fairness-seconds 2"
    config = parse_config([*argv.split(), "--out", str(out)])

    results = run_benchmark(config, FAKE, serve=_serve_fake)

    written = json.loads(out.read_text())
    assert written == results
    for key in ("overhead_fraction", "ttft_ms_p50", "concurrent_clients", "requests"):
        assert results[key] is not None
    assert results["concurrent_clients"] == 3
    (call,) = results["graph_model_calls"]  # small talk: one greedy draft, no deliberation
    assert (call["kind"], call["n"], call["max_tokens"]) == ("generate", 1, 32)
    assert results["route"] == ["none"] and results["same_answer"]
    assert results["succeeded"] >= 3 and results["rate_limited_429"] > 0
    assert results["errors_5xx"] == 0 and results["timeouts"] == 0
    assert results["thread_mixups"] == 0 and results["threads_checked"] == 3
    assert results["latency_ms_p95"] >= results["latency_ms_p50"] > 0
    assert "api_keys" not in results["settings"]["server"]
    assert "thread mix-ups" in render_table(results)
    assert 0 < results["ttft_fraction"] <= 1 and len(results["ttft_fractions"]) == 2
    assert results["ttft_long_answer_tokens"] == [3, 3]  # "Hello there, friend."
    # One slot, no queue: the same-thread requests and the fairness clients get 429s.
    assert results["lost_turns"] == 0 and results["same_thread_answer_mismatches"] == 0
    assert results["same_thread_answered"] == results["same_thread_stored_turns"] == 4
    assert results["same_thread_retries_429"] > 0
    # Two seconds are too few turns to judge the spread under a loaded CI machine: only
    # the shape is asserted here; tests/server/test_fair_admission.py asserts round robin.
    fairness, counts = results["fairness"], results["fairness_answers_per_client"]
    assert 0 <= fairness["min"] <= fairness["median"] <= fairness["max"] == max(counts) > 0
    assert len(counts) == results["fairness_clients"] == 1 + 0 + 2  # the server's places + 2
    assert results["fairness_rate_limited_429"] > 0 and results["fairness_other_failures"] == 0
    assert results["throughput_ratio_8_vs_1"] > 0
    assert sorted(results["throughput_by_clients"]) == ["1", "8"]
    window = Settings().server.batch_window_ms
    assert results["batching_settings"] == {"server.batch_window_ms": window}
    assert results["batching"] is (window is not None)
    table = render_table(results)
    for row in ("lost turns", "throughput 8 vs 1", "fairness min / median / max"):
        assert row in table


def _conversation(thread_id: str, nonce: str, turns: int) -> Conversation:
    sent = tuple(client_message(nonce, t) for t in range(turns))
    return Conversation(thread_id=thread_id, attempted=sent, answered=sent)


def test_a_turn_stored_on_another_clients_thread_is_a_mixup() -> None:
    a, b = _conversation("t-a", "aaaa", 2), _conversation("t-b", "bbbb", 2)
    clean = {"t-a": list(a.attempted), "t-b": list(b.attempted)}
    planted = {"t-a": [a.attempted[0], b.attempted[1]], "t-b": [b.attempted[0]]}

    assert find_thread_mixups([a, b], clean) == []
    problems = find_thread_mixups([a, b], planted)

    assert len(problems) == 2  # t-a holds b's turn; t-b lost an answered turn
    assert problems[0].startswith("t-a: holds messages it never sent")
    assert problems[1].startswith("t-b: answered turns")


def test_reordered_turns_and_a_wrong_thread_header_are_mixups() -> None:
    a = _conversation("t-a", "aaaa", 2)
    reordered = {"t-a": list(reversed(a.attempted))}
    wrong_header = Attempt(
        thread_id="t-a", message=a.attempted[0], status=200, seconds=0.1, echoed_thread="t-b"
    )

    assert len(find_thread_mixups([a], reordered)) == 1
    assert find_thread_mixups([a], {"t-a": list(a.attempted)}, [wrong_header]) == [
        "t-a: a response named thread 't-b'"
    ]


def test_a_failed_turn_may_or_may_not_be_stored() -> None:
    sent = (client_message("aaaa", 0), client_message("aaaa", 1))
    failed_second = Conversation(thread_id="t-a", attempted=sent, answered=sent[:1])

    assert find_thread_mixups([failed_second], {"t-a": list(sent)}) == []
    assert find_thread_mixups([failed_second], {"t-a": list(sent[:1])}) == []


def test_load_counts_keep_429s_apart_from_errors() -> None:
    def attempt(status: int | str, seconds: float) -> Attempt:
        return Attempt(thread_id="t", message="m", status=status, seconds=seconds)

    attempts = [attempt(200, 1.0), attempt(200, 3.0), attempt(429, 0.01), attempt(503, 0.5)]
    attempts.append(attempt(TIMEOUT, 9.0))

    summary = summarize_load(attempts, duration_s=4.0)

    assert summary["requests"] == 5 and summary["succeeded"] == 2
    assert summary["rate_limited_429"] == 1 and summary["errors_5xx"] == 1
    assert summary["timeouts"] == 1 and summary["other_errors"] == 0
    assert summary["throughput_rps"] == 0.5
    assert summary["latency_ms_p50"] == 2000.0 and summary["latency_ms_p95"] == 2900.0


def test_a_count_below_one_is_refused() -> None:
    with pytest.raises(SystemExit):
        parse_config(["--clients", "0"])


def test_percentiles_interpolate_and_refuse_out_of_range() -> None:
    assert percentile([], 50) is None
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.5
    assert percentile([1.0, 2.0], 100) == 2.0
    with pytest.raises(ValueError, match="between 0 and 100"):
        percentile([1.0], 101)
