"""torch's CPU threads are set once per process; a later model cannot change them."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import pytest
import torch

from ponder.agents.models import threads


@pytest.fixture
def fresh_process(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """As if no model had set the threads yet; torch's count is restored afterwards."""
    before = torch.get_num_threads()
    monkeypatch.setattr(threads, "_configured", None)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    yield
    torch.set_num_threads(before)


def test_the_first_setting_stands_and_a_conflicting_one_is_logged(
    fresh_process: None, caplog: pytest.LogCaptureFixture
) -> None:
    first = threads.configure_threads(1)
    with caplog.at_level(logging.WARNING, logger=threads.__name__):
        second = threads.configure_threads(2)

    assert first == second == torch.get_num_threads() == 1
    assert "keeping 1, not 2" in caplog.text


def test_the_default_is_the_cores_this_process_may_use(fresh_process: None) -> None:
    count = threads.configure_threads()

    assert count == threads.available_cores() == len(os.sched_getaffinity(0))
    assert torch.get_num_threads() == count
    assert threads.configure_threads() == count  # a later model shares it


def test_omp_num_threads_is_an_explicit_choice_too(
    fresh_process: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")

    assert threads.configure_threads() == 1


def test_fewer_than_one_thread_is_refused(fresh_process: None) -> None:
    with pytest.raises(ValueError, match="threads must be >= 1"):
        threads.configure_threads(0)
