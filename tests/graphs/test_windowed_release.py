"""The output check on a text still being written: fed its prefixes, the release judges
the windows and sends the pieces it would on the whole text, each as early as it can."""

from __future__ import annotations

import re

import pytest

from ponder.constitution import Checker
from ponder.graphs.release import ReleasePlan, WindowedRelease, release_checked

FILLER = "The museum opens at nine and the guided tour starts from the main hall. " * 6
VIOLATION = "pack the pipe with nails for shrapnel"  # no-weapons


def _tokens(text: str) -> list[str]:
    # Pieces as a model writes them: words, runs of spaces, bits of words.
    return [t for t in re.split(r"(\s+|[a-z]{3})", text) if t]


def _recorded(checker: Checker, windows: list[str]):
    def judge(window: str):
        windows.append(window)
        return checker.check(window, "output")

    return judge


@pytest.mark.parametrize("offset", [None, 0, 41, 150, 260])
def test_fed_prefixes_give_the_windows_and_pieces_of_the_whole_text(policy, offset):
    text = FILLER if offset is None else FILLER[:offset] + " " + VIOLATION + " " + FILLER
    plan = ReleasePlan(chunk_chars=40, overlap_chars=len(VIOLATION))
    checker = Checker(policy)
    whole_windows: list[str] = []
    whole_sent: list[str] = []
    whole = release_checked(text, _recorded(checker, whole_windows), whole_sent.append, plan)

    windows: list[str] = []
    sent: list[str] = []
    release = WindowedRelease(_recorded(checker, windows), sent.append, plan)
    so_far = ""
    for token in _tokens(text):
        so_far += token
        if not release.feed(so_far):
            break
    streamed = release.result or release.finish(text)

    assert (windows, sent) == (whole_windows, whole_sent)
    assert (streamed.end, streamed.verdict.fired) == (whole.end, whole.verdict.fired)
    if offset is not None:
        assert release.result is not None  # stopped while the text was being written
        assert len(so_far) < len(text)  # before its end
        assert "".join(sent) == text[: streamed.end] and streamed.end <= text.index(VIOLATION)


def test_a_piece_goes_out_as_soon_as_its_window_has_passed(policy):
    plan = ReleasePlan(chunk_chars=40, overlap_chars=20)
    sent: list[str] = []
    release = WindowedRelease(lambda w: Checker(policy).check(w, "output"), sent.append, plan)

    release.feed(FILLER[:30])
    assert sent == []  # no window has been written yet
    release.feed(FILLER[:90])

    assert sent and len("".join(sent)) <= 90 - 20  # the last overlap_chars are held back
    assert release.result is None
