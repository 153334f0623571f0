"""Every `--out FILE` is safe (CONTRACT v2 "Every `--out FILE`", HAZARDS H16), with real `crs` processes on
real files.

Found: `crs audit report E --out crs.db` overwrote the live database and exited 0 (`audit digest --out`
too); any existing file was overwritten and symlinks were followed. Now: an existing path is refused
unless --force, the database and its side files always (through a symlink or a hard link too), the
write is atomic (a new inode renamed into place, no temporary file left), and an unusable path is
exit 2 with one sentence, nothing written.

The processes are `python -m cli` run from this checkout (PYTHONPATH = the repository root), so the
same file can be run against another checkout of the code, e.g. the previous release.
"""

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import ACTOR, Ran, one_sentence

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = {  # every command with --out, as (its arguments before --out); EPISODE is filled in
    "report": ["audit", "report", "EPISODE"],
    "report-html": ["audit", "report", "EPISODE", "--format", "html"],
    "digest": ["audit", "digest"],
    "export": ["export", "EPISODE", "--format", "fhir"],
}


def run_crs(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
            prefix: list[str] | None = None) -> Ran:
    """`crs ARGS` as a real process of this checkout's code (CRS_DB only from `env`)."""
    base = {k: v for k, v in os.environ.items() if k != "CRS_DB"}
    full_env = {**base, "NO_COLOR": "1", "CRS_ACTOR": ACTOR, "PYTHONPATH": str(ROOT), **(env or {})}
    done = subprocess.run([*(prefix or []), sys.executable, "-m", "cli", *args], capture_output=True, text=True,
                          env=full_env, cwd=cwd or ROOT, timeout=120)
    return Ran(done.returncode, done.stdout, done.stderr)


def in_parallel(run: Callable[[Any], Ran], items: list[Any]) -> list[Ran]:
    """Independent `crs` processes at once (each is mostly interpreter start-up), results in order."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(run, items))


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One real database with an episode (an observation, a refused dose), made once by `crs` itself."""
    folder = tmp_path_factory.mktemp("template")
    url = f"sqlite:///{folder / 'crs.db'}"
    opened = run_crs("--db", url, "--json", "open", "--patient", "PT-1", "--weight-kg", "70", "--age-years", "50")
    assert opened.code == 0, opened.stderr
    episode = opened.json["episode"]
    assert run_crs("--db", url, "observe", episode, "--temp", "38.6", "--o2", "room-air").code == 0
    assert run_crs("--db", url, "give", episode, "tocilizumab", "--dose-mg", "560").code == 1  # refused: logged
    assert sorted(p.name for p in folder.iterdir()) == ["crs.db"], "every connection closed: one file to copy"
    return folder / "crs.db", episode


class Database:
    """A copy of the template database in a folder of its own."""

    def __init__(self, folder: Path, template: tuple[Path, str]) -> None:
        self.folder = folder
        self.path = folder / "crs.db"
        shutil.copyfile(template[0], self.path)
        self.url = f"sqlite:///{self.path}"
        self.episode = template[1]

    def crs(self, *args: str, **kwargs: object) -> Ran:
        return run_crs("--db", self.url, *args, **kwargs)  # type: ignore[arg-type]

    def command(self, name: str) -> list[str]:
        return [self.episode if arg == "EPISODE" else arg for arg in COMMANDS[name]]

    def files(self) -> dict[str, str]:
        """Every entry beside the database: a digest of each file's content, a symlink's target."""
        found = {}
        for entry in sorted(self.folder.iterdir()):
            if entry.is_symlink():
                found[entry.name] = "-> " + os.readlink(entry)
            elif entry.is_file():
                found[entry.name] = hashlib.sha256(entry.read_bytes()).hexdigest()
            else:
                found[entry.name] = "other"
        return found

    def db_digest(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()

    def verifies(self) -> bool:
        ran = self.crs("audit", "verify")
        return ran.code == 0 and ran.stdout.startswith("OK")


@pytest.fixture
def db(tmp_path: Path, template: tuple[Path, str]) -> Database:
    return Database(tmp_path, template)


def _refused_as_database(ran: Ran) -> bool:
    return ran.code == 2 and ran.stdout == "" and one_sentence(ran.stderr) and "database" in ran.stderr \
        and "not even with --force" in ran.stderr and "--out" in ran.stderr


# -- the database itself: always refused -------------------------------------------------------------

#: Every way to name the database or one of its side files.
TARGETS = ("plain", "symlink", "hard-link", "relative", "dot-dot", "-wal", "-shm", "-journal")


def _database_targets(db: Database) -> dict[str, tuple[str, Path | None]]:
    """target -> (the --out value, the cwd to run in)."""
    (db.folder / "alias.db").symlink_to(db.path)
    os.link(db.path, db.folder / "twin.db")
    (db.folder / "sub").mkdir()
    return {"plain": (str(db.path), None), "symlink": (str(db.folder / "alias.db"), None),
            "hard-link": (str(db.folder / "twin.db"), None), "relative": ("crs.db", db.folder),
            "dot-dot": (str(db.folder / "sub" / ".." / "crs.db"), None),
            **{suffix: (f"{db.path}{suffix}", None) for suffix in ("-wal", "-shm", "-journal")}}


def _assert_database_refused(db: Database, cases: list[tuple[str, str]], extra: list[str]) -> None:
    targets = _database_targets(db)
    before, files = db.db_digest(), db.files()

    def attempt(case: tuple[str, str]) -> Ran:
        out, cwd = targets[case[1]]
        return db.crs(*db.command(case[0]), "--out", out, *extra, cwd=cwd)

    for case, ran in zip(cases, in_parallel(attempt, cases)):
        assert _refused_as_database(ran), (case, ran)
    assert db.db_digest() == before and db.files() == files, "nothing was written"
    assert db.verifies(), "the database is intact"


def test_report_out_refuses_the_live_database(db: Database) -> None:
    """`crs audit report E --out crs.db` overwrote the live database and exited 0 (through a symlink or a
    hard link too, and its side files): now exit 2, one sentence, nothing written, the database verifies."""
    _assert_database_refused(db, [("report", target) for target in TARGETS] + [("report-html", "plain")], [])


def test_digest_out_refuses_the_live_database(db: Database) -> None:
    """`crs audit digest --out crs.db` overwrote the live database too."""
    _assert_database_refused(db, [("digest", target) for target in ("plain", "symlink", "hard-link", "-wal")], [])


@pytest.mark.parametrize("command", ["report", "digest"])
def test_out_refuses_the_live_database_even_with_force(db: Database, command: str) -> None:
    """--force replaces an existing file, never the database or a side file."""
    targets = TARGETS if command == "report" else ("plain", "hard-link")
    _assert_database_refused(db, [(command, target) for target in targets], ["--force"])


def test_report_out_refuses_the_default_database(tmp_path: Path) -> None:
    """With no --db the database is crs.db in the user data folder (XDG_DATA_HOME): refused there too."""
    data = tmp_path / "data"
    env = {"XDG_DATA_HOME": str(data)}
    opened = run_crs("--json", "open", "--patient", "PT-1", "--weight-kg", "70", "--age-years", "50", env=env)
    assert opened.code == 0, opened.stderr
    database = data / "crs-pathway" / "crs.db"
    assert database.is_file()
    before = hashlib.sha256(database.read_bytes()).hexdigest()
    ran = run_crs("audit", "report", opened.json["episode"], "--out", str(database), "--force", env=env)
    assert _refused_as_database(ran), ran
    assert hashlib.sha256(database.read_bytes()).hexdigest() == before
    assert run_crs("audit", "verify", env=env).code == 0


def test_report_out_refuses_the_database_with_json_error(db: Database) -> None:
    """--json: one JSON error object, `invalid`, exit 2."""
    ran = db.crs(*db.command("report"), "--out", str(db.path), "--force", "--json")
    assert ran.code == 2 and ran.stderr == ""
    assert ran.json["error"] == "invalid" and "never overwritten" in ran.json["message"]


# -- an existing file: refused without --force, replaced atomically with it -------------------------

@pytest.mark.parametrize("command", ["report", "digest"])
def test_out_refuses_an_existing_path_without_force(db: Database, command: str) -> None:
    """Any existing file was overwritten (and a symlink followed): now refused unless --force, left as it was,
    be it a file, a symlink, a dangling symlink or a fifo."""
    target = db.folder / "target.txt"
    target.write_text("the link's target\n")
    (db.folder / "file.out").write_text("keep me\n")
    (db.folder / "link.out").symlink_to(target)
    (db.folder / "dangling.out").symlink_to(db.folder / "nowhere.txt")
    os.mkfifo(db.folder / "fifo.out")
    reader = os.open(db.folder / "fifo.out", os.O_RDONLY | os.O_NONBLOCK)  # a writer would not block: it fails fast
    files = db.files()
    names = ["file.out", "link.out", "dangling.out", "fifo.out"]
    try:
        runs = in_parallel(lambda n: db.crs(*db.command(command), "--out", str(db.folder / n)), names)
        assert os.read(reader, 1) == b"", "nothing was written into the fifo"
    finally:
        os.close(reader)
    for name, ran in zip(names, runs):
        assert ran.code == 2 and ran.stdout == "" and one_sentence(ran.stderr), (name, ran)
        assert "--out" in ran.stderr and "already exists" in ran.stderr and "--force to overwrite" in ran.stderr
    assert db.files() == files, "nothing was written"
    assert not (db.folder / "nowhere.txt").exists(), "a dangling symlink is not followed"


@pytest.mark.parametrize("command", ["report", "digest"])
def test_out_force_replaces_atomically(db: Database, command: str) -> None:
    """--force puts a new file in place by rename: a new inode, the old content intact for whoever had it
    open (never truncated or written in place), no temporary file left behind."""
    out = db.folder / "report.out"
    out.write_text("old content\n")
    old_inode = out.stat().st_ino
    with open(out, encoding="utf-8") as reader:  # a reader that opened the old file before the replace
        ran = db.crs(*db.command(command), "--out", str(out), "--force")
        assert ran.code == 0, ran.stderr
        assert reader.read() == "old content\n", "the old file was not written in place"
    assert out.stat().st_ino != old_inode
    fresh = db.crs(*db.command(command))
    assert fresh.code == 0
    written = out.read_text(encoding="utf-8")
    assert written.strip() and "old content" not in written
    if command == "digest":  # the digest on stdout is pretty-printed by rich: compare the JSON values
        import json

        assert json.loads(written) == json.loads(fresh.stdout)
    else:
        assert written.rstrip("\n") == fresh.stdout.rstrip("\n")
    assert sorted(p.name for p in db.folder.iterdir() if p.name.startswith(".")) == [], "no temporary file left"


def test_out_force_replaces_a_symlink_not_its_target(db: Database) -> None:
    """--force over a symlink replaces the link itself; its target is never written through."""
    target = db.folder / "precious.txt"
    target.write_text("precious\n")
    link = db.folder / "report.md"
    link.symlink_to(target)
    ran = db.crs(*db.command("report"), "--out", str(link), "--force")
    assert ran.code == 0, ran.stderr
    assert not link.is_symlink() and link.read_text(encoding="utf-8").startswith("# QA report")
    assert target.read_text() == "precious\n"


def test_out_writes_a_new_file_with_ordinary_permissions(db: Database) -> None:
    out = db.folder / "new.md"
    ran = db.crs(*db.command("report"), "--out", str(out))
    assert ran.code == 0 and ran.stdout.startswith("Report written to"), ran
    umask = os.umask(0o022)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o644 & ~umask
    assert out.read_text(encoding="utf-8").startswith("# QA report")


# -- paths that cannot be written: exit 2, one sentence, nothing written -----------------------------

def _unusable(db: Database, out: str, *, prefix: list[str] | None = None) -> Ran:
    files = db.files()
    ran = db.crs(*db.command("report"), "--out", out, prefix=prefix)
    assert ran.code == 2 and ran.stdout == "" and one_sentence(ran.stderr) and "--out" in ran.stderr, ran
    assert db.files() == files, "nothing was written"
    return ran


@pytest.mark.parametrize("command", ["report", "digest"])
def test_out_file_name_over_255_characters_is_exit_2(db: Database, command: str) -> None:
    """A file name over 255 characters: exit 70 (an internal error) before; now exit 2 with one sentence."""
    files = db.files()
    ran = db.crs(*db.command(command), "--out", str(db.folder / ("r" * 300 + ".md")))
    assert ran.code == 2 and one_sentence(ran.stderr) and "too long" in ran.stderr, ran
    assert db.files() == files


def test_out_missing_folder_is_exit_2(db: Database) -> None:
    assert "does not exist" in _unusable(db, str(db.folder / "no-such-folder" / "r.md")).stderr


def test_out_a_folder_is_exit_2(db: Database) -> None:
    (db.folder / "reports").mkdir()
    assert "is a folder" in _unusable(db, str(db.folder / "reports")).stderr


def test_out_a_file_as_folder_is_exit_2(db: Database) -> None:
    (db.folder / "plain.txt").write_text("x")
    _unusable(db, str(db.folder / "plain.txt" / "r.md"))


@pytest.mark.parametrize("mode", [0o500, 0o000], ids=["read-only-folder", "unreadable-folder"])
def test_out_no_permission_is_exit_2(db: Database, mode: int) -> None:
    """A folder the user may not write, or not even search: exit 2, one sentence. As root the mode bits do
    not bind, so CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH are dropped for the process (setpriv)."""
    locked = db.folder / "locked"
    locked.mkdir()
    prefix: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: permission bits cannot apply")
        prefix = [setpriv, "--bounding-set=-dac_override,-dac_read_search"]
    locked.chmod(mode)
    try:
        assert "permission" in _unusable(db, str(locked / "r.md"), prefix=prefix).stderr
    finally:
        locked.chmod(0o700)
    assert list(locked.iterdir()) == []


# -- the writer itself: no clobber when a file appears meanwhile, nothing left on failure ------------

def test_write_out_does_not_clobber_a_file_that_appeared_after_the_check(tmp_path: Path) -> None:
    """check_out passes, then another process creates the file: write_out still does not overwrite it."""
    from cli.outfile import check_out, write_out
    from pathway.errors import Invalid

    out = tmp_path / "r.md"
    check_out(out, force=False)
    out.write_text("someone else's\n")
    with pytest.raises(Invalid, match="already exists"):
        write_out(out, "ours\n", force=False)
    assert out.read_text() == "someone else's\n"
    assert [p.name for p in tmp_path.iterdir()] == ["r.md"], "no temporary file left"


def test_write_out_link_race_is_refused_and_leaves_no_temporary_file(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The name appears between the last check and link(2) (made to happen here by creating it just before
    the real link call): link fails with EEXIST, the other file stays, the temporary file is removed."""
    import cli.outfile as outfile
    from pathway.errors import Invalid

    out = tmp_path / "r.md"
    real_link: Callable[..., None] = os.link

    def racing_link(source: str, destination: Path) -> None:
        Path(destination).write_text("appeared\n")
        real_link(source, destination)

    monkeypatch.setattr(outfile.os, "link", racing_link)
    with pytest.raises(Invalid, match="appeared while it was being written"):
        outfile.write_out(out, "ours\n", force=False)
    assert out.read_text() == "appeared\n"
    assert [p.name for p in tmp_path.iterdir()] == ["r.md"]


def test_write_out_private_mode(tmp_path: Path) -> None:
    """The mode a caller asks for (a private key: 0600), less the umask; bytes written as they are."""
    from cli.outfile import write_out

    out = tmp_path / "key"
    write_out(out, b"\x00secret", force=False, mode=0o600)
    assert out.stat().st_mode & 0o777 == 0o600 and out.read_bytes() == b"\x00secret"


@pytest.mark.postgres
def test_report_out_on_postgresql_has_no_database_file_to_protect(postgres_url: str, tmp_path: Path) -> None:
    """PostgreSQL: nothing on disk is the database; --out still refuses an existing file and writes atomically."""
    opened = run_crs("--db", postgres_url, "--json", "open", "--patient", "PT-1", "--weight-kg", "70",
                     "--age-years", "50")
    assert opened.code == 0, opened.stderr
    out = tmp_path / "r.md"
    assert run_crs("--db", postgres_url, "audit", "report", opened.json["episode"], "--out", str(out)).code == 0
    again = run_crs("--db", postgres_url, "audit", "report", opened.json["episode"], "--out", str(out))
    assert again.code == 2 and "already exists" in again.stderr
    assert run_crs("--db", postgres_url, "audit", "report", opened.json["episode"], "--out", str(out),
                   "--force").code == 0
