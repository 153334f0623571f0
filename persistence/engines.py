"""SQLAlchemy engines for the two backends, configured once per URL and process.

SQLite: WAL, synchronous=FULL, foreign keys, a busy timeout, and transactions begun by us
(pysqlite's own BEGIN is disabled) so that write transactions are `BEGIN IMMEDIATE`: the
write lock is taken before the episode is read, so a step never decides on a stale snapshot.
Read-only stores open the file with `mode=ro` and never change it (no journal-mode pragma).

PostgreSQL (psycopg 3): a lock timeout so a blocked step ends as a Conflict rather than
hanging; read-only stores run every transaction READ ONLY at REPEATABLE READ, enforced by the
server, so an audit sees one consistent snapshot and cannot write.
"""

from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from pathway.errors import Invalid

WRITE = "crs_write"  # execution option marking a write transaction (BEGIN IMMEDIATE on SQLite)


def parse_url(url_text: str) -> URL:
    """Parse and normalise a database URL; refuse what crs cannot store episodes in."""
    try:
        url = make_url(url_text)
    except (ArgumentError, ValueError):
        raise Invalid("the database URL is not valid; use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB") from None
    if url.drivername in ("postgresql", "postgres", "postgresql+psycopg"):
        return url.set(drivername="postgresql+psycopg")
    if url.drivername in ("sqlite", "sqlite+pysqlite"):
        if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
            raise Invalid("the SQLite database must be a file path, as in sqlite:///path/to/crs.db")
        return url.set(drivername="sqlite")
    raise Invalid("only SQLite (sqlite:///PATH) and PostgreSQL (postgresql+psycopg://...) databases are supported")


def sqlite_path(url: URL) -> Path:
    return Path(url.database or "")


def make_engine(url: URL, *, read_only: bool, timeout_s: float) -> Engine:
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url, read_only=read_only, timeout_s=timeout_s)
    return _postgres_engine(url, read_only=read_only, timeout_s=timeout_s)


def _sqlite_engine(url: URL, *, read_only: bool, timeout_s: float) -> Engine:
    path = sqlite_path(url)
    if read_only:
        if not path.is_file():
            raise Invalid(f"cannot open the database: no file at {path}")
        uri = f"file:{quote(str(path.resolve()))}"
        url = URL.create("sqlite", database=uri, query={"mode": "ro", "uri": "true"})
    engine = create_engine(url, connect_args={"timeout": timeout_s})
    busy_ms = int(timeout_s * 1000)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (below)
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {busy_ms}")
            cursor.execute("PRAGMA foreign_keys = ON")
            if read_only:
                cursor.execute("PRAGMA query_only = ON")
            else:
                cursor.execute("PRAGMA journal_mode = WAL")
                cursor.execute("PRAGMA synchronous = FULL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        writing = conn.get_execution_options().get(WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if writing else "BEGIN")

    return engine


def _postgres_engine(url: URL, *, read_only: bool, timeout_s: float) -> Engine:
    options = f"-c lock_timeout={int(timeout_s * 1000)}"
    kwargs: dict[str, Any] = {}
    if read_only:
        options += " -c default_transaction_read_only=on"
        kwargs["isolation_level"] = "REPEATABLE READ"
    connect_args = {"options": options, "connect_timeout": max(1, int(timeout_s))}
    return create_engine(url, connect_args=connect_args, pool_pre_ping=False, **kwargs)
