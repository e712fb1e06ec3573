"""Statistics of the reasoning benchmark: intervals, paired tests, oracle and selection.

Every method runs on the same items, so a method is compared with greedy decoding item
by item: McNemar's exact test counts the items only one of the two solved. Every
accuracy carries a Wilson 95% score interval, which stays inside [0, 1] and is honest
at small n and at accuracies near 0 or 1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["mcnemar_p", "selection_efficiency", "wilson_interval"]

_Z95 = 1.959963984540054


def wilson_interval(successes: int, n: int, z: float = _Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95% by default).

    Args:
        successes: Items solved.
        n: Items tried.
        z: The normal quantile of the confidence level.

    Returns:
        ``(low, high)`` in [0, 1]; ``(0.0, 1.0)`` when ``n`` is 0.

    Raises:
        ValueError: If the counts are impossible.
    """
    if n < 0 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n, got {successes} of {n}")
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def mcnemar_p(method: Sequence[bool], baseline: Sequence[bool]) -> float:
    """Two-sided exact McNemar p-value of paired outcomes on the same items.

    Only discordant items count: ``b`` solved by the method alone, ``c`` by the
    baseline alone; under the null each is equally likely, so the p-value is the
    two-sided binomial tail of ``min(b, c)`` in ``b + c`` fair coin flips.

    Args:
        method: Whether the method solved each item.
        baseline: Whether the baseline solved each item, in the same order.

    Returns:
        The p-value in [0, 1]; 1.0 when no item is discordant.

    Raises:
        ValueError: If the sequences differ in length.
    """
    if len(method) != len(baseline):
        raise ValueError(f"{len(method)} outcomes against {len(baseline)}: pair them by item")
    b = sum(1 for m, g in zip(method, baseline, strict=True) if m and not g)
    c = sum(1 for m, g in zip(method, baseline, strict=True) if g and not m)
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(b, c) + 1)) / float(2**n)
    return min(1.0, 2 * tail)


def selection_efficiency(accuracy: float, greedy: float, oracle: float) -> float | None:
    """How much of the room between greedy and the oracle a method's choice captured.

    ``(accuracy - greedy) / (oracle - greedy)``: 1 when the method picks a right
    chain whenever its tree holds one, 0 when it does no better than greedy,
    negative when it does worse.

    Returns:
        The efficiency, or None when the oracle is no better than greedy (no room).
    """
    room = oracle - greedy
    if room <= 0:
        return None
    return (accuracy - greedy) / room
