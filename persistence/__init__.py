"""Persistence: the durable, append-only, hash-chained episode store (SQLite and PostgreSQL).

    store.py         Store.open(url, read_only=...), default_url(): the way in
    unit_of_work.py  one step = one transaction (implements pathway.service.UnitOfWork)
    database.py      URLs, configured sqlite3/psycopg connections and their pool (WAL, BEGIN IMMEDIATE,
                     read-only modes); SQLAlchemy only for migrations and `crs roles`
    schema.py        cheap "already current?" check; Alembic only to create or upgrade
    tables.py        the schema as SQLModel tables (not imported on the hot path)
    rows.py          domain <-> row conversions
    chain.py         sha256(prev_hash + canonical JSON)
    audit.py         verify, digest, verify_digest
    migrations/      Alembic, run programmatically

Nothing is imported here, so `import persistence.store` pays only for what a step needs.
"""
