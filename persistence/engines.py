"""SQLAlchemy engines for the two backends, configured once per URL and process.

SQLite writers: WAL, synchronous=FULL, foreign keys, a busy timeout, and transactions begun by
us (pysqlite's own BEGIN is disabled) so that write transactions are `BEGIN IMMEDIATE`: the
write lock is taken before the episode is read, so a step never decides on a stale snapshot.

PostgreSQL (psycopg 3): a lock timeout so a blocked step ends as a Conflict rather than
hanging; read-only stores run every transaction READ ONLY at REPEATABLE READ, enforced by the
server, so an audit sees one consistent snapshot and cannot write.

URLs. A SQLite URL takes one query parameter, `mode=ro`: the store then opens read-only
whatever the command (a command that records something is refused, exit 2, instead of writing
behind the user's back); anything else after `?` is refused, never ignored. A PostgreSQL URL
takes libpq's own parameters (sslmode, connect_timeout, ...); an unknown one is refused.

SQLite readers (audits by any OS user, HAZARDS H17): persistence/sqlite_readers.py.
"""

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError

from pathway.errors import Invalid
from persistence.sqlite_readers import snapshot_connection

WRITE = "crs_write"  # execution option marking a write transaction (BEGIN IMMEDIATE on SQLite)
READ_ONLY_URL = "the database was opened read-only (mode=ro in the URL); a command that records something needs " \
                "the URL without mode=ro"

_SQLITE_QUERY = {"mode": "ro"}  # the only query parameter a SQLite URL may carry, and its only value
#: 1 when the file is a crs database or an empty one (nothing but SQLite's own objects), else 0.
_CRS_OR_EMPTY = ("SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version') "
                 "OR NOT EXISTS (SELECT 1 FROM sqlite_master WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\')")


def parse_url(url_text: str) -> URL:
    """Parse and normalise a database URL; refuse what crs cannot store episodes in."""
    try:
        url = make_url(url_text)
    except (ArgumentError, ValueError):
        raise Invalid("the database URL is not valid; use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB") from None
    if url.drivername in ("postgresql", "postgres", "postgresql+psycopg"):
        _check_postgres_query(url)
        return url.set(drivername="postgresql+psycopg")
    if url.drivername in ("sqlite", "sqlite+pysqlite"):
        if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
            raise Invalid("the SQLite database must be a file path, as in sqlite:///path/to/crs.db")
        _check_sqlite_query(url)
        return url.set(drivername="sqlite")
    raise Invalid("only SQLite (sqlite:///PATH) and PostgreSQL (postgresql+psycopg://...) databases are supported")


def _check_sqlite_query(url: URL) -> None:
    for name, value in url.query.items():
        if _SQLITE_QUERY.get(name) != value:
            shown = name if name != "mode" else f"mode={value if isinstance(value, str) else ','.join(value)}"
            raise Invalid(f"the SQLite URL has an unsupported parameter ({shown}); the only one crs takes is "
                          "mode=ro (open the database read-only)")


def _check_postgres_query(url: URL) -> None:
    """libpq's own keywords only (the names, never the values: a value may be a password)."""
    if not url.query:
        return
    from psycopg import pq

    known = {option.keyword.decode() for option in pq.Conninfo.get_defaults()}
    unknown = sorted(set(url.query) - known)
    if unknown:
        raise Invalid(f"the PostgreSQL URL has an unknown parameter ({unknown[0]}); use libpq's connection "
                      "parameters only, such as sslmode or connect_timeout")


def sqlite_path(url: URL) -> Path:
    return Path(url.database or "")


def read_only_url(url: URL) -> bool:
    """The URL itself asks for a read-only store (`?mode=ro` on SQLite)."""
    return url.get_backend_name() == "sqlite" and url.query.get("mode") == "ro"


def make_engine(url: URL, *, read_only: bool, timeout_s: float) -> Engine:
    if url.get_backend_name() == "sqlite":
        if read_only_url(url) and not read_only:
            raise Invalid(READ_ONLY_URL)
        return _sqlite_engine(url, read_only=read_only, timeout_s=timeout_s)
    return _postgres_engine(url, read_only=read_only, timeout_s=timeout_s)


def _sqlite_engine(url: URL, *, read_only: bool, timeout_s: float) -> Engine:
    path = sqlite_path(url)
    kwargs: dict[str, Any] = {"connect_args": {"timeout": timeout_s}}
    if read_only:
        url = url.set(query={})
        kwargs = {"creator": lambda: snapshot_connection(path, timeout_s)}
    engine = create_engine(url, **kwargs)
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
                if cursor.execute(_CRS_OR_EMPTY).fetchone()[0]:  # never convert someone else's database
                    cursor.execute("PRAGMA journal_mode = WAL")  # (schema.py refuses it, exit 2)
                cursor.execute("PRAGMA synchronous = FULL")
        finally:
            cursor.close()

    if read_only:
        @event.listens_for(engine, "checkout")
        def _still_current(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
            """A private copy the database may have moved on from is not used again: the pool makes anew."""
            if dbapi_connection.crs_used and not dbapi_connection.crs_current():
                raise DisconnectionError("the database changed since its private copy was made")
            dbapi_connection.crs_used = True

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
