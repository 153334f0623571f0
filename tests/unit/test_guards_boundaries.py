"""The rule checks and pathway conditions of pathway/guards.py at their boundaries, each on both sides, with
the sentences a clinician reads when a step is refused (issue 12: these survived a mutation run).

The figures are the clinical ones (docs/CLINICAL.md) or the default policy's (pathway/policy.py); the
sentences are those of each rule (pathway/rules.py) as the refusal prints them. Episodes are built step by step
with the pure core (tests/scenarios/driver.py): decide + fold, no store.
"""

from datetime import timedelta
from typing import Any

import pytest

from pathway.commands import AdministerDose, Close, RecordAction, RecordObservation, Resolve
from pathway.drugs import Drug
from pathway.episode import Episode
from pathway.errors import Refused, Violation
from pathway.guards import CHECKS, CONDITIONS, Context
from pathway.machine import decide
from pathway.observations import Observation
from pathway.policy import Policy
from tests.scenarios.driver import Driver, t

NEURO_OK = {"ice_score": 10, "consciousness": "awake"}
ZERO = {"temp_c": 36.8, "o2_device": "room-air", **NEURO_OK}  # CRS 0 and ICANS 0, each fully assessed
GRADE1 = {"temp_c": 38.5, "o2_device": "room-air", **NEURO_OK}
GRADE2 = {"temp_c": 38.6, "o2_device": "nasal-cannula", "o2_flow_lpm": 3, **NEURO_OK}
GRADE3 = {"temp_c": 39.0, "o2_device": "hfnc", "o2_flow_lpm": 30, **NEURO_OK}
GRADE4 = {"temp_c": 39.0, "o2_device": "bipap", **NEURO_OK}
PREFIX = "resolution criteria do not hold: "


def patient(weight_kg: float = 70, age_years: float = 50, policy: Policy | None = None) -> Driver:
    d = Driver()
    d.open(t(0), patient_ref="P-G", weight_kg=weight_kg, age_years=age_years,
           **({"policy": policy} if policy else {}))
    return d


def refusal(fn, *args, **kwargs) -> Refused:  # type: ignore[no-untyped-def]
    with pytest.raises(Refused) as err:
        fn(*args, **kwargs)
    return err.value


def violation(err: Refused, rule: str) -> Violation:
    (found,) = [v for v in err.violations if v.rule == rule]
    return found


def rules_of(st: dict[str, Any]) -> list[str]:
    return [s["rule"] for s in st["next_steps"]]


def due_whats(st: dict[str, Any]) -> list[str]:
    return [d["what"] for d in st["due"]]


# -- RESOLVE_CRITERIA: each reason a resolve is refused, in the words the clinician reads ---------------------

def test_resolve_with_no_observation_names_that_and_no_time() -> None:
    err = refusal(patient().resolve, t(1))
    v = violation(err, "RESOLVE_CRITERIA")
    assert (v.message, v.overridable, v.earliest_at) == (PREFIX + "no observation on record", True, None)


@pytest.mark.parametrize(("obs", "grades"), [
    (GRADE1, "latest grades are CRS 1, ICANS 0"),
    ({"o2_device": "room-air", "ice_score": 5, "consciousness": "awake"}, "latest grades are CRS not assessed, ICANS 2"),
    ({"temp_c": 36.8, "o2_device": "room-air"}, "latest grades are CRS 0, ICANS not assessed"),
    ({"temp_c": 36.8, "o2_device": "room-air", "consciousness": "awake"},  # ICANS 0 by consciousness alone
     "latest grades are CRS 0, ICANS 0 but not fully assessed (CRS: temperature and oxygen; ICANS: screen and "
     "consciousness)"),
])
def test_resolve_names_the_latest_grades_when_they_are_not_a_fully_assessed_zero(obs: dict[str, Any],
                                                                               grades: str) -> None:
    """A grade not assessed reads "not assessed" (never 0); a zero that is only partly assessed says so."""
    d = patient()
    d.observe(t(1), **obs)
    v = violation(refusal(d.resolve, t(30)), "RESOLVE_CRITERIA")
    assert (v.message, v.overridable, v.earliest_at) == (PREFIX + grades, True, None)


def test_resolve_before_the_window_waits_for_it_and_names_it() -> None:
    """24 h of fully assessed zeros: 23.9 h refused with the time it will hold; 24 h accepted."""
    d = patient()
    d.observe(t(1), **ZERO)
    d.observe(t(13), **ZERO)
    v = violation(refusal(d.resolve, t(24.9)), "RESOLVE_CRITERIA")
    assert (v.message, v.overridable, v.earliest_at) == (
        PREFIX + "fully assessed grade 0 has not yet held for the resolution window", True, t(25))
    assert d.resolve(t(25)).to_state == "resolved"


def test_the_latest_zero_must_be_within_12_h_of_the_resolve_and_12_h_is_within() -> None:
    """Zeros at 1 h and 13 h: the streak holds from 25 h; at 25 h the latest is exactly 12 h old (accepted);
    at 25.1 h it is more than 12 h old, refused without a time (only a new observation lets it through)."""
    late = patient()
    late.observe(t(1), **ZERO)
    late.observe(t(13), **ZERO)
    v = violation(refusal(late.resolve, t(25.1)), "RESOLVE_CRITERIA")
    assert (v.message, v.overridable, v.earliest_at) == (
        PREFIX + "the latest observation is more than 12 hours old: reassess before resolving", True, None)
    assert patient_with_zeros(1, 13).resolve(t(25)).to_state == "resolved"


def test_a_stale_observation_at_the_window_s_end_gets_no_waiting_time() -> None:
    """A lone zero at 1 h: at 25 h (the window's end, exactly) the streak is long enough but 24 h old; no time
    passing can help, so the refusal names no earliest time."""
    d = patient_with_zeros(1)
    v = violation(refusal(d.resolve, t(25)), "RESOLVE_CRITERIA")
    assert v.earliest_at is None
    assert v.message == PREFIX + "the latest observation is more than 12 hours old: reassess before resolving"


def patient_with_zeros(*hours: float) -> Driver:
    d = patient()
    for h in hours:
        d.observe(t(h), **ZERO)
    return d


# -- the other rules' sentences and the times they name -------------------------------------------------------

def test_time_future_and_time_order_name_their_reason_and_time() -> None:
    d = patient()
    d.observe(t(2), **ZERO)
    cmd = RecordObservation(at=t(2) + timedelta(minutes=5, seconds=1), actor="nurse-a", episode_id="E0001",
                            observation=Observation(**ZERO))
    assert d.episode is not None
    future = violation(refusal(decide, d.episode, cmd, t(2)), "TIME_FUTURE")  # now: 2 h; the step 5 min 1 s later
    assert (future.message, future.overridable, future.earliest_at) == (
        "the time given is more than 5 minutes in the future", False, None)
    order = violation(refusal(d.observe, t(1.5), **ZERO), "TIME_ORDER")
    assert (order.message, order.overridable, order.earliest_at) == (
        "the time given is earlier than the episode's latest event; events cannot go back in time (a step charted "
        "after the fact is a late entry: --late REASON)", False, t(2))


def test_a_route_refusal_lists_the_allowed_routes() -> None:
    d = patient()
    d.observe(t(1), **GRADE3)
    cmd = AdministerDose(at=t(1.5), actor="nurse-a", episode_id="E0001", drug="dexamethasone", dose_mg=10,
                         route="sc")
    v = violation(refusal(d.step, cmd), "DRUG_ROUTE")
    assert (v.message, v.overridable) == ("dexamethasone is not given sc; allowed: iv, po", False)


@pytest.mark.parametrize(("obs", "seen"), [
    (GRADE1, "latest assessed CRS grade is 1"),
    ({"o2_device": "room-air", **NEURO_OK}, "no assessed CRS grade on record"),
])
def test_toci_indication_names_the_grade_it_read(obs: dict[str, Any], seen: str) -> None:
    d = patient()
    d.observe(t(1), **obs)
    v = violation(refusal(d.give, t(1.5), "tocilizumab", 560), "TOCI_INDICATION")
    assert (v.message, v.overridable) == (f"tocilizumab needs CRS grade 2 or more; {seen}", True)


def test_steroid_indication_and_escalation_order_sentences() -> None:
    d = patient()
    d.observe(t(1), **GRADE2)
    v = violation(refusal(d.give, t(1.5), "dexamethasone", 10), "STEROID_INDICATION")
    assert (v.message, v.overridable) == ("no steroid indication on record (CRS grade 3+, CRS grade 2+ persisting "
                                          "8 h after tocilizumab, or ICANS grade 2+)", True)
    d.observe(t(2), **GRADE3)
    v = violation(refusal(d.give, t(2.5), "dexamethasone", 20), "ESCALATION_ORDER")
    assert (v.message, v.overridable, v.earliest_at) == (
        "escalated steroid before standard steroid has had its window without improvement (and CRS is neither "
        "grade 4 nor worsening)", True, None)  # no standard steroid yet: no window running, no time to name


def test_escalation_before_any_standard_steroid_names_no_window_even_after_tocilizumab() -> None:
    """The escalation window is the standard steroid's: after tocilizumab alone there is none to wait for."""
    d = patient()
    d.observe(t(1), **GRADE3)
    d.give(t(1.5), "tocilizumab", 560)
    v = violation(refusal(d.give, t(2), "dexamethasone", 20), "ESCALATION_ORDER")
    assert v.earliest_at is None
    d.give(t(2), "dexamethasone", 10)  # standard: the window starts now and the refusal names its end
    assert violation(refusal(d.give, t(3), "dexamethasone", 20), "ESCALATION_ORDER").earliest_at == t(26)


def test_a_steroid_given_before_any_assessment_leaves_escalation_waiting_for_one() -> None:
    """Standard dexamethasone by override with nothing assessed: the window's end passes, but nothing was seen
    after it, so escalation is neither due nor recommended; the status still answers (no crash on no grade)."""
    d = patient()
    d.give(t(1), "dexamethasone", 10, override="charted before the first assessment")
    assert d.episode is not None and d.episode.state.value == "steroid"
    st = d.status(t(30))
    assert "REC_STEROID_ESCALATE" not in rules_of(st)
    v = violation(refusal(d.give, t(30), "dexamethasone", 20), "ESCALATION_ORDER")
    assert v.earliest_at == t(25)


@pytest.mark.parametrize(("given", "missing"), [
    ((), "tocilizumab and a corticosteroid"),
    (("tocilizumab",), "a corticosteroid"),
    (("dexamethasone",), "tocilizumab"),
])
def test_refractory_order_names_what_is_missing_and_needs_both(given: tuple[str, ...], missing: str) -> None:
    """Both tocilizumab AND a corticosteroid before a refractory drug; either alone is not enough."""
    d = patient()
    d.observe(t(1), **GRADE3)
    for i, drug in enumerate(given):
        d.give(t(1.5 + i), drug, {"tocilizumab": 560, "dexamethasone": 10}[drug])
    v = violation(refusal(d.give, t(5), "anakinra", 100), "REFRACTORY_ORDER")
    assert (v.message, v.overridable) == (f"a refractory-line drug before {missing} has been given", True)
    assert d.episode is not None
    before = d.episode.state.value
    assert d.give(t(5), "anakinra", 100, override="ICU consultant").to_state == before  # out of order: no step skipped


def test_refractory_drug_after_tocilizumab_and_steroid_needs_no_override() -> None:
    d = patient()
    d.observe(t(1), **GRADE3)
    d.give(t(1.5), "tocilizumab", 560)
    d.give(t(2), "dexamethasone", 10)
    event = d.give(t(3), "anakinra", 100)
    assert (event.override, event.to_state) == (None, "refractory")


# -- TOCI_MAX_DOSES: the hard 24-hour limit and the policy's ------------------------------------------------

def test_the_hard_24_hour_limit_of_3_tocilizumab_doses_names_when_the_first_leaves_the_day() -> None:
    """Doses at 1, 9, 17 h (a site allowing 4 an episode): a fourth at 24 h is refused by the hard limit (3 in
    24 h; and the 8 h interval), which no override passes; it names 25 h, when the first dose leaves the day."""
    d = patient(policy=Policy(toci_max_doses_episode=4))
    d.observe(t(0.5), **GRADE3)
    for h in (1, 9, 17):
        d.give(t(h), "tocilizumab", 560)
    err = refusal(d.give, t(24), "tocilizumab", 560, override="persistent grade 3")
    v = violation(err, "TOCI_MAX_DOSES")
    assert (v.message, v.overridable, v.earliest_at) == (
        "3 tocilizumab doses already in 24 hours (hard limit 3)", False, t(25))
    assert d.give(t(25), "tocilizumab", 560).data["dose_number"] == 4


def test_a_site_maximum_of_2_tocilizumab_doses_a_day_is_overridable_and_ends_with_the_day() -> None:
    """toci_max_doses_24h = 2: doses at 1 and 9 h; a third at 24.9 h is refused (overridable), at 25 h (the first
    dose exactly 24 h old) it is allowed."""
    d = patient(policy=Policy(toci_max_doses_episode=4, toci_max_doses_24h=2))
    d.observe(t(0.5), **GRADE3)
    d.give(t(1), "tocilizumab", 560)
    d.give(t(9), "tocilizumab", 560)
    v = violation(refusal(d.give, t(24.9), "tocilizumab", 560), "TOCI_MAX_DOSES")
    assert (v.message, v.overridable, v.earliest_at) == (
        "2 tocilizumab doses already in 24 hours (policy maximum 2)", True, None)
    assert d.give(t(25), "tocilizumab", 560).override is None


# -- the hard dose limits: the sentence, the limit in the refusal's details -----------------------------------

@pytest.mark.parametrize(("weight", "drug", "dose", "message", "limit"), [
    (52, "tocilizumab", 457.7, "tocilizumab 457.7 mg is above the limit of 457.6 mg a dose for 52 kg", 457.6),
    (30, "tocilizumab", 264.1, "tocilizumab 264.1 mg is above the limit of 264 mg a dose for 30 kg", 264.0),  # 8 mg/kg
    (29.9, "tocilizumab", 394.7, "tocilizumab 394.7 mg is above the limit of 394.6 mg a dose for 29.9 kg",
     394.6),  # under 30 kg: 12 mg/kg + 10 %
    (70, "dexamethasone", 20.1, "dexamethasone 20.1 mg is above the limit of 20 mg a dose", 20.0),
    (70, "siltuximab", 847.1, "siltuximab 847.1 mg is above the limit of 847 mg a dose for 70 kg", 847.0),
    (70, "anakinra", 100.1, "anakinra 100.1 mg is above the limit of 100 mg a dose", 100.0),
])
def test_a_dose_above_its_hard_limit_names_the_limit(weight: float, drug: str, dose: float, message: str,
                                                     limit: float) -> None:
    """Weight-based limits (tocilizumab 8 mg/kg + 10 % from 30 kg, 12 mg/kg + 10 % under; siltuximab 11 mg/kg + 10 %) name the weight; fixed ones
    (dexamethasone 20 mg, anakinra 100 mg) do not."""
    d = patient(weight_kg=weight)
    d.observe(t(1), **GRADE3)
    err = refusal(d.give, t(1.5), drug, dose, override="try")
    v = [v for v in err.violations if not v.overridable][0]
    assert (v.message, v.overridable, v.details) == (message, False, {"limit_mg": limit})


def test_methylprednisolone_over_2000_mg_a_day_names_the_day_limit_and_when_it_clears() -> None:
    d = patient()
    d.observe(t(1), **GRADE4)
    d.give(t(1), "methylprednisolone", 1000)
    d.give(t(13), "methylprednisolone", 1000)
    v = violation(refusal(d.give, t(20), "methylprednisolone", 1), "STEROID_DOSE_MAX")
    assert (v.message, v.overridable, v.earliest_at, v.details) == (
        "methylprednisolone would total 2001 mg in 24 hours, above the limit of 2000 mg", False, t(25),
        {"limit_mg": 2000.0})


def test_a_child_s_methylprednisolone_per_kg_day_ceiling_names_its_limit() -> None:
    """20 kg: 30 mg/kg a day is 600 mg; 600 mg then 1 mg more within 24 h is above it (overridable)."""
    d = patient(weight_kg=20, age_years=8)
    d.observe(t(1), temp_c=39.0, o2_device="bipap", capd_score=0, consciousness="awake")
    d.give(t(1), "methylprednisolone", 600)
    v = violation(refusal(d.give, t(20), "methylprednisolone", 1), "STEROID_DOSE_PER_KG")
    assert (v.message, v.overridable, v.details) == (
        "methylprednisolone would total 601 mg in 24 hours, above the per-kg ceiling of 600 mg a day "
        "(30 mg/kg × 20 kg)", True, {"limit_mg": 600.0})


def test_every_rule_check_answers_any_step_and_a_drug_s_check_passes_a_step_it_is_not_about() -> None:
    """The pathway table names rule checks by ID on any edge: each check is total over every kind of step, and a
    dose limit says nothing about an observation, an action, a resolve, a close or a drug it has no limit for."""
    d = patient()
    d.observe(t(1), **GRADE3)
    ep = d.episode
    assert ep is not None
    base = {"at": t(2), "actor": "nurse-a", "episode_id": "E0001"}
    steps = [RecordObservation(observation=Observation(**ZERO), **base), RecordAction(action="labs", **base),
             Resolve(**base), Close(**base)]
    doses = [AdministerDose(drug=drug, dose_mg=1, **base) for drug in Drug]
    drug_checks = ("TOCI_DOSE_MAX", "STEROID_DOSE_MAX", "DOSE_MAX", "STEROID_DOSE_PER_KG", "DRUG_ROUTE")
    for cmd in steps + doses:
        for rule, check in CHECKS.items():
            found = check(Context(ep, cmd, t(2)))
            assert found is None or found.rule == rule
            if rule in drug_checks and not isinstance(cmd, AdministerDose):
                assert found is None, (rule, cmd.kind)
    for drug in (Drug.RUXOLITINIB, Drug.CYCLOPHOSPHAMIDE):  # no sourced dose: recorded as given
        cmd = AdministerDose(drug=drug, dose_mg=5000, **base)
        assert [r for r in drug_checks if CHECKS[r](Context(ep, cmd, t(2)))] == []


# -- indications that read tocilizumab's effect ----------------------------------------------------------------

def test_crs_grade_2_persisting_8_h_after_tocilizumab_is_a_steroid_indication_and_7_9_h_is_not() -> None:
    d = patient()
    d.observe(t(1), **GRADE2)
    d.give(t(1), "tocilizumab", 560)
    d.observe(t(8.9), **GRADE2)
    assert "STEROID_INDICATION" in refusal(d.give, t(8.95), "dexamethasone", 10).rules
    d.observe(t(9), **GRADE2)
    assert d.give(t(9), "dexamethasone", 10).override is None


def test_improvement_after_tocilizumab_is_no_persisting_indication_and_no_repeat() -> None:
    """Tocilizumab at CRS 3; CRS 2 at 9 h is an improvement: no steroid indication (CRS 2 < 3, not persisting)
    and no repeat tocilizumab recommended."""
    d = patient()
    d.observe(t(1), **GRADE3)
    d.give(t(1.5), "tocilizumab", 560)
    d.observe(t(9.5), **GRADE2)
    st = d.status(t(9.6))
    assert "REC_TOCILIZUMAB_REPEAT" not in rules_of(st)
    assert "STEROID_INDICATION" in refusal(d.give, t(9.6), "dexamethasone", 10).rules
    d.observe(t(10), **GRADE3)  # back to CRS 3: no improvement since the dose, so a repeat is recommended
    assert "REC_TOCILIZUMAB_REPEAT" in rules_of(d.status(t(10.1)))


@pytest.mark.parametrize("obs", [GRADE1, {"o2_device": "room-air", **NEURO_OK}])
def test_crs_below_grade_2_or_not_assessed_after_tocilizumab_is_no_persisting_indication(obs: dict[str, Any]) -> None:
    """Tocilizumab given (by override) at CRS 1; 8 h later CRS 1 again, or CRS not assessed: the persisting rule
    needs grade 2 or more, so a steroid still needs an override."""
    d = patient()
    d.observe(t(1), **GRADE1)
    d.give(t(1), "tocilizumab", 560, override="persistent fever")
    d.observe(t(10), **obs)
    assert "STEROID_INDICATION" in refusal(d.give, t(10), "dexamethasone", 10).rules


# -- refractory therapy: due after 24 h of escalated steroid without improvement, or at once on worsening -------

REFRACTORY_WINDOW = "refractory therapy becomes due if there is no improvement"  # the timer's line under `due`


def escalated_at_26h() -> Driver:
    """Adult, CRS 3 from 1 h: tocilizumab at 1.5 h, standard dexamethasone at 2 h, CRS 3 unchanged at 26 h (the
    escalation window's end), escalated dexamethasone at 26 h: the escalated phase (baseline grade 3) from 26 h."""
    d = patient()
    d.observe(t(1), **GRADE3)
    d.give(t(1.5), "tocilizumab", 560)
    d.give(t(2), "dexamethasone", 10)
    d.observe(t(26), **GRADE3)
    event = d.give(t(26), "dexamethasone", 20)
    assert (event.override, event.to_state) == (None, "escalated_steroid")
    return d


def test_refractory_therapy_is_due_when_grade_3_is_seen_24_h_into_escalated_steroid_not_before() -> None:
    d = escalated_at_26h()
    d.observe(t(49.9), **GRADE3)
    before = d.status(t(49.95))
    assert "REC_REFRACTORY" not in rules_of(before)
    assert [x["at"] for x in before["due"] if x["what"] == REFRACTORY_WINDOW] == ["2026-03-03T14:00:00Z"]
    d.observe(t(50), **GRADE3)  # exactly 24 h after the escalated steroid started
    at_end = d.status(t(50))
    assert "REC_REFRACTORY" in rules_of(at_end)
    assert REFRACTORY_WINDOW not in due_whats(at_end)


def test_worsening_on_escalated_steroid_makes_refractory_therapy_due_at_once() -> None:
    d = escalated_at_26h()
    d.observe(t(30), **GRADE4)
    assert "REC_REFRACTORY" in rules_of(d.status(t(30.1)))


def test_improvement_on_escalated_steroid_is_no_refractory_indication() -> None:
    d = escalated_at_26h()
    d.observe(t(50), **GRADE2)
    st = d.status(t(50.1))
    assert "REC_REFRACTORY" not in rules_of(st) and REFRACTORY_WINDOW not in due_whats(st)


def test_grade_1_unchanged_for_24_h_of_escalated_steroid_is_still_no_improvement() -> None:
    """Escalated steroid started (by override) at CRS 1: CRS 1 24 h later has not improved, and CRS is still
    present (grade 1 or more): refractory therapy is due."""
    d = patient()
    d.observe(t(1), **GRADE3)
    d.give(t(1.5), "tocilizumab", 560)
    d.give(t(2), "dexamethasone", 10)
    d.observe(t(6), **GRADE1)
    d.give(t(6), "dexamethasone", 20, override="consultant: escalate")
    assert d.episode is not None and d.episode.state.value == "escalated_steroid"
    d.observe(t(30), **GRADE1)
    assert "REC_REFRACTORY" in rules_of(d.status(t(30.1)))


def test_no_assessment_on_record_is_no_refractory_indication() -> None:
    """Every drug charted by override before any bedside assessment: nothing says the escalated steroid failed."""
    d = patient()
    d.give(t(1), "tocilizumab", 560, override="charted from the referring unit")
    d.give(t(2), "dexamethasone", 10, override="charted from the referring unit")
    d.give(t(3), "dexamethasone", 20, override="charted from the referring unit")
    assert d.episode is not None and d.episode.state.value == "escalated_steroid"
    assert "REC_REFRACTORY" not in rules_of(d.status(t(40)))


# -- the steroid course steps down: after the escalated course's 3 days, or once the worse grade is 1 or less --

def test_an_escalated_methylprednisolone_course_tapers_after_its_3_days_not_sooner() -> None:
    """CRS 4 at 1 h: methylprednisolone 1000 mg/day at 1, 25 and 49 h, CRS 3 throughout. 13 h after the second
    pulse no taper is offered (the course's 3 days are not done); at 73 h (3 days after the first) it is."""
    d = patient()
    d.observe(t(1), **GRADE4)
    d.give(t(1), "methylprednisolone", 1000)
    d.observe(t(24), **GRADE3)
    d.give(t(25), "methylprednisolone", 1000)
    day2 = d.status(t(38))
    assert "REC_STEROID_TAPER_METHYLPREDNISOLONE" not in rules_of(day2)
    d.give(t(49), "methylprednisolone", 1000)
    assert "REC_STEROID_TAPER_METHYLPREDNISOLONE" not in rules_of(d.status(t(72.9)))
    taper = [s for s in d.status(t(73))["next_steps"] if s["rule"] == "REC_STEROID_TAPER_METHYLPREDNISOLONE"]
    assert [(s["drug"], s["dose_mg"], s["every_hours"]) for s in taper] == [("methylprednisolone", 250.0, 12.0)]


@pytest.mark.parametrize(("obs", "rule"), [
    (GRADE2, "REC_STEROID_CONTINUE"),  # grade 2: the course continues
    (GRADE1, "REC_STEROID_TAPER_DEXAMETHASONE"),  # grade 1 or less: taper (ASCO-2021)
    (ZERO, "REC_STEROID_TAPER_DEXAMETHASONE"),
])
def test_a_standard_course_continues_at_grade_2_and_tapers_at_grade_1(obs: dict[str, Any], rule: str) -> None:
    d = patient()
    d.observe(t(1), **GRADE3)
    d.give(t(2), "dexamethasone", 10)
    d.observe(t(8), **obs)
    steroid_rules = [r for r in rules_of(d.status(t(8.1))) if r.startswith("REC_STEROID")]
    assert steroid_rules == [rule]


# -- hypotension: a bolus answers the hypotension seen before it; fluids fail when it is seen after them --------

HYPOTENSIVE = {"temp_c": 38.5, "o2_device": "room-air", "hypotension": True, **NEURO_OK}  # CRS 2


def supports(st: dict[str, Any]) -> list[str]:
    return [s["support"] for s in st["next_steps"] if s["kind"] == "support"]


def boluses_asked(st: dict[str, Any]) -> bool:
    return any(s.get("action") == "fluid-bolus" for s in st["next_steps"])


def test_a_bolus_charted_the_minute_hypotension_was_seen_answers_it() -> None:
    d = patient()
    d.observe(t(1), **HYPOTENSIVE)
    assert boluses_asked(d.status(t(1)))
    d.act(t(1), "fluid-bolus")
    assert not boluses_asked(d.status(t(1.1)))
    d.observe(t(1.5), **HYPOTENSIVE)  # seen again after the bolus: a second one
    assert boluses_asked(d.status(t(1.6)))


def test_fluids_fail_only_when_hypotension_is_seen_after_the_last_bolus() -> None:
    """Two boluses within 6 h (default policy): hypotension recorded at the minute of the second has not shown it
    failed; seen after it, a vasopressor is recommended."""
    d = patient()
    d.observe(t(1), **HYPOTENSIVE)
    d.act(t(1.2), "fluid-bolus")
    d.observe(t(1.5), **HYPOTENSIVE)
    d.act(t(2), "fluid-bolus")
    d.observe(t(2), **HYPOTENSIVE)
    assert "vasopressor" not in supports(d.status(t(2.1)))
    d.observe(t(2.5), **HYPOTENSIVE)
    assert "vasopressor" in supports(d.status(t(2.6)))


def test_a_site_asking_one_bolus_before_a_vasopressor() -> None:
    d = patient(policy=Policy(fluid_boluses_before_vasopressor=1))
    d.observe(t(1), **HYPOTENSIVE)
    d.act(t(1.5), "fluid-bolus")
    assert "vasopressor" not in supports(d.status(t(1.6)))
    d.observe(t(2), **HYPOTENSIVE)
    assert "vasopressor" in supports(d.status(t(2.1)))


# -- the named conditions the pathway table reads ---------------------------------------------------------------

def test_icans_grade_3_sets_the_steroid_only_without_a_crs_grade_4() -> None:
    """§8: ICANS 3 gives dexamethasone or methylprednisolone 1 mg/kg "when no CRS grade calls for a stronger
    one": with CRS 4 the grade-4 pulse does, so the ICANS-3 condition does not hold; with CRS 3 it does."""
    for crs, expected in ((GRADE4, False), (GRADE3, True)):
        d = patient()
        d.observe(t(1), **{**crs, "ice_score": 2})  # ICE 2, awake: ICANS 3
        assert d.episode is not None and d.episode.icans is not None and d.episode.icans.grade == 3
        assert CONDITIONS["icans_grade_3_steroid"](d.episode, t(1.1)) is expected


def episodes_in_every_state() -> list[Episode]:
    """An episode in each state the pathway reaches, with and without grades on record."""
    out: list[Episode] = []
    fresh = patient()
    out.append(fresh.episode)  # type: ignore[arg-type]
    d = patient()
    d.observe(t(1), **GRADE3)
    out.append(d.episode)  # type: ignore[arg-type]  # assessment, graded, no drug
    d.give(t(1.5), "tocilizumab", 560)
    out.append(d.episode)  # type: ignore[arg-type]
    d.give(t(2), "dexamethasone", 10)
    out.append(d.episode)  # type: ignore[arg-type]
    out.append(escalated_at_26h().episode)  # type: ignore[arg-type]
    d.give(t(3), "anakinra", 100)
    out.append(d.episode)  # type: ignore[arg-type]  # refractory
    r = patient_with_zeros(1, 13)
    r.resolve(t(25))
    out.append(r.episode)  # type: ignore[arg-type]
    r.close(t(26))
    out.append(r.episode)  # type: ignore[arg-type]
    return out


def test_every_named_condition_answers_true_or_false_in_every_state() -> None:
    """The table may name any condition in any state: each one is total (a yes or a no, never an error), also
    before any phase has started or any grade is on record."""
    episodes = episodes_in_every_state()
    assert {ep.state.value for ep in episodes} == {"assessment", "tocilizumab", "steroid", "escalated_steroid",
                                                   "refractory", "resolved", "closed"}
    for ep in episodes:
        for name, condition in CONDITIONS.items():
            assert condition(ep, t(60)) in (True, False), (name, ep.state)
