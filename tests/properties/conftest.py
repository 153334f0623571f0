"""Prints what the property suite reached at the end of the session (the profile loads in tests/conftest.py).

With CRS_FUZZ_REPORT=FILE (`make fuzz`) the same lines, the profile and the session's wall time are also written
to FILE: the fuzzing budget docs/SAFETY.md quotes.
"""

import os
import time
from pathlib import Path

from tests.properties import reach
from tests.properties.profiles import PROFILE

_STARTED = time.monotonic()


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # type: ignore[no-untyped-def]
    lines = reach.summary()
    if lines:
        terminalreporter.section(f"property suite (hypothesis profile {PROFILE})")
        for line in lines:
            terminalreporter.write_line(line)
    target = os.environ.get("CRS_FUZZ_REPORT")
    if target:
        seconds = time.monotonic() - _STARTED
        passed = len(terminalreporter.stats.get("passed", []))
        failed = len(terminalreporter.stats.get("failed", []))
        head = [f"# Fuzzing budget: hypothesis profile {PROFILE}", "",
                f"{passed} tests passed, {failed} failed, in {seconds / 60:.1f} min of wall time "
                f"on {os.cpu_count()} cores.", "", "```"]
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        Path(target).write_text("\n".join(head + lines + ["```", ""]))
