"""Real OS users for the tests that need a second one (audits by another user, permissions, the PostgreSQL
server's own account): made with useradd as system accounts, and a way to run this project's python as them.
Root only; every helper says so (None, or the reason as text) rather than failing.
"""

import os
import pwd
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CODE = Path(os.environ.get("CRS_TEST_CODE_TREE") or ROOT)  # whose `cli` the subprocesses import


def system_user(name: str) -> str | None:
    """A system user (no home, nologin), made once per machine; None: cannot (not root, no useradd)."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(name)
        return name
    except KeyError:
        pass
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    subprocess.run([useradd, "--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
                   capture_output=True, check=False)
    try:
        pwd.getpwnam(name)
    except KeyError:  # useradd failed and nobody else made it
        return None
    return name


def as_user(name: str) -> dict[str, Any]:
    """subprocess.run arguments that run a process as `name`, with its own group only."""
    entry = pwd.getpwnam(name)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


@cache
def python_for(name: str) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]] | str:
    """How `name` runs this project's python: (argv prefix, extra environment), or why it cannot.

    The venv's own interpreter when that user may run it; otherwise (the venv points into a folder only root
    can enter, such as /root/.pyenv) the system interpreter of the same version with the venv's packages on
    PYTHONPATH. Nothing is copied."""
    probe = ("import sqlite3, sqlalchemy, typer, pydantic_core, platformdirs, cli; "
             "print(sqlite3.sqlite_version)")
    packages = os.pathsep.join(dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]))
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    candidates: list[tuple[tuple[str, ...], tuple[tuple[str, str], ...]]] = [((sys.executable,), ())]
    for folder in ("/usr/bin", "/usr/local/bin"):
        if Path(folder, version).is_file():
            candidates.append(((str(Path(folder, version)),), (("PYTHONPATH", packages),)))
    import sqlite3

    reasons = []
    for argv, extra in candidates:
        try:
            done = subprocess.run([*argv, "-c", probe], capture_output=True, text=True, cwd=CODE, timeout=60,
                                  env={"PATH": "/usr/bin:/bin", **dict(extra)}, **as_user(name))
        except OSError as exc:
            reasons.append(f"{argv[0]}: {exc.strerror}")
            continue
        if done.returncode == 0 and done.stdout.strip() == sqlite3.sqlite_version:
            return argv, extra
        reasons.append(f"{argv[0]}: {(done.stderr.strip().splitlines() or [done.stdout.strip()])[-1]}")
    return f"user {name} cannot run this project's python ({'; '.join(reasons)})"


@contextmanager
def reachable_folder(prefix: str) -> Iterator[Path]:
    """A temporary folder (mode 0755) any user can reach: pytest's tmp_path is its owner's alone. Removed
    afterwards, folders a test made unreadable included."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        for path in folder.rglob("*"):
            if path.is_dir() and not path.is_symlink():
                path.chmod(0o755)
        shutil.rmtree(folder, ignore_errors=True)
