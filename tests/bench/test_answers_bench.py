"""The answer benchmark's question set and scoring, without a model."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.answers_data import (
    declined,
    exact_match,
    load_questions,
    normalize,
    subsample,
    token_f1,
)
from bench.answers_report import aggregate, markdown_table
from bench.answers_retrieval import calibrate_threshold

CORPUS = Path(__file__).resolve().parents[2] / "examples" / "corpus"


def test_the_set_has_150_answerable_and_20_unanswerable_questions_over_the_corpus() -> None:
    questions = load_questions()
    answerable = [q for q in questions if q.answerable]

    assert len(answerable) >= 150
    assert len(questions) - len(answerable) >= 20
    for q in answerable:  # every gold answer is written in its article
        article = normalize((CORPUS / q.article).read_text("utf-8"))
        assert any(normalize(g) in article for g in q.answers), q.id


def test_matching_ignores_case_punctuation_and_digit_groups() -> None:
    assert normalize("About 7,300 Tonnes!") == "about 7300 tonnes"
    assert exact_match("It was -89.2°C.", ["−89.2 °C"]) and normalize("Émile") == "emile"
    assert exact_match("It landed on July 20th, 1969.", ["20 July 1969"])
    assert exact_match("It landed on 20 July 1969 [1].", ["20 July 1969"])
    assert not exact_match("It landed on 120 July 1969.", ["20 July 1969"])
    assert token_f1("Gustave Eiffel", ["Gustave Eiffel"]) == 1.0
    assert 0 < token_f1("designed by Eiffel's company", ["Gustave Eiffel"]) < 1


def test_declines_are_recognised() -> None:
    assert declined("The sources I have do not say.")
    assert declined("I don't know; the sources do not mention it.")
    assert not declined("It was completed in 1889 [1].")


def test_aggregate_counts_scores_citations_claims_and_declines() -> None:
    questions = {q.id: q for q in load_questions()}
    rows = [
        (questions["apollo-1"], _row("It landed on 20 July 1969 [1].", ["On 20 July 1969"], 1, 0)),
        (questions["eiffel-1"], _row("It opened in 1887 [1].", ["built 1887"], 1, 1)),
        (questions["none-11"], _row("The sources I have do not say.", [], 0, 0)),
    ]

    result = aggregate(rows)

    assert result["answer_score"] == pytest.approx(0.5)
    assert result["citation_accuracy"] == pytest.approx(0.5)
    assert result["unsupported_claim_rate"] == pytest.approx(0.5)
    assert result["declined_unanswerable"] == 1.0
    assert result["n"] == 3
    assert "| x | on | 3 | 0.50 |" in markdown_table({"models": {"x": {"checked": result}}})


def _row(answer: str, cited: list[str], claims: int, unsupported: int) -> dict:
    return {
        "answer": answer,
        "outcome": "answered",
        "kind": "drafted",
        "cited_texts": cited,
        "claims": claims,
        "unsupported": unsupported,
        "seconds": 1.0,
    }


def test_subsets_keep_the_readme_questions() -> None:
    chosen = {q.id for q in subsample(load_questions(), 20)}

    assert {"apollo-1", "eiffel-1", "penicillin-1"} <= chosen
    assert any(i.startswith("none-") for i in chosen)


def test_the_threshold_keeps_the_answerable_questions() -> None:
    questions = load_questions()
    scores = [0.6 if q.answerable else 0.2 for q in questions]

    calibrated = calibrate_threshold(questions, scores)

    assert calibrated["answerable_kept"] == 1.0
    assert calibrated["unanswerable_turned_away"] == 1.0


def test_a_run_records_each_reply_and_continues_where_it_stopped(tmp_path, monkeypatch) -> None:
    import bench.answers as runner
    from ponder.agents.models.testing import FunctionChatModel
    from ponder.constitution import default_policy_path, load_policy
    from ponder.graphs import build_assistant
    from ponder.graphs.settings import Settings
    from ponder.knowledge import ingest
    from ponder.knowledge.testing import FakeKnowledgeStore, HashingEmbedder

    store = FakeKnowledgeStore(HashingEmbedder())
    ingest(CORPUS, store)
    built: list[str] = []

    def fake_assistant(model, config, data_dir, store, thresholds):
        built.append(config)
        write = FunctionChatModel(lambda m, n, s: ["It was completed in 1889 [1]."] * n)
        settings = Settings(
            data_dir=data_dir, classifier=False, answers={"claim_check": config == "checked"}
        )
        return build_assistant(
            settings, language_model=write, policy=load_policy(default_policy_path()), store=store
        )

    monkeypatch.setattr(runner, "_assistant", fake_assistant)
    monkeypatch.setattr(runner, "RECORDS", tmp_path)
    chosen = [q for q in load_questions() if q.id in ("eiffel-1", "apollo-1", "none-12")]

    rows = runner.run_model("fake", "checked", chosen, store, fresh=True)
    again = runner.run_model("fake", "checked", chosen, store, fresh=False)

    assert [r["id"] for r in rows] == ["apollo-1", "eiffel-1", "none-12"]
    assert again == rows and built == ["checked"]  # the second run asked nothing
    by_id = {r["id"]: r for r in rows}
    assert "1889" in by_id["eiffel-1"]["answer"] and by_id["eiffel-1"]["cited_texts"]
    assert declined(by_id["none-12"]["answer"])  # Don Quixote: the corpus names no such book
    assert (tmp_path / "fake-checked.jsonl").read_text().count("\n") == 3
