"""Counterexamples found by the property suite, pinned by name so they stay found.

A regression the core has not fixed yet is marked xfail(strict=True): when the core is fixed the
test XPASSes, strict turns that into a failure, and the marker comes off.

R1 / R1b (found by the history invariant TOCI_DOSE_MAX / DOSE_MAX with random weights): the
core rounded its weight-based ceilings to the NEAREST 0.1 mg, so at 52.37 kg it accepted
tocilizumab 460.9 mg (limit 8 mg/kg + 10 % = 460.856 mg) and siltuximab 633.7 mg (limit
633.677 mg). Fixed in f184e53 (ceilings round down, pathway.dosing.floor_tenth_mg); the markers are off.

R2 (found while building random valid policies; fixed: the child band may not rise above 30 kg, and the
recommended dose is capped at the hard ceiling): a policy may move the 12 mg/kg child band
above 30 kg (toci_child_weight_kg=40 validates), so for a 35 kg patient the regimen is 420 mg, above
the hard ceiling of 308 mg; status() then drops tocilizumab silently (safe, but an indicated first-line
drug vanishes from next_steps with no warning).
"""

from datetime import datetime, timedelta, timezone

import pytest

from pathway.commands import AdministerDose, OpenEpisode, RecordObservation
from pathway.episode import Episode, apply
from pathway.errors import Refused
from pathway.machine import decide, decide_open
from pathway.policy import Policy
from pathway.recommend import status
from tests.properties import safety
from tests.properties.strategies import graded_observation

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
EID = "EP-REG"


def _graded_episode(weight_kg: float, age_years: float = 40.0) -> Episode:
    """Opened at T0 and observed at CRS grade 3 (tocilizumab indicated)."""
    ep = apply(None, decide_open(OpenEpisode(at=T0, actor="qa", patient_ref="REG-1", weight_kg=weight_kg,
                                             age_years=age_years), EID, T0))
    obs = RecordObservation(at=T0, actor="qa", episode_id=EID, observation=graded_observation(3))
    return apply(ep, decide(ep, obs, T0))


def _give(ep: Episode, drug: str, dose_mg: float, reason: str | None = None) -> None:
    decide(ep, AdministerDose(at=T0 + timedelta(minutes=1), actor="qa", episode_id=EID, drug=drug, dose_mg=dose_mg,
                              override_reason=reason), T0 + timedelta(minutes=1))


def test_r1_tocilizumab_ceiling_is_not_rounded_above_the_hard_limit() -> None:
    """52.37 kg: 8 mg/kg + 10 % = 460.856 mg, so 460.9 mg is refused and 460.8 mg allowed."""
    weight = 52.37
    assert safety.toci_limit_mg(weight) == pytest.approx(460.856)
    ep = _graded_episode(weight)
    _give(ep, "tocilizumab", 460.8)
    with pytest.raises(Refused) as refused:
        _give(ep, "tocilizumab", 460.9)
    assert refused.value.rule == "TOCI_DOSE_MAX"


def test_r1b_siltuximab_ceiling_is_not_rounded_above_the_hard_limit() -> None:
    """52.37 kg: 11 mg/kg + 10 % = 633.677 mg, so 633.7 mg is refused (the order rule overridden)."""
    weight = 52.37
    assert safety.siltuximab_limit_mg(weight) == pytest.approx(633.677)
    with pytest.raises(Refused) as refused:
        _give(_graded_episode(weight), "siltuximab", 633.7, reason="refractory line started elsewhere")
    assert refused.value.rule == "DOSE_MAX"


def test_r1_boundary_of_the_seed_patient_is_exact() -> None:
    """52 kg (seed 000): 457.6 mg is the ceiling itself and allowed; 457.7 mg is refused (hard)."""
    ep = _graded_episode(52.0, age_years=15)
    _give(ep, "tocilizumab", 457.6)
    with pytest.raises(Refused) as refused:
        _give(ep, "tocilizumab", 457.7)
    assert refused.value.rule == "TOCI_DOSE_MAX" and not refused.value.overridable


def test_r1_old_rounding_is_caught_by_the_state_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Put the old nearest-0.1 mg rounding back: the stateful suite must find the breach again."""
    from hypothesis import HealthCheck, Phase, settings
    from hypothesis.stateful import run_state_machine_as_test

    from pathway import dosing
    from tests.properties.episode_machine import DefaultPolicyEpisodes

    monkeypatch.setattr(dosing, "floor_tenth_mg", lambda value: round(value, 1))
    teeth = type("R1Episodes", (DefaultPolicyEpisodes,), {"REFERENCE": False, "DEEP_TEARDOWN": False,
                                                          "COUNTED": False})
    with pytest.raises(AssertionError, match=r"(TOCI_DOSE_MAX|DOSE_MAX): seq \d+ (tocilizumab|siltuximab)"):
        run_state_machine_as_test(teeth, settings=settings(
            max_examples=1000, derandomize=True, database=None, deadline=None, phases=[Phase.generate],
            report_multiple_bugs=False, print_blob=False, stateful_step_count=15,
            suppress_health_check=list(HealthCheck)))


def test_r2_a_valid_policy_cannot_silence_indicated_tocilizumab() -> None:
    try:
        policy = Policy(toci_child_weight_kg=40.0)
    except ValueError:
        return  # fixed by validation: such a policy cannot exist
    ep = apply(None, decide_open(OpenEpisode(at=T0, actor="qa", patient_ref="REG-2", weight_kg=35.0, age_years=40,
                                             policy=policy), EID, T0))
    ep = apply(ep, decide(ep, RecordObservation(at=T0, actor="qa", episode_id=EID,
                                                observation=graded_observation(3)), T0))
    steps = status(ep, T0)["next_steps"]
    toci = [s for s in steps if s["kind"] == "give" and s["drug"] == "tocilizumab"]
    assert toci and toci[0]["dose_mg"] <= safety.toci_limit_mg(35.0)
