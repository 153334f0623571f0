"""Each new recommendation of issue 9 (CLINICAL.md §5, §6, §8, §9), one test each, through
pathway.recommend.status on an episode built with decide() + apply() (tests/scenarios/driver.py)."""

from typing import Any

import pytest

from pathway.errors import Refused
from tests.scenarios.driver import Driver, acts, alternatives, gives, steroid_steps, t

NEURO_OK = {"ice_score": 10, "consciousness": "awake"}
NO_CRS = {"temp_c": 37.0, "o2_device": "room-air"}
GRADE3 = {"temp_c": 39.0, "o2_device": "hfnc", "o2_flow_lpm": 30, **NEURO_OK}
GRADE4 = {"temp_c": 39.0, "o2_device": "bipap", **NEURO_OK}
HYPOTENSIVE = {"temp_c": 38.5, "o2_device": "room-air", "hypotension": True, **NEURO_OK}  # CRS 2
NEURO_ACTIONS = ("aspiration-precautions", "neurology-consult", "neuroimaging", "eeg", "icu-transfer", "antiseizure")


def patient(weight_kg: float = 70, age_years: float = 58) -> Driver:
    d = Driver()
    d.open(t(-1), patient_ref="P-REC", weight_kg=weight_kg, age_years=age_years)
    return d


def icans(ice: int, **more: Any) -> dict[str, Any]:
    """An adult observation with no CRS (afebrile, room air) and this ICE score, awake."""
    return {**NO_CRS, "ice_score": ice, "consciousness": "awake", **more}


def supports(st: dict[str, Any]) -> list[str]:
    return [s["support"] for s in st["next_steps"] if s["kind"] == "support"]


def step_of(st: dict[str, Any], rule: str) -> dict[str, Any]:
    (step,) = [s for s in st["next_steps"] if s.get("rule") == rule]
    return step


# -- ICANS actions (§8) ---------------------------------------------------------------------------------

def test_icans_1_recommends_aspiration_precautions_and_neurology_consult() -> None:
    st = patient().observe(t(0), **icans(8))
    assert (st["crs_grade"], st["icans_grade"]) == (0, 1)
    neuro = [a for a in acts(st) if a in NEURO_ACTIONS]
    assert neuro == ["aspiration-precautions", "neurology-consult"]
    assert step_of(st, "SUPPORT_ASPIRATION")["citations"] and step_of(st, "SUPPORT_NEUROLOGY")["citations"]
    assert steroid_steps(st) == [] and gives(st) == []  # ICANS 1: supportive care only


def test_icans_actions_are_shown_until_recorded() -> None:
    d = patient()
    d.observe(t(0), **icans(8))
    d.act(t(0.5), "aspiration-precautions")
    assert [a for a in acts(d.status(t(0.6))) if a in NEURO_ACTIONS] == ["neurology-consult"]


def test_icans_2_adds_neuroimaging_and_eeg() -> None:
    st = patient().observe(t(0), **icans(5))
    assert st["icans_grade"] == 2
    assert [a for a in acts(st) if a in NEURO_ACTIONS] == ["aspiration-precautions", "neurology-consult",
                                                            "neuroimaging", "eeg"]


def test_icans_3_without_crs_recommends_icu_transfer() -> None:
    st = patient().observe(t(0), **icans(2))
    assert (st["crs_grade"], st["icans_grade"]) == (0, 3)
    icu = step_of(st, "SUPPORT_ICU_ICANS")
    assert icu["action"] == "icu-transfer" and acts(st).count("icu-transfer") == 1
    assert acts(st)[0] == "icu-transfer"  # most urgent first
    assert {"neuroimaging", "eeg", "aspiration-precautions", "neurology-consult"} <= set(acts(st))


def test_icans_actions_for_a_child_graded_by_capd() -> None:
    st = patient(weight_kg=16, age_years=4).observe(t(0), **NO_CRS, capd_score=9, consciousness="awake")
    assert st["icans_grade"] == 3 and st["icans_screen"] == "capd"
    assert {"icu-transfer", "aspiration-precautions", "neurology-consult", "neuroimaging", "eeg"} <= set(acts(st))


@pytest.mark.parametrize("kind", ["brief", "prolonged"])
def test_a_seizure_recommends_antiseizure_treatment(kind: str) -> None:
    st = patient().observe(t(0), **icans(10, seizure=kind))
    assert "antiseizure" in acts(st) and step_of(st, "SUPPORT_ANTISEIZURE")["action"] == "antiseizure"
    none = patient().observe(t(0), **icans(10, seizure="none"))
    assert "antiseizure" not in acts(none)


# -- hypotension (§9) -----------------------------------------------------------------------------------

def test_hypotension_recommends_a_fluid_bolus() -> None:
    st = patient().observe(t(0), **HYPOTENSIVE)
    assert st["crs_grade"] == 2 and "fluid-bolus" in acts(st)
    assert supports(st) == [] and "icu-transfer" not in acts(st) and "echocardiogram" not in acts(st)


def test_no_further_bolus_until_hypotension_is_seen_again_after_it() -> None:
    d = patient()
    d.observe(t(0), **HYPOTENSIVE)
    d.act(t(0.5), "fluid-bolus")
    assert "fluid-bolus" not in acts(d.status(t(0.6)))
    assert "fluid-bolus" not in acts(d.status(t(5)))  # time alone does not ask again
    assert "fluid-bolus" in acts(d.observe(t(1), **HYPOTENSIVE))  # still hypotensive after the bolus
    normal = patient()
    normal.observe(t(0), **HYPOTENSIVE)
    normal.act(t(0.5), "fluid-bolus")
    assert "fluid-bolus" not in acts(normal.observe(t(1), **{**HYPOTENSIVE, "hypotension": False}))


def test_two_boluses_within_6h_still_hypotensive_call_for_vasopressor_icu_and_echo() -> None:
    d = patient()
    d.observe(t(0), **HYPOTENSIVE)
    d.act(t(0.5), "fluid-bolus")
    d.observe(t(1), **HYPOTENSIVE)
    d.act(t(1.5), "fluid-bolus")
    assert supports(d.status(t(1.6))) == []  # not until hypotension is seen after the second bolus
    st = d.observe(t(2), **HYPOTENSIVE)
    assert supports(st) == ["vasopressor"]
    assert step_of(st, "SUPPORT_VASOPRESSOR")["kind"] == "support"
    assert step_of(st, "SUPPORT_ICU_FLUIDS")["action"] == "icu-transfer"
    assert step_of(st, "SUPPORT_ECHO_FLUIDS")["action"] == "echocardiogram"
    assert "fluid-bolus" not in acts(st)  # fluids have failed: no third bolus


def test_boluses_exactly_6h_apart_count_and_more_than_6h_apart_do_not() -> None:
    def after_boluses(gap_h: float) -> dict[str, Any]:
        d = patient()
        d.observe(t(0), **HYPOTENSIVE)
        d.act(t(0.5), "fluid-bolus")
        d.observe(t(1), **HYPOTENSIVE)
        d.act(t(0.5 + gap_h), "fluid-bolus")
        return d.observe(t(1 + gap_h), **HYPOTENSIVE)

    within = after_boluses(6.0)
    assert supports(within) == ["vasopressor"] and "icu-transfer" in acts(within)
    apart = after_boluses(6.0 + 1 / 60)
    assert supports(apart) == [] and "fluid-bolus" in acts(apart)
    assert "icu-transfer" not in acts(apart) and "echocardiogram" not in acts(apart)


def test_a_vasopressor_running_is_not_asked_for_again() -> None:
    d = patient()
    d.observe(t(0), **HYPOTENSIVE)
    d.act(t(0.5), "fluid-bolus")
    d.act(t(1), "fluid-bolus")
    d.observe(t(1.5), **HYPOTENSIVE)
    st = d.observe(t(2), **{**HYPOTENSIVE, "hypotension": False, "vasopressors": 1})
    assert st["crs_grade"] == 3 and supports(st) == [] and "fluid-bolus" not in acts(st)
    assert "icu-transfer" in acts(st)


def test_a_new_hypotensive_run_starts_again_with_a_fluid_bolus() -> None:
    d = patient()
    d.observe(t(0), **HYPOTENSIVE)
    d.act(t(0.5), "fluid-bolus")
    d.act(t(1), "fluid-bolus")
    d.observe(t(2), **{**HYPOTENSIVE, "hypotension": False})  # resolved with fluids
    st = d.observe(t(30), **HYPOTENSIVE)  # a new episode of hypotension, a day later
    assert "fluid-bolus" in acts(st) and supports(st) == []


# -- steroids by ICANS grade and at grade 4 (§4, §5, §8) -----------------------------------------------

def test_icans_2_alone_recommends_dexamethasone_10_q6h_and_no_tocilizumab() -> None:
    st = patient().observe(t(0), **icans(5))
    (step,) = steroid_steps(st)
    assert (step["drug"], step["dose_mg"], step["every_hours"], step["route"]) == ("dexamethasone", 10.0, 6.0, "iv")
    assert "tocilizumab" not in [drug for drug, _ in gives(st)]
    assert any("tocilizumab is not indicated" in w for w in st["warnings"])


def test_icans_3_alone_is_one_step_with_alternatives() -> None:
    st = patient().observe(t(0), **icans(2))
    (step,) = steroid_steps(st)
    assert step["rule"] == "REC_STEROID_ICANS3" and "drug" not in step
    assert [(o["drug"], o["dose_mg"], o["every_hours"]) for o in step["alternatives"]] == [
        ("dexamethasone", 10.0, 6.0), ("methylprednisolone", 70.0, 12.0)]  # 1 mg/kg × 70 kg q12h
    assert "give ONE of" in step["why"]
    assert all(o["citations"] and o["text"] for o in step["alternatives"])
    assert "tocilizumab" not in [drug for drug, _ in gives(st)]


def test_icans_3_methylprednisolone_alternative_is_standard_intensity() -> None:
    d = patient()
    d.observe(t(0), **icans(2))
    assert d.give(t(0.5), "methylprednisolone", 70).to_state == "steroid"
    (step,) = steroid_steps(d.observe(t(12.5), **icans(2)))  # the course continues with the drug it started
    assert (step["drug"], step["dose_mg"], step["every_hours"]) == ("methylprednisolone", 70.0, 12.0)


def test_icans_4_alone_allows_escalated_methylprednisolone_at_once() -> None:
    d = patient()
    st = d.observe(t(0), **NO_CRS, ice_score=0, consciousness="unarousable")
    assert (st["crs_grade"], st["icans_grade"]) == (0, 4)
    (step,) = steroid_steps(st)
    assert (step["drug"], step["dose_mg"], step["rule"]) == ("methylprednisolone", 1000.0, "REC_STEROID_GRADE4")
    assert "tocilizumab" not in [drug for drug, _ in gives(st)]
    event = d.give(t(0.5), "methylprednisolone", 1000)
    assert (event.to_state, event.override) == ("escalated_steroid", None)


def test_icans_4_in_the_steroid_state_escalates_at_once() -> None:
    d = patient()
    d.observe(t(0), **icans(5))
    d.give(t(0.5), "dexamethasone", 10)
    d.observe(t(2), **NO_CRS, ice_score=0, consciousness="unarousable")
    event = d.give(t(2.5), "methylprednisolone", 1000)
    assert (event.to_state, event.override) == ("escalated_steroid", None)


def test_crs_grade_4_is_exactly_one_steroid_step() -> None:
    st = patient().observe(t(0), **GRADE4)
    (step,) = steroid_steps(st)
    assert (step["drug"], step["dose_mg"], step["rule"]) == ("methylprednisolone", 1000.0, "REC_STEROID_GRADE4")
    assert alternatives(st) == []
    assert [drug for drug, _ in gives(st)].count("dexamethasone") == 0


def test_crs_4_with_icans_3_is_still_one_steroid_step() -> None:
    st = patient().observe(t(0), temp_c=39.0, o2_device="bipap", ice_score=2, consciousness="awake")
    (step,) = steroid_steps(st)
    assert (step.get("drug"), step["rule"]) == ("methylprednisolone", "REC_STEROID_GRADE4")


def test_steroid_24h_without_improvement_is_one_alternatives_step() -> None:
    d = patient()
    d.observe(t(0), **GRADE3)
    d.give(t(0.2), "tocilizumab", 560)
    d.give(t(0.3), "dexamethasone", 10)
    st = d.observe(t(24.3), **GRADE3)
    (step,) = steroid_steps(st)
    assert step["rule"] == "REC_STEROID_ESCALATE"
    assert [(o["drug"], o["dose_mg"], o["every_hours"]) for o in step["alternatives"]] == [
        ("dexamethasone", 20.0, 6.0), ("methylprednisolone", 1000.0, 24.0)]
    assert alternatives(st) == [[("dexamethasone", 20.0), ("methylprednisolone", 1000.0)]]


def refractory_episode() -> Driver:
    """CRS 3: tocilizumab + dexamethasone, 24 h no better: methylprednisolone 1 g, 24 h no better: anakinra."""
    d = patient()
    d.observe(t(0), **GRADE3)
    d.give(t(0.2), "tocilizumab", 560)
    d.give(t(0.3), "dexamethasone", 10)
    d.observe(t(24.3), **GRADE3)
    d.give(t(24.4), "methylprednisolone", 1000)
    d.observe(t(48.4), **GRADE3)
    assert d.give(t(48.5), "anakinra", 100).to_state == "refractory"
    return d


def test_after_a_refractory_drug_the_escalated_course_and_a_repeat_tocilizumab_stay() -> None:
    d = refractory_episode()
    st = d.status(t(48.6))
    assert st["state"] == "refractory"
    (steroid,) = steroid_steps(st)
    assert (steroid["drug"], steroid["dose_mg"], steroid["rule"]) == (
        "methylprednisolone", 1000.0, "REC_STEROID_ESCALATED_CONTINUE")  # day 2 of 3
    toci = step_of(st, "REC_TOCILIZUMAB_REPEAT")
    assert (toci["drug"], toci["dose_mg"]) == ("tocilizumab", 560.0) and "dose 2 of 2" in toci["why"]
    # once given, each goes under `due` (next dose) or away (the policy's tocilizumab maximum reached)
    d.give(t(48.7), "methylprednisolone", 1000)
    d.give(t(48.8), "tocilizumab", 560)
    after = d.status(t(49))
    assert steroid_steps(after) == [] and "tocilizumab" not in [drug for drug, _ in gives(after)]
    assert any(item["what"].startswith("next dose: methylprednisolone 1000 mg") for item in after["due"])
    (day3,) = steroid_steps(d.observe(t(72.8), **GRADE3))
    assert (day3["drug"], day3["dose_mg"], day3["rule"]) == ("methylprednisolone", 1000.0,
                                                             "REC_STEROID_ESCALATED_CONTINUE")


def test_the_methylprednisolone_taper_follows_the_escalated_course() -> None:
    d = refractory_episode()
    d.give(t(48.7), "methylprednisolone", 1000)
    before = d.observe(t(24.4 + 72 - 0.1), **GRADE3)  # minutes before: the 3-day course still runs (day 3 dose)
    assert [(s["rule"], s["dose_mg"]) for s in steroid_steps(before)] == [("REC_STEROID_ESCALATED_CONTINUE", 1000.0)]
    st = d.observe(t(24.4 + 72), **GRADE3)  # escalated_course_days (3) after the first escalated dose
    (step,) = steroid_steps(st)
    assert (step["drug"], step["dose_mg"], step["every_hours"]) == ("methylprednisolone", 250.0, 12.0)
    assert "TAPER" in step["rule"]
    assert step["schedule"] == ["250 mg IV q12h × 2 days", "125 mg IV q12h × 2 days", "60 mg IV q12h × 2 days"]


def test_an_escalated_dexamethasone_capped_to_8mg_for_16kg_is_not_offered_as_escalation() -> None:
    d = patient(weight_kg=16, age_years=4)
    d.observe(t(0), temp_c=39.0, o2_device="hfnc", o2_flow_lpm=10, capd_score=4, consciousness="awake")
    d.give(t(0.2), "tocilizumab", 192)  # 12 mg/kg under 30 kg
    d.give(t(0.3), "dexamethasone", 8)  # 0.5 mg/kg
    st = d.observe(t(24.3), temp_c=39.0, o2_device="hfnc", o2_flow_lpm=10, capd_score=4, consciousness="awake")
    (step,) = steroid_steps(st)
    assert (step.get("drug"), step.get("dose_mg"), step["rule"]) == ("methylprednisolone", 480.0,
                                                                     "REC_STEROID_ESCALATE")
    assert "alternatives" not in step
    assert ("dexamethasone", 8.0) not in gives(st) and ("dexamethasone", 20.0) not in gives(st)
    # and 8 mg dexamethasone is standard intensity: it would not escalate
    assert d.give(t(24.4), "dexamethasone", 8).to_state == "steroid"


def test_tocilizumab_is_never_recommended_for_icans_without_crs() -> None:
    for ice in (8, 5, 2, 0):
        st = patient().observe(t(0), **icans(ice))
        assert "tocilizumab" not in [drug for drug, _ in gives(st)], ice
    d = patient()
    d.observe(t(0), **icans(2))
    with pytest.raises(Refused) as err:
        d.give(t(0.5), "tocilizumab", 560)
    assert err.value.rule == "TOCI_INDICATION"


# -- findings: an input not recorded on the latest observation is read as normal --------------------------

def test_antiseizure_stays_recommended_when_the_next_observation_does_not_record_seizure() -> None:
    d = patient()
    assert "antiseizure" in acts(d.observe(t(0), **icans(10, seizure="brief")))
    st = d.observe(t(1), **NO_CRS)  # CRS reassessed; seizure not assessed (neither 'none' nor 'brief')
    assert "icu-transfer" in acts(st)  # ICANS 3 (from the seizure) still stands
    assert "antiseizure" in acts(st)


def test_fever_actions_stay_when_the_next_observation_does_not_record_a_temperature() -> None:
    d = patient()
    assert {"infection-workup", "antibiotics"} <= set(acts(d.observe(t(0), temp_c=39.0, o2_device="room-air",
                                                                     **NEURO_OK)))
    st = d.observe(t(1), **NEURO_OK)  # neuro check only: temperature not recorded
    assert {"infection-workup", "antibiotics"} <= set(acts(st))


def test_fever_actions_go_once_an_afebrile_temperature_is_recorded() -> None:
    d = patient()
    d.observe(t(0), temp_c=39.0, o2_device="room-air", **NEURO_OK)
    assert not {"infection-workup", "antibiotics"} & set(acts(d.observe(t(1), temp_c=37.0, o2_device="room-air",
                                                                        **NEURO_OK)))
