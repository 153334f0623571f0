"""One store fixture, parametrized over a real SQLite file and a real PostgreSQL database."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from persistence.store import Store

BACKENDS = [pytest.param("sqlite", id="sqlite"), pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'crs.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def store(url: str) -> Iterator[Store]:
    store = Store.open(url)
    yield store
    store.close()


@pytest.fixture
def audit_store(url: str, store: Store) -> Iterator[Store]:
    """The same database opened read-only, as `crs audit` opens it."""
    ro = Store.open(url, read_only=True)
    yield ro
    ro.close()
