"""The Store: the one way into the database for the CLI and the audit.

Engines are cached per URL for the life of the process and the schema is checked once per
process and URL (one SELECT when already current), so a CLI command pays for neither twice.
A step's statements run on the pooled DB-API connection (unit_of_work.py); queries and the audit
use SQL text on SQLAlchemy Core. No ORM objects anywhere.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError

from pathway.episode import Episode
from pathway.errors import Invalid, NotFound
from pathway.service import RefusalRecord
from persistence.engines import WRITE, make_engine, parse_url, sqlite_path
from persistence.paths import os_reason, path_problem, shown_path
from persistence.rows import EVENT_COLUMNS, REFUSAL_COLUMNS, StoredEvent, event_from_row, refusal_from_row
from persistence.schema import ensure_schema
from persistence.unit_of_work import SqlUnitOfWork, conflict_or_none, held_connections, read_snapshot

__all__ = ["Store", "StoredEvent", "default_url", "reset_process_cache"]

_ENGINES: dict[tuple[str, bool, float], Engine] = {}
_SCHEMA_CHECKED: set[tuple[str, bool, float]] = set()


def default_url() -> str:
    """`crs.db` in the user data dir (created if missing). A folder that cannot be made (XDG_DATA_HOME under
    /proc, a file where the folder should be, no permission) is invalid input, exit 2: the user must say
    where the database is."""
    from platformdirs import user_data_dir

    folder = Path(user_data_dir("crs-pathway"))
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise Invalid(f"cannot create the data folder {shown_path(folder)} for the default database: "
                      f"{os_reason(exc)}; give the database with --db or CRS_DB") from None
    return f"sqlite:///{folder / 'crs.db'}"


def reset_process_cache() -> None:
    """Dispose every cached engine and forget schema checks (tests; a process after a migration)."""
    for engine in _ENGINES.values():
        held_connections(engine).release()
        engine.dispose()
    _ENGINES.clear()
    _SCHEMA_CHECKED.clear()


def _cannot_open(url: URL, exc: DBAPIError, *, writing: bool = False) -> Invalid:
    """The driver's refusal to open as one sentence; on SQLite, what on the file system explains it (a name too
    long, a folder, a file or folder this user may not read or write) rather than "unable to open"."""
    if url.get_backend_name() == "sqlite":
        path = sqlite_path(url)
        found = path_problem(path, writing=writing)
        if found is not None:
            verb, why = found
            return Invalid(f"cannot {verb} the database {shown_path(path)}: {why}")
        reason = str(exc.orig).splitlines()[0] if exc.orig is not None else "unknown error"
        return Invalid(f"cannot open the database {shown_path(path)}: {reason}")
    where = f"{url.host or 'localhost'}:{url.port or 5432}/{url.database or ''}"
    original = getattr(exc, "orig", None)
    if getattr(original, "sqlstate", None) == "42501" or "permission denied" in str(original).lower():
        return Invalid(f"the PostgreSQL login '{url.username or '?'}' may not use the crs database {where} "
                       "(permission denied); ask its owner for the crs_clinician or crs_auditor role (`crs roles`)")
    return Invalid(f"cannot open the PostgreSQL database {where}; check that the server runs and the URL is right")


def _engine(url: str, read_only: bool, timeout_s: float) -> tuple[URL, tuple[str, bool, float], Engine]:
    """The parsed URL, its cache key and its engine (made once per process)."""
    parsed = parse_url(url)
    key = (parsed.render_as_string(hide_password=False), read_only, timeout_s)
    engine = _ENGINES.get(key)
    if engine is None:
        engine = _ENGINES[key] = make_engine(parsed, read_only=read_only, timeout_s=timeout_s)
    return parsed, key, engine


def _ensure(parsed: URL, key: tuple[str, bool, float], engine: Engine, read_only: bool) -> str | None:
    """Check or migrate the schema (persistence/schema.py), once per process and URL; the revision found."""
    try:
        found = ensure_schema(engine, None if read_only else engine.execution_options(**{WRITE: True}))
    except DBAPIError as exc:
        raise conflict_or_none(exc) or _cannot_open(parsed, exc, writing=not read_only) from None
    _SCHEMA_CHECKED.add(key)
    return found


class Store:
    """Episodes, their events and the refusal log on one database (SQLite or PostgreSQL)."""

    def __init__(self, url: URL, engine: Engine, *, read_only: bool) -> None:
        self._url = url
        self._engine = engine
        self.read_only = read_only

    @classmethod
    def open(cls, url: str, *, read_only: bool = False, timeout_s: float = 10.0) -> "Store":
        """Open (and on first writable use create or upgrade) the database at `url`."""
        parsed, key, engine = _engine(url, read_only, timeout_s)
        if key not in _SCHEMA_CHECKED:
            _ensure(parsed, key, engine, read_only)
        return cls(parsed, engine, read_only=read_only)

    @classmethod
    def upgrade(cls, url: str, *, timeout_s: float = 10.0) -> tuple["Store", str | None]:
        """Open `url` writable and bring its schema to HEAD now (`crs upgrade`): the store, and the revision
        the database had (None: it had no crs schema and was created; HEAD: it was current)."""
        parsed, key, engine = _engine(url, False, timeout_s)
        found = _ensure(parsed, key, engine, False)
        return cls(parsed, engine, read_only=False), found

    @property
    def backend(self) -> str:
        """The backend: sqlite or postgresql."""
        return self._url.get_backend_name()

    @property
    def url(self) -> str:
        return self._url.render_as_string(hide_password=True)

    def schema(self) -> str | None:
        """The schema revision the database is stamped with (None: no crs schema)."""
        from persistence.schema import current_revision

        with self.reading() as conn:
            return current_revision(conn)

    def file(self) -> str | None:
        """The database file's absolute path (SQLite), else None."""
        if self.backend != "sqlite":
            return None
        return str(sqlite_path(self._url).resolve())

    def close(self) -> None:
        """Release pooled connections (a later `open` of the same URL reconnects)."""
        held_connections(self._engine).release()
        self._engine.dispose()

    def unit_of_work(self) -> SqlUnitOfWork:
        if self.read_only:
            raise Invalid("this database was opened read-only")
        return SqlUnitOfWork(self._engine)  # it begins its own write transactions (BEGIN IMMEDIATE)

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """One read transaction (a consistent snapshot on both backends); never commits."""
        with self._engine.connect() as conn:
            try:
                yield conn
            finally:
                conn.rollback()

    # -- queries ------------------------------------------------------------------------------
    def episode(self, episode_id: str) -> Episode:
        with self.reading() as conn:
            snapshot = conn.execute(text("SELECT snapshot FROM episode WHERE id = :id"), {"id": episode_id}).scalar()
        if snapshot is None:
            raise NotFound(f"no episode {episode_id}")
        return read_snapshot(snapshot, episode_id)

    def episodes(self, state: str | None = None) -> list[Episode]:
        """Every episode (or those in `state`), oldest first."""
        sql = ("SELECT id, snapshot FROM episode" + (" WHERE state = :state" if state else "")
               + " ORDER BY opened_at, id")
        with self.reading() as conn:
            rows = conn.execute(text(sql), {"state": state} if state else {}).all()
        return [read_snapshot(snapshot, episode_id) for episode_id, snapshot in rows]

    def history(self, episode_id: str) -> list[StoredEvent]:
        """The episode's events in order, with their chain links."""
        with self.reading() as conn:
            if conn.execute(text("SELECT 1 FROM episode WHERE id = :id"), {"id": episode_id}).first() is None:
                raise NotFound(f"no episode {episode_id}")
            rows = conn.execute(
                text(f"SELECT {EVENT_COLUMNS} FROM event WHERE episode_id = :id ORDER BY seq"), {"id": episode_id}
            ).all()
        return [event_from_row(row) for row in rows]

    def refusals(self, episode_id: str | None = None) -> list[RefusalRecord]:
        """The refusal log (or one episode's part of it), in the order written."""
        where = " WHERE episode_id = :id" if episode_id is not None else ""
        with self.reading() as conn:
            rows = conn.execute(
                text(f"SELECT {REFUSAL_COLUMNS} FROM refusal{where} ORDER BY id"),
                {"id": episode_id} if episode_id is not None else {},
            ).all()
        return [refusal_from_row(row) for row in rows]

    def login(self) -> str:
        """The authenticated login this store writes as: the OS login (SQLite) or the session user (PostgreSQL)."""
        from persistence.identity import os_login, session_user

        if self.backend == "sqlite":
            return os_login()
        try:
            with self._engine.connect() as conn:
                cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
                try:
                    return session_user(self._engine, cursor)
                finally:
                    cursor.close()
                    conn.rollback()
        except DBAPIError as exc:
            raise conflict_or_none(exc) or _cannot_open(self._url, exc) from None
