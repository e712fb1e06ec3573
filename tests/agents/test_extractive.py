"""Extractive answers: which evidence sentence may answer a question."""


def test_a_sentence_about_another_numbered_thing_does_not_answer() -> None:
    from ponder.agents.extractive import _other_numbered

    question = "When did Apollo 11 land on the Moon?"
    assert _other_numbered(question, "The last landing was Apollo 17 in December 1972.")
    assert not _other_numbered(question, "Apollo 11 and Apollo 12 both landed in 1969.")
    assert not _other_numbered(question, "On 20 July 1969 Armstrong and Aldrin landed.")
