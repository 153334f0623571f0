"""Seed 001 (shared/scenarios/README.md): adult after CAR-T, persistent CRS with oxygen need."""

import pytest

from pathway.errors import Refused
from pathway.replay import replay_problems
from tests.scenarios.driver import Driver, acts, gives, t


@pytest.fixture(scope="module")
def run() -> dict:
    d = Driver()
    out: dict = {"driver": d}
    out["open"] = d.open(t(-12), patient_ref="CART-70", weight_kg=70, age_years=58)
    out["acts"] = [d.act(t(-12), a) for a in ("antibiotics", "antifungal-prophylaxis", "infection-workup")]
    out["obs0"] = d.observe(t(0), temp_c=38.6, o2_device="nasal-cannula", o2_flow_lpm=4)
    out["toci"] = d.give(t(10 / 60), "tocilizumab", 560)
    out["obs9"] = d.observe(t(9), temp_c=38.8, o2_device="hfnc", o2_flow_lpm=30)
    out["dex"] = d.give(t(9.2), "dexamethasone", 10)
    out["obs34"] = d.observe(t(34), temp_c=38.5, o2_device="hfnc", o2_flow_lpm=40)
    out["mp"] = d.give(t(34.2), "methylprednisolone", 1000)
    out["obs60"] = d.observe(t(60), temp_c=38.6, o2_device="bipap")
    out["anakinra"] = d.give(t(60.2), "anakinra", 100)
    out["calm"] = [d.observe(t(h), temp_c=36.8, o2_device="room-air") for h in (70, 82, 95)]
    out["resolve"] = d.resolve(t(95.1))
    out["resolved"] = d.status(t(95.1))
    out["close"] = d.close(t(96), reason="CRS resolved")
    with pytest.raises(Refused) as after_close:
        d.observe(t(97), temp_c=37.0)
    out["after_close"] = after_close.value
    return out


def test_open_and_supportive_actions(run: dict) -> None:
    assert run["open"].state == "assessment"
    assert [e.data["action"] for e in run["acts"]] == ["antibiotics", "antifungal-prophylaxis", "infection-workup"]


def test_grade_2_recommends_tocilizumab_560_telemetry_labs(run: dict) -> None:
    status = run["obs0"]
    assert status["crs_grade"] == 2
    assert ("tocilizumab", 560.0) in gives(status)
    assert {"telemetry", "labs"} <= set(acts(status))
    assert "infection-workup" not in acts(status)  # already recorded


def test_tocilizumab_opens_its_state(run: dict) -> None:
    assert run["toci"].to_state == "tocilizumab"


def test_worse_at_9h_recommends_steroid_icu_echo_and_repeat(run: dict) -> None:
    status = run["obs9"]
    assert status["crs_grade"] == 3
    assert ("dexamethasone", 10.0) in gives(status) and ("tocilizumab", 560.0) in gives(status)
    assert {"icu-transfer", "echocardiogram"} <= set(acts(status))


def test_dexamethasone_opens_steroid(run: dict) -> None:
    assert run["dex"].to_state == "steroid"


def test_grade_3_after_24h_of_steroid_recommends_escalation(run: dict) -> None:
    status = run["obs34"]
    assert status["crs_grade"] == 3
    assert ("methylprednisolone", 1000.0) in gives(status)
    assert run["mp"].to_state == "escalated_steroid"


def test_grade_4_refractory_recommends_anakinra_and_siltuximab(run: dict) -> None:
    status = run["obs60"]
    assert status["crs_grade"] == 4
    assert {("anakinra", 100.0), ("siltuximab", 770.0)} <= set(gives(status))
    assert run["anakinra"].to_state == "refractory"


def test_grade_0_then_resolve_recommends_taper(run: dict) -> None:
    assert [(s["crs_grade"], s["icans_grade"]) for s in run["calm"]] == [(0, 0)] * 3
    assert run["resolve"].to_state == "resolved" and run["resolve"].override is None
    taper = [s for s in run["resolved"]["next_steps"] if s.get("rule", "").startswith("REC_TAPER")]
    assert taper and taper[0]["drug"] == "methylprednisolone" and taper[0]["schedule"]


def test_closed_episode_takes_no_step(run: dict) -> None:
    assert run["close"].to_state == "closed"
    assert run["after_close"].rule == "EPISODE_CLOSED" and not run["after_close"].overridable


def test_history_replays(run: dict) -> None:
    assert replay_problems(run["driver"].events) == []
