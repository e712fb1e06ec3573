"""``ponder rules train`` and ``ponder rules suggest``: the learned stage and what feeds it.

::

    ponder rules train [POLICY...] [--folds 5]     # fit the heads; held-out precision/recall
    ponder rules suggest                           # examples that reviewers' decisions suggest
    ponder rules suggest --accept ID [--author A]  # append one to its rule (with history)
    ponder rules suggest --dismiss ID
    ponder rules suggest --uphold APPEAL_ID        # an upheld appeal: a compliant example

The heads train by themselves on the first check after a policy change; ``train`` does it
now and says how good they are on examples they did not see. Suggestions live where the
audit log does (``<data_dir>/suggestions.sqlite``, or PostgreSQL at ``audit_url``); the
assistant adds one for every reviewer decision.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from ponder.agents.core.errors import PonderError
from ponder.graphs.cli.common import ConfigOption, console, err, load_cli_settings
from ponder.graphs.cli.rules import PoliciesArgument, rules_app

if TYPE_CHECKING:
    from ponder.constitution import Policy
    from ponder.constitution.heads import Heads
    from ponder.constitution.heads_cv import CheckpointCV
    from ponder.constitution.suggest import SuggestionLog
    from ponder.graphs.settings import Settings
    from ponder.knowledge.embedder import Embedder

__all__ = ["rules_suggest", "rules_train"]


@rules_app.command("train")
def rules_train(
    policies: PoliciesArgument = None,
    config: ConfigOption = None,
    folds: Annotated[int, typer.Option(min=2, help="Cross-validation folds.")] = 5,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Train the learned heads on the policy's examples and print held-out precision/recall."""
    import time

    from ponder.constitution.classifier import ClassifierMatcher
    from ponder.constitution.devset import load_background, load_devset
    from ponder.constitution.heads_cache import VectorCache, default_cache_dir
    from ponder.constitution.heads_cv import cross_validate
    from ponder.constitution.semantic import embed_unit

    settings = load_cli_settings(config)
    policy = _policy(settings, policies)
    embedder = _embedder(settings)
    devset = load_devset()
    started = time.perf_counter()
    with err.status("embedding examples and fitting the heads…"):
        heads = ClassifierMatcher(policy, embedder, devset=devset).prepare()
    seconds = time.perf_counter() - started
    vectors = VectorCache(
        default_cache_dir() / "vectors", embedder.name, lambda t: embed_unit(embedder, t)
    )
    with err.status(f"{folds}-fold cross-validation…"):
        results = cross_validate(
            policy, devset, vectors.embed, folds=folds, background=load_background()
        )
    if json_output:
        typer.echo(json.dumps(_train_dict(policy, heads, seconds, results)))
        return
    console.print(
        f"policy {policy.version}: heads {heads.key} ({seconds:.1f} s, embedder {heads.embedder}, "
        f"development set {devset.version})"
    )
    for checkpoint, head in heads.by_checkpoint.items():
        console.print(
            f"  {checkpoint}: threshold {head.threshold:.3f} (stops {head.dev_rate:.0%} of the "
            f"development set, the rate cross-validation chose), uncertain band up to "
            f"{head.confident:.3f}, {len(head.rule_ids)} rules"
        )
    _print_cv(results)


def _print_cv(results: Sequence[CheckpointCV]) -> None:
    for result in results:
        console.print(
            f"\n[bold]{result.checkpoint}[/bold] (held out, {len(result.rules)} rules): "
            f"violating stopped {result.violating_stopped:.0%}, compliant stopped "
            f"{result.compliant_stopped:.0%}, development set stopped {result.dev_stopped:.0%}"
        )
        console.print(f"  {'rule':<40} {'precision':>9} {'recall':>7}  tp/fn/fp")
        for rule in result.rules:
            console.print(
                f"  {rule.rule_id:<40} {_ratio(rule.precision):>9} {_ratio(rule.recall):>7}  "
                f"{rule.true_positives}/{rule.false_negatives}/{rule.false_positives}"
            )


def _train_dict(
    policy: Policy, heads: Heads, seconds: float, results: Sequence[CheckpointCV]
) -> dict[str, object]:
    return {
        "policy_version": policy.version,
        "heads": heads.key,
        "embedder": heads.embedder,
        "seconds": round(seconds, 2),
        "thresholds": {
            c: {"threshold": h.threshold, "confident": h.confident, "dev_rate": h.dev_rate}
            for c, h in heads.by_checkpoint.items()
        },
        "cross_validation": [
            {
                "checkpoint": r.checkpoint,
                "violating_stopped": r.violating_stopped,
                "compliant_stopped": r.compliant_stopped,
                "dev_stopped": r.dev_stopped,
                "rules": {
                    x.rule_id: {"precision": x.precision, "recall": x.recall} for x in r.rules
                },
            }
            for r in results
        ],
    }


@rules_app.command("suggest")
def rules_suggest(
    config: ConfigOption = None,
    accept: Annotated[str | None, typer.Option(help="Append this suggestion to its rule.")] = None,
    dismiss: Annotated[str | None, typer.Option(help="Drop this suggestion.")] = None,
    uphold: Annotated[
        str | None, typer.Option(help="Uphold this appeal: its text is a compliant example.")
    ] = None,
    author: Annotated[str, typer.Option(help="Who decides (kept in the history).")] = "cli",
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """List the examples that reviewers and upheld appeals suggest; accept or dismiss one."""
    from ponder.constitution.suggest import accept as accept_suggestion

    settings = load_cli_settings(config)
    log = _suggestions(settings)
    try:
        if accept is not None:
            policy = _policy(settings, None)
            written = accept_suggestion(log, accept, policy, author=author)
            console.print(f"accepted {accept}: appended to {len(written)} file(s); history kept")
            return
        if dismiss is not None:
            log.mark(dismiss, "dismissed")
            console.print(f"dismissed {dismiss}")
            return
        if uphold is not None:
            _uphold(settings, log, uphold, author)
        _print_suggestions(log, json_output)
    finally:
        log.close()


def _uphold(settings: Settings, log: SuggestionLog, appeal_id: str, author: str) -> None:
    from ponder.constitution.suggest import suggest_from_appeal
    from ponder.graphs.cli.audit import existing_audit_log

    audit = existing_audit_log(settings, must_exist=True)
    assert audit is not None
    with audit:
        appeal = next((a for a in audit.appeals() if a.appeal_id == appeal_id), None)
    if appeal is None:
        raise PonderError(f"no appeal {appeal_id!r} in the audit log; `ponder audit` lists them")
    text = appeal.text or appeal.decision.text
    if text is None:
        raise PonderError(
            f"appeal {appeal_id} has no text (the log keeps hashes only); ask the user to "
            "appeal again with --text, or set audit_keep_text"
        )
    found = suggest_from_appeal(
        _policy(settings, None),
        text=text,
        checkpoint=appeal.decision.checkpoint,
        rules=appeal.decision.rules,
        author=author,
        decision_id=appeal.decision.decision_id,
    )
    log.add(found)
    err.print(f"upheld appeal {appeal_id}: {len(found)} suggestion(s)")


def _print_suggestions(log: SuggestionLog, json_output: bool) -> None:
    pending = log.list()
    if json_output:
        rows = [
            {
                "id": s.suggestion_id,
                "rule": s.rule_id,
                "checkpoint": s.checkpoint,
                "expected": s.expected,
                "source": s.source,
                "author": s.author,
                "decision_id": s.decision_id,
                "text": s.text,
            }
            for s in pending
        ]
        typer.echo(json.dumps({"suggestions": rows}, ensure_ascii=False))
        return
    if not pending:
        console.print("no pending suggestions")
        return
    for s in pending:
        console.print(
            f"{s.suggestion_id}  {s.rule_id}  [{s.checkpoint}] expected {s.expected}  "
            f"({s.source} by {escape(s.author)}): {escape(repr(s.text))}"
        )


def _suggestions(settings: Settings) -> SuggestionLog:
    from ponder.graphs.persistence import open_suggestion_log

    return open_suggestion_log(settings)


def _policy(settings: Settings, paths: Sequence[Path] | None) -> Policy:
    from ponder.constitution import default_policy_path, load_policy

    if paths:
        return load_policy(paths[0], *paths[1:])
    return load_policy(settings.policy or default_policy_path(), *settings.policy_overlays)


def _embedder(settings: Settings) -> Embedder:
    from ponder.graphs.parts_from_settings import make_embedder

    return make_embedder(settings)


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"
