"""Improvement and worsening are judged on the worse of the CRS and ICANS grades (CLINICAL.md §7, §8);
a not-assessed grade is neither, and never moves the baseline."""

import pytest

from pathway.errors import Refused
from pathway.guards import escalation_allowed, improved_since, worse_since
from tests.scenarios.driver import Driver, gives, steroid_steps, t

NO_CRS = {"temp_c": 37.0, "o2_device": "room-air"}
CRS1 = {"temp_c": 38.5, "o2_device": "room-air"}
CRS2 = {"temp_c": 38.6, "o2_device": "nasal-cannula", "o2_flow_lpm": 3}
CRS3 = {"temp_c": 39.0, "o2_device": "hfnc", "o2_flow_lpm": 30}


def ice(score: int) -> dict[str, object]:
    return {"ice_score": score, "consciousness": "awake"}


def on_steroid(**first: object) -> Driver:
    """Adult 70 kg, observed at t(0), dexamethasone 10 mg at t(0.5): state steroid."""
    d = Driver()
    d.open(t(-1), patient_ref="P-SEV", weight_kg=70, age_years=58)
    d.observe(t(0), **first)
    assert d.give(t(0.5), "dexamethasone", 10).to_state == "steroid"
    return d


def refused(fn, *args, **kwargs) -> Refused:  # type: ignore[no-untyped-def]
    with pytest.raises(Refused) as err:
        fn(*args, **kwargs)
    return err.value


def test_severity_is_the_worse_of_the_latest_assessed_grades() -> None:
    d = Driver()
    ep = d.open(t(-1), patient_ref="P-SEV", weight_kg=70, age_years=58)
    assert ep.severity is None  # never assessed: no severity at all, never 0
    d.observe(t(0), **CRS2)
    assert d.episode.severity == 2  # type: ignore[union-attr]
    d.observe(t(1), **ice(2))  # ICANS 3, CRS not assessed: CRS 2 still stands
    assert d.episode.severity == 3  # type: ignore[union-attr]
    d.observe(t(2), **NO_CRS)  # CRS 0, ICANS not assessed: ICANS 3 still stands
    assert d.episode.severity == 3  # type: ignore[union-attr]
    d.observe(t(3))
    assert d.episode.severity == 3  # type: ignore[union-attr]


def test_in_the_steroid_state_crs_better_but_icans_worse_is_worsening() -> None:
    d = on_steroid(**CRS2, **ice(5))  # CRS 2, ICANS 2: severity 2 at the steroid start
    assert d.episode.steroid_start_severity == 2  # type: ignore[union-attr]
    d.observe(t(2), **CRS1, **ice(2))  # CRS 2 -> 1 better; ICANS 2 -> 3 worse: the worse grade rose
    ep = d.episode
    assert ep is not None and worse_since(ep.steroid_start_severity, ep) and escalation_allowed(ep)
    event = d.give(t(2.5), "dexamethasone", 20)  # escalation allowed at once, no override
    assert (event.to_state, event.override) == ("escalated_steroid", None)


def test_the_same_improvement_in_crs_alone_is_not_worsening() -> None:
    d = on_steroid(**CRS2, **ice(5))
    d.observe(t(2), **CRS1, **ice(5))  # CRS better, ICANS unchanged: severity 2, neither worse nor (yet) better
    ep = d.episode
    assert ep is not None and not worse_since(ep.steroid_start_severity, ep)
    assert not improved_since(ep.steroid_start_severity, ep)
    assert refused(d.give, t(2.5), "dexamethasone", 20).rule == "ESCALATION_ORDER"


def test_crs_better_while_icans_rises_to_the_same_level_is_not_improvement() -> None:
    """After 24 h of standard steroid, CRS 3 -> 1 but ICANS 0 -> 3: no improvement, escalation is due."""
    d = on_steroid(**CRS3, **ice(10))
    st = d.observe(t(24.5), **CRS1, **ice(2))
    ep = d.episode
    assert ep is not None and not improved_since(ep.phase_start_severity, ep)
    (step,) = steroid_steps(st)
    assert step["rule"] == "REC_STEROID_ESCALATE"
    assert d.give(t(24.6), "methylprednisolone", 1000).override is None


def test_both_better_is_improvement_and_escalation_waits() -> None:
    d = on_steroid(**CRS3, **ice(5))  # severity 3
    st = d.observe(t(24.5), **CRS1, **ice(8))  # severity 1
    ep = d.episode
    assert ep is not None and improved_since(ep.phase_start_severity, ep) and not escalation_allowed(ep)
    assert "methylprednisolone" not in [drug for drug, _ in gives(st)]
    assert refused(d.give, t(24.6), "dexamethasone", 20).rule == "ESCALATION_ORDER"


@pytest.mark.parametrize("unassessed", [{}, {"temp_c": 40.0}, {"o2_device": "bipap"}, {"seizure": "prolonged"},
                                        {"motor_weakness": True}])
def test_a_not_assessed_observation_is_neither_improvement_nor_worsening(unassessed: dict) -> None:
    d = on_steroid(**CRS3, **ice(10))
    st = d.observe(t(2), **unassessed)
    assert (st["crs_grade"], st["icans_grade"]) == (None, None)
    ep = d.episode
    assert ep is not None and ep.severity == 3
    assert not worse_since(ep.steroid_start_severity, ep) and not improved_since(ep.steroid_start_severity, ep)
    assert refused(d.give, t(2.5), "dexamethasone", 20).rule == "ESCALATION_ORDER"


def test_a_not_assessed_observation_after_the_window_is_not_the_assessment_that_allows_escalation() -> None:
    """Escalation after 24 h needs an ASSESSED observation at or after the window's end showing no improvement."""
    d = on_steroid(**CRS3, **ice(10))
    d.observe(t(24.6))  # nothing recorded, after the window ends (t(24.5))
    ep = d.episode
    assert ep is not None and not escalation_allowed(ep)
    r = refused(d.give, t(24.7), "dexamethasone", 20)
    assert r.rule == "ESCALATION_ORDER"
    d.observe(t(24.8), **CRS3, **ice(10))
    assert d.give(t(24.9), "dexamethasone", 20).override is None


def test_the_baseline_of_a_dose_is_the_worse_assessed_grade_before_it() -> None:
    d = Driver()
    d.open(t(-1), patient_ref="P-SEV", weight_kg=70, age_years=58)
    d.observe(t(0), **CRS2)  # ICANS never assessed
    d.observe(t(0.2))  # not assessed: no effect
    d.give(t(0.5), "tocilizumab", 560)
    ep = d.episode
    assert ep is not None and ep.doses[-1].severity_at_dose == 2 and ep.phase_start_severity == 2
    d.observe(t(9), **CRS2, **ice(8))
    ep = d.episode
    assert ep is not None and not improved_since(ep.doses[-1].severity_at_dose, ep)
