"""Root conftest: the Hypothesis profile for every suite (env HYPOTHESIS_PROFILE) and shared fixtures."""

import importlib
import pkgutil

from tests.properties import profiles
from tests.support.postgres import postgres_server, postgres_url  # noqa: F401  (fixtures)

#: The project's packages, imported whole before any test runs (see `_import_the_project`).
PROJECT_PACKAGES = ("pathway", "states", "persistence", "cli", "bench", "tests")


def _import_the_project() -> None:
    """Import every module of the project now, so that a derandomized run draws the same examples whatever
    tests are selected.

    Hypothesis (6.131 and later) mixes into its draws the literal constants of every local module it finds in
    sys.modules at the time. Left alone, a `ci` run of tests/properties alone drew other examples than the same
    tests inside `make test`, where the unit, CLI and persistence tests had imported more of the project first (a
    reach check and a teeth test passed alone and failed in CI, issue 12). Entry points (`__main__`) are not
    imported (that would run them); conftests are, under the names pytest gives them, which it then reuses. Only for the derandomized profiles
    (`ci`, `mutation`): the `dev` profile draws at random anyway, and the import takes seconds.
    """
    for name in PROJECT_PACKAGES:
        package = importlib.import_module(name)
        for module in pkgutil.walk_packages(package.__path__, f"{name}."):
            leaf = module.name.rsplit(".", 1)[-1]
            if leaf != "__main__" and not module.name.startswith("persistence.migrations."):
                importlib.import_module(module.name)


# The profile first: an explicit `@settings(...)` takes the values it does not set (deadline, derandomize,
# database) from the profile loaded when its module is imported. Imported before, the tests of
# test_extreme_times, test_malformed_input, test_rows, ... ran in `ci` with Hypothesis' defaults (a 200 ms
# deadline, random draws): test_extreme_times exceeded that deadline in the lowest-versions environment.
profiles.load()
if profiles.PROFILE != "dev":
    _import_the_project()
