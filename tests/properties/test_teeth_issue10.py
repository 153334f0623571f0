"""Teeth for the issue 10 invariants: break ONE control of the corrections core and the suite must fail.

Each control below is broken in the live core with monkeypatch (undone after each test), then the
stateful machine runs with the reference model OFF (so the predictions of effective.predict are not
compared: only the history invariants judge, and those restate the hard limits from CLINICAL.md in
safety.py, never from pathway/), derandomized, generation only, and must fail naming the invariant.

| control broken                                                  | invariant that must fire            |
| --------------------------------------------------------------- | ----------------------------------- |
| the re-check of later entries: entries after the changed one    | a hard limit of the effective       |
| report no violations (pathway.history.evaluate patched)         | history (TOCI_MIN_INTERVAL, ...),   |
|                                                                 | cross-checks off; with them on, the |
|                                                                 | same or FOLD / OVERRIDE, whichever  |
|                                                                 | the first bad step shows            |
| the re-check stops at the changed entry (redecide truncated)    | a hard limit, or FOLD (the truncated|
|                                                                 | episode contradicts the effective   |
|                                                                 | history at once)                    |
| a change's `overrides` listing and override dropped             | OVERRIDE                            |
| a correction also edits its target in place (H20)               | CHAIN                               |
| decide_change returns the snapshot unfolded (only counters)     | FOLD                                |

Plus the invariant itself, by hand: with either re-check broken, the acceptance case of issue 10 (a
late tocilizumab dose 2 h before a recorded one) is accepted, and safety.history_problems over the
suite's effective history reports TOCI_MIN_INTERVAL; with the core intact it is refused with breaks_seq.
"""

import re
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from pathway import history, machine
from pathway.commands import AdministerDose, OpenEpisode, RecordObservation
from pathway.episode import Episode, apply
from pathway.errors import Refused
from pathway.events import Event
from pathway.machine import decide, decide_open
from tests.properties import effective as E, safety
from tests.properties.episode_machine import CorrectedDefaultPolicyEpisodes, CorrectedRandomPolicyEpisodes
from tests.properties.strategies import graded_observation
from tests.properties.test_teeth_issue9 import stateful_failure

HARD_LIMITS = "TOCI_MIN_INTERVAL|TOCI_MAX_DOSES|TOCI_DOSE_MAX|STEROID_DOSE_MAX|DOSE_MAX|DRUG_ROUTE"


def _changed_at(events: list[Event], command: Any) -> datetime:
    """The clinical time of the entry a change is about (a correction / void: its target's)."""
    target = getattr(command, "target_seq", None)
    if target is not None and 1 <= target <= len(events):
        return events[target - 1].at
    return command.at


def recheck_off(mp: pytest.MonkeyPatch) -> None:
    """Entries after the changed one are never re-checked: they report no violations."""
    real_decide, real_evaluate = history.decide_change, machine.evaluate
    changing: list[datetime] = []

    def decide_change(current: Episode, events: list[Event], command: Any, now: datetime) -> tuple[Event, Episode]:
        changing.append(_changed_at(list(events), command))
        try:
            return real_decide(current, events, command, now)
        finally:
            changing.pop()

    def evaluate(episode: Episode, command: Any, now: datetime, *, placed: bool = False) -> machine.Evaluation:
        judged = real_evaluate(episode, command, now, placed=placed)
        if placed and changing and command.at > changing[-1]:
            return replace(judged, found=[])
        return judged

    mp.setattr(history, "decide_change", decide_change)
    mp.setattr(history, "evaluate", evaluate)
    _rebind_decide_change(mp, decide_change)


def recheck_stops_at_the_change(mp: pytest.MonkeyPatch) -> None:
    """The corrected history is re-decided up to the changed entry only; the entries after it are dropped."""
    real = history.redecide

    def redecide(standing: history.Standing, *, pending: Any = None, pending_place: int | None = None,
                 as_of: datetime | None = None) -> history.Redecided:
        if pending_place is not None:
            places = [e.place for e in standing.entries]
            if pending_place in places:
                standing = replace(standing, entries=standing.entries[:places.index(pending_place) + 1])
        return real(standing, pending=pending, pending_place=pending_place, as_of=as_of)

    mp.setattr(history, "redecide", redecide)


def overrides_dropped(mp: pytest.MonkeyPatch) -> None:
    """A change that breaks overridable rules is stored without its override and its per-entry listing."""
    real = history.decide_change

    def decide_change(current: Episode, events: list[Event], command: Any, now: datetime) -> tuple[Event, Episode]:
        event, after = real(current, events, command, now)
        data = {k: v for k, v in event.data.items() if k != "overrides"}
        return event.model_copy(update={"data": data, "override": None}), after

    _rebind_decide_change(mp, decide_change)


def edit_in_place(mp: pytest.MonkeyPatch) -> None:
    """H20: a correction also rewrites its target's stored values (what was first recorded is lost)."""
    real = history.decide_change

    def decide_change(current: Episode, events: list[Event], command: Any, now: datetime) -> tuple[Event, Episode]:
        event, after = real(current, events, command, now)
        if event.kind == "correct":
            target = events[event.data["target_seq"] - 1]
            target.data.update({k: v for k, v in event.data["corrected"].items() if k in target.data})
        return event, after

    _rebind_decide_change(mp, decide_change)


def snapshot_unfolded(mp: pytest.MonkeyPatch) -> None:
    """decide_change keeps the episode as it was (only its counters move): the corrected history never folded."""
    real = history.decide_change

    def decide_change(current: Episode, events: list[Event], command: Any, now: datetime) -> tuple[Event, Episode]:
        event, after = real(current, events, command, now)
        return event, current.model_copy(update={"version": after.version, "corrections": after.corrections})

    _rebind_decide_change(mp, decide_change)


def _rebind_decide_change(mp: pytest.MonkeyPatch, fn: Any) -> None:
    """The machine imported decide_change by name (pathway.service does too): patch where it is looked up."""
    from tests.properties import driving

    mp.setattr(history, "decide_change", fn)
    mp.setattr(driving, "decide_change", fn)


SAFETY_ONLY = {"CHANGE_CROSS_CHECKS": False}
#: name -> (break the control, the invariant that must fire, extra machine attributes)
CASES: dict[str, tuple[Any, str, dict[str, object]]] = {
    "recheck-off": (recheck_off, HARD_LIMITS, SAFETY_ONLY),
    "recheck-off/cross-checked": (recheck_off, f"{HARD_LIMITS}|FOLD|OVERRIDE|CHANGE_EVENT", {}),
    # the truncated episode contradicts the effective history at once: a fold check may see it before a hard
    # limit breaks (its hard-limit outcome is shown by hand below)
    "recheck-stops-at-the-change": (recheck_stops_at_the_change, f"{HARD_LIMITS}|FOLD|OVERRIDE|CHANGE_EVENT", {}),
    "overrides-dropped": (overrides_dropped, "OVERRIDE", {}),
    "edit-in-place": (edit_in_place, "CHAIN", {}),
    # the unfolded episode shows first as its state change (CHANGE_EVENT) or as the fold itself (FOLD)
    "snapshot-unfolded": (snapshot_unfolded, "FOLD|CHANGE_EVENT", {}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_state_machine_catches_a_broken_correction_control(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    patch, rule, attrs = CASES[case]
    patch(monkeypatch)
    failure = (stateful_failure(CorrectedDefaultPolicyEpisodes, **attrs)
               or stateful_failure(CorrectedRandomPolicyEpisodes, **attrs))
    assert failure is not None, f"with {case} the state machine found nothing: the invariant has no teeth"
    assert re.match(f"({rule}):", failure), f"with {case} the machine failed for another reason:\n{failure[:3000]}"


# -- the invariant by hand: the acceptance case of issue 10 ------------------------------------------

T0 = datetime(2026, 11, 1, 10, tzinfo=timezone.utc)
EID = "EP-TEETH10"


def _late_toci_two_hours_before_a_recorded_one() -> tuple[Episode, list[Event], AdministerDose]:
    events = [decide_open(OpenEpisode(at=T0, actor="qa", patient_ref="T10", weight_kg=70, age_years=50), EID, T0)]
    ep = apply(None, events[0])
    for cmd in (RecordObservation(at=T0, actor="qa", episode_id=EID, observation=graded_observation(3)),
                AdministerDose(at=T0 + timedelta(hours=3), actor="qa", episode_id=EID,
                               drug="tocilizumab", dose_mg=560)):  # type: ignore[arg-type]
        event = decide(ep, cmd, cmd.at)
        events.append(event)
        ep = apply(ep, event)
    late = AdministerDose(at=T0 + timedelta(hours=1), actor="qa", episode_id=EID, drug="tocilizumab",
                          dose_mg=560, late="charted late", override_reason="charted late")  # type: ignore[arg-type]
    return ep, events, late


def test_the_core_refuses_a_late_dose_inside_the_interval_of_a_recorded_one() -> None:
    ep, events, late = _late_toci_two_hours_before_a_recorded_one()
    with pytest.raises(Refused) as refused:
        history.decide_change(ep, events, late, T0 + timedelta(hours=4))
    assert refused.value.rules == ("TOCI_MIN_INTERVAL",) and refused.value.breaks_seq == 3


@pytest.mark.parametrize("broken", [recheck_off, recheck_stops_at_the_change], ids=lambda f: f.__name__)
def test_the_effective_history_invariant_catches_it_with_the_recheck_broken(broken: Any,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    broken(monkeypatch)
    ep, events, late = _late_toci_two_hours_before_a_recorded_one()
    now = T0 + timedelta(hours=4)
    record = E.Record.start(events[0])
    for event in events[1:]:
        record.add(event)
    prediction = E.predict(record, ep, late, now)
    assert prediction.refused == ("TOCI_MIN_INTERVAL",) and prediction.breaks_seq == 3
    event, _ = history.decide_change(ep, events, late, now)  # accepted: nothing re-checked the recorded dose
    record.add(event)
    problems = safety.history_problems(E.redecide_record(record).events, 70, effective=True)
    assert problems and problems[0].startswith("TOCI_MIN_INTERVAL: seq 3"), problems


def test_the_core_is_back_after_each_issue_10_teeth_test() -> None:
    """monkeypatch restored the core."""
    from tests.properties import driving

    assert history.decide_change.__module__ == "pathway.history" and driving.decide_change is history.decide_change
    assert history.evaluate is machine.evaluate and history.redecide.__module__ == "pathway.history"
