"""``ponder rules`` (and ``ponder audit``, in :mod:`ponder.graphs.cli.audit`): the command
line a safety team works from.

::

    ponder rules validate PATH [OVERLAY...]      # errors name the file, line, rule and field
    ponder rules effective [POLICY...]           # the merged policy, each rule's origin
    ponder rules test [POLICY...]                # every rule's examples; exit 1 on a failure
    ponder rules diff OLD NEW                    # inputs whose outcome would change
    ponder rules explain "text" [--checkpoint input|output|knowledge] [--json]
    ponder rules serve [POLICY_DIR] [--host 127.0.0.1] [--port 8765]   # the editor page
    ponder audit [--thread T] [--action A] [--rule R] [--since ISO] [--limit N] [--json]
    ponder audit appeal DECISION_ID "message" [--text "what I sent"]

A ``POLICY...`` list is a floor followed by its overlays; without one, the settings'
``policy`` (or the policy shipped with Ponder) is used. ``test``, ``diff`` and ``explain``
run the checker the assistant runs (patterns and the learned stage; ``--semantic`` adds the
semantic stage), and model deliberation only with ``--model``. The audit log is the
settings' ``audit_url`` (PostgreSQL) or ``audit_db`` (default ``<data_dir>/audit.sqlite``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.markup import escape

from ponder.agents.core.errors import PonderError
from ponder.graphs.cli.audit import existing_audit_log
from ponder.graphs.cli.common import ConfigOption, JsonOption, console, err, load_cli_settings

if TYPE_CHECKING:
    from ponder.constitution import (
        Appeal,
        Change,
        Decision,
        ExampleResult,
        Explanation,
        Policy,
        PolicyChecker,
        RuleScore,
    )
    from ponder.graphs.settings import Settings

__all__ = ["rules_app"]

rules_app = typer.Typer(no_args_is_help=True, help="Write, test and explain constitution rules.")

PoliciesArgument = Annotated[
    list[Path] | None,
    typer.Argument(help="A policy folder or file, then any overlays (default: from settings)."),
]
ModelOption = Annotated[
    str | None,
    typer.Option(help="Deliberate with this model (a preset, folder or server model id)."),
]
SemanticOption = Annotated[
    bool | None,
    typer.Option(
        "--semantic/--no-semantic",
        help="Run the semantic stage or not (default: as the settings say; off by default).",
    ),
]
CheckpointName = Literal["input", "output", "knowledge"]


def _policy(settings: Settings, paths: Sequence[Path] | None) -> Policy:
    from ponder.constitution import default_policy_path, load_policy

    if paths:
        return load_policy(paths[0], *paths[1:])
    return load_policy(settings.policy or default_policy_path(), *settings.policy_overlays)


def _checker(
    settings: Settings, policy: Policy, *, model: str | None, semantic: bool | None
) -> PolicyChecker:
    """The real checker: patterns, the semantic stage, and deliberation with ``model``.

    Weights and embeddings load here, before any check, so stage timings leave them out.
    """
    from ponder.constitution import ClassifierMatcher, SemanticMatcher
    from ponder.graphs.assistant import make_checker, make_embedder, make_model

    chat_model = None
    if model is not None:
        with err.status(f"loading {model}…"):
            chat_model = make_model(settings.language_model.model_copy(update={"source": model}))
            chat_model.load()
    if chat_model is not None and settings.deliberation == "off":
        settings = settings.model_copy(update={"deliberation": "all"})  # --model asks for it
    if semantic is not None:
        settings = settings.model_copy(update={"semantic": semantic})
    embedder = make_embedder(settings) if settings.semantic or settings.classifier else None
    checker = make_checker(settings, policy, chat_model, embedder)
    stages = [m for m in checker.matchers if isinstance(m, SemanticMatcher | ClassifierMatcher)]
    if stages:
        with err.status("embedding the rules' examples (training the learned heads)…"):
            for matcher in stages:
                matcher.prepare()
    return checker


def _stages(checker: PolicyChecker) -> str:
    names = [matcher.stage for matcher in checker.matchers]
    names.append("deliberation" if checker.model is not None else "no deliberation")
    return ", ".join(names)


@rules_app.command("validate")
def rules_validate(
    path: Annotated[Path, typer.Argument(help="A policy folder or rule file.")],
    overlays: Annotated[
        list[Path] | None, typer.Argument(help="Overlays to merge on top, in order.")
    ] = None,
) -> None:
    """Check rule files; errors name the file, line, rule and field."""
    from ponder.constitution import load_policy

    policy = load_policy(path, *(overlays or []))
    console.print(f"ok: {len(policy.rules)} rules, policy version {policy.version}")


@rules_app.command("effective")
def rules_effective(
    policies: PoliciesArgument = None,
    config: ConfigOption = None,
    json_output: JsonOption = False,
) -> None:
    """Show the merged policy: each rule, its action and checkpoints, and where it came from."""
    policy = _policy(load_cli_settings(config), policies)
    rules = [
        {
            "id": rule.id,
            "action": rule.action,
            "applies_to": list(rule.applies_to),
            "stages": [name for name, on in rule.stages.model_dump().items() if on],
            "origin": str(policy.origins.get(rule.id, "code")),
        }
        for rule in policy.rules
    ]
    if json_output:
        layers = [str(p) for p in policy.layers]
        typer.echo(json.dumps({"version": policy.version, "layers": layers, "rules": rules}))
        return
    console.print(f"policy {policy.version}: {len(rules)} rules from {len(policy.layers)} layer(s)")
    for number, layer in enumerate(policy.layers):
        console.print(f"  layer {number}: {escape(str(layer))}")
    for rule in rules:
        console.print(
            f"{rule['id']:<30} {rule['action']:<16} {','.join(rule['applies_to']):<24} "
            f"{escape(str(rule['origin']))}"
        )


@rules_app.command("test")
def rules_test(
    policies: PoliciesArgument = None,
    config: ConfigOption = None,
    model: ModelOption = None,
    semantic: SemanticOption = None,
) -> None:
    """Run every rule's examples through the checker; exit 1 if any fails."""
    from ponder.constitution import run_examples, score_rules

    settings = load_cli_settings(config)
    policy = _policy(settings, policies)
    checker = _checker(settings, policy, model=model, semantic=semantic)
    with err.status("checking examples…"):
        results = run_examples(policy, checker)
    console.print(
        f"policy {policy.version}: {len(policy.rules)} rules, {len(results)} examples "
        f"(stages: {_stages(checker)})"
    )
    _print_scores(score_rules(policy, results))
    failed = [r for r in results if not r.passed]
    _print_failures(failed)
    log = existing_audit_log(settings, must_exist=False)
    if log is not None:
        with log:
            _print_appeals(log.appeals(), policy)
    if failed:
        raise typer.Exit(1)


def _print_scores(scores: Sequence[RuleScore]) -> None:
    width = max([30, *(len(score.rule_id) + 1 for score in scores)])
    console.print(f"{'rule':<{width}} {'precision':>9} {'recall':>7} {'tp':>4} {'fn':>4} {'fp':>4}")
    for score in scores:
        console.print(
            f"{score.rule_id:<{width}} {_ratio(score.precision):>9} {_ratio(score.recall):>7} "
            f"{score.true_positives:>4} {score.false_negatives:>4} {score.false_positives:>4}"
        )


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _print_failures(failed: Sequence[ExampleResult]) -> None:
    if not failed:
        console.print("all examples pass")
        return
    console.print(f"{len(failed)} failing example(s):")
    for result in failed:
        console.print(f"  {escape(result.describe())}")


def _print_appeals(appeals: Sequence[Appeal], policy: Policy) -> None:
    if not appeals:
        return
    console.print(f"{len(appeals)} appeal(s), candidate examples for the rules they name:")
    for appeal in appeals:
        decision = appeal.decision
        unknown = [r for r in decision.rules if r not in policy]
        note = f" (not in this policy: {', '.join(unknown)})" if unknown else ""
        console.print(
            f"  {', '.join(decision.rules) or 'no rule'}{note} <- appeal {appeal.appeal_id} "
            f"against decision {decision.decision_id} ({decision.action} at "
            f"{decision.checkpoint}, policy {decision.policy_version}): "
            f"{escape(json.dumps(appeal.message, ensure_ascii=False))}"
        )
        if appeal.text is None:
            console.print(f"      # text not kept (sha256 {decision.text_hash[:12]}...)")
            continue
        # An appeal usually says a stopped text was fine: offer it as a compliant example.
        expected = "allow" if decision.action not in ("allow", "allow_with_note") else "?"
        quoted = json.dumps(appeal.text, ensure_ascii=False)
        example = f"- {{text: {quoted}, checkpoint: {decision.checkpoint}, expected: {expected}}}"
        console.print(f"      {escape(example)}")


@rules_app.command("diff")
def rules_diff(
    old: Annotated[Path, typer.Argument(help="The policy in force (folder or file).")],
    new: Annotated[Path, typer.Argument(help="The proposed policy.")],
    config: ConfigOption = None,
    model: ModelOption = None,
    semantic: SemanticOption = None,
    json_output: JsonOption = False,
) -> None:
    """Show the examples and audit-log inputs whose outcome would change."""
    from ponder.constitution import diff_inputs, diff_outcomes, load_policy

    settings = load_cli_settings(config)
    before, after = load_policy(old), load_policy(new)
    decisions: list[Decision] = []
    appeals: list[Appeal] = []
    log = existing_audit_log(settings, must_exist=False)
    if log is not None:
        with log:
            decisions, appeals = log.decisions(limit=None), log.appeals()
    inputs = diff_inputs(before, after, decisions, appeals)
    old_checker = _checker(settings, before, model=model, semantic=semantic)
    new_checker = _checker(settings, after, model=model, semantic=semantic)
    with err.status(f"checking {len(inputs)} inputs under both policies…"):
        changes = diff_outcomes(old_checker, new_checker, inputs)
    hashed = sum(d.text is None for d in decisions)
    if json_output:
        typer.echo(json.dumps(_diff_dict(before, after, inputs, changes, hashed)))
        return
    console.print(
        f"{len(changes)} of {len(inputs)} inputs change outcome "
        f"(policy {before.version} -> {after.version}; stages: {_stages(new_checker)})"
    )
    for change in changes:
        item = change.input
        line = f"  {item.source} [{item.checkpoint}] {item.text!r}: {change.old} -> {change.new}"
        console.print(escape(line))
    if hashed:
        console.print(
            f"{hashed} audit decision(s) kept only a text hash and were not re-checked "
            "(set audit_keep_text: true to keep texts)"
        )


def _diff_dict(
    before: Policy, after: Policy, inputs: Sequence[Any], changes: Sequence[Change], hashed: int
) -> dict[str, Any]:
    return {
        "old_version": before.version,
        "new_version": after.version,
        "inputs": len(inputs),
        "hashed_audit_decisions": hashed,
        "changes": [
            {
                "source": c.input.source,
                "checkpoint": c.input.checkpoint,
                "text": c.input.text,
                "old": {"action": c.old.action, "rules": list(c.old.rules)},
                "new": {"action": c.new.action, "rules": list(c.new.rules)},
            }
            for c in changes
        ],
    }


@rules_app.command("explain")
def rules_explain(
    text: Annotated[str, typer.Argument(help="The text to check.")],
    checkpoint: Annotated[
        CheckpointName, typer.Option(help="Where the text is checked.")
    ] = "input",
    policy_paths: Annotated[
        list[Path] | None,
        typer.Option("--policy", "-p", help="A policy, then overlays (repeat the option)."),
    ] = None,
    config: ConfigOption = None,
    model: ModelOption = None,
    semantic: SemanticOption = None,
    json_output: JsonOption = False,
) -> None:
    """Show which stages fired on TEXT and why, and the verdict."""
    from ponder.constitution import explain

    settings = load_cli_settings(config)
    policy = _policy(settings, policy_paths)
    checker = _checker(settings, policy, model=model, semantic=semantic)
    explanation = explain(text, checkpoint, checker=checker)
    if json_output:
        typer.echo(json.dumps(explanation.to_dict(), ensure_ascii=False))
        return
    _print_explanation(explanation)


def _print_explanation(explanation: Explanation) -> None:
    verdict = explanation.verdict
    console.print(f"{explanation.checkpoint}: {escape(repr(explanation.text))}")
    for stage in explanation.stages:
        header = f"  {stage.stage} ({stage.seconds * 1000:.1f} ms)"
        if stage.error is not None:
            console.print(f"{header}: failed: {escape(stage.error)}")
        elif not stage.notes:
            console.print(f"{header}: no candidates")
        else:
            console.print(f"{header}:")
            for note in stage.notes:
                console.print(f"    {escape(note)}")
    rules = ", ".join(verdict.fired) or "none"
    console.print(
        f"verdict: {verdict.action} (reason: {verdict.reason}; rules: {rules}; "
        f"policy {verdict.policy_version})"
    )
    for note in verdict.notes:
        console.print(f"note: {escape(note)}")


@rules_app.command("serve")
def rules_serve(
    policy_dir: Annotated[
        Path | None, typer.Argument(help="The policy folder to edit (default: from settings).")
    ] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8765,
    allow_remote: Annotated[
        bool,
        typer.Option(
            "--allow-remote",
            help="Listen on a non-loopback address. The editor has no login: put it behind "
            "your own authentication.",
        ),
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Open the policy editor page: search, edit, test, diff and save rules in a browser."""
    import uvicorn

    from ponder.constitution.editor import create_app
    from ponder.constitution.editor.app import LOOPBACK_HOSTS
    from ponder.graphs.parts_from_settings import make_checker, make_embedder
    from ponder.graphs.persistence import open_suggestion_log
    from ponder.graphs.server import is_loopback

    settings = load_cli_settings(config)
    folder = policy_dir or settings.policy
    if folder is None:
        raise PonderError(
            "name the policy folder to edit: ponder rules serve POLICY_DIR "
            "(copy the shipped policy first; it is not edited in place)"
        )
    if not allow_remote and not is_loopback(host):
        raise typer.BadParameter(
            f"{host} is not a loopback address; add --allow-remote to listen on it",
            param_hint="--host",
        )
    suggestions = open_suggestion_log(settings)
    embedder = make_embedder(settings) if settings.semantic or settings.classifier else None
    app = create_app(
        folder,
        trusted_hosts=None if allow_remote else LOOPBACK_HOSTS,
        suggestions=suggestions,
        checker=lambda policy: make_checker(settings, policy, None, embedder, reload=False),
    )
    console.print(f"editing {escape(str(folder))} at http://{host}:{port}/ (Ctrl+C to stop)")
    uvicorn.run(app, host=host, port=port, log_level="warning")
