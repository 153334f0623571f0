"""pathway.service.handle: one step = load -> decide -> append -> commit, or a refusal-log row and nothing else.

Driven through the REAL unit of work (persistence.store.Store on a SQLite file), so "nothing else was
written" and "the refusal was logged" are read back from the database, not from a stand-in. One database
serves the module (its schema is made once); each test opens its own episode.

What a clinician and a QA auditor rely on (CONTRACT.md "Exit codes", `crs audit refusals`):
- an accepted step is on the record exactly as returned, stamped by the store (login, snapshot hash);
- a refused step leaves the episode as it was and leaves one row in the refusal log saying when, who,
  which episode, what was tried and which rule(s) refused it;
- a correction, void or late entry is decided against the whole stored history;
- a snapshot that does not match its chain is refused like a rule (RECORD_INTEGRITY) and logged.
"""

import importlib
import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from pathway.commands import AdministerDose, Command, Correct, OpenEpisode, RecordAction, RecordObservation, Void
from pathway.errors import Refused, UntrustedRecord, Violation
from pathway.observations import Observation
from pathway.service import RefusalRecord, StepResult, handle, refusal_record, rewrites_history
from persistence.store import Store

#: Loaded at collection (the schema is made with Alembic on the module's first Store.open): each mutmut fork
#: inherits it and pays only for running the migrations, not for importing them.
importlib.import_module("alembic.command")

UTC = timezone.utc
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CRS2 = Observation(temp_c=38.6, o2_device="nasal-cannula", o2_flow_lpm=3)


def h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, Path]]:
    path = tmp_path_factory.mktemp("service") / "crs.db"
    store = Store.open(f"sqlite:///{path}")
    yield store, path
    store.close()


@pytest.fixture
def store(db: tuple[Store, Path]) -> Store:
    return db[0]


def step(store: Store, command: Command, now: datetime | None = None) -> StepResult:
    """One step through the real unit of work; the clock a minute after the clinical time unless given."""
    return handle(command, store.unit_of_work(), now or command.at + timedelta(minutes=1))


def opened(store: Store, patient: str = "P-SVC") -> str:
    return step(store, OpenEpisode(at=T0, actor="nurse-a", patient_ref=patient, weight_kg=70, age_years=60)).episode.id


def observe(episode: str, at: datetime, **kw: object) -> RecordObservation:
    return RecordObservation(at=at, actor="nurse-a", episode_id=episode, observation=CRS2, **kw)


def dose(episode: str, at: datetime, dose_mg: float, **kw: object) -> AdministerDose:
    return AdministerDose(at=at, actor="dr-b", episode_id=episode, drug="tocilizumab", dose_mg=dose_mg, **kw)


def refusals_of(store: Store, episode: str | None) -> list[RefusalRecord]:
    return [r for r in store.refusals() if r.episode_id == episode]


# -- accepted steps -------------------------------------------------------------------------------------

def test_open_is_committed_and_returned_as_stored_with_the_stores_stamps(store: Store) -> None:
    result = step(store, OpenEpisode(at=T0, actor="nurse-a", patient_ref="P-OPEN", weight_kg=70, age_years=60))
    episode = result.episode
    assert (episode.state, episode.version, episode.patient_ref) == ("assessment", 1, "P-OPEN")
    event = result.event
    assert (event.episode_id, event.seq, event.kind, event.from_state, event.to_state) == (
        episode.id, 1, "open", None, "assessment")
    assert event.recorded_at == h(1 / 60) and event.actor == "nurse-a"
    assert event.login == store.login() and event.snapshot_sha256 is not None  # stamped: the stored event
    assert [e.event for e in store.history(episode.id)] == [event]  # committed, read back from the file
    assert store.episode(episode.id) == episode


def test_an_ordinary_step_appends_exactly_one_event_and_moves_the_snapshot(store: Store) -> None:
    episode = opened(store)
    result = step(store, observe(episode, h(1)))
    assert (result.event.seq, result.event.kind, result.episode.version) == (2, "observe", 2)
    assert result.episode.crs is not None and result.episode.crs.grade == 2
    given = step(store, dose(episode, h(1.5), 560))
    assert (given.event.from_state, given.event.to_state) == ("assessment", "tocilizumab")
    assert [e.event.seq for e in store.history(episode)] == [1, 2, 3]
    assert store.episode(episode) == given.episode and given.episode.state == "tocilizumab"
    assert refusals_of(store, episode) == []


# -- refused steps ----------------------------------------------------------------------------------------

def test_a_refused_dose_changes_nothing_and_is_logged_with_who_what_when_and_why(store: Store) -> None:
    episode = opened(store)
    step(store, observe(episode, h(1)))
    before = (store.episode(episode), store.history(episode))
    with pytest.raises(Refused) as caught:
        step(store, dose(episode, h(2), 900), now=h(2.25))  # above 800 mg and above 8 mg/kg at 70 kg
    assert caught.value.rule == "TOCI_DOSE_MAX"
    assert (store.episode(episode), store.history(episode)) == before  # the episode is unchanged
    (logged,) = refusals_of(store, episode)
    assert (logged.at, logged.recorded_at, logged.actor, logged.kind) == (h(2), h(2.25), "dr-b", "give")
    assert (logged.rule, logged.rules, logged.message) == ("TOCI_DOSE_MAX", caught.value.rules, caught.value.message)
    assert logged.breaks_seq is None and logged.login == store.login()
    assert logged.command["drug"] == "tocilizumab" and logged.command["dose_mg"] == 900.0
    assert logged.command["episode_id"] == episode and logged.command["at"] == "2026-03-01T14:00:00Z"
    # the episode takes the next step as if the refused one had never been tried
    assert step(store, dose(episode, h(2), 560), now=h(2.5)).event.seq == 3


def test_a_refused_open_is_logged_without_an_episode_and_opens_nothing(store: Store) -> None:
    before = len(store.episodes())
    command = OpenEpisode(at=h(2), actor="nurse-a", patient_ref="P-FUTURE", weight_kg=70, age_years=60)
    with pytest.raises(Refused) as caught:
        step(store, command, now=h(1))  # an hour ahead of the clock
    assert caught.value.rule == "TIME_FUTURE"
    assert len(store.episodes()) == before
    logged = store.refusals()[-1]
    assert (logged.episode_id, logged.kind, logged.rule, logged.at) == (None, "open", "TIME_FUTURE", h(2))
    assert logged.command["patient_ref"] == "P-FUTURE" and "policy" not in logged.command


# -- history rewrites: decided against every stored event ------------------------------------------------

def test_a_correction_and_a_void_are_decided_on_the_whole_stored_history(store: Store) -> None:
    episode = opened(store)
    step(store, observe(episode, h(1)))
    step(store, dose(episode, h(1.5), 56))  # seq 3: a typo for 560
    step(store, RecordAction(at=h(1.7), actor="nurse-a", episode_id=episode, action="labs"))  # seq 4: another patient's
    corrected = step(store, Correct(at=h(2), actor="charge-nurse", episode_id=episode, target_seq=3, reason="typo",
                                    changes={"dose_mg": 560}), now=h(2))
    assert (corrected.event.seq, corrected.event.kind, corrected.event.at) == (5, "correct", h(1.5))
    assert corrected.event.data["corrected"]["dose_mg"] == 560.0
    assert [d.dose_mg for d in corrected.episode.doses] == [560.0]
    voided = step(store, Void(at=h(3), actor="charge-nurse", episode_id=episode, target_seq=4, reason="wrong patient"),
                  now=h(3))
    assert (voided.event.kind, voided.event.at, voided.event.to_state) == ("void", h(1.7), "tocilizumab")
    assert voided.episode.actions == {} and [d.dose_mg for d in voided.episode.doses] == [560.0]
    assert store.episode(episode) == voided.episode and len(store.history(episode)) == 6


def test_a_late_entry_takes_its_clinical_place(store: Store) -> None:
    episode = opened(store)
    step(store, RecordAction(at=h(3), actor="nurse-a", episode_id=episode, action="labs"))
    late = step(store, observe(episode, h(1), late="paper chart from the transfer"), now=h(4))
    assert (late.event.seq, late.event.at, late.event.data["late"]) == (3, h(1), True)
    assert late.episode.crs is not None and late.episode.crs.grade == 2 and late.episode.last_at == h(3)
    assert store.episode(episode) == late.episode


def test_a_late_entry_that_breaks_a_recorded_event_is_logged_with_that_seq(store: Store) -> None:
    episode = opened(store)
    step(store, observe(episode, h(0.5)))
    step(store, dose(episode, h(3), 560))  # seq 3
    with pytest.raises(Refused) as caught:
        step(store, dose(episode, h(1), 560, late="charted after the transfer", override_reason="x"), now=h(4))
    assert (caught.value.rule, caught.value.breaks_seq) == ("TOCI_MIN_INTERVAL", 3)
    (logged,) = refusals_of(store, episode)
    assert (logged.breaks_seq, logged.rule, logged.at, logged.recorded_at) == (3, "TOCI_MIN_INTERVAL", h(1), h(4))
    assert logged.command["late"] == "charted after the transfer"
    assert len(store.history(episode)) == 3


def test_rewrites_history_is_a_correction_a_void_or_a_late_entry() -> None:
    common = {"at": T0, "actor": "a", "episode_id": "E1"}
    assert rewrites_history(Correct(**common, target_seq=2, reason="r"))
    assert rewrites_history(Void(**common, target_seq=2, reason="r"))
    assert rewrites_history(RecordAction(**common, action="labs", late="charted late"))
    assert not rewrites_history(RecordAction(**common, action="labs"))
    assert not rewrites_history(OpenEpisode(at=T0, actor="a", patient_ref="P", weight_kg=70, age_years=60))


# -- an untrusted snapshot (HAZARDS H15) ---------------------------------------------------------------------

def test_a_snapshot_that_does_not_match_its_chain_is_refused_and_logged_as_record_integrity(
        db: tuple[Store, Path]) -> None:
    store, path = db
    episode = opened(store, "P-TAMPER")
    with sqlite3.connect(path) as conn:  # an administrator edits the snapshot row's head hash
        conn.execute("UPDATE episode SET head_hash = ? WHERE id = ?", ("0" * 64, episode))
    history = store.history(episode)
    with pytest.raises(UntrustedRecord) as caught:
        step(store, observe(episode, h(1)))
    assert caught.value.episode_id == episode
    assert store.history(episode) == history  # nothing appended
    (logged,) = refusals_of(store, episode)
    assert (logged.rule, logged.rules, logged.kind) == ("RECORD_INTEGRITY", ("RECORD_INTEGRITY",), "observe")
    assert logged.message == caught.value.message and logged.breaks_seq is None


# -- the refusal record itself (pure) -------------------------------------------------------------------------

def test_the_refusal_record_keeps_the_clinical_time_and_the_clock_time_in_utc() -> None:
    plus2 = timezone(timedelta(hours=2))
    command = dose("E1", h(2), 900)
    refused = Refused([Violation("TOCI_MIN_INTERVAL", False, "too soon"), Violation("TOCI_INDICATION", True, "why")],
                      breaks_seq=5)
    record = refusal_record(command, refused, datetime(2026, 3, 1, 16, 30, tzinfo=plus2))
    assert record.recorded_at == h(2.5) and record.recorded_at.tzinfo is UTC
    assert record.at == h(2) and record.actor == "dr-b" and record.episode_id == "E1" and record.kind == "give"
    assert record.rule == "TOCI_MIN_INTERVAL" and record.rules == ("TOCI_MIN_INTERVAL", "TOCI_INDICATION")
    assert record.message == "too soon (seq 5, in the corrected history)" and record.breaks_seq == 5
    assert record.command == {"at": "2026-03-01T14:00:00Z", "actor": "dr-b", "episode_id": "E1", "late": None,
                              "override_reason": None, "kind": "give", "drug": "tocilizumab", "dose_mg": 900.0,
                              "route": None}
    assert record.login is None  # the store stamps it


def test_an_open_refused_has_no_episode_and_its_policy_is_not_copied_into_the_log() -> None:
    command = OpenEpisode(at=T0, actor="nurse-a", patient_ref="P-1", weight_kg=70, age_years=60, context="day 3")
    record = refusal_record(command, Refused([Violation("TIME_FUTURE", False, "ahead")]), T0)
    assert record.episode_id is None and record.kind == "open" and record.breaks_seq is None
    assert record.command == {"at": "2026-03-01T12:00:00Z", "actor": "nurse-a", "kind": "open",
                              "patient_ref": "P-1", "weight_kg": 70.0, "age_years": 60.0, "context": "day 3"}


def test_an_untrusted_record_is_logged_under_its_rule() -> None:
    untrusted = UntrustedRecord("E1", "episode E1: its stored snapshot (version 2) does not match")
    record = refusal_record(observe("E1", h(1)), untrusted, h(1))
    assert (record.rule, record.rules, record.breaks_seq) == ("RECORD_INTEGRITY", ("RECORD_INTEGRITY",), None)
    assert record.message == "episode E1: its stored snapshot (version 2) does not match"
