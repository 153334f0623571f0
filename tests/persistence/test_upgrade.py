"""A database made by the previous release upgrades in place and still verifies (issue 10, item 5).

The fixture tests/fixtures/crs-0.1.0-rev0001.db was written by the previous release's own code (commit
7e4f21e, schema revision 0001; tests/fixtures/README.md, scripts/make_upgrade_fixture.py), never by
this tree. Each test works on a copy. PostgreSQL has no file to ship, so a database is migrated to
revision 0001 with the project's own migrations and the fixture's rows are copied into it as they are;
then both are upgraded by `Store.open` as any writable command does.
"""

import hashlib
import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pathway.commands import Correct, RecordObservation, Void
from pathway.errors import Invalid, Refused
from pathway.history import episode_of
from pathway.observations import Observation
from persistence import audit, schema
from persistence.store import Store, reset_process_cache
from tests.support.schema import migrate_to
from tests.support.steps import run
from tests.support.tamper import EVENT_ROW_COLUMNS, event_rows, placeholders, raw_connect

FIXTURES = Path(__file__).parents[1] / "fixtures"
FIXTURE = FIXTURES / "crs-0.1.0-rev0001.db"
MANIFEST = json.loads((FIXTURES / "crs-0.1.0-rev0001.json").read_text(encoding="utf-8"))
OLD_EVENT_COLUMNS = EVENT_ROW_COLUMNS[:12]  # revision 0001 has no target_seq (0002) nor login, snapshot_sha256 (0003)
OLD_REFUSAL_COLUMNS = ("id", "at", "recorded_at", "actor", "episode_id", "kind", "command", "rule", "rules", "message")
EPISODE_COLUMNS = ("id", "patient_ref", "state", "version", "policy_name", "policy_version", "policy_json",
                   "opened_at", "updated_at", "snapshot", "head_hash")
BY_REF = {e["patient_ref"]: e for e in MANIFEST["episodes"]}
T0 = MANIFEST["t0"]


def at(hours: float) -> Any:
    from datetime import datetime, timedelta

    return datetime.fromisoformat(T0) + timedelta(hours=hours)


@pytest.fixture(autouse=True)
def _fresh_process_cache() -> Any:
    """Each test opens its database as a new process would (schema checked afresh)."""
    reset_process_cache()
    yield
    reset_process_cache()


@pytest.fixture
def old_file(tmp_path: Path) -> Path:
    copy = tmp_path / "crs.db"
    shutil.copyfile(FIXTURE, copy)
    return copy


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def raw_rows(url: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    conn = raw_connect(url)
    try:
        return [tuple(r) for r in conn.execute(placeholders(url, sql), params).fetchall()]
    finally:
        conn.close()


def stored(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every column the previous release wrote, table by table, in a fixed order."""
    return {
        "episode": raw_rows(url, f"SELECT {', '.join(EPISODE_COLUMNS)} FROM episode ORDER BY id"),
        "event": raw_rows(url, f"SELECT {', '.join(OLD_EVENT_COLUMNS)} FROM event ORDER BY episode_id, seq"),
        "refusal": raw_rows(url, f"SELECT {', '.join(OLD_REFUSAL_COLUMNS)} FROM refusal ORDER BY id"),
    }


def revision(url: str) -> list[tuple[Any, ...]]:
    return raw_rows(url, "SELECT version_num FROM alembic_version")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- the fixture is what it says ---------------------------------------------------------------------------

def test_the_fixture_is_a_small_revision_0001_database_as_its_manifest_records() -> None:
    assert FIXTURE.stat().st_size < 200_000
    conn = sqlite3.connect(f"file:{FIXTURE}?mode=ro", uri=True)
    try:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [("0001",)]
        columns = {row[1] for row in conn.execute("PRAGMA table_info(event)")}
        assert "target_seq" not in columns and len(columns) == 12
        assert "breaks_seq" not in {row[1] for row in conn.execute("PRAGMA table_info(refusal)")}
    finally:
        conn.close()
    assert MANIFEST["revision"] == "0001" and "7e4f21e" in MANIFEST["made_by"]
    assert set(BY_REF) == {"ADULT-SEED", "PED-4", "ADULT-RESOLVED"}
    assert BY_REF["ADULT-RESOLVED"]["state"] == "closed" and BY_REF["ADULT-RESOLVED"]["overridden"]
    assert BY_REF["PED-4"]["overridden"] and [r["rule"] for r in MANIFEST["refusals"]] == MANIFEST["refused_rules"]
    assert [r["episode_id"] is None for r in MANIFEST["refusals"]] == [False, False, True]


# -- SQLite: the real file of the previous release -------------------------------------------------------

def test_a_read_only_open_of_the_old_file_says_run_crs_upgrade_and_changes_nothing(old_file: Path) -> None:
    before = sha256(old_file)
    with pytest.raises(Invalid) as invalid:
        Store.open(sqlite_url(old_file), read_only=True)
    assert invalid.value.exit_code == 2
    message = invalid.value.message
    assert "`crs upgrade`" in message and "schema 0001" in message and "\n" not in message
    assert sha256(old_file) == before
    assert revision(sqlite_url(old_file)) == [("0001",)]


def test_the_installed_crs_says_the_same_in_one_sentence_exit_2(old_file: Path) -> None:
    """What a QA reviewer meets first: `crs audit verify` (read-only) on the old file."""
    crs = Path(sys.executable).parent / "crs"
    if not crs.is_file():
        pytest.fail("the `crs` console script is not installed; run `make venv`")
    done = subprocess.run([str(crs), "--db", sqlite_url(old_file), "audit", "verify"], capture_output=True,
                          text=True, timeout=120, env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1", "CRS_ACTOR": "qa"})
    assert done.returncode == 2, done
    assert "crs upgrade" in done.stderr and "Traceback" not in done.stderr + done.stdout
    assert len(done.stderr.strip().splitlines()) == 1
    assert revision(sqlite_url(old_file)) == [("0001",)]


def test_a_writable_open_upgrades_the_old_file_in_place_and_every_row_stays(old_file: Path) -> None:
    url = sqlite_url(old_file)
    before = stored(url)
    store = Store.open(url)
    assert revision(url) == [(schema.HEAD,)] == [("0003",)]
    assert stored(url) == before  # every column the old release wrote, byte for byte
    for episode in MANIFEST["episodes"]:
        rows = event_rows(url, episode["id"])
        assert [r[11] for r in rows] == episode["hashes"]  # the hashes the old release wrote
        assert [r[12] for r in rows] == [None] * len(rows)  # target_seq: NULL on every old row
    assert [r[0] for r in raw_rows(url, "SELECT breaks_seq FROM refusal ORDER BY id")] == [None] * 3
    report = audit.verify(store)
    assert report.as_json() == {"ok": True, "episodes": 3,
                                "events": sum(len(e["hashes"]) for e in MANIFEST["episodes"]), "refusals": 3,
                                "earlier_pathway_events": 16, "failures": []}
    # the snapshots the old release wrote still load, and are the one meaning of their events
    for episode in store.episodes():
        expected = next(e for e in MANIFEST["episodes"] if e["id"] == episode.id)
        assert (str(episode.state), episode.version, episode.corrections) == (expected["state"], expected["version"], 0)
        assert episode == episode_of([s.event for s in store.history(episode.id)])
    assert [r.rule for r in store.refusals()] == MANIFEST["refused_rules"]
    assert all(r.breaks_seq is None for r in store.refusals())
    store.close()


def test_the_upgraded_schema_is_the_schema_of_this_crs(old_file: Path) -> None:
    """Alembic sees no difference between the upgraded old file and today's tables; the triggers survive."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from persistence.tables import metadata

    store = Store.open(sqlite_url(old_file))
    engine = store.database.sqlalchemy_engine()  # SQLAlchemy on the store's own connections
    try:
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    finally:
        engine.dispose()
    conn2 = raw_connect(sqlite_url(old_file))
    try:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn2.execute("UPDATE event SET target_seq = 1")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn2.execute("UPDATE refusal SET breaks_seq = 1")
    finally:
        conn2.close()
    store.close()


def test_upgrading_twice_is_a_no_op(old_file: Path) -> None:
    url = sqlite_url(old_file)
    Store.open(url).close()
    reset_process_cache()
    after_first = sha256(old_file)
    Store.open(url).close()
    reset_process_cache()
    assert sha256(old_file) == after_first and revision(url) == [(schema.HEAD,)]
    assert audit.verify(Store.open(url, read_only=True)).ok


def _carry_on(store: Store, url: str) -> None:
    """An ordinary step, a correction, a void and a refused correction on the old episodes; all verify."""
    adult, child = BY_REF["ADULT-SEED"]["id"], BY_REF["PED-4"]["id"]
    old = {e["id"]: event_rows(url, e["id"]) for e in MANIFEST["episodes"]}
    step = run(store, RecordObservation(at=at(7), actor="nurse-c", episode_id=adult, observation=Observation(
        temp_c=38.4, o2_device="hfnc", o2_flow_lpm=30, fio2=0.4, ice_score=10, consciousness="awake")))
    assert step.event.seq == 7
    fixed = run(store, Correct(at=at(8), actor="dr-c", episode_id=adult, target_seq=3, reason="dose charted wrong",
                               changes={"dose_mg": 500}), now=at(8))
    assert fixed.event.seq == 8 and fixed.episode.corrections == 1
    assert fixed.episode.toci_doses[0].dose_mg == 500
    voided = run(store, Void(at=at(8), actor="dr-c", episode_id=child, target_seq=5, reason="given on another ward"),
                 now=at(8))
    assert voided.event.data["target_kind"] == "give" and voided.event.seq == 6
    with pytest.raises(Refused) as refused:  # 900 mg is above the ceiling for 70 kg, override or not
        run(store, Correct(at=at(8), actor="dr-c", episode_id=adult, target_seq=3, reason="again",
                           changes={"dose_mg": 900}, override_reason="sure"), now=at(8.1))
    assert refused.value.rule == "CORRECTION_TARGET"  # seq 3 is superseded now; the correction stands
    with pytest.raises(Refused) as refused:
        run(store, Correct(at=at(8), actor="dr-c", episode_id=child, target_seq=4, reason="again",
                           changes={"dose_mg": 900}, override_reason="sure"), now=at(8.1))
    assert refused.value.rule == "TOCI_DOSE_MAX"
    for episode_id, rows in old.items():
        assert event_rows(url, episode_id)[:len(rows)] == rows  # the old rows, every column
    targets = raw_rows(url, "SELECT episode_id, seq, target_seq FROM event WHERE target_seq IS NOT NULL "
                            "ORDER BY episode_id, seq")
    assert sorted(targets) == sorted([(adult, 8, 3), (child, 6, 5)])
    refusals = raw_rows(url, "SELECT rule, breaks_seq FROM refusal ORDER BY id")
    assert refusals[:3] == [(r, None) for r in MANIFEST["refused_rules"]]
    assert refusals[3:] == [("CORRECTION_TARGET", None), ("TOCI_DOSE_MAX", None)]
    for episode_id in (adult, child):
        assert store.episode(episode_id) == episode_of([s.event for s in store.history(episode_id)])
    report = audit.verify(store)
    assert report.ok, report.as_json()


def test_new_steps_and_corrections_on_old_episodes_work_and_verify(old_file: Path) -> None:
    url = sqlite_url(old_file)
    store = Store.open(url)
    _carry_on(store, url)
    store.close()
    reset_process_cache()
    assert audit.verify(Store.open(url, read_only=True)).ok  # and as `crs audit` opens it


def test_the_closed_old_episode_takes_no_correction(old_file: Path) -> None:
    url = sqlite_url(old_file)
    store = Store.open(url)
    closed = BY_REF["ADULT-RESOLVED"]["id"]
    with pytest.raises(Refused) as refused:
        run(store, Void(at=at(20), actor="dr-c", episode_id=closed, target_seq=4, reason="x"), now=at(20))
    assert refused.value.rule == "EPISODE_CLOSED"
    assert [r[11] for r in event_rows(url, closed)] == BY_REF["ADULT-RESOLVED"]["hashes"]
    store.close()


def test_crs_upgrade_reports_what_it_did(old_file: Path) -> None:
    """`crs upgrade` (the command the read-only message names), through the installed script."""
    crs = Path(sys.executable).parent / "crs"
    env = {"PATH": "/usr/bin:/bin", "NO_COLOR": "1", "CRS_ACTOR": "qa"}
    probe = subprocess.run([str(crs), "upgrade", "--help"], capture_output=True, text=True, timeout=120, env=env)
    if probe.returncode != 0:
        pytest.skip("this crs has no `upgrade` command yet")
    url = sqlite_url(old_file)
    done = subprocess.run([str(crs), "--db", url, "upgrade", "--json"], capture_output=True, text=True, timeout=120,
                          env=env)
    assert done.returncode == 0, done
    body = json.loads(done.stdout)
    assert (body["schema"], body["upgraded_from"]) == (schema.HEAD, "0001")
    again = subprocess.run([str(crs), "--db", url, "upgrade", "--json"], capture_output=True, text=True, timeout=120,
                           env=env)
    assert again.returncode == 0 and json.loads(again.stdout)["upgraded_from"] is None
    verified = subprocess.run([str(crs), "--db", url, "audit", "verify"], capture_output=True, text=True,
                              timeout=120, env=env)
    assert verified.returncode == 0, verified


# -- PostgreSQL: a revision-0001 database holding the previous release's rows ----------------------------------

def copy_fixture_rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """The fixture's episode, event and refusal rows inserted as they are (refusal ids by the sequence, in order)."""
    source = stored(sqlite_url(FIXTURE))
    conn = raw_connect(url)
    try:
        for table, columns in (("episode", EPISODE_COLUMNS), ("event", OLD_EVENT_COLUMNS),
                               ("refusal", OLD_REFUSAL_COLUMNS[1:])):
            rows = source[table] if table != "refusal" else [r[1:] for r in source[table]]
            sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})"
            with conn.cursor() as cur:
                cur.executemany(sql, rows)
        conn.commit()
    finally:
        conn.close()
    return source


@pytest.mark.postgres
def test_a_postgres_database_at_revision_0001_upgrades_in_place_and_verifies(postgres_url: str) -> None:
    url = postgres_url
    migrate_to(url, "0001")
    assert revision(url) == [("0001",)]
    columns = {r[0] for r in raw_rows(url, "SELECT column_name FROM information_schema.columns "
                                           "WHERE table_name = 'event'")}
    assert "target_seq" not in columns
    source = copy_fixture_rows(url)
    assert stored(url) == source
    with pytest.raises(Invalid, match="`crs upgrade`"):
        Store.open(url, read_only=True)

    store = Store.open(url)
    assert revision(url) == [(schema.HEAD,)]
    assert stored(url) == source  # every row as the previous release wrote it
    for episode in MANIFEST["episodes"]:
        assert [r[11] for r in event_rows(url, episode["id"])] == episode["hashes"]
    report = audit.verify(store)
    assert report.ok and report.episodes == 3, report.as_json()
    assert {str(e.state) for e in store.episodes()} == {"steroid", "closed"}
    _carry_on(store, url)
    store.close()
    reset_process_cache()
    assert audit.verify(Store.open(url, read_only=True)).ok
