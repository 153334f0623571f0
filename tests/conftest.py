"""Root conftest: the Hypothesis profile for every suite (env HYPOTHESIS_PROFILE) and shared fixtures."""

from tests.properties import profiles
from tests.support.postgres import postgres_server, postgres_url  # noqa: F401  (fixtures)

profiles.load()
