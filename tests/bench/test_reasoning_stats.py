"""The benchmark's statistics against values worked out by hand or known from references."""

from __future__ import annotations

import pytest

from bench.reasoning_stats import mcnemar_p, selection_efficiency, wilson_interval


def test_wilson_interval_matches_the_textbook_values() -> None:
    low, high = wilson_interval(55, 100)

    assert (low, high) == pytest.approx((0.4524, 0.6438), abs=1e-4)
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson_interval(10, 10)[1] == pytest.approx(1.0)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError, match="successes <= n"):
        wilson_interval(3, 2)


def test_mcnemar_counts_only_discordant_items() -> None:
    # 10 items only the method solved, 2 only greedy solved; 88 agreements do not matter.
    method = [True] * 10 + [False] * 2 + [True] * 44 + [False] * 44
    greedy = [False] * 10 + [True] * 2 + [True] * 44 + [False] * 44

    p = mcnemar_p(method, greedy)

    assert p == pytest.approx(2 * (1 + 12 + 66) / 2**12)  # exact binomial, two-sided
    assert mcnemar_p([True, False], [True, False]) == 1.0
    assert mcnemar_p([True] * 6, [False] * 6) == pytest.approx(2 / 64)
    with pytest.raises(ValueError, match="pair them by item"):
        mcnemar_p([True], [True, False])


def test_selection_efficiency_is_the_share_of_the_oracle_gap_captured() -> None:
    assert selection_efficiency(0.6, greedy=0.5, oracle=0.7) == pytest.approx(0.5)
    assert selection_efficiency(0.4, greedy=0.5, oracle=0.7) == pytest.approx(-0.5)
    assert selection_efficiency(0.5, greedy=0.5, oracle=0.5) is None
