"""Prints what the property suite reached at the end of the session (the profile loads in tests/conftest.py)."""

from tests.properties import reach
from tests.properties.profiles import PROFILE


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # type: ignore[no-untyped-def]
    lines = reach.summary()
    if lines:
        terminalreporter.section(f"property suite (hypothesis profile {PROFILE})")
        for line in lines:
            terminalreporter.write_line(line)
