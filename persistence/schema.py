"""Bring a database to the schema this crs knows, cheaply when it is already there.

Every CLI command opens the store, so the common case (already at head) costs one SELECT of
`alembic_version` and no Alembic import. Alembic is only imported to create or upgrade a
schema, which happens inside one write transaction that re-checks the version under the
write lock, so two processes meeting an empty database do not both try to create it.
"""

from pathlib import Path
from typing import Any

from pathway.errors import Invalid
from persistence.database import Database, DatabaseError, Reader

#: Every revision this crs knows, oldest first; the last is head. A test checks this against
#: the Alembic scripts, so adding a migration without listing it here fails the build.
KNOWN_REVISIONS: tuple[str, ...] = ("0001", "0002", "0003")
HEAD = KNOWN_REVISIONS[-1]

NEWER = "the database schema is newer than this crs knows; upgrade crs"
MIGRATIONS = Path(__file__).parent / "migrations"
_PG_MIGRATION_LOCK = 0x63727300  # an arbitrary advisory-lock key for "crs" migrations


def current_revision(reader: Reader) -> str | None:
    """The stamped revision, or None for a database without a crs schema."""
    if reader.dialect == "sqlite":
        exists = reader.first("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'")
    else:
        exists = reader.value("SELECT to_regclass('alembic_version')")
    if not exists:
        return None
    rows = [row[0] for row in reader.rows("SELECT version_num FROM alembic_version")]
    if len(rows) != 1:
        return None if not rows else "?"  # several heads: not a schema this crs wrote
    return str(rows[0])


def _check_known(revision: str | None) -> None:
    if revision is not None and revision not in KNOWN_REVISIONS:
        raise Invalid(NEWER)


def ensure_schema(database: Database) -> str | None:
    """Check (a read-only database) or bring the database to HEAD; returns the revision it had
    (None: no crs schema yet, HEAD: nothing to do), which `crs upgrade` reports. Alembic (and SQLAlchemy)
    are imported only when there is something to create or upgrade."""
    with database.reading() as reader:
        revision = current_revision(reader)
    if revision == HEAD:
        return revision
    _check_known(revision)
    if revision is None:  # no crs schema yet: only an empty database may get one
        _refuse_foreign(database)
    if database.read_only:
        if revision is not None:
            raise Invalid(f"the database was made by an earlier crs (schema {revision}, this crs uses {HEAD}); "
                          "run `crs upgrade` once, as a user who may write it, then retry")
        raise Invalid(
            "the database has no current crs schema; run a crs command that records something first"
        )
    return _upgrade(database)


def _refuse_foreign(database: Database) -> None:
    """Invalid unless the database without a crs schema is empty, so that crs never adds its tables to
    someone else's database. Empty: no schema object at all (SQLite), no table or view in the schema crs
    would create its tables in, `current_schema()` (PostgreSQL). The revision is read again in the same
    transaction: another crs process may have just created the schema, and its tables are not foreign."""
    url = database.url
    with database.reading() as reader:
        if reader.dialect == "sqlite":
            objects = r"SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite\_%' ESCAPE '\'"
            where = str(url.database)
        else:
            objects = ("SELECT count(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
                       "ON n.oid = c.relnamespace WHERE n.nspname = current_schema() "
                       "AND c.relkind IN ('r', 'p', 'v', 'm', 'f')")
            where = f"{url.database} on {url.host or 'localhost'}"
        foreign = current_revision(reader) is None and bool(reader.value(objects))
    if foreign:
        raise Invalid(f"the database {where} is not a crs database (it has other tables and no current crs "
                      "schema); use an empty file or a new database")


def _upgrade(database: Database) -> str | None:
    """Migrate to HEAD under the write lock; the revision found there (another process may have migrated)."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy.exc import DBAPIError

    engine = database.sqlalchemy_engine()
    try:
        with engine.connect() as conn:
            conn.begin()  # BEGIN IMMEDIATE on SQLite: one migrating process at a time
            reader = Reader(database, _driver_cursor(conn))
            if database.dialect == "postgresql":
                reader.execute("SELECT pg_advisory_xact_lock(?)", (_PG_MIGRATION_LOCK,))
            revision = current_revision(reader)  # re-check under the lock: another process may have won
            _check_known(revision)
            if revision != HEAD:
                config = Config()
                config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
                config.attributes["connection"] = conn
                command.upgrade(config, HEAD)
            conn.commit()
    except DBAPIError as exc:  # as the step path reports driver errors
        raise database.wrap(exc.orig, str(exc.statement or "")) from exc
    finally:
        engine.dispose()
    return revision


def _driver_cursor(conn: Any) -> Any:
    """The driver's own cursor inside a SQLAlchemy connection's transaction."""
    return conn.connection.driver_connection.cursor()


__all__ = ["HEAD", "KNOWN_REVISIONS", "MIGRATIONS", "NEWER", "DatabaseError", "current_revision", "ensure_schema"]
