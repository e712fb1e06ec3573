"""The language node: writes the user-facing answer from the evidence and the reasoning
result, and releases only what they support.

With claim checking on (:class:`AnswerPlan`, ``answers:`` in settings), an answer is found
in this order:

1. **Declined** at once when the question needed evidence and retrieval found none that
   is relevant, or none that names what the question names: the model is not asked to
   guess.
2. **Drafted**: the model's greedy draft, when every claim in it is supported by the
   chunks it cites or by a tool result (:mod:`ponder.agents.claims`) and it holds what the
   question asks for (a date for "when"); **trimmed**: its supported sentences, when
   they still answer the question.
3. **Repaired**: drafts sampled with the unsupported spans named, the best supported kept.
4. **Computed** (a tool result): the executed expression and its value, stated plainly.
5. **Extractive** (:mod:`ponder.agents.extractive`): the evidence sentence that best
   answers the question, quoted with its citation.
6. **Declined** when no sentence answers it.

With claim checking off, the best grounded of several drafts is released as written, and
a question without evidence is answered by the model alone (the behaviour before claim
checking, kept for comparison in ``bench/answers.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ponder.agents.answer_request import AnswerRequest, answer_sources, cite
from ponder.agents.answer_types import (
    AnswerCheck,
    AnswerKind,
    AnswerPlan,
    Citation,
    Draft,
    EvidenceLike,
    format_sources,
)
from ponder.agents.claims import (
    ClaimReport,
    Source,
    TextEncoder,
    check_claims,
    claim_sentences,
)
from ponder.agents.computation import ToolResult
from ponder.agents.extractive import (
    DECLINE,
    extractive_answer,
    fits_question,
)
from ponder.agents.grounding import most_grounded
from ponder.agents.models.base import ChatModel, Completion, GenerationSettings, Message

__all__ = [
    "AnswerCheck",
    "AnswerKind",
    "AnswerPlan",
    "AnswerRequest",
    "Citation",
    "Draft",
    "EvidenceLike",
    "answer_sources",
    "answers_question",
    "compose",
    "compose_request",
    "format_sources",
]


def compose(
    question: str,
    model: ChatModel,
    *,
    evidence: Sequence[EvidenceLike] = (),
    reasoning_answer: str | None = None,
    tool_results: Sequence[ToolResult] = (),
    critique: str | None = None,
    history: Sequence[Message] = (),
    max_tokens: int = 160,
    needs_evidence: bool = False,
    encoder: TextEncoder | None = None,
    plan: AnswerPlan | None = None,
    first: Completion | None = None,
) -> Draft:
    """Write the answer to ``question``: :func:`compose_request` with the fields of its
    :class:`AnswerRequest` given as keywords (each argument up to ``plan`` is one).

    Args:
        question: The user's message.
        model: The language model (may differ from the reasoning model).
        evidence: Retrieved chunks, cited as ``[1]``, ``[2]``... in order.
        reasoning_answer: The hidden search's final answer, if reasoning ran.
        tool_results: What tools computed for the question (the answer states them).
        critique: Guidance from the output check when a draft must be revised.
        history: Earlier turns of the thread.
        max_tokens: Most tokens to generate per draft.
        needs_evidence: The question asks for facts (the router's ``factual``).
        encoder: Embeds claims and evidence for the support score.
        plan: How to check the answer; default :class:`AnswerPlan`.
        first: See :func:`compose_request`.

    Returns:
        The draft with its citations, token count and claim check.
    """
    request = AnswerRequest(
        question=question,
        evidence=evidence,
        reasoning_answer=reasoning_answer,
        tool_results=tool_results,
        critique=critique,
        history=history,
        max_tokens=max_tokens,
        needs_evidence=needs_evidence,
        encoder=encoder,
        plan=plan or AnswerPlan(),
    )
    return compose_request(request, model, first=first)


def compose_request(
    request: AnswerRequest, model: ChatModel, *, first: Completion | None = None
) -> Draft:
    """Write the answer a request asks for (a streamed draft that did not hold up ends
    here too).

    Args:
        request: The question and what the answer is written from.
        model: The language model (may differ from the reasoning model).
        first: The greedy first draft, written already (a streamed draft that did not
            hold up, see :mod:`ponder.agents.compose_stream`); ``None`` writes it. Used
            when claim checking applies.

    Returns:
        The draft with its citations, token count and claim check.
    """
    plan, question, evidence = request.plan, request.question, request.evidence
    tool_results, reasoning_answer = request.tool_results, request.reasoning_answer
    if request.declines():
        return Draft(text=DECLINE, citations=(), tokens=0, check=AnswerCheck(kind="declined"))
    if not plan.claim_check or not request.grounded:
        # Nothing to hold a draft to (small talk, an open request): it goes as written.
        return _unchecked(request, model)
    sources = answer_sources(evidence, tool_results, reasoning_answer)

    def judge(text: str) -> tuple[bool, ClaimReport]:
        report = check_claims(
            text,
            sources,
            question=question,
            encoder=request.encoder,
            threshold=plan.support_threshold,
        )
        answers = answers_question(text, question, tool_results, reasoning_answer)
        return report.all_supported and answers, report

    if first is None:
        settings = GenerationSettings(max_tokens=request.max_tokens)
        first = model.generate(request.messages(None), settings=settings)[0]
    greedy = [first]
    tokens = sum(c.completion_tokens for c in greedy)
    ok, report = judge(greedy[0].text.strip())
    rejected = list(report.unsupported_spans)
    if ok:
        return _released(greedy[0].text.strip(), "drafted", report, 1, rejected, tokens, evidence)
    trimmed = _supported_part(greedy[0].text.strip(), report)
    if trimmed is not None:
        ok, kept = judge(trimmed)
        if ok:
            return _released(trimmed, "trimmed", kept, 1, rejected, tokens, evidence)
    checked = 1
    if plan.repair_candidates:  # grounded: there is something to repair against
        spans = list(report.unsupported_spans) or [greedy[0].text.strip()]
        sampled = GenerationSettings(max_tokens=request.max_tokens, temperature=0.7, seed=0)
        repairs: list[Completion] = model.generate(
            request.messages(spans), n=plan.repair_candidates, settings=sampled
        )
        tokens += sum(c.completion_tokens for c in repairs)
        judged = [(judge(c.text.strip()), c.text.strip()) for c in repairs]
        checked += len(judged)
        passing = [(r.mean_support, text, r) for (good, r), text in judged if good]
        rejected += [s for (good, r), _ in judged if not good for s in r.unsupported_spans]
        if passing:
            _, text, best = max(passing, key=lambda item: item[0])
            return _released(text, "repaired", best, checked, rejected, tokens, evidence)
    found = _Found(checked=checked, rejected=tuple(rejected), tokens=tokens)
    return _fallback(request, sources, found)


def answers_question(
    text: str, question: str, tool_results: Sequence[ToolResult], reasoning_answer: str | None
) -> bool:
    """Whether ``text`` holds what ``question`` asks for (a date for "when") and states
    the tools' values, or else the reasoning's answer."""
    stated = [t.value for t in tool_results] or [reasoning_answer or ""]
    return fits_question(text, question) and all(v.lower() in text.lower() for v in stated)


def _supported_part(text: str, report: ClaimReport) -> str | None:
    """The sentences of ``text`` whose claims are supported, or ``None`` if none or all
    are: an answer with one invented detail keeps the rest in the model's own words."""
    sentences = claim_sentences(text)
    if len(sentences) != len(report.claims):
        return None
    kept = [s for s, c in zip(sentences, report.claims, strict=True) if c.supported]
    if not kept or len(kept) == len(sentences):
        return None
    return " ".join(kept)


@dataclass(frozen=True, kw_only=True)
class _Found:
    """What the drafting found before the fallback."""

    checked: int
    rejected: tuple[str, ...]
    tokens: int


def _fallback(request: AnswerRequest, sources: Sequence[Source], found: _Found) -> Draft:
    """The answer when no draft survived: the tool's result, the reasoning's answer, the
    best evidence sentence, or a decline."""

    def draft(text: str, kind: AnswerKind, claims: int, cited: bool = False) -> Draft:
        # A tool's result and a quoted sentence are supported by construction.
        check = AnswerCheck(
            kind=kind,
            claims=claims,
            supported=claims,
            drafts_checked=found.checked,
            rejected_spans=found.rejected,
            claim_results=((text, True),) if claims else (),
        )
        citations = request.cited(text) if cited else ()
        return Draft(text=text, citations=citations, tokens=found.tokens, check=check)

    if request.tool_results:
        text = " ".join(f"{t.expression} = {t.value}." for t in request.tool_results)
        return draft(text, "computed", len(request.tool_results))
    if request.reasoning_answer:
        return draft(f"The answer is {request.reasoning_answer.strip()}.", "reasoned", 1)
    min_score = request.plan.extractive_min_score
    extract = extractive_answer(request.question, sources, request.encoder, min_score=min_score)
    if extract is None:
        return draft(DECLINE, "declined", 0)
    return draft(extract.text, "extractive", 1, cited=True)


def _released(
    text: str,
    kind: AnswerKind,
    report: ClaimReport,
    checked: int,
    rejected: list[str],
    tokens: int,
    evidence: Sequence[EvidenceLike],
) -> Draft:
    check = AnswerCheck(
        kind=kind,
        claims=len(report.claims),
        supported=report.supported,
        drafts_checked=checked,
        rejected_spans=tuple(rejected),
        claim_results=tuple((c.text, c.supported) for c in report.claims),
    )
    return Draft(text=text, citations=cite(text, evidence), tokens=tokens, check=check)


def _unchecked(request: AnswerRequest, model: ChatModel) -> Draft:
    """Claim checking off: the best grounded of ``plan.candidates`` drafts, as written."""
    messages, evidence = request.messages(None), request.evidence
    greedy = GenerationSettings(max_tokens=request.max_tokens)
    completions = model.generate(messages, n=1, settings=greedy)
    if evidence and request.plan.candidates > 1:
        sampled = GenerationSettings(max_tokens=request.max_tokens, temperature=0.7, seed=0)
        completions += model.generate(messages, n=request.plan.candidates - 1, settings=sampled)
    best = most_grounded([c.text for c in completions], [e.text for e in evidence])
    text = completions[best].text.strip()
    tokens = sum(c.completion_tokens for c in completions)
    reasoning_answer = request.reasoning_answer
    if reasoning_answer and reasoning_answer.strip().lower() not in text.lower():
        # Small language models sometimes drop the result they were handed; the answer
        # must carry it, so state it first.
        text = f"The answer is {reasoning_answer.strip()}. {text}".strip()
    check = AnswerCheck(kind="unchecked")
    return Draft(text=text, citations=request.cited(text), tokens=tokens, check=check)
