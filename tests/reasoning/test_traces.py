"""Trace schema v2: every node with what a value model learns from, written and read back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from reasoning_fakes import QUESTION

from ponder.agents.reasoning import (
    Budget,
    CalculationScorer,
    SearchState,
    Step,
    beam_search,
    parse_step,
)
from ponder.agents.reasoning.traces import (
    TRACE_SCHEMA,
    TraceError,
    append_traces,
    read_traces,
    trace_of,
)
from ponder.agents.reasoning.types import LogprobSummary

TREE = {
    (): ["Product: <calc>6*7</calc> = 42", "Sum: <calc>6+7</calc> = 13"],
    ("Product: <calc>6*7</calc> = 42",): ["Answer: 42"],
    ("Sum: <calc>6+7</calc> = 13",): ["Answer: 13"],
}


class _Proposer:
    """Plays TREE, reporting log-probabilities like a model that returns them."""

    max_step_tokens = 10

    def propose(self, state: SearchState, k: int, max_tokens: int | None = None) -> list[Step]:
        texts = TREE[tuple(s.text for s in state.steps)][:k]
        summary = LogprobSummary.of([-0.25, -0.75])
        return [parse_step(t, tokens=len(t.split()), logprobs=summary) for t in texts]


def _trace():
    # From the bare root, so the tree's shape is the planted one.
    result = beam_search(
        QUESTION, _Proposer(), CalculationScorer(), Budget(), beam_width=2, greedy_first=False
    )
    return trace_of(
        result,
        verify=lambda answer: 1.0 if answer == "42" else 0.0,
        question_id="toy/0",
        family="toy",
        step_format="prose",
        model="fake",
    )


def test_every_node_carries_what_a_value_model_needs() -> None:
    trace = _trace()

    assert (trace.question_id, trace.family, trace.answer, trace.reward) == (
        "toy/0",
        "toy",
        "42",
        1.0,
    )
    assert [n.parent for n in trace.nodes] == [None, 0, 0, 1, 2]
    finished = [n for n in trace.nodes if n.finished]
    assert [(n.answer, n.reward, n.depth) for n in finished] == [("42", 1.0, 2), ("13", 0.0, 2)]
    assert all(n.value is not None for n in trace.nodes[1:])
    first = trace.nodes[1]
    assert (first.text, first.tokens) == ("Product: <calc>6*7</calc> = 42", 4)
    assert first.logprobs is not None and first.logprobs.mean == pytest.approx(-0.5)
    assert trace.nodes[0].text == "" and trace.nodes[0].reward is None
    assert trace.chains[0] == "Product: <calc>6*7</calc> = 42\nAnswer: 42"


def test_a_trace_file_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "traces" / "search.jsonl"
    trace = _trace()

    append_traces(path, [trace, trace])
    back = list(read_traces(path))

    assert len(back) == 2
    assert back[0].written_at is not None
    assert back[0].model_copy(update={"written_at": None}) == trace
    assert json.loads(path.read_text().splitlines()[0])["schema"] == TRACE_SCHEMA


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: d.update(schema="ponder.reasoning.trace/1"),
            "schema 'ponder.reasoning.trace/1'",
        ),
        (lambda d: d.update(colour="blue"), "field 'colour'"),
        (lambda d: d["nodes"][1].pop("tokens"), "field 'nodes.1.tokens'"),
    ],
)
def test_a_line_of_another_schema_or_shape_is_refused_with_file_and_line(
    tmp_path: Path, change, message: str
) -> None:
    data = _trace().to_json()
    change(data)
    path = tmp_path / "bad.jsonl"
    path.write_text("\n" + json.dumps(data) + "\n")

    with pytest.raises(TraceError, match=f"bad.jsonl:2: {message}"):
        list(read_traces(path))
