"""BatchingChatModel's scheduling logic, on a fake batched backend (no weights).

The fake decodes in steps, one word per row per step, so a test can watch which requests
shared a batch, which settings each row got, and when a cancelled row stopped.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from ponder.agents.models import ChatModel, Completion, GenerationSettings, StreamingChatModel
from ponder.agents.models.batching import (
    BatchingChatModel,
    BatchRequest,
    BatchResult,
    GenerationCancelled,
    ScoreRequest,
    SequentialBatchGenerator,
    cancel_scope,
)
from ponder.agents.models.testing import FunctionChatModel, ScriptedChatModel


def _chat(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


@dataclass
class FakeSteppingBatchModel:
    """A fake model with a batched call: row ``r`` of a request writes ``"<question>-r-k"``
    at step ``k``, ``step_s`` seconds per step, until its ``max_tokens`` or stop string."""

    step_s: float = 0.0
    name: str = "fake-stepping"
    batches: list[list[BatchRequest]] = field(default_factory=list)
    steps: list[dict[int, int]] = field(default_factory=list)
    """Per batch: steps computed for each request (by index in the batch)."""
    started: threading.Event = field(default_factory=threading.Event)
    fail: BaseException | None = None
    score_batches: list[list[ScoreRequest]] = field(default_factory=list)

    def load(self) -> None:
        pass

    def generate(self, messages, n=1, settings=None) -> list[Completion]:
        raise AssertionError("the batching model must use generate_batch")

    def score(self, messages, continuation) -> float:
        raise AssertionError("the batching model must use score_batch")

    def score_batch(self, requests: Sequence[ScoreRequest]) -> list[float | BaseException]:
        """Minus the continuation's length; a chat saying "bad" gets its own error."""
        self.score_batches.append(list(requests))
        return [
            ValueError("a bad chat")
            if r.messages[-1]["content"] == "bad"
            else -float(len(r.continuation))
            for r in requests
        ]

    def generate_batch(self, requests: Sequence[BatchRequest]) -> list[BatchResult]:
        self.batches.append(list(requests))
        self.started.set()
        if self.fail is not None:
            raise self.fail
        counts = dict.fromkeys(range(len(requests)), 0)
        self.steps.append(counts)
        words: dict[int, list[list[str]]] = {
            i: [[] for _ in range(r.rows)] for i, r in enumerate(requests)
        }
        live = set(range(len(requests)))
        step = 0
        while live:
            time.sleep(self.step_s)
            for i in sorted(live):
                request = requests[i]
                if request.cancelled() or step >= request.settings.max_tokens:
                    live.discard(i)
                    request.deliver(self._result(request, words[i]))  # at once, not at the end
                    continue
                counts[i] += 1
                question = request.messages[-1]["content"]
                for r, row in enumerate(words[i]):
                    row.append(f"{question}-{r}-{step}")
                if any(s in " ".join(words[i][0]) for s in request.settings.stop):
                    live.discard(i)
            step += 1
        return [self._result(r, words[i]) for i, r in enumerate(requests)]

    def _result(self, request: BatchRequest, rows: list[list[str]]) -> BatchResult:
        if request.cancelled():
            return GenerationCancelled("left")
        done = [
            Completion(text=" ".join(row), prompt_tokens=1, completion_tokens=len(row))
            for row in rows
        ]
        return done * request.n if request.rows == 1 else done


@dataclass
class FakeJoiningBatchModel(FakeSteppingBatchModel):
    """A fake whose running batch takes requests in between steps (greedy requests only):
    a request writes ``"<question>-<step>"`` at each step from the one after it joined."""

    joined_at: dict[str, int] = field(default_factory=dict)
    fail_at_step: int | None = None

    def generate_joining(self, requests: Sequence[BatchRequest], admit) -> list[BatchResult]:
        self.batches.append(list(requests))
        self.started.set()
        live = [(r, []) for r in requests]
        first = list(live)
        step = 0
        while live:
            time.sleep(self.step_s)
            if self.fail_at_step is not None and step >= self.fail_at_step:
                raise RuntimeError("the forward pass broke")
            for request, words in list(live):
                if request.cancelled() or len(words) >= request.settings.max_tokens:
                    live.remove((request, words))
                    request.deliver(self._result(request, [words]))
                else:
                    words.append(f"{request.messages[-1]['content']}-{step}")
            for request in admit(len(live)):
                self.joined_at[request.messages[-1]["content"]] = step
                live.append((request, []))
            step += 1
        return [self._result(r, [words]) for r, words in first]


def _together(model: BatchingChatModel, jobs: list[tuple[str, int, GenerationSettings]]):
    """Run each job's ``generate`` in its own thread, all at once; their results in order."""
    results: list[list[Completion] | BaseException | None] = [None] * len(jobs)
    barrier = threading.Barrier(len(jobs))

    def run(i: int, question: str, n: int, settings: GenerationSettings) -> None:
        barrier.wait()
        try:
            results[i] = model.generate(_chat(question), n, settings)
        except BaseException as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i, *job)) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    return results


def test_calls_arriving_within_the_window_run_as_one_batch_each_getting_its_own_result():
    fake = FakeSteppingBatchModel()
    model = BatchingChatModel(fake, window_s=0.3)
    greedy = GenerationSettings(max_tokens=2)

    results = _together(model, [(f"q{i}", 1, greedy) for i in range(5)])

    assert len(fake.batches) == 1
    assert sorted(r.messages[-1]["content"] for r in fake.batches[0]) == [f"q{i}" for i in range(5)]
    for i, result in enumerate(results):
        assert isinstance(result, list)
        assert [c.text for c in result] == [f"q{i}-0-0 q{i}-0-1"]
    assert list(model.batch_sizes) == [5]


def test_each_request_keeps_its_own_settings_in_the_batch():
    fake = FakeSteppingBatchModel()
    model = BatchingChatModel(fake, window_s=0.3)
    jobs = [
        ("short", 1, GenerationSettings(max_tokens=1)),
        ("long", 1, GenerationSettings(max_tokens=4)),
        ("stopped", 1, GenerationSettings(max_tokens=9, stop=("stopped-0-2",))),
        ("greedy-twice", 2, GenerationSettings(max_tokens=1)),
        ("sampled", 3, GenerationSettings(max_tokens=1, temperature=0.7, top_p=0.9, seed=5)),
    ]

    results = _together(model, jobs)

    [batch] = fake.batches
    by_question = {r.messages[-1]["content"]: r for r in batch}
    assert by_question["sampled"].settings == jobs[4][2]
    assert by_question["sampled"].rows == 3 and by_question["greedy-twice"].rows == 1
    texts = [[c.text for c in r] for r in results]  # type: ignore[union-attr]
    assert texts[0] == ["short-0-0"]
    assert texts[1] == ["long-0-0 long-0-1 long-0-2 long-0-3"]
    assert texts[2] == ["stopped-0-0 stopped-0-1 stopped-0-2"]  # ended at its stop string
    assert texts[3] == ["greedy-twice-0-0", "greedy-twice-0-0"]
    assert texts[4] == ["sampled-0-0", "sampled-1-0", "sampled-2-0"]


def test_a_cancelled_request_leaves_its_batch_and_the_others_finish():
    fake = FakeSteppingBatchModel(step_s=0.01)
    model = BatchingChatModel(fake, window_s=0.2)
    settings = GenerationSettings(max_tokens=30)
    pending = [model.submit(_chat(q), 1, settings) for q in ("a", "b", "c")]
    assert fake.started.wait(5)
    time.sleep(0.05)  # a few steps in

    pending[1].cancel()

    with pytest.raises(GenerationCancelled):
        pending[1].result(5)
    for p, q in ((pending[0], "a"), (pending[2], "c")):
        [completion] = p.result(5)
        assert completion.text == " ".join(f"{q}-0-{k}" for k in range(30))
    [steps] = fake.steps
    assert steps[0] == steps[2] == 30
    assert 0 < steps[1] < 30  # it stopped computing at the step it was cancelled


def test_a_cancel_scope_set_by_another_thread_frees_the_caller():
    fake = FakeSteppingBatchModel(step_s=0.01)
    model = BatchingChatModel(fake, window_s=0.0)
    leave = threading.Event()
    outcome: list[BaseException] = []

    def turn() -> None:
        with cancel_scope(leave):
            try:
                model.generate(_chat("slow"), 1, GenerationSettings(max_tokens=500))
            except GenerationCancelled as exc:
                outcome.append(exc)

    thread = threading.Thread(target=turn)
    thread.start()
    assert fake.started.wait(5)
    leave.set()
    thread.join(2)

    assert not thread.is_alive()
    assert len(outcome) == 1
    other = model.generate(_chat("next"), 1, GenerationSettings(max_tokens=1))
    assert other[0].text == "next-0-0"  # the scheduler goes on


def test_a_request_cancelled_while_queued_is_never_computed():
    fake = FakeSteppingBatchModel(step_s=0.01)
    model = BatchingChatModel(fake, window_s=0.0, max_rows=1)
    first = model.submit(_chat("first"), 1, GenerationSettings(max_tokens=20))
    assert fake.started.wait(5)
    queued = model.submit(_chat("queued"), 1, GenerationSettings(max_tokens=1))
    queued.cancel()

    assert first.result(5)[0].completion_tokens == 20
    with pytest.raises(GenerationCancelled):
        queued.result(5)
    assert [r.messages[-1]["content"] for b in fake.batches for r in b] == ["first"]


def test_a_caller_that_times_out_cancels_its_request():
    fake = FakeSteppingBatchModel(step_s=0.01)
    model = BatchingChatModel(fake, window_s=0.0)
    pending = model.submit(_chat("slow"), 1, GenerationSettings(max_tokens=10_000))

    with pytest.raises(TimeoutError):
        pending.result(0.1)

    assert pending.cancelled()
    assert model.generate(_chat("after"), 1, GenerationSettings(max_tokens=1))[0].text


def test_an_exception_in_the_batch_reaches_every_caller():
    fake = FakeSteppingBatchModel(fail=RuntimeError("the forward pass broke"))
    model = BatchingChatModel(fake, window_s=0.3)

    results = _together(model, [(q, 1, GenerationSettings()) for q in ("x", "y", "z")])

    assert len(fake.batches) == 1
    assert all(isinstance(r, RuntimeError) and "forward pass broke" in str(r) for r in results)


def test_max_rows_splits_batches_and_a_sampled_request_counts_its_rows():
    fake = FakeSteppingBatchModel()
    model = BatchingChatModel(fake, window_s=0.3, max_rows=4)
    sampled = GenerationSettings(max_tokens=1, temperature=1.0)

    results = _together(model, [(f"s{i}", 3, sampled) for i in range(3)])

    assert all(isinstance(r, list) and len(r) == 3 for r in results)
    assert [len(b) for b in fake.batches] == [1, 1, 1]  # 3 + 3 rows > 4


def test_bad_requests_are_refused_before_they_reach_a_batch():
    model = BatchingChatModel(FakeSteppingBatchModel())
    with pytest.raises(ValueError, match="n must be >= 1"):
        model.generate(_chat("x"), 0)
    with pytest.raises(ValueError, match="messages is empty"):
        model.generate([], 1)


def test_a_model_without_a_batched_call_runs_the_batch_in_turn_with_the_same_results():
    def reply(messages, n, settings) -> list[str]:
        return [f"echo {messages[-1]['content']}"] * n

    inner = FunctionChatModel(reply)
    model = BatchingChatModel(inner, window_s=0.2)
    assert isinstance(model.backend, SequentialBatchGenerator)

    results = _together(model, [(f"m{i}", 2, GenerationSettings()) for i in range(3)])

    for i, result in enumerate(results):
        assert [c.text for c in result] == [f"echo m{i}"] * 2  # type: ignore[union-attr]


def test_the_wrapper_keeps_the_inner_models_protocols_and_parts():
    inner = ScriptedChatModel(["one two three"], scores={"x": -2.5})
    model = BatchingChatModel(inner)

    assert isinstance(model, ChatModel)
    assert isinstance(model, StreamingChatModel)  # stream is the inner model's
    assert model.name == inner.name
    assert model.score(_chat("q"), "x") == -2.5
    assert "".join(model.stream(_chat("q"))) == "one two three"
    assert not isinstance(BatchingChatModel(FakeSteppingBatchModel()), StreamingChatModel)


def test_a_short_request_gets_its_answer_while_a_long_one_in_its_batch_goes_on():
    fake = FakeSteppingBatchModel(step_s=0.01)
    model = BatchingChatModel(fake, window_s=0.2)
    long = model.submit(_chat("long"), 1, GenerationSettings(max_tokens=300))
    short = model.submit(_chat("short"), 1, GenerationSettings(max_tokens=2))

    assert short.result(1.5)[0].text == "short-0-0 short-0-1"
    assert not long.done()
    long.cancel()
    with pytest.raises(GenerationCancelled):
        long.result(5)


def test_concurrent_scores_run_as_one_batch_apart_from_generation_calls():
    fake = FakeSteppingBatchModel()
    model = BatchingChatModel(fake, window_s=0.3)
    scores = [model.submit_score(_chat(q), c) for q, c in (("a", "Yes"), ("bad", "No"), ("c", ""))]
    generation = model.submit(_chat("g"), 1, GenerationSettings(max_tokens=1))

    assert scores[0].result(5) == -3.0 and scores[2].result(5) == 0.0
    with pytest.raises(ValueError, match="a bad chat"):  # its own error, nobody else's
        scores[1].result(5)
    assert generation.result(5)[0].text == "g-0-0"
    assert list(model.score_batch_sizes) == [3] and list(model.batch_sizes) == [1]
    assert [r.continuation for r in fake.score_batches[0]] == ["Yes", "No", ""]


def test_a_score_cancelled_while_queued_is_never_computed():
    fake = FakeSteppingBatchModel(step_s=0.01)
    model = BatchingChatModel(fake, window_s=0.0)
    running = model.submit(_chat("long"), 1, GenerationSettings(max_tokens=20))
    assert fake.started.wait(5)
    leave = threading.Event()
    leave.set()  # the turn's client is gone

    with cancel_scope(leave), pytest.raises(GenerationCancelled):
        model.score(_chat("q"), "Yes")

    assert running.result(5)[0].completion_tokens == 20
    assert model.score(_chat("q"), "Yes") == -3.0  # the scheduler goes on
    assert [len(b) for b in fake.score_batches] == [1]  # only the second was scored


def test_a_caller_alone_waits_for_no_window_until_another_caller_overlaps():
    fake = FakeSteppingBatchModel(step_s=0.05)
    model = BatchingChatModel(fake, window_s=0.4)
    one = GenerationSettings(max_tokens=1)
    model.generate(_chat("first"), 1, one)  # no history yet: waits the window once

    started = time.monotonic()
    for i in range(4):
        model.generate(_chat(f"alone{i}"), 1, one)
        model.score(_chat(f"alone{i}"), "Yes")
    alone_s = time.monotonic() - started
    results = _together(model, [(f"t{i}", 1, one) for i in range(3)])

    assert alone_s < 1.6  # eight calls: 3.2 s had each waited the 0.4 s window
    assert all(isinstance(r, list) for r in results)
    together = list(model.batch_sizes)[5:]
    assert sum(together) == 3 and len(together) <= 2  # overlap: the window is back


def test_a_request_arriving_while_a_batch_decodes_joins_it_within_the_row_limit():
    fake = FakeJoiningBatchModel(step_s=0.01)
    model = BatchingChatModel(fake, window_s=0.0, max_rows=2)
    long = model.submit(_chat("long"), 1, GenerationSettings(max_tokens=60))
    assert fake.started.wait(5)
    time.sleep(0.05)

    short = model.submit(_chat("short"), 1, GenerationSettings(max_tokens=3))
    third = model.submit(_chat("third"), 1, GenerationSettings(max_tokens=1))
    [answer] = short.result(5)
    third.result(5)

    j = fake.joined_at["short"]
    assert answer.text == f"short-{j + 1} short-{j + 2} short-{j + 3}"  # from the next step
    assert not long.done() and j > 0
    assert fake.joined_at["third"] >= j + 3  # two rows at most: it waited for short's row
    assert long.result(5)[0].completion_tokens == 60
    assert len(fake.batches) == 1 and list(model.batch_sizes) == [3]


def test_a_score_is_computed_between_two_steps_of_a_running_batch():
    fake = FakeJoiningBatchModel(step_s=0.01)
    model = BatchingChatModel(fake, window_s=0.0)
    long = model.submit(_chat("long"), 1, GenerationSettings(max_tokens=300))
    assert fake.started.wait(5)

    assert model.score(_chat("q"), "Yes") == -3.0

    assert not long.done()  # the score did not wait for the batch to end
    long.cancel()
    with pytest.raises(GenerationCancelled):
        long.result(5)


def test_an_exception_in_a_running_batch_reaches_the_requests_that_joined_it():
    fake = FakeJoiningBatchModel(step_s=0.01, fail_at_step=15)
    model = BatchingChatModel(fake, window_s=0.0)
    first = model.submit(_chat("first"), 1, GenerationSettings(max_tokens=100))
    assert fake.started.wait(5)
    joined = model.submit(_chat("joined"), 1, GenerationSettings(max_tokens=100))

    for pending in (first, joined):
        with pytest.raises(RuntimeError, match="forward pass broke"):
            pending.result(5)
    assert "joined" in fake.joined_at
    assert model.generate(_chat("after"), 1, GenerationSettings(max_tokens=1))  # goes on
