"""Hybrid retrieval: lexical matching (BM25) beside the dense embeddings, fused by rank.

A small embedding model ranks by topic; a question that names a rare word ("Runnymede",
"RuBisCO", "Selective Availability") is matched best by the word itself. :func:`hybrid_query`
asks any :class:`~ponder.knowledge.store.KnowledgeStore` for a pool of chunks by meaning,
ranks the same pool with BM25 (the ``bm25s`` library) over crude word stems, and fuses
the two rankings by reciprocal rank (Cormack et al., 2009). The evidence keeps its
cosine similarity as ``score``, so relevance thresholds mean what they meant before.

Working on the dense pool keeps the store protocol unchanged (the same code runs on
embedded Chroma, a Chroma server and the fake); a chunk outside the pool cannot be found
by words alone. ``bench/answers.py`` measures recall@k with and without it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from ponder.knowledge.store import Evidence, KnowledgeStore, Where, passage_text

__all__ = ["RRF_K", "bm25_order", "hybrid_query", "reciprocal_rank_fusion", "terms"]

RRF_K = 60
"""The constant of reciprocal rank fusion: a rank ``r`` counts ``1 / (RRF_K + r)``."""

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?")
_STOPWORDS = frozenset(
    """a an and are as at be by did do does for from had has have he her his how in is it
    its of on or she that the their them they this to was were what when where which who
    whom why will with""".split()  # noqa: SIM905
)


def terms(text: str) -> list[str]:
    """The BM25 terms of ``text``: lower-cased words without function words, a common
    suffix dropped ("landed", "landing" -> "land")."""
    found: list[str] = []
    for word in _WORD.findall(text.lower()):
        word = re.sub(r"['’]s$", "", word)
        if word in _STOPWORDS:
            continue
        for suffix in ("ings", "ing", "ed", "es", "s"):
            if suffix == "es" and not word.endswith(("sses", "shes", "ches", "xes", "zes")):
                continue  # "rises" is "rise" + "s"; "matches" is "match" + "es"
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                word = word[: -len(suffix)]
                break
        found.append(word)
    return found


def bm25_order(query: str, texts: Sequence[str]) -> list[int]:
    """Indices of ``texts`` ranked by BM25 against ``query``, best first; texts that share
    no term with the query are left out.

    Args:
        query: The question.
        texts: The candidate texts.

    Returns:
        Indices into ``texts``.
    """
    import bm25s  # here, not at import time: the fake store's users never need it

    # bm25s sets its own logger to DEBUG on import, so every query printed "Building index
    # from tokens" under any handler that shows DEBUG (the CLI's); its warnings still show.
    logging.getLogger("bm25s").setLevel(logging.WARNING)

    asked = terms(query)
    if not texts or not asked:
        return []
    index = bm25s.BM25()
    index.index([terms(t) or ["\u2205"] for t in texts], show_progress=False)
    scores = index.get_scores(asked)
    ranked = sorted(range(len(texts)), key=lambda i: (-float(scores[i]), i))
    return [i for i in ranked if scores[i] > 0]


def reciprocal_rank_fusion(rankings: Sequence[Sequence[str]], k: int = RRF_K) -> list[str]:
    """Fuse rankings of ids: each id scores the sum of ``1 / (k + rank)`` over the
    rankings that hold it (ranks from 1); ties keep first-seen order.

    Args:
        rankings: Each a list of ids, best first.
        k: The fusion constant.

    Returns:
        Every id, best first.
    """
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, id_ in enumerate(ranking, start=1):
            scores[id_] = scores.get(id_, 0.0) + 1.0 / (k + rank)
    return sorted(scores, key=lambda id_: -scores[id_])


def hybrid_query(
    store: KnowledgeStore,
    text: str,
    k: int = 4,
    *,
    pool: int = 30,
    where: Where | None = None,
) -> list[Evidence]:
    """The ``k`` chunks best for ``text`` by dense and lexical rank fused.

    Args:
        store: Any knowledge store.
        text: The question.
        k: How many chunks.
        pool: How many chunks the dense search proposes for fusion.
        where: A metadata filter, as for ``store.query``.

    Returns:
        Up to ``k`` chunks, best fused rank first, each scored by its cosine similarity.

    Raises:
        KnowledgeError: The store is empty.
        ValueError: ``k < 1``.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    dense = store.query(text, k=max(k, pool), where=where)
    passages = [passage_text(e.title, e.text) for e in dense]
    lexical = [dense[i].id for i in bm25_order(text, passages)]
    by_id = {e.id: e for e in dense}
    fused = reciprocal_rank_fusion([[e.id for e in dense], lexical])
    return [by_id[id_] for id_ in fused[:k]]
