"""A fresh PostgreSQL database per test, on the server ``PONDER_TEST_POSTGRES_URL`` names.

``.ci/run`` starts a throwaway server and sets the variable; without it, tests that use
:func:`postgres_url` skip and say which variable to set. Each test gets its own database,
dropped afterwards, so parallel runs and leftovers never collide.

Import the fixture into a test module or conftest: ``from postgres_fixtures import
postgres_url`` (pytest puts ``tests/`` on the import path for the root ``conftest.py``).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

ENV = "PONDER_TEST_POSTGRES_URL"


def server_url() -> str | None:
    """The test server's URL, or ``None`` when ``PONDER_TEST_POSTGRES_URL`` is unset."""
    return os.environ.get(ENV) or None


def _with_database(url: str, name: str) -> str:
    return urlsplit(url)._replace(path=f"/{name}").geturl()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """The URL of a new, empty database, dropped after the test."""
    url = server_url()
    if url is None:
        pytest.skip(f"no PostgreSQL server: set {ENV} (`.ci/run` starts one and sets it)")
    if not url.startswith(("postgresql://", "postgres://")):
        pytest.fail(f"{ENV} must be a postgresql:// URL, got {url!r}")
    import psycopg
    from psycopg import sql

    name = f"ponder_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True, connect_timeout=10) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield _with_database(url, name)
    finally:
        with psycopg.connect(url, autocommit=True, connect_timeout=10) as admin:
            # FORCE ends connections a failed test left open (PostgreSQL 13+).
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
