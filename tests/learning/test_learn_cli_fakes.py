"""``ponder learn`` on fakes: a planted-tree policy and toy items stand in for the model and
reasoning-gym, so the commands' wiring, resumption and errors run in seconds."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from learning_fakes import FakePolicy, ToyItem
from typer.testing import CliRunner, Result

from ponder.agents.learning import ValueHead
from ponder.graphs.cli import app
from ponder.graphs.cli import learn as learn_cli

SHAPE = ["--step-format", "prose", "--widths", "4,2", "--max-depth", "4"]
SHAPE += ["--max-step-tokens", "16", "--batch", "1"]
FAST_HEAD = ["--kinds", "logistic", "--l2", "1e-2", "--pca-dims", "4", "--folds", "3"]
FAST_HEAD += ["--epochs", "100"]


def _items(count: int) -> list[ToyItem]:
    return [ToyItem(f"toy/{i}", question=f"What is 6 times 7? (case {i})") for i in range(count)]


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> Callable[..., list[FakePolicy]]:
    """Install a fake policy (fresh per command) and ``count`` toy items; returns the
    policies the commands used."""
    used: list[FakePolicy] = []

    def install(count: int, **policy: object) -> list[FakePolicy]:
        def open_policy(model: str, **_: object) -> FakePolicy:
            used.append(FakePolicy(**policy))  # type: ignore[arg-type]
            return used[-1]

        def training_set(families: Sequence[str], per_family: int) -> list[ToyItem]:
            return _items(count)

        monkeypatch.setattr(learn_cli, "open_policy", open_policy)
        monkeypatch.setattr(learn_cli, "training_set", training_set)
        return used

    return install


def _learn(*args: str) -> Result:
    return CliRunner().invoke(app, ["learn", *args])


def _trace_ids(folder: Path) -> list[str]:
    lines = (folder / "traces.jsonl").read_text().splitlines()
    return [json.loads(line)["question_id"] for line in lines]


def test_the_group_lists_its_four_commands() -> None:
    result = _learn("--help")

    assert result.exit_code == 0
    for command in ("collect", "train-head", "gate", "finetune"):
        assert command in result.output


@pytest.mark.parametrize(
    ("command", "files"),
    [
        ("collect", ["learning/round0", "manifest.json", "traces.jsonl", "features/ITEM.npz"]),
        ("train-head", ["FIRST_COLLECTION/head.npz", "value_head: FILE", "--value-head FILE"]),
        ("gate", ["writes no file"]),
        ("finetune", ["FIRST_COLLECTION/adapter.safetensors", "OUT.ckpt", "adapter: FILE"]),
    ],
)
def test_each_commands_help_says_where_its_files_go(command: str, files: list[str]) -> None:
    result = CliRunner().invoke(app, ["learn", command, "--help"], terminal_width=400)

    assert result.exit_code == 0
    text = " ".join(result.output.split())
    for name in files:
        assert name in text


def test_the_groups_help_says_where_files_go_and_how_to_use_them() -> None:
    result = CliRunner().invoke(app, ["learn", "--help"], terminal_width=400)

    text = " ".join(result.output.split())
    for name in ("COLLECTION/head.npz", "COLLECTION/adapter.safetensors", "adapter: FILE"):
        assert name in text
    assert "--scorer learned --value-head FILE --adapter FILE" in text


def test_collect_writes_a_store_and_a_second_run_resumes(
    tmp_path: Path, fakes: Callable[..., list[FakePolicy]]
) -> None:
    out = tmp_path / "round0"
    fakes(3)
    first = _learn("collect", "--out", str(out), "--limit", "2", *SHAPE)
    assert first.exit_code == 0, first.output
    assert _trace_ids(out) == ["toy/0", "toy/1"]
    assert "[1/3] toy/0" in first.output and "[2/3] toy/1" in first.output

    # The second policy crashes on the first item's question: redoing it would fail.
    used = fakes(3, fail_on="What is 6 times 7? (case 0)")
    second = _learn("collect", "--out", str(out), *SHAPE)

    assert second.exit_code == 0, second.output
    assert "(2 already there)" in second.output
    assert "[3/3] toy/2" in second.output and "[1/3]" not in second.output
    assert _trace_ids(out) == ["toy/0", "toy/1", "toy/2"]
    assert (out / "features" / "toy__2.npz").is_file()
    assert used[-1].generated > 0


def test_collect_with_fresh_starts_over_and_other_options_are_refused(
    tmp_path: Path, fakes: Callable[..., list[FakePolicy]]
) -> None:
    out = tmp_path / "round0"
    fakes(2)
    assert _learn("collect", "--out", str(out), *SHAPE).exit_code == 0

    other = _learn("collect", "--out", str(out), *SHAPE, "--seed", "7")
    fresh = _learn("collect", "--out", str(out), *SHAPE, "--seed", "7", "--fresh", "--limit", "1")

    assert other.exit_code == 1
    assert "holds a collection made another way" in other.output
    assert "seed: 0 there, 7 now" in other.output and "--fresh" in other.output
    assert fresh.exit_code == 0, fresh.output
    assert _trace_ids(out) == ["toy/0"]


def test_a_collection_continues_only_in_the_precision_it_was_read_in(
    tmp_path: Path, fakes: Callable[..., list[FakePolicy]]
) -> None:
    out = tmp_path / "round0"
    fakes(2)
    made = _learn("collect", "--out", str(out), *SHAPE, "--dtype", "float32", "--limit", "1")
    assert made.exit_code == 0, made.output
    assert json.loads((out / "manifest.json").read_text())["dtype"] == "float32"

    other = _learn("collect", "--out", str(out), *SHAPE, "--dtype", "bfloat16")

    assert other.exit_code == 1
    assert "dtype: 'float32' there, 'bfloat16' now" in other.output
    assert _trace_ids(out) == ["toy/0"]


@pytest.fixture
def collection(tmp_path: Path, fakes: Callable[..., list[FakePolicy]]) -> Path:
    out = tmp_path / "round0"
    fakes(30)
    result = _learn("collect", "--out", str(out), *SHAPE)
    assert result.exit_code == 0, result.output
    return out


def test_train_head_writes_a_head_that_records_the_policy(collection: Path) -> None:
    result = _learn("train-head", str(collection), *FAST_HEAD)

    assert result.exit_code == 0, result.output
    head = ValueHead.load(collection / "head.npz")
    assert head.meta.policy == "fake-policy" and head.meta.policy_sha256 == "f" * 64
    assert head.meta.trained["command"] == "ponder learn train-head"
    assert head.meta.trained["collections"] == [str(collection)]
    assert "cv logistic l2=0.01" in result.output
    assert f"wrote {collection / 'head.npz'}" in result.output


def test_gate_judges_a_head_and_refuses_one_of_another_policy(
    tmp_path: Path, collection: Path, fakes: Callable[..., list[FakePolicy]]
) -> None:
    head = tmp_path / "head.npz"
    assert _learn("train-head", str(collection), "--out", str(head), *FAST_HEAD).exit_code == 0
    fakes(4, policy_sha256="e" * 64, name="other-policy")
    other = tmp_path / "other"
    assert _learn("collect", "--out", str(other), *SHAPE).exit_code == 0

    judged = _learn("gate", str(head), str(collection), "--json")
    refused = _learn("gate", str(head), str(other))

    report = json.loads(judged.stdout)
    assert report["trees"] > 0 and report["pairs"]["n"] > 0
    assert judged.exit_code == (0 if report["passed"] else 1)
    assert refused.exit_code == 1
    assert f"value head {head} was trained on fake-policy" in refused.output
    assert "not on other-policy" in refused.output and "ponder learn train-head" in refused.output


@pytest.mark.parametrize("command", ["train-head", "finetune"])
def test_a_missing_collection_folder_is_a_clear_error(tmp_path: Path, command: str) -> None:
    missing = tmp_path / "nope"

    result = _learn(command, str(missing))

    assert result.exit_code == 1
    assert f"collection folder {missing} not found" in result.output
    assert f"ponder learn collect --out {missing}" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_finetune_refuses_a_collection_without_a_verified_chain(
    tmp_path: Path, fakes: Callable[..., list[FakePolicy]]
) -> None:
    out = tmp_path / "wrong"
    fakes(2, tree={(): ["Answer: 1"]})
    assert _learn("collect", "--out", str(out), *SHAPE).exit_code == 0

    result = _learn("finetune", str(out))

    assert result.exit_code == 1
    assert f"no verified chains in {out}" in result.output
    assert not (out / "adapter.safetensors").exists()


def test_collect_with_a_missing_adapter_stops_before_making_a_folder(
    tmp_path: Path, fakes: Callable[..., list[FakePolicy]]
) -> None:
    fakes(1)
    adapter, out = tmp_path / "none.safetensors", tmp_path / "round1"

    result = _learn("collect", "--out", str(out), "--adapter", str(adapter), *SHAPE)

    assert result.exit_code == 1
    assert f"adapter {adapter} not found; train one with `ponder learn finetune`" in result.output
    assert not out.exists()


def test_collect_with_a_misspelt_shipped_adapter_names_the_shipped_ones(
    tmp_path: Path, fakes: Callable[..., list[FakePolicy]]
) -> None:
    fakes(1)
    out = tmp_path / "round1"

    result = _learn("collect", "--out", str(out), "--adapter", "qwen-round1", *SHAPE)

    assert result.exit_code == 1
    assert "'qwen-round1' is not a file nor a shipped adapter" in result.output
    assert "qwen2.5-coder-0.5b-round1" in result.output
    assert not out.exists()


def test_gate_names_a_missing_head_first(tmp_path: Path) -> None:
    result = _learn("gate", str(tmp_path / "head.npz"), str(tmp_path / "nope"))

    assert result.exit_code == 1
    assert f"value head {tmp_path / 'head.npz'} not found" in result.output
