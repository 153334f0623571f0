"""The store's contract for corrections, voids and late entries, on a real SQLite file and a real PostgreSQL.

A change to the record is one more event: every row already stored stays byte for byte what it was (its
payload, its hash, every column), `event.target_seq` names what a correct or void replaces (NULL on every
other row), the snapshot is `pathway.history.episode_of` of the stored events, and `audit verify` passes.
A refused change writes its refusal row (with `breaks_seq`) and nothing else. A change races like any
step (Conflict, never a lost update), and is never decided on a stored history whose chain is broken.
"""

import threading
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from pathway.commands import AdministerDose, Command, Correct, RecordAction, RecordObservation, Void
from pathway.errors import Conflict, CrsError, IntegrityError, Refused
from pathway.history import decide_change, episode_of
from pathway.observations import Observation
from pathway.service import StepResult, handle
from persistence import audit
from persistence.store import Store
from tests.persistence.test_store_contract import counts, lock_held
from tests.support.steps import ACTOR, T0, minutes, observe, run, treated_episode
from tests.support.tamper import event_rows, raw_connect, tamper

#: When the changes below are recorded: after the treated episode's last event (T0 + 40 min).
LATER = T0 + minutes(50)


def snapshot_row(url: str, episode_id: str) -> tuple[Any, ...]:
    conn = raw_connect(url)
    try:
        sql = "SELECT id, state, version, snapshot, head_hash, updated_at FROM episode WHERE id = ?"
        return tuple(conn.execute(sql if url.startswith("sqlite") else sql.replace("?", "%s"), (episode_id,)).fetchone())
    finally:
        conn.close()


def refusal_rows(url: str) -> list[tuple[Any, ...]]:
    conn = raw_connect(url)
    try:
        return [tuple(r) for r in conn.execute("SELECT id, episode_id, kind, rule, breaks_seq FROM refusal ORDER BY id")]
    finally:
        conn.close()


def correct_dose(episode_id: str, dose_mg: float = 500, override: str | None = None) -> Correct:
    """The treated episode's tocilizumab (seq 3, 560 mg) corrected."""
    return Correct(at=LATER, actor="dr-b", episode_id=episode_id, target_seq=3, reason="transcription error",
                   changes={"dose_mg": dose_mg}, override_reason=override)


def void_labs(episode_id: str) -> Void:
    return Void(at=LATER, actor="dr-b", episode_id=episode_id, target_seq=4, reason="entered on the wrong episode")


def late_observation(episode_id: str) -> RecordObservation:
    obs = Observation(temp_c=38.7, o2_device="nasal-cannula", o2_flow_lpm=3)
    return RecordObservation(at=T0 + minutes(25), actor="nurse-c", episode_id=episode_id, observation=obs,
                             late="charted after the handover")


def late_action(episode_id: str) -> RecordAction:
    return RecordAction(at=T0 + minutes(15), actor="nurse-c", episode_id=episode_id, action="telemetry",
                        late="paper chart transcribed")


#: kind of change -> (command for the treated episode, the target_seq column the new row must carry)
CHANGES: dict[str, tuple[Callable[[str], Command], int | None]] = {
    "correct": (correct_dose, 3),
    "void": (void_labs, 4),
    "late-observe": (late_observation, None),
    "late-act": (late_action, None),
}


def assert_clean(store: Store, url: str, episode_id: str) -> None:
    """Snapshot = the one meaning of the stored events, and the whole store verifies."""
    events = [s.event for s in store.history(episode_id)]
    assert store.episode(episode_id) == episode_of(events)
    assert str(store.episode(episode_id).state) == snapshot_row(url, episode_id)[1]
    report = audit.verify(store)
    assert report.ok, report.as_json()


# -- accepted changes ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("change", list(CHANGES))
def test_an_accepted_change_is_one_new_event_and_every_earlier_row_is_untouched(store: Store, url: str,
                                                                                 change: str) -> None:
    episode_id = treated_episode(store)
    bystander = treated_episode(store, patient_ref="PT-BYSTANDER")
    before, bystander_rows = event_rows(url, episode_id), event_rows(url, bystander)
    tables, refusals = counts(store), refusal_rows(url)
    make, target = CHANGES[change]

    result = run(store, make(episode_id), now=LATER)

    after = event_rows(url, episode_id)
    assert after[:len(before)] == before  # every column of every earlier row: payload, hashes, target_seq
    assert len(after) == len(before) + 1 and result.event.seq == len(after) == 6
    new = dict(zip(("episode_id", "seq", "kind", "at", "recorded_at", "actor", "from_state", "to_state", "payload",
                    "override", "prev_hash", "hash", "target_seq"), after[-1]))
    assert new["prev_hash"] == before[-1][11]  # chained onto the head
    assert new["target_seq"] == target
    assert [row[12] for row in after[:-1]] == [None] * 5  # NULL on every ordinary row
    assert new["kind"] == (change if change in ("correct", "void") else change.split("-")[1])
    if target is not None:
        assert result.event.data["target_seq"] == target
    else:
        assert result.event.data["late"] is True and result.event.data["late_reason"]
    assert counts(store) == {**tables, "event": tables["event"] + 1}
    assert refusal_rows(url) == refusals
    assert event_rows(url, bystander) == bystander_rows
    assert store.episode(episode_id) == result.episode and result.episode.corrections == 1
    assert_clean(store, url, episode_id)


def test_changes_stack_and_each_names_its_own_target(store: Store, url: str) -> None:
    """A correction, a later step, a void, a late entry and a correction of a late entry: one row each."""
    episode_id = treated_episode(store)
    run(store, correct_dose(episode_id), now=LATER)
    observe(store, episode_id, T0 + minutes(55), temp_c=38.1)  # an ordinary step after a correction: seq 7
    run(store, Void(at=LATER, actor="dr-b", episode_id=episode_id, target_seq=4, reason="wrong episode"),
        now=T0 + minutes(60))
    late = run(store, late_action(episode_id), now=T0 + minutes(61))
    fixed = run(store, Correct(at=LATER, actor="dr-b", episode_id=episode_id, target_seq=late.event.seq,
                               reason="it was an echocardiogram", changes={"action": "echocardiogram"}),
                now=T0 + minutes(62))
    rows = event_rows(url, episode_id)
    assert [(r[2], r[12]) for r in rows] == [("open", None), ("observe", None), ("give", None), ("act", None),
                                             ("observe", None), ("correct", 3), ("observe", None), ("void", 4),
                                             ("act", None), ("correct", 9)]
    assert fixed.episode.corrections == 4
    history = [s.event for s in store.history(episode_id)]
    assert episode_of(history) == store.episode(episode_id)
    assert_clean(store, url, episode_id)


def test_voiding_the_only_tocilizumab_dose_reroutes_and_the_snapshot_agrees(store: Store, url: str) -> None:
    episode_id = treated_episode(store)
    assert str(store.episode(episode_id).state) == "tocilizumab"
    result = run(store, Void(at=LATER, actor="dr-b", episode_id=episode_id, target_seq=3, reason="wrong patient"),
                 now=LATER)
    assert result.event.from_state == "tocilizumab" and result.event.to_state == str(result.episode.state)
    assert len(result.episode.toci_doses) == 0
    assert snapshot_row(url, episode_id)[1] == str(result.episode.state) != "tocilizumab"
    assert_clean(store, url, episode_id)


# -- refused changes ----------------------------------------------------------------------------------------

REFUSED: dict[str, tuple[Callable[[str], Command], str, int | None]] = {
    # a late tocilizumab dose 5 min before the recorded one: the recorded dose (seq 3) breaks the 8 h interval
    "late dose inside 8 h": (lambda e: AdministerDose(at=T0 + minutes(15), actor=ACTOR, episode_id=e,
                                                       drug="tocilizumab", dose_mg=560, late="charted late"),
                             "TOCI_MIN_INTERVAL", 3),
    # the observation that indicated tocilizumab corrected to afebrile on room air: seq 3 loses its indication
    "correction removes an indication": (lambda e: Correct(at=LATER, actor=ACTOR, episode_id=e, target_seq=2,
                                                          reason="wrong patient's vitals",
                                                          changes={"temp_c": 37.0, "o2_device": "room-air"},
                                                          unset=("o2_flow_lpm",)),
                                         "TOCI_INDICATION", 3),
    # 900 mg is above the hard ceiling even with an override: the corrected entry itself breaks it
    "correction above the dose ceiling": (lambda e: correct_dose(e, 900, override="typed again"), "TOCI_DOSE_MAX", None),
    "void of the open": (lambda e: Void(at=LATER, actor=ACTOR, episode_id=e, target_seq=1, reason="x"),
                         "CORRECTION_TARGET", None),
    "correction of a missing event": (lambda e: Correct(at=LATER, actor=ACTOR, episode_id=e, target_seq=99,
                                                        reason="x", changes={"dose_mg": 500}),
                                      "CORRECTION_TARGET", None),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_a_refused_change_writes_only_its_refusal_row_with_breaks_seq(store: Store, url: str, case: str) -> None:
    episode_id = treated_episode(store)
    make, rule, breaks_seq = REFUSED[case]
    rows, snapshot, tables = event_rows(url, episode_id), snapshot_row(url, episode_id), counts(store)
    with pytest.raises(Refused) as refused:
        run(store, make(episode_id), now=LATER)
    assert refused.value.rule == rule and refused.value.breaks_seq == breaks_seq
    assert (f"(seq {breaks_seq}, in the corrected history)" in refused.value.message) == (breaks_seq is not None)
    assert counts(store) == {**tables, "refusal": tables["refusal"] + 1}
    assert event_rows(url, episode_id) == rows and snapshot_row(url, episode_id) == snapshot
    [(_, episode, kind, stored_rule, stored_breaks)] = refusal_rows(url)
    assert (episode, stored_rule, stored_breaks) == (episode_id, rule, breaks_seq)
    assert kind == make(episode_id).kind
    [logged] = store.refusals(episode_id)
    assert logged.breaks_seq == breaks_seq and logged.rule == rule
    assert_clean(store, url, episode_id)


def test_a_target_already_superseded_is_refused_and_names_the_correction(store: Store, url: str) -> None:
    episode_id = treated_episode(store)
    run(store, correct_dose(episode_id), now=LATER)
    rows = event_rows(url, episode_id)
    for again in (correct_dose(episode_id, 520), Void(at=LATER, actor=ACTOR, episode_id=episode_id, target_seq=3,
                                                      reason="x")):
        with pytest.raises(Refused, match="already superseded by event 6") as refused:
            run(store, again, now=T0 + minutes(51))
        assert refused.value.rule == "CORRECTION_TARGET"
    assert event_rows(url, episode_id) == rows
    assert [r[3:] for r in refusal_rows(url)] == [("CORRECTION_TARGET", None)] * 2


def test_a_closed_episode_takes_no_correction(store: Store, url: str) -> None:
    from pathway.commands import Close

    episode_id = treated_episode(store)
    run(store, Close(at=T0 + minutes(45), actor=ACTOR, episode_id=episode_id, reason="transferred"))
    rows = event_rows(url, episode_id)
    for change in (correct_dose(episode_id), void_labs(episode_id), late_action(episode_id)):
        with pytest.raises(Refused) as refused:
            run(store, change, now=LATER)
        assert refused.value.rule == "EPISODE_CLOSED"
    assert event_rows(url, episode_id) == rows and len(refusal_rows(url)) == 3


# -- concurrency ------------------------------------------------------------------------------------------------

def test_a_correction_blocked_past_the_timeout_is_a_conflict_and_writes_nothing(url: str, store: Store) -> None:
    episode_id = treated_episode(store)
    with lock_held(url, episode_id) as impatient:
        before, rows = counts(store), event_rows(url, episode_id)
        with pytest.raises(Conflict):
            handle(correct_dose(episode_id), impatient.unit_of_work(), LATER)
    assert counts(store) == before and event_rows(url, episode_id) == rows and store.refusals() == []
    run(store, correct_dose(episode_id), now=LATER)  # the same correction goes through once the lock is free
    assert_clean(store, url, episode_id)


def test_a_correction_decided_on_a_history_that_moved_on_is_a_conflict(store: Store, url: str) -> None:
    """The optimistic check behind the lock: a correction decided against seq 5 cannot land after seq 6."""
    episode_id = treated_episode(store)
    events = [s.event for s in store.history(episode_id)]
    stale_event, stale_episode = decide_change(store.episode(episode_id), events, correct_dose(episode_id), LATER)
    observe(store, episode_id, T0 + minutes(45))  # another step lands first
    rows, tables = event_rows(url, episode_id), counts(store)
    uow = store.unit_of_work()
    with uow, pytest.raises(Conflict):
        uow.load(episode_id)
        uow.append(stale_event, stale_episode)
    assert event_rows(url, episode_id) == rows and counts(store) == tables
    assert_clean(store, url, episode_id)


def test_racing_corrections_of_one_entry_land_once_and_lose_nothing(store: Store, url: str) -> None:
    """Six threads at once: four correct the same dose, two record ordinary observations. Exactly one
    correction stands; the others are refused (the target is superseded by then) or lost the race as a
    Conflict; every accepted step has its own seq; the store verifies. (The observations share one clinical
    time, so either order is in order.)"""
    episode_id = treated_episode(store)
    before = event_rows(url, episode_id)
    go = threading.Barrier(6)
    outcomes: list[tuple[str, str, Any]] = []
    lock = threading.Lock()

    def attempt(label: str, command: Command, now: datetime) -> None:
        go.wait(10)
        try:
            result: StepResult = handle(command, store.unit_of_work(), now)
            outcome: tuple[str, str, Any] = (label, "ok", result.event.seq)
        except Conflict:
            outcome = (label, "conflict", None)
        except Refused as refused:
            outcome = (label, "refused", refused.rule)
        except CrsError as err:  # anything else is a failure of the contract
            outcome = (label, "error", f"{type(err).__name__}: {err.message}")
        with lock:
            outcomes.append(outcome)

    commands: list[tuple[str, Command, datetime]] = [
        ("correct", correct_dose(episode_id, 500 + n), LATER) for n in range(4)]
    commands += [("observe", RecordObservation(at=T0 + minutes(45), actor=f"nurse-{n}", episode_id=episode_id,
                                               observation=Observation(temp_c=38.4, o2_device="nasal-cannula",
                                                                       o2_flow_lpm=2)), T0 + minutes(60))
                 for n in range(2)]
    threads = [threading.Thread(target=attempt, args=c) for c in commands]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(outcomes) == 6 and not [o for o in outcomes if o[1] == "error"], outcomes
    tally = Counter((label, result) for label, result, _ in outcomes)
    assert tally[("correct", "ok")] == 1, outcomes
    assert all(o[2] == "CORRECTION_TARGET" for o in outcomes if o[1] == "refused"), outcomes
    rows = event_rows(url, episode_id)
    accepted = sorted(o[2] for o in outcomes if o[1] == "ok")
    assert rows[:5] == before and [r[1] for r in rows] == list(range(1, len(rows) + 1))
    assert accepted == list(range(6, len(rows) + 1))  # every accepted step stored, none twice
    assert [r[12] for r in rows].count(3) == 1  # one correction of seq 3 stands
    assert_clean(store, url, episode_id)


# -- a broken chain is never decided on -----------------------------------------------------------------------

def _edit_payload(url: str, episode_id: str) -> None:
    tamper(url, ("UPDATE event SET payload = replace(payload, '38.5', '37.5') WHERE episode_id = ? AND seq = 2",
                 (episode_id,)))


def _forge_target_column(url: str, episode_id: str) -> None:
    tamper(url, ("UPDATE event SET target_seq = 2 WHERE episode_id = ? AND seq = 4", (episode_id,)))


def _cut_the_tail(url: str, episode_id: str) -> None:
    tamper(url, ("DELETE FROM event WHERE episode_id = ? AND seq = 5", (episode_id,)))


def _drop_a_middle_event(url: str, episode_id: str) -> None:
    tamper(url, ("DELETE FROM event WHERE episode_id = ? AND seq = 4", (episode_id,)))


TAMPERED: dict[str, Callable[[str, str], None]] = {
    "edited payload": _edit_payload,
    "target_seq column on an ordinary row": _forge_target_column,
    "tail cut (snapshot ahead of the history)": _cut_the_tail,
    "event deleted from the middle": _drop_a_middle_event,
}


@pytest.mark.parametrize("how", list(TAMPERED))
@pytest.mark.parametrize("change", ["correct", "void", "late-act"])
def test_a_change_on_a_tampered_history_is_an_integrity_error_and_writes_nothing(store: Store, url: str,
                                                                                  how: str, change: str) -> None:
    episode_id = treated_episode(store)
    TAMPERED[how](url, episode_id)
    rows, snapshot, tables = event_rows(url, episode_id), snapshot_row(url, episode_id), counts(store)
    with pytest.raises(IntegrityError) as broken:
        run(store, CHANGES[change][0](episode_id), now=LATER)
    assert broken.value.exit_code == 5
    assert broken.value.message.startswith(f"episode {episode_id}: ") and "nothing was changed" in broken.value.message
    assert "\n" not in broken.value.message and "38." not in broken.value.message  # one sentence, no stored values
    assert event_rows(url, episode_id) == rows and snapshot_row(url, episode_id) == snapshot
    # nothing but the refusal (RECORD_INTEGRITY): the attempt on an untrusted record is on the log for QA
    assert counts(store) == {**tables, "refusal": tables["refusal"] + 1}
    assert [r.rule for r in store.refusals(episode_id)][-1:] == ["RECORD_INTEGRITY"]
    assert not audit.verify(store, episode_id).ok


def test_a_tampered_earlier_correction_stops_the_next_one(store: Store, url: str) -> None:
    """The stored correction's own target_seq column edited: the next change re-checks it and stops."""
    episode_id = treated_episode(store)
    run(store, correct_dose(episode_id), now=LATER)
    tamper(url, ("UPDATE event SET target_seq = 2 WHERE episode_id = ? AND seq = 6", (episode_id,)))
    tables = counts(store)
    with pytest.raises(IntegrityError, match="at seq 6"):
        run(store, void_labs(episode_id), now=T0 + minutes(51))
    assert counts(store) == {**tables, "refusal": tables["refusal"] + 1}  # only the RECORD_INTEGRITY refusal
