"""Teeth for the issue 9 invariants: break ONE control of the new core and the property suite must fail.

Each control below is broken in the live core with monkeypatch (undone after each test), then
  1. the stateful machine runs (reference model OFF, so only the history and status invariants judge:
     they restate CLINICAL.md in tests/properties/safety.py and advice.py, never pathway/), derandomized,
     generation only, and must fail with a message naming the invariant; and
  2. where the abstract state allows, the exhaustive search (breadth-first, stop at the first violation)
     must find a reachable state breaking it.

| control broken                                               | invariant that must fire              |
| ------------------------------------------------------------ | ------------------------------------- |
| CRS graded 0 when not assessed (grading returns 0 for null)  | NULL_GRADE (a)                        |
| ICANS graded 0 when not assessed                             | NULL_GRADE (a)                        |
| the zero streak counts partly assessed zeros                 | NULL_GRADE (a: streak; the stateful   |
|                                                              | run may report RESOLVE_CRITERIA first)|
|                                                              | and, raw-view check off, RESOLVE_...  |
| the RESOLVE_CRITERIA check switched off                      | RESOLVE_CRITERIA (b)                  |
| the per-kg cap dropped from dosing and its rule switched off | RECOMMEND_DOSE (c; the stateful run   |
|                                                              | may meet STEROID_DOSE_PER_KG first)   |
| the STEROID_DOSE_PER_KG rule switched off                    | STEROID_DOSE_PER_KG (history; and the |
|                                                              | reference model, with it on)          |
| the per-kg cap dropped from dosing only (the rule still on)  | STEROID_MISSING (an indicated steroid |
|                                                              | silently vanishes for a child)        |
| every regimen offered without its dry run                    | RECOMMEND (H13, alternatives too)     |
| one step per drug rather than per drug class                 | STEROID_STEPS (d)                     |
| the reassessment computed from `now` (the old H10)           | DEADLINE_SLIDES (e)                   |
| a new episode's first assessment due 12 h after opening      | REASSESS_AT (H10)                     |
| the 8 h ICANS interval only from ICANS grade 2               | REASSESS_AT (H9)                      |
| tocilizumab indicated by the worse of CRS and ICANS          | RECOMMEND_TOCI (f)                    |
| the ICANS screen not checked against the age                 | SCREEN                                |
| improvement judged on CRS alone (severity without ICANS)     | SEVERITY                              |
| a seed answer cited to the clinician                         | CITATION (H14)                        |
| the assess step not first when a grade is not assessed       | ASSESS (H6, H7)                       |
| grade 4 read from CRS only (ICANS 4 gets no escalation)      | GRADE_4_STEROID (H9)                  |
| doses under 0.1 mg accepted as commands                      | MIN_DOSE (H5)                         |
| a grading row wrong (CAPD 9, ICE 0 awake, fever masking)     | GRADE (the reference model's ASTCT    |
|                                                              | grades, with the model on)            |
"""

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis.stateful import run_state_machine_as_test
from pydantic import Field

from pathway import dosing, grading, guards, machine, recommend
from pathway.clock import iso
from pathway.commands import AdministerDose
from pathway.episode import Episode, Graded
from pathway.grading import Grade
from pathway.policy import DEFAULT_POLICY
from tests.properties import episode_machine
from tests.properties.episode_machine import DefaultPolicyEpisodes, EpisodeMachine, RandomPolicyEpisodes
from tests.properties.exhaustive import SLICES, explore
from tests.properties.test_teeth import TEETH_SETTINGS

Patch = Callable[[pytest.MonkeyPatch], None]


def _null_as_zero(grade_fn: Callable[..., Grade]) -> Callable[..., Grade]:
    def graded(*args: Any, **kwargs: Any) -> Grade:
        g = grade_fn(*args, **kwargs)
        return replace(g, grade=0, missing=()) if g.grade is None else g
    return graded


def crs_null_as_zero(mp: pytest.MonkeyPatch) -> None:
    mp.setattr(machine, "crs_grade", _null_as_zero(machine.crs_grade))


def icans_null_as_zero(mp: pytest.MonkeyPatch) -> None:
    mp.setattr(machine, "icans_grade", _null_as_zero(machine.icans_grade))


def streak_counts_partial_zeros(mp: pytest.MonkeyPatch) -> None:
    mp.setattr(Graded, "fully_assessed_zero", property(lambda g: g.crs_grade == 0 and g.icans_grade == 0))


def resolve_check_off(mp: pytest.MonkeyPatch) -> None:
    mp.setitem(guards.CHECKS, "RESOLVE_CRITERIA", lambda ctx: None)


def per_kg_rule_off(mp: pytest.MonkeyPatch) -> None:
    mp.setitem(guards.CHECKS, "STEROID_DOSE_PER_KG", lambda ctx: None)


def per_kg_cap_dropped(mp: pytest.MonkeyPatch) -> None:
    mp.setattr(dosing, "child_steroid_dose_mg", lambda drug, adult_mg, weight_kg, policy, every_h:
               dosing.floor_tenth_mg(adult_mg))


def per_kg_control_gone(mp: pytest.MonkeyPatch) -> None:
    per_kg_cap_dropped(mp)
    per_kg_rule_off(mp)


def no_dry_run(mp: pytest.MonkeyPatch) -> None:
    mp.setattr(recommend, "_offer", lambda reg, rec, ep, now, held: True)


def one_step_per_drug(mp: pytest.MonkeyPatch) -> None:
    mp.setattr(recommend, "drug_class", lambda step: "+".join(sorted(o["drug"] for o in
                                                                       step.get("alternatives", [step]))))


def reassess_from_now(mp: pytest.MonkeyPatch) -> None:
    real = recommend.next_steps

    def sliding(ep: Episode, now: datetime) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        steps, held = real(ep, now)
        for step in steps:
            if step["kind"] == "reassess":
                step["at"] = iso(now + timedelta(hours=recommend.reassess_hours(ep)))
        return steps, held
    mp.setattr(recommend, "next_steps", sliding)


def first_assessment_in_12_h(mp: pytest.MonkeyPatch) -> None:
    real = recommend.domain_due
    mp.setattr(recommend, "domain_due", lambda ep, domain: real(ep, domain) if (ep.crs if domain == "crs" else ep.icans)
               else ep.opened_at + timedelta(hours=12))


def icans_interval_from_grade_2(mp: pytest.MonkeyPatch) -> None:
    def hours(ep: Episode) -> float:
        p = ep.policy
        out = [p.reassess_h_otherwise]
        if guards.at_least(guards.latest_crs(ep), 2):
            out.append(p.reassess_h_grade2_plus)
        if guards.at_least(guards.latest_icans(ep), 2):
            out.append(p.reassess_h_icans)
        return min(out)
    mp.setattr(recommend, "reassess_hours", hours)


def severity_without_icans(mp: pytest.MonkeyPatch) -> None:
    mp.setattr(Episode, "severity", property(lambda ep: ep.crs.grade if ep.crs else None))


def seed_cited(mp: pytest.MonkeyPatch) -> None:
    real = recommend.next_steps

    def citing(ep: Episode, now: datetime) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        steps, held = real(ep, now)
        for step in steps:
            if step.get("rule") == "REASSESS":
                step["citations"] = [*step["citations"], "SEED-001"]
        return steps, held
    mp.setattr(recommend, "next_steps", citing)


def min_dose_gone(mp: pytest.MonkeyPatch) -> None:
    class AnyDose(AdministerDose):
        dose_mg: float = Field(ge=0, le=10_000)
    mp.setattr(episode_machine, "AdministerDose", AnyDose)


def grade_4_crs_only(mp: pytest.MonkeyPatch) -> None:
    mp.setattr(guards, "grade_4", lambda ep: guards.latest_crs(ep) == 4)


def assess_not_first(mp: pytest.MonkeyPatch) -> None:
    real = recommend._assess
    mp.setattr(recommend, "_assess", lambda ep: None if (found := real(ep)) is None else (85, found[1]))


def toci_for_icans(mp: pytest.MonkeyPatch) -> None:
    mp.setattr(guards, "toci_indicated", lambda ep, at: guards.at_least(ep.severity, 2))


def screen_unchecked(mp: pytest.MonkeyPatch) -> None:
    mp.setattr(machine, "check_screen", lambda episode, command: None)


#: name -> (break the control, the invariant that must fire, extra machine attributes, exhaustive slice or None)
CASES: dict[str, tuple[Patch, str, dict[str, object], str | None]] = {
    "crs-null-as-zero": (crs_null_as_zero, "NULL_GRADE", {}, "assessment"),
    "icans-null-as-zero": (icans_null_as_zero, "NULL_GRADE", {}, "assessment"),
    # the guided rule that breaks a streak resolves in the same step: either invariant may report first in
    # the stateful machine (the exhaustive check sees the broken streak a node before the resolve)
    "streak-counts-partial-zeros": (streak_counts_partial_zeros, "NULL_GRADE|RESOLVE_CRITERIA", {}, "assessment"),
    "streak-counts-partial-zeros/resolve-only": (streak_counts_partial_zeros, "RESOLVE_CRITERIA",
                                                 {"FOLD_VIEW": False}, None),
    "resolve-check-off": (resolve_check_off, "RESOLVE_CRITERIA", {}, "assessment"),
    # the stateful machine may meet a random dose above the ceiling (the history's STEROID_DOSE_PER_KG)
    # before it follows a recommendation; the exhaustive child slice follows recommendations only
    "per-kg-control-gone": (per_kg_control_gone, "RECOMMEND_DOSE|STEROID_DOSE_PER_KG", {}, "assessment-child"),
    "per-kg-rule-off": (per_kg_rule_off, "STEROID_DOSE_PER_KG", {}, "daily-limits"),
    "per-kg-cap-dropped": (per_kg_cap_dropped, "STEROID_MISSING", {}, "assessment-child"),
    "no-dry-run": (no_dry_run, "RECOMMEND", {}, "assessment"),
    "one-step-per-drug": (one_step_per_drug, "STEROID_STEPS|REFRACTORY_STEPS", {}, "assessment"),
    "reassess-from-now": (reassess_from_now, "DEADLINE_SLIDES", {}, "assessment"),
    "first-assessment-in-12-h": (first_assessment_in_12_h, "REASSESS_AT", {}, "assessment"),
    "icans-interval-from-grade-2": (icans_interval_from_grade_2, "REASSESS_AT", {}, None),
    "toci-for-icans": (toci_for_icans, "RECOMMEND_TOCI", {}, "assessment"),
    "severity-without-icans": (severity_without_icans, "SEVERITY", {}, "assessment"),
    "seed-cited": (seed_cited, "CITATION", {}, "assessment"),
    "min-dose-gone": (min_dose_gone, "MIN_DOSE", {}, None),
    "grade-4-crs-only": (grade_4_crs_only, "GRADE_4_STEROID", {}, "assessment"),
    "assess-not-first": (assess_not_first, "ASSESS", {}, "assessment"),
    "screen-unchecked": (screen_unchecked, "SCREEN", {}, "assessment"),
}


def stateful_failure(base: type[EpisodeMachine], **attrs: object) -> str | None:
    """Run the state machine without the reference model (and `attrs`); the failure message, or None."""
    teeth = type(f"Teeth9{base.__name__}", (base,), {"REFERENCE": False, "DEEP_TEARDOWN": False, "COUNTED": False,
                                                     **attrs})
    try:
        run_state_machine_as_test(teeth, settings=TEETH_SETTINGS)
    except AssertionError as err:
        return str(err)
    return None


@pytest.mark.parametrize("case", list(CASES))
def test_the_state_machine_catches_a_broken_control(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    patch, rule, attrs, _ = CASES[case]
    patch(monkeypatch)
    failure = stateful_failure(DefaultPolicyEpisodes, **attrs) or stateful_failure(RandomPolicyEpisodes, **attrs)
    assert failure is not None, f"with {case} the state machine found nothing: the invariant has no teeth"
    assert re.search(f"({rule}):", failure), f"with {case} the machine failed for another reason:\n{failure[:3000]}"


@pytest.mark.parametrize("case", [c for c, (_, _, _, slice_name) in CASES.items() if slice_name])
def test_the_exhaustive_check_catches_a_broken_control(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    patch, rule, _, slice_name = CASES[case]
    patch(monkeypatch)
    slice_ = {s.name: s for s in SLICES}[slice_name or ""]
    result = explore(slice_, stop_on_violation=True)
    assert result.violations, f"with {case} the exhaustive check found nothing ({result.states} states)"
    rule = rule.split("|")[0]
    assert any(v.startswith(f"{rule}:") for v in result.violations), \
        f"with {case} the exhaustive check found other problems:\n" + "\n".join(result.violations[:10])


def capd_9_not_delirium(mp: pytest.MonkeyPatch) -> None:
    """CAPD >= 9 read as > 9: a positive CAPD of 9 graded 1 instead of 3."""
    real = grading._capd_domain
    mp.setattr(grading, "_capd_domain", lambda obs: (1, "capd=9") if obs.capd_score == 9 else real(obs))


def ice_0_awake_as_4(mp: pytest.MonkeyPatch) -> None:
    """ICE 0 graded 4 whether or not the patient is unarousable (§2: ICE 0 awake is grade 3)."""
    real = grading._ice_domain
    mp.setattr(grading, "_ice_domain", lambda obs: (4, "ice=0") if obs.ice_score == 0 else real(obs))


def fever_always_masked(mp: pytest.MonkeyPatch) -> None:
    """Hypotension/hypoxia graded without fever before any tocilizumab or steroid (§1)."""
    real = machine.crs_grade
    mp.setattr(machine, "crs_grade", lambda obs, policy, fever_masked=False: real(obs, policy, fever_masked=True))


GRADING = {"capd-9-not-delirium": capd_9_not_delirium, "ice-0-awake-as-4": ice_0_awake_as_4,
           "fever-always-masked": fever_always_masked}


@pytest.mark.parametrize("case", list(GRADING))
def test_the_reference_model_catches_a_grading_error(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the reference model ON, a wrong grading row is a disagreement with its ASTCT grades."""
    GRADING[case](monkeypatch)
    failure = None
    for base in (DefaultPolicyEpisodes, RandomPolicyEpisodes):
        teeth = type(f"Teeth9Grade{base.__name__}", (base,), {"DEEP_TEARDOWN": False, "COUNTED": False})
        try:
            run_state_machine_as_test(teeth, settings=TEETH_SETTINGS)
        except AssertionError as err:
            failure = str(err)
            break
    assert failure is not None, f"with {case} the reference model found nothing"
    assert "GRADE:" in failure, f"with {case} the machine failed for another reason:\n{failure[:3000]}"


def test_the_reference_model_predicts_the_per_kg_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the reference model ON, a switched-off STEROID_DOSE_PER_KG is a disagreement with the model."""
    per_kg_rule_off(monkeypatch)
    teeth = type("Teeth9Reference", (DefaultPolicyEpisodes,), {"DEEP_TEARDOWN": False, "COUNTED": False})
    with pytest.raises(AssertionError, match=r"STEROID_DOSE_PER_KG"):
        run_state_machine_as_test(teeth, settings=TEETH_SETTINGS)


def test_the_core_is_back_after_each_teeth_test() -> None:
    """monkeypatch restored the core."""
    assert guards.CHECKS["STEROID_DOSE_PER_KG"] is guards.check_steroid_per_kg
    assert guards.CHECKS["RESOLVE_CRITERIA"] is guards.check_resolve
    assert guards.grade_4.__module__ == "pathway.guards" and guards.toci_indicated.__module__ == "pathway.guards"
    assert machine.crs_grade.__module__ == "pathway.grading" and machine.check_screen.__module__ == "pathway.machine"
    assert grading._capd_domain.__module__ == "pathway.grading" and grading._ice_domain.__name__ == "_ice_domain"
    assert recommend.next_steps.__module__ == "pathway.recommend"
    assert recommend.domain_due.__module__ == "pathway.recommend" and recommend._assess.__name__ == "_assess"
    assert recommend.reassess_hours.__module__ == "pathway.recommend"
    assert recommend.drug_class.__module__ == "pathway.recommend" and recommend._offer.__module__ == "pathway.recommend"
    assert isinstance(Graded.__dict__["fully_assessed_zero"], property)
    assert Episode.__dict__["severity"].fget.__qualname__ == "Episode.severity"
    assert DEFAULT_POLICY.dexamethasone_max_mg_per_kg_dose == 0.5
    assert episode_machine.AdministerDose is AdministerDose
