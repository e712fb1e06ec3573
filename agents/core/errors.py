"""The error hierarchy every Ponder package raises from.

Each error says what happened, where, and what to do about it.
"""

from __future__ import annotations


class PonderError(Exception):
    """Base class of every error Ponder raises on purpose."""


class ConfigError(PonderError):
    """A user file or setting is wrong: fix the named file, field or value."""


class ModelOutputError(PonderError):
    """A model produced something unusable where a usable answer was required."""


class ModelTimeoutError(PonderError):
    """A model call ran past its time limit."""


class BudgetExhausted(PonderError):
    """A search or generation budget ran out before any result was found."""


class CheckerError(PonderError):
    """A constitution checker stage failed; the verdict fails closed."""


class KnowledgeError(PonderError):
    """The knowledge store cannot answer: empty, unreachable or inconsistent."""


class HiddenReasoningError(PonderError):
    """Something tried to serialize hidden reasoning onto a user-facing path."""


class AuditError(PonderError):
    """The audit log cannot store or find a decision: check its path, or the id."""
