"""Bring a database to the schema this crs knows, cheaply when it is already there.

Every CLI command opens the store, so the common case (already at head) costs one SELECT of
`alembic_version` and no Alembic import. Alembic is only imported to create or upgrade a
schema, which happens inside one write transaction that re-checks the version under the
write lock, so two processes meeting an empty database do not both try to create it.
"""

from pathlib import Path

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from pathway.errors import Invalid

#: Every revision this crs knows, oldest first; the last is head. A test checks this against
#: the Alembic scripts, so adding a migration without listing it here fails the build.
KNOWN_REVISIONS: tuple[str, ...] = ("0001", "0002", "0003")
HEAD = KNOWN_REVISIONS[-1]

NEWER = "the database schema is newer than this crs knows; upgrade crs"
MIGRATIONS = Path(__file__).parent / "migrations"
_PG_MIGRATION_LOCK = 0x63727300  # an arbitrary advisory-lock key for "crs" migrations


def current_revision(conn: Connection) -> str | None:
    """The stamped revision, or None for a database without a crs schema."""
    if conn.dialect.name == "sqlite":
        exists = conn.execute(
            text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'")
        ).first()
    else:
        exists = conn.execute(text("SELECT to_regclass('alembic_version')")).scalar()
    if not exists:
        return None
    rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    if len(rows) != 1:
        return None if not rows else "?"  # several heads: not a schema this crs wrote
    return rows[0]


def _check_known(revision: str | None) -> None:
    if revision is not None and revision not in KNOWN_REVISIONS:
        raise Invalid(NEWER)


def ensure_schema(engine: Engine, write_engine: Engine | None) -> str | None:
    """Check (read-only: `write_engine` None) or bring the database to HEAD; returns the revision it had
    (None: no crs schema yet, HEAD: nothing to do), which `crs upgrade` reports."""
    with engine.connect() as conn:
        revision = current_revision(conn)
        conn.rollback()
    if revision == HEAD:
        return revision
    _check_known(revision)
    if revision is None:  # no crs schema yet: only an empty database may get one
        _refuse_foreign(engine)
    if write_engine is None:
        if revision is not None:
            raise Invalid(f"the database was made by an earlier crs (schema {revision}, this crs uses {HEAD}); "
                          "run `crs upgrade` once, as a user who may write it, then retry")
        raise Invalid(
            "the database has no current crs schema; run a crs command that records something first"
        )
    return _upgrade(write_engine)


def _refuse_foreign(engine: Engine) -> None:
    """Invalid unless the database without a crs schema is empty, so that crs never adds its tables to
    someone else's database. Empty: no schema object at all (SQLite), no table or view in the schema crs
    would create its tables in, `current_schema()` (PostgreSQL). The revision is read again in the same
    transaction: another crs process may have just created the schema, and its tables are not foreign."""
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            objects = r"SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite\_%' ESCAPE '\'"
            where = str(conn.engine.url.database)
        else:
            objects = ("SELECT count(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
                       "ON n.oid = c.relnamespace WHERE n.nspname = current_schema() "
                       "AND c.relkind IN ('r', 'p', 'v', 'm', 'f')")
            where = f"{conn.engine.url.database} on {conn.engine.url.host or 'localhost'}"
        foreign = current_revision(conn) is None and bool(conn.execute(text(objects)).scalar())
        conn.rollback()
    if foreign:
        raise Invalid(f"the database {where} is not a crs database (it has other tables and no current crs "
                      "schema); use an empty file or a new database")


def _upgrade(write_engine: Engine) -> str | None:
    """Migrate to HEAD under the write lock; the revision found there (another process may have migrated)."""
    from alembic import command
    from alembic.config import Config

    with write_engine.connect() as conn:
        conn.begin()  # BEGIN IMMEDIATE on SQLite: one migrating process at a time
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
        revision = current_revision(conn)  # re-check under the lock: another process may have won
        _check_known(revision)
        if revision != HEAD:
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
            config.attributes["connection"] = conn
            try:
                command.upgrade(config, HEAD)
            except DBAPIError:
                conn.rollback()
                raise
        conn.commit()
    return revision
