"""``ponder audit``: list the checker's decisions and appeal them.

::

    ponder audit [--thread T] [--action A] [--rule R] [--since ISO] [--limit N] [--json]
    ponder audit appeal DECISION_ID "message" [--text "what I sent"]

The audit log is the settings' ``audit_url`` (PostgreSQL) or ``audit_db`` (default
``<data_dir>/audit.sqlite``). ``ponder audit --action escalate`` lists the turns that
wait for a human reviewer, with their threads; a decision on a tenant's turn
(``server.tenants``) names the tenant.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from ponder.agents.core.errors import PonderError
from ponder.graphs.cli.common import ConfigOption, JsonOption, console, err, load_cli_settings

if TYPE_CHECKING:
    from ponder.constitution import Decision, PostgresAuditLog, SqliteAuditLog
    from ponder.graphs.settings import Settings

__all__ = ["ActionName", "audit_app", "existing_audit_log"]

ActionName = Literal["allow", "allow_with_note", "revise", "refuse", "escalate"]

audit_app = typer.Typer(help="List checker decisions and appeal them.")


def existing_audit_log(
    settings: Settings, *, must_exist: bool
) -> SqliteAuditLog | PostgresAuditLog | None:
    """The settings' audit log, opened only if it exists (a command never creates one).

    Args:
        settings: Name the log (``audit_url``, else ``audit_path``).
        must_exist: Raise instead of returning ``None`` for a missing SQLite log.

    Returns:
        The open log, or ``None`` when there is no SQLite log yet.

    Raises:
        PonderError: ``must_exist`` and nothing has been logged at ``audit_path`` yet.
    """
    from ponder.graphs.persistence import open_audit_log

    path = settings.audit_path
    if settings.audit_url is None and not path.exists():
        if must_exist:
            raise PonderError(
                f"no audit log at {path}: nothing has been checked there yet "
                "(set audit_db or data_dir to the assistant's)"
            )
        return None
    return open_audit_log(settings)


@audit_app.callback(invoke_without_command=True)
def audit_list(
    ctx: typer.Context,
    thread: Annotated[str | None, typer.Option(help="Only this thread's decisions.")] = None,
    action: Annotated[ActionName | None, typer.Option(help="Only this action.")] = None,
    rule: Annotated[str | None, typer.Option(help="Only decisions this rule fired in.")] = None,
    since: Annotated[
        str | None, typer.Option(help="Only decisions at or after this ISO time (UTC).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first.")] = 50,
    config: ConfigOption = None,
    json_output: JsonOption = False,
) -> None:
    """List checker decisions, newest first."""
    from ponder.constitution.audit import parse_time

    if ctx.invoked_subcommand is not None:
        return
    try:
        after = parse_time(since) if since is not None else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--since") from None
    settings = load_cli_settings(config)
    log = existing_audit_log(settings, must_exist=False)
    decisions: list[Decision] = []
    if log is not None:
        with log:
            decisions = log.decisions(
                thread_id=thread, action=action, rule=rule, since=after, limit=limit
            )
    if json_output:
        typer.echo(json.dumps({"decisions": [_decision_dict(d) for d in decisions]}))
        return
    if log is None:
        err.print(f"no audit log at {settings.audit_path} yet")
    for d in decisions:
        rules = ",".join(d.rules) or "-"
        tenant = f"  tenant {d.tenant}" if d.tenant is not None else ""
        console.print(
            f"{_when(d.time)}  {d.decision_id}  {d.checkpoint:<9} {d.action:<15} "
            f"{d.reason:<13} {rules:<28} thread {d.thread_id or '-'}  policy {d.policy_version}"
            f"{tenant}"
        )


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _decision_dict(decision: Decision) -> dict[str, Any]:
    return {
        "decision_id": decision.decision_id,
        "time": decision.time.isoformat(),
        "thread_id": decision.thread_id,
        "tenant": decision.tenant,
        "checkpoint": decision.checkpoint,
        "policy_version": decision.policy_version,
        "rules": list(decision.rules),
        "action": decision.action,
        "reason": decision.reason,
        "rationale": decision.rationale,
        "notes": list(decision.notes),
        "text_hash": decision.text_hash,
        "text": decision.text,
    }


@audit_app.command("appeal")
def audit_appeal(
    decision_id: Annotated[str, typer.Argument(help="The decision, as `ponder audit` lists it.")],
    message: Annotated[str, typer.Argument(help="Why the decision was wrong.")],
    text: Annotated[
        str | None,
        typer.Option(help="The text that was checked, so the safety team can see it."),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Appeal a decision; the appeal is linked to its rules and shown by `ponder rules test`."""
    log = existing_audit_log(load_cli_settings(config), must_exist=True)
    assert log is not None
    with log:
        appeal = log.appeal(decision_id, message, text=text)
    rules = ", ".join(appeal.decision.rules) or "no rule"
    console.print(f"appeal {appeal.appeal_id} recorded against decision {decision_id} ({rules})")
