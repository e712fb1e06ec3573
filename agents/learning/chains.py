"""The policy's own verified chains: what expert iteration fine-tunes on.

ReST-EM and STaR improve a policy on the chains it wrote itself that a verifier
accepted. From each collected tree, :func:`verified_chains` keeps the finished chains
with full reward, drops repeats, and prefers per item the shortest (fewest generated
tokens) and then the most valuable (mean Monte-Carlo value along the path: a chain
whose steps often lead to right answers, not one that stumbled onto one), keeping at
most ``per_item`` so easy items do not drown the rest.

A chain keeps the text the search showed the policy, tool echoes included; the
fine-tuning masks what the tools wrote (:func:`loss_spans`), so the policy learns the
steps it writes, never the calculator's results.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ponder.agents.learning.labels import monte_carlo_values
from ponder.agents.reasoning.traces import Trace

__all__ = ["ECHO_MARK", "VerifiedChain", "loss_spans", "verified_chains"]

ECHO_MARK = "  # "
"""What separates a program line from the value the interpreter echoed after it."""


@dataclass(frozen=True, kw_only=True)
class VerifiedChain:
    """A finished chain whose answer the verifier accepted."""

    item: str
    """The item's id."""
    family: str
    """Its family."""
    question: str
    """The question."""
    steps: tuple[str, ...]
    """The steps' texts, as the chain shows them."""
    step_format: str
    """``prose`` or ``program``."""
    tokens: int
    """Tokens the policy generated for it."""
    value: float
    """Mean Monte-Carlo value of its steps."""

    @property
    def text(self) -> str:
        """The chain as the assistant's reply: one step per line."""
        return "\n".join(self.steps)


def verified_chains(
    traces: Iterable[Trace], *, per_item: int = 2, min_reward: float = 1.0
) -> list[VerifiedChain]:
    """The chains to fine-tune on, a few per item.

    Args:
        traces: Verified collection traces.
        per_item: Most chains kept per item.
        min_reward: The least reward of a kept chain (1.0: only fully right answers).

    Returns:
        The kept chains, item by item, best first within an item.
    """
    kept: list[VerifiedChain] = []
    for trace in traces:
        labels = monte_carlo_values(trace)
        nodes = {node.id: node for node in trace.nodes}
        found: dict[str, VerifiedChain] = {}
        for leaf in trace.nodes:
            if not leaf.finished or not leaf.valid or (leaf.reward or 0.0) < min_reward:
                continue
            if leaf.id not in labels:
                continue  # a copy of a sibling, left out of the labels: its chain is there
            path = []
            current = leaf.id
            while nodes[current].parent is not None:
                path.append(nodes[current])
                current = nodes[current].parent or 0
            path.reverse()
            chain = VerifiedChain(
                item=trace.question_id or "",
                family=trace.family or "",
                question=trace.question,
                steps=tuple(node.text for node in path),
                step_format=trace.step_format or "prose",
                tokens=sum(node.tokens for node in path),
                value=sum(labels[node.id].value for node in path) / len(path),
            )
            found.setdefault(chain.text, chain)
        ranked = sorted(found.values(), key=lambda chain: (chain.tokens, -chain.value))
        kept += ranked[:per_item]
    return kept


def loss_spans(chain: VerifiedChain) -> list[tuple[int, int]]:
    """Character spans of :attr:`VerifiedChain.text` the policy wrote itself.

    In the program format, each line's echoed value (after :data:`ECHO_MARK`) was
    written by the interpreter and is left out; prose steps count whole, with the line
    break that ended each (the model wrote it to end the step).

    Returns:
        ``(start, end)`` spans, in order.
    """
    spans: list[tuple[int, int]] = []
    offset = 0
    for index, step in enumerate(chain.steps):
        last = index == len(chain.steps) - 1
        if chain.step_format == "program":
            line_start = offset
            for line in step.split("\n"):
                code = line.split(ECHO_MARK, 1)[0].rstrip()
                if code:
                    spans.append((line_start, line_start + len(code)))
                line_start += len(line) + 1
        else:
            spans.append((offset, offset + len(step) + (0 if last else 1)))
        offset += len(step) + 1
    return spans
