"""Tamper with a database behind the store's back, the way an attacker with file or superuser
access could, so the tests can show that `audit verify` notices.

The append-only triggers stop this, so tampering has to get past them first:
- SQLite (a raw connection, so foreign keys are off, SQLite's default): in one transaction, save
  the trigger definitions from sqlite_master, DROP them, run the tampering SQL, CREATE them
  again, COMMIT (the database keeps its triggers afterwards);
- PostgreSQL: `SET LOCAL session_replication_role = replica` (superuser only), which makes
  ordinary triggers not fire for that transaction.
"""

import sqlite3
from typing import Any

import psycopg
from sqlalchemy.engine import make_url


def _pg_connect(url: str) -> psycopg.Connection[Any]:
    parsed = make_url(url)
    return psycopg.connect(host=parsed.host, port=parsed.port, user=parsed.username, dbname=parsed.database)


def raw_connect(url: str) -> Any:
    """A plain DB-API connection (sqlite3 or psycopg) to the store's database."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return sqlite3.connect(parsed.database, isolation_level=None)
    return _pg_connect(url)


def placeholders(url: str, sql: str) -> str:
    """Write tests' SQL with `?` and get the backend's placeholder style."""
    return sql if make_url(url).get_backend_name() == "sqlite" else sql.replace("?", "%s")


def tamper(url: str, *statements: tuple[str, tuple[Any, ...]] | str) -> None:
    """Run SQL with the append-only triggers out of the way (see module docstring)."""
    items = [(s, ()) if isinstance(s, str) else s for s in statements]
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        conn = sqlite3.connect(parsed.database, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            triggers = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'").fetchall()
            for name, _ in triggers:
                conn.execute(f'DROP TRIGGER "{name}"')
            for sql, params in items:
                conn.execute(sql, params)
            for _, sql in triggers:
                conn.execute(sql)
            conn.execute("COMMIT")
        finally:
            conn.close()
        return
    with _pg_connect(url) as conn:
        conn.execute("SET LOCAL session_replication_role = replica")
        for sql, params in items:
            conn.execute(sql.replace("?", "%s"), params)
