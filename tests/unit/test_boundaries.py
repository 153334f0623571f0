"""The boundaries of the pathway's rules, each on both sides (issue 12: a mutation sample of pathway/ and states/
showed these could move without any behaviour test noticing).

Each test names the boundary, the side that must pass and the side that must not. The figures are the clinical
ones (docs/CLINICAL.md) or the default policy's; a site policy moves them, never the hard limits.
"""

from datetime import timedelta

import pytest
from pydantic import ValidationError

from pathway.errors import Refused
from pathway.policy import DEFAULT_POLICY, Policy
from pathway.recommend import reassess_hours, status
from tests.scenarios.driver import Driver, acts, gives, t

FULL_NEURO = {"ice_score": 10, "consciousness": "awake"}


def patient(policy: Policy = DEFAULT_POLICY, weight_kg: float = 70, age_years: float = 50) -> Driver:
    d = Driver()
    d.open(t(0), patient_ref="P-1", weight_kg=weight_kg, age_years=age_years, policy=policy)
    return d


def refusal(fn, *args, **kwargs) -> Refused:  # type: ignore[no-untyped-def]
    with pytest.raises(Refused) as err:
        fn(*args, **kwargs)
    return err.value


# -- steroid indication at a site's lowest CRS grade ----------------------------------------------------------

def test_a_site_steroid_threshold_of_crs_1_does_not_make_crs_0_an_indication() -> None:
    """steroid_min_crs_grade = 1: dexamethasone at a fully assessed CRS grade 0 needs an override (a grade 0 is
    not "at least 1", however a missing grade is read); at grade 1 it is indicated."""
    site = Policy(steroid_min_crs_grade=1)
    d = patient(site)
    d.observe(t(1), temp_c=37.0, o2_device="room-air", **FULL_NEURO)
    assert d.episode is not None and d.episode.crs is not None and d.episode.crs.grade == 0
    err = refusal(d.give, t(1.5), "dexamethasone", 10)
    assert "STEROID_INDICATION" in err.rules and err.overridable
    d.observe(t(2), temp_c=38.5, o2_device="room-air", **FULL_NEURO)
    d.give(t(2.5), "dexamethasone", 10)  # grade 1 at this site: indicated, no override
    assert d.episode.steroid_given


# -- standard and escalated steroid doses: the boundary belongs to the standard dose --------------------------

@pytest.mark.parametrize(("drug", "standard_mg", "escalated_mg"), [
    ("methylprednisolone", 140.0, 140.1),  # 2 mg/kg at 70 kg
    ("dexamethasone", 10.0, 10.1),
])
def test_a_dose_at_the_standard_figure_is_standard_and_above_it_escalated(drug: str, standard_mg: float,
                                                                          escalated_mg: float) -> None:
    d = patient()
    d.observe(t(1), temp_c=39.0, o2_device="hfnc", o2_flow_lpm=30, **FULL_NEURO)  # CRS grade 3
    event = d.give(t(1.5), drug, standard_mg)
    assert (event.data["intensity"], event.to_state) == ("standard", "steroid")
    d2 = patient()
    d2.observe(t(1), temp_c=39.0, o2_device="hfnc", o2_flow_lpm=30, **FULL_NEURO)
    err = refusal(d2.give, t(1.5), drug, escalated_mg)
    assert "ESCALATION_ORDER" in err.rules


# -- reassessment interval from the worse grade -----------------------------------------------------------------

@pytest.mark.parametrize(("temp_c", "o2", "extra", "hours"), [
    (38.5, "room-air", {}, 12.0),  # CRS grade 1: the ordinary interval
    (38.5, "nasal-cannula", {"o2_flow_lpm": 2}, 4.0),  # CRS grade 2: exactly the boundary of the short interval
    (37.0, "room-air", {}, 12.0),  # grade 0
])
def test_the_reassessment_interval_shortens_from_crs_grade_2(temp_c: float, o2: str, extra: dict[str, float],
                                                               hours: float) -> None:
    d = patient()
    d.observe(t(1), temp_c=temp_c, o2_device=o2, **extra, **FULL_NEURO)
    assert d.episode is not None and reassess_hours(d.episode) == hours
    st = status(d.episode, t(1.1))
    reassess = [x for x in st["due"] if x["what"].startswith("reassess CRS")][0]
    assert reassess["at"] == (t(1) + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_icans_grade_1_shortens_the_interval_to_8_h_and_crs_2_wins_over_it() -> None:
    d = patient()
    d.observe(t(1), temp_c=37.0, o2_device="room-air", ice_score=8, consciousness="awake")  # ICANS grade 1
    assert d.episode is not None and reassess_hours(d.episode) == 8.0
    d.observe(t(2), temp_c=38.5, o2_device="nasal-cannula", o2_flow_lpm=2, ice_score=8, consciousness="awake")
    assert reassess_hours(d.episode) == 4.0


# -- the policy's tocilizumab count per episode --------------------------------------------------------------

def test_tocilizumab_is_recommended_until_the_policy_count_and_not_at_it() -> None:
    """toci_max_doses_episode = 2 (default): after one dose a second is still recommended (when due); after two,
    tocilizumab is no longer offered (a third needs an override, a fifth is a hard refusal)."""
    d = patient()
    d.observe(t(1), temp_c=39.0, o2_device="nasal-cannula", o2_flow_lpm=3, **FULL_NEURO)
    d.give(t(1.5), "tocilizumab", 560)
    d.observe(t(9.6), temp_c=39.0, o2_device="nasal-cannula", o2_flow_lpm=3, **FULL_NEURO)
    assert ("tocilizumab", 560.0) in gives(d.status(t(9.7)))
    d.give(t(9.8), "tocilizumab", 560)
    d.observe(t(18), temp_c=39.0, o2_device="nasal-cannula", o2_flow_lpm=3, **FULL_NEURO)
    assert "tocilizumab" not in [g for g, _ in gives(d.status(t(18.1)))]
    err = refusal(d.give, t(18.2), "tocilizumab", 560)
    assert "TOCI_MAX_DOSES" in err.rules and err.overridable


# -- daily labs come back after 24 h, not before --------------------------------------------------------------

def test_daily_labs_are_asked_again_24_h_after_the_last_and_not_sooner() -> None:
    d = patient()
    d.observe(t(1), temp_c=38.5, o2_device="nasal-cannula", o2_flow_lpm=2, **FULL_NEURO)  # CRS grade 2
    assert "labs" in acts(d.status(t(1.1)))
    d.act(t(2), "labs")
    for hours in (4, 8, 12, 16, 20, 25.9):
        d.observe(t(2 + hours - 0.9), temp_c=38.5, o2_device="nasal-cannula", o2_flow_lpm=2, **FULL_NEURO)
        if hours < 24:
            assert "labs" not in acts(d.status(t(2 + hours - 0.5))), f"labs asked again after {hours} h"
    assert "labs" in acts(d.status(t(2 + 24)))
    assert "labs" not in acts(d.status(t(2 + 23.99)))


# -- policy bounds: a fraction is a legitimate site figure; zero and below never -------------------------------

FRACTIONS_ALLOWED = [
    "high_flow_above_lpm", "toci_mg_per_kg", "toci_mg_per_kg_under_30kg", "toci_child_weight_kg",
    "toci_grade1_fever_hours", "dexamethasone_standard_mg", "dexamethasone_escalated_mg", "dexamethasone_every_h",
    "standard_methylprednisolone_mg_per_kg", "methylprednisolone_escalated_mg",
    "methylprednisolone_escalated_every_h", "escalated_course_days", "dexamethasone_max_mg_per_kg_dose",
    "methylprednisolone_max_mg_per_kg_day", "icans3_methylprednisolone_mg_per_kg",
    "icans3_methylprednisolone_every_h", "escalation_window_h", "refractory_window_h", "anakinra_adult_mg",
    "anakinra_child_mg_per_kg", "anakinra_every_h", "siltuximab_mg_per_kg", "fluid_bolus_window_h",
    "reassess_h_grade2_plus", "reassess_h_icans", "reassess_h_otherwise", "resolution_window_h",
]


@pytest.mark.parametrize("field", FRACTIONS_ALLOWED)
def test_a_positive_policy_figure_may_be_a_fraction_but_not_zero(field: str) -> None:
    paired = {"dexamethasone_escalated_mg": {"dexamethasone_standard_mg": 0.5}}.get(field, {})
    assert getattr(Policy(**{field: 0.5, **paired}), field) == 0.5
    for bad in (0, -1):
        with pytest.raises(ValidationError, match=field):
            Policy(**{field: bad})


@pytest.mark.parametrize(("field", "lowest"), [
    ("steroid_after_toci_h", 0), ("anakinra_adult_age_years", 0), ("capd_below_age_years", 0),
    ("toci_max_doses_episode", 1), ("toci_max_doses_24h", 1), ("steroid_min_crs_grade", 1),
    ("steroid_min_icans_grade", 1), ("fluid_boluses_before_vasopressor", 1),
])
def test_a_policy_figure_has_its_lowest_sensible_value_and_nothing_below(field: str, lowest: float) -> None:
    assert getattr(Policy(**{field: lowest}), field) == lowest
    with pytest.raises(ValidationError, match=field):
        Policy(**{field: lowest - 1})
