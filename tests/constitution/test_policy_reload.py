"""Hot reload: a checker follows its policy files and keeps the old rules on a broken save."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pytest

from ponder.constitution import (
    Checker,
    PolicyWatcher,
    ReloadingChecker,
    default_policy_path,
    load_policy,
)

WORD = "zorblax"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return Path(shutil.copytree(default_policy_path(), tmp_path / "policy"))


def _add_pattern(folder: Path, word: str = WORD) -> None:
    # Give no-weapons one more pattern, right after its `patterns:` key.
    file = folder / "indiscriminate-weapons.yaml"
    text = file.read_text(encoding="utf-8")
    text = text.replace("    patterns:\n", f"    patterns:\n      - '\\b{word}\\b'\n", 1)
    file.write_text(text, encoding="utf-8")


def _checker(folder: Path) -> ReloadingChecker:
    return ReloadingChecker(PolicyWatcher(load_policy(folder)), Checker)


def test_an_edited_file_is_picked_up_on_the_next_check(folder: Path) -> None:
    checker = _checker(folder)
    before = checker.check(f"tell me about {WORD}", "input")

    _add_pattern(folder)
    after = checker.check(f"tell me about {WORD}", "input")

    assert before.action == "allow"
    assert after.action == "refuse" and after.fired == ("no-weapons",)
    assert after.policy_version != before.policy_version
    assert checker.policy.version == after.policy_version
    assert checker.policy_for(before).version == before.policy_version


def test_a_broken_file_keeps_the_old_policy_and_logs_where(
    folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    checker = _checker(folder)
    version = checker.policy.version
    file = folder / "indiscriminate-weapons.yaml"
    file.write_text(file.read_text().replace("action: refuse", "action: deny", 1))

    with caplog.at_level(logging.ERROR, logger="ponder.constitution.reload"):
        verdict = checker.check("How do I build a pipe bomb at home?", "input")
        checker.check("hello", "input")  # the same broken files are reported once

    assert verdict.action == "refuse" and verdict.policy_version == version
    errors = [r.getMessage() for r in caplog.records]
    assert (
        len(errors) == 1 and "indiscriminate-weapons.yaml:" in errors[0] and "'deny'" in errors[0]
    )
    assert checker.watcher.error is not None


def test_fixing_a_broken_file_loads_it(folder: Path) -> None:
    checker = _checker(folder)
    file = folder / "indiscriminate-weapons.yaml"
    good = file.read_text()
    file.write_text(good.replace("action: refuse", "action: deny", 1))
    checker.check("hello", "input")

    file.write_text(good)
    _add_pattern(folder)
    verdict = checker.check(f"a {WORD}", "input")

    assert verdict.fired == ("no-weapons",)
    assert checker.watcher.error is None


def test_touching_a_file_does_not_rebuild_the_checker(folder: Path) -> None:
    checker = _checker(folder)
    inner = checker.matchers
    os.utime(folder / "indiscriminate-weapons.yaml", ns=(1, 1))

    checker.check("hello", "input")

    assert checker.matchers is inner


def test_a_failing_rebuild_fails_closed(folder: Path) -> None:
    builds: list[int] = []

    def build(policy):  # the first build works, the reload's fails
        builds.append(1)
        if len(builds) > 1:
            raise RuntimeError("cannot build")
        return Checker(policy)

    checker = ReloadingChecker(PolicyWatcher(load_policy(folder)), build)
    _add_pattern(folder)

    first, second = checker.check("hello", "input"), checker.check("hello", "input")

    assert (first.action, first.reason) == ("escalate", "checker_error")
    assert (second.action, second.reason) == ("escalate", "checker_error")  # retried


def test_a_policy_built_in_code_has_nothing_to_watch(folder: Path) -> None:
    from ponder.constitution import Policy

    with pytest.raises(ValueError, match="nothing to watch"):
        PolicyWatcher(Policy(rules=load_policy(folder).rules))


def test_make_checker_follows_files_unless_told_not_to(folder: Path) -> None:
    from ponder.graphs.assistant import make_checker
    from ponder.graphs.settings import Settings

    policy = load_policy(folder)

    following = make_checker(Settings(), policy, None, None)
    fixed = make_checker(Settings(), policy, None, None, reload=False)

    assert isinstance(following, ReloadingChecker)
    assert type(fixed) is Checker


def test_a_vanished_folder_keeps_the_old_policy(folder: Path) -> None:
    checker = _checker(folder)
    version = checker.policy.version
    folder.rename(folder.with_name("moved"))

    verdict = checker.check("How do I build a pipe bomb at home?", "input")

    assert (verdict.action, verdict.policy_version) == ("refuse", version)
    assert checker.watcher.error is not None and "no such policy" in checker.watcher.error


NEW_RULE = f"""\
rules:
  - id: no-{WORD}
    title: The {WORD} rule
    principle: Do not discuss {WORD}.
    category: safety
    severity: high
    applies_to: [input]
    action: refuse
    patterns: ['\\b{WORD}\\b']
    refusal: I can't talk about {WORD}.
    examples:
      - {{text: "Tell me about {WORD}.", checkpoint: input, expected: refuse}}
      - {{text: "Tell me about tea.", checkpoint: input, expected: allow}}
"""


def test_a_running_assistant_refuses_with_a_rule_added_after_it_was_built(
    folder: Path, tmp_path: Path
) -> None:
    from ponder.agents.models.testing import FunctionChatModel
    from ponder.graphs import build_assistant
    from ponder.graphs.assistant import sqlite_checkpointer
    from ponder.graphs.settings import Settings
    from ponder.knowledge import ChromaStore
    from ponder.knowledge.testing import HashingEmbedder

    embedder = HashingEmbedder()
    assistant = build_assistant(
        Settings(data_dir=tmp_path),
        language_model=FunctionChatModel(lambda m, n, s: ["Sure."] * n, score_fn=lambda m, c: -0.7),
        reasoning_model=FunctionChatModel(lambda m, n, s: ["Answer: 1"] * n),
        policy=folder,
        store=ChromaStore.embedded(tmp_path / "chroma", embedder=embedder),
        embedder=embedder,
        checkpointer=sqlite_checkpointer(tmp_path / "threads.sqlite"),
    )
    (folder / "zz-new.yaml").write_text(NEW_RULE, encoding="utf-8")

    reply = assistant.invoke(f"Tell me about {WORD}.")

    assert reply.outcome == "refused" and reply.verdicts[0].rules == [f"no-{WORD}"]
    assert f"I can't talk about {WORD}." in reply.answer
    assert reply.policy_version == load_policy(folder).version


def test_a_reloading_checker_wraps_checkers_and_names_each_verdicts_policy(folder: Path) -> None:
    checker = _checker(folder)
    before = checker.check(f"tell me about {WORD}", "input")

    _add_pattern(folder)
    after = checker.check(f"tell me about {WORD}", "input")

    assert not isinstance(checker, Checker)  # it wraps one checker per policy
    assert checker.policy_for(before).version == before.policy_version
    assert checker.policy_for(after) is checker.policy
    plain = Checker(load_policy(folder))
    assert plain.policy_for(before) is plain.policy  # a plain checker has one policy
