"""Tocilizumab for a patient over 100 kg: 8 mg/kg passes the 800 mg cap, so the recommended dose is the cap.

The label dose (docs/CLINICAL.md §3) is 8 mg/kg from 30 kg, at most 800 mg a dose (hard). Above 100 kg
the weight-based dose passes the cap: the recommendation must be capped (pathway/dosing.py toci_dose_mg), and
so shown, never held back as a dose the rules would refuse (H1, H13). The reference patients of
test_regimen_table.py stop at 100 kg, where 8 mg/kg is exactly 800 mg and the cap is never tested.
"""

import pytest

from pathway.errors import Refused
from pathway.recommend import status
from tests.scenarios.driver import Driver, gives, t

CRS2 = {"temp_c": 38.6, "o2_device": "nasal-cannula", "o2_flow_lpm": 4, "ice_score": 10, "consciousness": "awake"}


def test_a_patient_over_100_kg_is_recommended_the_800_mg_cap() -> None:
    """120 kg and 350 kg at CRS grade 2: one tocilizumab step of 800 mg (not 960 or 2800 mg), which the pathway
    accepts as shown; 800.1 mg is refused by TOCI_DOSE_MAX, a hard rule."""
    for weight_kg in (100.1, 120.0, 350.0):
        d = Driver()
        d.open(t(0), patient_ref="P-HEAVY", weight_kg=weight_kg, age_years=50)
        st = d.observe(t(0.5), **CRS2)
        toci = [dose for drug, dose in gives(st) if drug == "tocilizumab"]
        steps = [s.get("rule") for s in st["next_steps"]]
        assert toci, f"no tocilizumab step for {weight_kg:g} kg at CRS grade 2: {steps}"
        assert toci == [800.0], f"{weight_kg:g} kg: tocilizumab {toci}"
        with pytest.raises(Refused) as refused:
            d.give(t(0.6), "tocilizumab", 800.1)
        assert refused.value.rules == ("TOCI_DOSE_MAX",) and not refused.value.overridable
        assert d.give(t(0.6), "tocilizumab", 800.0).to_state == "tocilizumab"
        assert not any(drug == "tocilizumab" for drug, _ in gives(status(d.episode, t(0.7))))  # type: ignore[arg-type]
