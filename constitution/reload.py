"""Hot reload: a checker that follows its policy files, so saved rules apply without a restart.

A :class:`PolicyWatcher` remembers the policy's files (name, inode, mtime, size). Before
each check, :class:`ReloadingChecker` asks it whether they changed, which costs a few
``stat`` calls. Only on a change are the files hashed, and only when their content
differs is the policy loaded again and the checker rebuilt with the same build function::

    policy = load_policy("policies/")
    checker = ReloadingChecker(PolicyWatcher(policy), lambda p: Checker(p, model))
    checker.check(text, "input").policy_version  # changes once a saved rule loads

Files that fail to load never replace the rules in force: the error (with file and line)
is logged once per broken version of the files, and checks go on under the last policy
that loaded. Nothing here can turn a check into ``allow`` by accident: an error while
rebuilding fails the check closed, as any other checker error does.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from ponder.agents.core.errors import ConfigError
from ponder.agents.models.base import ChatModel
from ponder.constitution.checker import Checker
from ponder.constitution.loader import load_policy
from ponder.constitution.matchers import RuleMatcher
from ponder.constitution.schema import Checkpoint, Policy
from ponder.constitution.verdict import Explanation, Verdict

__all__ = ["PolicyWatcher", "ReloadingChecker"]

logger = logging.getLogger(__name__)

_SUFFIXES = (".yaml", ".yml")  # the files the loader reads; .history/ and temp files are not
_KEPT_POLICIES = 8

_Stamp = tuple[tuple[str, int, int, int], ...]


class PolicyWatcher:
    """Notices when a loaded policy's files change, and loads them again.

    Args:
        policy: A policy loaded from files (its ``layers`` name them); watch it right after
            loading, so that the files seen now are the ones it came from.

    Raises:
        ValueError: ``policy`` was built in code and has no files to watch.
    """

    def __init__(self, policy: Policy) -> None:
        if not policy.layers:
            raise ValueError(
                "the policy was built in code, not loaded from files: nothing to watch"
            )
        self._paths = policy.layers
        self._policy = policy
        self._stamp = _stamp(self._paths)
        self._digest = _digest(self._paths)
        self._failed: str | None = None
        self._retry = False
        self._lock = threading.Lock()
        self.error: str | None = None
        """Why the files on disk do not load, or ``None`` when the policy in force is theirs."""

    @property
    def policy(self) -> Policy:
        """The policy in force: the last one that loaded."""
        return self._policy

    def poll(self) -> Policy | None:
        """Load the policy again if its files changed since the last poll.

        Returns:
            The new policy when the files changed and load with different rules (or after
            :meth:`retry`, the policy in force); ``None``
            when nothing changed, only layout or comments changed, or the files fail to
            load (then :attr:`error` says why and the old policy stays in force).
        """
        with self._lock:
            if self._retry:
                self._retry = False
                return self._policy
            stamp = _stamp(self._paths)
            if stamp == self._stamp:
                return None
            self._stamp = stamp
            digest = _digest(self._paths)
            if digest in (self._digest, self._failed):
                return None  # touched, or the same broken content already reported
            try:
                policy = load_policy(self._paths[0], *self._paths[1:])
            except ConfigError as exc:
                self._failed, self.error = digest, str(exc)
                logger.error(
                    "policy files changed but do not load; policy %s stays in force: %s",
                    self._policy.version,
                    exc,
                )
                return None
            self._digest, self._failed, self.error = digest, None, None
            if policy.version == self._policy.version:
                return None
            logger.info("policy reloaded: %s -> %s", self._policy.version, policy.version)
            self._policy = policy
            return policy

    def retry(self) -> None:
        """Have the next :meth:`poll` give the policy in force again, changed or not (its
        checker could not be built)."""
        with self._lock:
            self._retry = True


class ReloadingChecker:
    """A checker that reloads its policy before a check when the files changed.

    It wraps, and is not, a :class:`Checker`: each policy gets its own checker from
    ``build`` (the same model and stages each time), and a check runs whole on the checker
    in force when it starts, so a reload in another thread never mixes two policies in one
    verdict. :attr:`policy`, :attr:`matchers` and :attr:`model` are that checker's.

    Args:
        watcher: Watches the policy's files.
        build: Makes the checker for a policy.
    """

    def __init__(self, watcher: PolicyWatcher, build: Callable[[Policy], Checker]) -> None:
        self.watcher = watcher
        self._build = build
        self._inner = build(watcher.policy)
        # Recent policies by version, so a caller can find the rules a verdict came from
        # after a reload (a refusal names its rule).
        self._recent: OrderedDict[str, Policy] = OrderedDict(
            {self._inner.policy.version: self._inner.policy}
        )

    @property
    def policy(self) -> Policy:
        """The policy in force."""
        return self._inner.policy

    @property
    def matchers(self) -> tuple[RuleMatcher, ...]:
        """The matching stages of the checker in force."""
        return self._inner.matchers

    @property
    def model(self) -> ChatModel | None:
        """The deliberating model of the checker in force."""
        return self._inner.model

    def check(self, text: str, checkpoint: Checkpoint) -> Verdict:
        """Check one text under the newest policy that loads; fails closed like
        :meth:`Checker.check`.

        Args:
            text: The text to check.
            checkpoint: Where it is checked.

        Returns:
            The verdict.
        """
        return self.explain(text, checkpoint).verdict

    def check_many(self, texts: Iterable[str], checkpoint: Checkpoint) -> list[Verdict]:
        """Check several texts one by one (each may see a newer policy).

        Args:
            texts: The texts.
            checkpoint: Where they are checked.

        Returns:
            One verdict per text, in order.
        """
        return [self.check(text, checkpoint) for text in texts]

    def explain(self, text: str, checkpoint: Checkpoint) -> Explanation:
        """Reload if the files changed, then check with the checker in force.

        A reload whose checker cannot be built fails this check closed (and is tried again
        at the next check): the rules it would have added must not be skipped silently.

        Args:
            text: The text to check.
            checkpoint: Where it is checked.

        Returns:
            What each stage did, and the verdict.
        """
        current = self._inner
        try:
            current = self._refresh()
        except Exception as exc:  # fail closed, as a failing stage does
            return current.fail_closed(text, checkpoint, exc, stage="reload")
        return current.explain(text, checkpoint)

    def policy_for(self, verdict: Verdict) -> Policy:
        """The policy that decided ``verdict``, if still known; else the one in force.

        Args:
            verdict: A verdict of this checker.

        Returns:
            The policy whose version the verdict carries, or the current policy.
        """
        return self._recent.get(verdict.policy_version, self.policy)

    def _refresh(self) -> Checker:
        policy = self.watcher.poll()
        if policy is None:
            return self._inner
        try:
            inner = self._build(policy)
        except Exception:
            self.watcher.retry()  # rebuild on the next check rather than keep stale rules
            raise
        self._inner = inner
        self._recent[policy.version] = policy
        while len(self._recent) > _KEPT_POLICIES:
            self._recent.popitem(last=False)
        return inner


def _files(paths: Sequence[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        try:
            listed = sorted(p for p in path.iterdir() if p.suffix in _SUFFIXES and p.is_file())
        except OSError:  # a file, or gone: a missing one is stamped so, and load_policy says why
            listed = [path]
        files.extend(listed)
    return files


def _stamp(paths: Sequence[Path]) -> _Stamp:
    # The inode changes on every atomic save (write a temp file, then rename), so two
    # saves within one mtime tick of the same size are still told apart.
    stamps: list[tuple[str, int, int, int]] = []
    for file in _files(paths):
        try:
            st = os.stat(file)
        except OSError:
            stamps.append((str(file), -1, -1, -1))
            continue
        stamps.append((str(file), st.st_ino, st.st_mtime_ns, st.st_size))
    return tuple(stamps)


def _digest(paths: Sequence[Path]) -> str:
    sha = hashlib.sha256()
    for file in _files(paths):
        sha.update(str(file).encode() + b"\0")
        try:
            sha.update(file.read_bytes())
        except OSError as exc:  # load_policy will report it; the digest only has to differ
            sha.update(f"unreadable: {exc}".encode())
        sha.update(b"\0")
    return sha.hexdigest()
