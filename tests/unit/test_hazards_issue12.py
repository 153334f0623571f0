"""Hazards found while writing the safety case (issue 12, docs/SAFETY.md), one named regression each.

Each was reproduced on the pathway before its fix (in process, decide() + apply()); the test steps the same
episode and asserts what the pathway answers now.
"""

import pytest
from pydantic import ValidationError

from pathway.policy import Policy
from tests.scenarios.driver import Driver, steroid_steps, t

G3 = {"temp_c": 39.0, "o2_device": "hfnc", "o2_flow_lpm": 30, "ice_score": 10, "consciousness": "awake"}


def test_h12_a_standard_steroid_course_continues_when_a_refractory_drug_is_added() -> None:
    """Before: 70 kg, CRS grade 3, tocilizumab 560 mg then dexamethasone 10 mg (standard course); anakinra at
    6.6 h moved the episode to refractory and no steroid step was shown at 6.7, 12.5 or 20 h, still at grade 3
    (only the escalated course carried over). Now the standard course continues beside the refractory drug."""
    d = Driver()
    d.open(t(0), patient_ref="P-1", weight_kg=70, age_years=50)
    d.observe(t(0), **G3)
    d.give(t(0.2), "tocilizumab", 560)
    d.give(t(0.3), "dexamethasone", 10)
    assert d.give(t(6.6), "anakinra", 100).to_state == "refractory"
    for hours in (6.7, 12.5, 20):
        steps = steroid_steps(d.observe(t(hours), **G3))
        assert [(s["rule"], s["drug"], s["dose_mg"]) for s in steps] == [
            ("REC_STEROID_STANDARD_CONTINUE", "dexamethasone", 10.0)], f"at {hours} h: {steps}"


def test_h24_a_site_cannot_make_a_methylprednisolone_pulse_a_standard_dose() -> None:
    """Before: a policy with standard_methylprednisolone_mg_per_kg = 20 made 1000 mg at 70 kg a *standard* dose:
    accepted at CRS grade 3 without ESCALATION_ORDER, the episode in the standard steroid state. Escalated is
    methylprednisolone above 2 mg/kg (docs/CLINICAL.md): a site may lower that boundary, not raise it."""
    with pytest.raises(ValidationError, match="standard_methylprednisolone_mg_per_kg"):
        Policy(standard_methylprednisolone_mg_per_kg=20)
    assert Policy(standard_methylprednisolone_mg_per_kg=1).standard_methylprednisolone_mg_per_kg == 1
