"""What `crs status` shows, exactly as a nurse reads it: the due list with each timer's rule, the give steps
with their keys and sentences, the assess step, the warnings (pathway/recommend.py; issue 12: these survived a
mutation run).

The times are worked from the clinical rules by hand (docs/CLINICAL.md §3, §4, §7): a repeat tocilizumab
dose 8 h after the last, dexamethasone every 6 h, escalation 24 h after the standard steroid started,
reassessment every 4 h while CRS is grade 2 or more. T0 is 2026-03-01 12:00 UTC (tests/scenarios/driver.py).
"""

from typing import Any

import pytest

from pathway.dosing import regimen, steroid_intensity, steroid_per_kg_ceiling_mg
from pathway.drugs import Drug
from pathway.episode import apply
from pathway.events import Event
from pathway.policy import Policy
from pathway.recommend import status, timer_at
from states.spec import TimedGuard
from tests.scenarios.driver import Driver, t

NEURO_OK = {"ice_score": 10, "consciousness": "awake"}
GRADE2 = {"temp_c": 38.6, "o2_device": "nasal-cannula", "o2_flow_lpm": 3, **NEURO_OK}
GRADE3 = {"temp_c": 39.0, "o2_device": "hfnc", "o2_flow_lpm": 30, **NEURO_OK}
GRADE4 = {"temp_c": 39.0, "o2_device": "bipap", **NEURO_OK}
REASSESS_CRS = "reassess CRS (temperature and oxygen support)"
REASSESS_ICANS = "neuro assessment (ICE or CAPD, and consciousness)"
TOCI_TEXT = "tocilizumab 560 mg IV over 1 h (8 mg/kg)"
TOCI_CITES = ["LABEL-TOCI", "NCCN-2026", "ASCO-2021"]


def patient(weight_kg: float = 70, age_years: float = 50, policy: Policy | None = None) -> Driver:
    d = Driver()
    d.open(t(0), patient_ref="P-R", weight_kg=weight_kg, age_years=age_years,
           **({"policy": policy} if policy else {}))
    return d


def item(what: str, hours: float, overdue: bool = False, rule: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"what": what, "at": t(hours).strftime("%Y-%m-%dT%H:%M:%SZ"), "overdue": overdue}
    if rule:
        out["rule"] = rule
    return out


def steps(st: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [s for s in st["next_steps"] if s["kind"] == kind]


# -- the due list: each timer, when, and the rule that holds the step back -------------------------------------

def toci_then_dexamethasone() -> Driver:
    """CRS 2 at 1 h, tocilizumab at 1.5 h; CRS 3 at 3 h, standard dexamethasone at 3.2 h (the steroid state)."""
    d = patient()
    d.observe(t(1), **GRADE2)
    d.give(t(1.5), "tocilizumab", 560)
    d.observe(t(3), **GRADE3)
    d.give(t(3.2), "dexamethasone", 10)
    return d


def test_the_due_list_names_every_timer_with_its_time_and_rule() -> None:
    """At 4 h: reassess at 7 h (4 h after CRS 3; deadlines carry no rule), the next dexamethasone at 9.2 h (every
    6 h, held by the course rule), a repeat tocilizumab allowed at 9.5 h (8 h; its timer and the held dose, both
    TOCI_MIN_INTERVAL), escalation due at 27.2 h (24 h after the standard steroid, ESCALATION_ORDER)."""
    st = toci_then_dexamethasone().status(t(4))
    assert st["due"] == [
        item(REASSESS_CRS, 7), item(REASSESS_ICANS, 7),
        item("next dose: dexamethasone 10 mg IV every 6 h for 1–3 days", 9.2, rule="REC_STEROID_CONTINUE"),
        item("a repeat tocilizumab dose becomes allowed", 9.5, rule="TOCI_MIN_INTERVAL"),
        item(f"{TOCI_TEXT} allowed (TOCI_MIN_INTERVAL)", 9.5, rule="TOCI_MIN_INTERVAL"),
        item("escalated steroid becomes due if there is no improvement", 27.2, rule="ESCALATION_ORDER"),
    ]
    assert steps(st, "give") == []  # everything is held: nothing to give now


def test_a_timer_leaves_the_due_list_the_moment_it_is_reached_and_deadlines_stay_overdue() -> None:
    """At 9.5 h exactly the repeat dose is allowed (no longer due); the reassessment of 7 h stays, overdue."""
    st = toci_then_dexamethasone().status(t(9.5))
    whats = [d["what"] for d in st["due"]]
    assert "a repeat tocilizumab dose becomes allowed" not in whats
    assert st["due"][:2] == [item(REASSESS_CRS, 7, overdue=True), item(REASSESS_ICANS, 7, overdue=True)]
    assert whats[-1] == "escalated steroid becomes due if there is no improvement"


def test_after_the_policy_s_tocilizumab_doses_no_repeat_timer_but_the_deadlines_remain() -> None:
    """Two doses (the default policy's maximum): no repeat timer after the second, the reassessment still due."""
    d = patient()
    d.observe(t(1), **GRADE2)
    d.give(t(1), "tocilizumab", 560)
    d.observe(t(9), **GRADE2)
    d.give(t(9), "tocilizumab", 560)
    st = d.status(t(10))
    assert st["due"] == [item(REASSESS_CRS, 13), item(REASSESS_ICANS, 13)]


def test_a_dose_held_by_two_hard_timed_rules_names_both() -> None:
    """A site allowing 4 doses: doses at 1, 9 and 17 h; at 24 h a fourth is held by the 8 h interval AND the hard
    3-in-24-h limit, both clearing at 25 h."""
    d = patient(policy=Policy(toci_max_doses_episode=4))
    d.observe(t(0.5), **GRADE3)
    for h in (1, 9, 17):
        d.give(t(h), "tocilizumab", 560)
    d.observe(t(23.5), **GRADE3)
    held = [x for x in d.status(t(24))["due"] if x["what"].startswith(TOCI_TEXT)]
    assert held == [item(f"{TOCI_TEXT} allowed (TOCI_MIN_INTERVAL, TOCI_MAX_DOSES)", 25, rule="TOCI_MIN_INTERVAL")]


def test_a_timer_with_an_unknown_start_is_an_error_that_names_it() -> None:
    ep = patient().episode
    assert ep is not None
    with pytest.raises(KeyError, match="first_moon"):
        timer_at(TimedGuard("x", "first_moon", "toci_min_interval_h", "x"), ep)


# -- give steps: the keys of the contract and the sentences ------------------------------------------------------

def test_a_single_give_step_has_the_contract_s_keys_and_counts_tocilizumab_doses() -> None:
    d = patient()
    st = d.observe(t(1), **GRADE2)
    assert steps(st, "give") == [{
        "kind": "give", "drug": "tocilizumab", "dose_mg": 560.0, "route": "iv", "every_hours": None,
        "citations": ["ASTCT-2019", "NCCN-2026", "ASCO-2021", "LABEL-TOCI"],
        "why": "CRS grade 2 or more, or persistent grade-1 fever (never for ICANS alone): "
               f"{TOCI_TEXT}; dose 1 of 2 allowed",
        "rule": "REC_TOCILIZUMAB",
    }]


def test_exclusive_options_are_one_step_that_says_give_one_of_them() -> None:
    """ICANS 3 (ICE 2) without CRS: dexamethasone 10 mg q6h OR methylprednisolone 1 mg/kg q12h, one step (§8)."""
    st = patient().observe(t(1), temp_c=37.0, o2_device="room-air", ice_score=2, consciousness="awake")
    dex = "dexamethasone 10 mg IV every 6 h for 1–3 days"
    mp = "methylprednisolone 70 mg IV every 12 h (1 mg/kg)"
    assert steps(st, "give") == [{
        "kind": "give",
        "alternatives": [
            {"drug": "dexamethasone", "dose_mg": 10.0, "route": "iv", "every_hours": 6.0, "text": dex,
             "citations": ["CARTOX-2018", "ASCO-2021"]},
            {"drug": "methylprednisolone", "dose_mg": 70.0, "route": "iv", "every_hours": 12.0, "text": mp,
             "citations": ["ASCO-2021", "NCI-2016"]},
        ],
        "why": "ICANS grade 3: dexamethasone every 6 h, or methylprednisolone 1 mg/kg every 12 h: give ONE of "
               f"{dex} or {mp}",
        "rule": "REC_STEROID_ICANS3",
        "citations": ["ASCO-2021", "CARTOX-2018", "NCI-2016"],
    }]


def test_refractory_therapy_and_a_repeat_tocilizumab_are_different_classes_both_shown() -> None:
    """Escalated steroid 24 h without improvement, one tocilizumab dose 48 h ago: refractory therapy (anakinra or
    siltuximab) and a repeat tocilizumab are both next steps: one step per class, and they are two classes."""
    d = patient()
    d.observe(t(1), **GRADE3)
    d.give(t(1.5), "tocilizumab", 560)
    d.give(t(2), "dexamethasone", 10)
    d.observe(t(26), **GRADE3)
    d.give(t(26), "dexamethasone", 20)
    d.observe(t(50), **GRADE3)
    rules = [s["rule"] for s in steps(d.status(t(50.1)), "give")]
    assert "REC_REFRACTORY" in rules and "REC_TOCILIZUMAB_REPEAT" in rules


def test_a_dose_of_exactly_0_1_mg_is_shown_and_below_it_no_figure_is() -> None:
    """A site's per-kg ceiling at a 0.5 kg weight: 0.2 mg/kg dexamethasone is 0.1 mg, the smallest recordable dose
    (shown with its figure); 0.1 mg/kg floors to 0 mg: shown without a figure, never dropped."""
    icans2 = {"temp_c": 37.0, "o2_device": "room-air", "capd_score": 5, "consciousness": "voice"}  # ICANS 2
    shown = patient(0.5, 0.1, Policy(dexamethasone_max_mg_per_kg_dose=0.2)).observe(t(1), **icans2)
    (give,) = steps(shown, "give")
    assert (give["drug"], give["dose_mg"]) == ("dexamethasone", 0.1)
    below = patient(0.5, 0.1, Policy(dexamethasone_max_mg_per_kg_dose=0.1)).observe(t(1), **icans2)
    (give,) = steps(below, "give")
    assert (give["drug"], give["dose_mg"]) == ("dexamethasone", None)
    assert give["why"].endswith(
        "dexamethasone 0 mg IV every 6 h for 1–3 days (capped at 0 mg for 0.5 kg by the per-kg ceiling): below the "
        "smallest recordable dose (0.1 mg) at this weight, dose per local protocol")


# -- the assess step: what is missing, why, and how urgent ---------------------------------------------------------

def assess_of(st: dict[str, Any]) -> dict[str, Any]:
    (step,) = steps(st, "assess")
    return step


def test_no_assessment_yet_asks_for_everything_first() -> None:
    st = patient().status(t(0.5))
    assert st["next_steps"][0] == {
        "kind": "assess", "missing": ["temp_c", "o2_device", "ice_score", "consciousness"],
        "why": "no assessment recorded: the first assessment is due at the episode's opening; record temperature "
               "(--temp), oxygen support (--o2, room-air counts), ICE score (--ice), level of consciousness "
               "(--consciousness)",
        "rule": "ASSESS", "citations": ["ASTCT-2019"]}


@pytest.mark.parametrize(("obs", "missing", "why"), [
    ({"o2_device": "nasal-cannula", "o2_flow_lpm": 2, **NEURO_OK}, ["temp_c"],
     "oxygen above room air without a temperature: measure the temperature now (never reassuring); record "
     "temperature (--temp)"),
    ({"o2_device": "room-air", **NEURO_OK}, ["temp_c"],
     "assessment incomplete: a grade not assessed is never normal; record temperature (--temp)"),
    ({"temp_c": 39.0, "o2_device": "hfnc", "o2_flow_lpm": 30}, ["ice_score", "consciousness"],
     "assessment incomplete: a grade not assessed is never normal; record ICE score (--ice), level of "
     "consciousness (--consciousness)"),
    ({"o2_device": "room-air", "ice_score": 5, "consciousness": "awake"}, ["temp_c"],  # ICANS 2, CRS not assessed
     "assessment incomplete: a grade not assessed is never normal; record temperature (--temp)"),
])
def test_a_grade_not_assessed_is_asked_for_before_anything_else(obs: dict[str, Any], missing: list[str],
                                                                 why: str) -> None:
    st = patient().observe(t(1), **obs)
    assert st["next_steps"][0] == {"kind": "assess", "missing": missing, "why": why, "rule": "ASSESS",
                                   "citations": ["ASTCT-2019"]}


def test_a_partly_complete_assessment_is_asked_for_after_the_care_steps_and_before_reassessment() -> None:
    """Fever on room air (CRS 1) and awake without an ICE score (ICANS 0, partly assessed): both grades stand, so
    the missing ICE score is not urgent: after the fever's work-up, before the reassessment."""
    st = patient().observe(t(1), temp_c=38.5, o2_device="room-air", consciousness="awake")
    assert [s.get("rule") for s in st["next_steps"]] == [
        "SUPPORT_INFECTION_WORKUP", "SUPPORT_ANTIBIOTICS", "ASSESS", "REASSESS"]
    assert assess_of(st)["why"] == "assessment partly complete: resolution needs every item; record ICE score (--ice)"


def v1_blank_observation() -> Event:
    """An observation as the pathway before issue 9 recorded it (tests/fixtures/crs-pathway-v1.db, seq 2): nothing
    recorded, graded 0 / 0, and a basis with no "missing" list (that pathway had none)."""
    return Event(episode_id="E0001", seq=2, kind="observe", at=t(1), recorded_at=t(1), actor="nurse-v1",
                 from_state="assessment", to_state="assessment", data={
                     "crs_basis": {"citations": ["ASTCT-2019"], "decided_by": ["temperature not recorded"],
                                   "fever": None, "grade": 0,
                                   "notes": ["temperature not recorded: CRS cannot be called without fever"]},
                     "crs_grade": 0,
                     "icans_basis": {"citations": ["ASTCT-2019"], "decided_by": ["not assessed"], "fever": None,
                                     "grade": 0, "notes": ["neither ICE score nor consciousness recorded: ICANS "
                                                           "not fully assessed"]},
                     "icans_grade": 0, "observation": {}})


def test_an_observation_recorded_by_an_earlier_pathway_is_read_as_recorded() -> None:
    """Its basis has no "missing" list: nothing to ask for from it, and the status still answers (H23: the past is
    folded as it was decided, never re-interpreted or refused)."""
    d = patient()
    ep = apply(d.episode, v1_blank_observation())
    st = status(ep, t(1.5))
    assert steps(st, "assess") == [] and (st["crs_grade"], st["icans_grade"]) == (0, 0)
    assert st["warnings"] == ["temperature not recorded: CRS cannot be called without fever",
                              "neither ICE score nor consciousness recorded: ICANS not fully assessed"]


# -- warnings ---------------------------------------------------------------------------------------------------

def test_a_domain_not_assessed_on_the_latest_observation_warns_with_the_grade_still_read() -> None:
    d = patient()
    d.observe(t(1), **GRADE3)
    st = d.observe(t(2), o2_device="hfnc", o2_flow_lpm=30, **NEURO_OK)  # no temperature: CRS not assessed
    assert ("CRS not assessed on the latest observation: the pathway still reads the last assessed CRS grade 3 "
            "(seq 2, 2026-03-01T13:00:00Z)") in st["warnings"]


# -- recommended doses: to the tenth of a mg, at the age and weight boundaries ------------------------------------

def regimen_for(name: str, weight_kg: float, age_years: float, policy: Policy | None = None) -> Any:
    ep = patient(weight_kg, age_years, policy).episode
    assert ep is not None
    return regimen(name, ep)


@pytest.mark.parametrize(("name", "weight_kg", "age_years", "dose_mg", "text"), [
    ("tocilizumab", 70.33, 50, 562.6, "tocilizumab 562.6 mg IV over 1 h (8 mg/kg)"),  # 562.64
    ("siltuximab", 70.33, 50, 773.6, "siltuximab 773.6 mg IV once (11 mg/kg)"),  # 773.63
    ("anakinra", 20.33, 10, 40.7, "anakinra 40.7 mg IV/SC every 6 h (2 mg/kg)"),  # 40.66
    ("anakinra", 40, 18, 100.0, "anakinra 100 mg IV/SC every 6 h (adult)"),  # 18 years: the adult dose
    ("anakinra", 40, 17.9, 80.0, "anakinra 80 mg IV/SC every 6 h (2 mg/kg)"),  # just under 18: 2 mg/kg
])
def test_a_weight_based_dose_is_given_to_the_tenth_of_a_mg(name: str, weight_kg: float, age_years: float,
                                                          dose_mg: float, text: str) -> None:
    reg = regimen_for(name, weight_kg, age_years)
    assert (reg.dose_mg, reg.text) == (dose_mg, text)


def test_a_pulse_given_less_often_than_daily_is_still_capped_at_one_day_s_ceiling() -> None:
    """A site giving the methylprednisolone pulse every 24.5 h: a 20 kg child's pulse is capped at 30 mg/kg a day
    = 600 mg (not 600 × 24.5/24); every 12 h it is half a day's, 300 mg."""
    assert regimen_for("methylprednisolone_escalated", 20, 8,
                       Policy(methylprednisolone_escalated_every_h=24.5)).dose_mg == 600.0
    assert regimen_for("methylprednisolone_escalated", 20, 8,
                       Policy(methylprednisolone_escalated_every_h=12)).dose_mg == 300.0


@pytest.mark.parametrize("fn", [lambda: steroid_intensity(Drug.ANAKINRA, 100, 70, Policy()),
                                lambda: steroid_per_kg_ceiling_mg(Drug.ANAKINRA, 70, Policy())])
def test_a_drug_that_is_not_a_corticosteroid_has_no_steroid_intensity_or_ceiling(fn: Any) -> None:
    with pytest.raises(ValueError, match="^anakinra is not a corticosteroid$"):
        fn()


def test_the_taper_follows_the_steroid_last_given_not_a_later_drug() -> None:
    """Dexamethasone at CRS 3, then tocilizumab; CRS 1: the dexamethasone taper (a later tocilizumab dose is not
    the steroid a taper continues)."""
    d = patient()
    d.observe(t(1), **GRADE3)
    d.give(t(1.5), "dexamethasone", 10)
    d.give(t(2), "tocilizumab", 560)
    d.observe(t(8), temp_c=38.5, o2_device="room-air", **NEURO_OK)  # CRS 1
    rules = [s["rule"] for s in steps(d.status(t(8.1)), "give")]
    assert "REC_STEROID_TAPER_DEXAMETHASONE" in rules


# -- the whole status object (CONTRACT.md `crs status`), worked by hand for one case ------------------------------

DISCLAIMER = ("Decision support only: every recommendation must be reviewed by the treating clinician; this tool "
              "does not replace clinical judgement.")


def iso_h(hours: float) -> str:
    return t(hours).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_the_status_after_a_first_tocilizumab_dose_field_by_field() -> None:
    """CRS 2 at 1 h (fever, nasal cannula 3 L/min; ICE 10, awake: ICANS 0), tocilizumab 560 mg at 1.5 h; status
    at 2 h: the fever and CRS-2 care steps, reassessment at 5 h (4 h), the repeat dose allowed at 9.5 h (8 h)."""
    d = patient()
    d.observe(t(1), **GRADE2)
    d.give(t(1.5), "tocilizumab", 560)
    assert d.status(t(2)) == {
        "episode": "E0001", "patient": "P-R", "state": "tocilizumab", "crs_grade": 2, "icans_grade": 0,
        "next_steps": [
            {"kind": "act", "action": "infection-workup", "why": "fever: infection work-up (blood cultures, urine, "
             "chest X-ray)", "rule": "SUPPORT_INFECTION_WORKUP", "citations": ["ASCO-2021"]},
            {"kind": "act", "action": "antibiotics", "why": "fever: broad-spectrum antibiotics if neutropenic",
             "rule": "SUPPORT_ANTIBIOTICS", "citations": ["ASCO-2021"]},
            {"kind": "act", "action": "telemetry", "why": "CRS grade 2 or more: continuous cardiac telemetry and "
             "pulse oximetry", "rule": "SUPPORT_TELEMETRY", "citations": ["ASCO-2021"]},
            {"kind": "act", "action": "labs", "why": "CRS grade 2 or more: daily labs (CBC, CMP, Mg, phosphate, CRP, "
             "LDH, ferritin, fibrinogen, PT/PTT)", "rule": "SUPPORT_LABS", "citations": ["ASCO-2021"]},
            {"kind": "reassess", "at": iso_h(5), "overdue": False,
             "why": "reassess every 4 h (CRS grade 2 or more; site policy; NCCN asks neuro assessment at least twice "
                    "daily)", "rule": "REASSESS", "citations": ["NCCN-2026", "ASCO-2021"]},
        ],
        "due": [item(REASSESS_CRS, 5), item(REASSESS_ICANS, 5),
                item("a repeat tocilizumab dose becomes allowed", 9.5, rule="TOCI_MIN_INTERVAL"),
                item(f"{TOCI_TEXT} allowed (TOCI_MIN_INTERVAL)", 9.5, rule="TOCI_MIN_INTERVAL")],
        "basis": {
            "observed_at": iso_h(1), "seq": 2,
            "inputs": {"temp_c": 38.6, "o2_device": "nasal-cannula", "o2_flow_lpm": 3.0, "ice_score": 10,
                       "consciousness": "awake"},
            "crs": {"grade": 2, "decided_by": ["o2=nasal-cannula at 3 L/min"], "notes": [], "fever": True,
                    "missing": [], "citations": ["ASTCT-2019"]},
            "icans": {"grade": 0, "decided_by": ["no neurological finding"], "notes": [], "fever": None,
                      "missing": [], "citations": ["ASTCT-2019"]},
            "last_assessed": {"crs": {"grade": 2, "at": iso_h(1), "seq": 2},
                              "icans": {"grade": 0, "at": iso_h(1), "seq": 2}},
        },
        "warnings": [],
        "tocilizumab_doses": 1, "tocilizumab_max_doses": 2, "next_tocilizumab_at": iso_h(9.5),
        "resolution_criteria_at": None, "deviations": 0, "corrections": 0,
        "policy": {"name": "default", "version": "1"}, "weight_kg": 70.0, "age_years": 50.0, "icans_screen": "ice",
        "version": 3, "opened_at": iso_h(0), "last_event_at": iso_h(1.5), "as_of": iso_h(2),
        "disclaimer": DISCLAIMER,
    }


def test_the_status_before_any_observation_has_no_basis_and_says_why() -> None:
    st = patient().status(t(0.5))
    assert (st["basis"], st["crs_grade"], st["icans_grade"], st["next_tocilizumab_at"]) == (None, None, None, None)
    assert st["warnings"] == ["no observation recorded yet: grades and recommendations need a bedside assessment"]
    assert st["next_steps"][-1] == {
        "kind": "reassess", "at": iso_h(0), "overdue": True,
        "why": "CRS and ICANS (neuro assessment) never assessed: due since the episode opened; reassess every 12 h "
               "(CRS below grade 2 and no ICANS; site policy; NCCN asks neuro assessment at least twice daily)",
        "rule": "REASSESS", "citations": ["NCCN-2026", "ASCO-2021"]}


@pytest.mark.parametrize(("obs", "why"), [
    ({"o2_device": "room-air", "ice_score": 8, "consciousness": "awake"},  # CRS never assessed, ICANS 1
     "CRS never assessed: due since the episode opened; reassess every 8 h (ICANS grade 1 or more; site policy; NCCN "
     "asks neuro assessment at least twice daily)"),
    ({"temp_c": 37.0, "o2_device": "room-air"},  # CRS 0, ICANS never assessed
     "ICANS (neuro assessment) never assessed: due since the episode opened; reassess every 12 h (CRS below grade 2 "
     "and no ICANS; site policy; NCCN asks neuro assessment at least twice daily)"),
    (GRADE2, "reassess every 4 h (CRS grade 2 or more; site policy; NCCN asks neuro assessment at least twice "
             "daily)"),
])
def test_the_reassessment_step_says_what_was_never_assessed_and_why_its_interval(obs: dict[str, Any],
                                                                                 why: str) -> None:
    (reassess,) = steps(patient().observe(t(1), **obs), "reassess")
    assert reassess["why"] == why


# -- warnings, each in its words --------------------------------------------------------------------------------

def test_icans_not_assessed_on_the_latest_observation_warns_with_the_grade_still_read() -> None:
    d = patient()
    d.observe(t(1), temp_c=37.0, o2_device="room-air", ice_score=5, consciousness="awake")  # ICANS 2
    st = d.observe(t(2), temp_c=37.0, o2_device="room-air")
    assert st["warnings"] == [
        "ICANS not assessed: neither ICE score nor consciousness recorded",
        "ICANS not assessed on the latest observation: the pathway still reads the last assessed ICANS grade 2 "
        "(seq 2, 2026-03-01T13:00:00Z)",
        "ICANS without CRS: tocilizumab is not indicated; corticosteroids are the mainstay"]


@pytest.mark.parametrize(("obs", "warnings"), [
    ({"temp_c": 37.0, "o2_device": "room-air", **NEURO_OK}, []),  # all assessed, all 0: nothing to warn of
    ({"temp_c": 37.0, "o2_device": "room-air", "ice_score": 8, "consciousness": "awake"},  # ICANS 1, CRS 0
     ["ICANS without CRS: tocilizumab is not indicated; corticosteroids are the mainstay"]),
    ({"temp_c": 37.0, "o2_device": "room-air", "consciousness": "awake"},  # an ICANS note (no ICE score)
     ["ICANS partly assessed: ICE score not recorded (needed for resolution)"]),
])
def test_warnings_name_icans_without_crs_and_the_grading_notes(obs: dict[str, Any], warnings: list[str]) -> None:
    assert patient().observe(t(1), **obs)["warnings"] == warnings


def test_a_deviation_on_record_is_a_warning_that_points_to_the_audit_report() -> None:
    d = patient()
    d.observe(t(1), **GRADE2)
    d.give(t(1.5), "dexamethasone", 10, override="consultant: early steroid")
    assert d.status(t(2))["warnings"] == ["1 deviation(s) on record: see `crs audit report`"]


def test_a_resolved_episode_shows_the_taper_and_no_supportive_care() -> None:
    """Resolved after dexamethasone: the taper and the reassessment; the antifungal prophylaxis a steroid calls for
    while the episode is open is no longer a next step."""
    d = patient()
    d.observe(t(1), **GRADE3)
    d.give(t(1.5), "dexamethasone", 10)
    open_steps = [s["rule"] for s in d.status(t(1.6))["next_steps"]]
    assert "SUPPORT_ANTIFUNGAL" in open_steps
    zero = {"temp_c": 36.8, "o2_device": "room-air", **NEURO_OK}
    for h in (2, 14, 26):
        d.observe(t(h), **zero)
    d.resolve(t(26))
    assert [s["rule"] for s in d.status(t(26.1))["next_steps"]] == ["REC_TAPER_DEXAMETHASONE", "REASSESS"]


# -- which steroid a course continues with, and a regimen offered only at the intensity it stands for -------------

def steroid_offer(st: dict[str, Any]) -> list[tuple[str, str | None, float | None]]:
    """(rule, drug, dose) of each steroid step; an alternatives step lists no single drug."""
    return [(s["rule"], s.get("drug"), s.get("dose_mg")) for s in st["next_steps"] if s["kind"] == "give"
            and s["rule"].startswith("REC_STEROID")]


def test_an_escalated_dexamethasone_course_continues_with_dexamethasone_20_mg() -> None:
    """CRS 4: escalated dexamethasone 20 mg at 1 h; at 7.5 h, still grade 3, its course continues: 20 mg q6h."""
    d = patient()
    d.observe(t(1), **GRADE4)
    d.give(t(1), "dexamethasone", 20)
    d.observe(t(7.5), **GRADE3)
    assert steroid_offer(d.status(t(7.5))) == [("REC_STEROID_ESCALATED_CONTINUE", "dexamethasone", 20.0)]


def test_an_escalated_methylprednisolone_course_continues_with_it_after_a_standard_dexamethasone_dose() -> None:
    """The escalated course continues with the drug it started with (the last *escalated* steroid), not the last
    steroid of any kind: methylprednisolone 1000 mg at 1 h, dexamethasone 10 mg at 5 h; at 25 h, 1000 mg."""
    d = patient()
    d.observe(t(1), **GRADE4)
    d.give(t(1), "methylprednisolone", 1000)
    d.give(t(5), "dexamethasone", 10)
    d.observe(t(25), **GRADE3)
    assert steroid_offer(d.status(t(25.1))) == [("REC_STEROID_ESCALATED_CONTINUE", "methylprednisolone", 1000.0)]


def test_a_standard_course_opened_by_an_out_of_order_pulse_continues_with_standard_dexamethasone() -> None:
    """A methylprednisolone pulse given at CRS 3 by override opens the standard phase; the standard course it
    continues has no standard steroid yet, so it is dexamethasone 10 mg (not a methylprednisolone dose)."""
    d = patient()
    d.observe(t(1), **GRADE3)
    assert d.give(t(1), "methylprednisolone", 1000, override="consultant").to_state == "steroid"
    d.observe(t(13), **GRADE3)
    assert steroid_offer(d.status(t(14))) == [("REC_STEROID_CONTINUE", "dexamethasone", 10.0)]


def test_a_site_pulse_that_is_a_standard_dose_is_not_offered_as_the_grade_4_pulse() -> None:
    """A site's methylprednisolone "pulse" of 100 mg is, at 70 kg (under 2 mg/kg), a standard dose: at CRS 4 it is
    not offered as the escalated therapy it stands for; standard dexamethasone is (CRS 3 or more)."""
    d = patient(policy=Policy(methylprednisolone_escalated_mg=100))
    assert steroid_offer(d.observe(t(1), **GRADE4)) == [("REC_STEROID_STANDARD", "dexamethasone", 10.0)]


def test_a_site_icans_3_methylprednisolone_above_2_mg_per_kg_is_not_offered_as_the_standard_option() -> None:
    """ICANS 3 offers methylprednisolone 1 mg/kg as a *standard* option; a site's 3 mg/kg would be an escalated dose
    (above 2 mg/kg), so only dexamethasone is offered."""
    d = patient(policy=Policy(icans3_methylprednisolone_mg_per_kg=3))
    st = d.observe(t(1), temp_c=37.0, o2_device="room-air", ice_score=2, consciousness="awake")
    assert steroid_offer(st) == [("REC_STEROID_ICANS3", "dexamethasone", 10.0)]


def test_the_reassessment_is_due_at_the_earlier_of_the_crs_and_icans_deadlines() -> None:
    """CRS last assessed at 1 h, ICANS at 3 h (a neuro check alone): CRS is due first, at 13 h (every 12 h)."""
    d = patient()
    d.observe(t(1), temp_c=37.0, o2_device="room-air", **NEURO_OK)
    st = d.observe(t(3), **NEURO_OK)
    (reassess,) = steps(st, "reassess")
    assert reassess["at"] == iso_h(13)
    assert st["due"][:2] == [item(REASSESS_CRS, 13), item(REASSESS_ICANS, 15)]


def test_a_standard_course_beside_a_refractory_drug_is_never_continued_at_an_escalated_dose() -> None:
    """Methylprednisolone 140 mg (2 mg/kg, standard) then anakinra: the standard course continues beside it as
    1 mg/kg q12h (70 mg). Under a site's 3 mg/kg for that regimen the dose (210 mg) would be escalated, and the
    refractory state asks no ESCALATION_ORDER: it must not be offered as the *standard* course."""
    def course(policy: Policy | None) -> list[tuple[str, str | None, float | None]]:
        d = patient(policy=policy)
        d.observe(t(1), **GRADE3)
        d.give(t(1.5), "tocilizumab", 560)
        d.give(t(2), "methylprednisolone", 140)
        assert d.give(t(3), "anakinra", 100).to_state == "refractory"
        d.observe(t(14), **GRADE3)
        return steroid_offer(d.status(t(14.1)))

    assert course(None) == [("REC_STEROID_STANDARD_CONTINUE", "methylprednisolone", 70.0)]
    assert ("REC_STEROID_STANDARD_CONTINUE", "methylprednisolone", 210.0) not in course(
        Policy(icans3_methylprednisolone_mg_per_kg=3))
