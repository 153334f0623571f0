"""The two databases crs stores episodes in, opened with their own drivers: stdlib `sqlite3` and psycopg 3.

Why not SQLAlchemy's engine here. A step is a fresh process that runs a handful of statements on the
DB-API connection, yet importing SQLAlchemy cost 0.14–0.22 s of a 0.5 s `crs observe` (issue 13,
`python -X importtime`), more than the step's own work. This module is that engine's part crs used,
and no more: a URL in SQLAlchemy's own grammar (so every URL keeps its meaning), connections configured
once, a small pool of idle ones, driver errors as one exception. SQLAlchemy, SQLModel and Alembic stay
the schema's definition and its migrations (`sqlalchemy_engine()` builds an engine on these very
connections), imported only when a schema must be created or upgraded, or for `crs roles`.

SQLite writers: WAL, synchronous=FULL, foreign keys, a busy timeout, and transactions begun by us
(the driver's own BEGIN is off) so that a write transaction is `BEGIN IMMEDIATE`: the write lock is
taken before the episode is read, so a step never decides on a stale snapshot.

PostgreSQL: a lock timeout so a blocked step ends as a Conflict rather than hanging; read-only
databases run every transaction READ ONLY at REPEATABLE READ, enforced by the server, so an audit
sees one consistent snapshot and cannot write.

URLs. A SQLite URL takes one query parameter, `mode=ro`: the store then opens read-only whatever the
command (a command that records something is refused, exit 2, instead of writing behind the user's
back); anything else after `?` is refused, never ignored. A PostgreSQL URL takes libpq's own
parameters (sslmode, connect_timeout, ...); an unknown one is refused.

SQLite readers (audits by any OS user, HAZARDS H17): persistence/sqlite_readers.py.
"""

import os
import re
import select
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, unquote

from pathway.errors import Invalid
from persistence.sqlite_readers import snapshot_connection

READ_ONLY_URL = "the database was opened read-only (mode=ro in the URL); a command that records something needs " \
                "the URL without mode=ro"

_SQLITE_QUERY = {"mode": "ro"}  # the only query parameter a SQLite URL may carry, and its only value
#: 1 when the file is a crs database or an empty one (nothing but SQLite's own objects), else 0.
_CRS_OR_EMPTY = ("SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version') "
                 "OR NOT EXISTS (SELECT 1 FROM sqlite_master WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\')")
#: SQLAlchemy's URL grammar (sqlalchemy.engine.url._parse_url), so a URL means here what it meant there.
_URL = re.compile(r"""
    (?P<name>[\w+]+)://
    (?:(?P<username>[^:/]*)(?::(?P<password>[^@]*))?@)?
    (?:(?:\[(?P<ipv6host>[^/?]+)\]|(?P<ipv4host>[^/:?]+))?(?::(?P<port>[^/?]*))?)?
    (?:/(?P<database>[^?]*))?
    (?:\?(?P<query>.*))?
    """, re.VERBOSE)
_IDLE_MAX = 4  # idle connections kept per database (one per thread that steps is the common case)
_DISCONNECTED = ("the connection is closed", "the connection is lost", "connection not open",
                 "server closed the connection", "terminating connection", "consuming input failed",
                 "could not receive data", "could not send data", "ssl syscall error")


class DatabaseError(Exception):
    """A driver error (sqlite3 or psycopg) during `statement`; `orig` is the driver's own exception.

    Its text is the driver's first line only: never the statement's parameters (patient data)."""

    def __init__(self, statement: str, orig: BaseException, *, integrity: bool = False) -> None:
        first = str(orig).splitlines()[0] if str(orig) else type(orig).__name__
        super().__init__(first)
        self.statement = statement
        self.orig = orig
        self.integrity = integrity  # a constraint refused the write (a lost race on UNIQUE(episode_id, seq))


@dataclass(frozen=True)
class DatabaseUrl:
    """A parsed database URL (SQLAlchemy's grammar and names); `query` sorted by name (one URL, one text)."""

    drivername: str  # "sqlite" or "postgresql+psycopg" once parse_url has normalised it
    username: str | None = None
    password: str | None = None
    host: str | None = None
    port: int | None = None
    database: str | None = None
    query: tuple[tuple[str, str], ...] = ()

    @property
    def backend(self) -> str:
        """sqlite or postgresql."""
        return self.drivername.split("+")[0]

    @property
    def options(self) -> dict[str, str]:
        return dict(self.query)

    def render_as_string(self, hide_password: bool = True) -> str:
        """The URL as text, the password replaced by *** unless `hide_password` is False."""
        text = f"{self.drivername}://"
        if self.username is not None:
            text += quote(self.username, safe=" +")
            if self.password is not None:
                text += ":" + ("***" if hide_password else quote(self.password, safe=" +"))
            text += "@"
        if self.host is not None:
            text += f"[{self.host}]" if ":" in self.host else self.host
        if self.port is not None:
            text += f":{self.port}"
        if self.database is not None:
            text += f"/{self.database}"
        if self.query:
            text += "?" + "&".join(f"{quote_plus(k)}={quote_plus(v)}" for k, v in self.query)
        return text

    def __str__(self) -> str:
        return self.render_as_string(hide_password=True)


def parse_url(url_text: str) -> DatabaseUrl:
    """Parse and normalise a database URL; refuse what crs cannot store episodes in."""
    url = _parse(url_text)
    if url.drivername in ("postgresql", "postgres", "postgresql+psycopg"):
        _check_postgres_query(url)
        return replace(url, drivername="postgresql+psycopg")
    if url.drivername in ("sqlite", "sqlite+pysqlite"):
        if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
            raise Invalid("the SQLite database must be a file path, as in sqlite:///path/to/crs.db")
        if "\x00" in url.database:  # %00: no file can have this name (it was exit 70)
            raise Invalid("the SQLite database path is not valid (it contains a NUL character, %00)")
        _check_sqlite_query(url)
        return replace(url, drivername="sqlite")
    raise Invalid("only SQLite (sqlite:///PATH) and PostgreSQL (postgresql+psycopg://...) databases are supported")


def _parse(url_text: str) -> DatabaseUrl:
    found = _URL.fullmatch(url_text.strip()) if isinstance(url_text, str) else None
    if found is None:
        raise Invalid("the database URL is not valid; use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB")
    parts = found.groupdict()
    port = parts["port"]
    if port:
        if not port.isdigit():
            raise Invalid("the database URL is not valid (the port is not a number); use "
                          "postgresql+psycopg://USER@HOST:PORT/DB")
        port_number: int | None = int(port)
    else:
        port_number = None
    return DatabaseUrl(
        drivername=parts["name"].lower(),
        username=unquote(parts["username"]) if parts["username"] is not None else None,
        password=unquote(parts["password"]) if parts["password"] is not None else None,
        host=parts["ipv6host"] or parts["ipv4host"],
        port=port_number,
        database=unquote(parts["database"]) if parts["database"] is not None else None,
        query=tuple(sorted(parse_qsl(parts["query"]))) if parts["query"] else (),  # blanks dropped, as SQLAlchemy does
    )


def _check_sqlite_query(url: DatabaseUrl) -> None:
    for name, value in url.query:
        if _SQLITE_QUERY.get(name) != value:
            shown = name if name != "mode" else f"mode={value}"
            raise Invalid(f"the SQLite URL has an unsupported parameter ({shown}); the only one crs takes is "
                          "mode=ro (open the database read-only)")


def _check_postgres_query(url: DatabaseUrl) -> None:
    """libpq's own keywords only (the names, never the values: a value may be a password)."""
    if not url.query:
        return
    from psycopg import pq

    known = {option.keyword.decode() for option in pq.Conninfo.get_defaults()}
    unknown = sorted({name for name, _ in url.query} - known)
    if unknown:
        raise Invalid(f"the PostgreSQL URL has an unknown parameter ({unknown[0]}); use libpq's connection "
                      "parameters only, such as sslmode or connect_timeout")


def sqlite_path(url: DatabaseUrl) -> Path:
    return Path(url.database or "")


def read_only_url(url: DatabaseUrl) -> bool:
    """The URL itself asks for a read-only store (`?mode=ro` on SQLite)."""
    return url.backend == "sqlite" and url.options.get("mode") == "ro"


class Reader:
    """One read transaction's cursor. SQL in qmark style (`?`), turned into psycopg's `%s`; driver errors
    come out as DatabaseError."""

    def __init__(self, database: "Database", cursor: Any) -> None:
        self.database = database
        self.dialect = database.dialect
        self.cursor = cursor

    def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        return self.execute(sql, params).fetchall()

    def first(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        """The first row, or None."""
        return self.execute(sql, params).fetchone()

    def value(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        """The first column of the first row, or None when there is no row."""
        row = self.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        if self.dialect != "sqlite":
            sql = sql.replace("?", "%s")
        try:
            return self.cursor.execute(sql, params)
        except self.database.driver.Error as exc:
            raise self.database.wrap(exc, sql) from exc

    def close(self) -> None:
        self.cursor.close()


class Database:
    """One URL's connections: made configured, lent out, kept idle for the next unit of work.

    The pool is a list under a lock: taking a connection costs microseconds, so a process that steps
    repeatedly (a service, the benchmarks, the tests) reuses its connection instead of reconnecting.
    A connection is put back only when it is clean (its transaction ended, no driver error touched it),
    and lent again only while alive: a PostgreSQL connection the server dropped while it was idle (a
    restart, an idle timeout, an administrator's pg_terminate_backend) has the server's goodbye waiting
    on its socket, so a zero-timeout poll finds it before any statement is sent, and a new one is made.
    A forked child never uses, or closes, its parent's connections: they are forgotten on first use."""

    def __init__(self, url: DatabaseUrl, *, read_only: bool, timeout_s: float) -> None:
        if read_only_url(url) and not read_only:
            raise Invalid(READ_ONLY_URL)
        self.url = url
        self.read_only = read_only
        self.timeout_s = timeout_s
        self.dialect = url.backend
        self.driver: ModuleType = sqlite3 if self.dialect == "sqlite" else _psycopg()
        self.session_user: str | None = None  # PostgreSQL's authenticated role, asked once (identity.py)
        self._lock = threading.Lock()
        self._idle: list[Any] = []
        self._open = 0
        self._pid = os.getpid()

    # -- connections --------------------------------------------------------------------------------------
    def connect(self) -> Any:
        """A new connection, configured (see the module docstring); DatabaseError if the driver refuses."""
        try:
            conn = self._sqlite() if self.dialect == "sqlite" else self._postgres()
        except self.driver.Error as exc:
            raise self.wrap(exc, "") from exc
        with self._lock:
            self._open += 1
        return conn

    def _sqlite(self) -> sqlite3.Connection:
        path = sqlite_path(self.url)
        if self.read_only:
            conn: sqlite3.Connection = snapshot_connection(path, self.timeout_s)
            conn.isolation_level = None
        else:
            conn = sqlite3.connect(path, timeout=self.timeout_s, check_same_thread=False, isolation_level=None)
        try:
            cursor = conn.cursor()
            cursor.execute(f"PRAGMA busy_timeout = {int(self.timeout_s * 1000)}")
            cursor.execute("PRAGMA foreign_keys = ON")
            if self.read_only:
                cursor.execute("PRAGMA query_only = ON")
            else:
                if cursor.execute(_CRS_OR_EMPTY).fetchone()[0]:  # never convert someone else's database
                    cursor.execute("PRAGMA journal_mode = WAL")  # (schema.py refuses it, exit 2)
                cursor.execute("PRAGMA synchronous = FULL")
            cursor.close()
        except BaseException:
            conn.close()
            raise
        return conn

    def _postgres(self) -> Any:
        options = f"-c lock_timeout={int(self.timeout_s * 1000)}"
        if self.read_only:
            options += " -c default_transaction_read_only=on"
        url = self.url
        params: dict[str, Any] = dict(url.query)
        for key, value in (("host", url.host), ("port", url.port), ("user", url.username),
                           ("password", url.password), ("dbname", url.database)):
            if value is not None:
                params[key] = value
        params.update(options=options, connect_timeout=max(1, int(self.timeout_s)))
        conn = self.driver.connect(**params)
        if self.read_only:
            conn.isolation_level = self.driver.IsolationLevel.REPEATABLE_READ
        return conn

    def acquire(self) -> tuple[Any, bool]:
        """A connection for one transaction, and whether it was idle in the pool (it may have died since)."""
        if os.getpid() != self._pid:
            self._forget_parent()
        while True:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                conn, reused = self.connect(), False
            else:
                reused = True
            if reused and self.dialect != "sqlite" and _dropped_while_idle(conn):
                self.discard(conn)
                continue
            if getattr(conn, "crs_used", False) and not conn.crs_current():
                self.discard(conn)  # a private copy the database has moved on from: make a new one
                continue
            if hasattr(conn, "crs_used"):
                conn.crs_used = True
            return conn, reused

    def release(self, conn: Any, *, clean: bool) -> None:
        """Back to the pool when clean (its transaction ended, no error touched it); else closed."""
        if clean and os.getpid() == self._pid:
            with self._lock:
                if len(self._idle) < _IDLE_MAX:
                    self._idle.append(conn)
                    return
        self.discard(conn)

    def discard(self, conn: Any) -> None:
        """Close a connection for good (a lost one too: closing it again is harmless)."""
        with self._lock:
            self._open -= 1
        try:
            conn.close()
        except Exception:  # a connection the server already dropped: nothing to return
            pass

    def dispose(self) -> None:
        """Close every idle connection (those lent out close when their unit of work returns them)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            self.discard(conn)

    @property
    def open_connections(self) -> int:
        """Connections this process made on this database and has not closed (lent out or idle)."""
        return self._open

    @property
    def idle_connections(self) -> int:
        return len(self._idle)

    def _forget_parent(self) -> None:
        """In a forked child: the parent's connections share its sockets and files; never touch them."""
        with self._lock:
            self._idle, self._open, self._pid = [], 0, os.getpid()

    # -- transactions -------------------------------------------------------------------------------------
    @contextmanager
    def reading(self) -> Iterator[Reader]:
        """One read transaction (a consistent snapshot on both backends); never commits. The connection
        goes back to the pool unless a driver error touched it."""
        conn, _ = self.acquire()
        touched = False
        try:
            reader = Reader(self, conn.cursor())
            if self.dialect == "sqlite":
                reader.execute("BEGIN")
            yield reader
        except DatabaseError:
            touched = True
            raise
        except self.driver.Error as exc:
            touched = True
            raise self.wrap(exc, "") from exc
        finally:
            try:
                conn.rollback()
            except Exception:  # a lost connection: discarded below
                touched = True
            self.release(conn, clean=not touched)

    # -- errors -------------------------------------------------------------------------------------------
    def wrap(self, exc: BaseException, sql: str) -> DatabaseError:
        return DatabaseError(sql, exc, integrity=isinstance(exc, self.driver.IntegrityError))

    def is_disconnect(self, exc: BaseException, conn: Any) -> bool:
        """The connection is gone (a server restart, a terminated backend, a closed SQLite handle)."""
        if self.dialect == "sqlite":
            return isinstance(exc, sqlite3.ProgrammingError) and "closed database" in str(exc)
        if not isinstance(exc, self.driver.Error):
            return False
        if conn is not None and (conn.closed or getattr(conn, "broken", False)):
            return True
        said = str(exc).lower()
        return isinstance(exc, (self.driver.OperationalError, self.driver.InterfaceError)) and any(
            marker in said for marker in _DISCONNECTED)

    # -- SQLAlchemy, for Alembic's migrations and `crs roles` only --------------------------------------------
    def sqlalchemy_engine(self) -> Any:
        """A SQLAlchemy engine whose connections are this database's own (configured as above, not pooled);
        on SQLite its transactions begin IMMEDIATE, since it is only ever used to write."""
        from sqlalchemy import create_engine, event
        from sqlalchemy.pool import NullPool

        engine = create_engine(f"{self.url.drivername}://", creator=self._sqlalchemy_connection, poolclass=NullPool)
        if self.dialect == "sqlite":
            @event.listens_for(engine, "begin")
            def _begin(conn: Any) -> None:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
        return engine

    def _sqlalchemy_connection(self) -> Any:
        conn = self.connect()
        with self._lock:
            self._open -= 1  # SQLAlchemy closes it, not release(): it is not counted as ours
        return conn


def _dropped_while_idle(conn: Any) -> bool:
    """An idle PostgreSQL connection is dead when the client knows it, or when its socket is readable: nothing
    is owed to an idle client but the server's termination notice (or end of file). A false alarm (an
    unexpected notice) costs one reconnect."""
    if conn.closed or getattr(conn, "broken", False):
        return True
    try:
        readable, _, _ = select.select([conn.fileno()], [], [], 0)
    except Exception:  # no usable socket (closed, not a descriptor): as good as dropped
        return True
    return bool(readable)


def _psycopg() -> ModuleType:
    import psycopg

    return psycopg
