"""The SuggestionLog contract: each example stored once, listed in order, marked, accepted.

Parametrized over every implementation: SQLite in a file, and PostgreSQL in a fresh
database when ``PONDER_TEST_POSTGRES_URL`` names a server (``.ci/run`` starts one); a new
store must pass it too. ``open_log`` opens another log on the same store, as a second
replica (or ``ponder rules suggest`` beside a server) would.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from explosives_policy import explosives_rule
from postgres_fixtures import postgres_url  # noqa: F401 (a fixture)

from ponder.constitution import load_policy
from ponder.constitution.suggest import (
    Suggestion,
    SuggestionLog,
    UnknownSuggestion,
    accept,
    suggest_from_review,
)
from ponder.constitution.suggest_sqlite import SqliteSuggestionLog

START = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

POLICY = "rules:\n" + explosives_rule(
    ("how do I build a pipe bomb", "input", "refuse"), ("how do volcanoes erupt", "input", "allow")
)


def _sqlite(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], SuggestionLog]:
    return lambda: SqliteSuggestionLog(tmp_path / "data" / "suggestions.sqlite")


def _postgres(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], SuggestionLog]:
    from ponder.constitution.suggest_postgres import PostgresSuggestionLog

    url: str = request.getfixturevalue("postgres_url")
    return lambda: PostgresSuggestionLog(url)


STORES = [
    pytest.param(_sqlite, id="sqlite"),
    pytest.param(_postgres, id="postgres", marks=pytest.mark.postgres),
]


@pytest.fixture(params=STORES)
def open_log(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[], SuggestionLog]]:
    """Opens a log on this test's store; every one opened is closed after the test."""
    opened: list[SuggestionLog] = []
    make = request.param(request, tmp_path)

    def open_one() -> SuggestionLog:
        opened.append(make())
        return opened[-1]

    yield open_one
    for log in opened:
        log.close()


@pytest.fixture
def log(open_log: Callable[[], SuggestionLog]) -> SuggestionLog:
    return open_log()


def _suggestion(n: int, text: str = "", **fields: object) -> Suggestion:
    values: dict[str, object] = {
        "suggestion_id": f"{n:016x}",
        "time": START + timedelta(minutes=n),
        "source": "review",
        "decision_id": f"d{n}",
        "rule_id": "no-explosives",
        "checkpoint": "input",
        "expected": "refuse",
        "text": text or f"text {n}",
        "author": "ana",
    }
    return Suggestion(**{**values, **fields})  # type: ignore[arg-type]


def test_it_is_a_suggestion_log(log: SuggestionLog) -> None:
    assert isinstance(log, SuggestionLog)


def test_a_suggestion_comes_back_as_it_went_in(log: SuggestionLog) -> None:
    made = _suggestion(1, 'a "quoted" text\nover two lines', decision_id=None, source="appeal")

    log.add([made])

    assert log.get(made.suggestion_id) == made
    assert log.get(made.suggestion_id).time.tzinfo is not None


def test_pending_suggestions_are_listed_oldest_first(log: SuggestionLog) -> None:
    log.add([_suggestion(3), _suggestion(1)])
    log.add([_suggestion(2)])

    assert [s.suggestion_id for s in log.list()] == [f"{n:016x}" for n in (1, 2, 3)]


def test_the_same_pending_example_is_stored_once(log: SuggestionLog) -> None:
    same = "pressure cooker shrapnel"

    log.add([_suggestion(1, same), _suggestion(2, same)])  # the same example in one call
    log.add([_suggestion(3, same)])  # and again later
    log.add([_suggestion(1, same)])  # the same suggestion again
    log.add([_suggestion(4, same, expected="allow")])  # another label is another example

    assert [(s.suggestion_id, s.expected) for s in log.list()] == [
        (f"{1:016x}", "refuse"),
        (f"{4:016x}", "allow"),
    ]


def test_a_dismissed_suggestion_leaves_the_pending_list(log: SuggestionLog) -> None:
    log.add([_suggestion(1), _suggestion(2)])

    log.mark(f"{1:016x}", "dismissed")
    log.add([_suggestion(1)])  # storing it again does not bring it back

    assert [s.suggestion_id for s in log.list()] == [f"{2:016x}"]
    assert [s.status for s in log.list(status=None)] == ["dismissed", "pending"]
    assert [s.suggestion_id for s in log.list(status="dismissed")] == [f"{1:016x}"]


def test_a_dismissed_example_may_be_suggested_again(log: SuggestionLog) -> None:
    log.add([_suggestion(1, "same")])
    log.mark(f"{1:016x}", "dismissed")

    log.add([_suggestion(2, "same")])  # a later reviewer decides the same way

    assert [s.suggestion_id for s in log.list()] == [f"{2:016x}"]


def test_an_unknown_id_is_named(log: SuggestionLog) -> None:
    with pytest.raises(UnknownSuggestion, match=r"'nope'.*ponder rules suggest"):
        log.get("nope")
    with pytest.raises(UnknownSuggestion, match="'nope'"):
        log.mark("nope", "dismissed")


def test_another_log_on_the_same_store_sees_and_marks_the_same_suggestions(
    open_log: Callable[[], SuggestionLog],
) -> None:
    first, second = open_log(), open_log()
    first.add([_suggestion(1, "same")])

    second.add([_suggestion(2, "same")])  # the other replica: the same example, another id
    second.mark(f"{1:016x}", "accepted")

    assert first.get(f"{1:016x}").status == "accepted"
    assert first.list() == second.list() == []


def test_accepting_appends_the_example_and_marks_it(log: SuggestionLog, tmp_path: Path) -> None:
    folder = tmp_path / "policies"
    folder.mkdir()
    (folder / "safety.yaml").write_text(POLICY, encoding="utf-8")
    policy = load_policy(folder)
    log.add(
        suggest_from_review(
            policy,
            text="thermite on a door hinge",
            checkpoint="input",
            rules=[],
            decision="refuse",
            author="ana",
            rule="no-explosives",
        )
    )
    [pending] = log.list()

    written = accept(log, pending.suggestion_id, policy, author="ana")

    assert len(written) == 1 and log.list() == []
    assert log.get(pending.suggestion_id).status == "accepted"
    assert load_policy(folder).rule("no-explosives").examples[-1] == pending.example
