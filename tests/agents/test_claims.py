"""Claim checking: atoms in normal form, and claims held to the passages they cite."""

from __future__ import annotations

import pytest

from ponder.agents.atoms import DateValue, atoms_of, dates_in, numbers_in, split_sentences
from ponder.agents.claims import Source, check_claims
from ponder.knowledge.testing import HashingEmbedder

APOLLO = Source(
    number=1,
    title="The Apollo 11 Moon Landing",
    text=(
        "# The Apollo 11 Moon Landing\n\nApollo 11 was the first crewed mission to land on the "
        "Moon. It was launched on 16 July 1969.\n\nOn 20 July 1969 Armstrong and Aldrin landed "
        "the lunar module Eagle in the Sea of Tranquility. They collected about 21.5 kilograms "
        "of rock.\n\nThe crew splashed down in the Pacific Ocean on 24 July 1969."
    ),
)
EIFFEL = Source(
    number=1,
    title="The Eiffel Tower",
    text="When it was completed in 1889, the tower was about 300 metres tall.",
)


def test_dates_read_the_same_in_every_spelling() -> None:
    [(day_first, _)] = dates_in("on 20 July 1969")
    [(month_first, _)] = dates_in("on July 20th, 1969")
    [(month_only, _)] = dates_in("in September 1928")

    assert day_first == month_first == DateValue(year=1969, month=7, day=20)
    assert month_only == DateValue(year=1928, month=9, day=None)
    assert month_only.within(DateValue(year=1928, month=9, day=3))
    assert not day_first.within(DateValue(year=1969, month=7, day=24))


def test_numbers_have_one_normal_form() -> None:
    assert [v for _, v in numbers_in("2.5 million rivets, 2,500,000 of them")] == [
        "2500000",
        "2500000",
    ]
    assert [v for _, v in numbers_in("twelve astronauts")] == ["12"]


def test_atoms_name_what_a_claim_asserts() -> None:
    kinds = {(a.kind, a.text) for a in atoms_of('Fleming said "the mould" in 1928 at 300 metres.')}

    assert ("name", "Fleming") in kinds
    assert ("quote", "the mould") in kinds
    assert ("number", "1928") in kinds
    assert ("quantity", "300 metres") in kinds


def test_citation_markers_stay_with_their_sentence() -> None:
    assert split_sentences("It landed in 1969. [1] It was 1889 [2].") == [
        "It landed in 1969. [1]",
        "It was 1889 [2].",
    ]


def test_a_right_claim_is_supported() -> None:
    report = check_claims(
        "Armstrong and Aldrin landed the lunar module on 20 July 1969 [1].",
        [APOLLO],
        question="When did Apollo 11 land on the Moon?",
        encoder=HashingEmbedder(),
    )

    assert report.all_supported
    assert report.claims[0].passage is not None and "20 July 1969" in report.claims[0].passage


def test_a_date_from_another_event_is_not_support() -> None:
    # 24 July 1969 is in the article, but only in the splashdown sentence.
    report = check_claims(
        "Armstrong and Aldrin landed the lunar module on 24 July 1969 [1].",
        [APOLLO],
        question="When did Apollo 11 land on the Moon?",
        encoder=HashingEmbedder(),
    )

    assert not report.all_supported
    assert report.claims[0].missing == ()  # the date exists...
    assert report.claims[0].support < report.threshold  # ...but says something else


@pytest.mark.parametrize(
    ("answer", "missing"),
    [
        ("The tower was completed on 1st July 1889.", "1st July 1889"),  # an invented day
        ("It is currently 382.68 metres tall.", "382.68 metres"),  # an invented height
        ("It was designed by Gustave Eiffel in 1889.", "Gustave"),  # a name not in the source
    ],
)
def test_atoms_the_sources_lack_are_named(answer: str, missing: str) -> None:
    report = check_claims(answer, [EIFFEL], question="When was the Eiffel Tower completed?")

    assert not report.all_supported
    assert missing in report.unsupported_spans


def test_a_tool_result_supports_the_number_it_computed() -> None:
    tool = Source(number=None, title="", text="17 * 23 = 391")

    assert check_claims("17 * 23 = 391.", [tool]).all_supported
    assert not check_claims("17 * 23 = 381.", [tool]).all_supported


def test_a_claim_is_held_to_the_chunk_it_cites() -> None:
    other = Source(number=2, title="Other", text="Armstrong was born in 1930.")

    cited_wrong = check_claims("Armstrong was born in 1930 [1].", [APOLLO, other])
    cited_right = check_claims("Armstrong was born in 1930 [2].", [APOLLO, other])

    assert not cited_wrong.all_supported
    assert cited_right.all_supported


def test_a_sentence_of_another_topic_is_no_support_for_the_question_s_subject() -> None:
    antarctica = Source(
        number=1,
        title="Antarctica",
        text="The highest mountain is Mount Vinson, at about 4,892 metres.",
    )
    everest = Source(
        number=2,
        title="Mount Everest",
        text="Mount Everest is the highest mountain on Earth above sea level.",
    )
    question = "What is the highest mountain in Antarctica?"

    wrong = check_claims(
        "The highest mountain in Antarctica is Mount Everest.",
        [antarctica, everest],
        question=question,
        encoder=HashingEmbedder(),
    )
    right = check_claims(
        "The highest mountain in Antarctica is Mount Vinson.",
        [antarctica, everest],
        question=question,
        encoder=HashingEmbedder(),
    )

    assert not wrong.claims[0].supported and wrong.claims[0].passage is None
    assert right.all_supported and "Vinson" in (right.claims[0].passage or "")


def test_a_name_with_a_number_in_it_is_read_as_the_source_writes_it() -> None:
    black_holes = Source(
        number=1,
        title="Black Holes",
        text="Cygnus X-1, an X-ray source discovered in 1964, became the first object widely "
        "accepted as a black hole.",
    )
    quoted = "Cygnus X-1, an X-ray source discovered in 1964, became the first black hole [1]."

    report = check_claims(
        quoted,
        [black_holes],
        question="Which object became the first widely accepted black hole?",
        encoder=HashingEmbedder(),
    )

    assert [a.text for a in report.claims[0].atoms if a.kind == "name"] == [
        "Cygnus",
        "X-1",
        "X-ray",
    ]
    assert report.all_supported


def test_a_date_from_another_article_s_sentence_does_not_support_the_question_s_subject() -> None:
    reef = Source(
        number=1,
        title="The Great Barrier Reef",
        text="The reef was listed as a UNESCO World Heritage Site in 1981.",
    )
    wall = Source(
        number=2,
        title="The Great Wall of China",
        text="The Great Wall was listed as a UNESCO World Heritage Site in 1987.",
    )
    question = "When was the Great Barrier Reef listed as a UNESCO World Heritage Site?"

    def supported(answer: str) -> bool:
        report = check_claims(answer, [reef, wall], question=question, encoder=HashingEmbedder())
        return report.all_supported

    assert not supported(
        "The Great Barrier Reef was listed as a UNESCO World Heritage Site in 1987."
    )
    assert supported("The Great Barrier Reef was listed as a UNESCO World Heritage Site in 1981.")
