"""Seed 001 (shared/scenarios/README.md): adult after CAR-T, persistent CRS with oxygen need.

Provenance only: the case comes from shared/seeds/001_942d76535a7cdb6b.txt; no answer shown to a clinician
may cite the seed (CLINICAL.md, Sources; HAZARDS H14), which every status below checks.

Expectations changed for CLINICAL.md v2 / scenarios README version 2 (issue 9), each with its reason:
- The resolution observations at T0+70, 82 and 95 h now record `--ice 10 --consciousness awake` (README v2):
  an unassessed ICANS is no longer grade 0, and resolution needs fully assessed zeros (§2, §7). The same
  episode WITHOUT those neuro inputs is refused by RESOLVE_CRITERIA at T0+95.1 h (built as a variant below).
- ICANS grade is null (not assessed) at T0, T0+9, T0+34 and T0+60 h, which record no neuro input (§2), and
  the first next step there is `assess` asking for the ICE score and consciousness.
- T0+34 h: the escalation is ONE step with alternatives (dexamethasone 20 mg q6h OR methylprednisolone
  1000 mg/day), no longer two steps (§5, HAZARDS H11).
- T0+60 h: anakinra 100 mg / siltuximab 770 mg are ONE step with alternatives (§5); the escalated steroid
  course stays on offer beside them (methylprednisolone 1000 mg, day 2: refractory drugs are added to
  steroids, not substituted, §5, HAZARDS H12); and a repeat tocilizumab 560 mg (dose 2 of 2) stays on offer
  while its rules allow it (§5), where v1 offered none in escalated_steroid.
Unchanged: every CRS grade, the doses (tocilizumab 560, dexamethasone 10, methylprednisolone 1000, siltuximab
11 mg/kg = 770), the states, the methylprednisolone taper after resolve, EPISODE_CLOSED.
"""

from pathlib import Path
from typing import Any

import pytest

from pathway.errors import Refused
from pathway.replay import replay_problems
from tests.scenarios.driver import Driver, acts, alternatives, citations, gives, steroid_steps, t

SEED = Path(__file__).resolve().parents[3] / "shared" / "seeds" / "001_942d76535a7cdb6b.txt"
NEURO = {"ice_score": 10, "consciousness": "awake"}  # README v2: the neuro assessment of the calm observations


def step_until_calm(d: Driver, out: dict[str, Any], neuro: dict[str, Any]) -> None:
    """The seed's steps from opening to the last calm observation at T0+95 h."""
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
    out["calm"] = [d.observe(t(h), temp_c=36.8, o2_device="room-air", **neuro) for h in (70, 82, 95)]


@pytest.fixture(scope="module")
def run() -> dict:
    d = Driver()
    out: dict = {"driver": d}
    step_until_calm(d, out, NEURO)
    out["resolve"] = d.resolve(t(95.1))
    out["resolved"] = d.status(t(95.1))
    out["close"] = d.close(t(96), reason="CRS resolved")
    with pytest.raises(Refused) as after_close:
        d.observe(t(97), temp_c=37.0)
    out["after_close"] = after_close.value
    return out


@pytest.fixture(scope="module")
def without_neuro() -> dict:
    """The variant of README v2: the same episode with the calm observations lacking the neuro inputs."""
    d = Driver()
    out: dict = {"driver": d}
    step_until_calm(d, out, {})
    with pytest.raises(Refused) as refused:
        d.resolve(t(95.1))
    out["refused"] = refused.value
    return out


def statuses(run: dict) -> list[dict]:
    return [run["obs0"], run["obs9"], run["obs34"], run["obs60"], *run["calm"], run["resolved"]]


@pytest.mark.skipif(not SEED.parent.is_dir(), reason="shared/seeds is not beside this checkout")
def test_provenance_seed_file_is_beside_the_checkout() -> None:
    assert SEED.is_file()


def test_seed_is_never_a_clinician_facing_citation(run: dict) -> None:
    for status in statuses(run):
        assert not [c for c in citations(status) if c.upper().startswith("SEED")]


def test_at_most_one_steroid_step_in_every_status(run: dict) -> None:
    for status in statuses(run):
        assert len(steroid_steps(status)) <= 1


def test_open_and_supportive_actions(run: dict) -> None:
    assert run["open"].state == "assessment"
    assert [e.data["action"] for e in run["acts"]] == ["antibiotics", "antifungal-prophylaxis", "infection-workup"]


def test_v2_icans_not_assessed_without_neuro_input(run: dict) -> None:
    for name in ("obs0", "obs9", "obs34", "obs60"):
        status = run[name]
        assert status["icans_grade"] is None, name
        first = status["next_steps"][0]
        assert (first["kind"], first["missing"]) == ("assess", ["ice_score", "consciousness"]), name


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
    # v2: one step, dexamethasone 20 mg q6h OR methylprednisolone 1000 mg/day
    assert alternatives(status) == [[("dexamethasone", 20.0), ("methylprednisolone", 1000.0)]]
    assert run["mp"].to_state == "escalated_steroid"


def test_grade_4_refractory_recommends_anakinra_and_siltuximab(run: dict) -> None:
    status = run["obs60"]
    assert status["crs_grade"] == 4
    assert {("anakinra", 100.0), ("siltuximab", 770.0)} <= set(gives(status))
    assert run["anakinra"].to_state == "refractory"


def test_v2_grade_4_refractory_is_one_step_beside_the_steroid_course_and_a_repeat(run: dict) -> None:
    status = run["obs60"]
    refractory = [s for s in status["next_steps"] if s.get("rule") == "REC_REFRACTORY"]
    assert len(refractory) == 1
    assert [(o["drug"], o["dose_mg"]) for o in refractory[0]["alternatives"]] == [("anakinra", 100.0),
                                                                                 ("siltuximab", 770.0)]
    [steroid] = steroid_steps(status)  # the escalated course continues (day 2): added to, not replaced
    assert (steroid["rule"], steroid["drug"], steroid["dose_mg"]) == ("REC_STEROID_ESCALATED_CONTINUE",
                                                                      "methylprednisolone", 1000.0)
    [toci] = [s for s in status["next_steps"] if s.get("drug") == "tocilizumab"]
    assert toci["dose_mg"] == 560.0 and "dose 2 of 2" in toci["why"]


def test_grade_0_then_resolve_recommends_taper(run: dict) -> None:
    assert [(s["crs_grade"], s["icans_grade"]) for s in run["calm"]] == [(0, 0)] * 3
    assert all(s["basis"]["icans"]["missing"] == [] for s in run["calm"])  # fully assessed (v2)
    assert run["resolve"].to_state == "resolved" and run["resolve"].override is None
    taper = [s for s in run["resolved"]["next_steps"] if s.get("rule", "").startswith("REC_TAPER")]
    assert taper and taper[0]["drug"] == "methylprednisolone" and taper[0]["schedule"]


def test_v2_resolve_without_the_neuro_inputs_is_refused(without_neuro: dict) -> None:
    assert [(s["crs_grade"], s["icans_grade"]) for s in without_neuro["calm"]] == [(0, None)] * 3
    assert all(s["resolution_criteria_at"] is None for s in without_neuro["calm"])
    refused = without_neuro["refused"]
    assert refused.rules == ("RESOLVE_CRITERIA",) and refused.overridable
    assert without_neuro["driver"].episode.state == "refractory"  # nothing written


def test_closed_episode_takes_no_step(run: dict) -> None:
    assert run["close"].to_state == "closed"
    assert run["after_close"].rule == "EPISODE_CLOSED" and not run["after_close"].overridable


def test_history_replays(run: dict) -> None:
    assert replay_problems(run["driver"].events) == []
