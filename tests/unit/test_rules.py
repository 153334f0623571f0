"""Each rule refuses at its boundary and passes just inside it; overrides pass only overridable rules."""

from datetime import timedelta

import pytest

from pathway.commands import AdministerDose, RecordObservation
from pathway.errors import Refused
from pathway.machine import decide
from pathway.observations import Observation
from pathway.policy import Policy
from tests.scenarios.driver import Driver, t

GRADE3 = {"temp_c": 39.0, "o2_device": "hfnc", "o2_flow_lpm": 30}
GRADE2 = {"temp_c": 38.6, "o2_device": "nasal-cannula", "o2_flow_lpm": 3}
GRADE4 = {"temp_c": 39.0, "o2_device": "bipap"}


def driver(weight_kg: float = 52, age_years: float = 40, policy: Policy | None = None, **first_obs: object) -> Driver:
    d = Driver()
    d.open(t(-1), patient_ref="P-1", weight_kg=weight_kg, age_years=age_years, **({"policy": policy} if policy else {}))
    if first_obs:
        d.observe(t(0), **first_obs)
    return d


def refused(fn, *args, **kwargs) -> Refused:  # type: ignore[no-untyped-def]
    with pytest.raises(Refused) as err:
        fn(*args, **kwargs)
    return err.value


@pytest.mark.parametrize(("weight", "ok", "too_much"), [(52, 457.6, 457.7), (20, 264.0, 264.1), (120, 800, 800.1)])
def test_toci_dose_max(weight: float, ok: float, too_much: float) -> None:
    d = driver(weight_kg=weight, **GRADE3)
    r = refused(d.give, t(1), "tocilizumab", too_much)
    assert r.rule == "TOCI_DOSE_MAX" and not r.overridable
    assert refused(d.give, t(1), "tocilizumab", too_much, override="I insist").rule == "TOCI_DOSE_MAX"
    assert d.give(t(1), "tocilizumab", ok).to_state == "tocilizumab"


def test_toci_min_interval_is_hard_with_earliest_time() -> None:
    d = driver(**GRADE3)
    d.give(t(1), "tocilizumab", 400)
    r = refused(d.give, t(8.99), "tocilizumab", 400, override="urgent")
    assert (r.rule, r.overridable, r.earliest_at) == ("TOCI_MIN_INTERVAL", False, t(9))
    assert d.give(t(9), "tocilizumab", 400).data["dose_number"] == 2


def test_toci_max_doses_policy_limit_is_overridable_and_hard_limits_are_not() -> None:
    d = driver(**GRADE3)
    for h in (1, 9):
        d.give(t(h), "tocilizumab", 400)
    r = refused(d.give, t(17), "tocilizumab", 400)
    assert (r.rule, r.overridable) == ("TOCI_MAX_DOSES", True)
    third = d.give(t(17), "tocilizumab", 400, override="ICU consultant: persistent grade 3")
    assert third.override is not None and third.override.rules == ("TOCI_MAX_DOSES",)
    # the 8 h interval keeps a fourth dose outside the first one's 24 h; the episode's hard 4 still binds
    d.give(t(25), "tocilizumab", 400, override="again")
    r = refused(d.give, t(60), "tocilizumab", 400, override="fifth")
    assert (r.rule, r.overridable) == ("TOCI_MAX_DOSES", False) and "hard limit 4" in r.message


def test_toci_indication_needs_grade_2() -> None:
    d = driver(temp_c=38.5)
    r = refused(d.give, t(1), "tocilizumab", 400)
    assert (r.rule, r.overridable) == ("TOCI_INDICATION", True)
    d.observe(t(2), **GRADE2)
    assert d.give(t(2), "tocilizumab", 400).override is None


def test_toci_indication_grade_1_fever_persisting_beyond_72h() -> None:
    d = driver(temp_c=38.5, o2_device="room-air")
    d.observe(t(72), temp_c=38.4, o2_device="room-air")
    assert refused(d.give, t(72), "tocilizumab", 400).rule == "TOCI_INDICATION"
    d.observe(t(72.5), temp_c=38.3, o2_device="room-air")
    assert d.give(t(72.5), "tocilizumab", 400).override is None


def test_toci_indication_is_not_met_by_a_not_assessed_crs() -> None:
    """v2: a fever with no oxygen support recorded is CRS not assessed, never grade 1 (nor 2)."""
    d = driver(temp_c=38.5)
    d.observe(t(72.5), temp_c=38.3, hypotension=True)
    r = refused(d.give, t(72.5), "tocilizumab", 400)
    assert r.rule == "TOCI_INDICATION" and "no assessed CRS grade on record" in r.message


def test_toci_not_indicated_for_icans_alone() -> None:
    d = driver(temp_c=37.0, o2_device="room-air", ice_score=4)  # CRS 0 (assessed), ICANS 2
    assert refused(d.give, t(1), "tocilizumab", 400).rule == "TOCI_INDICATION"
    assert d.give(t(1), "dexamethasone", 10).to_state == "steroid"  # ICANS grade 2: steroids


@pytest.mark.parametrize(("drug", "ok", "too_much"), [("dexamethasone", 20, 20.1), ("methylprednisolone", 1000, 1000.1)])
def test_steroid_dose_max(drug: str, ok: float, too_much: float) -> None:
    d = driver(**GRADE4)
    assert refused(d.give, t(1), drug, too_much, override="x").rule == "STEROID_DOSE_MAX"
    assert d.give(t(1), drug, ok).to_state == "escalated_steroid"


def test_methylprednisolone_2000_mg_in_24h() -> None:
    d = driver(weight_kg=80, **GRADE4)  # 80 kg: the per-kg ceiling (30 mg/kg = 2400 mg a day) does not bind
    d.give(t(1), "methylprednisolone", 1000)
    d.give(t(2), "methylprednisolone", 1000)
    r = refused(d.give, t(24.9), "methylprednisolone", 100)
    assert r.rule == "STEROID_DOSE_MAX" and r.earliest_at == t(25)
    d.give(t(25), "methylprednisolone", 1000)


def test_steroid_indication() -> None:
    d = driver(**GRADE2)
    r = refused(d.give, t(1), "dexamethasone", 10)
    assert (r.rule, r.overridable) == ("STEROID_INDICATION", True)
    d.give(t(1), "tocilizumab", 400)
    d.observe(t(8.9), **GRADE2)
    assert refused(d.give, t(8.9), "dexamethasone", 10).rule == "STEROID_INDICATION"
    d.observe(t(9), **GRADE2)  # grade 2 persisting 8 h after tocilizumab without improvement
    assert d.give(t(9), "dexamethasone", 10).override is None


def test_escalation_order_and_its_exceptions() -> None:
    d = driver(**GRADE3)
    d.give(t(1), "dexamethasone", 10)
    d.observe(t(24.9), **GRADE3)
    r = refused(d.give, t(24.9), "dexamethasone", 20)
    assert (r.rule, r.overridable, r.earliest_at) == ("ESCALATION_ORDER", True, t(25))
    d.observe(t(25), **GRADE3)
    assert d.give(t(25), "dexamethasone", 20).to_state == "escalated_steroid"

    worse = driver(**GRADE2)
    worse.give(t(1), "tocilizumab", 400)
    worse.observe(t(2), **GRADE3)
    worse.give(t(2), "dexamethasone", 10)
    worse.observe(t(3), temp_c=39, vasopressors=2, o2_device="room-air")  # grade 4: escalate at once
    assert worse.give(t(3), "methylprednisolone", 1000).to_state == "escalated_steroid"


def test_escalated_steroid_under_override_does_not_skip_the_standard_phase() -> None:
    d = driver(**GRADE3)
    e = d.give(t(1), "methylprednisolone", 1000, override="attending decision")
    assert e.to_state == "steroid" and e.override.rules == ("ESCALATION_ORDER",)


def test_refractory_order() -> None:
    d = driver(**GRADE3)
    r = refused(d.give, t(1), "siltuximab", 500)
    assert (r.rule, r.overridable) == ("REFRACTORY_ORDER", True) and "tocilizumab and a corticosteroid" in r.message
    d.give(t(1), "tocilizumab", 400)
    d.give(t(1), "dexamethasone", 10)
    assert d.give(t(2), "siltuximab", 500).to_state == "refractory"


@pytest.mark.parametrize(("drug", "dose", "first", "rule"), [("anakinra", 100.1, None, "DOSE_MAX"),
                                                              ("siltuximab", 629.3, None, "DOSE_MAX"),
                                                              ("anakinra", 100, 400, "DOSE_MAX")])
def test_dose_max(drug: str, dose: float, first: float | None, rule: str) -> None:
    d = driver(**GRADE3)
    d.give(t(1), "tocilizumab", 400)
    d.give(t(1), "dexamethasone", 10)
    if first:
        for i in range(int(first // 100)):
            d.give(t(2 + i), drug, 100)
    assert refused(d.give, t(6), drug, dose, override="x").rule == rule


def test_siltuximab_ceiling_is_11_mg_per_kg_plus_10_percent() -> None:
    d = driver(**GRADE3)
    d.give(t(1), "tocilizumab", 400)
    d.give(t(1), "dexamethasone", 10)
    assert d.give(t(2), "siltuximab", 629.2).to_state == "refractory"  # 52 kg × 11 × 1.1


def test_route() -> None:
    d = driver(**GRADE3)
    with pytest.raises(Refused) as err:
        d.step(AdministerDose(at=t(1), actor="a", episode_id="E0001", drug="tocilizumab", dose_mg=400, route="po"))
    assert err.value.rule == "DRUG_ROUTE"


ZERO = {"temp_c": 36.8, "o2_device": "room-air", "ice_score": 10, "consciousness": "awake"}


def test_resolve_criteria() -> None:
    d = driver(**ZERO)
    r = refused(d.resolve, t(23.9))
    assert (r.rule, r.overridable, r.earliest_at) == ("RESOLVE_CRITERIA", True, t(24))
    d.observe(t(24), **{**ZERO, "temp_c": 36.9})
    assert d.resolve(t(24)).to_state == "resolved"


@pytest.mark.parametrize("partial", [{"temp_c": 36.8}, {"temp_c": 36.8, "o2_device": "room-air"},
                                     {"temp_c": 36.8, "o2_device": "room-air", "ice_score": 10},
                                     {"temp_c": 36.8, "o2_device": "room-air", "consciousness": "awake"},
                                     {"ice_score": 10, "consciousness": "awake"}, {}])
def test_resolve_needs_fully_assessed_zeros(partial: dict) -> None:
    """v2: a partly assessed or unassessed observation never counts toward resolution, and breaks the streak."""
    d = driver(**partial)
    d.observe(t(24), **partial)
    r = refused(d.resolve, t(24))
    assert (r.rule, r.overridable, r.earliest_at) == ("RESOLVE_CRITERIA", True, None)
    full = driver(**ZERO)
    full.observe(t(12), **partial)  # one partial observation inside the window breaks the streak
    full.observe(t(24), **ZERO)
    assert refused(full.resolve, t(24)).earliest_at == t(48)


def test_resolve_breaks_on_a_nonzero_grade() -> None:
    d = driver(**ZERO)
    d.observe(t(20), **{**ZERO, "temp_c": 38.2})
    d.observe(t(30), **ZERO)
    assert refused(d.resolve, t(30)).rule == "RESOLVE_CRITERIA"
    assert d.resolve(t(31), override="transfer to ward, resolved clinically").override is not None


def test_time_order_and_future() -> None:
    d = driver(**GRADE3)
    r = refused(d.observe, t(-0.5), **GRADE3)
    assert (r.rule, r.overridable) == ("TIME_ORDER", False)
    assert d.episode is not None
    cmd = RecordObservation(at=t(1), actor="a", episode_id="E0001", observation=Observation(**GRADE3))
    with pytest.raises(Refused) as err:
        decide(d.episode, cmd, now=t(1) - timedelta(minutes=5, seconds=1))
    assert err.value.rule == "TIME_FUTURE"
    decide(d.episode, cmd, now=t(1) - timedelta(minutes=5))


def test_closed_episode_refuses_everything() -> None:
    d = driver(**GRADE3)
    d.close(t(1))
    for attempt in (lambda: d.observe(t(2), temp_c=37), lambda: d.give(t(2), "dexamethasone", 10, override="x"),
                    lambda: d.act(t(2), "labs"), lambda: d.resolve(t(2), override="x"), lambda: d.close(t(2))):
        assert refused(attempt).rule == "EPISODE_CLOSED"


def test_several_rules_hard_first_and_override_must_cover_all() -> None:
    d = driver(temp_c=37.0)  # no indication for anything
    d.give(t(1), "tocilizumab", 400, override="pre-emptive per attending")
    r = refused(d.give, t(2), "tocilizumab", 400)
    assert r.rules == ("TOCI_MIN_INTERVAL", "TOCI_INDICATION") and not r.overridable
    assert refused(d.give, t(2), "tocilizumab", 400, override="x").rule == "TOCI_MIN_INTERVAL"


def test_refusal_leaves_the_episode_untouched() -> None:
    d = driver(**GRADE3)
    before = d.episode
    refused(d.give, t(1), "tocilizumab", 9000)
    assert d.episode is before and d.episode == before and len(d.events) == 2


def test_as_of_replays_to_a_clinical_time() -> None:
    from pathway.episode import fold

    d = driver(**GRADE3)
    d.give(t(1), "tocilizumab", 400)
    d.give(t(2), "dexamethasone", 10)
    assert fold(d.events, as_of=t(1.5)).state == "tocilizumab"
    assert fold(d.events, as_of=t(0)).state == "assessment"
    assert fold(d.events).state == "steroid"
