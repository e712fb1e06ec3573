from __future__ import annotations

from itertools import pairwise

import pytest

from ponder.knowledge import chunk_text

PROSE = (
    "# Setup\n\n"
    "Install the package. Then run the command! Does it work? It should.\n\n"
    + "The second paragraph talks at length about configuration files and flags. " * 12
    + "\n\nA closing paragraph."
)


def test_empty_and_blank_text_have_no_chunks() -> None:
    assert chunk_text("") == []
    assert chunk_text(" \n\n\t ") == []


def test_short_text_is_one_chunk_without_surrounding_whitespace() -> None:
    chunks = chunk_text("\n  Hello, world.  \n")

    assert len(chunks) == 1
    assert (chunks[0].index, chunks[0].text, chunks[0].start, chunks[0].end) == (
        0,
        "Hello, world.",
        3,
        16,
    )


@pytest.mark.parametrize(("max_chars", "overlap"), [(80, 0), (120, 30), (200, 60), (400, 120)])
def test_chunks_are_bounded_spans_covering_the_text(max_chars: int, overlap: int) -> None:
    chunks = chunk_text(PROSE, max_chars, overlap)

    assert [c.index for c in chunks] == list(range(len(chunks)))
    for chunk in chunks:
        assert PROSE[chunk.start : chunk.end] == chunk.text
        assert 0 < len(chunk.text) <= max_chars
        assert chunk.text == chunk.text.strip()
    for before, after in pairwise(chunks):
        assert before.start < after.start
        assert not PROSE[before.end : after.start].strip()  # nothing but whitespace skipped
    assert chunks[-1].end == len(PROSE)


def test_chunks_prefer_paragraph_then_sentence_boundaries() -> None:
    chunks = chunk_text(PROSE, max_chars=120, overlap=0)

    assert chunks[0].text == (
        "# Setup\n\nInstall the package. Then run the command! Does it work? It should."
    )
    assert all(c.text.endswith((".", "!", "?")) for c in chunks)


def test_overlap_repeats_the_end_of_the_previous_chunk_from_a_word_start() -> None:
    chunks = chunk_text(PROSE, max_chars=150, overlap=40)

    for before, after in pairwise(chunks):
        assert after.start < before.end  # overlaps
        assert before.end - after.start <= 40
        assert PROSE[after.start - 1].isspace()  # starts at a word


def test_one_huge_paragraph_without_spaces_is_cut_hard_with_overlap() -> None:
    text = "".join(chr(ord("a") + i % 26) for i in range(1000))

    chunks = chunk_text(text, max_chars=300, overlap=50)

    assert [(c.start, c.end) for c in chunks] == [(0, 300), (250, 550), (500, 800), (750, 1000)]
    assert all(text[c.start : c.end] == c.text for c in chunks)


def test_a_word_longer_than_the_overlap_gets_no_overlap() -> None:
    text = "alpha " + "b" * 30 + " gamma delta"

    chunks = chunk_text(text, max_chars=37, overlap=4)

    assert [c.text for c in chunks] == ["alpha " + "b" * 30, "gamma delta"]


@pytest.mark.parametrize(
    ("max_chars", "overlap", "message"),
    [
        (100, 100, "overlap"),
        (100, 150, "overlap"),
        (0, 0, "max_chars"),
        (100, -1, "overlap"),
    ],
)
def test_invalid_settings_raise(max_chars: int, overlap: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        chunk_text("text", max_chars=max_chars, overlap=overlap)
