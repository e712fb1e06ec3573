"""Task adapters: reasoning-gym families as benchmark items, scored by reasoning-gym.

Each family is a procedural reasoning-gym dataset built with a fixed seed, so every
method and every run sees the same items. Answers are scored by the dataset's own
``score_answer``; an item counts as solved only at its full reward (1.0), because
reasoning-gym gives partial credit to an answer that merely contains the right one
(``-30`` earns 0.67 against ``30``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ponder.agents.reasoning.answers import normalize_answer

__all__ = [
    "DEFAULT_FAMILIES",
    "FAMILIES",
    "Family",
    "Item",
    "TaskSet",
    "load_tasks",
    "submitted_answer",
]


@dataclass(frozen=True, kw_only=True)
class Family:
    """A reasoning-gym dataset and the options the benchmark builds it with."""

    name: str
    """The benchmark's name for the family (the key in the results)."""
    dataset: str
    """The reasoning-gym dataset name."""
    config: Mapping[str, Any] = field(default_factory=dict)
    """Dataset options besides ``seed`` and ``size``."""
    about: str = ""
    """Why the family is in the benchmark."""
    headline: bool = True
    """Whether the targets are judged on it (leg_counting is reported, not a target)."""
    max_chain_tokens: int = 128
    """Most tokens of one whole chain (self-consistency) on this family."""


FAMILIES: dict[str, Family] = {
    family.name: family
    for family in (
        Family(
            name="basic_arithmetic",
            dataset="basic_arithmetic",
            about="expressions of 2-6 terms with parentheses; transcribing them is the hard part",
            max_chain_tokens=96,
        ),
        Family(
            name="gsm_symbolic",
            dataset="gsm_symbolic",
            about="grade-school word problems; planning the steps is the hard part",
            max_chain_tokens=192,
        ),
        Family(
            name="chain_sum",
            dataset="chain_sum",
            config={"min_terms": 4, "max_terms": 7, "min_digits": 2, "max_digits": 4},
            about="sums and differences of 4-7 numbers of 2-4 digits; copying every term right",
            max_chain_tokens=96,
        ),
        Family(
            name="simple_equations",
            dataset="simple_equations",
            about="linear equations in one unknown; isolating it takes two or three steps",
            max_chain_tokens=128,
        ),
        Family(
            name="leg_counting",
            dataset="leg_counting",
            config={"min_animals": 2, "max_animals": 4},
            about="counting legs of 2-4 kinds of animals; knowledge plus a sum of products",
            headline=False,
            max_chain_tokens=128,
        ),
    )
}
"""The families the benchmark knows; any other reasoning-gym dataset name works too,
with its default options."""

DEFAULT_FAMILIES: tuple[str, ...] = tuple(FAMILIES)
"""The default run's families: four with headroom over greedy decoding on the 0.5B
model (an expression, a word problem, a long sum, an equation) and leg_counting,
reported but not a target."""


@dataclass(frozen=True, kw_only=True)
class Item:
    """One benchmark question."""

    family: str
    """The family it comes from."""
    index: int
    """Its position in the family's dataset."""

    @property
    def id(self) -> str:
        """A stable id, ``family/index`` (the same seed gives the same item)."""
        return f"{self.family}/{self.index}"

    question: str
    """The question as reasoning-gym words it."""
    gold: str
    """The reference answer (for reports; scoring goes through ``score_answer``)."""
    entry: Mapping[str, Any] = field(repr=False)
    """The dataset entry, as ``score_answer`` needs it."""


def submitted_answer(answer: str | None) -> str | None:
    """The answer as handed to ``score_answer``.

    Numbers are written canonically (``"1,200.0"`` becomes ``"1200"``); any other
    answer is passed as the model wrote it, so nothing is matched more leniently
    than reasoning-gym itself matches.
    """
    if answer is None:
        return None
    canonical = normalize_answer(answer)
    try:
        float(canonical)
    except ValueError:
        return answer.strip()
    return canonical


class TaskSet:
    """The items of one family, with the dataset that scores them.

    Args:
        family: What to build.
        size: How many items.
        seed: The dataset seed; the same seed gives the same items.
    """

    def __init__(self, family: Family, size: int, seed: int) -> None:
        import reasoning_gym

        self.family = family
        self._dataset = reasoning_gym.create_dataset(
            family.dataset, seed=seed, size=size, **dict(family.config)
        )
        self.items = [
            Item(
                family=family.name,
                index=index,
                question=entry["question"],
                gold=str(entry["answer"]),
                entry=entry,
            )
            for index, entry in enumerate(self._dataset)
        ]

    def reward(self, item: Item, answer: str | None) -> float:
        """reasoning-gym's reward for ``answer`` (canonicalized by :func:`submitted_answer`)."""
        return float(self._dataset.score_answer(submitted_answer(answer), dict(item.entry)))


def load_tasks(names: Sequence[str], size: int, seed: int) -> list[TaskSet]:
    """Build the task sets for the named families.

    Args:
        names: Names from :data:`FAMILIES`, or reasoning-gym dataset names.
        size: Items per family.
        seed: Dataset seed.

    Returns:
        One task set per name, in order.

    Raises:
        ValueError: If a name is neither a known family nor a reasoning-gym dataset.
    """
    from reasoning_gym.factory import DATASETS

    tasks = []
    for name in names:
        family = FAMILIES.get(name)
        if family is None:
            if name not in DATASETS:
                known = ", ".join(sorted(FAMILIES))
                raise ValueError(
                    f"unknown family {name!r}: use one of {known} or a reasoning-gym dataset name"
                )
            family = Family(name=name, dataset=name)
        tasks.append(TaskSet(family, size, seed))
    return tasks
