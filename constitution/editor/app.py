"""The policy editor's HTTP routes (``ponder rules serve``): one page and a small JSON API.

::

    GET  /                           the editor page (static/editor.html, no CDN)
    GET  /api/rules?q=               rules (id, title, category, action, file), problems
    GET  /api/rules/{id}             one rule's YAML and the file's hash (``base``)
    POST /api/rules/{id}/validate    {yaml, form?} -> the loader's errors, the merged YAML
    POST /api/rules/{id}/test        {yaml, form?} -> the rule's examples through the checker
    POST /api/rules/{id}/diff        {yaml, form?} -> unified diff and changed outcomes
    POST /api/rules/{id}/save        {yaml, form?, author, comment, base} -> history entry
    GET  /api/history/{file}         a file's earlier versions
    GET  /api/suggestions            examples reviewers and upheld appeals suggest (pending)
    POST /api/suggestions/{id}/accept   {author} -> the example appended to its rule
    POST /api/suggestions/{id}/dismiss  {author} -> dropped

The logic lives in :mod:`.store` and :mod:`.review`; routes only translate. The editor
writes files and has no login, so it answers only requests addressed to a loopback host
name (which defeats DNS rebinding) unless ``trusted_hosts=None``, and takes writes only
as JSON from its own origin (a cross-site form cannot post JSON without CORS, which is
off).
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Awaitable, Callable, Collection
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from ponder.agents.core.errors import ConfigError
from ponder.constitution.checker import Checker, PolicyChecker
from ponder.constitution.diff import Change
from ponder.constitution.editor._yaml import load
from ponder.constitution.editor.form import form_values, merge_form
from ponder.constitution.editor.review import outcome_changes, report_rule, text_diff
from ponder.constitution.editor.store import (
    Draft,
    EditRejected,
    Issue,
    OutsidePolicyFolder,
    PolicyStore,
    StaleEdit,
)
from ponder.constitution.rule_tests import ExampleResult
from ponder.constitution.schema import Policy
from ponder.constitution.suggest import SuggestionLog, UnknownSuggestion, accept

__all__ = ["LOOPBACK_HOSTS", "DecideBody", "EditBody", "SaveBody", "create_app"]

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
"""Host names the editor answers by default."""

_T = TypeVar("_T")


class EditBody(BaseModel):
    """An edit in progress: the rule's YAML, and the form's values if edited in the form."""

    model_config = ConfigDict(extra="forbid")

    yaml: str
    """The rule's YAML text."""
    form: dict[str, Any] | None = None
    """Form fields to merge into ``yaml`` (they win over it)."""


class DecideBody(BaseModel):
    """A decision on a suggested example."""

    model_config = ConfigDict(extra="forbid")

    author: str = Field(min_length=1, max_length=200)
    """Who decides; recorded in the history entry."""


class SaveBody(EditBody):
    """An edit to save."""

    author: str = Field(min_length=1, max_length=200)
    """Who saves; recorded in the history entry."""
    comment: str = Field(default="", max_length=2000)
    """Why; recorded in the history entry."""
    base: str
    """The ``base`` the rule was opened with; a save over a changed file is refused."""


def create_app(
    root: Path,
    *,
    trusted_hosts: Collection[str] | None = LOOPBACK_HOSTS,
    suggestions: SuggestionLog | None = None,
    checker: Callable[[Policy], PolicyChecker] = Checker,
) -> FastAPI:
    """The editor app for one policy folder.

    Args:
        root: The policy folder.
        trusted_hosts: Host names a request may be addressed to; ``None`` for any (only
            behind your own authentication).
        suggestions: The assistant's suggested examples, to accept or dismiss on the
            page; ``None`` hides them.
        checker: Builds the checker that runs a rule's tests and the outcome diff;
            default: patterns only.

    Returns:
        The app, to run with uvicorn.

    Raises:
        ConfigError: ``root`` is not a folder.
    """
    routes = _Routes(PolicyStore(root), suggestions, checker)
    app = FastAPI(title="Ponder policy editor", docs_url=None, redoc_url=None, openapi_url=None)
    app.middleware("http")(_guard(trusted_hosts))
    app.add_api_route("/", routes.index, response_class=HTMLResponse)
    app.add_api_route("/api/rules", routes.rules)
    app.add_api_route("/api/rules/{rule_id}", routes.rule)
    for name in ("validate", "test", "diff", "save"):
        app.add_api_route(f"/api/rules/{{rule_id}}/{name}", getattr(routes, name), methods=["POST"])
    app.add_api_route("/api/history/{file_name}", routes.history)
    app.add_api_route("/api/suggestions", routes.suggestions)
    for name in ("accept", "dismiss"):
        app.add_api_route(
            f"/api/suggestions/{{suggestion_id}}/{name}",
            getattr(routes, f"{name}_suggestion"),
            methods=["POST"],
        )
    return app


class _Routes:
    """The route handlers over one store (FastAPI reads their parameters from the request)."""

    def __init__(
        self,
        store: PolicyStore,
        log: SuggestionLog | None,
        make_checker: Callable[[Policy], PolicyChecker],
    ) -> None:
        self.store = store
        self.log = log
        self.make_checker = make_checker
        self.page = (
            importlib.resources.files(__package__).joinpath("static", "editor.html").read_text()
        )

    def index(self) -> str:
        return self.page

    def rules(self, q: str = "") -> dict[str, Any]:
        words = q.lower().split()
        listed = [asdict(rule) for rule in self.store.rules()]
        found = [
            r for r in listed if all(w in " ".join(map(str, r.values())).lower() for w in words)
        ]
        issues = _issues(self.store.problems())
        return {"root": str(self.store.root), "rules": found, "issues": issues}

    def rule(self, rule_id: str) -> dict[str, Any]:
        source = _found(lambda: self.store.read(rule_id))
        return {**asdict(source), "form": form_values(source.yaml)}

    def validate(self, rule_id: str, body: EditBody) -> dict[str, Any]:
        draft, issues, policy = self._check(rule_id, body)
        return {
            "yaml": draft.yaml,
            "form": form_values(draft.yaml),
            "issues": _issues(issues),
            "version": policy.version if policy is not None else None,
        }

    def test(self, rule_id: str, body: EditBody) -> dict[str, Any]:
        draft, issues, policy = self._check(rule_id, body)
        if policy is None:
            return {"issues": _issues(issues)}
        new_id = _entry_id(draft)
        report = report_rule(policy, new_id, self.make_checker(policy))
        score = report.score
        return {
            "issues": [],
            "rule_id": new_id,
            "version": policy.version,
            "results": [_result(r) for r in report.results],
            "false_alarms": [_result(r) for r in report.false_alarms],
            "score": {**asdict(score), "precision": score.precision, "recall": score.recall},
        }

    def diff(self, rule_id: str, body: EditBody) -> dict[str, Any]:
        draft, issues, new = self._check(rule_id, body)
        answer: dict[str, Any] = {
            "text": text_diff(draft),
            "changes": [],
            "issues": _issues(issues),
        }
        if new is None:
            return answer
        try:
            old = self.store.policy()
        except ConfigError:
            return answer  # the saved folder does not load: no outcomes to compare
        answer["changes"] = [_change(c) for c in outcome_changes(old, new, self.make_checker)]
        answer["old_version"], answer["new_version"] = old.version, new.version
        return answer

    def save(self, rule_id: str, body: SaveBody) -> Any:
        draft, issues = _draft(self.store, rule_id, body)
        if issues:
            return JSONResponse({"issues": _issues(issues)}, status_code=422)
        try:
            saved = self.store.save(draft, author=body.author, comment=body.comment, base=body.base)
        except EditRejected as exc:
            return JSONResponse({"issues": _issues(exc.issues)}, status_code=422)
        except StaleEdit as exc:
            raise HTTPException(status_code=409, detail=str(exc)) from None
        new_id = _entry_id(draft)
        return {
            "file": saved.file,
            "history": str(saved.history.relative_to(self.store.root)),
            "version": saved.policy_version,
            "rule_id": new_id,
            "base": self.store.read(new_id).base,
        }

    def history(self, file_name: str) -> dict[str, Any]:
        try:
            entries = self.store.history(file_name)
        except OutsidePolicyFolder as exc:
            raise HTTPException(status_code=404, detail=str(exc)) from None
        return {"file": file_name, "entries": [{"name": n, "note": t} for n, t in entries]}

    def suggestions(self) -> dict[str, Any]:
        log = self._log()
        return {
            "suggestions": [
                {
                    "id": s.suggestion_id,
                    "rule": s.rule_id,
                    "checkpoint": s.checkpoint,
                    "expected": s.expected,
                    "source": s.source,
                    "author": s.author,
                    "text": s.text,
                }
                for s in log.list()
            ]
        }

    def accept_suggestion(self, suggestion_id: str, body: DecideBody) -> Any:
        log = self._log()
        try:
            written = accept(log, suggestion_id, self.store.policy(), author=body.author)
        except UnknownSuggestion as exc:
            raise HTTPException(status_code=404, detail=str(exc)) from None
        except EditRejected as exc:
            return JSONResponse({"issues": _issues(exc.issues)}, status_code=422)
        except (ConfigError, StaleEdit) as exc:
            raise HTTPException(status_code=409, detail=str(exc)) from None
        return {"accepted": suggestion_id, "history": [str(p) for p in written]}

    def dismiss_suggestion(self, suggestion_id: str, body: DecideBody) -> dict[str, Any]:
        try:
            self._log().mark(suggestion_id, "dismissed")
        except UnknownSuggestion as exc:
            raise HTTPException(status_code=404, detail=str(exc)) from None
        return {"dismissed": suggestion_id}

    def _log(self) -> SuggestionLog:
        if self.log is None:
            raise HTTPException(status_code=404, detail="this editor has no suggestion log")
        return self.log

    def _check(self, rule_id: str, body: EditBody) -> tuple[Draft, list[Issue], Policy | None]:
        draft, issues = _draft(self.store, rule_id, body)
        if issues:
            return draft, issues, None
        issues, policy = self.store.check(draft)
        return draft, issues, policy


def _guard(
    trusted_hosts: Collection[str] | None,
) -> Callable[[Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]:
    async def guard(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        host = request.headers.get("host", "")
        if trusted_hosts is not None and urlsplit(f"//{host}").hostname not in trusted_hosts:
            return JSONResponse({"detail": f"host {host!r} is not served"}, status_code=403)
        if request.method not in ("GET", "HEAD"):
            if request.headers.get("content-type", "").split(";")[0] != "application/json":
                return JSONResponse({"detail": "send JSON"}, status_code=415)
            origin = request.headers.get("origin")
            if origin is not None and urlsplit(origin).netloc != host:
                return JSONResponse({"detail": "cross-origin write refused"}, status_code=403)
        return await call_next(request)

    return guard


def _draft(store: PolicyStore, rule_id: str, body: EditBody) -> tuple[Draft, list[Issue]]:
    """The draft of ``body``; a form that cannot be merged is an issue, not an error."""
    entry, issues = body.yaml, []
    if body.form is not None:
        try:
            entry = merge_form(body.yaml, body.form)
        except ValueError as exc:
            issues = [Issue(message=str(exc), file=None, line=None, rule_line=None, field=None)]
    return _found(lambda: store.draft(rule_id, entry)), issues


def _found(read: Callable[[], _T]) -> _T:
    try:
        return read()
    except KeyError as exc:
        raise HTTPException(status_code=404, detail=str(exc.args[0])) from None


def _issues(issues: Collection[Issue]) -> list[dict[str, Any]]:
    return [asdict(issue) for issue in issues]


def _entry_id(draft: Draft) -> str:
    """The edited rule's id as the draft writes it: an edit may rename the rule."""
    rule = load(draft.yaml)
    return str(rule["id"]) if isinstance(rule, dict) and "id" in rule else draft.rule_id


def _change(change: Change) -> dict[str, Any]:
    item = change.input
    return {
        "source": item.source,
        "checkpoint": item.checkpoint,
        "text": item.text,
        "old": str(change.old),
        "new": str(change.new),
    }


def _result(result: ExampleResult) -> dict[str, Any]:
    return {
        "number": result.number,
        "rule_id": result.rule_id,
        "text": result.example.text,
        "checkpoint": result.example.checkpoint,
        "expected": result.example.expected,
        "actual": result.actual,
        "fired": list(result.fired),
        "passed": result.passed,
    }
