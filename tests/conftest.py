"""Root conftest: registers shared fixtures from tests/support (kept minimal on purpose)."""

from tests.support.postgres import postgres_server, postgres_url  # noqa: F401  (fixtures)
