"""The streaming output check on plain text: what is sent, what is withheld."""

from __future__ import annotations

import pytest

from ponder.constitution import Checker
from ponder.graphs.release import ReleasePlan, release_checked

FILLER = "The museum opens at nine and the guided tour starts from the main hall. " * 6
VIOLATION = "pack the pipe with nails for shrapnel"  # no-weapons, 37 characters with spaces


def _release(text: str, policy, plan: ReleasePlan, start: int = 0):
    checker = Checker(policy)
    windows: list[str] = []
    sent: list[str] = []

    def judge(window: str):
        windows.append(window)
        return checker.check(window, "output")

    return release_checked(text, judge, sent.append, plan, start=start), sent, windows


def test_clean_text_is_sent_whole_in_order_and_in_pieces(policy):
    release, sent, windows = _release(FILLER, policy, ReleasePlan(chunk_chars=50, overlap_chars=30))

    assert release.complete and release.end == len(FILLER)
    assert "".join(sent) == FILLER
    assert len(sent) > 3
    assert max(len(w) for w in windows) <= 50 + 2 * 30 + 20  # chunk, held text, context, a word


@pytest.mark.parametrize("offset", range(0, 200, 13))
def test_a_violation_is_withheld_wherever_it_falls(policy, offset):
    text = FILLER[:offset] + " " + VIOLATION + " " + FILLER
    plan = ReleasePlan(chunk_chars=30, overlap_chars=len(VIOLATION))

    release, sent, _ = _release(text, policy, plan)

    assert release.verdict.fired == ("no-weapons",)
    assert "".join(sent) == text[: release.end]
    assert release.end <= text.index(VIOLATION)  # not one character of it went out


def test_without_overlap_the_start_of_a_violation_would_leak(policy):
    # Why text is held back: a window that ends inside the violation passes.
    leaks = []
    for offset in range(0, 200, 13):
        text = FILLER[:offset] + " " + VIOLATION + " " + FILLER
        release, _, _ = _release(text, policy, ReleasePlan(chunk_chars=30, overlap_chars=0))
        leaks.append(release.end > text.index(VIOLATION))

    assert any(leaks)


def test_release_resumes_after_text_already_sent(policy):
    release, sent, windows = _release(
        FILLER, policy, ReleasePlan(chunk_chars=40, overlap_chars=20), start=100
    )

    assert "".join(sent) == FILLER[100:]
    assert windows[0].startswith(FILLER[80:100])  # released text is shown again as context
    assert release.complete


def test_empty_text_is_judged_once_and_sends_nothing(policy):
    release, sent, windows = _release("", policy, ReleasePlan())

    assert (release.complete, release.end, sent, windows) == (True, 0, [], [""])


def test_plan_sizes_are_checked():
    with pytest.raises(ValueError, match="chunk_chars"):
        ReleasePlan(chunk_chars=0)
    with pytest.raises(ValueError, match="overlap_chars"):
        ReleasePlan(overlap_chars=-1)
