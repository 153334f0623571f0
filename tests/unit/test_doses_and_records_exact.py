"""Exact figures and boundaries the mutation run of the whole core found untested (issue 12).

Each test states a clinical or record rule on both sides: anakinra's adult dose from the policy's adult age
itself; child doses to the tenth of a milligram; the course a steroid taper follows; an episode as of the very
time of an event; the warning that names the last assessed grade; one problem for one break in a replay.
"""

from datetime import timedelta

import pytest

from pathway.dosing import anakinra_dose_mg, last_steroid, siltuximab_dose_mg
from pathway.drugs import Drug
from pathway.episode import fold
from pathway.policy import DEFAULT_POLICY
from pathway.recommend import warnings
from pathway.replay import replay_problems
from tests.scenarios.driver import Driver, t
from tests.unit.test_replay_exact import by_earlier_pathway, two_doses

G4 = {"temp_c": 39.5, "o2_device": "bipap", "ice_score": 10, "consciousness": "awake"}


@pytest.mark.parametrize(("age_years", "dose_mg"), [(18.0, 100.0), (17.99, 80.0)])
def test_anakinra_is_the_adult_dose_from_the_adult_age_itself(age_years: float, dose_mg: float) -> None:
    """40 kg: 100 mg from 18 years (the policy's adult age) on, 2 mg/kg below it."""
    assert anakinra_dose_mg(40.0, age_years, DEFAULT_POLICY) == dose_mg


def test_child_doses_are_given_to_the_tenth_of_a_milligram() -> None:
    """33.33 kg: anakinra 2 mg/kg = 66.66 mg and siltuximab 11 mg/kg = 366.63 mg, charted as 66.7 and 366.6 mg."""
    assert anakinra_dose_mg(33.33, 10.0, DEFAULT_POLICY) == 66.7
    assert siltuximab_dose_mg(33.33, DEFAULT_POLICY) == 366.6


def test_the_course_of_an_intensity_follows_the_last_steroid_of_that_intensity() -> None:
    """An escalated dexamethasone course, then methylprednisolone at its standard 2 mg/kg (with an override):
    the escalated course continues with dexamethasone, the standard one with methylprednisolone."""
    d = Driver()
    d.open(t(0), patient_ref="P-1", weight_kg=70, age_years=50)
    d.observe(t(0), **G4)
    d.give(t(0.1), "dexamethasone", 20)
    d.give(t(0.2), "methylprednisolone", 140, override="switched after a reaction")
    assert d.episode is not None
    assert last_steroid(d.episode, "escalated") is Drug.DEXAMETHASONE
    assert last_steroid(d.episode, "standard") is Drug.METHYLPREDNISOLONE
    assert last_steroid(d.episode) is Drug.METHYLPREDNISOLONE


def test_an_episode_as_of_an_events_own_time_includes_that_event() -> None:
    d = Driver()
    d.open(t(0), patient_ref="P-1", weight_kg=70, age_years=50)
    d.observe(t(1), temp_c=38.5, o2_device="room-air")
    assert fold(d.events, as_of=t(1)).version == 2
    assert fold(d.events, as_of=t(1) - timedelta(microseconds=1)).version == 1


def test_a_not_assessed_domain_warns_with_the_last_assessed_grade_it_still_reads() -> None:
    d = Driver()
    d.open(t(0), patient_ref="P-1", weight_kg=70, age_years=50)
    d.observe(t(1), temp_c=38.5, o2_device="nasal-cannula", o2_flow_lpm=2, ice_score=10, consciousness="awake")
    d.observe(t(2), ice_score=10, consciousness="awake")  # CRS not assessed this time
    assert d.episode is not None
    assert ("CRS not assessed on the latest observation: the pathway still reads the last assessed CRS grade 2 "
            "(seq 2, 2026-03-01T13:00:00Z)") in warnings(d.episode, t(2.1))


def test_one_break_among_earlier_events_is_one_problem_and_the_rest_is_not_re_decided() -> None:
    events = by_earlier_pathway(two_doses().events, 0, 1, 2, 3)
    assert replay_problems(events[:2] + events[3:]) == [(4, "expected seq 3")]


def test_a_tocilizumab_dose_is_charted_to_the_tenth_of_a_milligram() -> None:
    """52.37 kg x 8 mg/kg = 418.96 mg, charted as 419 mg (under its ceiling of 460.8 mg)."""
    from pathway.dosing import toci_dose_mg

    assert toci_dose_mg(52.37, DEFAULT_POLICY) == 419.0


def test_a_methylprednisolone_dose_given_once_a_day_or_less_often_takes_one_days_ceiling_not_more() -> None:
    """30 mg/kg a day at 10 kg is 300 mg; a site that gives the pulse every 24.5 h still gets 300 mg a dose,
    and a dose every 12 h half of it."""
    from pathway.dosing import steroid_per_kg_ceiling_mg
    from pathway.policy import Policy

    site = Policy(methylprednisolone_escalated_every_h=24.5)
    assert steroid_per_kg_ceiling_mg(Drug.METHYLPREDNISOLONE, 10, site, every_h=24.5) == 300.0
    assert steroid_per_kg_ceiling_mg(Drug.METHYLPREDNISOLONE, 10, site, every_h=24) == 300.0
    assert steroid_per_kg_ceiling_mg(Drug.METHYLPREDNISOLONE, 10, site, every_h=12) == 150.0


def test_only_a_corticosteroid_has_a_steroid_intensity_or_ceiling() -> None:
    from pathway.dosing import steroid_intensity, steroid_per_kg_ceiling_mg

    with pytest.raises(ValueError, match="^anakinra is not a corticosteroid$"):
        steroid_intensity(Drug.ANAKINRA, 100, 70, DEFAULT_POLICY)
    with pytest.raises(ValueError, match="^siltuximab is not a corticosteroid$"):
        steroid_per_kg_ceiling_mg(Drug.SILTUXIMAB, 70, DEFAULT_POLICY)


def test_a_course_under_way_shows_its_next_dose_under_due_naming_the_recommendation() -> None:
    """Anakinra 100 mg every 6 h in the refractory state: 1 h after a dose, the next is due 6 h after it."""
    d = Driver()
    d.open(t(0), patient_ref="P-1", weight_kg=70, age_years=50)
    d.observe(t(0), **G4)
    d.give(t(0.1), "tocilizumab", 560)
    d.give(t(0.2), "dexamethasone", 20)
    d.give(t(0.3), "anakinra", 100, override="refractory line started early")
    nexts = [item for item in d.status(t(1.3))["due"] if item["what"].startswith("next dose: anakinra")]
    assert nexts == [{"what": "next dose: anakinra 100 mg IV/SC every 6 h (adult)", "at": "2026-03-01T18:18:00Z",
                      "overdue": False, "rule": "REC_ANAKINRA_CONTINUE"}]
