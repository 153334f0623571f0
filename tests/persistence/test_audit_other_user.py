"""HAZARDS H17 (issue 11, item 5): an audit by another OS user never gets in the way of the care team.

Two real OS users, made with useradd (system accounts, no home, nologin): the care team owns the folder
and the database (0644) and records real `crs` steps; the auditor may read both and, depending on the
case, may or may not write the folder. The auditor runs every command that only reads (`audit verify`,
`audit refusals`, `audit report`, `status`, `history`, `list`: each opens the store read-only), both while
a care-team connection holds the database open (its `-wal`/`-shm` side files exist) and after the last one
closed (they do not). Each must succeed and see every step; afterwards no file in the folder belongs to
the auditor and the care team's next step succeeds.

Found on the previous release (7a35703): from a folder the auditor cannot write every read-only command
exits 2 ("attempt to write a readonly database"); from one it can write, the auditor leaves `-wal`/`-shm`
owned by itself and the care team's next step exits 2. Run these tests against another checkout with
CRS_TEST_CODE_TREE=/tmp/prev (the code is imported from that folder: `python -m cli` with it as the cwd).

Needs root (to make the users and run processes as them); skipped otherwise, with the reason.
"""

import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from tests.cli.conftest import Ran
from tests.support.os_users import CODE, ROOT, as_user, python_for, reachable_folder
from tests.support.os_users import system_user as make_user

CARE, AUDITOR = "crs-test-care", "crs-test-audit"
CRS_2 = ["--temp", "38.6", "--o2", "nasal-cannula", "--o2-flow", "4", "--ice", "10", "--consciousness", "awake"]
READ_ONLY_COMMANDS = ("audit verify", "audit refusals", "audit report", "status", "history", "list")




@pytest.fixture(scope="module")
def users() -> tuple[str, str]:
    care, auditor = make_user(CARE), make_user(AUDITOR)
    if care is None or auditor is None:
        pytest.skip("needs root and useradd to make two OS users (the care team and an auditor)")
    for name in (care, auditor):
        how = python_for(name)
        if isinstance(how, str):
            pytest.skip(how)
    if not os.access(CODE, os.R_OK | os.X_OK) or CODE.stat().st_mode & 0o005 != 0o005:
        pytest.skip(f"{CODE} is not readable by other users")
    return care, auditor


# -- one ward: the care team's folder, steps and a connection held open --------------------------------------------

def finished(process: "subprocess.Popen[str]") -> Ran:
    try:
        stdout, stderr = process.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, stderr = process.communicate()
    return Ran(process.returncode, stdout, stderr)


def iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


class Ward:
    """The care team's folder (theirs, mode `folder_mode`) with their database (0644): a copy of the module's
    template, whose episode the care team opened, observed (CRS grade 2), treated, and had one dose refused."""

    def __init__(self, template: "Template", base: Path, folder_mode: int) -> None:
        self.care, self.auditor = template.care, template.auditor
        self.folder = base / "ward"
        self.folder.mkdir()
        self.folder.chmod(folder_mode)
        self.db = self.folder / "crs.db"
        shutil.copyfile(template.db, self.db)
        self.db.chmod(0o644)
        owner = pwd.getpwnam(self.care)
        for path in (self.folder, self.db):
            os.chown(path, owner.pw_uid, owner.pw_gid)
        self.url = f"sqlite:///{self.db}"
        self.t0, self.id, self.steps = template.t0, template.id, template.steps
        self.holder: subprocess.Popen[str] | None = None

    def at(self, hours: float) -> str:
        return iso(self.t0 + timedelta(hours=hours))

    def start(self, user: str, *args: str) -> "subprocess.Popen[str]":
        """`python -m cli ARGS` as `user`, with CRS_DB set to this ward's database."""
        how = python_for(user)
        assert not isinstance(how, str), how
        argv, extra = how
        env = {"PATH": "/usr/bin:/bin", "TZ": "UTC", "LANG": "C.UTF-8", "NO_COLOR": "1", "HOME": "/nonexistent",
               "CRS_DB": self.url, **dict(extra)}
        return subprocess.Popen([*argv, "-m", "cli", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, cwd=CODE, env=env, umask=0o022, **as_user(user))

    def crs(self, user: str, *args: str) -> Ran:
        return finished(self.start(user, *args))

    def ok(self, user: str, *args: str) -> dict[str, Any]:
        ran = self.crs(user, *args, "--json")
        assert ran.code == 0, (user, args, ran.code, ran.stdout, ran.stderr)
        return dict(ran.json)

    def step(self, *args: str, hours: float) -> dict[str, Any]:
        done = self.ok(self.care, args[0], self.id, *args[1:], "--at", self.at(hours))
        self.steps += 1
        return done

    def hold_open(self) -> None:
        """A care-team process that keeps one connection open (its side files stay, its steps stay in the
        WAL: no checkpoint at close while another connection is attached)."""
        how = python_for(self.care)
        assert not isinstance(how, str)
        argv, extra = how
        code = ("import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute('PRAGMA journal_mode = WAL'); "
                "c.execute('SELECT count(*) FROM event').fetchall(); print('ready', flush=True); sys.stdin.read()")
        self.holder = subprocess.Popen([*argv, "-c", code, str(self.db)], stdin=subprocess.PIPE,
                                       stdout=subprocess.PIPE, text=True, cwd="/", umask=0o022,
                                       env={"PATH": "/usr/bin:/bin", **dict(extra)}, **as_user(self.care))
        assert self.holder.stdout is not None and self.holder.stdout.readline().strip() == "ready"

    def release(self, *, kill: bool = False) -> None:
        if self.holder is None:
            return
        if kill:
            self.holder.send_signal(signal.SIGKILL)
        else:
            assert self.holder.stdin is not None
            self.holder.stdin.close()
        self.holder.wait(timeout=30)
        self.holder = None

    def files(self) -> dict[str, str]:
        """Each file in the folder and its owner's name."""
        return {path.name: pwd.getpwuid(path.lstat().st_uid).pw_name for path in sorted(self.folder.iterdir())}


@dataclass
class Template:
    care: str
    auditor: str
    db: Path
    t0: datetime
    id: str
    steps: int


@pytest.fixture(scope="module")
def template(users: tuple[str, str]) -> Iterator[Template]:
    """Made once by real `crs` steps as the care team: open, observe, give, and a refused second dose."""
    care, auditor = users
    folder = Path(tempfile.mkdtemp(prefix="crs-h17-template-"))
    folder.chmod(0o755)
    owner = pwd.getpwnam(care)
    os.chown(folder, owner.pw_uid, owner.pw_gid)
    t0 = datetime.now(timezone.utc).replace(second=0, microsecond=0) - timedelta(hours=30)
    ward = Ward.__new__(Ward)
    ward.care, ward.auditor, ward.folder, ward.db = care, auditor, folder, folder / "crs.db"
    ward.url, ward.t0, ward.steps, ward.holder = f"sqlite:///{ward.db}", t0, 0, None
    try:
        opened = ward.ok(care, "open", "--patient", "CART-70", "--weight-kg", "70", "--age-years", "58",
                         "--at", iso(t0))
        ward.id = opened["episode"]
        ward.step("observe", *CRS_2, hours=1)
        ward.step("give", "tocilizumab", "--dose-mg", "560", hours=1.5)
        refused = ward.crs(care, "give", ward.id, "tocilizumab", "--dose-mg", "560", "--at", ward.at(1.75), "--json")
        assert refused.code == 1, (refused.stdout, refused.stderr)  # TOCI_MIN_INTERVAL: logged as a refusal
        assert ward.files() == {"crs.db": care}, "the last close removed the side files"
        yield Template(care, auditor, ward.db, t0, ward.id, ward.steps)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def base() -> Iterator[Path]:
    """A folder both users can reach (pytest's tmp_path is root's own, mode 0700)."""
    with reachable_folder("crs-h17-") as folder:
        yield folder


def read_everything(ward: Ward, user: str, commands: tuple[str, ...] = READ_ONLY_COMMANDS) -> dict[str, Any]:
    """Every read-only command (or those named), as `user`; each must succeed. What each one saw."""
    running = {}
    for command in commands:  # all at once: auditors meeting each other must not get in each other's way either
        words = command.split()
        args = [*words, ward.id] if command not in ("audit verify", "list") else words
        if command == "audit report":
            args += ["--format", "json"]
        running[command] = ward.start(user, *args, "--json")
    seen: dict[str, Any] = {}
    for command, process in running.items():
        ran = finished(process)
        assert ran.code == 0, (command, ran.code, ran.stdout, ran.stderr)
        seen[command] = ran.json
    return seen


def assert_saw_every_step(ward: Ward, seen: dict[str, Any]) -> None:
    events = ward.steps + 1  # every step, including those still in the WAL
    checks = {
        "audit verify": lambda body: body["ok"] is True and body["events"] == events,
        "history": lambda body: len(body["events"]) == events,
        "audit report": lambda body: json.dumps(body).count(ward.id) >= 1 and len(body["timeline"]) == events,
        "audit refusals": lambda body: len(body["refusals"]) == 1,
        "status": lambda body: body["tocilizumab_doses"] == 1,
        "list": lambda body: [row["episode"] for row in body["episodes"]] == [ward.id],
    }
    for command, body in seen.items():
        assert checks[command](body), (command, body)


FOLDERS = [pytest.param(0o755, id="folder-read-only-for-the-auditor"),
           pytest.param(0o777, id="folder-writable-by-the-auditor")]
SIDE_FILES = [pytest.param(False, id="no-side-files"), pytest.param(True, id="side-files-held-open")]


# -- the regression tests --------------------------------------------------------------------------------------

@pytest.mark.parametrize("held", SIDE_FILES)
@pytest.mark.parametrize("folder_mode", FOLDERS)
def test_an_audit_by_another_os_user_leaves_nothing_that_blocks_the_care_team(
        template: Template, base: Path, folder_mode: int, held: bool) -> None:
    """H17 as found: the auditor's read-only commands left `-wal`/`-shm` owned by the auditor (the care
    team's next step: "attempt to write a readonly database"), or, from a folder the auditor cannot write,
    every audit exited 2. Now each read-only command works and leaves the folder as the care team has it."""
    auditor = template.auditor
    ward = Ward(template, base, folder_mode)
    try:
        if held:
            ward.hold_open()
            ward.step("act", "labs", hours=2)  # recorded while the holder is attached: it stays in the WAL
            assert {"crs.db-wal", "crs.db-shm"} <= set(ward.files())
        else:
            assert set(ward.files()) == {"crs.db"}
        before = ward.files()

        assert_saw_every_step(ward, read_everything(ward, auditor))
        assert ward.files() == before, "the audit created, removed or re-owned a file in the care team's folder"
        assert auditor not in ward.files().values()

        ward.step("act", "telemetry", hours=2.5)  # the care team carries on
        assert_saw_every_step(ward, read_everything(ward, auditor, ("history",)))  # and the auditor sees it
    finally:
        ward.release()
    ward.step("act", "echocardiogram", hours=3)
    assert auditor not in ward.files().values()


@pytest.mark.parametrize("held", SIDE_FILES)
def test_a_long_audit_by_another_os_user_never_blocks_a_step(template: Template, base: Path, held: bool) -> None:
    """An auditor's read transaction held open (a long verify) while the care team steps: the step goes
    through at once (no busy wait) and the audit still reads one consistent snapshot."""
    auditor = template.auditor
    ward = Ward(template, base, 0o755)
    how = python_for(auditor)
    assert not isinstance(how, str)
    argv, extra = how
    code = ("import sys; from persistence.store import Store\n"
            "store = Store.open(sys.argv[1], read_only=True)\n"
            "with store.reading() as reader:\n"
            "    first = reader.value('SELECT count(*) FROM event')\n"
            "    print(first, flush=True); sys.stdin.readline()\n"
            "    print(reader.value('SELECT count(*) FROM event'), flush=True)\n"
            "store.close()\n")
    try:
        if held:
            ward.hold_open()
        auditing = subprocess.Popen([*argv, "-c", code, ward.url], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True, cwd=CODE, umask=0o022,
                                    env={"PATH": "/usr/bin:/bin", **dict(extra)}, **as_user(auditor))
        assert auditing.stdout is not None and auditing.stdin is not None
        first = auditing.stdout.readline().strip()
        assert first == str(ward.steps + 1), auditing.stderr.read() if auditing.stderr else first
        started = datetime.now(timezone.utc)
        ward.step("act", "labs", hours=2)
        assert datetime.now(timezone.utc) - started < timedelta(seconds=5), "the step waited for the audit"
        auditing.stdin.write("\n")
        auditing.stdin.flush()
        assert auditing.stdout.readline().strip() == first, "one read transaction, one snapshot"
        assert auditing.wait(timeout=30) == 0
    finally:
        ward.release()
    assert auditor not in ward.files().values()
    ward.step("act", "telemetry", hours=2.5)


def test_an_audit_reads_the_steps_a_crashed_writer_left_in_the_wal(template: Template, base: Path) -> None:
    """A care-team process killed while attached leaves its `-wal` (steps not yet in the main file) and
    `-shm`. An auditor who may write neither reads those steps all the same (SQLite rebuilds the WAL index
    in private memory), and creates nothing."""
    auditor = template.auditor
    ward = Ward(template, base, 0o755)
    ward.hold_open()
    ward.step("act", "labs", hours=2)
    ward.release(kill=True)
    files = ward.files()
    assert {"crs.db-wal", "crs.db-shm"} <= set(files) and (ward.folder / "crs.db-wal").stat().st_size > 0
    assert_saw_every_step(ward, read_everything(ward, auditor, ("audit verify", "history")))
    assert ward.files() == files
    ward.step("act", "telemetry", hours=2.5)


@pytest.mark.parametrize("held", SIDE_FILES)
def test_an_audit_by_root_creates_no_file_in_the_care_teams_folder(template: Template, base: Path, held: bool) -> None:
    """Root is the special case: SQLite chowns the side files it creates to the database's owner, so the
    previous release's root audit left usable files; now root, too, creates none."""
    ward = Ward(template, base, 0o755)
    try:
        if held:
            ward.hold_open()
        before = ward.files()
        assert_saw_every_step(ward, read_everything(ward, "root", ("audit verify", "history", "audit report")))
        assert ward.files() == before
    finally:
        ward.release()
    ward.step("act", "labs", hours=2)


# -- the read-only snapshot itself, in this process (no second user needed) --------------------------------------

this_checkout = pytest.mark.skipif(CODE != ROOT, reason="in-process: tests this checkout's persistence/sqlite_readers.py")

def _quiet_database(folder: Path) -> tuple[str, str]:
    """A database with one episode and no side files (every writer closed): (url, episode id)."""
    from persistence.store import Store, reset_process_cache
    from tests.support.steps import open_episode

    url = f"sqlite:///{folder / 'crs.db'}"
    writer = Store.open(url)
    episode = open_episode(writer)
    writer.close()
    reset_process_cache()
    assert sorted(os.listdir(folder)) == ["crs.db"]
    return url, episode


def _source(store: Any) -> str:
    with store.reading() as reader:
        return str(reader.cursor.connection.crs_source)


@this_checkout
def test_a_read_only_store_sees_steps_recorded_after_it_was_opened(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A private copy serves later transactions only while the database has not moved on."""
    from persistence.store import Store, reset_process_cache
    from tests.support.steps import T0, act, minutes

    private, folder = tmp_path / "tmp", tmp_path / "db"
    private.mkdir()
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private))  # where the private copies go
    url, episode = _quiet_database(folder)
    auditor = Store.open(url, read_only=True)
    try:
        assert len(auditor.history(episode)) == 1 and _source(auditor) == "copy"
        assert os.listdir(private) == [], "the copy is unlinked once SQLite has it open"
        writer = Store.open(url)
        act(writer, episode, T0 + minutes(5))
        assert len(auditor.history(episode)) == 2, "the step recorded after the audit store was opened"
        assert _source(auditor) == "live"  # the writer is attached: its WAL is read in place
        writer.close()
        act(Store.open(url), episode, T0 + minutes(6))
        assert len(auditor.history(episode)) == 3
    finally:
        auditor.close()
        reset_process_cache()
    assert os.listdir(private) == []
    assert sorted(os.listdir(folder)) == ["crs.db"]


@this_checkout
def test_a_writer_that_starts_during_the_copy_is_never_missed(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A real step (another process) lands while the private copy is being made. Holding SQLite's SHARED
    lock, the audit keeps that writer from deleting its `-wal` at close, sees it after the copy, and starts
    again: it reads the new step, never the stale copy."""
    from persistence import sqlite_readers
    from persistence.store import Store, reset_process_cache

    url, episode = _quiet_database(tmp_path)
    copying = sqlite_readers._copy_fd
    seen: dict[str, Any] = {"copies": 0}

    def copy_while_a_writer_steps(source: int, target: str) -> None:
        seen["copies"] += 1
        if seen["copies"] == 1:
            done = subprocess.run([sys.executable, "-m", "cli", "act", episode, "labs", "--at",
                                   "2025-03-01T08:05:00Z"], capture_output=True, text=True, cwd=ROOT, timeout=120,
                                  env={**os.environ, "CRS_DB": url, "NO_COLOR": "1"})
            assert done.returncode == 0, done
            seen["wal after the writer closed"] = os.path.exists(tmp_path / "crs.db-wal")
        copying(source, target)

    monkeypatch.setattr(sqlite_readers, "_copy_fd", copy_while_a_writer_steps)
    auditor = Store.open(url, read_only=True)
    try:
        assert len(auditor.history(episode)) == 2
        assert _source(auditor) == "live"
    finally:
        auditor.close()
        reset_process_cache()
    assert seen["copies"] == 1 and seen["wal after the writer closed"] is True


def _hold_pending_lock(path: Path) -> "subprocess.Popen[str]":
    """Another process write-locks SQLite's PENDING byte, as a connection does on its way to EXCLUSIVE
    (a last close checkpointing the WAL)."""
    code = ("import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR); "
            "fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 0x40000000, os.SEEK_SET); "
            "print('locked', flush=True); sys.stdin.read()")
    holder = subprocess.Popen([sys.executable, "-c", code, str(path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    return holder


@this_checkout
def test_a_closing_writer_makes_a_read_only_open_wait_then_say_busy(tmp_path: Path) -> None:
    from pathway.errors import Conflict
    from persistence.store import Store, reset_process_cache

    url, episode = _quiet_database(tmp_path)
    holder = _hold_pending_lock(tmp_path / "crs.db")
    try:
        with pytest.raises(Conflict, match="busy"):
            Store.open(url, read_only=True, timeout_s=0.3)
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
        reset_process_cache()
    auditor = Store.open(url, read_only=True, timeout_s=0.3)
    assert len(auditor.history(episode)) == 1
    auditor.close()
    reset_process_cache()


@this_checkout
@pytest.mark.skipif(not Path("/proc/locks").exists(), reason="reads the kernel's lock table (/proc/locks)")
def test_a_read_only_store_never_drops_the_locks_of_a_writer_in_the_same_process(tmp_path: Path) -> None:
    """POSIX drops every lock a process holds on a file when any descriptor of it closes: the audit's own
    descriptor must not be closed while this process's SQLite still has the file (HAZARDS H17; SQLite's
    "how to corrupt" 2.2), or another process's last close could delete a WAL this writer is using."""
    from persistence.store import Store, reset_process_cache
    from tests.support.steps import T0, act, minutes

    url, episode = _quiet_database(tmp_path)
    inode = (tmp_path / "crs.db").stat().st_ino

    def our_posix_locks() -> list[str]:
        with open("/proc/locks") as table:
            return [line for line in table if f":{inode} " in line and " POSIX " in line
                    and line.split()[4] == str(os.getpid())]

    writer = Store.open(url)
    act(writer, episode, T0 + minutes(5))  # the writer's pooled connection now holds SQLite's SHARED lock
    try:
        held = our_posix_locks()
        assert held, "a WAL connection holds a SHARED lock on the database file while it is open"
        for _ in range(2):
            auditor = Store.open(url, read_only=True)
            assert len(auditor.history(episode)) == 2
            auditor.close()  # the writer stays open
            assert our_posix_locks() == held
        act(writer, episode, T0 + minutes(6))
    finally:
        writer.close()
        reset_process_cache()
    assert sorted(os.listdir(tmp_path)) == ["crs.db"]
