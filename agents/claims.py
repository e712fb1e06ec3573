"""Claim checking: every sentence of a draft answer held against the evidence it cites.

A draft is split into claims (sentences). Each claim is checked twice:

1. **Atoms** (:mod:`ponder.agents.atoms`): its numbers, dates, quantities, names and
   quoted phrases must appear, in normal form, in the chunks the claim cites (all chunks
   shown, if it cites none) or in a tool result of the reasoning node. Names may also come
   from the question (the user's own words).
2. **Support**: the claim must say what one sentence of a source says, not only reuse
   its facts. Only sentences that hold all the claim's dates, numbers, quantities and
   names (those the question does not already state) count, and only in a source that
   names what the question names (in its text or title). The support score is the
   mean of the sentence's embedding similarity to the claim and the share of the claim's
   words (names and the source's title aside) that the sentence holds; similarity alone
   if none is left. "Apollo 11 landed on 24 July 1969" shares its date only with
   the splashdown sentence, which says nothing of landing. One sentence, never two: a
   neighbour would lend its words to the other's date.

A claim is supported when no atom is missing and its support reaches the threshold.
Nothing here generates text; :func:`~ponder.agents.compose.compose` decides what to do
with an unsupported claim.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ponder.agents.atoms import (
    Atom,
    DateValue,
    atoms_of,
    content_words,
    dates_in,
    normalize_phrase,
    numbers_in,
    paragraph_sentences,
    quantities_in,
    split_sentences,
    words_in,
)

__all__ = [
    "DEFAULT_SUPPORT_THRESHOLD",
    "Claim",
    "ClaimReport",
    "Passage",
    "Source",
    "TextEncoder",
    "check_claims",
    "claim_sentences",
    "cosine",
    "passages_of",
    "sentences_of",
    "strip_markers",
]

DEFAULT_SUPPORT_THRESHOLD = 0.55
"""Least support score of a supported claim (chosen on the answer benchmark's drafts)."""

_MARKER = re.compile(r"\s*\[(\d{1,2})\]")
_NUMERIC = ("number", "date", "quantity")


class TextEncoder(Protocol):
    """Embeds texts; any :class:`~ponder.knowledge.embedder.Embedder` is one."""

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text."""
        ...


@dataclass(frozen=True, kw_only=True)
class Source:
    """A text a claim may rest on: a numbered evidence chunk, or a tool result."""

    number: int | None
    """The ``[n]`` marker that cites it; ``None`` for a tool result (cited by no marker)."""
    title: str
    """The source's title (an empty string for a tool result)."""
    text: str
    """Its text."""


@dataclass(frozen=True, kw_only=True)
class Passage:
    """One sentence, or two neighbouring sentences of one paragraph, of a source."""

    source: Source
    """Where it comes from."""
    text: str
    """The passage."""


@dataclass(frozen=True, kw_only=True)
class Claim:
    """One sentence of an answer, and what the evidence says of it."""

    text: str
    """The sentence, without citation markers."""
    cited: tuple[int, ...]
    """The ``[n]`` markers in the sentence."""
    atoms: tuple[Atom, ...]
    """Its checkable atoms."""
    missing: tuple[Atom, ...]
    """Atoms that appear in no source it may rest on."""
    support: float
    """How well the best passage holding its numeric atoms says the same, in [0, 1]."""
    passage: str | None
    """That passage, or ``None`` if no passage holds its numeric atoms."""
    supported: bool
    """No atom is missing and the support reaches the threshold."""


@dataclass(frozen=True, kw_only=True)
class ClaimReport:
    """Every claim of one answer, checked."""

    claims: tuple[Claim, ...] = ()
    """The claims, in order."""
    threshold: float = DEFAULT_SUPPORT_THRESHOLD
    """The support threshold they were held to."""
    unsupported_spans: tuple[str, ...] = field(default=())
    """What a rewrite must not repeat: the missing atoms, or the unsupported sentences."""

    @property
    def supported(self) -> int:
        """How many claims are supported."""
        return sum(1 for c in self.claims if c.supported)

    @property
    def unsupported(self) -> int:
        """How many claims are not."""
        return len(self.claims) - self.supported

    @property
    def all_supported(self) -> bool:
        """At least one claim, and every claim supported."""
        return bool(self.claims) and self.unsupported == 0

    @property
    def mean_support(self) -> float:
        """Mean support over the claims; 0 without claims."""
        return sum(c.support for c in self.claims) / len(self.claims) if self.claims else 0.0


def strip_markers(text: str) -> str:
    """``text`` without ``[n]`` citation markers."""
    return _MARKER.sub("", text).strip()


def sentences_of(source: Source) -> list[Passage]:
    """Each sentence of a source, as a passage."""
    return [Passage(source=source, text=s) for ss in paragraph_sentences(source.text) for s in ss]


def passages_of(source: Source) -> list[Passage]:
    """The passages of a source: each sentence, and each pair of neighbours in a paragraph."""
    passages: list[Passage] = []
    for sentences in paragraph_sentences(source.text):
        passages += [Passage(source=source, text=s) for s in sentences]
        passages += [
            Passage(source=source, text=f"{a} {b}") for a, b in itertools.pairwise(sentences)
        ]
    return passages


def check_claims(
    answer: str,
    sources: Sequence[Source],
    *,
    question: str = "",
    encoder: TextEncoder | None = None,
    threshold: float = DEFAULT_SUPPORT_THRESHOLD,
) -> ClaimReport:
    """Check every claim of ``answer`` against the sources it may rest on.

    Args:
        answer: The draft, with ``[n]`` markers.
        sources: Evidence chunks (numbered as shown to the model) and tool results.
        question: The user's message; names it holds need no source.
        encoder: Embeds claims and passages for the support score; ``None`` scores
            support by shared content words alone.
        threshold: Least support score of a supported claim.

    Returns:
        The report: each claim, its missing atoms, its support and the verdict.
    """
    sentences = [s for s in split_sentences(answer) if strip_markers(s)]
    if not sentences:
        return ClaimReport(threshold=threshold)
    evidence = [s for s in sources if s.number is not None]
    tools = [s for s in sources if s.number is None]
    question_names = set(words_in(question))
    drafts: list[tuple[str, tuple[int, ...], list[Atom], list[Atom], list[Passage]]] = []
    for sentence in sentences:
        cited = tuple(sorted({int(n) for n in _MARKER.findall(sentence)}))
        text = strip_markers(sentence)
        rests_on = [s for s in evidence if s.number in cited] or evidence
        atoms = atoms_of(text)
        missing = [a for a in atoms if not _found(a, [*rests_on, *tools], question_names)]
        passages = [p for s in [*rests_on, *tools] for p in sentences_of(s)]
        # What the question already says (the topic) need not be in the same sentence;
        # the claim's own numbers, dates and names must be ("discovered by Howard Florey
        # in 1928" names a man of the article, but not of the 1928 sentence).
        numeric = [
            a
            for a in atoms
            if a.kind in _NUMERIC or a.kind == "name"
            if a.text not in question and a.value not in question_names
        ]
        # The question's names may stay out of the sentence, not out of its source: "the
        # highest mountain in Antarctica is Mount Everest" rests on no sentence of the
        # Everest article, which never names Antarctica. A tool result has no topic.
        topic = [a for a in atoms if a.kind == "name" and a not in numeric]
        holding = [
            p
            for p in passages
            if all(_found(a, [p.source], set(), p.text) for a in numeric)
            and (p.source.number is None or all(_about(a, p.source) for a in topic))
        ]
        drafts.append((text, cited, atoms, missing, holding))
    scores = _support_scores(drafts, encoder, question)
    claims: list[Claim] = []
    for (text, cited, atoms, missing, holding), best in zip(drafts, scores, strict=True):
        support, passage = best
        tool_backed = bool(tools) and any(p.source.number is None for p in holding) and atoms
        ok = not missing and (support >= threshold or bool(tool_backed))
        claims.append(
            Claim(
                text=text,
                cited=cited,
                atoms=tuple(atoms),
                missing=tuple(missing),
                support=support,
                passage=passage,
                supported=ok,
            )
        )
    spans = [a.text for c in claims for a in c.missing]
    spans += [c.text for c in claims if not c.supported and not c.missing]
    return ClaimReport(
        claims=tuple(claims), threshold=threshold, unsupported_spans=tuple(dict.fromkeys(spans))
    )


def _found(atom: Atom, sources: Sequence[Source], names: set[str], text: str = "") -> bool:
    """Whether ``atom`` appears in any of ``sources`` (or only in ``text``, if given)."""
    if atom.kind == "name" and atom.value in names:
        return True
    texts = [text] if text else [s.text for s in sources]
    return any(_in_text(atom, source_text) for source_text in texts)


def _about(atom: Atom, source: Source) -> bool:
    """Whether ``source`` names ``atom`` in its text or its title."""
    return _in_text(atom, source.text) or _in_text(atom, source.title)


def _in_text(atom: Atom, text: str) -> bool:
    match atom.kind:
        case "date":
            assert isinstance(atom.value, DateValue)
            return any(atom.value.within(d) for d, _ in dates_in(text))
        case "quantity":
            return atom.value in {v for _, v in quantities_in(text)}
        case "number":
            return atom.value in {v for _, v in numbers_in(text)}
        case "quote":
            return str(atom.value) in normalize_phrase(text)
        case "name":
            return str(atom.value) in set(words_in(text))


def _support_scores(
    drafts: Sequence[tuple[str, tuple[int, ...], list[Atom], list[Atom], list[Passage]]],
    encoder: TextEncoder | None,
    question: str,
) -> list[tuple[float, str | None]]:
    """For each claim, the best support over its passages, and that passage.

    The shared words that count are the claim's words beyond its names and the source's
    title: "Apollo 11 landed on the Moon" of "The Apollo 11 Moon Landing" leaves none (the
    sentence need not repeat the topic; similarity alone decides), while "completed" of
    "The Eiffel Tower was completed in 1887" must be in a sentence that holds 1887.
    """
    texts: list[str] = []
    for claim, _, _, _, passages in drafts:
        texts.append(claim)
        texts += [p.text for p in passages]
    vectors = encoder.embed(texts) if encoder is not None and texts else None
    results: list[tuple[float, str | None]] = []
    position = 0
    for claim, _, _, _, passages in drafts:
        claim_vector = vectors[position] if vectors is not None else None
        position += 1
        # Names are checked as atoms; the words that relate them ("landed", "launched")
        # are what a sentence must share, or a list of the right names passes any verb.
        names = content_words(" ".join(a.text for a in atoms_of(claim) if a.kind == "name"))
        words = content_words(claim) - names or content_words(claim)
        best: tuple[float, str | None] = (0.0, None)
        for passage in passages:
            held = content_words(passage.text)
            similarity = None
            if vectors is not None and claim_vector is not None:
                similarity = max(0.0, cosine(claim_vector, vectors[position]))
            # The words that must be in the sentence: what the claim says beyond the
            # source's topic (its title), question words included: "popularised the name"
            # of a black hole is not in the sentence where Schwarzschild solved equations.
            needed = words - content_words(passage.source.title)
            if needed:
                overlap = len(needed & held) / len(needed)
                score = overlap if similarity is None else (similarity + overlap) / 2
            elif similarity is not None:
                score = similarity
            else:
                score = 1.0 if not words else len(words & held) / len(words)
            position += 1
            if score > best[0]:
                best = (score, passage.text)
        results.append(best)
    return results


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine similarity of two vectors; 0 if either has no length."""
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


def claim_sentences(answer: str) -> list[str]:
    """The sentences of ``answer`` that hold text besides citation markers."""
    return [s for s in split_sentences(answer) if strip_markers(s)]
