"""Seed 000 (shared/scenarios/README.md): post-haplo HSCT, 15 y, 52 kg, grade 3 after tocilizumab and anakinra."""

import pytest

from pathway.errors import Refused
from pathway.episode import fold
from pathway.replay import replay_problems
from tests.scenarios.driver import Driver, acts, gives, t


@pytest.fixture(scope="module")
def run() -> dict:
    """Step the whole scenario once; each test asserts one row of the table."""
    d = Driver()
    out: dict = {"driver": d}
    out["open"] = d.open(t(-50), patient_ref="DC-15", weight_kg=52, age_years=15,
                         context="day 11 post-haplo HSCT, dyskeratosis congenita")
    with pytest.raises(Refused) as anakinra:
        d.give(t(-48), "anakinra", 100)
    out["anakinra_refused"] = anakinra.value
    out["anakinra"] = d.give(t(-48), "anakinra", 100, override="given at referring centre before transfer")
    out["obs1"] = d.observe(t(-24.5), temp_c=39.4, o2_device="hfnc", o2_flow_lpm=30, fio2=0.35)
    out["toci1"] = d.give(t(-24), "tocilizumab", 400)
    out["obs2"] = d.observe(t(0), temp_c=39.1, o2_device="hfnc", o2_flow_lpm=50, fio2=0.35)
    out["toci2"] = d.give(t(5 / 60), "tocilizumab", 400)
    out["dex"] = d.give(t(10 / 60), "dexamethasone", 10)
    out["after_dex"] = d.status(t(10 / 60))
    with pytest.raises(Refused) as toci3:
        d.give(t(1), "tocilizumab", 400)
    out["toci3_refused"] = toci3.value
    out["obs3"] = d.observe(t(6), temp_c=38.9, o2_device="hfnc", o2_flow_lpm=50, fio2=0.4)
    with pytest.raises(Refused) as mp_early:
        d.give(t(6), "methylprednisolone", 1000)
    out["mp_refused"] = mp_early.value
    out["obs4"] = d.observe(t(24.5), temp_c=38.8, o2_device="hfnc", o2_flow_lpm=50, fio2=0.4)
    out["mp"] = d.give(t(25), "methylprednisolone", 1000)
    return out


def test_opens_in_assessment(run: dict) -> None:
    assert run["open"].state == "assessment"


def test_anakinra_before_pathway_is_refused_as_overridable(run: dict) -> None:
    refused = run["anakinra_refused"]
    assert refused.rule == "REFRACTORY_ORDER" and refused.overridable


def test_anakinra_under_override_is_a_deviation_that_skips_nothing(run: dict) -> None:
    event = run["anakinra"]
    assert event.override is not None
    assert event.override.rules == ("REFRACTORY_ORDER",)
    assert event.override.reason == "given at referring centre before transfer"
    assert event.to_state == "assessment"


def test_grade_3_on_hfnc_recommends_weight_based_tocilizumab(run: dict) -> None:
    status = run["obs1"]
    assert status["crs_grade"] == 3
    assert ("tocilizumab", 416.0) in gives(status)
    toci = next(s for s in status["next_steps"] if s.get("drug") == "tocilizumab")
    assert "8 mg/kg" in toci["why"] and toci["route"] == "iv" and toci["citations"]


def test_first_tocilizumab_accepted(run: dict) -> None:
    assert run["toci1"].to_state == "tocilizumab" and run["toci1"].override is None


def test_no_improvement_after_24h_recommends_icu_steroid_workup_and_repeat(run: dict) -> None:
    status = run["obs2"]
    assert status["crs_grade"] == 3
    assert {"icu-transfer", "infection-workup", "antibiotics"} <= set(acts(status))
    dex = next(s for s in status["next_steps"] if s.get("drug") == "dexamethasone")
    assert (dex["dose_mg"], dex["route"], dex["every_hours"]) == (10.0, "iv", 6.0)
    toci = next(s for s in status["next_steps"] if s.get("drug") == "tocilizumab")
    assert "dose 2 of 2" in toci["why"]
    # the ICU transfer comes before the drugs: most urgent first
    kinds = [s.get("action") or s.get("drug") for s in status["next_steps"]]
    assert kinds.index("icu-transfer") < kinds.index("dexamethasone")


def test_second_tocilizumab_and_dexamethasone_accepted(run: dict) -> None:
    assert run["toci2"].data["dose_number"] == 2
    assert run["dex"].to_state == "steroid"
    assert "antifungal-prophylaxis" in acts(run["after_dex"])


def test_third_tocilizumab_within_8h_is_a_hard_refusal_with_earliest_time(run: dict) -> None:
    refused = run["toci3_refused"]
    assert refused.rule == "TOCI_MIN_INTERVAL" and not refused.overridable
    assert refused.earliest_at == t(5 / 60 + 8)


def test_escalation_not_due_at_6h(run: dict) -> None:
    status = run["obs3"]
    assert status["crs_grade"] == 3
    assert ("methylprednisolone", 1000.0) not in gives(status)
    assert any(d.get("rule") == "ESCALATION_ORDER" for d in status["due"])


def test_early_methylprednisolone_refused_as_overridable(run: dict) -> None:
    refused = run["mp_refused"]
    assert refused.rule == "ESCALATION_ORDER" and refused.overridable
    assert refused.earliest_at == t(10 / 60 + 24)


def test_no_improvement_after_24h_of_dexamethasone_recommends_escalation(run: dict) -> None:
    status = run["obs4"]
    assert status["crs_grade"] == 3
    assert {("dexamethasone", 20.0), ("methylprednisolone", 1000.0)} <= set(gives(status))


def test_methylprednisolone_escalates(run: dict) -> None:
    assert run["mp"].to_state == "escalated_steroid"


def test_history_replays_and_records_one_deviation(run: dict) -> None:
    d = run["driver"]
    assert fold(d.events) == d.episode
    assert replay_problems(d.events) == []
    assert [e.override.reason for e in d.events if e.override] == ["given at referring centre before transfer"]
