"""The checker: runs the cascade over one text and returns a :class:`Verdict`.

The cascade has these stages:

1. **Matching.** Each :class:`RuleMatcher` proposes candidate rules that guard the
   checkpoint: (a) the policy's patterns, in microseconds, then (b) with an embedder, the
   :class:`SemanticMatcher` (closeness to each rule's examples).
2. **Deliberation.** If a model is given and the rule allows it, the model is asked
   whether the text breaks the rule's principle. Its answer is read from log-probabilities
   of "Yes" and "No", normalised to ``p(violation)``.

Each rule can turn any stage off (``stages: {semantic: false}``).

Small local models are weak judges, so deliberation can only *clear* a hit, and only when
the model is confident: a hit is cleared when ``p(violation) < clear_below`` (0.05 by
default) and stands otherwise. With ``deliberate="uncertain"`` the model is asked only
about candidates their stage marked uncertain (the classifier's uncertain band); every
other candidate stands without a model call. A model that is unsure, or that agrees,
changes nothing but the recorded confidence. Rules whose text may attack the judge
(prompt injection in retrieved knowledge) set ``stages: {deliberation: false}`` and are
never cleared.

:meth:`Checker.explain` returns the verdict with what each stage did (for
``ponder rules explain``); :meth:`Checker.check` returns only the verdict.

The checker fails closed. :meth:`Checker.explain` (which :meth:`Checker.check` calls) owns
failure handling and time limits and wraps the protected hook :meth:`Checker._check`: any
exception in a stage, or running past ``timeout_s``, gives a verdict of ``on_error`` with
``reason="checker_error"``, is logged, and is never ``allow``.

Two parts live beside this module: :mod:`~ponder.constitution.check_run` (the record a
stage reports to, and the time limit) and :mod:`~ponder.constitution.deliberation` (the
model's question and how its answer becomes ``p(violation)``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from ponder.agents.core.errors import CheckerError
from ponder.agents.models.base import ChatModel
from ponder.agents.models.batch_types import GenerationCancelled
from ponder.constitution.check_run import CheckRun, call_with_timeout
from ponder.constitution.deliberation import p_violation
from ponder.constitution.matchers import Candidate, PatternMatcher, RuleMatcher
from ponder.constitution.schema import CHECKPOINTS, Checkpoint, Policy, Rule
from ponder.constitution.semantic import SemanticMatcher
from ponder.constitution.verdict import Explanation, RuleHit, Verdict, strictest
from ponder.knowledge.embedder import Embedder

__all__ = ["Checker", "Deliberate", "OnError", "PolicyChecker"]

logger = logging.getLogger(__name__)

OnError = Literal["refuse", "escalate"]
"""The action of a verdict when the check itself fails."""

Deliberate = Literal["all", "uncertain"]
"""Which candidates a model deliberates over: every one, or only uncertain ones."""


class PolicyChecker(Protocol):
    """What the graph needs of a checker: :class:`Checker`, or a
    :class:`~ponder.constitution.reload.ReloadingChecker` that follows its files."""

    @property
    def policy(self) -> Policy:
        """The policy in force."""
        ...

    @property
    def matchers(self) -> Sequence[RuleMatcher]:
        """The matching stages in order (loading, ``ponder rules`` name them)."""
        ...

    @property
    def model(self) -> ChatModel | None:
        """The deliberation stage's model; ``None`` where pattern hits stand."""
        ...

    def check(self, text: str, checkpoint: Checkpoint) -> Verdict:
        """Check one text; fail closed, never raise, for a failing stage."""
        ...

    def check_many(self, texts: Iterable[str], checkpoint: Checkpoint) -> list[Verdict]:
        """Check several texts one by one."""
        ...

    def explain(self, text: str, checkpoint: Checkpoint) -> Explanation:
        """Check one text and report what each stage did."""
        ...

    def policy_for(self, verdict: Verdict) -> Policy:
        """The policy that decided ``verdict`` (its version names it), or the one in
        force once that one is forgotten."""
        ...


@dataclass
class _Judgement:
    hit: RuleHit
    cleared: bool
    note: str


class Checker:
    """Checks texts against a policy at a checkpoint and returns verdicts.

    Args:
        policy: The rules to check against.
        model: A model for the deliberation stage; without one, pattern hits stand.
        clear_below: A pattern hit is cleared only when the model's ``p(violation)`` is
            below this (between 0 and 1). Keep it small: the model must be confident.
        on_error: The verdict's action when a stage fails or times out.
        timeout_s: The most seconds one check may take; ``None`` for no limit.
        matchers: The matching stages; defaults to the policy's :class:`PatternMatcher`,
            followed by a :class:`SemanticMatcher` with default thresholds when
            ``embedder`` is given.
        embedder: Turns on the semantic stage. To choose its thresholds, pass
            ``matchers=[PatternMatcher(policy), SemanticMatcher(policy, embedder, ...)]``
            instead.
        deliberate: ``"all"`` asks the model about every candidate; ``"uncertain"`` only
            about candidates marked :attr:`Candidate.uncertain`.

    Raises:
        ValueError: An argument is out of range or not one of the allowed values, or both
            ``matchers`` and ``embedder`` are given.
    """

    def __init__(
        self,
        policy: Policy,
        model: ChatModel | None = None,
        *,
        clear_below: float = 0.05,
        on_error: OnError = "escalate",
        timeout_s: float | None = None,
        matchers: Sequence[RuleMatcher] | None = None,
        embedder: Embedder | None = None,
        deliberate: Deliberate = "all",
    ) -> None:
        if deliberate not in ("all", "uncertain"):
            raise ValueError(f"deliberate must be 'all' or 'uncertain', got {deliberate!r}")
        if not 0.0 <= clear_below <= 1.0:
            raise ValueError(f"clear_below must be between 0 and 1, got {clear_below}")
        if on_error not in ("refuse", "escalate"):
            raise ValueError(f"on_error must be 'refuse' or 'escalate', got {on_error!r}")
        if timeout_s is not None and not timeout_s > 0:
            raise ValueError(f"timeout_s must be positive or None, got {timeout_s}")
        if matchers is not None and embedder is not None:
            raise ValueError("pass either matchers or embedder, not both")
        self.policy = policy
        self.model = model
        self.clear_below = clear_below
        self.on_error: OnError = on_error
        self.timeout_s = timeout_s
        self.deliberate: Deliberate = deliberate
        if matchers is None:
            matchers = [PatternMatcher(policy)]
            if embedder is not None:
                matchers.append(SemanticMatcher(policy, embedder))
        self.matchers: tuple[RuleMatcher, ...] = tuple(matchers)

    def check(self, text: str, checkpoint: Checkpoint) -> Verdict:
        """Check one text. Never raises for a failing stage: it fails closed instead.

        Args:
            text: The text to check.
            checkpoint: Where it is checked.

        Returns:
            The verdict. If a stage raised or the check ran past ``timeout_s``, the verdict
            has action ``on_error`` and ``reason="checker_error"``.

        Raises:
            ValueError: ``checkpoint`` is not a checkpoint (a bug in the caller).
        """
        return self.explain(text, checkpoint).verdict

    def explain(self, text: str, checkpoint: Checkpoint) -> Explanation:
        """Check one text and report what each stage did. Fails closed like :meth:`check`.

        Args:
            text: The text to check.
            checkpoint: Where it is checked.

        Returns:
            The verdict with one :class:`StageReport` per stage that ran; a failed stage is
            the last report and carries the error.

        Raises:
            ValueError: ``checkpoint`` is not a checkpoint (a bug in the caller).
        """
        if checkpoint not in CHECKPOINTS:
            raise ValueError(f"checkpoint must be one of {CHECKPOINTS}, got {checkpoint!r}")
        deadline = None if self.timeout_s is None else time.monotonic() + self.timeout_s
        run = CheckRun(text=text, checkpoint=checkpoint, deadline=deadline)
        try:
            if self.timeout_s is None:
                verdict = self._check(run)
            else:
                verdict = call_with_timeout(lambda: self._check(run), run, self.timeout_s)
        except GenerationCancelled:
            raise  # the turn's client left: the turn stops as cancelled, nothing to review
        except Exception as exc:  # fail closed: a broken check must never allow
            run.fail(exc)
            verdict = self._error_verdict(run, exc)
        else:
            logger.debug(
                "checked %s: %s (rules: %s, policy %s)",
                checkpoint,
                verdict.action,
                ", ".join(verdict.fired) or "none",
                verdict.policy_version,
            )
        return Explanation(
            text=text, checkpoint=checkpoint, stages=tuple(run.stages), verdict=verdict
        )

    def check_many(self, texts: Iterable[str], checkpoint: Checkpoint) -> list[Verdict]:
        """Check several texts (such as retrieved knowledge chunks) one by one.

        Args:
            texts: The texts.
            checkpoint: Where they are checked.

        Returns:
            One verdict per text, in order; one text's failure does not affect the others.
        """
        return [self.check(text, checkpoint) for text in texts]

    def policy_for(self, verdict: Verdict) -> Policy:
        """The policy behind ``verdict``: a plain checker has only its own.

        Args:
            verdict: A verdict of this checker.

        Returns:
            :attr:`policy` (a :class:`~ponder.constitution.reload.ReloadingChecker` keeps
            the recent ones, by the version the verdict carries).
        """
        return self.policy

    def fail_closed(
        self, text: str, checkpoint: Checkpoint, error: Exception, *, stage: str
    ) -> Explanation:
        """The verdict for a check that failed before its stages could run, such as a
        policy reload that could not build its checker: logged, never ``allow``.

        Args:
            text: The text that was to be checked.
            checkpoint: Where.
            error: What went wrong.
            stage: The name of the step that failed, for the report.

        Returns:
            An explanation whose verdict has action ``on_error`` and
            ``reason="checker_error"``.

        Raises:
            ValueError: ``checkpoint`` is not a checkpoint (a bug in the caller).
        """
        if checkpoint not in CHECKPOINTS:
            raise ValueError(f"checkpoint must be one of {CHECKPOINTS}, got {checkpoint!r}")
        run = CheckRun(text=text, checkpoint=checkpoint, deadline=None)
        run.begin(stage)
        run.fail(error)
        verdict = self._error_verdict(run, error)
        return Explanation(
            text=text, checkpoint=checkpoint, stages=tuple(run.stages), verdict=verdict
        )

    def _check(self, run: CheckRun) -> Verdict:
        """Run the stages. Subclasses may override; :meth:`check` handles their failures.

        Each stage calls ``run.begin(stage)`` and ``run.finish(...)`` to report itself.
        """
        candidates = self._match(run)
        run.begin("deliberation")
        judgements = [self._deliberate(run, candidate) for candidate in candidates]
        run.finish(candidates, [f"{j.hit.rule_id}: {j.note}" for j in judgements])
        run.stage = "verdict"
        return self._decide(run, judgements)

    def _match(self, run: CheckRun) -> list[Candidate]:
        """Each matcher's candidates; a rule proposed by an earlier stage is kept from it."""
        candidates: list[Candidate] = []
        seen: set[str] = set()
        for matcher in self.matchers:
            run.begin(matcher.stage)
            proposed = matcher.candidates(run.text, run.checkpoint)
            notes: list[str] = []
            for candidate in proposed:
                if candidate.rule_id in seen:
                    notes.append(f"{candidate.rule_id}: already a candidate")
                    continue
                seen.add(candidate.rule_id)
                candidates.append(candidate)
                rule = self.policy.rule(candidate.rule_id)
                notes.append(f"{candidate.rule_id}: {_evidence(rule, candidate)}")
            run.finish(proposed, notes)
        return candidates

    def _deliberate(self, run: CheckRun, candidate: Candidate) -> _Judgement:
        rule = self.policy.rule(candidate.rule_id)
        if run.checkpoint not in rule.applies_to:
            raise CheckerError(
                f"matcher {candidate.stage!r} proposed rule {rule.id!r} at checkpoint "
                f"{run.checkpoint!r}, which the rule does not guard"
            )
        evidence = _evidence(rule, candidate)
        settled = self.deliberate == "uncertain" and not candidate.uncertain
        if self.model is None or not rule.stages.deliberation or settled:
            why = (
                "no model"
                if self.model is None
                else "deliberation is off for this rule"
                if not rule.stages.deliberation
                else "outside the uncertain band"
            )
            hit = _hit(rule, candidate.stage, evidence, confidence=None)
            return _Judgement(hit=hit, cleared=False, note=f"kept ({why})")
        p = p_violation(self.model, run, rule)
        hit = _hit(rule, "deliberation", evidence, confidence=p)
        if p < self.clear_below:
            note = f"cleared, p={p:.3f} < {self.clear_below}"
            return _Judgement(hit=hit, cleared=True, note=note)
        return _Judgement(hit=hit, cleared=False, note=f"kept, p={p:.3f}")

    def _decide(self, run: CheckRun, judgements: list[_Judgement]) -> Verdict:
        hits = tuple(j.hit for j in judgements if not j.cleared)
        lines = [f"{j.hit.rule_id} ({j.hit.evidence}): {j.note}" for j in judgements]
        return Verdict(
            action=strictest(hit.action for hit in hits),
            checkpoint=run.checkpoint,
            hits=hits,
            rationale="; ".join(lines) or f"no rule matched at checkpoint {run.checkpoint!r}",
            policy_version=self.policy.version,
            reason="rule" if hits else "none",
            cleared=tuple(j.hit for j in judgements if j.cleared),
        )

    def _error_verdict(self, run: CheckRun, exc: Exception) -> Verdict:
        logger.error(
            "constitution check failed in stage %r at checkpoint %r; failing closed with %r",
            run.stage,
            run.checkpoint,
            self.on_error,
            exc_info=exc,
        )
        return Verdict(
            action=self.on_error,
            checkpoint=run.checkpoint,
            hits=(),
            rationale=(
                f"checker error in stage {run.stage!r}: {type(exc).__name__}: {exc}; "
                f"failed closed with {self.on_error!r}"
            ),
            policy_version=self.policy.version,
            reason="checker_error",
        )


def _hit(rule: Rule, stage: str, evidence: str, *, confidence: float | None) -> RuleHit:
    return RuleHit(
        rule_id=rule.id,
        title=rule.title,
        action=rule.action,
        stage=stage,
        evidence=evidence,
        confidence=confidence,
        note=rule.note,
    )


def _evidence(rule: Rule, candidate: Candidate) -> str:
    if not candidate.spans:
        return candidate.detail or f"proposed by {candidate.stage}"
    if rule.redact:
        # Verdicts reach logs and API clients; never copy out what the rule would redact.
        where = ", ".join(f"{start}-{end}" for start, end in candidate.spans)
        return f"{len(candidate.spans)} match(es) at characters {where}"
    return ", ".join(repr(snippet) for snippet in candidate.snippets[:3])
