"""False positives of the output checkpoint on ordinary assistant text, per rule.

The learned output gate is trained on rule examples, nearly all about dangerous topics, so
it can mistake plain replies for the violating side ("Here is my answer." stopped as
abusive, a children's story about a dragon stopped as stereotyping). This measures that
on the checker the default assistant builds (``Settings()``), at its deployed thresholds:

- **held_out**: ``bench/data/safety-benign-outputs.yaml``, ordinary answers written for
  the project that nothing trains on (one-line replies, facts from the answer corpus,
  how-tos, explanations, code, refusals, small talk, numbers), long ones judged window by
  window as a released answer is (:mod:`ponder.graphs.release`'s default plan), plus the
  policy's own refusal messages;
- **background**: the gate's everyday negatives (in-sample: they train it);
- **dev**: the development set's responses (in-sample: they set the threshold);
- **benchmark_responses**: the safety benchmark's hand-labelled responses, so a change
  that stops fewer benign texts can be seen not to stop fewer harmful ones;
- **held_out_input**: the data file's ``inputs``, what users type between questions
  ("hi", "thanks", "tell me more"), judged at the input checkpoint: the same fault on
  the other side.

Per set: the share stopped with its 95% interval, the share stopped per rule named, and
the worst offenders (highest gate probability). A long text counts as stopped when any of
its windows is. Writes ``bench/results/safety-outputs.json``::

    python -m bench.safety_outputs
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import yaml

from bench.safety_report import wilson, write_json
from ponder.constitution import (
    Checkpoint,
    Policy,
    PolicyChecker,
    Verdict,
    default_policy_path,
    load_policy,
)
from ponder.constitution.classifier import ClassifierMatcher
from ponder.constitution.devset import load_background, load_devset
from ponder.graphs.release import ReleasePlan, release_checked

if TYPE_CHECKING:
    from ponder.graphs.settings import Settings
    from ponder.knowledge.embedder import Embedder

__all__ = [
    "BenignText",
    "benign_inputs",
    "benign_outputs",
    "classifier_of",
    "deployed_checker",
    "main",
    "measure",
    "measure_set",
    "windows",
]

logger = logging.getLogger("bench.safety_outputs")

DATA = Path(__file__).resolve().parent / "data" / "safety-benign-outputs.yaml"
RESPONSES = Path(__file__).resolve().parent / "data" / "safety-responses.yaml"
RESULTS = Path(__file__).resolve().parent / "results" / "safety-outputs.json"
WORST = 15
"""Worst offenders listed per set."""


def deployed_checker(settings: Settings, policy: Policy, embedder: Embedder) -> PolicyChecker:
    """The checker the assistant builds from ``settings`` for ``policy``, as it is deployed:
    the safety benchmarks measure this one, never a benchmark configuration.

    Args:
        settings: The assistant's settings (``Settings()`` for the default assistant).
        policy: The policy it checks (the default one, or a scaled copy for timing).
        embedder: The embedder its learned and semantic stages share.

    Returns:
        The checker, with no language model to deliberate with and no policy reloading.
    """
    from ponder.graphs.parts_from_settings import make_checker

    return make_checker(settings, policy, None, embedder, reload=False)


def classifier_of(checker: PolicyChecker) -> ClassifierMatcher | None:
    """The checker's learned stage, or ``None`` when its settings leave it out.

    Args:
        checker: The checker.

    Returns:
        Its :class:`ClassifierMatcher`, if it has one.
    """
    return next((m for m in checker.matchers if isinstance(m, ClassifierMatcher)), None)


@dataclass(frozen=True, kw_only=True)
class BenignText:
    """One ordinary assistant text, or one window of a long one."""

    text: str
    """What the output checkpoint judges."""
    group: str
    """Its kind (``one-line``, ``facts``, ``stories``...)."""
    source: int
    """Index of the whole text it belongs to (windows of one text share it)."""


def windows(text: str, plan: ReleasePlan | None = None) -> list[str]:
    """The windows a released answer is judged in, in order.

    Args:
        text: The whole answer.
        plan: Chunk and overlap sizes; the settings' default when ``None``.

    Returns:
        Every window's text (one for a short answer).
    """
    seen: list[str] = []

    def record(window: str) -> Verdict:
        seen.append(window)
        return Verdict(
            action="allow", checkpoint="output", hits=(), rationale="", policy_version="",
            reason="none",
        )  # fmt: skip

    release_checked(text, record, lambda _: None, plan or ReleasePlan())
    return seen


def benign_inputs(path: Path = DATA) -> list[BenignText]:
    """The held-out chat turns, judged at the input checkpoint.

    Args:
        path: The data file.

    Returns:
        The texts, in file order.
    """
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    found: list[BenignText] = []
    for group, texts in data.get("inputs", {}).items():
        found += [
            BenignText(text=t, group=group, source=len(found) + i) for i, t in enumerate(texts)
        ]
    return found


def benign_outputs(policy: Policy, path: Path = DATA) -> list[BenignText]:
    """The held-out ordinary texts: the data file's, long ones cut into windows, and the
    policy's refusal messages.

    Args:
        policy: Gives its rules' refusal messages (text the assistant sends as its own).
        path: The data file.

    Returns:
        The texts, in file order, then the refusals.
    """
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    found: list[BenignText] = []
    for group, texts in data["texts"].items():
        found += [
            BenignText(text=t, group=group, source=len(found) + i) for i, t in enumerate(texts)
        ]
    for group, texts in data["long"].items():
        for text in texts:
            source = len(found)
            found += [BenignText(text=w, group=group, source=source) for w in windows(text)]
    refusals = dict.fromkeys(rule.refusal for rule in policy.rules if rule.refusal)
    found += [
        BenignText(text=t, group="policy-refusals", source=len(found) + i)
        for i, t in enumerate(refusals)
    ]
    return found


def _plain(texts: Sequence[str], group: str) -> list[BenignText]:
    return [BenignText(text=t, group=group, source=i) for i, t in enumerate(texts)]


def measure_set(
    checker: PolicyChecker,
    texts: Sequence[BenignText],
    *,
    worst: int = WORST,
    checkpoint: Checkpoint = "output",
) -> dict[str, Any]:
    """Check every text at ``checkpoint`` and summarise the false positives.

    Args:
        checker: The deployed checker.
        texts: Benign texts (windows of one text share ``source``).
        worst: How many of the highest-scoring stopped texts to list.
        checkpoint: Where they are checked.

    Returns:
        ``n`` (texts judged), ``stopped`` (share) with ``ci95``, ``whole`` (the same for
        whole texts: one stopped window stops its text), ``per_rule`` (count and share
        stopped naming each rule), ``per_group`` and ``worst`` (with the learned stage's
        agreement score, which a pattern's stop need not reach).
    """
    classifier = classifier_of(checker)
    stopped: list[tuple[float, BenignText, tuple[str, ...]]] = []
    by_source: dict[int, bool] = {}
    groups: dict[str, list[bool]] = {}
    for item in texts:
        verdict = checker.check(item.text, checkpoint)
        blocked = not verdict.allowed
        by_source[item.source] = by_source.get(item.source, False) or blocked
        groups.setdefault(item.group, []).append(blocked)
        if blocked:
            p = _score(classifier, item.text, checkpoint)
            stopped.append((p, item, verdict.fired))
    per_rule: dict[str, int] = {}
    for _, _, fired in stopped:
        for rule in fired:
            per_rule[rule] = per_rule.get(rule, 0) + 1
    n = len(texts)
    return {
        "n": n,
        **_share(len(stopped), n, "stopped"),
        "whole": {"n": len(by_source), **_share(sum(by_source.values()), len(by_source))},
        "per_rule": {
            rule: {"count": count, "rate": round(count / n, 4)}
            for rule, count in sorted(per_rule.items(), key=lambda kv: (-kv[1], kv[0]))
        },
        "per_group": {
            g: {"n": len(f), "stopped": round(sum(f) / len(f), 4)} for g, f in groups.items()
        },
        "worst": [
            {"p": round(p, 3), "rules": list(fired), "group": item.group, "text": item.text[:160]}
            for p, item, fired in sorted(stopped, key=lambda s: -s[0])[:worst]
        ],
    }


def _score(classifier: ClassifierMatcher | None, text: str, checkpoint: Checkpoint) -> float:
    if classifier is None:
        return 1.0
    judgement = classifier.judge(text, checkpoint)
    return float(getattr(judgement, "score", judgement.p))  # heads before the rule heads: p


def _share(count: int, total: int, name: str = "stopped") -> dict[str, Any]:
    if total == 0:
        return {name: None, "ci95": None}
    low, high = wilson(count, total)
    return {name: round(count / total, 4), "ci95": [round(low, 4), round(high, 4)]}


def _benchmark_responses(checker: PolicyChecker) -> dict[str, Any]:
    items = yaml.safe_load(RESPONSES.read_text(encoding="utf-8"))["responses"]
    result: dict[str, Any] = {}
    for label in ("harmful", "benign"):
        texts = [i["text"] for i in items if i["label"] == label]
        blocked = sum(not checker.check(t, "output").allowed for t in texts)
        result[label] = {"n": len(texts), **_share(blocked, len(texts), "blocked")}
    return result


def measure(checker: PolicyChecker, policy: Policy) -> dict[str, Any]:
    """Every set's false positives at the output checkpoint (see the module docstring).

    Args:
        checker: The checker the default assistant builds.
        policy: Its policy (for the refusal messages).

    Returns:
        The results, by set.
    """
    devset, background = load_devset(), load_background()
    return {
        "held_out": measure_set(checker, benign_outputs(policy)),
        "background": measure_set(checker, _plain(background.texts("output"), "background")),
        "dev": measure_set(checker, _plain(devset.texts("output"), "dev")),
        "benchmark_responses": _benchmark_responses(checker),
        "held_out_input": measure_set(checker, benign_inputs(), checkpoint="input"),
        "note": "held_out trains nothing and sets no threshold; background trains the gate "
        "and dev sets its threshold (both in-sample)",
    }


def render(results: dict[str, Any]) -> str:
    """The results as a short plain-text table.

    Args:
        results: What :func:`measure` returns.

    Returns:
        The table.
    """
    lines = [f"{'set':<14} {'n':>5} {'stopped':>8}  worst rules"]
    for name in ("held_out", "background", "dev", "held_out_input"):
        row = results[name]
        rules = ", ".join(f"{r} {v['count']}" for r, v in list(row["per_rule"].items())[:5])
        lines.append(f"{name:<14} {row['n']:>5} {100 * row['stopped']:>7.1f}%  {rules}")
    bench = results["benchmark_responses"]
    lines.append(
        f"benchmark responses: harmful blocked {100 * bench['harmful']['blocked']:.1f}% "
        f"of {bench['harmful']['n']}, benign blocked {100 * bench['benign']['blocked']:.1f}% "
        f"of {bench['benign']['n']}"
    )
    lines += ["", "worst held-out offenders:"]
    lines += [
        f"  {w['p']:.2f} {','.join(w['rules'])}: {w['text'][:90]!r}"
        for w in results["held_out"]["worst"]
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Measure the default assistant's output checkpoint from the command line.

    Args:
        argv: Arguments; ``None`` reads ``sys.argv``.

    Returns:
        The exit status.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--threads", type=int, default=1, help="embedder threads")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    from ponder.graphs.parts_from_settings import make_embedder
    from ponder.graphs.settings import Settings

    settings = Settings()
    policy = load_policy(default_policy_path())
    checker = deployed_checker(settings, policy, make_embedder(settings, threads=args.threads))
    started = time.perf_counter()
    results = measure(checker, policy)
    results["seconds"] = round(time.perf_counter() - started, 1)
    write_json(results, args.out)
    sys.stdout.write(render(results) + f"\nwrote {args.out}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
