"""The server benchmark's concurrency arithmetic on planted data: lost turns against a stored
history, fairness over answer times, the wait a 429 asks for, and batching settings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest

from bench.server_config import parse_config
from bench.server_fairness import ClientsRun, fairness_summary, retry_after_s
from bench.server_threads import SameThreadRun, count_lost_turns, same_thread_message
from bench.server_throughput import batching_on, batching_settings, throughput_summary
from ponder.graphs.settings import Settings

MESSAGES = tuple(same_thread_message("r", i) for i in range(3))


def _run(answered: Sequence[int], statuses: Mapping[str, int | str] | None = None) -> SameThreadRun:
    return SameThreadRun(
        thread_id="r-shared",
        sent=MESSAGES,
        answers={MESSAGES[i]: f"answer {i}" for i in answered},
        statuses=statuses or {m: 200 for m in MESSAGES},
        retries_429=0,
        seconds=1.0,
    )


def _stored(*turns: tuple[int, str]) -> list[dict[str, str]]:
    messages = []
    for index, answer in turns:
        messages += [
            {"role": "user", "content": MESSAGES[index]},
            {"role": "assistant", "content": answer},
        ]
    return messages


def test_every_answered_turn_stored_once_after_its_question_loses_none() -> None:
    stored = _stored((2, "answer 2"), (0, "answer 0"), (1, "answer 1"))  # any order

    counts = count_lost_turns(_run([0, 1, 2]), stored)

    assert counts["lost_turns"] == 0 and counts["same_thread_answer_mismatches"] == 0
    assert counts["same_thread_answered"] == 3 and counts["same_thread_stored_turns"] == 3


def test_an_overwritten_turn_is_lost_and_a_duplicated_one_too() -> None:
    overwritten = _stored((0, "answer 0"), (2, "answer 2"))
    duplicated = _stored((0, "answer 0"), (1, "answer 1"), (1, "answer 1"), (2, "answer 2"))

    lost = count_lost_turns(_run([0, 1, 2]), overwritten)

    assert lost["lost_turns"] == 1 and lost["lost_turn_examples"] == [MESSAGES[1]]
    assert count_lost_turns(_run([0, 1, 2]), duplicated)["lost_turns"] == 1


def test_a_stored_answer_that_is_not_the_one_sent_is_a_mismatch() -> None:
    swapped = _stored((0, "answer 1"), (1, "answer 0"), (2, "answer 2"))

    counts = count_lost_turns(_run([0, 1, 2]), swapped)

    assert counts["lost_turns"] == 0 and counts["same_thread_answer_mismatches"] == 2


def test_a_refused_turn_is_not_lost() -> None:
    statuses = {MESSAGES[0]: 200, MESSAGES[1]: 409, MESSAGES[2]: "timeout"}

    counts = count_lost_turns(_run([0], statuses), _stored((0, "answer 0")))

    assert counts["lost_turns"] == 0 and counts["same_thread_answered"] == 1
    assert counts["same_thread_refused_409"] == 1 and counts["same_thread_other_failures"] == 1


def _clients(answered_at: Sequence[Sequence[float]], duration_s: float = 10.0) -> ClientsRun:
    return ClientsRun(
        answered_at=tuple(tuple(t) for t in answered_at),
        statuses={200: sum(len(t) for t in answered_at), 429: 4, 503: 1},
        retry_waits_s=(0.5, 1.5, 1.0, 2.0),
        duration_s=duration_s,
    )


def test_fairness_counts_answers_per_client_and_the_longest_wait() -> None:
    run = _clients([[1.0, 2.0, 3.0], [2.5, 9.0], [4.0, 5.0, 6.0, 7.0], []])

    summary = fairness_summary(run, seconds=10)

    assert summary["fairness"] == {"min": 0, "median": 2.5, "max": 4}
    assert summary["fairness_answers_per_client"] == [0, 2, 3, 4]
    assert summary["fairness_max_wait_s"] == 10.0  # the client never answered
    assert summary["fairness_turn_s"] == round(10 / 9, 3)
    assert summary["fairness_rate_limited_429"] == 4 and summary["fairness_other_failures"] == 1
    assert summary["fairness_retry_after_s_p50"] == 1.25


def test_fairness_wait_runs_from_the_start_and_between_answers() -> None:
    summary = fairness_summary(_clients([[1.0, 6.5, 7.0], [3.0, 4.0, 5.0]]), seconds=10)

    assert summary["fairness_max_wait_s"] == 5.5  # 1.0 -> 6.5
    assert summary["fairness"]["min"] == summary["fairness"]["max"] == 3


def test_retry_after_prefers_milliseconds_then_seconds_then_a_default() -> None:
    assert retry_after_s({"Retry-After": "3", "retry-after-ms": "1250"}) == 1.25
    assert retry_after_s({"retry-after": "2"}) == 2.0
    assert retry_after_s({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 1.0
    assert retry_after_s({}) == 1.0


def test_batching_settings_are_found_by_name_and_read_as_on_or_off() -> None:
    default = Settings().server.batch_window_ms
    assert batching_settings(Settings()) == {"server.batch_window_ms": default}
    assert batching_settings(Settings(server={"batch_window_ms": None})) == {
        "server.batch_window_ms": None
    }
    assert batching_on({}) is None
    assert batching_on({"server.batch_window_ms": None}) is False
    assert batching_on({"server.batch_window_ms": 0}) is True  # batches while one runs
    switched_off = {"language_model.batching": False, "language_model.batch_window_ms": 5}
    assert batching_on(switched_off) is False  # a true/false switch decides
    assert batching_on({**switched_off, "language_model.batching": True}) is True
    assert batching_on({"language_model.batch_window_ms": 5}) is True


def test_the_ratio_is_answers_per_second_of_8_clients_over_one() -> None:
    one = _clients([[1.0, 2.0]], duration_s=4.0)  # 0.5 per s
    many = _clients([[1.0, 2.0, 3.0]] * 8, duration_s=8.0)  # 3 per s

    summary = throughput_summary(one, many, Settings(server={"batch_window_ms": None}), seconds=4)

    assert summary["throughput_ratio_8_vs_1"] == 6.0
    assert summary["throughput_by_clients"]["8"]["answers"] == 24
    assert summary["batching"] is False and summary["throughput_max_concurrent"] == 2
    assert summary["batching_settings"] == {"server.batch_window_ms": None}


def test_concurrency_flags_are_checked() -> None:
    config = parse_config(["--same-thread-requests", "4", "--fairness-clients", "5"])

    assert config.concurrency.same_thread_requests == 4
    assert config.concurrency.fairness_k(Settings()) == 5
    assert parse_config([]).concurrency.fairness_k(Settings()) == 2 + 16 + 2
    with pytest.raises(SystemExit):
        parse_config(["--fairness-seconds", "0"])
    with pytest.raises(SystemExit):
        parse_config(["--fairness-clients", "-1"])
