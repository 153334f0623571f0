"""Alembic environment: always runs on a connection handed in by persistence/schema.py,
inside that caller's transaction (so the upgrade and its version stamp commit together)."""

from alembic import context

from persistence.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("crs migrations run through persistence.schema, which supplies a connection")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
