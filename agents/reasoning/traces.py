"""Search traces: the hidden record of one search, for developers and reward models.

A trace is a JSON-compatible dict holding the question, the chosen chain, every other
finished chain and the whole tree with each node's value and, for abandoned nodes,
the reason. :class:`~ponder.agents.reasoning.hidden.HiddenChain` wraps it in a
request's state; trace files (JSONL, one search per line) keep it as training data
for a process reward model.
"""

from __future__ import annotations

from typing import Any

from ponder.agents.reasoning.types import SearchResult

__all__ = ["TRACE_SCHEMA", "build_trace", "chain_texts"]

TRACE_SCHEMA = "ponder.reasoning.trace/1"
"""Names the layout of a trace; bump it when a field changes meaning."""


def chain_texts(result: SearchResult) -> list[str]:
    """The texts of the chains a search produced: the chosen one first.

    Args:
        result: A finished search.

    Returns:
        The chosen chain (or, without an answer, the furthest unfinished one), then
        every other chain that reached an answer, in the order they were found.
        Each text has one step per line.
    """
    tree = result.tree
    chains = ["\n".join(step.text for step in result.best_path)] if result.best_path else []
    for node in tree.terminals():
        if node.id != result.best_node:
            chains.append(tree.state(node.id).chain_text)
    return chains


def build_trace(question: str, result: SearchResult) -> dict[str, Any]:
    """The hidden trace of one search.

    Args:
        question: The question searched.
        result: What the search returned.

    Returns:
        A JSON-compatible dict with ``chains`` (see :func:`chain_texts`),
        ``reasoning_tokens``, ``algorithm``, ``tree`` and the result's other fields.

    Raises:
        ValueError: If ``result`` was searched for a different question.
    """
    if result.tree.question != question:
        raise ValueError("the search result belongs to a different question")
    return {
        "schema": TRACE_SCHEMA,
        "question": question,
        "algorithm": result.algorithm,
        "answer": result.answer,
        "score": result.score,
        "reasoning_tokens": result.tokens,
        "expansions": result.expansions,
        "stop_reason": result.stop_reason,
        "chains": chain_texts(result),
        "best_node": result.best_node,
        "tree": result.tree.to_dict(),
    }
