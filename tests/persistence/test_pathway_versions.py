"""H23: an upgrade never turns a clean record into verify failures or bedside refusals, nor re-decides the past.

tests/fixtures/crs-pathway-v1.db was written by the pathway before issue 9 (commit dc1cd2f, contract 1; made by
tests/fixtures/make_pathway_v1.py): one adult episode whose two observations with nothing recorded that
pathway graded CRS 0 / ICANS 0. Today's pathway grades such an observation "not assessed" (null).

Found on the previous main (7e475d3), this fixture upgraded: `crs audit verify` failed ("the stored snapshot
cannot be read", seq 6) and every step on the episode was refused ("recorded in a format this version of the
pathway cannot read"), at the bedside, on a record nobody had touched; a smaller v1 episode (open, one blank
observation) failed verify with "replay differs in data" and its steps were refused with RECORD_INTEGRITY. Now each event is re-decided only
by the pathway version that decided it (pathway/events.py PATHWAY_VERSION, `data["pathway"]`); older events are
folded as recorded, counted by verify (`earlier_pathway_events`), and their snapshot must agree with the fold on
every field it records.
"""

import json
import shutil
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from pathway.commands import AdministerDose, RecordObservation
from pathway.errors import Refused, UntrustedRecord
from pathway.events import PATHWAY_VERSION
from pathway.observations import Observation
from pathway.service import handle
from persistence import audit
from persistence.store import Store

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "crs-pathway-v1.db"
EPISODE = "EZD2V1"
T0 = datetime(2026, 5, 4, 8, 0, tzinfo=timezone.utc)  # the fixture's clinical start
V1_EVENTS = 6


def upgraded(tmp_path: Path) -> str:
    copy = tmp_path / "crs.db"
    shutil.copyfile(FIXTURE, copy)
    Store.open(f"sqlite:///{copy}").close()  # a writable open upgrades the schema in place
    return f"sqlite:///{copy}"


def observe(store: Store, hours: float, **fields: object):  # type: ignore[no-untyped-def]
    at = T0 + timedelta(hours=hours)
    command = RecordObservation(at=at, actor="nurse-v2", episode_id=EPISODE, observation=Observation(**fields))
    return handle(command, store.unit_of_work(), at + timedelta(minutes=1))


def test_the_v1_record_grades_blank_observations_0_as_it_was_decided() -> None:
    """The fixture is what it claims: v1's grades of the blank observations are 0, and no event is versioned."""
    db = sqlite3.connect(f"file:{FIXTURE}?mode=ro", uri=True)
    try:
        payloads = [json.loads(p) for (p,) in db.execute("SELECT payload FROM event ORDER BY seq")]
    finally:
        db.close()
    assert len(payloads) == V1_EVENTS and not any("pathway" in p for p in payloads)
    blank = [p for p in payloads if p.get("observation") == {}]
    assert [(p["crs_grade"], p["icans_grade"]) for p in blank] == [(0, 0), (0, 0)]


def test_an_upgraded_v1_record_verifies_and_counts_its_earlier_decisions(tmp_path: Path) -> None:
    store = Store.open(upgraded(tmp_path))
    try:
        assert audit.verify(store).as_json() == {"ok": True, "episodes": 1, "events": V1_EVENTS, "refusals": 0,
                                                 "earlier_pathway_events": V1_EVENTS, "failures": []}
    finally:
        store.close()


def test_a_step_on_an_upgraded_v1_episode_is_decided_by_todays_pathway_on_the_fold(tmp_path: Path) -> None:
    """The next observation is accepted (not RECORD_INTEGRITY), carries today's version and is re-decided by
    verify; the v1 events stay as recorded (their grades 0), and a repeat tocilizumab dose inside 8 h of the v1
    dose is still refused: the step decided on the fold of the v1 history."""
    store = Store.open(upgraded(tmp_path))
    try:
        stepped = observe(store, 5, temp_c=38.9, o2_device="nasal-cannula", o2_flow_lpm=2, ice_score=10,
                          consciousness="awake")
        assert stepped.event.data["pathway"] == PATHWAY_VERSION and stepped.event.seq == V1_EVENTS + 1
        assert stepped.event.data["crs_grade"] == 2
        with pytest.raises(Refused) as refused:
            at = T0 + timedelta(hours=5.5)
            handle(AdministerDose(at=at, actor="nurse-v2", episode_id=EPISODE, drug="tocilizumab", dose_mg=560),
                   store.unit_of_work(), at + timedelta(minutes=1))
        assert "TOCI_MIN_INTERVAL" in refused.value.rules
        report = audit.verify(store)
        assert (report.ok, report.events, report.earlier) == (True, V1_EVENTS + 1, V1_EVENTS)
        assert [h.event.data.get("crs_grade") for h in store.history(EPISODE)][1] == 0  # as v1 decided it
    finally:
        store.close()


def _forge_v1_snapshot(url: str) -> None:
    """What an editor of the database would do: delete the doses from the v1 snapshot (H15 on an old record)."""
    db = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        (text,) = db.execute("SELECT snapshot FROM episode WHERE id = ?", (EPISODE,)).fetchone()
        snapshot = json.loads(text)
        snapshot["doses"] = []
        db.execute("UPDATE episode SET snapshot = ? WHERE id = ?", (json.dumps(snapshot), EPISODE))
        db.commit()
    finally:
        db.close()


def test_a_forged_v1_snapshot_is_still_refused_at_the_step_and_caught_by_verify(tmp_path: Path) -> None:
    url = upgraded(tmp_path)
    _forge_v1_snapshot(url)
    store = Store.open(url)
    try:
        with pytest.raises(UntrustedRecord):
            observe(store, 5, temp_c=37.0, o2_device="room-air")
        failures = audit.verify(store).as_json()["failures"]
        assert [(f["episode"], f["problem"]) for f in failures] == [
            (EPISODE, "the stored snapshot disagrees with the replayed episode (doses)")]
    finally:
        store.close()
