"""HAZARDS H18 (issue 11, item 3): least-privilege PostgreSQL roles made by `crs roles`, on a real server.

A team database as a hospital would set it up: an owner login (LOGIN CREATEROLE, not a superuser) owns the
database and runs `crs upgrade` and `crs roles`; `alice` is given crs_clinician, `bob` crs_auditor, and
`mallory` nothing. Each connects as itself (the server's trust authentication stands in for passwords).
The tests read the catalogue (information_schema and the has_*_privilege functions) and try, with raw SQL as
each login, everything a role must not be able to do: the server itself refuses it.

Found on the previous release (7a35703): there was no way to make such roles (`crs roles` did not exist), and a
step role needs UPDATE on `episode`, so it could rewrite `episode.snapshot`, which the next step trusted (the
tocilizumab dose deleted from it, a second dose 15 minutes after the first: exit 0, recorded). The `crs`
processes here are this checkout's (`python -m cli`).
"""

import json
import os
import sys
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import errors as pg_errors

from persistence.roles import AUDITOR, CLINICIAN, STEP_COLUMNS, TABLES
from tests.support.postgres import SUPERUSER, PostgresServer
from tests.cli.conftest import Ran

pytestmark = [pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[2]
PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
#: What each role may do on each table (table-level privileges), and nothing else.
EXPECTED_TABLE_GRANTS = {
    AUDITOR: {(table, "SELECT") for table in TABLES},
    CLINICIAN: {(table, "SELECT") for table in TABLES} | {(t, "INSERT") for t in ("episode", "event", "refusal")},
}


def iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def one_sentence(text: str) -> bool:
    lines = text.strip().splitlines()
    return len(lines) == 1 and lines[0].endswith((".", "?")) and "Traceback" not in text


@dataclass(frozen=True)
class Team:
    """One crs database on the session's server and the logins of its team (unique names: roles are server-wide)."""

    server: PostgresServer
    database: str
    owner: str
    clinician: str  # alice: a member of crs_clinician
    auditor: str  # bob: a member of crs_auditor
    stranger: str  # mallory: no crs role at all

    def url(self, login: str) -> str:
        return f"postgresql+psycopg://{login}@127.0.0.1:{self.server.port}/{self.database}"

    def connect(self, login: str, **kwargs: Any) -> "psycopg.Connection[Any]":
        return psycopg.connect(host="127.0.0.1", port=self.server.port, user=login, dbname=self.database, **kwargs)

    def admin(self) -> "psycopg.Connection[Any]":
        """The server's superuser on this database (for checks only: never how the team connects)."""
        return self.connect(SUPERUSER, autocommit=True)

    def crs(self, login: str, *args: str, env: dict[str, str] | None = None) -> Ran:
        """The real `crs` as a process, connected as `login`."""
        import subprocess

        full_env = {**os.environ, "NO_COLOR": "1", "CRS_DB": self.url(login), **(env or {})}
        full_env.pop("CRS_ACTOR", None)
        done = subprocess.run([sys.executable, "-m", "cli", *args], capture_output=True, text=True, env=full_env,
                              cwd=ROOT, timeout=120)
        return Ran(done.returncode, done.stdout, done.stderr)

    def counts(self) -> dict[str, int]:
        with self.admin() as conn:
            return {table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[index]
                    for table in ("episode", "event", "refusal")}


def make_team(server: PostgresServer, *, roles: bool = True) -> Team:
    """A database owned by a non-superuser owner, brought to the current schema by the owner (`crs upgrade`'s
    code, in-process), with the roles set up by the owner unless `roles` is False (as `crs roles --grant-clinician
    alice --grant-auditor bob` would; the tests below run the command itself)."""
    from persistence.database import parse_url
    from persistence.roles import set_up
    from persistence.store import Store

    suffix = uuid.uuid4().hex[:8]
    team = Team(server, f"team_{suffix}", f"owner_{suffix}", f"alice_{suffix}", f"bob_{suffix}", f"mallory_{suffix}")
    with psycopg.connect(host="127.0.0.1", port=server.port, user=SUPERUSER, dbname="postgres",
                         autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{team.owner}" LOGIN CREATEROLE')
        for login in (team.clinician, team.auditor, team.stranger):
            conn.execute(f'CREATE ROLE "{login}" LOGIN')
        conn.execute(f'CREATE DATABASE "{team.database}" OWNER "{team.owner}"')
        conn.execute(f'REVOKE ALL ON DATABASE "{team.database}" FROM PUBLIC')  # as README's set-up does
    store, _ = Store.upgrade(team.url(team.owner))
    store.close()
    if roles:
        set_up(parse_url(team.url(team.owner)), clinicians=[team.clinician], auditors=[team.auditor])
    return team


@pytest.fixture(scope="module")
def team(postgres_server: PostgresServer) -> Team:
    """The module's team database, with one episode alice recorded (open, observe, give) and one refused step."""
    made = make_team(postgres_server)
    episode, t0 = open_episode(made, made.clinician)
    refused = made.crs(made.clinician, "give", episode, "tocilizumab", "--dose-mg", "560", "--at",
                       iso(t0 + timedelta(hours=2)))
    assert refused.code == 1, refused.stdout + refused.stderr  # TOCI_MIN_INTERVAL: one refusal row
    return made


@pytest.fixture
def fresh_team(postgres_server: PostgresServer) -> Team:
    """A team database of its own, without the roles set up yet."""
    return make_team(postgres_server, roles=False)


def open_episode(team: Team, login: str, *, hours_ago: float = 6) -> tuple[str, datetime]:
    """An episode opened by `login`, observed at CRS grade 3 and given one tocilizumab dose; (id, T0)."""
    t0 = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=hours_ago)
    opened = team.crs(login, "open", "--patient", "PT-7", "--weight-kg", "70", "--age-years", "50",
                      "--at", iso(t0), "--json")
    assert opened.code == 0, opened.stdout + opened.stderr
    episode = opened.json["episode"]
    for args in (("observe", episode, "--temp", "39.2", "--o2", "facemask", "--at", iso(t0 + timedelta(hours=1))),
                 ("give", episode, "tocilizumab", "--dose-mg", "560", "--at", iso(t0 + timedelta(hours=1.5)))):
        done = team.crs(login, *args, "--json")
        assert done.code == 0, done.stdout + done.stderr
    return episode, t0


# -- crs roles: one command, idempotent, exactly these privileges --------------------------------------------------

def test_the_roles_cover_every_crs_table_and_only_the_columns_a_step_updates() -> None:
    """TABLES and STEP_COLUMNS follow the schema and the step's own UPDATE (a new table or column must be decided)."""
    import re

    from persistence.tables import metadata
    from persistence.unit_of_work import _UPDATE_EPISODE

    assert set(TABLES) == {*metadata.tables, "alembic_version"}
    assigned = _UPDATE_EPISODE.split(" SET ", 1)[1].split(" WHERE ", 1)[0]
    assert tuple(re.findall(r"(\w+) = :", assigned)) == STEP_COLUMNS



def test_crs_roles_twice_the_second_run_changes_nothing(fresh_team: Team) -> None:
    first = fresh_team.crs(fresh_team.owner, "roles", "--json")
    assert first.code == 0, first.stdout + first.stderr
    assert first.json["changed"] is True and first.json["login"] == fresh_team.owner
    assert f"granted SELECT on table event to {AUDITOR}" in first.json["changes"]
    assert f"granted UPDATE (snapshot) on table episode to {CLINICIAN}" in first.json["changes"]
    second = fresh_team.crs(fresh_team.owner, "roles", "--json")
    assert second.code == 0, second.stdout + second.stderr
    assert second.json["changed"] is False and second.json["changes"] == []
    assert second.json["roles"] == first.json["roles"]
    shown = fresh_team.crs(fresh_team.owner, "roles")
    assert shown.code == 0 and "nothing to do" in shown.stdout.splitlines()[0], shown.stdout + shown.stderr


def test_the_catalog_shows_exactly_the_least_privileges(team: Team) -> None:
    with team.admin() as conn:
        grants = conn.execute(
            "SELECT grantee, table_name, privilege_type FROM information_schema.role_table_grants "
            "WHERE grantee IN (%s, %s) AND table_schema = 'public'", (AUDITOR, CLINICIAN)).fetchall()
        for role in (AUDITOR, CLINICIAN):
            assert {(t, p) for g, t, p in grants if g == role} == EXPECTED_TABLE_GRANTS[role], role
        columns = conn.execute(
            "SELECT grantee, table_name, column_name, privilege_type FROM information_schema.column_privileges "
            "WHERE grantee IN (%s, %s) AND table_schema = 'public'", (AUDITOR, CLINICIAN)).fetchall()
        updates = {(g, t, c) for g, t, c, p in columns if p == "UPDATE"}
        assert updates == {(CLINICIAN, "episode", column) for column in STEP_COLUMNS}
        # every other column privilege is one a table-level grant implies
        assert all((t, p) in EXPECTED_TABLE_GRANTS[g] for g, t, c, p in columns if p != "UPDATE")

        def has(sql: str, *args: str) -> bool:
            return bool(conn.execute(f"SELECT {sql}", args).fetchone()[0])  # type: ignore[index]

        for role in (AUDITOR, CLINICIAN, team.clinician, team.auditor):
            group = CLINICIAN if role in (CLINICIAN, team.clinician) else AUDITOR
            for table in TABLES:
                for privilege in PRIVILEGES:
                    assert has("has_table_privilege(%s, %s, %s)", role, table, privilege) == (
                        (table, privilege) in EXPECTED_TABLE_GRANTS[group]), (role, table, privilege)
            for column in ("id", "patient_ref", "policy_name", "policy_version", "policy_json", "opened_at",
                           *STEP_COLUMNS):
                assert has("has_column_privilege(%s, 'episode', %s, 'UPDATE')", role, column) == (
                    group == CLINICIAN and column in STEP_COLUMNS), (role, column)
            for privilege in ("USAGE", "SELECT", "UPDATE"):
                assert has("has_sequence_privilege(%s, 'refusal_id_seq', %s)", role, privilege) == (
                    group == CLINICIAN and privilege == "USAGE"), (role, privilege)
            assert has("has_schema_privilege(%s, 'public', 'USAGE')", role)
            assert not has("has_schema_privilege(%s, 'public', 'CREATE')", role)
            assert has("has_database_privilege(%s, current_database(), 'CONNECT')", role)
            assert not has("has_database_privilege(%s, current_database(), 'CREATE')", role)
        attributes = conn.execute(
            "SELECT rolname, rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls "
            "FROM pg_roles WHERE rolname IN (%s, %s)", (AUDITOR, CLINICIAN)).fetchall()
        assert sorted(attributes) == [(AUDITOR, *[False] * 6), (CLINICIAN, *[False] * 6)]
        owned = conn.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner WHERE r.rolname IN (%s, %s)",
            (AUDITOR, CLINICIAN)).fetchone()
        assert owned == (0,)
        members = dict(conn.execute(
            "SELECT p.rolname, g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid "
            "JOIN pg_roles p ON p.oid = m.member WHERE p.rolname IN (%s, %s)", (team.clinician, team.auditor)))
        assert members == {team.clinician: CLINICIAN, team.auditor: AUDITOR}


def test_crs_roles_revokes_what_is_more_than_least_privilege(fresh_team: Team) -> None:
    assert fresh_team.crs(fresh_team.owner, "roles").code == 0
    with fresh_team.connect(fresh_team.owner, autocommit=True) as conn:  # what a careless administrator grants
        conn.execute(f"GRANT DELETE, UPDATE ON event TO {CLINICIAN}")
        conn.execute(f"GRANT UPDATE ON episode TO {AUDITOR}")
        conn.execute(f"GRANT SELECT ON refusal TO {AUDITOR} WITH GRANT OPTION")
        conn.execute(f"GRANT UPDATE (patient_ref) ON episode TO {CLINICIAN}")
        conn.execute(f"GRANT UPDATE, TRIGGER ON episode TO {CLINICIAN}")  # table-level: its REVOKE takes the columns
        conn.execute(f"GRANT CREATE ON SCHEMA public TO {CLINICIAN}")
        conn.execute(f"GRANT TEMPORARY ON DATABASE \"{fresh_team.database}\" TO {AUDITOR}")
        conn.execute(f'GRANT "{fresh_team.owner}" TO {CLINICIAN}')
        conn.execute(f"ALTER ROLE {AUDITOR} LOGIN")
        conn.execute("GRANT SELECT ON event TO PUBLIC")  # not a crs role's: warned of, left alone
    repaired = fresh_team.crs(fresh_team.owner, "roles", "--json")
    assert repaired.code == 0, repaired.stdout + repaired.stderr
    changes = repaired.json["changes"]
    for expected in (f"made {AUDITOR} a plain group role (NOLOGIN)",
                     f"revoked the membership of {CLINICIAN} in {fresh_team.owner}",
                     f"revoked DELETE on table event from {CLINICIAN}", f"revoked UPDATE on table event from {CLINICIAN}",
                     f"revoked UPDATE (patient_ref) on table episode from {CLINICIAN}",
                     f"revoked UPDATE on table episode from {CLINICIAN}",
                     f"revoked TRIGGER on table episode from {CLINICIAN}",
                     f"revoked CREATE on schema public from {CLINICIAN}",
                     f"revoked UPDATE on table episode from {AUDITOR}",
                     f"revoked the grant option of SELECT on table refusal from {AUDITOR}",
                     f"revoked TEMPORARY on database {fresh_team.database} from {AUDITOR}"):
        assert any(change.startswith(expected) for change in changes), (expected, changes)
    assert "PUBLIC (every login) holds SELECT on table event: REVOKE it FROM PUBLIC" in repaired.json["warnings"]
    again = fresh_team.crs(fresh_team.owner, "roles", "--json")
    assert again.code == 0 and again.json["changes"] == [], again.stdout + again.stderr
    with fresh_team.admin() as conn:
        grants = conn.execute(
            "SELECT grantee, table_name, privilege_type, is_grantable FROM information_schema.role_table_grants "
            "WHERE grantee IN (%s, %s)", (AUDITOR, CLINICIAN)).fetchall()
        assert {(g, t, p) for g, t, p, _ in grants} == {(r, t, p) for r in (AUDITOR, CLINICIAN)
                                                         for t, p in EXPECTED_TABLE_GRANTS[r]}
        assert {grantable for *_, grantable in grants} == {"NO"}
        assert conn.execute("SELECT rolcanlogin FROM pg_roles WHERE rolname = %s", (AUDITOR,)).fetchone() == (False,)


def test_crs_roles_by_a_login_that_may_not_is_one_sentence(team: Team, fresh_team: Team) -> None:
    """Only the owner (or a superuser) changes the roles: alice gets one sentence naming her, and nothing changes,
    both where she cannot even read the schema (no role yet) and where she reads it but would change a grant."""
    unread = fresh_team.crs(fresh_team.clinician, "roles")
    assert unread.code == 2, unread.stdout + unread.stderr
    assert one_sentence(unread.stderr) and f"'{fresh_team.clinician}' may not set up the crs roles" in unread.stderr
    with fresh_team.admin() as conn:
        assert conn.execute("SELECT count(*) FROM information_schema.role_table_grants WHERE table_catalog = "
                            "current_database() AND grantee IN (%s, %s)", (AUDITOR, CLINICIAN)).fetchone() == (0,)
    looked = team.crs(team.clinician, "roles", "--json")  # nothing to change: a look is not an error
    assert looked.code == 0 and looked.json["changed"] is False, looked.stdout + looked.stderr
    refused = team.crs(team.clinician, "roles", "--grant-auditor", team.stranger, "--json")
    assert refused.code == 2 and refused.json["error"] == "invalid", refused.stdout + refused.stderr
    assert f"'{team.clinician}' may not set up the crs roles" in refused.json["message"]
    with team.admin() as conn:
        assert conn.execute("SELECT pg_has_role(%s, %s, 'MEMBER')", (team.stranger, AUDITOR)).fetchone() == (False,)


def test_crs_roles_names_a_login_that_does_not_exist_and_changes_nothing(fresh_team: Team) -> None:
    missing = f"nobody_{uuid.uuid4().hex[:6]}"
    refused = fresh_team.crs(fresh_team.owner, "roles", "--grant-clinician", f"{fresh_team.clinician},{missing}")
    assert refused.code == 2, refused.stdout + refused.stderr
    assert one_sentence(refused.stderr) and f"no database login '{missing}'" in refused.stderr
    with fresh_team.admin() as conn:  # one transaction: the grants and alice's membership went with it
        assert conn.execute("SELECT count(*) FROM information_schema.role_table_grants WHERE table_catalog = "
                            "current_database() AND grantee IN (%s, %s)", (AUDITOR, CLINICIAN)).fetchone() == (0,)
        assert conn.execute("SELECT pg_has_role(%s, %s, 'MEMBER')", (fresh_team.clinician, CLINICIAN)
                            ).fetchone() == (False,)


def test_crs_roles_before_crs_upgrade_asks_for_it(postgres_server: PostgresServer) -> None:
    url = postgres_server.create_database()
    import subprocess

    done = subprocess.run([sys.executable, "-m", "cli", "--db", url, "roles"], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert done.returncode == 2 and one_sentence(done.stderr) and "crs upgrade" in done.stderr, done.stderr


# -- the auditor: reads, and the server refuses every write ---------------------------------------------------------

AUDITOR_WRITES = (
    "INSERT INTO episode (id, patient_ref, state, version, policy_name, policy_version, policy_json, opened_at, "
    "updated_at, snapshot, head_hash) VALUES ('EFAKE', 'p', 'assessment', 1, 'd', '1', '{}', 't', 't', '{}', 'h')",
    "INSERT INTO event SELECT * FROM event LIMIT 1",
    "INSERT INTO refusal (at, recorded_at, actor, kind, command, rule, rules, message) "
    "VALUES ('t', 't', 'a', 'give', '{}', 'R', '[]', 'm')",
    "UPDATE episode SET snapshot = snapshot",
    "UPDATE event SET actor = actor",
    "DELETE FROM refusal",
    "TRUNCATE event",
    "CREATE TABLE public.shadow (x int)",
    "SELECT setval('refusal_id_seq', 1)",
    "UPDATE alembic_version SET version_num = version_num",
)


@pytest.mark.parametrize("statement", AUDITOR_WRITES, ids=lambda s: " ".join(s.split()[:3]))
def test_an_auditor_cannot_write_anything_with_raw_sql(team: Team, statement: str) -> None:
    with team.connect(team.auditor) as conn:
        assert conn.execute("SELECT count(*) FROM event").fetchone()[0] > 0  # type: ignore[index]  # it reads
        with pytest.raises(pg_errors.InsufficientPrivilege):
            conn.execute(statement)


# -- the clinician: steps, and nothing that alters history ----------------------------------------------------------

CLINICIAN_FORBIDDEN = (
    "UPDATE event SET actor = 'someone else'",
    "UPDATE event SET payload = payload",
    "DELETE FROM event",
    "UPDATE refusal SET message = 'nothing happened'",
    "DELETE FROM refusal",
    "TRUNCATE event",
    "TRUNCATE refusal",
    "DELETE FROM episode",
    "UPDATE episode SET patient_ref = 'someone else'",
    "UPDATE episode SET policy_json = '{}'",
    "UPDATE alembic_version SET version_num = '0001'",
    "SELECT setval('refusal_id_seq', 1)",
    "ALTER TABLE event DISABLE TRIGGER event_append_only",
    "ALTER TABLE event DISABLE TRIGGER ALL",
    "ALTER TABLE refusal DISABLE TRIGGER refusal_authenticated",
    "DROP TRIGGER event_append_only ON event",
    "DROP TRIGGER event_authenticated ON event",
    "ALTER TABLE event ADD COLUMN note text",
    "DROP TABLE refusal",
    "CREATE TRIGGER sneaky BEFORE INSERT ON event FOR EACH ROW EXECUTE FUNCTION crs_append_only()",
    "CREATE OR REPLACE FUNCTION crs_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$",
    "ALTER FUNCTION crs_event_authenticated() OWNER TO CURRENT_USER",
    "SET session_replication_role = replica",
    "CREATE TABLE public.shadow (x int)",
)


@pytest.mark.parametrize("statement", CLINICIAN_FORBIDDEN, ids=lambda s: " ".join(s.split()[:4]))
def test_a_clinician_cannot_alter_history_with_raw_sql(team: Team, statement: str) -> None:
    """Permission denied or `must be owner` (both SQLSTATE 42501): the server refuses, whatever the client does."""
    before = team.counts()
    with team.connect(team.clinician) as conn:
        with pytest.raises(pg_errors.InsufficientPrivilege):
            conn.execute(statement)
    assert team.counts() == before


@pytest.mark.parametrize("table", ["event", "refusal"])
def test_a_clinician_cannot_record_another_login(team: Team, table: str) -> None:
    """A row claiming another login (even the one it copies) is refused by the 0003 trigger: login = session_user."""
    columns = {"event": "episode_id, seq + 1000, kind, at, recorded_at, actor, from_state, to_state, payload, "
                        "override, prev_hash, hash, target_seq, %s, snapshot_sha256",
               "refusal": "seq + 1000, prev_hash, hash, %s, at, recorded_at, actor, episode_id, kind, command, rule, "
                          "rules, message, breaks_seq"}[table]
    target = {"event": "episode_id, seq, kind, at, recorded_at, actor, from_state, to_state, payload, override, "
                       "prev_hash, hash, target_seq, login, snapshot_sha256",
              "refusal": "seq, prev_hash, hash, login, at, recorded_at, actor, episode_id, kind, command, rule, "
                         "rules, message, breaks_seq"}[table]
    before = team.counts()
    with team.connect(team.clinician) as conn:
        with pytest.raises(pg_errors.InsufficientPrivilege, match="must be the session user"):
            conn.execute(f"INSERT INTO {table} ({target}) SELECT {columns} FROM {table} LIMIT 1", (team.auditor,))
    assert team.counts() == before


def test_forged_snapshot_by_the_step_role_is_refused_at_the_next_step(team: Team) -> None:
    """H15 on PostgreSQL: the step role needs UPDATE on episode, so it can rewrite the snapshot (the tocilizumab
    dose deleted from it); the next step checks the snapshot against its head event: exit 5, only the refusal."""
    episode, t0 = open_episode(team, team.clinician, hours_ago=3)
    with team.connect(team.clinician) as conn:
        snapshot = json.loads(conn.execute("SELECT snapshot FROM episode WHERE id = %s", (episode,)).fetchone()[0])
        assert [d["drug"] for d in snapshot["doses"]] == ["tocilizumab"]
        forged = {**snapshot, "doses": [], "state": "assessment", "phase_started_at": None}
        updated = conn.execute("UPDATE episode SET snapshot = %s, state = 'assessment' WHERE id = %s",
                               (json.dumps(forged, sort_keys=True, separators=(",", ":")), episode))
        assert updated.rowcount == 1  # allowed at the SQL level: a step must update these columns
    before = team.counts()
    again = team.crs(team.clinician, "give", episode, "tocilizumab", "--dose-mg", "560", "--at",
                     iso(t0 + timedelta(hours=1.75)), "--json")
    assert again.code == 5, again.stdout + again.stderr
    assert again.json["error"] == "integrity" and again.json.get("rule") == "RECORD_INTEGRITY"
    assert episode in again.json["message"]
    assert team.counts() == {**before, "refusal": before["refusal"] + 1}
    with team.admin() as conn:
        rule, login = conn.execute("SELECT rule, login FROM refusal ORDER BY seq DESC LIMIT 1").fetchone()  # type: ignore[misc]
    assert (rule, login) == ("RECORD_INTEGRITY", team.clinician)


def test_the_group_roles_cannot_log_in(team: Team) -> None:
    for role in (AUDITOR, CLINICIAN):
        with pytest.raises(psycopg.OperationalError, match="not permitted to log in"):
            team.connect(role).close()
