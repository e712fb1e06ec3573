"""One picture of the graph: the committed diagrams are the ones LangGraph draws from it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ponder.graphs.machine import NODES, draw_mermaid

REPO = Path(__file__).resolve().parents[2]
PRINT = 'python -c "from ponder.graphs.machine import draw_mermaid; print(draw_mermaid())"'


def _mermaid_blocks(path: Path) -> list[str]:
    return re.findall(r"```mermaid\n(.*?)```", path.read_text(encoding="utf-8"), re.DOTALL)


@pytest.mark.parametrize("doc", ["docs/architecture.md", "README.md"])
def test_the_committed_diagram_is_the_graphs_own(doc: str) -> None:
    blocks = _mermaid_blocks(REPO / doc)

    assert len(blocks) == 1, f"{doc} should show the graph once, in a ```mermaid block"
    assert blocks[0].strip() == draw_mermaid().strip(), (
        f"{doc} shows an old picture of the graph; replace its mermaid block with "
        f"the output of: .venv/bin/{PRINT}"
    )


def test_the_diagram_shows_every_node_and_the_review() -> None:
    drawn = draw_mermaid()

    assert all(f"\t{node}({node})" in drawn for node in NODES)
    assert "output_check -. &nbsp;escalated&nbsp; .-> review;" in drawn
