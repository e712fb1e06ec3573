"""Training items: reasoning-gym questions never seen by the benchmark, scored by reasoning-gym.

The benchmark (``bench/reasoning.py``) tests on items ``0..size-1`` of each family built
with its seed (42); reasoning-gym derives item ``i`` of seed ``s`` from ``Random(s + i)``,
so training items built from seed 100,000 come from other random streams. Procedural
families still repeat questions now and then, so training items are also de-duplicated
against the benchmark's test questions and against each other (the train/dev split is
by item, so no question is on both sides). Families are built with the benchmark's own
options (a test keeps :data:`TRAINING_FAMILIES` equal to the benchmark's), and items
interleave the families, so a collection stopped early still covers all of them.

reasoning-gym is an optional dependency (``pip install ponder[bench]``); it is imported
only when items are built.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ponder.agents.core.errors import ConfigError
from ponder.agents.reasoning.answers import normalize_answer

__all__ = [
    "DEFAULT_FAMILIES",
    "HELDOUT_FAMILIES",
    "TRAINING_FAMILIES",
    "TRAINING_SEED",
    "GymFamily",
    "GymItem",
    "TrainingItem",
    "gym_reward",
    "training_items",
]

TRAINING_SEED = 100_000
"""The dataset seed of training items (the benchmark's is 42, for at most a few
thousand items)."""


@dataclass(frozen=True, kw_only=True)
class GymFamily:
    """A reasoning-gym dataset and the options it is built with."""

    name: str
    dataset: str
    config: Mapping[str, Any] = field(default_factory=dict)


TRAINING_FAMILIES: dict[str, GymFamily] = {
    family.name: family
    for family in (
        GymFamily(name="basic_arithmetic", dataset="basic_arithmetic"),
        GymFamily(name="gsm_symbolic", dataset="gsm_symbolic"),
        GymFamily(
            name="chain_sum",
            dataset="chain_sum",
            config={"min_terms": 4, "max_terms": 7, "min_digits": 2, "max_digits": 4},
        ),
        GymFamily(name="simple_equations", dataset="simple_equations"),
        GymFamily(
            name="leg_counting", dataset="leg_counting", config={"min_animals": 2, "max_animals": 4}
        ),
    )
}
"""The benchmark's families with the benchmark's options."""

DEFAULT_FAMILIES: tuple[str, ...] = (
    "basic_arithmetic",
    "gsm_symbolic",
    "chain_sum",
    "simple_equations",
)
"""What a collection trains on by default."""

HELDOUT_FAMILIES: tuple[str, ...] = ("leg_counting",)
"""Benchmark families never trained on by default: they show what transfers."""


def gym_reward(dataset: Any, entry: Mapping[str, Any], answer: str | None) -> float:
    """reasoning-gym's reward for ``answer``, written the way the benchmark submits it.

    Numbers are written canonically (``"1,200.0"`` becomes ``"1200"``), anything else
    as written, exactly as the benchmark's ``submitted_answer`` does.
    """
    submitted: str | None = None
    if answer is not None:
        canonical = normalize_answer(answer)
        try:
            float(canonical)
            submitted = canonical
        except ValueError:
            submitted = answer.strip()
    return float(dataset.score_answer(submitted, dict(entry)))


class TrainingItem(Protocol):
    """A question with a verifier: what a collection needs of an item."""

    @property
    def id(self) -> str:
        """A stable id, unique across families and seeds."""
        ...

    @property
    def family(self) -> str:
        """The task family."""
        ...

    @property
    def question(self) -> str:
        """The question as asked."""
        ...

    def reward(self, answer: str | None) -> float:
        """The verifier's reward for ``answer`` in [0, 1]."""
        ...


@dataclass(frozen=True, eq=False, kw_only=True)
class GymItem:
    """One training question with its verifier."""

    id: str
    """``family/seed/index``: stable, and different from every benchmark id."""
    family: str
    question: str
    gold: str
    entry: Mapping[str, Any] = field(repr=False)
    dataset: Any = field(repr=False)

    def reward(self, answer: str | None) -> float:
        """The verifier's reward for ``answer`` (1.0 right, partial credit, 0 wrong)."""
        return gym_reward(self.dataset, self.entry, answer)


def _family(name: str) -> GymFamily:
    family = TRAINING_FAMILIES.get(name)
    if family is not None:
        return family
    from reasoning_gym.factory import DATASETS

    if name not in DATASETS:
        known = ", ".join(sorted(TRAINING_FAMILIES))
        raise ConfigError(f"unknown family {name!r}: use one of {known} or a reasoning-gym name")
    return GymFamily(name=name, dataset=name)


def _dataset(family: GymFamily, seed: int, size: int) -> Any:
    try:
        import reasoning_gym
    except ImportError:
        raise ConfigError(
            "training items come from reasoning-gym: pip install 'ponder[bench]'"
        ) from None
    return reasoning_gym.create_dataset(family.dataset, seed=seed, size=size, **dict(family.config))


def _key(question: str) -> str:
    return " ".join(question.split()).lower()


def training_items(
    families: Sequence[str],
    per_family: int,
    *,
    seed: int = TRAINING_SEED,
    exclude_seed: int = 42,
    exclude_size: int = 100,
) -> list[GymItem]:
    """Training items of the named families, interleaved, none a benchmark question.

    Args:
        families: Family names (:data:`TRAINING_FAMILIES` or reasoning-gym names).
        per_family: Items per family.
        seed: The training datasets' seed.
        exclude_seed: The benchmark's seed, whose first ``exclude_size`` items per
            family are left out wherever they repeat.
        exclude_size: How many benchmark items per family to exclude.

    Returns:
        Up to ``per_family`` items per family (fewer only if the family keeps repeating
        itself), family by family in turn.

    Raises:
        ConfigError: If reasoning-gym is missing or a family is unknown.
    """
    seen: set[str] = set()
    columns: list[list[GymItem]] = []
    for name in families:
        family = _family(name)
        if exclude_size > 0:
            test = _dataset(family, exclude_seed, exclude_size)
            seen |= {_key(entry["question"]) for entry in test}
        dataset = _dataset(family, seed, 2 * per_family + 10)
        column: list[GymItem] = []
        for index, entry in enumerate(dataset):
            if len(column) == per_family:
                break
            key = _key(entry["question"])
            if key in seen:
                continue
            seen.add(key)
            column.append(
                GymItem(
                    id=f"{family.name}/{seed}/{index}",
                    family=family.name,
                    question=entry["question"],
                    gold=str(entry["answer"]),
                    entry=entry,
                    dataset=dataset,
                )
            )
        columns.append(column)
    return [column[i] for i in range(per_family) for column in columns if i < len(column)]
