"""Where threads and the audit log live: SQLite files on one machine, PostgreSQL for many.

:func:`open_checkpointer`, :func:`open_audit_log` and :func:`open_suggestion_log` read the
settings, so setting ``checkpoint_url`` and ``audit_url`` moves an assistant's state to
PostgreSQL with no code change (suggested rule examples live where the audit log does).
Then any replica behind a load balancer can continue any thread: the thread's messages
live in the database, not in the process that served the last turn.

Every checkpointer revives only Ponder's own state types (:func:`_serializer`), so a
tampered database cannot make a replica build arbitrary objects.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

from ponder.agents.core.errors import ConfigError
from ponder.constitution import SqliteAuditLog

if TYPE_CHECKING:
    import psycopg
    from langgraph.checkpoint.postgres import PostgresSaver
    from langgraph.checkpoint.sqlite import SqliteSaver
    from psycopg.rows import DictRow

    from ponder.constitution.audit_postgres import PostgresAuditLog
    from ponder.constitution.suggest import SuggestionLog
    from ponder.graphs.settings import Settings

__all__ = [
    "open_audit_log",
    "open_checkpointer",
    "open_suggestion_log",
    "postgres_checkpointer",
    "sqlite_checkpointer",
]

# Any constant will do: it only has to differ from other advisory locks in the database.
_SETUP_LOCK = 0x706F6E64657263  # "ponderc"
_SETUP_WAIT_S = 120.0
"""How long a replica waits for another one to finish creating the tables."""


def _take_setup_lock(conn: psycopg.Connection[DictRow], url: str) -> None:
    """Hold the setup lock for this session, polling rather than blocking.

    A blocking ``pg_advisory_lock`` deadlocks: LangGraph's migrations run ``CREATE INDEX
    CONCURRENTLY``, which waits for every open statement's snapshot, including the other
    replica's that is waiting for this lock. A failed try ends its statement at once, so
    the replica that holds the lock sees no snapshot to wait for.
    """
    deadline = time.monotonic() + _SETUP_WAIT_S
    while True:
        row = conn.execute("SELECT pg_try_advisory_lock(%s) AS taken", [_SETUP_LOCK]).fetchone()
        if row is not None and row["taken"]:
            return
        if time.monotonic() > deadline:
            from ponder.constitution.audit_postgres import describe_url

            raise ConfigError(
                f"another replica has been setting up the thread store at {describe_url(url)} "
                f"for over {_SETUP_WAIT_S:.0f} s; if none is running, end the session that "
                f"holds advisory lock {_SETUP_LOCK} (see pg_locks)"
            )
        time.sleep(0.2)


def _serializer() -> JsonPlusSerializer:
    # Only Ponder's own state types may be revived from a checkpoint.
    from ponder.agents.compose import AnswerCheck, Citation, Draft
    from ponder.agents.computation import ToolResult
    from ponder.agents.reasoning.hidden import HiddenChain
    from ponder.agents.router import Route
    from ponder.constitution import RuleHit, Verdict
    from ponder.graphs.release import Release
    from ponder.graphs.streaming import StreamedRelease
    from ponder.knowledge import Evidence

    types = (
        AnswerCheck,
        Citation,
        Draft,
        HiddenChain,
        Route,
        RuleHit,
        ToolResult,
        Verdict,
        Evidence,
        Release,
        StreamedRelease,
    )
    return JsonPlusSerializer(allowed_msgpack_modules=[(t.__module__, t.__name__) for t in types])


def sqlite_checkpointer(path: Path) -> SqliteSaver:
    """A thread store in one SQLite file (created with its folder if missing)."""
    from langgraph.checkpoint.sqlite import SqliteSaver

    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, check_same_thread=False)
    return SqliteSaver(conn, serde=_serializer())


def postgres_checkpointer(url: str, *, max_connections: int = 4) -> PostgresSaver:
    """A thread store in a PostgreSQL database, shared by every replica.

    Creates LangGraph's tables on first use (replicas starting together take turns). The
    saver keeps a small connection pool open for as long as it lives; close it with
    ``saver.conn.close()``.

    Args:
        url: A ``postgresql://user:password@host:port/database`` URL.
        max_connections: Most connections held open to the server.

    Returns:
        The checkpointer.

    Raises:
        ConfigError: The ``postgres`` extra is missing, or the server cannot be reached
            or set up.
    """
    try:
        import psycopg
        from langgraph.checkpoint.postgres import PostgresSaver
        from psycopg.rows import DictRow, dict_row
        from psycopg_pool import ConnectionPool

        from ponder.constitution.audit_postgres import describe_url
    except ImportError as exc:
        raise ConfigError(
            f"checkpoint_url needs the postgres extra ({exc}); install it with "
            "`pip install 'ponder[postgres]'` or unset checkpoint_url"
        ) from exc

    # LangGraph's saver reads rows as dicts and expects each statement to commit itself;
    # prepared statements off, so a pooler such as PgBouncer in transaction mode works.
    kwargs: dict[str, Any] = {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row}
    try:
        # A plain connection first: its errors name the cause (refused, no such database,
        # bad password), where a pool would only time out.
        with psycopg.Connection[DictRow].connect(url, connect_timeout=10, **kwargs) as conn:
            _take_setup_lock(conn, url)
            PostgresSaver(conn, serde=_serializer()).setup()
    except psycopg.Error as exc:
        raise ConfigError(
            f"cannot open the thread store at {describe_url(url)}: {_one_line(exc)}; check "
            "that the server is up and the URL is right (setting: checkpoint_url)"
        ) from exc
    pool = ConnectionPool(
        url,
        connection_class=psycopg.Connection[DictRow],
        kwargs=kwargs,
        min_size=1,
        max_size=max_connections,
        check=ConnectionPool.check_connection,
        name="ponder-threads",
        open=True,
    )
    return PostgresSaver(pool, serde=_serializer())


def _one_line(exc: Exception) -> str:
    # libpq splits its messages over lines; an error message here is one line.
    return " ".join(str(exc).split())


def open_checkpointer(settings: Settings) -> SqliteSaver | PostgresSaver:
    """The thread store the settings name: PostgreSQL at ``checkpoint_url``, else SQLite.

    Args:
        settings: Supplies ``checkpoint_url``, or ``checkpoint_db`` and ``data_dir``.

    Returns:
        The checkpointer.

    Raises:
        ConfigError: As :func:`postgres_checkpointer`.
    """
    if settings.checkpoint_url is not None:
        return postgres_checkpointer(settings.checkpoint_url.get_secret_value())
    return sqlite_checkpointer(settings.threads_path)


def open_audit_log(settings: Settings) -> SqliteAuditLog | PostgresAuditLog:
    """The audit log the settings name: PostgreSQL at ``audit_url``, else SQLite.

    Args:
        settings: Supplies ``audit_url``, or ``audit_db`` and ``data_dir``, and
            ``audit_keep_text``.

    Returns:
        The audit log (an :class:`~ponder.constitution.AuditLog`); close it when done.

    Raises:
        AuditError: The log cannot be opened.
        ConfigError: ``audit_url`` is set but the ``postgres`` extra is missing.
    """
    keep_text = settings.audit_keep_text
    if settings.audit_url is None:
        return SqliteAuditLog(settings.audit_path, keep_text=keep_text)
    try:
        from ponder.constitution.audit_postgres import PostgresAuditLog
    except ImportError as exc:
        raise ConfigError(
            f"audit_url needs the postgres extra ({exc}); install it with "
            "`pip install 'ponder[postgres]'` or unset audit_url"
        ) from exc
    return PostgresAuditLog(settings.audit_url.get_secret_value(), keep_text=keep_text)


def open_suggestion_log(settings: Settings) -> SuggestionLog:
    """Where reviewers' suggested rule examples live: beside the audit log, in PostgreSQL at
    ``audit_url``, else in SQLite at ``<data_dir>/suggestions.sqlite``.

    Every replica that shares an audit log so shares one list of suggestions, and an
    assistant on PostgreSQL writes no file on its machine.

    Args:
        settings: Supplies ``audit_url``, or ``data_dir``.

    Returns:
        The suggestion log; close it when done.

    Raises:
        AuditError: The log cannot be opened.
        ConfigError: ``audit_url`` is set but the ``postgres`` extra is missing.
    """
    if settings.audit_url is None:
        from ponder.constitution.suggest import suggestions_path
        from ponder.constitution.suggest_sqlite import SqliteSuggestionLog

        return SqliteSuggestionLog(suggestions_path(settings.data_dir))
    try:
        from ponder.constitution.suggest_postgres import PostgresSuggestionLog
    except ImportError as exc:
        raise ConfigError(
            f"audit_url needs the postgres extra ({exc}); install it with "
            "`pip install 'ponder[postgres]'` or unset audit_url"
        ) from exc
    return PostgresSuggestionLog(settings.audit_url.get_secret_value())
