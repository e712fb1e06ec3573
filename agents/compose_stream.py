"""The language node, streamed: one draft, handed on while it is written, a checked
sentence at a time.

:func:`~ponder.agents.compose.compose` chooses its answer among drafts, repairs and
quotes once they are all written, so nothing can be shown before the last one ends. A
streamed answer is one greedy draft, handed to a :class:`DraftSink` (the output check's
windowed release) as it grows:

- With claim checking on and something to hold the answer to (evidence, a tool result,
  the reasoning's answer), a sentence is handed on once the next one has begun and every
  claim in it is supported. :func:`~ponder.agents.claims.check_claims` judges sentences
  one by one, so judging each as it ends gives the verdicts the whole draft would get.
  The first unsupported sentence ends the draft before it.
- Otherwise, the text as it is written (with claim checking off, the best grounded of
  several drafts cannot be chosen: there is one), after the reasoning's result when
  there is one.

When the draft ends, it must still answer the question
(:func:`~ponder.agents.compose.answers_question`). If it does not and nothing has been
sent yet, the non-streamed path takes over from this draft (trim, repair, compute, quote
or decline) and its answer is released whole instead. Sent text cannot be taken back:
then the answer is the draft's supported sentences, with the tool's or the reasoning's
value stated after them when they leave it out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ponder.agents.atoms import split_sentences
from ponder.agents.claims import Claim, ClaimReport, Source, TextEncoder, check_claims
from ponder.agents.compose import (
    AnswerCheck,
    AnswerKind,
    AnswerRequest,
    Draft,
    EvidenceLike,
    _released,
    answer_sources,
    answers_question,
    compose_request,
)
from ponder.agents.computation import ToolResult
from ponder.agents.models.base import ChatModel, Completion, GenerationSettings, Message
from ponder.agents.models.streaming import stream_text

__all__ = ["DraftSink", "StreamedDraft", "stream_draft"]


class DraftSink(Protocol):
    """Where a streamed draft goes as it is written: the output check's release."""

    def feed(self, text: str) -> bool:
        """Take the answer so far (each call's text starts with the last call's).

        Returns:
            Whether to go on writing: ``False`` stops the draft (a window failed the
            output check, or the caller left).
        """
        ...

    @property
    def sent(self) -> int:
        """Characters of the answer the user has been sent so far."""
        ...


@dataclass(frozen=True, kw_only=True)
class StreamedDraft:
    """The answer of a streamed turn, and how it relates to what was fed to the sink."""

    draft: Draft
    """The answer. Its text starts with every text fed to the sink, unless ``replaced``."""
    replaced: bool = False
    """Nothing was sent, and the answer came from the non-streamed path instead (a
    decline before any draft, or a draft that did not hold up): release it whole."""
    stopped: bool = False
    """The sink stopped the draft; ``draft.text`` is what was written by then."""


def stream_draft(request: AnswerRequest, model: ChatModel, *, sink: DraftSink) -> StreamedDraft:
    """Write one draft of the answer a request asks for, feeding ``sink`` as it is written.

    Args:
        request: The question and what the answer is written from (its ``max_tokens``
            bounds the one draft).
        model: The language model; it streams if it is a ``StreamingChatModel``.
        sink: Takes the checked text as it grows.

    Returns:
        The answer, and whether it extends what was fed or replaces it.
    """
    question, evidence = request.question, request.evidence
    tool_results, reasoning_answer = request.tool_results, request.reasoning_answer
    if request.declines():
        return StreamedDraft(draft=compose_request(request, model), replaced=True)
    gate = None
    if request.plan.claim_check and request.grounded:
        sources = answer_sources(evidence, tool_results, reasoning_answer)
        gate = _ClaimGate(question, sources, request.encoder, request.plan.support_threshold)
    lead = ""
    if gate is None and reasoning_answer:
        # The answer must carry the result it was handed, and whether the draft will say
        # it is known only at its end: a streamed answer states it first, always.
        lead = f"The answer is {reasoning_answer.strip()}. "
    settings = GenerationSettings(max_tokens=request.max_tokens)
    written = _write(model, request.messages(None), settings, sink, gate, lead)
    tokens = written.completion.completion_tokens
    if written.stopped:
        text = written.text
        return StreamedDraft(
            draft=Draft(text=text, citations=request.cited(text), tokens=tokens),
            stopped=True,
        )
    if gate is None:
        text = written.text
        check = AnswerCheck(kind="unchecked")
        return StreamedDraft(
            draft=Draft(text=text, citations=request.cited(text), tokens=tokens, check=check)
        )
    text = written.text
    if gate.claims and answers_question(text, question, tool_results, reasoning_answer):
        kind: AnswerKind = "trimmed" if gate.failed else "drafted"
        report = ClaimReport(claims=tuple(gate.claims), threshold=gate.threshold)
        draft = _released(text, kind, report, 1, gate.rejected, tokens, evidence)
        return StreamedDraft(draft=draft)
    if sink.sent == 0:  # nothing shown yet: the non-streamed path may still choose
        draft = compose_request(request, model, first=written.completion)
        return StreamedDraft(draft=draft, replaced=True)
    answer = _completed(text, gate, tool_results, reasoning_answer, tokens, evidence)
    return StreamedDraft(draft=answer)


def _completed(
    text: str,
    gate: _ClaimGate,
    tool_results: Sequence[ToolResult],
    reasoning_answer: str | None,
    tokens: int,
    evidence: Sequence[EvidenceLike],
) -> Draft:
    """The answer when part of a draft that does not answer the question was sent: the
    supported sentences, then the tools' or the reasoning's result if they leave it out
    (supported by construction, as in the non-streamed fallback)."""
    stated = [f"{t.expression} = {t.value}." for t in tool_results if t.value not in text]
    if not tool_results and reasoning_answer and reasoning_answer.strip() not in text:
        stated = [f"The answer is {reasoning_answer.strip()}."]
    claims = list(gate.claims) + [
        Claim(text=s, cited=(), atoms=(), missing=(), support=1.0, passage=s, supported=True)
        for s in stated
    ]
    full = " ".join([text, *stated]).strip()
    report = ClaimReport(claims=tuple(claims), threshold=gate.threshold)
    return _released(full, "trimmed", report, 1, gate.rejected, tokens, evidence)


@dataclass
class _ClaimGate:
    """Checks the claims of each sentence of a growing text once the sentence has ended."""

    question: str
    sources: Sequence[Source]
    encoder: TextEncoder | None
    threshold: float
    claims: list[Claim] = field(default_factory=list)
    """The claims of the sentences that passed, in order."""
    rejected: list[str] = field(default_factory=list)
    """The unsupported spans of the sentence that failed."""
    failed: bool = False
    """A sentence had an unsupported claim: the answer ends before it."""
    end: int = 0
    """The checked text ends here: every sentence before it passed."""
    _checked: int = 0

    def ready(self, body: str, *, final: bool = False) -> int:
        """How much of ``body`` (the text so far; the whole text when ``final``) has
        been checked and passed: the sentences that have ended, up to the first that
        fails."""
        sentences = split_sentences(body)
        if not final:
            # The last sentence may go on; one followed by an unfinished citation
            # marker ("[1") gets the marker when it is finished.
            sentences = sentences[: -2 if sentences and sentences[-1].startswith("[") else -1]
        for sentence in sentences[self._checked :]:
            if self.failed:
                break
            report = check_claims(
                sentence,
                self.sources,
                question=self.question,
                encoder=self.encoder,
                threshold=self.threshold,
            )
            if report.unsupported:
                self.failed = True
                self.rejected = list(report.unsupported_spans)
                break
            self.claims += report.claims
            self.end = _end_of(body, sentence, self.end)
            self._checked += 1
        return self.end


def _end_of(body: str, sentence: str, start: int) -> int:
    """Where ``sentence`` (as the splitter gives it: spaces may differ) ends in ``body``,
    searching from ``start``, with any closing quote or bracket after it."""
    i = start
    for char in sentence:
        if char.isspace():
            continue
        i = body.index(char, i) + 1
    while i < len(body) and body[i] in "\"”')":
        i += 1
    return i


@dataclass(frozen=True, kw_only=True)
class _Written:
    completion: Completion
    """What the model wrote (up to where it was stopped)."""
    text: str
    """The answer it gives: the checked text, or all of it without a gate."""
    stopped: bool
    """The sink stopped it."""


def _write(
    model: ChatModel,
    messages: list[Message],
    settings: GenerationSettings,
    sink: DraftSink,
    gate: _ClaimGate | None,
    lead: str,
) -> _Written:
    """Stream one draft, after ``lead``, into ``sink`` through ``gate``; stop when either
    says so."""
    stream = stream_text(model, messages, settings)
    raw, fed, ended = lead, 0, ""
    try:
        piece = next(stream)
        while True:
            raw += piece
            body = raw.lstrip()  # as compose strips a draft
            ready = len(body.rstrip()) if gate is None else gate.ready(body)
            if gate is not None and gate.failed:
                ended = "unsupported"
            if ready > fed:
                fed = ready
                if not sink.feed(body[:ready]):
                    ended = "stopped"
            piece = stream.send(bool(ended))  # True stops the model at once
    except StopIteration as done:
        completion: Completion = done.value
    body = raw.strip()
    if ended == "stopped":
        return _Written(completion=completion, text=body, stopped=True)
    if gate is not None and not ended:
        gate.ready(body, final=True)
    text = body if gate is None or not gate.failed else body[: gate.end].rstrip()
    return _Written(completion=completion, text=text, stopped=False)
