"""Unusable paths end in exit 2, never 70 (HAZARDS H21); `?mode=ro` and foreign databases (issue 11, item 7).

Each case runs the real `crs` (`python -m cli`, a subprocess) and checks its exit code, that stderr is one
plain sentence (no traceback) and that nothing was written. Found on the previous release (7a35703):
exit 70 for a file name over 255 characters, an unreadable folder and a data folder that cannot be
created; `?mode=ro` ignored with a warning and the step written; any other URL parameter ignored; a
foreign SQLite database silently given the crs schema. Run against another checkout with
CRS_TEST_CODE_TREE=/tmp/prev.

Permission cases need a user that permissions apply to: as root they run as a system user made for
tests/persistence/test_audit_other_user.py (skipped when that cannot be done); as anyone else, as
themselves. The full-disk case mounts a 256 KiB tmpfs (root only).
"""

import os
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.persistence.test_audit_other_user import AUDITOR
from tests.support.os_users import CODE, as_user, python_for, reachable_folder
from tests.support.os_users import system_user as make_user
from tests.cli.conftest import Ran as CliRan

OPEN = ["open", "--patient", "P-1", "--weight-kg", "70", "--age-years", "58", "--at", "2026-01-05T08:00:00Z"]


class Ran(CliRan):
    """A finished `crs` (tests/cli/conftest.py), with the contract's one-sentence error."""

    def one_sentence(self) -> str:
        """The error as the contract says: one line on stderr, no traceback; lower-cased for matching."""
        assert "Traceback" not in self.stderr + self.stdout, self
        if not self.stderr.strip():  # --json: the error object on stdout
            body = self.json
            assert set(body) >= {"error", "message"} and body["message"].endswith("."), self
            return str(body["message"]).lower()
        lines = self.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].endswith("."), self
        return lines[0].lower()


def crs(*args: str, db: str | None = None, env: dict[str, str] | None = None, user: str | None = None) -> Ran:
    """`python -m cli ARGS` from the code tree, as `user` (default: this process's user)."""
    argv: tuple[str, ...] = (sys.executable,)
    extra: dict[str, str] = {}
    if user is not None:
        how = python_for(user)
        assert not isinstance(how, str), how
        argv, extra = how[0], dict(how[1])
    full = {"PATH": "/usr/bin:/bin", "TZ": "UTC", "LANG": "C.UTF-8", "NO_COLOR": "1", "HOME": "/nonexistent",
            "XDG_DATA_HOME": "/nonexistent/data", **extra, **(env or {})}
    if db is not None:
        full["CRS_DB"] = db
    done = subprocess.run([*argv, "-m", "cli", *args], capture_output=True, text=True, cwd=CODE, env=full,
                          timeout=120, **(as_user(user) if user is not None else {}))
    return Ran(done.returncode, done.stdout, done.stderr)


def sqlite_url(path: Path | str) -> str:
    return f"sqlite:///{path}"


def listing(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.fixture
def shared() -> Iterator[Path]:
    """A folder any user can reach (pytest's tmp_path is its owner's alone)."""
    with reachable_folder("crs-paths-") as folder:
        yield folder


@pytest.fixture
def other() -> str | None:
    """Whom permissions apply to: None (this process) when not root, else a system user (or skip)."""
    if os.geteuid() != 0:
        return None
    user = make_user(AUDITOR)
    if user is None:
        pytest.skip("running as root, and no other user could be made (useradd) for permissions to apply to")
    how = python_for(user)
    if isinstance(how, str):
        pytest.skip(how)
    return user


@pytest.fixture
def episode_db(shared: Path) -> Path:
    """A crs database with one episode, made by this process's user (root, or the test runner)."""
    db = shared / "ward" / "crs.db"
    db.parent.mkdir()
    made = crs(*OPEN, "--json", db=sqlite_url(db))
    assert made.code == 0, made
    return db


# -- H21: unusable paths ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("command", [["list"], ["audit", "verify"], OPEN], ids=["list", "audit-verify", "open"])
def test_a_database_file_name_over_255_characters_is_exit_2_not_70(tmp_path: Path, command: list[str]) -> None:
    db = tmp_path / ("a" * 300 + ".db")
    ran = crs(*command, db=sqlite_url(db))
    assert ran.code == 2, ran
    assert "255" in ran.one_sentence()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", [["list"], ["audit", "verify"], OPEN], ids=["list", "audit-verify", "open"])
def test_an_unreadable_folder_is_exit_2_not_70(shared: Path, other: str | None, command: list[str]) -> None:
    locked = shared / "locked"
    locked.mkdir()
    made = crs(*OPEN, db=sqlite_url(locked / "crs.db"))
    assert made.code == 0, made
    locked.chmod(0o700 if other else 0o000)  # root's folder, closed to the other user (or our own, to us)
    before = {p.name: p.stat().st_mtime_ns for p in locked.iterdir()}
    ran = crs(*command, db=sqlite_url(locked / "crs.db"), user=other)
    assert ran.code == 2, ran
    assert "may not reach" in ran.one_sentence()
    locked.chmod(0o755)
    assert {p.name: p.stat().st_mtime_ns for p in locked.iterdir()} == before


@pytest.mark.parametrize("in_the_way", ["proc", "file"], ids=["XDG_DATA_HOME-under-proc", "a-file-in-the-way"])
@pytest.mark.parametrize("command", [["list"], OPEN], ids=["list", "open"])
def test_a_data_folder_that_cannot_be_created_is_exit_2_not_70(tmp_path: Path, in_the_way: str,
                                                               command: list[str]) -> None:
    """The default database, `crs.db` in platformdirs' user data dir, whose folder cannot be made."""
    if in_the_way == "proc":
        data_home = "/proc/crs-test-x"
    else:
        blocker = tmp_path / "data"
        blocker.write_text("not a folder")
        data_home = str(blocker)
    ran = crs(*command, env={"XDG_DATA_HOME": data_home})
    assert ran.code == 2, ran
    sentence = ran.one_sentence()
    assert "cannot create the data folder" in sentence and "--db" in sentence
    if in_the_way == "file":
        assert listing(tmp_path) == {"data": b"not a folder"}


@pytest.mark.parametrize("command", [["list"], OPEN], ids=["list", "open"])
def test_a_database_path_that_is_a_folder_is_exit_2(tmp_path: Path, command: list[str]) -> None:
    (tmp_path / "crs.db").mkdir()
    ran = crs(*command, db=sqlite_url(tmp_path / "crs.db"))
    assert ran.code == 2, ran
    assert "is a folder" in ran.one_sentence()
    assert list((tmp_path / "crs.db").iterdir()) == []


@pytest.mark.parametrize("command", [["list"], OPEN], ids=["list", "open"])
def test_an_unreadable_database_file_is_exit_2(episode_db: Path, other: str | None, command: list[str]) -> None:
    episode_db.chmod(0o600 if other else 0o000)
    before = listing(episode_db.parent) if other else None
    ran = crs(*command, db=sqlite_url(episode_db), user=other)
    assert ran.code == 2, ran
    assert "may not read the file" in ran.one_sentence()
    episode_db.chmod(0o644)
    assert before is None or listing(episode_db.parent) == before


def test_a_folder_read_only_for_a_writing_command_is_exit_2_cannot_write(episode_db: Path,
                                                                         other: str | None) -> None:
    """The database file is writable, its folder is not (SQLite keeps -wal and -shm beside it)."""
    episode_db.chmod(0o666)
    if other is None:
        episode_db.parent.chmod(0o555)
    before = listing(episode_db.parent)
    ran = crs(*OPEN, db=sqlite_url(episode_db), user=other)
    assert ran.code == 2, ran
    assert "cannot write the database" in ran.one_sentence() and "folder" in ran.stderr
    assert crs("list", "--json", db=sqlite_url(episode_db), user=other).code == 0  # reading still works
    assert listing(episode_db.parent) == before


def test_a_read_only_database_file_for_a_writing_command_is_exit_2_cannot_write(episode_db: Path,
                                                                                other: str | None) -> None:
    episode_db.chmod(0o644 if other else 0o444)
    before = listing(episode_db.parent)
    ran = crs(*OPEN, db=sqlite_url(episode_db), user=other)
    assert ran.code == 2, ran
    assert "cannot write the database" in ran.one_sentence() and "read-only" in ran.stderr
    assert listing(episode_db.parent) == before


@pytest.fixture
def tiny_disk() -> Iterator[Path]:
    """A 256 KiB tmpfs, mounted for this test (root only)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tiny tmpfs to fill needs root")
    where = Path(tempfile.mkdtemp(prefix="crs-full-"))
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(where)], capture_output=True)
    if done.returncode != 0:
        where.rmdir()
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)
        where.rmdir()


def fill(disk: Path, leave_kib: int) -> Path:
    """Fill the disk with one file, leaving about `leave_kib` KiB."""
    free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
    filler = disk / "filler"
    with open(filler, "wb") as out:
        out.write(b"\0" * max(0, free - leave_kib * 1024))
    return filler


@pytest.mark.parametrize("writer_attached", [False, True], ids=["full-before-the-step", "full-during-the-step"])
def test_a_full_disk_during_a_step_is_exit_2_and_nothing_is_half_written(tiny_disk: Path,
                                                                         writer_attached: bool) -> None:
    db = tiny_disk / "crs.db"
    url = sqlite_url(db)
    opened = crs(*OPEN, "--json", db=url)
    assert opened.code == 0, opened
    episode = opened.json["episode"]
    holder = None
    if writer_attached:  # the side files exist and stay: the step fails while appending to the WAL
        holder = sqlite3.connect(db)
        holder.execute("SELECT count(*) FROM event").fetchall()
    filler = fill(tiny_disk, leave_kib=12 if writer_attached else 0)
    try:
        recorded, failed = 1, None
        for minute in range(1, 40):
            ran = crs("act", episode, "labs", "--at", f"2026-01-05T08:{minute:02d}:00Z", "--json", db=url)
            if ran.code != 0:
                failed = ran
                break
            recorded += 1
        assert failed is not None, "the disk never filled"
        assert failed.code in (2, 3), failed
        assert "full" in failed.one_sentence()
        verified = crs("audit", "verify", "--json", db=url)  # still on the full disk
        assert verified.code == 0 and verified.json["ok"] and verified.json["events"] == recorded, verified
        history = crs("history", episode, "--json", db=url)
        assert history.code == 0 and len(history.json["events"]) == recorded  # the failed step left nothing
    finally:
        if holder is not None:
            holder.close()
        filler.unlink()
    assert crs("act", episode, "labs", "--at", "2026-01-05T09:00:00Z", db=url).code == 0  # room again: it goes on
    assert crs("audit", "verify", db=url).code == 0


# -- ?mode=ro and other URL parameters ------------------------------------------------------------------------

def test_mode_ro_in_the_url_is_honoured_not_ignored(episode_db: Path) -> None:
    """Found: `sqlite:///x.db?mode=ro` was ignored with a warning and the step was written."""
    url = sqlite_url(episode_db) + "?mode=ro"
    episode = crs("list", "--json", db=sqlite_url(episode_db)).json["episodes"][0]["episode"]
    before = listing(episode_db.parent)
    ran = crs(*OPEN, db=url)
    assert ran.code == 2, ran
    assert "mode=ro" in ran.one_sentence() and "read-only" in ran.stderr
    stepped = crs("act", episode, "labs", "--at", "2026-01-05T09:00:00Z", db=url)
    assert stepped.code == 2 and "mode=ro" in stepped.one_sentence()
    assert listing(episode_db.parent) == before
    for command in (["list"], ["history", episode], ["audit", "verify"], ["status", episode]):
        read = crs(*command, "--json", db=url)
        assert read.code == 0 and read.stderr == "", (command, read)
    assert listing(episode_db.parent) == before


@pytest.mark.parametrize("query", ["foo=bar", "mode=rw", "timeout=5", "mode=ro&cache=shared"])
def test_an_unknown_sqlite_url_parameter_is_refused_not_ignored(tmp_path: Path, query: str) -> None:
    ran = crs(*OPEN, db=sqlite_url(tmp_path / "crs.db") + "?" + query)
    assert ran.code == 2, ran
    assert "mode=ro" in ran.one_sentence() and "unsupported parameter" in ran.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.postgres
def test_an_unknown_postgresql_url_parameter_is_refused(postgres_url: str) -> None:
    ran = crs(*OPEN, db=postgres_url + "?bogus_option=1&password=secret-value")
    assert ran.code == 2, ran
    sentence = ran.one_sentence()
    assert "bogus_option" in sentence and "secret-value" not in ran.stderr + ran.stdout
    assert crs(*OPEN, db=postgres_url + "?connect_timeout=5").code == 0  # libpq's own parameters pass


# -- foreign databases -----------------------------------------------------------------------------------------

def test_a_foreign_sqlite_database_is_refused_not_given_the_crs_schema(tmp_path: Path) -> None:
    """Found: a SQLite file with someone else's tables silently got the crs schema added."""
    db = tmp_path / "theirs.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE patients (id INTEGER PRIMARY KEY, name TEXT)")
        conn.execute("INSERT INTO patients (name) VALUES ('someone')")
    conn.close()
    before = db.read_bytes()
    for command in (OPEN, ["list"], ["audit", "verify"]):
        ran = crs(*command, db=sqlite_url(db))
        assert ran.code == 2, (command, ran)
        assert "is not a crs database (it has other tables" in ran.one_sentence()
        assert "someone" not in ran.stderr
    assert db.read_bytes() == before
    with sqlite3.connect(db) as conn:
        assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master")] == ["patients"]
    conn.close()


@pytest.mark.parametrize("empty", ["zero-bytes", "no-tables"])
def test_an_empty_sqlite_file_gets_the_crs_schema(tmp_path: Path, empty: str) -> None:
    db = tmp_path / "crs.db"
    if empty == "zero-bytes":
        db.touch()
    else:
        with sqlite3.connect(db) as conn:
            conn.execute("PRAGMA user_version = 7")  # a valid SQLite file, nothing in it
        conn.close()
    ran = crs(*OPEN, "--json", db=sqlite_url(db))
    assert ran.code == 0, ran
    assert crs("audit", "verify", db=sqlite_url(db)).code == 0


@pytest.mark.postgres
def test_a_foreign_postgresql_database_is_refused(postgres_url: str) -> None:
    from tests.support.tamper import raw_connect

    with raw_connect(postgres_url) as conn:
        conn.execute("CREATE TABLE patients (id serial PRIMARY KEY, name text)")
    for command in (OPEN, ["list"]):
        ran = crs(*command, db=postgres_url)
        assert ran.code == 2, (command, ran)
        assert "is not a crs database (it has other tables" in ran.one_sentence()
    with raw_connect(postgres_url) as conn:
        tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
    assert tables == ["patients"]


@pytest.mark.postgres
def test_a_postgresql_database_with_tables_only_outside_the_search_path_counts_as_empty(postgres_url: str) -> None:
    """Empty means: no table in the schema crs creates its tables in (current_schema(), here public)."""
    from tests.support.tamper import raw_connect

    with raw_connect(postgres_url) as conn:
        conn.execute("CREATE SCHEMA elsewhere")
        conn.execute("CREATE TABLE elsewhere.patients (id serial PRIMARY KEY)")
    ran = crs(*OPEN, "--json", db=postgres_url)
    assert ran.code == 0, ran
    assert crs("audit", "verify", db=postgres_url).code == 0
