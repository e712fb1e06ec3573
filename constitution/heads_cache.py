"""Learned heads on disk: trained once per policy content, then loaded in milliseconds.

:func:`trained_heads` is the one entry point. It hashes what training reads
(:func:`training_hash`): the examples and their labels, the
development texts, the embedder's name and the training settings. Cached heads with that
hash are loaded; otherwise they are trained and written under
``<cache>/heads/<hash>.npz``. A change to a rule's patterns, wording or action leaves
the hash alone (the heads do not read them); adding, removing or relabelling an example
changes it.

Example embeddings are cached too, by embedder and text hash (``<cache>/vectors/``), so
retraining after one new example embeds one text, not the whole policy.

The cache folder is ``$PONDER_CACHE_DIR`` (default ``~/.cache/ponder``). Every write goes
to a temporary file that is then renamed, so a crash never leaves half a file; a file that
does not load is ignored and rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ponder.constitution.devset import DevSet
from ponder.constitution.heads import (
    DEFAULT_C,
    DEFAULT_CONFIDENT_RATE,
    DEFAULT_DEV_RATE,
    HEADS_FORMAT,
    CheckpointHead,
    Embed,
    Heads,
    Matrix,
    TrainingSet,
    dev_rate_for,
    fit_checkpoint,
    training_sets,
    with_background,
)
from ponder.constitution.heads_fit import KernelGate
from ponder.constitution.schema import Checkpoint, Policy

__all__ = ["VectorCache", "default_cache_dir", "trained_heads", "training_hash"]

logger = logging.getLogger(__name__)

_LOCK = threading.Lock()  # one training at a time per process: it is CPU-bound anyway


def default_cache_dir() -> Path:
    """The cache folder: ``$PONDER_CACHE_DIR``, else ``~/.cache/ponder``.

    Returns:
        The folder (not created).
    """
    return Path(os.environ.get("PONDER_CACHE_DIR") or Path.home() / ".cache" / "ponder")


class VectorCache:
    """Embeddings of texts by one embedder, kept in one ``.npz`` file.

    Args:
        folder: Where the file lives.
        embedder: The embedder's name (part of the file name).
        embed: Embeds texts the cache has not seen.
    """

    def __init__(self, folder: Path, embedder: str, embed: Embed) -> None:
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", embedder)[:80]
        self.path = folder / f"{slug}.npz"
        self._embed = embed
        self._vectors: dict[str, Matrix] | None = None

    def embed(self, texts: list[str]) -> Matrix:
        """Each text's vector, embedding (and storing) only the texts not seen before.

        Args:
            texts: The texts.

        Returns:
            Shape ``(texts, dim)``.
        """
        known = self._load()
        keys = [_text_key(text) for text in texts]
        missing = list(dict.fromkeys(t for t, k in zip(texts, keys, strict=True) if k not in known))
        if missing:
            fresh = self._embed(missing)
            for text, row in zip(missing, fresh, strict=True):
                known[_text_key(text)] = row
            self._save(known)
        if not texts:
            return np.zeros((0, 0))
        return np.vstack([known[key] for key in keys])

    def _load(self) -> dict[str, Matrix]:
        if self._vectors is None:
            self._vectors = {}
            if self.path.is_file():
                try:
                    with np.load(self.path) as stored:
                        keys, rows = stored["keys"], stored["vectors"]
                    self._vectors = {
                        str(k): r.astype(np.float64) for k, r in zip(keys, rows, strict=True)
                    }
                except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
                    logger.warning("ignoring unreadable vector cache %s: %s", self.path, exc)
        return self._vectors

    def _save(self, known: dict[str, Matrix]) -> None:
        keys = np.array(list(known))
        rows = np.vstack(list(known.values())).astype(np.float32)
        _write_npz(self.path, keys=keys, vectors=rows)


def training_hash(
    sets: dict[Checkpoint, TrainingSet], devset: DevSet, embedder: str, c: float, rates: str
) -> str:
    """A hash of everything training reads, for the on-disk cache.

    Args:
        sets: The training sets.
        devset: The development set.
        embedder: The embedder's name.
        c: The regularisation.
        rates: The threshold rates, as text.

    Returns:
        16 hex digits.
    """
    canonical = json.dumps(
        {
            "format": HEADS_FORMAT,
            "embedder": embedder,
            "c": c,
            "rates": rates,
            "dev": devset.version,
            "sets": {
                c: sorted(zip(s.texts, [r or "" for r in s.rules], strict=True))
                for c, s in sets.items()
            },
        },
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def trained_heads(
    policy: Policy,
    devset: DevSet,
    embed: Embed,
    embedder: str,
    *,
    cache_dir: Path | None = None,
    c: float = DEFAULT_C,
    dev_rate: float = DEFAULT_DEV_RATE,
    confident_rate: float = DEFAULT_CONFIDENT_RATE,
    background: DevSet | None = None,
) -> Heads:
    """The heads for ``policy``: from the cache when trained before, else trained now.

    Args:
        policy: The effective policy.
        devset: Chooses the thresholds.
        embed: Embeds texts as unit-length rows.
        embedder: The embedder's name, recorded and part of the cache key.
        cache_dir: The cache folder; ``None`` for :func:`default_cache_dir`.
        c: Inverse regularisation strength.
        dev_rate: Most share of development texts stopped at the gate's threshold (the
            ceiling of the rate chosen by cross-validation).
        confident_rate: Most share stopped above the uncertain band.
        background: Everyday texts added to the gate's compliant side.

    Returns:
        The heads (a checkpoint without enough examples has none).
    """
    sets = with_background(training_sets(policy), background)
    key = training_hash(sets, devset, embedder, c, f"{dev_rate}/{confident_rate}")
    folder = cache_dir if cache_dir is not None else default_cache_dir()
    path = folder / "heads" / f"{key}.npz"
    with _LOCK:
        cached = _read_heads(path, key, embedder)
        if cached is not None:
            return cached
        started = time.perf_counter()
        vectors = VectorCache(folder / "vectors", embedder, embed)
        by_checkpoint: dict[Checkpoint, CheckpointHead] = {}
        for checkpoint, data in sets.items():
            dev_texts = devset.texts(checkpoint)
            if not data.trainable or not dev_texts:
                continue
            by_checkpoint[checkpoint] = fit_checkpoint(
                data,
                vectors.embed(list(data.texts)),
                vectors.embed(dev_texts),
                c=c,
                dev_rate=dev_rate_for(checkpoint, dev_rate),
                confident_rate=min(confident_rate, dev_rate_for(checkpoint, dev_rate)),
            )
        heads = Heads(
            by_checkpoint=by_checkpoint,
            key=key,
            embedder=embedder,
            policy_version=policy.version,
            devset_version=devset.version,
        )
        _write_heads(path, heads)
        logger.info(
            "trained heads %s for policy %s in %.1f s (%s)",
            key,
            policy.version,
            time.perf_counter() - started,
            ", ".join(
                f"{c}: agreement threshold {h.threshold:.2f} at dev rate {h.dev_rate:.2f}"
                for c, h in by_checkpoint.items()
            ),
        )
        return heads


def _text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _write_heads(path: Path, heads: Heads) -> None:
    arrays: dict[str, np.ndarray] = {}
    meta: dict[str, object] = {
        "key": heads.key,
        "embedder": heads.embedder,
        "policy_version": heads.policy_version,
        "devset_version": heads.devset_version,
        "checkpoints": {},
    }
    for checkpoint, head in heads.by_checkpoint.items():
        meta["checkpoints"][checkpoint] = {  # type: ignore[index]
            "gate_bias": head.gate_kernel.bias,
            "gate_gamma": head.gate_kernel.gamma,
            "gate_scale": head.gate_kernel.scale,
            "gate_shift": head.gate_kernel.shift,
            "rule_ids": list(head.rule_ids),
            "threshold": head.threshold,
            "confident": head.confident,
            "dev_rate": head.dev_rate,
            "gate_weight": head.gate_weight,
        }
        arrays[f"{checkpoint}_gate_support"] = head.gate_kernel.support
        arrays[f"{checkpoint}_gate_dual"] = head.gate_kernel.dual
        arrays[f"{checkpoint}_names"] = head.name_weights
        arrays[f"{checkpoint}_name_bias"] = head.name_bias
        arrays[f"{checkpoint}_rules"] = head.rule_weights
        arrays[f"{checkpoint}_rule_bias"] = head.rule_bias
    arrays["meta"] = np.array(json.dumps(meta))
    _write_npz(path, **arrays)


def _read_heads(path: Path, key: str, embedder: str) -> Heads | None:
    if not path.is_file():
        return None
    try:
        with np.load(path) as stored:
            meta = json.loads(str(stored["meta"]))
            if meta["key"] != key or meta["embedder"] != embedder:
                logger.warning("heads file %s was trained on something else; retraining", path)
                return None
            by_checkpoint = {
                checkpoint: _stored_head(stored, checkpoint, fields)
                for checkpoint, fields in meta["checkpoints"].items()
            }
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        logger.warning("ignoring unreadable heads file %s: %s", path, exc)
        return None
    return Heads(
        by_checkpoint=by_checkpoint,
        key=key,
        embedder=embedder,
        policy_version=str(meta["policy_version"]),
        devset_version=str(meta["devset_version"]),
    )


def _stored_head(stored: Any, checkpoint: Checkpoint, fields: dict[str, Any]) -> CheckpointHead:
    """One checkpoint's heads from an open ``.npz`` file and its metadata fields."""

    def array(name: str) -> Matrix:
        values: Matrix = stored[f"{checkpoint}_{name}"].astype(np.float64)
        return values

    return CheckpointHead(
        checkpoint=checkpoint,
        gate_kernel=KernelGate(
            support=array("gate_support"),
            dual=array("gate_dual"),
            bias=float(fields["gate_bias"]),
            gamma=float(fields["gate_gamma"]),
            scale=float(fields["gate_scale"]),
            shift=float(fields["gate_shift"]),
        ),
        rule_ids=tuple(fields["rule_ids"]),
        name_weights=array("names"),
        name_bias=array("name_bias"),
        rule_weights=array("rules"),
        rule_bias=array("rule_bias"),
        threshold=float(fields["threshold"]),
        confident=float(fields["confident"]),
        dev_rate=float(fields["dev_rate"]),
        gate_weight=float(fields["gate_weight"]),
    )


def _write_npz(path: Path, **arrays: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            np.savez(file, allow_pickle=False, **arrays)  # numbers only, never objects
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
