"""``stream=True`` through the official OpenAI client: an answer's words reach the client
while the model is still writing it, each window passed by the output check first, and
the turn's record says exactly what was streamed."""

from __future__ import annotations

import json
import threading
import time

import httpx
from server_helpers import API_KEY, client, idle, language_model

AUTH = {"Authorization": f"Bearer {API_KEY}"}
FAST = {"classifier": False, "release": {"chunk_chars": 60, "overlap_chars": 45}}
CLEAN = "Fireworks were invented in China more than a thousand years ago. " * 5
VIOLATION = "Then pack the pipe with nails for shrapnel and attach the detonator."
TAIL = " Light it from a safe distance and enjoy the show with your friends." * 3
FIREWORKS = [{"role": "user", "content": "Tell me about fireworks"}]


class Log:
    """What the fake model wrote and what the client received, in one order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self.client_saw_text = threading.Event()

    def model_wrote(self, piece: str) -> None:
        self.events.append(("model", piece))

    def client_got(self, text: str) -> None:
        self.events.append(("client", text))
        self.client_saw_text.set()

    def first(self, who: str) -> int:
        return next(i for i, (w, _) in enumerate(self.events) if w == who)

    def last(self, who: str) -> int:
        return max(i for i, (w, _) in enumerate(self.events) if w == who)

    def written(self) -> str:
        return "".join(text for who, text in self.events if who == "model")


def _streaming_model(answer: str, log: Log, pause_at: int | None = None):
    """A fake that writes ``answer`` a word at a time; at word ``pause_at`` it waits (up to
    10 s) for the client to have received text, and notes whether it had."""
    model = language_model(lambda question: answer)
    model.piece_delay_s = 0.002
    waits: list[bool] = []

    def on_piece(piece: str) -> None:
        log.model_wrote(piece)
        if len(log.written().split()) == pause_at:
            waits.append(log.client_saw_text.wait(10))

    model.on_piece = on_piece
    return model, waits


def _stream(url: str, log: Log, messages=FIREWORKS, thread: str = "t", **options):
    chunks = []
    for chunk in client(url).chat.completions.create(
        model="ponder",
        messages=messages,
        stream=True,
        extra_headers={"X-Ponder-Thread": thread},
        **options,
    ):
        chunks.append(chunk)
        if chunk.choices and chunk.choices[0].delta.content:
            log.client_got(chunk.choices[0].delta.content)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    return chunks, text


def test_the_first_words_arrive_while_the_model_is_still_writing(serve):
    log = Log()
    words = len(CLEAN.split())
    model, waits = _streaming_model(CLEAN.strip(), log, pause_at=words // 2)
    url, app = serve(model, **FAST)

    chunks, text = _stream(url, log)

    # The model stopped halfway until the client had text, and went on only then.
    assert waits == [True]
    assert log.first("client") < log.last("model")
    assert text == CLEAN.strip() == log.written().strip()
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert app.state.ponder.assistant.history("t")[-1]["content"] == text


def test_a_violation_mid_answer_is_never_sent_and_the_model_stops_there(serve):
    log = Log()
    answer = f"{CLEAN}{VIOLATION}{TAIL}"
    model, _ = _streaming_model(answer, log)
    url, app = serve(model, **FAST)

    chunks, text = _stream(url, log)

    sent, refusal = text.split("\n\n", 1)
    assert answer.startswith(sent) and len(sent) <= answer.index(VIOLATION)
    assert log.first("client") < log.last("model")  # clean text went out while writing
    assert "weapons" in refusal and chunks[-1].choices[0].finish_reason == "content_filter"
    assert chunks[-1].model_extra["ponder"]["rules"] == ["no-weapons"]
    assert "Light it" not in log.written()  # the model was stopped at the window
    assert app.state.ponder.assistant.history("t")[-1]["content"] == text


def test_the_record_of_a_streamed_turn_is_what_was_streamed(serve):
    log = Log()
    answer = "It was completed in 1889 [1]. " + CLEAN.strip()
    model, _ = _streaming_model(answer, log)
    url, app = serve(model, **FAST)
    eiffel = [{"role": "user", "content": "When was the Eiffel Tower completed?"}]

    chunks, text = _stream(url, log, eiffel, "rec", stream_options={"include_usage": True})

    assistant = app.state.ponder.assistant
    state = assistant.graph.get_state({"configurable": {"thread_id": "rec"}}).values
    done, usage = chunks[-2], chunks[-1].usage
    assert text == answer == assistant.history("rec")[-1]["content"] == state["answer"]
    assert done.model_extra["ponder"]["citations"][0]["number"] == state["citations"][0].number
    assert usage.completion_tokens == state["draft"].tokens == len(log.written().split())
    windows = assistant.parts.audit.decisions(thread_id="rec", limit=None)
    output = [d for d in windows if d.checkpoint == "output"]
    assert len(output) > 2  # judged in windows as it was written...
    assert all(d.text is None or d.text in answer for d in output)  # ...of this very text
    listed = {v["decision_id"] for v in done.model_extra["ponder"]["verdicts"]}
    assert listed <= {d.decision_id for d in windows}


def test_a_client_that_leaves_mid_answer_stops_the_model_and_the_turn_is_cancelled(serve):
    answer = (CLEAN * 4).strip()
    written: list[str] = []
    left = threading.Event()

    def on_piece(piece: str) -> None:
        written.append(piece)
        if len(written) == 40:  # past the first release: not one word more till the client left
            assert left.wait(10)
        if len(written) > 40:
            time.sleep(0.02)  # time for the server to notice, were it slow to

    model = language_model(lambda question: answer)
    model.on_piece = on_piece
    url, app = serve(model, server={"max_concurrent": 1}, **FAST)  # one worker: idle() waits
    body = {"model": "ponder", "messages": FIREWORKS, "stream": True}
    headers = {**AUTH, "X-Ponder-Thread": "left"}

    with httpx.stream("POST", f"{url}/chat/completions", json=body, headers=headers) as response:
        for line in response.iter_lines():
            chunk = json.loads(line.removeprefix("data: ")) if line.startswith("data: {") else {}
            if chunk.get("choices") and chunk["choices"][0]["delta"].get("content"):
                received = chunk["choices"][0]["delta"]["content"]
                break
    left.set()
    idle(app)

    history = app.state.ponder.assistant.history("left")
    state = app.state.ponder.assistant.graph.get_state({"configurable": {"thread_id": "left"}})
    assert state.values["outcome"] == "cancelled" and state.next == ()
    assert history[0] == FIREWORKS[0]
    assert history[1]["content"].startswith(received) and answer.startswith(history[1]["content"])
    assert len(written) < len(answer.split()) / 2  # it stopped writing, far from the end


def test_a_json_reply_still_chooses_among_drafts_and_a_stream_writes_one(serve):
    calls: list[tuple[int, float]] = []

    def write(messages, n, settings):
        calls.append((n, settings.temperature))
        return ["It was completed in 1889 [1]."] * n

    model = language_model()
    model.fn = write
    url, _ = serve(model, **FAST)
    api = client(url)

    eiffel = [{"role": "user", "content": "When was the Eiffel Tower completed?"}]

    api.chat.completions.create(model="ponder", messages=eiffel)
    json_calls, calls[:] = list(calls), []
    list(api.chat.completions.create(model="ponder", messages=eiffel, stream=True))

    assert json_calls == [(1, 0.0), (3, 0.7)]  # the greedy draft and three samples
    assert calls == [(1, 0.0)]  # one draft, streamed
