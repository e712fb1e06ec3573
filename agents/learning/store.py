"""A collection on disk: trees as traces, node features beside them, and how they were made.

A collection folder holds

- ``manifest.json``: the policy (name and SHA-256), prompt digest, step format, layers
  and tree shape it was collected with; a run that continues a folder must agree;
- ``traces.jsonl``: one trace per item (schema ``ponder.reasoning.trace/2``, every
  finished leaf rewarded by the verifier);
- ``features/ITEM.npz``: the features of the item's scored nodes (``node_ids``,
  ``hidden`` as float16, ``scalars``).

An item is written features first (atomically), then its trace line (one ``write``,
synced), so an item is done exactly when its trace line exists: a stopped collection
continues with the first item that has none, and a half-written item is redone.

:func:`labelled_set` joins the two into training rows: each trainable node's features
with its Monte-Carlo value (:mod:`~ponder.agents.learning.labels`) and the sibling
preference pairs. Items are split into ``train`` and ``dev`` by a hash of their id, so
the split never depends on the order or number of items collected.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from ponder.agents.core.errors import ConfigError
from ponder.agents.learning.features import FeatureRows
from ponder.agents.learning.labels import monte_carlo_values, preference_pairs, trainable
from ponder.agents.reasoning.traces import Trace, append_traces, read_traces

__all__ = [
    "COLLECTION_FORMAT",
    "CollectionManifest",
    "CollectionStore",
    "LabelledSet",
    "Split",
    "labelled_set",
    "split_of",
]

COLLECTION_FORMAT: Final = "ponder.learning.collection/1"
Split = Literal["train", "dev"]


class CollectionManifest(BaseModel):
    """How a collection was made; a continued run must make it the same way."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["ponder.learning.collection/1"] = COLLECTION_FORMAT
    policy: str
    policy_sha256: str
    step_format: str
    prompt_sha256: str
    layers: list[int]
    scalars: list[str]
    widths: list[int]
    max_step_tokens: int
    max_depth: int
    temperature: float
    seed: int
    dtype: str | None = None
    """The precision the policy ran in (``float32``, ``float32+bfloat16``, ...): hidden
    states read in another precision are other features, so a collection continues only
    in its own. None: not recorded."""


class CollectionStore:
    """One collection folder (see the module docstring).

    Args:
        folder: The folder; it must hold a manifest (use :meth:`create` for a new one).
    """

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        path = self.folder / "manifest.json"
        if not path.is_file():
            raise ConfigError(f"{self.folder} is not a collection (no manifest.json)")
        try:
            self.manifest = CollectionManifest.model_validate_json(path.read_text())
        except ValidationError as error:
            problem = error.errors()[0]
            field = ".".join(str(part) for part in problem["loc"])
            raise ConfigError(f"{path}: field {field!r}: {problem['msg']}") from None

    @classmethod
    def create(
        cls, folder: str | os.PathLike[str], manifest: CollectionManifest, *, fresh: bool = False
    ) -> CollectionStore:
        """Open a collection to add to: new, continued, or (``fresh``) started over.

        Raises:
            ConfigError: If the folder holds a collection made another way and ``fresh``
                is not set; the message names the fields that differ.
        """
        root = Path(folder)
        path = root / "manifest.json"
        if fresh and root.exists():
            (root / "traces.jsonl").unlink(missing_ok=True)
            for file in (root / "features").glob("*.npz"):
                file.unlink()
            path.unlink(missing_ok=True)
        if path.is_file():
            store = cls(root)
            theirs, mine = store.manifest.model_dump(), manifest.model_dump()
            differs = sorted(key for key in mine if theirs.get(key) != mine[key])
            if differs:
                shown = ", ".join(
                    f"{key}: {theirs.get(key)!r} there, {mine[key]!r} now" for key in differs
                )
                raise ConfigError(
                    f"{root} holds a collection made another way ({shown}); "
                    "continue it with the same options, pass --fresh, or choose another --out"
                )
            return store
        (root / "features").mkdir(parents=True, exist_ok=True)
        staging = root / ".manifest.json.tmp"
        staging.write_text(manifest.model_dump_json(indent=2))
        os.replace(staging, path)
        return cls(root)

    @property
    def traces_path(self) -> Path:
        """The trace file."""
        return self.folder / "traces.jsonl"

    def features_path(self, question_id: str) -> Path:
        """Where an item's features live."""
        return self.folder / "features" / f"{_file_name(question_id)}.npz"

    def done_ids(self) -> set[str]:
        """The ids of the items whose trace line is written."""
        return {trace.question_id or "" for trace in self.traces()}

    def traces(self) -> Iterator[Trace]:
        """Every item's trace, in the order written."""
        if self.traces_path.is_file():
            yield from read_traces(self.traces_path)

    def write(self, trace: Trace, node_ids: Sequence[int], rows: FeatureRows) -> None:
        """Store one item: its features, then its trace line.

        Raises:
            ValueError: If the trace has no ``question_id`` or the rows do not match the
                node ids.
        """
        if not trace.question_id:
            raise ValueError("a collected trace needs a question_id")
        if len(node_ids) != len(rows):
            raise ValueError(f"{len(node_ids)} node ids for {len(rows)} feature rows")
        target = self.features_path(trace.question_id)
        staging = target.with_name(f".{target.name}.tmp.npz")
        np.savez(
            staging,
            node_ids=np.asarray(node_ids, dtype=np.int32),
            hidden=rows.hidden.astype(np.float16),
            scalars=rows.scalars.astype(np.float32),
        )
        os.replace(staging, target)
        append_traces(self.traces_path, [trace])

    def features(self, question_id: str) -> tuple[list[int], FeatureRows]:
        """An item's node ids and their feature rows.

        Raises:
            ConfigError: If the item's features file is missing.
        """
        path = self.features_path(question_id)
        if not path.is_file():
            raise ConfigError(f"{path} is missing: the collection is damaged; collect again")
        with np.load(path, allow_pickle=False) as data:
            rows = FeatureRows(
                hidden=data["hidden"].astype(np.float32), scalars=data["scalars"].astype(np.float32)
            )
            return [int(x) for x in data["node_ids"]], rows


def _file_name(question_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "__", question_id)


def split_of(question_id: str, dev_share: float = 0.2) -> Split:
    """The split an item belongs to, by a hash of its id (stable across runs)."""
    bucket = int(hashlib.sha256(question_id.encode()).hexdigest()[:8], 16) % 1000
    return "dev" if bucket < dev_share * 1000 else "train"


@dataclass(frozen=True, eq=False)
class LabelledSet:
    """Training rows from collections: features, targets, groups and pairs."""

    rows: FeatureRows
    """Every trainable node's features."""
    values: np.ndarray
    """``(n,)`` Monte-Carlo values, the pointwise targets."""
    groups: np.ndarray
    """``(n,)`` the index of each row's item in ``items``: folds never split an item."""
    pairs: np.ndarray
    """``(m, 2)`` row indices ``(better, worse)`` of sibling preference pairs."""
    items: list[str]
    """The items' ids."""
    families: list[str]
    """Each item's family."""

    def take_items(self, chosen: np.ndarray) -> LabelledSet:
        """The rows and pairs of the chosen item indices only."""
        keep = np.isin(self.groups, chosen)
        index = np.flatnonzero(keep)
        remap = -np.ones(len(self.values), dtype=np.int64)
        remap[index] = np.arange(len(index))
        pairs = remap[self.pairs] if len(self.pairs) else self.pairs
        pairs = pairs[(pairs >= 0).all(axis=1)] if len(pairs) else pairs.reshape(0, 2)
        return LabelledSet(
            rows=self.rows.take(index),
            values=self.values[index],
            groups=self.groups[index],
            pairs=pairs,
            items=self.items,
            families=self.families,
        )

    def summary(self) -> dict[str, Any]:
        """Counts for reports."""
        return {
            "items": len(np.unique(self.groups)),
            "rows": len(self.values),
            "pairs": len(self.pairs),
            "mean_value": round(float(self.values.mean()), 4) if len(self.values) else None,
            "families": sorted(set(self.families)),
        }


def labelled_set(
    stores: Sequence[CollectionStore], split: Split | None, *, dev_share: float = 0.2
) -> LabelledSet:
    """Training rows of the items of ``split`` (None: all) in ``stores``.

    Raises:
        ConfigError: If the stores were collected with different policies, prompts or
            layers (their features cannot be mixed), or hold no rows.
    """
    _check_same(stores)
    parts: list[FeatureRows] = []
    values: list[float] = []
    groups: list[int] = []
    pairs: list[tuple[int, int]] = []
    items: list[str] = []
    families: list[str] = []
    for store in stores:
        for trace in store.traces():
            qid = trace.question_id or ""
            if split is not None and split_of(qid, dev_share) != split:
                continue
            node_ids, rows = store.features(qid)
            labels = monte_carlo_values(trace)
            nodes = {node.id: node for node in trace.nodes}
            keep = [i for i, n in enumerate(node_ids) if n in labels and trainable(nodes[n])]
            base = len(values)
            row_of = {node_ids[i]: base + j for j, i in enumerate(keep)}
            parts.append(rows.take(keep))
            values += [labels[node_ids[i]].value for i in keep]
            groups += [len(items)] * len(keep)
            pairs += [
                (row_of[p.better], row_of[p.worse])
                for p in preference_pairs(trace, labels)
                if p.better in row_of and p.worse in row_of
            ]
            items.append(qid)
            families.append(trace.family or "")
    if not values:
        raise ConfigError(
            f"no training rows in {', '.join(str(s.folder) for s in stores)} for split {split}"
        )
    return LabelledSet(
        rows=FeatureRows.concat(parts),
        values=np.asarray(values, dtype=np.float32),
        groups=np.asarray(groups, dtype=np.int64),
        pairs=np.asarray(pairs, dtype=np.int64).reshape(-1, 2),
        items=items,
        families=families,
    )


def _check_same(stores: Sequence[CollectionStore]) -> None:
    if not stores:
        raise ConfigError("no collections given")
    fields = ("policy_sha256", "prompt_sha256", "layers", "scalars", "step_format")
    first = stores[0].manifest
    for store in stores[1:]:
        for name in fields:
            if getattr(store.manifest, name) != getattr(first, name):
                raise ConfigError(
                    f"{store.folder} and {stores[0].folder} differ in {name}: "
                    "their features cannot train one head"
                )


def manifest_json(store: CollectionStore) -> dict[str, Any]:
    """The manifest as a dict, for reports."""
    return dict(json.loads(store.manifest.model_dump_json()))
