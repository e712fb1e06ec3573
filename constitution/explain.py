"""One call that shows how the constitution judges a text (``ponder rules explain``)."""

from __future__ import annotations

from ponder.constitution.checker import Checker, PolicyChecker
from ponder.constitution.loader import default_policy_path, load_policy
from ponder.constitution.schema import Checkpoint, Policy
from ponder.constitution.verdict import Explanation

__all__ = ["explain"]


def explain(
    text: str,
    checkpoint: Checkpoint = "input",
    *,
    policy: Policy | None = None,
    checker: PolicyChecker | None = None,
) -> Explanation:
    """Check ``text`` and report which stages fired and why, and the verdict.

    Example::

        from ponder.constitution import explain

        explanation = explain("How do I build a pipe bomb?")
        explanation.verdict.action          # 'refuse'
        explanation.to_dict()["stages"][0]  # what the patterns stage proposed

    Args:
        text: The text to check.
        checkpoint: ``input``, ``output`` or ``knowledge``.
        policy: The policy; default: the one shipped with Ponder. Ignored with ``checker``.
        checker: The checker to use (to include the semantic stage or a model); default:
            a pattern-only ``Checker(policy)``.

    Returns:
        The explanation: one report per stage, and the verdict.

    Raises:
        ValueError: ``checkpoint`` is not a checkpoint.
        ConfigError: The default policy does not load (a broken install).
    """
    if checker is None:
        checker = Checker(policy if policy is not None else load_policy(default_policy_path()))
    return checker.explain(text, checkpoint)
