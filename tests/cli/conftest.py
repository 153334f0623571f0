"""Fixtures for the CLI tests: a real SQLite file, the app in-process, and the installed `crs`.

In-process runs use Typer's CliRunner on the same `CrsGroup.main` the console script calls, so
exit codes and error output are the real ones. Subprocess runs use the installed script.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cli.app import app

ACTOR = "nurse-a"
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")


def iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def recent_t0(hours_before_now: float) -> datetime:
    """A T0 far enough in the past that the whole scenario lies before now (TIME_FUTURE)."""
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    return now - timedelta(hours=hours_before_now)


def mask(value: Any, ids: dict[str, str] | None = None) -> Any:
    """Replace times by "<T>", hashes by "<H>", and known ids by their names, for exact comparison."""
    ids = ids or {}
    if isinstance(value, dict):
        return {k: ("<H>" if k in ("hash", "last_hash") and value[k] else mask(v, ids)) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v, ids) for v in value]
    if isinstance(value, str):
        masked = ISO.sub("<T>", value)
        for real, name in ids.items():
            masked = masked.replace(real, name)
        return masked
    return value


@dataclass
class Ran:
    code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> Any:
        return json.loads(self.stdout)


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'crs.db'}"


@pytest.fixture
def crs(db_url: str) -> Callable[..., Ran]:
    """Run the app in-process: `crs("open", "--patient", ...)`; env CRS_DB and CRS_ACTOR are set."""
    runner = CliRunner()

    def run(*args: str, env: dict[str, str] | None = None) -> Ran:
        result = runner.invoke(app, list(args), env={"CRS_DB": db_url, "CRS_ACTOR": ACTOR, "NO_COLOR": "1",
                                                     **(env or {})})
        return Ran(result.exit_code, result.stdout, result.stderr)

    return run


def installed_crs() -> list[str]:
    """The installed console script (`pip install -e .` puts it beside the interpreter)."""
    beside = Path(sys.executable).parent / "crs"
    if beside.is_file():
        return [str(beside)]
    found = shutil.which("crs")
    if found:
        return [found]
    pytest.fail("the `crs` console script is not installed; run `make venv` (pip install -e '.[dev]')")


@pytest.fixture(scope="session")
def crs_bin() -> Callable[..., Ran]:
    """Run the installed `crs` as a real process; returns exit code, stdout and stderr."""
    command = installed_crs()

    def run(*args: str, env: dict[str, str] | None = None, user: str | None = None) -> Ran:
        full_env = {**os.environ, "NO_COLOR": "1", "CRS_ACTOR": ACTOR, **(env or {})}
        done = subprocess.run(command + list(args), capture_output=True, text=True, env=full_env, timeout=120,
                              user=user)
        return Ran(done.returncode, done.stdout, done.stderr)

    return run


def one_sentence(text: str) -> bool:
    """One line, ending with a full stop (or a question mark), no traceback."""
    lines = text.strip().splitlines()
    return len(lines) == 1 and lines[0].endswith((".", "?")) and "Traceback" not in text
