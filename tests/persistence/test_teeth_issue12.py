"""Teeth for the store-side controls docs/SAFETY.md names (issue 12): ONE control off, the evidence fails.

As in test_teeth_record.py: each test switches one control off in this process with monkeypatch (undone after
the test; the source is never edited), runs the evidence the safety case names for it (the evidence test's own
body) on a real database, shows that it then FAILS, then, the patch undone, that the same evidence passes on a
fresh database. Tests taking `new_database` run on a real SQLite file and a real PostgreSQL database.

| hazard | test                                     | control switched off                                      |
| ------ | ---------------------------------------- | --------------------------------------------------------- |
| H1     | test_teeth_h1_verify_re_decides_events   | pathway.replay.redecide (answers "replays" for any event): |
|        |                                          | a dose rewritten to 5000 mg and re-hashed passes verify   |
| H3     | test_teeth_h3_a_step_holds_its_episode   | the lock at load (SQLite: BEGIN IMMEDIATE made a deferred  |
|        |                                          | BEGIN; PostgreSQL: load without FOR UPDATE)               |
| H25    | test_teeth_h25_verify_reads_the_policy_  | persistence.audit._check_episode_row's comparison of the  |
|        | columns[...]                             | episode row's policy columns with the open event          |

H1's forged correction (test_verify_catches_a_forged_correction_the_pathway_would_refuse) is NOT made to pass by
switching replay's re-decision off: verify also folds the corrected history (pathway.replay.refold re-decides the
effective history), and that refuses the 900 mg correction too. The plain dose forgery is what only the
re-decision catches. H3's lock is one of three layers: with it off, two steps do decide on the same version (the
second one accepting a second tocilizumab dose in the same minute), and the version check on write (seq =
version + 1, `WHERE version = expected`, the primary key (episode_id, seq)) still refuses the second write as a
Conflict; so the race test cannot see two doses with the lock alone off (the test below shows both).
"""

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pathway import replay
from pathway.commands import AdministerDose
from pathway.drugs import Drug
from pathway.episode import apply
from pathway.errors import Conflict
from pathway.machine import decide
from persistence import audit, unit_of_work
from persistence.store import Store, reset_process_cache
from tests.persistence import test_audit_contract as audit_evidence
from tests.persistence import test_checkpoint as checkpoint_evidence
from tests.persistence import test_store_contract as store_evidence
from tests.persistence.test_teeth_record import new_database, opened  # noqa: F401  (a fixture, and its helper)
from tests.support.steps import T0, minutes, observe, open_episode

pytestmark = pytest.mark.teeth

#: What a failed evidence check raises: an assert, or pytest.raises' "DID NOT RAISE".
EVIDENCE_FAILS = (AssertionError, pytest.fail.Exception)


@pytest.fixture(autouse=True)
def _fresh_engines() -> Iterator[None]:
    """Each run opens its databases as a new process would (no engine or schema check carried over)."""
    reset_process_cache()
    yield
    reset_process_cache()


# -- H1: verify re-decides every stored event -----------------------------------------------------------------

def test_teeth_h1_verify_re_decides_events(new_database: Callable[[], str], monkeypatch: pytest.MonkeyPatch) -> None:
    """pathway.replay.redecide answering None (the event replays) for every event: a tocilizumab dose rewritten to
    5000 mg with the chain and the snapshot re-hashed passes `crs audit verify`; only the re-decision names it."""
    monkeypatch.setattr(replay, "redecide", lambda *args, **kwargs: None)
    url = new_database()
    with opened(url) as (store, audit_store):
        with pytest.raises(EVIDENCE_FAILS):
            audit_evidence.test_verify_replays_a_consistently_rewritten_chain(store, audit_store, url)
        assert audit.verify(audit_store).ok, "with the re-decision off the 5000 mg dose passes verify"
    url = new_database()  # the forged correction is still caught: verify folds the corrected history, re-deciding it
    with opened(url) as (store, audit_store):
        audit_evidence.test_verify_catches_a_forged_correction_the_pathway_would_refuse(store, audit_store, url)

    monkeypatch.undo()
    url = new_database()
    with opened(url) as (store, audit_store):
        audit_evidence.test_verify_replays_a_consistently_rewritten_chain(store, audit_store, url)


# -- H3: a step holds its episode from load to commit ---------------------------------------------------------------

class _Unlocked(unit_of_work._Statements):
    """The statements without the lock at load: SQLite begins DEFERRED (a read takes no write lock); PostgreSQL
    reads the snapshot row without FOR UPDATE. The version check on write is left as it is."""

    def __init__(self, dialect: str) -> None:
        super().__init__(dialect)
        if dialect == "sqlite":
            self.begin = "BEGIN"
        else:
            self.load = self.load_again


def _unlock(mp: pytest.MonkeyPatch) -> None:
    mp.setattr(unit_of_work, "_Statements", _Unlocked)
    mp.setattr(unit_of_work, "_STATEMENTS", {})


def _second_dose_in_the_same_minute(url: str, episode_id: str) -> tuple[bool, str]:
    """Two writers give tocilizumab in the same minute, the second loading while the first holds the episode, the
    first committing its dose before the second decides: (whether the second decided on the same version as the
    first, how the second ended)."""
    first_store, second_store = Store.open(url), Store.open(url, timeout_s=0.3)
    at = T0 + minutes(20)
    dose = AdministerDose(at=at, actor="racer", episode_id=episode_id, drug=Drug.TOCILIZUMAB, dose_mg=560)
    first, second = first_store.unit_of_work(), second_store.unit_of_work()
    same_version, outcome, committed = False, "", False
    try:
        with first:
            mine = first.load(episode_id)

            def commit_first() -> None:
                nonlocal committed
                event = decide(mine, dose, at + minutes(1))
                first.append(event, apply(mine, event))
                first.commit()
                committed = True

            try:
                with second:
                    theirs = second.load(episode_id)  # with the lock on: a Conflict while the first holds it
                    same_version = theirs.version == mine.version
                    commit_first()
                    again = decide(theirs, dose, at + minutes(1))  # accepted: its episode has no dose yet
                    try:
                        second.append(again, apply(theirs, again))
                        second.commit()
                        outcome = "written"
                    except Conflict:
                        outcome = "conflict on write"
            except Conflict:
                outcome = outcome or "conflict at load"
            if not committed:
                commit_first()
    finally:
        first_store.close()
        second_store.close()
    return same_version, outcome


def _doses(url: str, episode_id: str) -> int:
    reader = Store.open(url, read_only=True)
    try:
        return sum(s.event.kind == "give" for s in reader.history(episode_id))
    finally:
        reader.close()


def test_teeth_h3_a_step_holds_its_episode(new_database: Callable[[], str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The lock at load switched off: another writer takes the episode while a step holds it (the evidence
    test_a_step_holds_the_episode_from_load_to_commit fails), and two steps decide on the same version, the second
    accepting a tocilizumab dose in the same minute as the first; the version check refuses its write (Conflict),
    so the record keeps one dose. With the lock on, the second step is a Conflict before it decides anything."""
    _unlock(monkeypatch)
    url = new_database()
    with opened(url) as (store, _):
        with pytest.raises(EVIDENCE_FAILS):
            store_evidence.test_a_step_holds_the_episode_from_load_to_commit(store, url)
        episode = open_episode(store, patient_ref="PT-RACE")
        observe(store, episode, T0 + minutes(10), temp_c=38.6, o2_device="nasal-cannula", o2_flow_lpm=4)
    assert _second_dose_in_the_same_minute(url, episode) == (True, "conflict on write")
    assert _doses(url, episode) == 1

    monkeypatch.undo()
    reset_process_cache()
    url = new_database()
    with opened(url) as (store, _):
        store_evidence.test_a_step_holds_the_episode_from_load_to_commit(store, url)
        episode = open_episode(store, patient_ref="PT-RACE")
        observe(store, episode, T0 + minutes(10), temp_c=38.6, o2_device="nasal-cannula", o2_flow_lpm=4)
    assert _second_dose_in_the_same_minute(url, episode) == (False, "conflict at load")
    assert _doses(url, episode) == 1


# -- H25: verify compares the episode row's policy with the open event ----------------------------------------------

def _without_the_policy_comparison(real: Callable[..., None]) -> Callable[..., None]:
    def check(ep: Any, rows: Any, events: Any, fail: Callable[[int | None, str], None]) -> None:
        real(ep, rows, events, lambda seq, problem: None if "policy" in problem else fail(seq, problem))
    return check


@pytest.mark.parametrize("name", ["policy_json_edited", "policy_version_edited"])
def test_teeth_h25_verify_reads_the_policy_columns(name: str, new_database: Callable[[], str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """persistence.audit._check_episode_row without its policy comparison: an episode row whose policy_json (or
    policy version) was edited passes plain verify, so test_episode_row_columns_edited_fail_verify fails."""
    monkeypatch.setattr(audit, "_check_episode_row", _without_the_policy_comparison(audit._check_episode_row))
    url = new_database()
    with opened(url) as (store, audit_store):
        with pytest.raises(EVIDENCE_FAILS):
            checkpoint_evidence.test_episode_row_columns_edited_fail_verify(store, audit_store, url, name)
        assert audit.verify(audit_store).ok, f"with the comparison off the {name} row passes verify"

    monkeypatch.undo()
    url = new_database()
    with opened(url) as (store, audit_store):
        checkpoint_evidence.test_episode_row_columns_edited_fail_verify(store, audit_store, url, name)


def test_the_store_is_back_after_each_issue_12_teeth_test() -> None:
    assert unit_of_work._Statements.__module__ == "persistence.unit_of_work"
    assert replay.redecide.__module__ == "pathway.replay" and audit._check_episode_row.__module__ == "persistence.audit"
