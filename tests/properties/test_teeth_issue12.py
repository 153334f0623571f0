"""Teeth for the controls docs/SAFETY.md names (issue 12): switch ONE control off, the evidence for it fails.

Each control below is broken in the live core with monkeypatch (undone after each test); the evidence the
safety case names for it then FAILS, naming the problem, and (where the test can show it cheaply) the same
evidence passes once the patch is undone, so no teeth test passes vacuously. The stateful runs are those of
test_teeth.py and test_teeth_issue9.py (reference model OFF, derandomized, generation only), the random-policy
machine first: it reaches these breaches within a few examples, the default-policy one only after hundreds.

| hazard | control switched off                                              | evidence that then fails              |
| ------ | ----------------------------------------------------------------- | ------------------------------------- |
| H1     | pathway.dosing.toci_dose_mg without its cap at the hard ceiling   | test_tocilizumab_cap (the 800 mg step |
|        | (the min with toci_ceiling_mg)                                    | for a patient over 100 kg vanishes)   |
| H4     | CORRECTION_TARGET's "it no longer stands" (pathway.history._target| the stateful change judge             |
|        | accepts a superseded entry as a target)                           | (effective.accepted_problems, model   |
|        |                                                                   | on): CORRECTION_TARGET                |
| H12    | the refractory state's steroid course (states/common.py           | test_h12_* of test_hazards_issue9.py  |
|        | STEROID_COURSE, or only its standard-course continuation)         | and test_hazards_issue12.py           |
| H24    | [validation] Policy._within_hard_limits (pathway.policy's         | test_policy.py::test_policy_cannot_   |
|        | HARD_LIMITS read as no limit at all)                              | exceed_a_hard_limit (every case)      |
| H24    | [design] the tocilizumab ceiling read from the policy (its mg/kg  | the random-policy machine:            |
|        | + 10 %, no 800 mg cap: a policy has none) instead of HardLimits   | TOCI_DOSE_MAX                         |
| H29    | the routing guard refractory_prerequisites (guards.ROUTES) always | stateful and exhaustive: PHASE_ORDER  |
|        | true: an override of REFRACTORY_ORDER moves the episode too       |                                       |
| H30    | each of TOCI_INDICATION, STEROID_INDICATION, ESCALATION_ORDER,    | stateful and exhaustive: the rule's   |
|        | REFRACTORY_ORDER (guards.CHECKS) in turn                          | own tag (safety.Course restates it)   |

H30's invariant is safety.Course (issue 12): the override invariant compares the event with the core's own
violations(), so a rule switched off there is invisible to it; the indications and the order of therapy are
restated from the clinical basis and checked on every accepted dose by history_is_safe.
"""

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from pathway import dosing, guards, history, policy as policy_module
from pathway.commands import AdministerDose, Correct, OpenEpisode, RecordObservation
from pathway.drugs import Drug
from pathway.episode import Episode, apply
from pathway.errors import Refused, Violation
from pathway.events import Event
from pathway.machine import decide, decide_open
from pathway.policy import DEFAULT_POLICY, HARD_LIMITS, Policy
from states import PATHWAY, State
from states.common import STEROID_COURSE
from tests.properties import effective as E
from tests.properties.episode_machine import DefaultPolicyEpisodes, EpisodeMachine, RandomPolicyEpisodes
from tests.properties.exhaustive import SLICES, explore
from tests.properties.strategies import graded_observation
from tests.properties.test_teeth_issue9 import stateful_failure
from tests.unit import test_hazards_issue9 as issue9_evidence, test_hazards_issue12 as issue12_evidence
from tests.unit import test_policy as policy_evidence, test_tocilizumab_cap as cap_evidence

pytestmark = pytest.mark.teeth

Patch = Callable[[pytest.MonkeyPatch], None]
#: What a failed evidence check raises: an assert, or pytest.raises' "DID NOT RAISE".
EVIDENCE_FAILS = (AssertionError, pytest.fail.Exception)


T0 = datetime(2026, 11, 1, 10, tzinfo=timezone.utc)
EID = "EP-TEETH12"


def _opened(policy: Policy = DEFAULT_POLICY, weight_kg: float = 70) -> Episode:
    event = decide_open(OpenEpisode(at=T0, actor="qa", patient_ref="T12", weight_kg=weight_kg, age_years=50,
                                    policy=policy), EID, T0)
    episode = apply(None, event)
    assert episode is not None
    return episode


def _toci(ep: Episode, dose_mg: float, at: datetime, override: str | None = None) -> AdministerDose:
    return AdministerDose(at=at, actor="qa", episode_id=ep.id, drug=Drug.TOCILIZUMAB, dose_mg=dose_mg,
                          override_reason=override)


def first_failure(*machines: type[EpisodeMachine]) -> str | None:
    """The first machine's failure (reference model off), or None when none of them fails."""
    for base in machines:
        failure = stateful_failure(base)
        if failure is not None:
            return failure
    return None


# -- H30: the indications and the order of therapy ---------------------------------------------------------

INDICATION_RULES = ["TOCI_INDICATION", "STEROID_INDICATION", "ESCALATION_ORDER", "REFRACTORY_ORDER"]


@pytest.mark.parametrize("rule", INDICATION_RULES)
def test_the_state_machine_catches_a_rule_of_indication_or_order_switched_off(
        rule: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """guards.CHECKS[rule] never refuses: a dose off the pathway is accepted without a recorded deviation, and
    safety.Course (history_is_safe) names the rule; the override invariant cannot, it asks the same core."""
    monkeypatch.setitem(guards.CHECKS, rule, lambda ctx: None)
    failure = first_failure(RandomPolicyEpisodes, DefaultPolicyEpisodes)
    assert failure is not None, f"with {rule} off the state machine found nothing: the invariant has no teeth"
    assert failure.startswith(f"{rule}:"), f"with {rule} off the machine failed for another reason:\n{failure[:3000]}"


@pytest.mark.parametrize("rule", INDICATION_RULES)
def test_the_exhaustive_check_catches_a_rule_of_indication_or_order_switched_off(
        rule: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(guards.CHECKS, rule, lambda ctx: None)
    result = explore({s.name: s for s in SLICES}["pathway"], stop_on_violation=True)
    assert result.violations, f"with {rule} off the exhaustive check found nothing ({result.states} states)"
    assert result.violations[0].startswith(f"{rule}:"), "\n".join(result.violations[:10])


# -- H29: an override passes a rule but never moves the episode to a state whose drug was not given ----------

def test_the_state_machine_catches_a_routing_guard_that_lets_an_override_skip_a_line(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """guards.ROUTES['refractory_prerequisites'] always true: anakinra under an override of REFRACTORY_ORDER
    takes the episode to the refractory state before tocilizumab or a steroid (PHASE_ORDER)."""
    monkeypatch.setitem(guards.ROUTES, "refractory_prerequisites", lambda ctx: True)
    failure = first_failure(RandomPolicyEpisodes, DefaultPolicyEpisodes)
    assert failure is not None and re.match(r"PHASE_ORDER: seq \d+ entered refractory before", failure), failure
    result = explore({s.name: s for s in SLICES}["pathway"], stop_on_violation=True)
    assert result.violations and result.violations[0].startswith("PHASE_ORDER:"), result.violations[:5]


# -- H24: a site policy can only be stricter -----------------------------------------------------------------

class _NoLimits:
    """HardLimits as if there were none: every maximum infinite, the minimum interval 0."""

    def __getattr__(self, name: str) -> float:
        return 0.0 if name == "toci_min_interval_h" else float("inf")


def _hard_limit_cases() -> list[tuple[str, float, str]]:
    """The cases of test_policy_cannot_exceed_a_hard_limit, read from its own parametrize mark."""
    (mark,) = [m for m in policy_evidence.test_policy_cannot_exceed_a_hard_limit.pytestmark if m.name == "parametrize"]
    return list(mark.args[1])


def test_teeth_h24_policy_validation(monkeypatch: pytest.MonkeyPatch) -> None:
    """pathway.policy.HARD_LIMITS (read by Policy._within_hard_limits, and by nothing else: the rules and dosing
    imported their own name) replaced by no limits: every case of the evidence loads a policy past a hard limit.
    The design still holds: a dose or a count past a hard limit is refused whatever the policy says."""
    cases = _hard_limit_cases()
    assert len(cases) >= 8
    monkeypatch.setattr(policy_module, "HARD_LIMITS", _NoLimits())
    for field, value, limit in cases:
        with pytest.raises(EVIDENCE_FAILS, match="DID NOT RAISE"):
            policy_evidence.test_policy_cannot_exceed_a_hard_limit(field, value, limit)
    lax = Policy(toci_mg_per_kg=10, toci_max_doses_episode=6)  # loads: the validation is off
    ep = _opened(lax, weight_kg=70)
    with pytest.raises(Refused) as refused:  # 700 mg is the policy's dose; 616 mg is the hard ceiling at 70 kg
        decide(ep, _toci(ep, 700.0, T0 + timedelta(minutes=1), override="site policy"), T0 + timedelta(minutes=2))
    hard = [v.rule for v in refused.value.violations if not v.overridable]
    assert hard == ["TOCI_DOSE_MAX"], refused.value.rules  # an override passes the indication, never the ceiling

    monkeypatch.undo()
    for field, value, limit in cases:
        policy_evidence.test_policy_cannot_exceed_a_hard_limit(field, value, limit)


def _toci_ceiling_from_the_policy(ctx: guards.Context) -> Violation | None:
    """The regression H24 guards against: the tocilizumab ceiling computed from the site's figures (its mg/kg
    and child weight, + 10 %), not from HardLimits; a policy has no 800 mg cap, so none is applied."""
    dose = ctx.dose
    if dose is None or dose.drug is not Drug.TOCILIZUMAB:
        return None
    p, w = ctx.policy, ctx.episode.weight_kg
    per_kg = p.toci_mg_per_kg_under_30kg if w < p.toci_child_weight_kg else p.toci_mg_per_kg
    ceiling = dosing.floor_tenth_mg(w * per_kg * 1.1)
    if dose.dose_mg > ceiling:
        return Violation("TOCI_DOSE_MAX", False, f"tocilizumab above {ceiling:g} mg", None, {})
    return None


def test_teeth_h24_ceilings_never_read_from_the_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    """guards.CHECKS['TOCI_DOSE_MAX'] reading the ceiling from the policy: the random-policy machine (policies
    inside the validation, weights up to 350 kg) records a tocilizumab dose above 800 mg (TOCI_DOSE_MAX)."""
    monkeypatch.setitem(guards.CHECKS, "TOCI_DOSE_MAX", _toci_ceiling_from_the_policy)
    failure = first_failure(RandomPolicyEpisodes, DefaultPolicyEpisodes)
    assert failure is not None and failure.startswith("TOCI_DOSE_MAX:"), (failure or "")[:3000]
    assert HARD_LIMITS.toci_single_dose_max_mg == 800


# -- H1: the recommended tocilizumab dose is capped at its ceiling ----------------------------------------------

def test_teeth_h1_recommended_tocilizumab_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    """pathway.dosing.toci_dose_mg without the min with toci_ceiling_mg: 8 mg/kg for 120 kg is 960 mg. The dry
    run (H13) refuses it (TOCI_DOSE_MAX), so nothing above the ceiling is shown, but the indicated tocilizumab
    step vanishes for every patient over 100 kg: the evidence fails naming the missing step."""
    monkeypatch.setattr(dosing, "toci_dose_mg", lambda weight_kg, policy: round(
        weight_kg * dosing.toci_mg_per_kg(weight_kg, policy), 1))
    with pytest.raises(AssertionError, match="no tocilizumab step"):
        cap_evidence.test_a_patient_over_100_kg_is_recommended_the_800_mg_cap()
    monkeypatch.undo()
    cap_evidence.test_a_patient_over_100_kg_is_recommended_the_800_mg_cap()


# -- H12: refractory drugs are added to the steroid course -------------------------------------------------------

def _refractory_without(names: set[str]) -> Patch:
    def patch(mp: pytest.MonkeyPatch) -> None:
        spec = PATHWAY[State.REFRACTORY]
        mp.setitem(PATHWAY, State.REFRACTORY, replace(spec, recommends=tuple(
            r for r in spec.recommends if r.id not in names)))
    return patch


H12_EVIDENCE = {
    "escalated": issue9_evidence.test_h12_the_steroid_course_stays_after_a_refractory_drug,
    "standard": issue12_evidence.test_h12_a_standard_steroid_course_continues_when_a_refractory_drug_is_added,
}
#: case -> (the refractory state's recommendations taken away, the evidence that must fail)
H12_CASES: dict[str, tuple[set[str], tuple[str, ...]]] = {
    "course-gone": ({r.id for r in STEROID_COURSE}, ("escalated", "standard")),
    "standard-continuation-gone": ({"REC_STEROID_STANDARD_CONTINUE"}, ("standard",)),  # the H12 residual as found
}


@pytest.mark.parametrize("case", list(H12_CASES))
def test_teeth_h12_the_steroid_course_continues_in_the_refractory_state(case: str,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """states.PATHWAY[refractory] without (part of) STEROID_COURSE: the steroid step disappears once a refractory
    drug is given, and the named evidence fails; the evidence of the part still there still passes."""
    taken, failing = H12_CASES[case]
    assert taken <= {r.id for r in PATHWAY[State.REFRACTORY].recommends}
    _refractory_without(taken)(monkeypatch)
    for name, evidence in H12_EVIDENCE.items():
        if name in failing:
            with pytest.raises(EVIDENCE_FAILS + (ValueError,)):  # ValueError: it unpacks the one steroid step
                evidence()
        else:
            evidence()
    monkeypatch.undo()
    for evidence in H12_EVIDENCE.values():
        evidence()


# -- H4: CORRECTION_TARGET, judged by the stateful change judge ---------------------------------------------------

def _typo_corrected_once() -> tuple[Episode, list[Event], E.Record]:
    """CRS grade 3, tocilizumab typed as 56 mg (seq 3), corrected to 560 mg (seq 4): seq 3 no longer stands."""
    events = [decide_open(OpenEpisode(at=T0, actor="qa", patient_ref="T12", weight_kg=70, age_years=50), EID, T0)]
    ep = apply(None, events[0])
    assert ep is not None
    for cmd in (RecordObservation(at=T0, actor="qa", episode_id=EID, observation=graded_observation(3)),
                _toci(ep, 56.0, T0 + timedelta(minutes=10))):
        events.append(decide(ep, cmd, cmd.at))
        ep = apply(ep, events[-1])
    record = E.Record.start(events[0])
    for event in events[1:]:
        record.add(event)
    fix = Correct(at=T0 + timedelta(minutes=20), actor="qa", episode_id=EID, target_seq=3, reason="56 typed for 560",
                  changes={"dose_mg": 560})
    event, ep = history.decide_change(ep, events, fix, fix.at)
    events.append(event)
    record.add(event)
    return ep, events, record


def _superseded_target_accepted(mp: pytest.MonkeyPatch) -> None:
    """history._target without its "no longer stands" check: a superseded entry is taken as a target (its place
    then names the entry that superseded it)."""
    real = history._target

    def target(standing: history.Standing, seq: int, allowed: frozenset[str], verb: str) -> history.Entry:
        return real(replace(standing, superseded_by={}, voided_by={}), seq, allowed, verb)

    mp.setattr(history, "_target", target)


def _judge_a_second_correction_of_the_typo() -> tuple[list[str], Refused | None]:
    """A second correction of seq 3 (already superseded by seq 4), judged as the stateful suite judges a change
    (effective.predict, then accepted_problems or refused_problems, reference model on)."""
    ep, events, record = _typo_corrected_once()
    again = Correct(at=T0 + timedelta(minutes=30), actor="qa", episode_id=EID, target_seq=3, reason="typo",
                    changes={"dose_mg": 500})
    now = again.at
    prediction = E.predict(record, ep, again, now)
    assert prediction.refused == ("CORRECTION_TARGET",)
    try:
        event, after = history.decide_change(ep, events, again, now)
    except Refused as err:
        return E.refused_problems(again, err, None, prediction, record, True), err
    return E.accepted_problems(again, now, ep, len(events), event, after, prediction, True), None


def test_teeth_h4_correction_target(monkeypatch: pytest.MonkeyPatch) -> None:
    """CORRECTION_TARGET's standing check off: correcting an entry that was already superseded is accepted, and the
    stateful change judge names CORRECTION_TARGET; with the check on, it is the predicted refusal."""
    _superseded_target_accepted(monkeypatch)
    problems, refused = _judge_a_second_correction_of_the_typo()
    assert refused is None and problems, "with the standing check off the second correction must be accepted"
    assert problems[0].startswith("CORRECTION_TARGET: the correct was accepted although it must be refused"), problems

    monkeypatch.undo()
    problems, refused = _judge_a_second_correction_of_the_typo()
    assert refused is not None and refused.rules == ("CORRECTION_TARGET",) and problems == []


def test_the_core_is_back_after_each_issue_12_teeth_test() -> None:
    """monkeypatch restored the core."""
    assert all(guards.CHECKS[r].__module__ == "pathway.guards" for r in INDICATION_RULES + ["TOCI_DOSE_MAX"])
    assert guards.ROUTES["refractory_prerequisites"].__module__ == "pathway.guards"
    assert policy_module.HARD_LIMITS is HARD_LIMITS and dosing.toci_dose_mg.__module__ == "pathway.dosing"
    assert history._target.__module__ == "pathway.history" and history._target.__name__ == "_target"
    assert {r.id for r in STEROID_COURSE} <= {r.id for r in PATHWAY[State.REFRACTORY].recommends}
