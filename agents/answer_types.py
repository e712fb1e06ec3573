"""What the language node hands on: a draft answer, its citations and what claim checking
found, with the settings that decide how an answer is checked (``answers:`` in settings).

Kept apart from :mod:`ponder.agents.compose`, which writes answers, so the graph, the
streaming path and the benchmarks can read answers without the writing machinery.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Literal, Protocol

from annotated_types import Ge, Le

from ponder.agents.claims import DEFAULT_SUPPORT_THRESHOLD
from ponder.agents.core.fields import check_fields

__all__ = [
    "AnswerCheck",
    "AnswerKind",
    "AnswerPlan",
    "Citation",
    "Draft",
    "EvidenceLike",
    "format_sources",
]

AnswerKind = Literal[
    "drafted",
    "trimmed",
    "repaired",
    "computed",
    "reasoned",
    "extractive",
    "declined",
    "unchecked",
]
"""How an answer came to be (see the module docstring); ``unchecked`` with checking off."""


class EvidenceLike(Protocol):
    """What the language node reads of a retrieved chunk."""

    @property
    def text(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def chunk_index(self) -> int: ...


@dataclass(frozen=True, kw_only=True)
class AnswerPlan:
    """How the language node checks an answer; ``answers:`` in settings is this class."""

    claim_check: bool = True
    """Check every claim of a draft against the evidence it cites and the tool results
    before releasing it; repair, quote the evidence or decline when a claim fails; decline
    a factual question that retrieval found no relevant evidence for."""
    support_threshold: Annotated[float, Ge(0), Le(1)] = DEFAULT_SUPPORT_THRESHOLD
    """Least support score (similarity and shared words with a passage holding the
    claim's numbers) of a supported claim."""
    repair_candidates: Annotated[int, Ge(0), Le(8)] = 2
    """Drafts sampled, with the unsupported spans named, after the first draft fails."""
    extractive_min_score: Annotated[float, Ge(0), Le(1)] = 0.5
    """Least score of an evidence sentence quoted as the answer; below it, decline (chosen
    on the answer benchmark's development half: ``bench/answers_calibration.py``)."""
    candidates: Annotated[int, Ge(1), Le(8)] = 4
    """With claim checking off: drafts written (greedy and samples), the best grounded
    in the evidence kept."""

    def __post_init__(self) -> None:
        check_fields(self)


@dataclass(frozen=True, kw_only=True)
class Citation:
    """A source the answer rests on."""

    number: int
    """The ``[n]`` marker used in the answer."""
    title: str
    """The source's title."""
    source: str
    """The source's display path (relative to the folder it was ingested from)."""
    chunk_index: int
    """Which chunk of the source."""


@dataclass(frozen=True, kw_only=True)
class AnswerCheck:
    """What claim checking found, in counts safe to show (no hidden reasoning)."""

    kind: AnswerKind
    """How the answer came to be."""
    claims: int = 0
    """Claims in the released answer."""
    supported: int = 0
    """Of those, claims supported by the evidence or a tool result."""
    drafts_checked: int = 0
    """Drafts of the model that were checked."""
    rejected_spans: tuple[str, ...] = ()
    """Unsupported spans of the rejected drafts (for the trace, never the answer)."""
    claim_results: tuple[tuple[str, bool], ...] = ()
    """Each claim of the released answer and whether it was supported, for the trace."""


@dataclass(frozen=True, kw_only=True)
class Draft:
    """An answer before the output check."""

    text: str
    """The answer text, without the sources list."""
    citations: tuple[Citation, ...]
    """Sources cited in the text, or all evidence shown to the model if it cited none."""
    tokens: int
    """Tokens generated."""
    check: AnswerCheck | None = None
    """What claim checking found; ``None`` when it did not run."""


def format_sources(citations: Sequence[Citation]) -> str:
    """The ``Sources:`` block shown under an answer."""
    lines = [f"[{c.number}] {c.title} ({c.source}, part {c.chunk_index + 1})" for c in citations]
    return "Sources:\n" + "\n".join(lines) if lines else ""
