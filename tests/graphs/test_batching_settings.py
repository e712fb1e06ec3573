"""``server.batch_window_ms`` (5 ms by default) puts a local model made from settings behind
the batching scheduler; ``None``, models passed in code and remote models stay as they are."""

from __future__ import annotations

import pytest

from ponder.agents.models.batching import BatchingChatModel
from ponder.agents.models.local import LocalModel
from ponder.agents.models.testing import ScriptedChatModel
from ponder.graphs.parts_from_settings import batched, make_model
from ponder.graphs.settings import Settings


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PONDER_SERVER__BATCH_WINDOW_MS", raising=False)


def test_a_window_puts_a_local_model_behind_the_scheduler() -> None:
    settings = Settings(server={"batch_window_ms": 7})
    local = make_model(settings.language_model)  # weights load lazily: nothing loads here

    wrapped = batched(local, settings)

    assert isinstance(wrapped, BatchingChatModel)
    assert wrapped.inner is local and wrapped.window_s == pytest.approx(0.007)
    assert wrapped.name == local.name


def test_batching_is_on_by_default_off_with_none_and_only_for_models_computing_here() -> None:
    local = LocalModel("smollm2-135m")
    fake = ScriptedChatModel([])

    assert isinstance(batched(local, Settings()), BatchingChatModel)
    assert isinstance(batched(local, Settings(server={"batch_window_ms": 5})), BatchingChatModel)
    assert batched(local, Settings(server={"batch_window_ms": None})) is local
    assert batched(fake, Settings(server={"batch_window_ms": 5})) is fake


def test_the_window_is_checked_where_it_is_declared() -> None:
    with pytest.raises(ValueError, match="batch_window_ms"):
        Settings(server={"batch_window_ms": -1})


def test_null_in_the_environment_turns_batching_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PONDER_SERVER__BATCH_WINDOW_MS", "null")

    assert Settings().server.batch_window_ms is None
    assert not isinstance(batched(LocalModel("smollm2-135m"), Settings()), BatchingChatModel)
