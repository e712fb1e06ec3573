"""PostgreSQL plumbing shared by the constitution's stores: the audit log
(:mod:`~ponder.constitution.audit_postgres`) and the suggested examples
(:mod:`~ponder.constitution.suggest_postgres`).

Each store opens the same way (:func:`open_pool`): one plain connection first, whose
errors name the cause (refused, no such database, bad password) where a pool would only
time out; on it, the store's tables are brought to the current version (:func:`migrate`);
then a small pool of autocommit connections that hand out rows as dicts, so a server
restart costs one failed call, not the process. Every error is an
:class:`~ponder.agents.core.errors.AuditError` that names the server without its
password (:func:`describe_url`) and the setting to check.

Replicas starting together take turns at migrating under a transaction-level advisory
lock that blocks (``pg_advisory_xact_lock``): these migrations are plain DDL in one short
transaction. The thread store (:mod:`ponder.graphs.persistence`) polls for its lock
instead, because LangGraph's migrations run ``CREATE INDEX CONCURRENTLY``, which waits
for the snapshot of a statement blocked on the lock.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import LiteralString

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import DictRow, TupleRow, dict_row
from psycopg_pool import ConnectionPool

from ponder.agents.core.errors import AuditError

__all__ = ["Tables", "describe_url", "migrate", "one_line", "open_pool", "store_errors"]


@dataclass(frozen=True, kw_only=True)
class Tables:
    """A store's tables, how they came to be, and how messages name them."""

    what: str
    """What the store holds, as messages name it: ``"the audit log"``."""
    migrations: tuple[LiteralString, ...]
    """The tables' history: entry ``i`` takes them from version ``i`` to ``i + 1`` (entry 0
    creates them). Append to it; never edit an entry a database may have run."""
    version_table: LiteralString
    """The table that records the version the tables are at."""
    lock: int
    """The advisory lock migrations take: a constant no other lock in the database uses."""
    setting: str = "audit_url"
    """The setting that names the server, for messages."""

    @property
    def version(self) -> int:
        """The version the migrations bring the tables to."""
        return len(self.migrations)


def describe_url(url: str) -> str:
    """A PostgreSQL URL without its password, for messages and logs.

    Args:
        url: A ``postgresql://`` URL or libpq connection string.

    Returns:
        ``postgresql://host:port/database``, with libpq's defaults where parts are missing.
    """
    try:
        parts = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "an unparsable PostgreSQL URL"
    host = parts.get("host") or "localhost"
    port = parts.get("port") or "5432"
    return f"postgresql://{host}:{port}/{parts.get('dbname') or ''}"


def one_line(exc: Exception) -> str:
    """An error's message on one line (libpq splits its messages over lines).

    Args:
        exc: The error.

    Returns:
        Its message with every run of whitespace made one space.
    """
    return " ".join(str(exc).split())


@contextmanager
def store_errors(failure: str, advice: str) -> Iterator[None]:
    """Raise a server's error inside the block as an :class:`AuditError` saying what failed.

    Args:
        failure: What could not be done, and where: ``cannot read the audit log at ...``.
        advice: What to do, or what it means: ``nothing was stored``.

    Raises:
        AuditError: ``failure: <the server's message>; advice``.
    """
    try:
        yield
    except psycopg.Error as exc:
        raise AuditError(f"{failure}: {one_line(exc)}; {advice}") from exc


def open_pool(
    url: str, tables: Tables, *, name: str, max_connections: int
) -> ConnectionPool[psycopg.Connection[DictRow]]:
    """Bring a store's tables to the current version and open its connection pool.

    Args:
        url: A ``postgresql://user:password@host:port/database`` URL.
        tables: The store's tables.
        name: The pool's name, in psycopg's logs.
        max_connections: Most connections held open to the server.

    Returns:
        An open pool of autocommit connections whose rows are dicts.

    Raises:
        AuditError: The server cannot be reached, or the database holds a newer schema
            than this Ponder knows.
    """
    location = describe_url(url)
    # A plain connection first: its errors name the cause, where a pool would only time out.
    with (
        store_errors(
            f"cannot open {tables.what} at {location}",
            f"check that the server is up and the URL is right (setting: {tables.setting})",
        ),
        psycopg.connect(url, autocommit=True, connect_timeout=10) as conn,
    ):
        migrate(conn, tables, location)
    return ConnectionPool(
        url,
        connection_class=psycopg.Connection[DictRow],
        kwargs={"autocommit": True, "row_factory": dict_row},
        min_size=1,
        max_size=max_connections,
        check=ConnectionPool.check_connection,
        name=name,
        open=True,
    )


def migrate(conn: psycopg.Connection[TupleRow], tables: Tables, location: str) -> None:
    """Run the migrations the database has not run yet, in one transaction.

    Args:
        conn: An autocommit connection to the store's database.
        tables: The store's tables.
        location: The server, as messages name it (:func:`describe_url`).

    Raises:
        AuditError: The database holds a newer schema than this Ponder knows.
        psycopg.Error: A migration failed; none was applied.
    """
    # Replicas starting together take turns, so each migration runs once.
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", [tables.lock])
        table = sql.Identifier(tables.version_table)
        conn.execute(
            sql.SQL("CREATE TABLE IF NOT EXISTS {} (version integer NOT NULL)").format(table)
        )
        row = conn.execute(sql.SQL("SELECT max(version) FROM {}").format(table)).fetchone()
        version: int = row[0] if row is not None and row[0] is not None else 0
        if version > tables.version:
            raise AuditError(
                f"the tables of {tables.what} at {location} are at schema version {version}, "
                f"newer than this Ponder's {tables.version}; upgrade Ponder to read them"
            )
        for migration in tables.migrations[version:]:
            conn.execute(migration)
        if version < tables.version:
            conn.execute(sql.SQL("INSERT INTO {} VALUES (%s)").format(table), [tables.version])
