"""The value head: a small model on the policy's features, stored as one ``.npz`` file.

A head turns :class:`~ponder.agents.learning.features.FeatureRows` into values in
[0, 1]: the hidden states are standardized and projected onto their principal
components (fitted on the training rows), the scalars standardized, and a logistic
model or a one-hidden-layer MLP gives a logit, which a Platt calibration (fitted on a
development split) turns into the probability that the chain ends right. Inference is
numpy only.

The file records what the head was trained on: the policy's SHA-256 (base weights and
adapter), the layers read, the step format and the prompt's digest, the scalar names,
and the training report. :meth:`ValueHead.check_policy` refuses any other policy, since
hidden states of other weights mean nothing to it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ponder.agents.core.errors import ConfigError
from ponder.agents.learning.features import FeatureRows

__all__ = [
    "HEADS_DIR",
    "HEAD_FORMAT",
    "HeadError",
    "HeadKind",
    "HeadMeta",
    "HeadWeights",
    "Preprocess",
    "ValueHead",
    "blend_with_rules",
    "find_head",
]

HEAD_FORMAT: Final = "ponder.value_head/1"
"""The ``format`` of a head file; bump it when the layout changes."""

HeadKind = Literal["logistic", "mlp"]
"""A logistic model or a one-hidden-layer MLP."""


class HeadError(ConfigError):
    """A head file that is damaged, of another format, or trained on another policy."""


class HeadMeta(BaseModel):
    """What a head was trained on and how (stored as JSON inside the file)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["ponder.value_head/1"] = HEAD_FORMAT
    policy: str
    """The policy's name (preset, with its adapter file's name if any)."""
    policy_sha256: str
    """SHA-256 of the policy's weights (and adapter): the only policy it accepts."""
    layers: list[int]
    """Hidden states read, as indices into the model's ``hidden_states``."""
    step_format: str
    """The step format of the chains it was trained on."""
    prompt_sha256: str
    """Digest of the system prompt and worked examples the steps were read after."""
    scalars: list[str]
    """The scalar features' names, in column order."""
    kind: HeadKind
    """``logistic`` or ``mlp``."""
    l2: float
    """The L2 penalty cross-validation chose."""
    calibration: list[float]
    """Platt scaling ``[a, b]``: value = sigmoid(a * logit + b)."""
    rule_weight: float = Field(default=0.0, ge=0.0, le=1.0)
    """Share of the rule scorer's value (the ``rule_value`` scalar) in the head's value:
    ``(1 - w) * head + w * rule``. The rules are sure where a tool caught a wrong step
    and blind between two clean chains; the head sees what the rules cannot but errs
    where a check is decisive, so a blend keeps each where it is strong (see
    :func:`~ponder.agents.learning.train_head.train_head`)."""
    trained: dict[str, Any] = {}
    """Items, rows, pairs, families and the command that reproduces it."""
    metrics: dict[str, Any] = {}
    """Cross-validation and development-split results."""

    @model_validator(mode="after")
    def _blend_reads_rule(self) -> HeadMeta:
        if self.rule_weight > 0 and "rule_value" not in self.scalars:
            raise ValueError(
                f"rule_weight {self.rule_weight} blends in the rule_value scalar, which is "
                f"not among the scalars {self.scalars}"
            )
        return self


@dataclass(frozen=True, eq=False, kw_only=True)
class Preprocess:
    """Standardization and the principal-component projection of the hidden states."""

    hidden_mean: np.ndarray
    """``(D,)``"""
    hidden_scale: np.ndarray
    """``(D,)``, every entry > 0."""
    components: np.ndarray
    """``(D, k)``: the top ``k`` principal directions of the standardized states."""
    scalar_mean: np.ndarray
    """``(S,)``"""
    scalar_scale: np.ndarray
    """``(S,)``, every entry > 0."""

    def transform(self, rows: FeatureRows) -> np.ndarray:
        """The head's input: projected hidden states, then scalars, ``(rows, k + S)``."""
        if rows.hidden.shape[1] != self.hidden_mean.shape[0]:
            raise HeadError(
                f"features have {rows.hidden.shape[1]} hidden values per row, the head "
                f"expects {self.hidden_mean.shape[0]}: read other layers or another model"
            )
        hidden = (rows.hidden.astype(np.float32) - self.hidden_mean) / self.hidden_scale
        scalars = (rows.scalars.astype(np.float32) - self.scalar_mean) / self.scalar_scale
        return np.concatenate([hidden @ self.components, scalars], axis=1)


@dataclass(frozen=True, eq=False, kw_only=True)
class HeadWeights:
    """A logistic model (``w2`` None) or a one-hidden-layer MLP with tanh units."""

    w1: np.ndarray
    """``(F, H)``; ``H`` is 1 for a logistic model."""
    b1: np.ndarray
    """``(H,)``"""
    w2: np.ndarray | None = None
    """``(H,)`` for an MLP."""
    b2: float = 0.0
    """The MLP's output bias."""

    def logits(self, x: np.ndarray) -> np.ndarray:
        """Logits of ``x`` ``(n, F)``, ``(n,)``."""
        first = x @ self.w1 + self.b1  # (n, H)
        if self.w2 is None:
            return np.asarray(first[:, 0])
        return np.asarray(np.tanh(first) @ self.w2 + self.b2)


def blend_with_rules(head: np.ndarray, rule: np.ndarray, weight: float) -> np.ndarray:
    """``(1 - weight) * head + weight * rule``, in [0, 1]: the value a head with
    :attr:`HeadMeta.rule_weight` ``weight`` gives (training reports it on the dev rows)."""
    mixed = (1.0 - weight) * head + weight * rule.astype(np.float64)
    return np.asarray(np.clip(mixed, 0.0, 1.0))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * x)))  # no overflow for large |x|


@dataclass(frozen=True, eq=False, kw_only=True)
class ValueHead:
    """A trained value head: preprocessing, weights, calibration and provenance."""

    meta: HeadMeta
    preprocess: Preprocess
    weights: HeadWeights
    path: Path | None = None
    """The file it was loaded from, for messages."""

    def logits(self, rows: FeatureRows) -> np.ndarray:
        """Uncalibrated logits, ``(rows,)``: what ranking uses."""
        return self.weights.logits(self.preprocess.transform(rows))

    def values(self, rows: FeatureRows) -> np.ndarray:
        """Values in [0, 1], ``(rows,)``: the calibrated head, blended with the rule
        scorer's value by :attr:`HeadMeta.rule_weight`."""
        a, b = self.meta.calibration
        head = np.clip(_sigmoid(a * self.logits(rows) + b), 0.0, 1.0)
        weight = self.meta.rule_weight
        if weight == 0.0:
            return np.asarray(head)
        rule = rows.scalars[:, self.meta.scalars.index("rule_value")]
        return blend_with_rules(head, rule, weight)

    def check_policy(self, policy_sha256: str, policy: str) -> None:
        """Refuse a policy other than the one the head was trained on.

        Raises:
            HeadError: If the digests differ; the message names both policies.
        """
        if policy_sha256 != self.meta.policy_sha256:
            where = f"value head {self.path}" if self.path else "this value head"
            raise HeadError(
                f"{where} was trained on {self.meta.policy} (SHA-256 "
                f"{self.meta.policy_sha256[:16]}...), not on {policy} "
                f"({policy_sha256[:16]}...): its hidden states mean nothing to it. Use the "
                "head trained for this policy, or train one: ponder learn collect, then "
                "ponder learn train-head"
            )

    def check_prompt(self, prompt_sha256: str, step_format: str) -> None:
        """Refuse states read after another prompt or written in another step format.

        Raises:
            HeadError: If either differs.
        """
        if step_format != self.meta.step_format or prompt_sha256 != self.meta.prompt_sha256:
            raise HeadError(
                f"value head {self.path or ''} was trained on {self.meta.step_format} steps "
                f"after prompt {self.meta.prompt_sha256[:12]}; this search writes "
                f"{step_format} steps after prompt {prompt_sha256[:12]}"
            )

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the head to an ``.npz`` file atomically.

        Returns:
            The path written.
        """
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        p, w = self.preprocess, self.weights
        arrays: dict[str, np.ndarray] = {
            "meta": np.asarray(self.meta.model_dump_json()),
            "hidden_mean": p.hidden_mean.astype(np.float32),
            "hidden_scale": p.hidden_scale.astype(np.float32),
            "components": p.components.astype(np.float32),
            "scalar_mean": p.scalar_mean.astype(np.float32),
            "scalar_scale": p.scalar_scale.astype(np.float32),
            "w1": w.w1.astype(np.float32),
            "b1": w.b1.astype(np.float32),
            "b2": np.asarray(w.b2, dtype=np.float32),
        }
        if w.w2 is not None:
            arrays["w2"] = w.w2.astype(np.float32)
        staging = target.with_name(f".{target.name}.tmp.npz")
        np.savez_compressed(staging, **arrays)  # type: ignore[arg-type]
        os.replace(staging, target)
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ValueHead:
        """Read a head file.

        Raises:
            HeadError: If the file is missing, not a head of :data:`HEAD_FORMAT`, or
                its arrays do not fit together.
        """
        source = Path(path)
        if not source.is_file():
            raise HeadError(f"value head {source} not found; train one: ponder learn train-head")
        try:
            with np.load(source, allow_pickle=False) as data:
                arrays = {key: data[key] for key in data.files}
        except (OSError, ValueError) as error:
            raise HeadError(f"{source}: not a value head file ({error})") from None
        try:
            meta = HeadMeta.model_validate(json.loads(str(arrays["meta"])))
            preprocess = Preprocess(
                hidden_mean=arrays["hidden_mean"],
                hidden_scale=arrays["hidden_scale"],
                components=arrays["components"],
                scalar_mean=arrays["scalar_mean"],
                scalar_scale=arrays["scalar_scale"],
            )
            weights = HeadWeights(
                w1=arrays["w1"], b1=arrays["b1"], w2=arrays.get("w2"), b2=float(arrays["b2"])
            )
        except KeyError as error:
            raise HeadError(f"{source}: missing array {error}; not a {HEAD_FORMAT} file") from None
        except (ValidationError, json.JSONDecodeError) as error:
            raise HeadError(f"{source}: metadata is not {HEAD_FORMAT}: {error}") from None
        width = preprocess.components.shape[1] + preprocess.scalar_mean.shape[0]
        if weights.w1.shape[0] != width or len(meta.scalars) != preprocess.scalar_mean.shape[0]:
            raise HeadError(f"{source}: arrays of mismatched sizes; the file is damaged")
        return cls(meta=meta, preprocess=preprocess, weights=weights, path=source)


HEADS_DIR: Final = Path(__file__).resolve().parent / "heads"
"""The heads shipped in the package (``heads/POLICY.npz``), found by policy digest."""


def find_head(policy_sha256: str, folder: Path = HEADS_DIR) -> Path | None:
    """The shipped head trained on the policy with this digest, or None.

    Args:
        policy_sha256: The policy's digest (base weights and adapter).
        folder: Where to look; the package's heads by default.

    Returns:
        The first head file (by name) whose metadata names this policy.
    """
    for path in sorted(folder.glob("*.npz")) if folder.is_dir() else []:
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
        except (OSError, ValueError, KeyError):
            continue
        if meta.get("policy_sha256") == policy_sha256:
            return path
    return None
