"""Corrections, voids and late entries in the pure core (pathway/history.py): worked examples with teeth.

Each case drives an episode in memory the way the service does (decide + apply for an ordinary step,
decide_change for a correction, void or late entry) and checks, after every accepted step, that the
live episode is the one meaning of the stored events (episode_of, and a full replay). HAZARDS H4 and
H20 are the first two tests.
"""

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from pathway.commands import (AdministerDose, Close, Correct, OpenEpisode, RecordAction, RecordObservation,
                              Resolve, Void)
from pathway.episode import Episode, apply
from pathway.errors import Invalid, Refused
from pathway.events import Event
from pathway.history import changes, decide_change, episode_of, redecide, standing
from pathway.machine import decide, decide_open
from pathway.observations import Observation
from pathway.replay import replay
from pathway.service import rewrites_history

T0 = datetime(2026, 11, 1, 10, tzinfo=timezone.utc)
ID = "E1"


def h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


CRS2 = {"temp_c": 38.6, "o2_device": "nasal-cannula", "o2_flow_lpm": 4}
CRS3 = {"temp_c": 38.8, "o2_device": "hfnc", "o2_flow_lpm": 30}
CRS1 = {"temp_c": 38.4, "o2_device": "room-air"}
ZERO = {"temp_c": 36.8, "o2_device": "room-air", "ice_score": 10, "consciousness": "awake"}


class Ward:
    """One episode in memory: the stored events and the live episode, stepped like the service steps them."""

    def __init__(self, weight_kg: float = 70, age_years: float = 50) -> None:
        opening = decide_open(OpenEpisode(at=T0, actor="nurse", patient_ref="P-1", weight_kg=weight_kg,
                                          age_years=age_years), ID, T0)
        self.events: list[Event] = [opening]
        self.ep: Episode = apply(None, opening)

    def run(self, command: Any, now: datetime | None = None) -> Event:
        now = now or max(command.at, self.events[-1].recorded_at)
        before = list(self.events)
        if rewrites_history(command):
            event, episode = decide_change(self.ep, self.events, command, now)
        else:
            event = decide(self.ep, command, now)
            episode = apply(self.ep, event)
        assert self.events == before  # a decision never touches what is stored
        self.events.append(event)
        self.ep = episode
        assert episode_of(self.events) == episode, "the live episode is not the fold of its stored events"
        replayed = replay(self.events)
        assert replayed.problems == [] and replayed.episode == episode
        return event

    def refused(self, command: Any, now: datetime | None = None) -> Refused:
        before, episode = list(self.events), self.ep
        with pytest.raises(Refused) as caught:
            self.run(command, now)
        assert self.events == before and self.ep == episode  # nothing changed
        return caught.value

    # -- the steps, in clinical words --------------------------------------------------------------
    def observe(self, at: float, late: str | None = None, now: float | None = None, override: str | None = None,
                **fields: Any) -> Event:
        return self.run(RecordObservation(at=h(at), actor="nurse", episode_id=ID, observation=Observation(**fields),
                                          late=late, override_reason=override), h(now) if now is not None else None)

    def give(self, at: float, drug: str, dose_mg: float, *, late: str | None = None, override: str | None = None,
             now: float | None = None) -> Event:
        return self.run(self.dose(at, drug, dose_mg, late=late, override=override), h(now) if now is not None else None)

    @staticmethod
    def dose(at: float, drug: str, dose_mg: float, *, late: str | None = None,
             override: str | None = None) -> AdministerDose:
        return AdministerDose(at=h(at), actor="nurse", episode_id=ID, drug=drug, dose_mg=dose_mg, late=late,
                              override_reason=override)

    @staticmethod
    def correct(seq: int, now: float, override: str | None = None, unset: tuple[str, ...] = (),
                **changes: Any) -> tuple[Correct, datetime]:
        return (Correct(at=h(now), actor="charge-nurse", episode_id=ID, target_seq=seq, reason="typo",
                        changes=changes, unset=unset, override_reason=override), h(now))

    @staticmethod
    def void(seq: int, now: float, override: str | None = None) -> tuple[Void, datetime]:
        return (Void(at=h(now), actor="charge-nurse", episode_id=ID, target_seq=seq, reason="wrong episode",
                     override_reason=override), h(now))


def crs2_toci(ward: Ward, dose_mg: float = 560) -> Event:
    ward.observe(0, **CRS2)  # seq 2
    return ward.give(0.2, "tocilizumab", dose_mg)  # seq 3


# -- HAZARDS H4: the 56 mg typo ----------------------------------------------------------------------

def test_h4_a_typed_56_mg_is_corrected_to_560_and_the_next_dose_keeps_its_real_interval() -> None:
    ward = Ward()
    crs2_toci(ward, 56)
    # before the fix the only way on was a second dose, refused for 8 h even with an override:
    assert ward.refused(ward.dose(1, "tocilizumab", 560, override="typo")).rule == "TOCI_MIN_INTERVAL"
    correction = ward.run(*ward.correct(3, 1, dose_mg=560))
    assert correction.kind == "correct" and correction.at == h(0.2)  # the clinical time of the dose it corrects
    assert correction.data["corrected"]["dose_mg"] == 560 and correction.data["target_seq"] == 3
    assert [(d.dose_mg, d.at) for d in ward.ep.doses] == [(560, h(0.2))]
    assert ward.ep.corrections == 1 and ward.ep.state == "tocilizumab"
    # the correction moved nothing in time: 1 h after the dose is still too soon, 8 h after is not
    assert ward.refused(ward.dose(1.5, "tocilizumab", 560)).rule == "TOCI_MIN_INTERVAL"
    ward.observe(8.3, **CRS2)
    assert ward.give(8.3, "tocilizumab", 560).data["dose_number"] == 2


def test_h20_the_first_record_stays_in_the_chain_and_the_change_says_before_and_after() -> None:
    ward = Ward()
    crs2_toci(ward, 56)
    original = ward.events[2]
    ward.run(*ward.correct(3, 1, dose_mg=560))
    assert ward.events[2] is original and original.data["dose_mg"] == 56
    history = standing(ward.events)
    assert history.superseded_by == {3: 4}
    (change,) = changes(ward.events)
    assert (change.kind, change.target_seq, change.before["dose_mg"], change.after["dose_mg"]) == ("correct", 3, 56, 560)
    assert change.actor == "charge-nurse" and change.reason == "typo"


def test_a_correction_above_a_hard_limit_is_refused_even_with_an_override() -> None:
    ward = Ward()
    crs2_toci(ward, 56)
    refused = ward.refused(*ward.correct(3, 1, override="the pharmacist agreed", dose_mg=900))
    assert refused.rule == "TOCI_DOSE_MAX" and not refused.overridable and refused.breaks_seq is None


def test_a_late_dose_two_hours_before_a_recorded_one_breaks_it() -> None:
    ward = Ward()
    ward.observe(0, **CRS2)
    ward.give(3, "tocilizumab", 560)  # seq 3
    refused = ward.refused(ward.dose(1, "tocilizumab", 560, late="charted after the transfer", override="x"), h(4))
    assert refused.rule == "TOCI_MIN_INTERVAL" and refused.breaks_seq == 3
    assert refused.as_json()["breaks_seq"] == 3 and "seq 3" in refused.message


def test_voiding_the_only_tocilizumab_dose_leaves_the_episode_where_the_table_puts_it() -> None:
    ward = Ward()
    crs2_toci(ward)
    event = ward.run(*ward.void(3, 1))
    assert (event.kind, event.from_state, event.to_state) == ("void", "tocilizumab", "assessment")
    assert ward.ep.doses == () and standing(ward.events).voided_by == {3: 4}
    assert event.at == h(0.2)


# -- the same rules on the corrected history ---------------------------------------------------------

def _steroid_after_persisting_crs2(ward: Ward) -> None:
    crs2_toci(ward)  # seq 2, 3
    ward.observe(9, **CRS2)  # seq 4: grade 2 persisting 8 h after tocilizumab: steroid indicated
    ward.give(9.2, "dexamethasone", 10)  # seq 5


def test_a_void_that_takes_away_a_later_steroids_indication_needs_an_override_listed_per_event() -> None:
    ward = Ward()
    _steroid_after_persisting_crs2(ward)
    refused = ward.refused(*ward.void(3, 10))
    assert refused.rule == "STEROID_INDICATION" and refused.overridable and refused.breaks_seq == 5
    event = ward.run(*ward.void(3, 10, override="the dose was charted on the wrong patient"))
    assert event.override is not None and event.override.rules == ("STEROID_INDICATION",)
    assert event.data["overrides"] == {"5": ["STEROID_INDICATION"]}
    standing_dose = next(e for e in redecide(standing(ward.events)).events if e.seq == 5)
    assert standing_dose.override is not None and standing_dose.override.reason.startswith("the dose was charted")
    assert ward.ep.deviations == 1 and ward.ep.state == "steroid"


def test_an_override_granted_for_one_event_does_not_pass_a_rule_a_later_change_breaks_elsewhere() -> None:
    ward = Ward()
    _steroid_after_persisting_crs2(ward)
    ward.run(*ward.void(3, 10, override="wrong patient"))  # seq 6: grants STEROID_INDICATION at seq 5 only
    ward.observe(11, **CRS2)  # seq 7
    ward.give(11.5, "tocilizumab", 560)  # seq 8: indicated (CRS 2)
    # a late observation of CRS 1 just before it takes the indication away: a new override is needed
    refused = ward.refused(RecordObservation(at=h(11.2), actor="nurse", episode_id=ID,
                                             observation=Observation(**CRS1), late="charted late"), h(12))
    assert refused.rule == "TOCI_INDICATION" and refused.breaks_seq == 8


def test_a_corrected_dose_is_checked_as_if_recorded_so_and_keeps_no_old_override() -> None:
    ward = Ward()
    ward.observe(0, **CRS1)  # CRS 1: tocilizumab not indicated
    ward.give(0.2, "tocilizumab", 56, override="rapidly rising oxygen need")  # seq 3, a deviation
    refused = ward.refused(*ward.correct(3, 1, dose_mg=560))
    assert refused.rule == "TOCI_INDICATION" and refused.breaks_seq is None  # the corrected entry itself
    event = ward.run(*ward.correct(3, 1, override="rapidly rising oxygen need", dose_mg=560))
    assert event.data["overrides"] == {"3": ["TOCI_INDICATION"]} and ward.ep.deviations == 1


def test_a_corrected_observation_reroutes_what_follows() -> None:
    ward = Ward()
    ward.observe(0, **CRS3)  # seq 2: CRS 3
    ward.give(0.5, "dexamethasone", 10)  # seq 3: indicated by CRS 3
    assert ward.ep.state == "steroid"
    # the oxygen was a nasal cannula at 4 L/min (CRS 2): dexamethasone then had no indication
    refused = ward.refused(*ward.correct(2, 1, o2_device="nasal-cannula", o2_flow_lpm=4))
    assert refused.rule == "STEROID_INDICATION" and refused.breaks_seq == 3
    ward.run(*ward.correct(2, 1, override="neurological signs not charted", o2_device="nasal-cannula",
                           o2_flow_lpm=4))
    assert ward.ep.crs is not None and ward.ep.crs.grade == 2 and ward.ep.crs.seq == 4


def test_unset_removes_a_value_that_was_not_taken_and_not_assessed_is_never_zero() -> None:
    ward = Ward()
    ward.observe(0, **ZERO)
    assert ward.ep.icans is not None and ward.ep.icans.grade == 0
    ward.run(*ward.correct(2, 1, unset=("ice_score", "consciousness")))
    assert ward.ep.latest is not None and ward.ep.latest.icans_grade is None and ward.ep.icans is None
    assert ward.events[-1].data["unset"] == ["consciousness", "ice_score"]


def test_a_flag_corrected_back_to_absent_replays_to_the_same_history() -> None:
    ward = Ward()
    ward.observe(0, hypotension=True, **CRS2)
    ward.run(*ward.correct(2, 1, hypotension=False))  # Ward.run replays: the stored correction rebuilds this
    assert ward.ep.hypotensive_at is None


def test_late_entries_take_their_clinical_place_and_say_so() -> None:
    ward = Ward()
    ward.observe(0, **CRS2)
    ward.observe(4, **CRS2)
    event = ward.observe(2, late="paper chart entered after the round", now=5, **CRS3)
    assert event.data["late"] is True and event.data["late_reason"].startswith("paper chart")
    assert event.at == h(2) and event.recorded_at == h(5)
    assert ward.ep.crs is not None and ward.ep.crs.at == h(4)  # the latest assessment is still the latest
    assert ward.ep.last_at == h(4)
    (change,) = changes(ward.events)
    assert change.kind == "late" and change.target_seq is None


def test_a_late_observation_before_a_resolve_rechecks_the_resolution() -> None:
    ward = Ward()
    for hours in (0, 12, 24.5):
        ward.observe(hours, **ZERO)
    ward.run(Resolve(at=h(25), actor="doctor", episode_id=ID))  # seq 5
    refused = ward.refused(RecordObservation(at=h(6), actor="nurse", episode_id=ID, observation=Observation(**CRS2),
                                             late="night chart"), h(26))
    assert refused.rule == "RESOLVE_CRITERIA" and refused.breaks_seq == 5


def test_the_common_step_after_a_correction_folds_incrementally_to_the_same_episode() -> None:
    ward = Ward()
    crs2_toci(ward, 56)
    ward.run(*ward.correct(3, 1, dose_mg=560))
    ward.observe(9, **CRS3)  # an ordinary step: decide + apply on the re-folded snapshot (Ward.run checks the fold)
    ward.give(9.2, "dexamethasone", 10)
    assert ward.ep.state == "steroid" and ward.ep.version == 6


def test_as_of_shows_what_stands_at_that_time() -> None:
    ward = Ward()
    crs2_toci(ward, 56)
    ward.run(*ward.correct(3, 1, dose_mg=560))
    then = episode_of(ward.events, as_of=h(0.5))
    assert then is not None and [d.dose_mg for d in then.doses] == [560] and then.state == "tocilizumab"
    assert episode_of(ward.events, as_of=h(0.1)).state == "assessment"  # type: ignore[union-attr]
    assert episode_of(ward.events, as_of=T0 - timedelta(hours=1)) is None


# -- what cannot be corrected ------------------------------------------------------------------------

@pytest.mark.parametrize("target, why", [
    (1, "is an open"), (9, "there is no event 9"), (4, "is a correct"), (3, "already superseded"),
])
def test_correction_target_is_a_hard_rule(target: int, why: str) -> None:
    ward = Ward()
    crs2_toci(ward, 56)
    ward.run(*ward.correct(3, 1, dose_mg=560))  # seq 4
    refused = ward.refused(*ward.correct(target, 2, dose_mg=500))
    assert refused.rule == "CORRECTION_TARGET" and not refused.overridable and why in refused.message


def test_a_void_cannot_be_voided_a_voided_event_cannot_be_corrected_and_a_resolve_can_only_be_voided() -> None:
    ward = Ward()
    for hours in (0, 12, 24.5):
        ward.observe(hours, **ZERO)
    ward.run(Resolve(at=h(25), actor="doctor", episode_id=ID))  # seq 5
    assert ward.refused(*ward.correct(5, 26, dose_mg=1)).rule == "CORRECTION_TARGET"
    ward.run(*ward.void(5, 26))  # seq 6: back to assessment
    assert ward.ep.state == "assessment"
    assert ward.refused(*ward.void(6, 27)).rule == "CORRECTION_TARGET"
    assert ward.refused(*ward.void(5, 27)).rule == "CORRECTION_TARGET"


def test_a_closed_episode_takes_no_correction_void_or_late_entry() -> None:
    ward = Ward()
    crs2_toci(ward)
    ward.run(Close(at=h(1), actor="doctor", episode_id=ID))
    for command, now in (ward.correct(3, 2, dose_mg=500), ward.void(3, 2)):
        assert ward.refused(command, now).rule == "EPISODE_CLOSED"
    assert ward.refused(ward.dose(0.5, "dexamethasone", 10, late="x"), h(2)).rule == "EPISODE_CLOSED"


# -- invalid input: exit 2, never decided ------------------------------------------------------------

@pytest.mark.parametrize("changes_, unset, message", [
    ({"dose_mg": 56}, (), "changes nothing"),
    ({"temp_c": 38.0}, (), "not among its inputs"),
    ({}, ("ice_score",), "not among its inputs"),
    ({"dose_mg": 0.01}, (), "not a valid give"),
    ({"drug": "aspirin"}, (), "not a valid give"),
])
def test_a_correction_that_is_not_a_valid_entry_is_invalid_input(changes_: dict[str, Any], unset: tuple[str, ...],
                                                                message: str) -> None:
    ward = Ward()
    crs2_toci(ward, 56)
    command = Correct(at=h(1), actor="x", episode_id=ID, target_seq=3, reason="r", changes=changes_, unset=unset)
    with pytest.raises(Invalid, match=message):
        decide_change(ward.ep, ward.events, command, h(1))


def test_a_corrected_observation_must_still_be_consistent_and_fit_the_patients_screen() -> None:
    ward = Ward()
    ward.observe(0, **CRS2)
    with pytest.raises(Invalid, match="not a valid observe"):
        decide_change(ward.ep, ward.events, ward.correct(2, 1, o2_device="room-air")[0], h(1))
    child = Ward(weight_kg=20, age_years=6)
    child.observe(0, capd_score=4, **CRS2)
    with pytest.raises(Invalid, match="CAPD"):
        decide_change(child.ep, child.events, child.correct(2, 1, unset=("capd_score",), ice_score=8)[0], h(1))


def test_a_late_entry_must_be_late_and_no_earlier_than_the_opening_nor_in_the_future() -> None:
    ward = Ward()
    ward.observe(2, **CRS2)
    with pytest.raises(Invalid, match="not earlier"):
        decide_change(ward.ep, ward.events, ward.dose(3, "tocilizumab", 560, late="x"), h(3))
    assert ward.refused(ward.dose(-1, "tocilizumab", 560, late="x"), h(3)).rule == "TIME_ORDER"
    with pytest.raises(ValueError, match="late entry"):
        decide(ward.ep, ward.dose(1, "tocilizumab", 560, late="x"), h(3))  # only through the history


# -- audit: a forged correction does not replay --------------------------------------------------------

def test_a_forged_correction_to_a_dose_above_the_limit_is_named_by_replay() -> None:
    ward = Ward()
    crs2_toci(ward, 56)
    event = ward.run(*ward.correct(3, 1, dose_mg=560))
    forged_data = {**event.data, "corrected": {**event.data["corrected"], "dose_mg": 900.0}}
    forged = ward.events[:-1] + [event.model_copy(update={"data": forged_data})]
    problems = replay(forged).problems
    assert problems and problems[0][0] == 4


def test_a_forged_override_listing_is_named_by_replay() -> None:
    ward = Ward()
    _steroid_after_persisting_crs2(ward)
    event = ward.run(*ward.void(3, 10, override="wrong patient"))
    forged = ward.events[:-1] + [event.model_copy(update={"data": {**event.data, "overrides": {}}})]
    assert replay(forged).problems[0][0] == 6


def test_a_late_action_keeps_its_note_and_a_correction_of_an_action_changes_it() -> None:
    ward = Ward()
    ward.observe(0, **CRS2)
    ward.observe(2, **CRS2)
    ward.run(RecordAction(at=h(1), actor="nurse", episode_id=ID, action="telemetry", note="bed 4", late="busy"),
             h(3))
    assert ward.ep.actions["telemetry"] == h(1)
    ward.run(*ward.correct(4, 3.5, note="bed 5"))
    assert changes(ward.events)[-1].after == {"action": "telemetry", "note": "bed 5"}


def test_a_correction_to_another_drug_takes_that_drugs_usual_route_unless_one_is_given() -> None:
    ward = Ward()
    ward.observe(0, **CRS3)
    ward.give(0.5, "dexamethasone", 10)  # seq 3, iv by default
    ward.run(*ward.correct(3, 1, override="steroid on record", drug="methylprednisolone", dose_mg=70))
    assert ward.ep.doses[0].drug == "methylprednisolone" and ward.ep.doses[0].route == "iv"
    other = Ward()
    other.observe(0, **CRS3)
    other.give(0.5, "dexamethasone", 10)
    refused = other.refused(*other.correct(3, 1, override="x", drug="tocilizumab", dose_mg=560, route="po"))
    assert refused.rule == "DRUG_ROUTE"


def test_a_refusal_at_a_recorded_event_offers_no_earliest_time_for_the_change() -> None:
    ward = Ward()
    ward.observe(0, **CRS2)
    ward.give(3, "tocilizumab", 560)
    refused = ward.refused(ward.dose(1, "tocilizumab", 560, late="x"), h(4))
    assert refused.breaks_seq == 3 and refused.earliest_at is None and "earliest_at" not in refused.as_json()


def test_as_of_counts_only_the_changes_about_that_time_or_before() -> None:
    ward = Ward()
    crs2_toci(ward, 56)  # dose at 0.2 h
    ward.observe(5, **CRS2)  # seq 4
    ward.run(*ward.correct(3, 6, dose_mg=560))
    ward.run(*ward.correct(4, 6.5, temp_c=39.0))
    assert episode_of(ward.events).corrections == 2  # type: ignore[union-attr]
    assert episode_of(ward.events, as_of=h(1)).corrections == 1  # type: ignore[union-attr]


def test_an_invalid_corrected_observation_says_why_in_one_plain_sentence() -> None:
    ward = Ward()
    ward.observe(0, **CRS2)
    with pytest.raises(Invalid) as caught:
        decide_change(ward.ep, ward.events, ward.correct(2, 1, o2_device="room-air")[0], h(1))
    assert "Value error" not in caught.value.message and "o2_flow_lpm needs" in caught.value.message
