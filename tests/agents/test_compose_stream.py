"""The streamed language node on fake models: what is fed to the release, and when."""

from __future__ import annotations

from dataclasses import dataclass, field

from compose_helpers import APOLLO, ENCODER, QUESTION

from ponder.agents.compose import AnswerRequest, compose
from ponder.agents.compose_stream import stream_draft
from ponder.agents.extractive import DECLINE
from ponder.agents.models.testing import FunctionChatModel, ScriptedChatModel

LANDED = "Armstrong and Aldrin landed the lunar module Eagle on 20 July 1969 [1]."
SPLASHED = "The crew splashed down in the Pacific Ocean on 24 July 1969 [1]."
INVENTED = "Collins played the trumpet on the way home in 1971 [1]."
APOLLO_REQUEST = AnswerRequest(
    question=QUESTION, evidence=[APOLLO], encoder=ENCODER, needs_evidence=True
)


@dataclass
class Sink:
    """A fake release: keeps what it is fed, 'sends' all of it, stops when told to."""

    stop_after: int | None = None
    fed: list[str] = field(default_factory=list)
    sent: int = 0
    send: bool = True

    def feed(self, text: str) -> bool:
        assert not self.fed or text.startswith(self.fed[-1]), "fed text must only grow"
        self.fed.append(text)
        if self.send:
            self.sent = len(text)
        return self.stop_after is None or len(self.fed) < self.stop_after


def _watched(reply: str) -> tuple[FunctionChatModel, list[str]]:
    pieces: list[str] = []
    model = FunctionChatModel(lambda m, n, s: [reply] * n, on_piece=pieces.append)
    return model, pieces


def test_supported_sentences_are_fed_as_they_end_and_the_answer_is_the_draft() -> None:
    model, pieces = _watched(f"{LANDED} {SPLASHED}")
    sink = Sink()

    result = stream_draft(APOLLO_REQUEST, model, sink=sink)

    assert sink.fed[0] == LANDED  # fed once the second sentence had begun
    assert result.draft.text == f"{LANDED} {SPLASHED}" and not result.replaced
    check = result.draft.check
    assert check is not None and (check.kind, check.claims, check.supported) == ("drafted", 2, 2)
    assert result.draft.tokens == len(pieces)


def test_an_unsupported_sentence_ends_the_answer_before_it_and_stops_the_model() -> None:
    tail = " And then they went home to rest after a long trip."
    model, pieces = _watched(f"{LANDED} {INVENTED}{tail}")
    sink = Sink()

    result = stream_draft(APOLLO_REQUEST, model, sink=sink)

    assert result.draft.text == LANDED  # it answers the question: the rest is cut
    assert all("trumpet" not in text for text in sink.fed)
    assert result.draft.check is not None and result.draft.check.kind == "trimmed"
    # Stopped once the next sentence began, when the invented one could be judged.
    assert "".join(pieces) == f"{LANDED} {INVENTED} And "


def test_a_draft_that_fails_before_anything_is_sent_takes_the_non_streamed_path() -> None:
    # Nothing supported, nothing sent: compose's own fallback (here, the quote) answers.
    model = ScriptedChatModel(responses=[INVENTED, INVENTED, INVENTED])
    sink = Sink(send=False)

    result = stream_draft(APOLLO_REQUEST, model, sink=sink)
    expected = compose(
        QUESTION,
        ScriptedChatModel(responses=[INVENTED] * 3),
        evidence=[APOLLO],
        encoder=ENCODER,
        needs_evidence=True,
    )

    assert result.replaced and sink.fed == []
    assert result.draft == expected  # the same answer, reusing the streamed draft
    assert model.responses == []  # no second greedy draft: the two repairs only


def test_a_question_without_evidence_declines_without_writing() -> None:
    model, pieces = _watched("The Eiffel Tower is 330 metres tall.")
    request = AnswerRequest(question="How tall is the Eiffel Tower?", needs_evidence=True)

    result = stream_draft(request, model, sink=Sink())

    assert result.replaced and result.draft.text == DECLINE and pieces == []


def test_without_claim_checking_the_text_is_fed_as_written() -> None:
    model, pieces = _watched("Hello there, how can I help you today?")
    sink = Sink()

    result = stream_draft(AnswerRequest(question="Hello!"), model, sink=sink)

    assert len(sink.fed) == len(pieces)  # fed after every piece
    assert sink.fed[-1] == result.draft.text == "Hello there, how can I help you today?"
    assert result.draft.check is not None and result.draft.check.kind == "unchecked"


def test_a_sink_that_stops_stops_the_model_at_once() -> None:
    model, pieces = _watched("one two three four five six seven eight nine ten")

    result = stream_draft(AnswerRequest(question="Count"), model, sink=Sink(stop_after=3))

    assert result.stopped
    assert pieces == ["one ", "two ", "three "]  # nothing after the feed that stopped it
    assert result.draft.text == "one two three"
    assert result.draft.tokens == 3
