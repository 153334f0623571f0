"""The Store: the one way into the database for the CLI and the audit.

Databases (persistence/database.py) are cached per URL for the life of the process and the schema is
checked once per process and URL (one SELECT when already current), so a CLI command pays for neither
twice. Steps and queries run their SQL on the driver's own connection; no ORM objects anywhere, and no
SQLAlchemy unless a schema has to be created or upgraded.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pathway.episode import Episode
from pathway.errors import Invalid, NotFound
from pathway.service import RefusalRecord
from persistence.database import Database, DatabaseError, DatabaseUrl, Reader, parse_url, sqlite_path
from persistence.paths import os_reason, path_problem, shown_path
from persistence.rows import (EVENT_COLUMNS, REFUSAL_CHAIN_COLUMNS, REFUSAL_COLUMNS, EventRecord, RefusalRecordRow,
                              StoredEvent, event_from_row, refusal_from_row)
from persistence.schema import ensure_schema
from persistence.unit_of_work import SqlUnitOfWork, conflict_or_none, read_snapshot

__all__ = ["Store", "StoredEvent", "default_url", "reset_process_cache"]

_DATABASES: dict[tuple[str, bool, float], Database] = {}
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
    """Close every pooled connection and forget databases and schema checks (tests; after a migration)."""
    for database in _DATABASES.values():
        database.dispose()
    _DATABASES.clear()
    _SCHEMA_CHECKED.clear()


def _cannot_open(url: DatabaseUrl, exc: DatabaseError, *, writing: bool = False) -> Invalid:
    """The driver's refusal to open as one sentence; on SQLite, what on the file system explains it (a name too
    long, a folder, a file or folder this user may not read or write) rather than "unable to open"."""
    if url.backend == "sqlite":
        path = sqlite_path(url)
        found = path_problem(path, writing=writing)
        if found is not None:
            verb, why = found
            return Invalid(f"cannot {verb} the database {shown_path(path)}: {why}")
        return Invalid(f"cannot open the database {shown_path(path)}: {exc}")
    where = f"{url.host or 'localhost'}:{url.port or 5432}/{url.database or ''}"
    original = exc.orig
    if getattr(original, "sqlstate", None) == "42501" or "permission denied" in str(original).lower():
        return Invalid(f"the PostgreSQL login '{url.username or '?'}' may not use the crs database {where} "
                       "(permission denied); ask its owner for the crs_clinician or crs_auditor role (`crs roles`)")
    return Invalid(f"cannot open the PostgreSQL database {where}; check that the server runs and the URL is right")


def _database(url: str, read_only: bool, timeout_s: float) -> tuple[tuple[str, bool, float], Database]:
    """The URL's cache key and its database (made once per process)."""
    parsed = parse_url(url)
    key = (parsed.render_as_string(hide_password=False), read_only, timeout_s)
    database = _DATABASES.get(key)
    if database is None:
        database = _DATABASES[key] = Database(parsed, read_only=read_only, timeout_s=timeout_s)
    return key, database


def _ensure(key: tuple[str, bool, float], database: Database) -> str | None:
    """Check or migrate the schema (persistence/schema.py), once per process and URL; the revision found."""
    try:
        found = ensure_schema(database)
    except DatabaseError as exc:
        raise conflict_or_none(exc) or _cannot_open(database.url, exc, writing=not database.read_only) from None
    _SCHEMA_CHECKED.add(key)
    return found


class Store:
    """Episodes, their events and the refusal log on one database (SQLite or PostgreSQL)."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.read_only = database.read_only

    @classmethod
    def open(cls, url: str, *, read_only: bool = False, timeout_s: float = 10.0) -> "Store":
        """Open (and on first writable use create or upgrade) the database at `url`."""
        key, database = _database(url, read_only, timeout_s)
        if key not in _SCHEMA_CHECKED:
            _ensure(key, database)
        return cls(database)

    @classmethod
    def upgrade(cls, url: str, *, timeout_s: float = 10.0) -> tuple["Store", str | None]:
        """Open `url` writable and bring its schema to HEAD now (`crs upgrade`): the store, and the revision
        the database had (None: it had no crs schema and was created; HEAD: it was current)."""
        key, database = _database(url, False, timeout_s)
        found = _ensure(key, database)
        return cls(database), found

    @property
    def backend(self) -> str:
        """The backend: sqlite or postgresql."""
        return self.database.dialect

    @property
    def url(self) -> str:
        return self.database.url.render_as_string(hide_password=True)

    def schema(self) -> str | None:
        """The schema revision the database is stamped with (None: no crs schema)."""
        from persistence.schema import current_revision

        with self.reading() as reader:
            return current_revision(reader)

    def file(self) -> str | None:
        """The database file's absolute path (SQLite), else None."""
        if self.backend != "sqlite":
            return None
        return str(sqlite_path(self.database.url).resolve())

    def close(self) -> None:
        """Close the pooled connections (a later `open` of the same URL reconnects)."""
        self.database.dispose()

    def unit_of_work(self) -> SqlUnitOfWork:
        if self.read_only:
            raise Invalid("this database was opened read-only")
        return SqlUnitOfWork(self.database)  # it begins its own write transactions (BEGIN IMMEDIATE)

    @contextmanager
    def reading(self) -> Iterator[Reader]:
        """One read transaction (a consistent snapshot on both backends); never commits. A database that
        cannot be reached is one sentence (Invalid, exit 2), busy is a Conflict (exit 3)."""
        try:
            with self.database.reading() as reader:
                yield reader
        except DatabaseError as exc:
            conflict = conflict_or_none(exc)
            if conflict is not None:
                raise conflict from None
            raise

    # -- queries ------------------------------------------------------------------------------
    def episode(self, episode_id: str) -> Episode:
        with self.reading() as reader:
            snapshot = reader.value("SELECT snapshot FROM episode WHERE id = ?", (episode_id,))
        if snapshot is None:
            raise NotFound(f"no episode {episode_id}")
        return read_snapshot(snapshot, episode_id)

    def episodes(self, state: str | None = None) -> list[Episode]:
        """Every episode (or those in `state`), oldest first."""
        sql = ("SELECT id, snapshot FROM episode" + (" WHERE state = ?" if state else "")
               + " ORDER BY opened_at, id")
        with self.reading() as reader:
            rows = reader.rows(sql, (state,) if state else ())
        return [read_snapshot(snapshot, episode_id) for episode_id, snapshot in rows]

    def history(self, episode_id: str) -> list[StoredEvent]:
        """The episode's events in order, with their chain links."""
        with self.reading() as reader:
            if reader.first("SELECT 1 FROM episode WHERE id = ?", (episode_id,)) is None:
                raise NotFound(f"no episode {episode_id}")
            rows = reader.rows(f"SELECT {EVENT_COLUMNS} FROM event WHERE episode_id = ? ORDER BY seq", (episode_id,))
        return [event_from_row(EventRecord._make(row)) for row in rows]

    def refusals(self, episode_id: str | None = None) -> list[RefusalRecord]:
        """The refusal log (or one episode's part of it), in the order written."""
        where = " WHERE episode_id = ?" if episode_id is not None else ""
        with self.reading() as reader:
            rows = reader.rows(f"SELECT {REFUSAL_CHAIN_COLUMNS}, {REFUSAL_COLUMNS} FROM refusal{where} ORDER BY id",
                               (episode_id,) if episode_id is not None else ())
        return [refusal_from_row(RefusalRecordRow._make(row)) for row in rows]

    def login(self) -> str:
        """The authenticated login this store writes as: the OS login (SQLite) or the session user (PostgreSQL)."""
        from persistence.identity import os_login, session_user

        if self.backend == "sqlite":
            return os_login()
        try:
            with self.database.reading() as reader:
                return session_user(self.database, reader.cursor)
        except DatabaseError as exc:
            raise conflict_or_none(exc) or _cannot_open(self.database.url, exc) from None
