"""Corrections, voids and late entries (pathway/history.py), pinned at their edges: the exact sentences a
user reads, both sides of every time boundary, and overrides granted per entry and per rule.

tests/unit/test_corrections.py tells the worked cases; this file states what they leave loose:

- what a refusal or an invalid correction says, word for word (CONTRACT: one plain sentence);
- `--as-of` and `--late` at exactly the boundary instant, and just beside it;
- an override passes the rules it was given for and no other (issue 10: "no change can lean on an
  override that nobody gave for it"), and names the grant that did pass it;
- a record that no longer makes one episode is an integrity failure naming the episode (exit 5).
"""

from datetime import timedelta
from typing import Any

import pytest

from pathway.commands import AdministerDose, Close, Correct, RecordAction, RecordObservation, Resolve
from pathway.errors import IntegrityError, Invalid, Refused
from pathway.events import Override
from pathway.history import decide_change, effective_history, entry_command, episode_of, redecide, standing
from pathway.observations import Observation
from pathway.replay import replay
from tests.unit.test_corrections import CRS1, CRS2, CRS3, ID, T0, ZERO, Ward, crs2_toci, h

MINUTE = timedelta(minutes=1)


def refusal(ward: Ward, command: Any, now: Any) -> Refused:
    with pytest.raises(Refused) as caught:
        decide_change(ward.ep, ward.events, command, now)
    return caught.value


def invalid(ward: Ward, command: Any, now: Any) -> str:
    with pytest.raises(Invalid) as caught:
        decide_change(ward.ep, ward.events, command, now)
    return caught.value.message


def standing_override(ward: Ward, seq: int) -> Override | None:
    """The override on the entry whose values stored event `seq` holds, as the stored record re-decides it."""
    return next(e for e in redecide(standing(ward.events)).events if e.seq == seq).override


def late_obs(at: float, fields: dict[str, Any], override: str | None = None) -> RecordObservation:
    return RecordObservation(at=h(at), actor="nurse", episode_id=ID, observation=Observation(**fields),
                             late="night chart", override_reason=override)


# -- what cannot be corrected or voided, word for word -------------------------------------------------

def test_what_is_not_an_entry_says_which_kinds_can_be_corrected_and_which_voided() -> None:
    ward = Ward()
    crs2_toci(ward, 56)  # seq 2, 3
    ward.run(*ward.correct(3, 1, dose_mg=560))  # seq 4
    cases = [
        (ward.correct(1, 2, dose_mg=500), "event 1 is an open: only observe, give or act events can be corrected"),
        (ward.void(1, 2), "event 1 is an open: only observe, give, act or resolve events can be voided"),
        (ward.correct(4, 2, dose_mg=500), "event 4 is a correct: only observe, give or act events can be corrected"),
        (ward.void(4, 2), "event 4 is a correct: only observe, give, act or resolve events can be voided"),
        (ward.correct(3, 2, dose_mg=500), "event 3 was already superseded by event 4; it no longer stands"),
        (ward.void(3, 2), "event 3 was already superseded by event 4; it no longer stands"),
        (ward.void(9, 2), "there is no event 9 in this episode to void"),
    ]
    for (command, now), message in cases:
        refused = refusal(ward, command, now)
        assert (refused.rule, refused.message, refused.breaks_seq) == ("CORRECTION_TARGET", message, None)
        assert refused.as_json()["violations"][0]["overridable"] is False  # hard: `false`, never null


def test_a_voided_resolve_says_it_was_voided_and_a_resolve_is_voided_not_corrected() -> None:
    ward = Ward()
    for hours in (0, 12, 24.5):
        ward.observe(hours, **ZERO)
    ward.run(Resolve(at=h(25), actor="doctor", episode_id=ID))  # seq 5
    refused = refusal(ward, *ward.correct(5, 26, dose_mg=1))
    assert refused.message == "event 5 is a resolve: only observe, give or act events can be corrected"
    ward.run(*ward.void(5, 26))  # seq 6
    assert refusal(ward, *ward.void(5, 27)).message == "event 5 was already voided by event 6; it no longer stands"
    assert refusal(ward, *ward.correct(5, 27, dose_mg=1)).message == (
        "event 5 was already voided by event 6; it no longer stands")
    assert refusal(ward, *ward.void(6, 27)).message == (
        "event 6 is a void: only observe, give, act or resolve events can be voided")


def test_an_episode_with_only_its_opening_has_nothing_to_void() -> None:
    ward = Ward()
    assert standing(ward.events).head == 1 and standing(ward.events).entries == []
    refused = refusal(ward, *ward.void(1, 1))
    assert refused.message == "event 1 is an open: only observe, give, act or resolve events can be voided"


def test_a_closed_episode_says_so_and_the_rule_is_hard() -> None:
    ward = Ward()
    crs2_toci(ward)
    ward.run(Close(at=h(1), actor="doctor", episode_id=ID))
    refused = refusal(ward, *ward.void(3, 2))
    assert (refused.rule, refused.message) == ("EPISODE_CLOSED", "the episode is closed and takes no further step")
    assert refused.violations[0].overridable is False and not refused.overridable


def test_a_stale_snapshot_is_an_integrity_failure_naming_the_episode() -> None:
    ward = Ward()
    ward.observe(0, **CRS2)
    stale = ward.ep
    ward.give(0.2, "tocilizumab", 560)
    with pytest.raises(IntegrityError) as caught:
        decide_change(stale, ward.events, *ward.void(3, 1))
    assert caught.value.message == ("episode E1: its snapshot is not at the end of its history; "
                                    "see `crs audit verify`")


# -- an invalid correction, word for word ---------------------------------------------------------------

def test_inputs_an_entry_does_not_have_are_named_with_the_inputs_it_has() -> None:
    ward = Ward()
    crs2_toci(ward, 56)  # seq 2 observe, seq 3 give
    ward.run(RecordAction(at=h(1), actor="nurse", episode_id=ID, action="telemetry"))  # seq 4
    observe_inputs = ("capd_score, capd_unable, cerebral_edema, consciousness, fio2, hypotension, ice_score, "
                      "motor_weakness, o2_device, o2_flow_lpm, seizure, temp_c, vasopressin, vasopressors")
    cases = [
        ({"temp_c": 38.0}, (), 3, "event 3 is a give: temp_c is not among its inputs (dose_mg, drug, route)"),
        ({"temp_c": 38.0}, ("ice_score",), 3,
         "event 3 is a give: ice_score, temp_c are not among its inputs (dose_mg, drug, route)"),
        ({"dose_mg": 5}, (), 2, f"event 2 is an observe: dose_mg is not among its inputs ({observe_inputs})"),
        ({"dose_mg": 5, "drug": "dexamethasone"}, (), 2,
         f"event 2 is an observe: dose_mg, drug are not among its inputs ({observe_inputs})"),
        ({"dose_mg": 5}, (), 4, "event 4 is an act: dose_mg is not among its inputs (action, note)"),
    ]
    for changes_, unset, seq, message in cases:
        command = Correct(at=h(2), actor="x", episode_id=ID, target_seq=seq, reason="r", changes=changes_,
                          unset=unset)
        assert invalid(ward, command, h(2)) == message


@pytest.mark.parametrize("seq, changes_, message", [
    (3, {"dose_mg": 0.01}, "the corrected values are not a valid give: dose_mg: Input should be greater than or "
                           "equal to 0.1"),
    (2, {"temp_c": 50}, "the corrected values are not a valid observe: temp_c: Input should be less than or "
                        "equal to 45"),
    (2, {"o2_device": "room-air"}, "the corrected values are not a valid observe: o2_flow_lpm needs an oxygen "
                                   "device other than room-air"),
])
def test_an_invalid_corrected_value_names_the_input_once_and_the_reason(seq: int, changes_: dict[str, Any],
                                                                       message: str) -> None:
    ward = Ward()
    crs2_toci(ward, 56)
    command = Correct(at=h(1), actor="x", episode_id=ID, target_seq=seq, reason="r", changes=changes_)
    assert invalid(ward, command, h(1)) == message


# -- a dose corrected: the route goes with the drug, unless one is given -----------------------------------

def test_a_dose_corrected_to_a_drug_given_by_mouth_takes_its_usual_route() -> None:
    ward = Ward()
    ward.observe(0, **CRS3)
    ward.give(0.5, "dexamethasone", 10)  # seq 3, IV by default
    ward.run(*ward.correct(3, 1, override="ruxolitinib was given, charted as dexamethasone",
                           drug="ruxolitinib", dose_mg=10))  # REFRACTORY_ORDER: no tocilizumab yet
    assert [(d.drug, d.route) for d in ward.ep.doses] == [("ruxolitinib", "po")]  # by mouth, not IV


def test_a_corrected_dose_keeps_the_route_it_was_given_by() -> None:
    ward = Ward()
    ward.observe(0, **CRS3)
    ward.run(AdministerDose(at=h(0.5), actor="nurse", episode_id=ID, drug="dexamethasone", dose_mg=10,
                            route="po"))  # seq 3, by mouth
    ward.run(*ward.correct(3, 1, dose_mg=8))
    assert [(d.drug, d.dose_mg, d.route) for d in ward.ep.doses] == [("dexamethasone", 8, "po")]


def test_a_dose_corrected_to_another_drug_with_its_route_unset_takes_that_drugs_route() -> None:
    ward = Ward()
    ward.observe(0, **CRS3)
    ward.give(0.5, "dexamethasone", 10)
    ward.run(*ward.correct(3, 1, unset=("route",), drug="methylprednisolone", dose_mg=70))
    assert [(d.drug, d.route) for d in ward.ep.doses] == [("methylprednisolone", "iv")]


# -- late entries: the boundaries ------------------------------------------------------------------------

def test_a_late_entry_at_exactly_the_latest_time_is_not_late_and_a_minute_before_is() -> None:
    ward = Ward()
    ward.observe(0, **CRS2)
    ward.observe(4, **CRS2)  # the latest clinical time: 14:00
    command = late_obs(4, CRS3)
    assert invalid(ward, command, h(5)) == ("--late is for a clinical time before the episode's latest event; "
                                            "this one is not earlier: record it without --late")
    event = ward.run(command.model_copy(update={"at": h(4) - MINUTE}), h(5))
    assert event.data["late"] is True and event.at == h(4) - MINUTE


def test_a_late_entry_is_no_way_around_time_future() -> None:
    ward = Ward()
    ward.observe(0, **CRS2)
    ward.observe(4, now=4 - 4 / 60, **CRS2)  # charted 4 min ahead of the clock (allowed: 5 min)
    refused = refusal(ward, late_obs(4 - 1 / 60, CRS3), h(4) - 7 * MINUTE)  # 6 min ahead of this clock
    assert (refused.rule, refused.breaks_seq, refused.overridable) == ("TIME_FUTURE", None, False)
    accepted, _ = decide_change(ward.ep, ward.events, late_obs(4 - 1 / 60, CRS3), h(4) - 6 * MINUTE)
    assert accepted.data["late"] is True  # 5 min ahead: allowed


def test_a_late_entry_before_the_opening_is_refused_with_the_opening_as_the_earliest_time() -> None:
    ward = Ward()
    ward.observe(2, **CRS2)
    refused = refusal(ward, late_obs(-1, CRS3), h(3))
    assert (refused.rule, refused.message, refused.breaks_seq) == (
        "TIME_ORDER", "the time given is before the episode was opened", None)
    assert refused.earliest_at == T0 and refused.violations[0].overridable is False


def test_a_childs_late_observation_with_an_ice_score_is_invalid_input_before_any_rule() -> None:
    child = Ward(weight_kg=20, age_years=6)
    child.observe(2, capd_score=4, **CRS2)
    command = late_obs(-1, {**CRS2, "ice_score": 8})  # before the opening too: still invalid input first
    assert invalid(child, command, h(3)).startswith("the ICE score is not used under 12 years")


def test_a_stored_entry_before_the_opening_is_named_as_the_event_a_change_breaks() -> None:
    ward = Ward()
    ward.observe(1, **CRS2)  # seq 2
    ward.observe(2, **CRS2)  # seq 3
    forged = [ward.events[0], ward.events[1].model_copy(update={"at": T0 - timedelta(hours=1)}), ward.events[2]]
    with pytest.raises(Refused) as caught:
        decide_change(ward.ep, forged, late_obs(1.5, CRS1), h(3))
    assert (caught.value.rule, caught.value.breaks_seq) == ("TIME_ORDER", 2)


def test_every_late_entry_is_counted_among_the_changes() -> None:
    ward = Ward()
    ward.observe(0, **CRS2)
    ward.observe(4, **CRS2)
    ward.run(late_obs(1, CRS2), h(5))
    ward.run(late_obs(2, CRS2), h(5))  # Ward.run: the stored record folds to the same count
    assert ward.ep.corrections == 2 and episode_of(ward.events).corrections == 2  # type: ignore[union-attr]


# -- --as-of: both sides of each instant -----------------------------------------------------------------

def _corrected_dose_at_11_12() -> Ward:
    ward = Ward()
    ward.observe(1, **CRS2)  # seq 2 at 11:00
    ward.give(1.2, "tocilizumab", 56)  # seq 3 at 11:12
    ward.run(*ward.correct(3, 2, dose_mg=560))  # seq 4
    return ward


def test_as_of_the_opening_instant_shows_the_episode_just_opened_and_a_moment_before_nothing() -> None:
    ward = _corrected_dose_at_11_12()
    for as_of in (T0, h(0.5)):
        opened = episode_of(ward.events, as_of=as_of)
        assert opened is not None and opened.state == "assessment" and opened.doses == () and opened.version == 1
        assert opened.corrections == 0
    assert episode_of(ward.events, as_of=T0 - timedelta(microseconds=1)) is None


def test_as_of_the_instant_of_a_corrected_dose_includes_it_and_counts_its_correction() -> None:
    ward = _corrected_dose_at_11_12()
    at_dose = episode_of(ward.events, as_of=h(1.2))
    assert at_dose is not None and [d.dose_mg for d in at_dose.doses] == [560] and at_dose.state == "tocilizumab"
    assert at_dose.version == 4 and at_dose.corrections == 1  # the entry stands on seq 4, the correction
    before = episode_of(ward.events, as_of=h(1.2) - MINUTE)
    assert before is not None and before.doses == () and before.version == 2 and before.corrections == 0


def test_as_of_on_a_record_without_changes_is_the_record_up_to_that_time() -> None:
    ward = Ward()
    crs2_toci(ward)  # observe at 10:00, tocilizumab at 10:12
    then = episode_of(ward.events, as_of=h(0.1))
    assert then is not None and then.doses == () and then.state == "assessment" and then.version == 2


# -- overrides: per entry, per rule, and which one is named --------------------------------------------------

def _toci_given_on_grade_1_with_an_override() -> Ward:
    ward = Ward()
    ward.observe(0, **CRS2)  # seq 2
    ward.give(0.2, "tocilizumab", 560)  # seq 3: dose 1
    ward.observe(16, **CRS1)  # seq 4
    ward.give(16.5, "tocilizumab", 560, override="rapidly rising oxygen need")  # seq 5: TOCI_INDICATION passed
    return ward


def test_an_entrys_own_override_still_passes_its_rule_when_another_entry_is_corrected() -> None:
    ward = _toci_given_on_grade_1_with_an_override()
    ward.run(*ward.correct(4, 17, temp_c=38.5))  # seq 6: still grade 1; no new override needed
    assert standing_override(ward, 5) == Override(rule="TOCI_INDICATION", rules=("TOCI_INDICATION",),
                                                  reason="rapidly rising oxygen need", actor="nurse")
    assert ward.ep.deviations == 1


def test_an_entrys_own_override_does_not_pass_a_rule_a_late_entry_newly_breaks_there() -> None:
    ward = _toci_given_on_grade_1_with_an_override()
    late_dose = ward.dose(8.3, "tocilizumab", 560, late="charted late")  # makes seq 5 the third dose
    refused = refusal(ward, late_dose, h(17))
    assert (refused.rules, refused.breaks_seq) == (("TOCI_MAX_DOSES",), 5)
    event = ward.run(late_dose.model_copy(update={"override_reason": "third dose agreed"}), h(17))
    assert event.data["overrides"] == {"5": ["TOCI_MAX_DOSES"]}  # only what the own override did not pass
    # both grants now pass a rule at seq 5: the record names the first, the entry's own
    passed = standing_override(ward, 5)
    assert passed is not None and set(passed.rules) == {"TOCI_INDICATION", "TOCI_MAX_DOSES"}
    assert (passed.reason, passed.actor) == ("rapidly rising oxygen need", "nurse")


def test_a_changes_override_does_not_pass_a_rule_a_later_change_breaks_at_the_same_entry() -> None:
    ward = Ward()
    ward.observe(0, **CRS2)  # seq 2
    ward.give(0.2, "tocilizumab", 560)  # seq 3
    ward.observe(16, **CRS2)  # seq 4
    ward.give(16.5, "tocilizumab", 560)  # seq 5
    granted = ward.run(late_obs(16.2, CRS1, override="oxygen rising"), h(17))  # seq 6
    assert granted.data["overrides"] == {"5": ["TOCI_INDICATION"]}
    refused = refusal(ward, ward.dose(8.3, "tocilizumab", 560, late="charted late"), h(17.5))
    assert (refused.rules, refused.breaks_seq) == (("TOCI_MAX_DOSES",), 5)


def test_the_grant_named_is_the_one_that_passed_the_rule_not_the_first_on_the_entry() -> None:
    ward = _toci_given_on_grade_1_with_an_override()
    ward.run(*ward.correct(4, 17, **CRS2))  # seq 6: grade 2 after all; seq 5 needs no override now
    assert standing_override(ward, 5) is None and ward.ep.deviations == 0
    ward.give(8.3, "tocilizumab", 560, late="charted late", override="third dose agreed", now=17.5)  # seq 7
    assert standing_override(ward, 5) == Override(rule="TOCI_MAX_DOSES", rules=("TOCI_MAX_DOSES",),
                                                  reason="third dose agreed", actor="nurse")


def test_a_corrected_dose_stands_on_the_override_of_its_correction_not_of_the_values_it_superseded() -> None:
    ward = Ward()
    ward.observe(0, **CRS2)  # seq 2
    ward.give(0.2, "tocilizumab", 560)  # seq 3
    ward.observe(16, **CRS2)  # seq 4
    ward.give(16.5, "tocilizumab", 560)  # seq 5
    ward.run(late_obs(16.2, CRS1, override="oxygen rising"), h(17))  # seq 6: grants TOCI_INDICATION at 5
    assert refusal(ward, *ward.correct(5, 17.5, dose_mg=600)).breaks_seq is None  # the corrected entry itself
    ward.run(*ward.correct(5, 17.5, override="600 mg was given on the oncologist's order", dose_mg=600))  # seq 7
    assert standing_override(ward, 7) == Override(rule="TOCI_INDICATION", rules=("TOCI_INDICATION",),
                                                  reason="600 mg was given on the oncologist's order",
                                                  actor="charge-nurse")


# -- a record that no longer makes one episode ---------------------------------------------------------------

def test_a_record_must_start_with_its_one_opening() -> None:
    ward = Ward()
    crs2_toci(ward)
    with pytest.raises(ValueError, match="^the first event is not an open$"):
        standing([])
    with pytest.raises(ValueError, match="^the first event is not an open$"):
        standing(ward.events[1:])
    reopened = ward.events[0].model_copy(update={"seq": 4})
    with pytest.raises(ValueError, match="^an episode is opened once$"):
        standing([*ward.events, reopened])


def test_a_record_that_lost_its_opening_is_an_integrity_failure_naming_the_episode() -> None:
    ward = Ward()
    crs2_toci(ward, 56)
    ward.run(*ward.correct(3, 1, dose_mg=560))
    with pytest.raises(IntegrityError) as caught:
        episode_of(ward.events[-1:])
    assert caught.value.message == ("episode E1's corrected history no longer replays (ValueError); "
                                    "see `crs audit verify`")
    with pytest.raises(IntegrityError) as caught:
        effective_history([ward.events[0], ward.events[-1]])  # corrects seq 3, which is not in this record
    assert caught.value.message == ("episode E1's corrected history no longer replays (KeyError); "
                                    "see `crs audit verify`")


def test_only_steps_have_a_step_command() -> None:
    for kind in ("open", "correct", "void"):
        with pytest.raises(ValueError, match=f"^no step command for a {kind} event$"):
            entry_command(kind, {}, at=T0, actor="x", episode_id=ID, override_reason=None)


def test_a_forged_late_reason_without_the_late_flag_is_named_by_replay_as_different_data() -> None:
    ward = Ward()
    ward.observe(0, **CRS2)
    ward.observe(1, **CRS2)
    forged_data = {**ward.events[2].data, "late_reason": "inserted afterwards"}
    forged = ward.events[:2] + [ward.events[2].model_copy(update={"data": forged_data})]
    assert replay(forged).problems == [(3, "replay differs in data")]
