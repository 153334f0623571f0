"""A database at an older schema revision, made by the project's own migrations (upgrade tests)."""

from sqlalchemy import create_engine

from persistence import schema
from persistence.engines import parse_url


def migrate_to(url: str, target: str) -> None:
    """Run the project's migrations up to `target` (as persistence/schema.py runs them, to a chosen revision)."""
    from alembic import command
    from alembic.config import Config

    engine = create_engine(parse_url(url))
    try:
        with engine.connect() as conn:
            conn.begin()
            config = Config()
            config.set_main_option("script_location", str(schema.MIGRATIONS).replace("%", "%%"))
            config.attributes["connection"] = conn
            command.upgrade(config, target)
            conn.commit()
    finally:
        engine.dispose()
