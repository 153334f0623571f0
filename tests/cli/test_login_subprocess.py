"""HAZARDS H18 (issue 11, item 3): the login each event and refusal records is the authenticated one, never what
the user says, and each PostgreSQL role can do what it is for and nothing more, through the real `crs`.

`--actor` is free text ("Dr Gregory House"); the login is the OS account of the process's effective uid on SQLite
(not $USER or $LOGNAME, set to `mallory` here) and the server's session user on PostgreSQL. `crs open --json`,
`crs history --json` and `crs audit refusals --json` carry it.

Found on the previous release (7a35703): no login was recorded at all (a clinician role recorded only
"Dr Gregory House"); the SQLite test fails there on the missing `login`. Run against another checkout with
CRS_TEST_CODE_TREE=/tmp/prev (`python -m cli` with that folder as the cwd). The PostgreSQL tests set their database
up with this checkout's code (`crs roles` did not exist before).
"""

import json
import os
import pwd
import stat
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from tests.persistence.test_pg_roles import Team, make_team, one_sentence
from tests.support.postgres import PostgresServer

ROOT = Path(__file__).resolve().parents[2]
CODE = Path(os.environ.get("CRS_TEST_CODE_TREE") or ROOT)  # whose `cli` the subprocesses import
HOUSE = "Dr Gregory House"
SPOOFED = {"USER": "mallory", "LOGNAME": "mallory", "USERNAME": "mallory"}
READ_ONLY = (("audit", "verify"), ("history", "{e}"), ("status", "{e}"), ("list",), ("audit", "refusals"),
             ("audit", "report", "{e}", "--format", "json"), ("audit", "report", "{e}", "--format", "md"))


class Ran:
    def __init__(self, done: "subprocess.CompletedProcess[str]") -> None:
        self.code, self.stdout, self.stderr = done.returncode, done.stdout, done.stderr

    @property
    def json(self) -> Any:
        return json.loads(self.stdout)

    def __repr__(self) -> str:
        return f"exit {self.code}: {self.stdout[-2000:]}{self.stderr}"


def crs(url: str, *args: str, env: dict[str, str] | None = None) -> Ran:
    """The real `crs` of CODE as a process, on `url`, with no CRS_ACTOR (so --actor or the default decides)."""
    full_env = {**os.environ, "NO_COLOR": "1", "CRS_DB": url, **(env or {})}
    full_env.pop("CRS_ACTOR", None)
    return Ran(subprocess.run([sys.executable, "-m", "cli", *args], capture_output=True, text=True, env=full_env,
                              cwd=CODE, timeout=120))


def crs_all(url: str, commands: list[tuple[str, ...]]) -> list[Ran]:
    """Several independent `crs` commands at once (each its own process, as people at their own desks)."""
    env = {**os.environ, "NO_COLOR": "1", "CRS_DB": url}
    env.pop("CRS_ACTOR", None)
    running = [subprocess.Popen([sys.executable, "-m", "cli", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=env, cwd=CODE) for args in commands]
    answers = []
    for process in running:
        stdout, stderr = process.communicate(timeout=120)
        answers.append(Ran(subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)))
    return answers


def iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def os_login() -> str:
    """Who this process is, by its effective uid (what the store must record on SQLite)."""
    return pwd.getpwuid(os.geteuid()).pw_name


def record_as_house(url: str) -> tuple[str, list[Ran]]:
    """Open, observe, give one tocilizumab dose and try a second too soon (refused), all with --actor HOUSE and
    the OS user names in the environment spoofed; the episode id and each answer."""
    t0 = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=4)
    opened = crs(url, "--actor", HOUSE, "open", "--patient", "PT-9", "--weight-kg", "70", "--age-years", "50",
                 "--at", iso(t0), "--json", env=SPOOFED)
    assert opened.code == 0, opened
    episode = opened.json["episode"]
    answers = [opened]
    for args, code in ((("observe", episode, "--temp", "39.4", "--o2", "facemask", "--at", iso(t0 + timedelta(hours=1))), 0),
                       (("give", episode, "tocilizumab", "--dose-mg", "560", "--at", iso(t0 + timedelta(hours=1.5))), 0),
                       (("give", episode, "tocilizumab", "--dose-mg", "560", "--at", iso(t0 + timedelta(hours=2))), 1)):
        answer = crs(url, "--actor", HOUSE, *args, "--json", env=SPOOFED)
        assert answer.code == code, answer
        answers.append(answer)
    return episode, answers


def assert_login_everywhere(url: str, episode: str, opened: Ran, login: str) -> None:
    """open, history and the refusal log name `login` as who wrote each row, and HOUSE as who acted."""
    assert (opened.json["login"], opened.json["actor"]) == (login, HOUSE)
    history = crs(url, "history", episode, "--json", env=SPOOFED)
    assert history.code == 0, history
    events = history.json["events"]
    assert [e["kind"] for e in events] == ["open", "observe", "give"]
    assert {(e["login"], e["actor"]) for e in events} == {(login, HOUSE)}
    refusals = crs(url, "audit", "refusals", episode, "--json", env=SPOOFED)
    assert refusals.code == 0, refusals
    assert [(r["login"], r["actor"], r["rule"]) for r in refusals.json["refusals"]] == [
        (login, HOUSE, "TOCI_MIN_INTERVAL")]
    assert "mallory" not in history.stdout + refusals.stdout + opened.stdout
    assert crs(url, "audit", "verify", "--json").json["ok"] is True  # the login is inside the hash, and verifies


def test_dr_gregory_house_is_the_actor_never_the_login_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crs.db'}"
    episode, answers = record_as_house(url)
    assert_login_everywhere(url, episode, answers[0], os_login())


# -- PostgreSQL: the session user, and what each role may do through crs ---------------------------------------------

@pytest.fixture(scope="module")
def team(postgres_server: PostgresServer) -> Team:
    return make_team(postgres_server)


@pytest.fixture(scope="module")
def recorded(team: Team) -> tuple[str, list[Ran]]:
    """One episode alice recorded as HOUSE (record_as_house): its id and the answers."""
    return record_as_house(team.url(team.clinician))


@pytest.mark.postgres
def test_dr_gregory_house_is_the_actor_never_the_login_on_postgresql(team: Team, recorded: tuple[str, list[Ran]]
                                                                     ) -> None:
    episode, answers = recorded
    assert_login_everywhere(team.url(team.clinician), episode, answers[0], team.clinician)


@pytest.mark.postgres
def test_an_auditor_reads_everything_and_records_nothing(team: Team, recorded: tuple[str, list[Ran]],
                                                         tmp_path: Path) -> None:
    episode, _ = recorded
    url = team.url(team.auditor)
    out = tmp_path / "report.md"
    reads = [tuple(arg.format(e=episode) for arg in args) + ("--json",) for args in READ_ONLY]
    for args, done in zip(reads, crs_all(url, [*reads, ("audit", "report", episode, "--out", str(out))])):
        assert done.code == 0, (args, done)
    assert out.stat().st_size > 0
    before = team.counts()
    t = iso(datetime.now(timezone.utc) - timedelta(minutes=1))
    writes = [("open", "--patient", "PT-10", "--weight-kg", "70", "--age-years", "50"),
              ("observe", episode, "--temp", "37", "--o2", "room-air", "--at", t),
              ("give", episode, "dexamethasone", "--dose-mg", "10", "--at", t),
              ("close", episode, "--reason", "QA test", "--at", t),
              ("void", episode, "3", "--reason", "QA test"),
              ("act", episode, "telemetry", "--at", t, "--json")]
    for args, refused in zip(writes, crs_all(url, writes)):
        assert refused.code == 2, (args, refused)
        if "--json" in args:
            assert refused.json["error"] == "invalid" and "permission denied" in refused.json["message"], refused
        else:
            assert one_sentence(refused.stderr) and "permission denied" in refused.stderr, (args, refused)
    assert team.counts() == before  # nothing written: no event, no episode, no refusal


@pytest.mark.postgres
def test_a_login_without_a_crs_role_gets_one_sentence(team: Team) -> None:
    url = team.url(team.stranger)
    before = team.counts()
    for args in (("list",), ("audit", "verify"), ("open", "--patient", "PT-11", "--weight-kg", "70",
                                                  "--age-years", "50")):
        done = crs(url, *args)
        assert done.code == 2 and one_sentence(done.stderr), (args, done)
        assert "permission denied" in done.stderr and team.stranger in done.stderr, (args, done)  # not "is it running"
    assert team.counts() == before


# -- crs roles on SQLite -------------------------------------------------------------------------------------------

def test_crs_roles_on_sqlite_has_nothing_to_do(tmp_path: Path) -> None:
    """No roles on SQLite: exit 0 saying so (the file's permissions are the control, and it warns of a file every
    user may read); granting a role there is invalid input (exit 2)."""
    url = f"sqlite:///{tmp_path / 'crs.db'}"
    empty = crs(url, "roles", "--json")
    assert empty.code == 0, empty
    assert (empty.json["backend"], empty.json["changed"], empty.json["roles"]) == ("sqlite", False, {})
    assert empty.json["login"] == os_login() and not (tmp_path / "crs.db").exists()  # it creates nothing
    assert crs(url, "open", "--patient", "PT-12", "--weight-kg", "70", "--age-years", "50").code == 0
    (tmp_path / "crs.db").chmod(0o644)
    shown = crs(url, "roles")
    assert shown.code == 0 and "nothing to do" in shown.stdout, shown
    assert "every user of this machine may read the database (mode 0644)" in " ".join(shown.stdout.split())
    (tmp_path / "crs.db").chmod(stat.S_IRUSR | stat.S_IWUSR | stat.S_IRGRP | stat.S_IWGRP)
    private = crs(url, "roles", "--json")
    assert private.json["file"]["mode"] == "0660" and private.json["warnings"] == [], private
    granted = crs(url, "roles", "--grant-clinician", "alice")
    assert granted.code == 2 and one_sentence(granted.stderr), granted
    bad = crs(url, "roles", "--grant-auditor", "alice,,bob")
    assert bad.code == 2 and one_sentence(bad.stderr), bad


@pytest.mark.postgres
def test_without_actor_the_actor_is_the_postgresql_login(team: Team) -> None:
    """CONTRACT: `actor` defaults to the login; on PostgreSQL that is the session user, not the OS account."""
    url = team.url(team.clinician)
    opened = crs(url, "open", "--patient", "PT-12", "--weight-kg", "70", "--age-years", "50", "--json")
    assert opened.code == 0, opened
    assert opened.json["actor"] == opened.json["login"] == team.clinician
