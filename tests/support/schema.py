"""A database at an older schema revision, made by the project's own migrations (upgrade tests)."""

from persistence import schema
from persistence.database import Database, parse_url


def migrate_to(url: str, target: str) -> None:
    """Run the project's migrations up to `target` (as persistence/schema.py runs them, to a chosen revision)."""
    from alembic import command
    from alembic.config import Config

    engine = Database(parse_url(url), read_only=False, timeout_s=10.0).sqlalchemy_engine()
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
