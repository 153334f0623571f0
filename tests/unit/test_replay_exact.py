"""pathway.replay, exactly: what `crs audit verify` says about a history, word for word, and which events
it re-decides (HAZARDS H23: only those today's pathway decided; the rest are folded as recorded).

tests/unit/test_replay.py shows that a true history replays and that an edit is named; this file pins the
parts a QA auditor reads or counts: every rule and every field named in a problem (", "-separated), the
count of events decided by an earlier pathway, where an incremental verify from a signed checkpoint starts
re-deciding, the sentence for events that do not make an episode, and `snapshot_disagreements`, the
comparison of a snapshot written by an earlier pathway with today's fold (paths, never values).
"""

from typing import Any

from pathway.episode import fold
from pathway.events import Event
from pathway.replay import redecide, replay, replay_problems, snapshot_disagreements
from tests.scenarios.driver import Driver, t

GRADE2 = {"temp_c": 38.6, "o2_device": "nasal-cannula", "o2_flow_lpm": 3}


def two_doses() -> Driver:
    """CRS grade 2, tocilizumab 560 mg (8 mg/kg at 70 kg), still grade 2, a second dose 8 h later."""
    d = Driver()
    d.open(t(0), patient_ref="P-REPLAY", weight_kg=70, age_years=61)
    d.observe(t(1), **GRADE2)  # seq 2
    d.give(t(2), "tocilizumab", 560)  # seq 3
    d.observe(t(3), **GRADE2)  # seq 4
    d.give(t(10), "tocilizumab", 560)  # seq 5: 8 h after the first
    d.act(t(11), "labs")  # seq 6
    return d


def edited(events: list[Event], index: int, **update: Any) -> list[Event]:
    changed = list(events)
    changed[index] = changed[index].model_copy(update=update)
    return changed


def with_data(events: list[Event], index: int, **data: Any) -> list[Event]:
    return edited(events, index, data={**events[index].data, **data})


def by_earlier_pathway(events: list[Event], *indexes: int) -> list[Event]:
    """The events at `indexes` as a pathway before versions were recorded wrote them (no `pathway` key)."""
    changed = list(events)
    for i in indexes:
        changed[i] = changed[i].model_copy(update={"data": {k: v for k, v in changed[i].data.items()
                                                            if k != "pathway"}})
    return changed


# -- the words of a problem ---------------------------------------------------------------------------------

def test_every_rule_that_refuses_a_forged_dose_is_named_hard_ones_in_the_pathways_order() -> None:
    """The second dose moved to 2 h after the first and raised to 900 mg: too soon AND too much."""
    events = with_data(edited(two_doses().events, 4, at=t(4)), 4, dose_mg=900.0)
    assert replay_problems(events) == [
        (5, "the pathway refuses this step on replay (TOCI_DOSE_MAX, TOCI_MIN_INTERVAL)")]


def test_every_field_that_differs_is_named_in_field_order() -> None:
    events = edited(two_doses().events, 5, from_state="steroid", to_state="refractory")
    assert replay_problems(events) == [(6, "replay differs in from_state, to_state")]


def test_an_entry_before_the_opening_cannot_be_replayed_and_says_only_the_kind_of_error() -> None:
    d = two_doses()
    assert redecide(None, d.events[1], 2) == "the event cannot be replayed (ValueError)"
    assert redecide(None, d.events[0], 1) is None  # the open needs no episode before it
    assert redecide(d.episode, d.events[1], 3) == "expected seq 3"


def test_events_that_do_not_fold_and_raise_no_other_problem_say_so() -> None:
    """An observation first, written by an earlier pathway: not re-decided, so only the fold can fail."""
    first = by_earlier_pathway(two_doses().events[1:2], 0)
    first[0] = first[0].model_copy(update={"seq": 1})
    result = replay(first)
    assert result.problems == [] and result.unfolded_at == 1 and result.episode is None
    assert replay_problems(first) == [(1, "the events do not fold into an episode")]


# -- events decided by an earlier pathway (HAZARDS H23) -------------------------------------------------------

def test_events_of_an_earlier_pathway_are_counted_folded_as_recorded_and_not_redecided() -> None:
    d = two_doses()
    assert replay(d.events).earlier == 0
    earlier = by_earlier_pathway(with_data(d.events, 2, dose_mg=900.0), 0, 1, 2)  # v1 accepted what v2 refuses
    result = replay(earlier)
    assert result.problems == [] and result.earlier == 3
    assert result.episode == fold(earlier) and result.episode is not None and result.episode.doses[0].dose_mg == 900.0
    everything = by_earlier_pathway(d.events, *range(len(d.events)))
    assert replay(everything).earlier == 6 and replay(everything).problems == []


def test_a_gap_in_seq_among_earlier_events_is_still_named_first() -> None:
    events = by_earlier_pathway(two_doses().events, 0, 1, 2, 3)
    assert replay_problems(events[:2] + events[3:])[0] == (4, "expected seq 3")
    assert replay_problems(events[:3] + events[4:]) == [(5, "expected seq 4")]  # seq 5, 6: today's, one problem


def test_a_version_never_goes_back_an_event_stripped_of_it_is_named() -> None:
    """An editor who drops the `pathway` key from a recorded dose (so that it would be folded, not re-decided)
    is named at that event: an episode's events move from earlier pathways to today's, never back (H23)."""
    forged = by_earlier_pathway(with_data(two_doses().events, 2, dose_mg=5000.0), 2)
    assert replay_problems(forged) == [(3, "an event decided by an earlier pathway after one decided by this "
                                           "pathway (a version cannot go back: edited)")]
    stamped = [e.model_copy(update={"snapshot_sha256": "0" * 64}) for e in forged]  # as the store stamps them
    assert replay_problems(stamped) == [(3, "the pathway refuses this step on replay (TOCI_DOSE_MAX)")]


def test_only_the_first_problem_is_named_also_when_an_earlier_event_follows() -> None:
    events = by_earlier_pathway(two_doses().events, 3)
    forged = with_data(events, 2, dose_mg=5000.0)  # seq 3: today's pathway refuses it
    assert replay_problems(forged[:3] + forged[4:]) == [
        (3, "the pathway refuses this step on replay (TOCI_DOSE_MAX)")]  # not also the gap at seq 5


def test_after_a_problem_later_events_are_not_redecided_on_the_wrong_history() -> None:
    forged = with_data(with_data(two_doses().events, 2, dose_mg=5000.0), 4, dose_mg=5000.0)
    result = replay(forged)
    assert result.problems == [(3, "the pathway refuses this step on replay (TOCI_DOSE_MAX)")]
    assert result.episode == fold(forged)  # but every event is folded


# -- an incremental verify from a signed checkpoint ------------------------------------------------------------

def test_events_up_to_the_settled_seq_are_folded_not_redecided_and_the_next_one_is() -> None:
    forged = with_data(two_doses().events, 2, dose_mg=5000.0)  # seq 3
    assert replay(forged, settled=3).problems == []  # the checkpoint's verify already re-decided seq 1-3
    assert replay(forged, settled=3).episode == fold(forged)
    assert replay(forged, settled=2).problems == [(3, "the pathway refuses this step on replay (TOCI_DOSE_MAX)")]
    assert replay(forged, settled=0).problems == replay(forged).problems


# -- a snapshot written by an earlier pathway against today's fold ----------------------------------------------

SNAPSHOT: dict[str, Any] = {
    "id": "E1", "state": "tocilizumab", "version": 3,
    "crs": {"grade": 2, "at": "2026-03-01T13:00:00Z"},
    "doses": [{"drug": "tocilizumab", "dose_mg": 560.0}, {"drug": "dexamethasone", "dose_mg": 10.0}],
}


def copy(value: Any) -> Any:
    return {k: copy(v) for k, v in value.items()} if isinstance(value, dict) else (
        [copy(v) for v in value] if isinstance(value, list) else value)


def test_the_same_facts_do_not_disagree() -> None:
    assert snapshot_disagreements(SNAPSHOT, copy(SNAPSHOT)) == []


def test_a_field_only_one_side_has_is_a_difference_of_versions_not_of_facts() -> None:
    newer = {**copy(SNAPSHOT), "icans": None, "crs": {**SNAPSHOT["crs"], "basis": "temp_c, o2_device"}}
    assert snapshot_disagreements(SNAPSHOT, newer) == []
    older = {k: v for k, v in copy(SNAPSHOT).items() if k != "version"}
    assert snapshot_disagreements(older, SNAPSHOT) == []


def test_a_changed_state_and_a_changed_grade_are_named_by_path_in_the_recorded_order() -> None:
    folded = {**copy(SNAPSHOT), "state": "steroid", "crs": {"grade": 3, "at": "2026-03-01T13:00:00Z"}}
    assert snapshot_disagreements(SNAPSHOT, folded) == ["state", "crs.grade"]


def test_a_changed_dose_is_named_by_its_place_in_the_list() -> None:
    folded = copy(SNAPSHOT)
    folded["doses"][1]["dose_mg"] = 20.0
    assert snapshot_disagreements(SNAPSHOT, folded) == ["doses[1].dose_mg"]
    assert snapshot_disagreements(["a", "b", "c"], ["a", "b", "x"]) == ["[2]"]


def test_a_deleted_dose_is_a_disagreement_of_the_whole_list() -> None:
    folded = {**copy(SNAPSHOT), "doses": SNAPSHOT["doses"][:1]}
    assert snapshot_disagreements(SNAPSHOT, folded) == ["doses"]
    assert snapshot_disagreements({"doses": []}, {"doses": [{"dose_mg": 560.0}]}) == ["doses"]


def test_a_value_of_another_shape_disagrees_at_its_path() -> None:
    assert snapshot_disagreements(SNAPSHOT, {**copy(SNAPSHOT), "crs": None}) == ["crs"]
    assert snapshot_disagreements({"crs": None}, {"crs": {"grade": 0}}) == ["crs"]
    assert snapshot_disagreements({"doses": [1]}, {"doses": {"0": 1}}) == ["doses"]
    assert snapshot_disagreements(1, 2) == [""] and snapshot_disagreements(1, 1) == []


def test_paths_nest_with_dots_and_brackets_and_never_show_a_value() -> None:
    stored = {"a": {"b": [{"c": "Jane Doe"}, {"c": 1}]}}
    folded = {"a": {"b": [{"c": "P-1"}, {"c": 2}]}}
    found = snapshot_disagreements(stored, folded)
    assert found == ["a.b[0].c", "a.b[1].c"]
    assert snapshot_disagreements(stored, folded, "episode") == ["episode.a.b[0].c", "episode.a.b[1].c"]
    assert not any("Jane" in p or "P-1" in p for p in found)
