"""Alembic migrations, run programmatically by persistence/schema.py (no alembic.ini needed).

Each revision is a frozen copy of the schema change it makes; persistence/tables.py is the
current schema, and a test checks that the migrated database matches it.
"""
