"""Deliberation: how a model is asked whether a text breaks a rule, and how its answer is read.

Split from :mod:`ponder.constitution.checker` so the checker keeps the cascade and its
policy (deliberation may only *clear* a hit, below ``clear_below``) while this module keeps
the one model question: the ``deliberate.j2`` prompt, the log-probabilities of "Yes" and
"No", and ``p(violation)`` normalised from the two. A model answer that is not a pair of
log-probabilities raises :class:`~ponder.agents.core.errors.ModelOutputError`, which the
checker turns into a closed verdict.
"""

from __future__ import annotations

import math

from ponder.agents.core.errors import ModelOutputError
from ponder.agents.models.base import ChatModel, Message
from ponder.constitution._templates import render
from ponder.constitution.check_run import CheckRun
from ponder.constitution.schema import Rule

__all__ = ["normalise", "p_violation"]


def p_violation(model: ChatModel, run: CheckRun, rule: Rule) -> float:
    """Ask ``model`` whether the run's text breaks ``rule``'s principle.

    Args:
        model: The judge.
        run: The check in progress (its text, checkpoint and deadline).
        rule: The rule to judge against.

    Returns:
        ``p(violation)``, between 0 and 1.

    Raises:
        CheckerError: The run's deadline passed before a model call.
        ModelOutputError: The model's scores are not log-probabilities.
    """
    prompt = render(
        "deliberate.j2",
        rule_id=rule.id,
        title=rule.title,
        principle=rule.principle,
        checkpoint=run.checkpoint,
        text=run.text,
    )
    messages: list[Message] = [{"role": "user", "content": prompt}]
    run.raise_if_late()
    yes = model.score(messages, "Yes")
    run.raise_if_late()
    no = model.score(messages, "No")
    return normalise(yes, no, model.name)


def normalise(log_p_yes: float, log_p_no: float, model_name: str) -> float:
    """p(Yes) / (p(Yes) + p(No)) from two log-probabilities, computed stably.

    Args:
        log_p_yes: The model's log-probability of "Yes".
        log_p_no: The model's log-probability of "No".
        model_name: The model's name, for the error.

    Returns:
        The probability of "Yes" among the two answers.

    Raises:
        ModelOutputError: A score is NaN or positive, or both are ``-inf``.
    """
    for name, value in (("Yes", log_p_yes), ("No", log_p_no)):
        if math.isnan(value) or value > 1e-6:
            raise ModelOutputError(
                f"model {model_name!r} scored {name!r} as {value}, not a log-probability"
            )
    if math.isinf(log_p_yes) and math.isinf(log_p_no):
        raise ModelOutputError(f"model {model_name!r} gave probability 0 to both Yes and No")
    gap = log_p_no - log_p_yes  # p = 1 / (1 + e^gap)
    if gap > 700:
        return 0.0
    return 1.0 / (1.0 + math.exp(gap))
