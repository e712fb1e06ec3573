"""The editor's store: drafts rewrite one rule, saves are checked, atomic and kept."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ponder.constitution import default_policy_path, load_policy
from ponder.constitution.editor import (
    EditRejected,
    OutsidePolicyFolder,
    PolicyStore,
    StaleEdit,
)
from ponder.constitution.editor.form import form_values, merge_form
from ponder.constitution.editor.store import HISTORY_DIR


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return Path(shutil.copytree(default_policy_path(), tmp_path / "policy"))


@pytest.fixture
def store(folder: Path) -> PolicyStore:
    return PolicyStore(folder)


def _texts(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(folder.glob("*.yaml"))}


def test_every_rule_reads_back_unchanged(store: PolicyStore) -> None:
    for rule in store.rules():
        source = store.read(rule.id)
        draft = store.draft(rule.id, source.yaml)
        assert draft.new_text == draft.old_text, rule.id


def test_save_rewrites_only_that_rule_and_keeps_history(folder: Path, store: PolicyStore) -> None:
    before = _texts(folder)
    old_policy = load_policy(folder)
    source = store.read("no-weapons")
    draft = store.draft("no-weapons", source.yaml.replace("severity: critical", "severity: high"))

    saved = store.save(draft, author="Ana", comment="lower it\nfor now", base=source.base)

    after = _texts(folder)
    changed = [
        (old, new)
        for old, new in zip(
            before["indiscriminate-weapons.yaml"].splitlines(),
            after["indiscriminate-weapons.yaml"].splitlines(),
            strict=False,
        )
        if old != new
    ]
    assert changed == [("    severity: critical", "    severity: high")]
    assert {k: v for k, v in after.items() if k != "indiscriminate-weapons.yaml"} == {
        k: v for k, v in before.items() if k != "indiscriminate-weapons.yaml"
    }
    new_policy = load_policy(folder)
    assert new_policy.rule("no-weapons").severity == "high"
    assert [r for r in new_policy.rules if r.id != "no-weapons"] == [
        r for r in old_policy.rules if r.id != "no-weapons"
    ]
    assert saved.policy_version == new_policy.version
    first, rest = saved.history.read_text().split("\n", 1)
    assert saved.history.parent == folder / HISTORY_DIR / "indiscriminate-weapons.yaml"
    assert first.startswith("# replaced ") and first.endswith("by Ana: lower it for now")
    assert rest == before["indiscriminate-weapons.yaml"]
    assert store.history("indiscriminate-weapons.yaml")[0] == (saved.history.name, first)
    assert not list(folder.glob(".*.tmp"))


def test_an_invalid_save_writes_nothing(folder: Path, store: PolicyStore) -> None:
    before = _texts(folder)
    source = store.read("no-weapons")
    draft = store.draft("no-weapons", source.yaml.replace("action: refuse", "action: deny"))

    with pytest.raises(EditRejected) as caught:
        store.save(draft, author="Ana", comment="", base=source.base)

    (issue,) = caught.value.issues
    assert (issue.file, issue.field) == ("indiscriminate-weapons.yaml", "action")
    assert issue.message.startswith(
        f"indiscriminate-weapons.yaml:{issue.line}: rule 'no-weapons': field 'action'"
    )
    assert source.yaml.splitlines()[issue.rule_line - 1].startswith("action:")
    assert _texts(folder) == before
    assert not (folder / HISTORY_DIR).exists()


def test_a_yaml_syntax_error_is_placed_in_the_rule(store: PolicyStore) -> None:
    source = store.read("no-weapons")
    draft = store.draft("no-weapons", source.yaml.replace("title: Weapons", "title: [Weapons"))

    issues, policy = store.check(draft)

    assert policy is None
    assert "YAML syntax error" in issues[0].message and issues[0].rule_line is not None


def test_a_duplicate_id_in_another_file_is_an_issue(store: PolicyStore) -> None:
    source = store.read("no-weapons")
    draft = store.draft(
        "no-weapons", source.yaml.replace("id: no-weapons", "id: no-secrets-output")
    )

    issues, _ = store.check(draft)

    assert any("duplicate id" in issue.message for issue in issues)


def test_a_save_over_a_changed_file_is_refused(folder: Path, store: PolicyStore) -> None:
    source = store.read("no-weapons")
    draft = store.draft("no-weapons", source.yaml.replace("severity: critical", "severity: high"))
    (folder / "indiscriminate-weapons.yaml").write_text(
        (folder / "indiscriminate-weapons.yaml").read_text() + "\n# edited\n"
    )

    with pytest.raises(StaleEdit):
        store.save(draft, author="Ana", comment="", base=source.base)


@pytest.mark.parametrize("name", ["../outside.yaml", "/etc/passwd", "sub/x.yaml", "link.yaml"])
def test_paths_outside_the_folder_are_refused(folder: Path, store: PolicyStore, name: str) -> None:
    outside = folder.parent / "outside.yaml"
    outside.write_text("rules: []\n")
    (folder / "link.yaml").symlink_to(outside)

    with pytest.raises(OutsidePolicyFolder):
        store.history(name)


def test_the_form_changes_its_fields_and_keeps_the_rest(store: PolicyStore) -> None:
    source = store.read("no-weapons")
    values = form_values(source.yaml)
    assert values is not None

    merged = merge_form(source.yaml, {**values, "patterns": [*values["patterns"], "zorblax"]})

    new = form_values(merged)
    assert new is not None and new["patterns"][-1] == "zorblax"
    issues, policy = store.check(store.draft("no-weapons", merged))
    assert not issues and policy is not None
    assert policy.rule("no-weapons").examples == load_policy(store.root).rule("no-weapons").examples
    assert "applies_to: [input, output]" in merged


def test_a_form_cannot_merge_into_broken_yaml() -> None:
    with pytest.raises(ValueError, match="YAML tab"):
        merge_form("id: [", {"title": "x"})
