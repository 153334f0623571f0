"""Seed 000 (shared/scenarios/README.md): post-haplo HSCT, 15 y, 52 kg, grade 3 after tocilizumab and anakinra.

Provenance only: the case comes from shared/seeds/000_cc2896f6a1012c3b.txt; no answer shown to a clinician
may cite the seed (CLINICAL.md, Sources; HAZARDS H14), which every status below checks.

Expectations changed for CLINICAL.md v2 / scenarios README version 2 (issue 9), each with its reason:
- ICANS grade is null (not assessed), no longer 0, at every observation: none records an ICE score or the
  level of consciousness (§2 "ICANS is not assessed ... unless"; README v2 note).
- The first next step is now `assess` asking for the neuro assessment (missing ice_score, consciousness: a
  15-year-old is screened with ICE, §2b) -- before the ICU transfer, which stays ahead of the drugs (§1, §7).
  At opening, with nothing recorded, it asks for all four items.
- The reassessment is due at the opening time while ICANS has never been assessed (§7: the first assessment
  is due at once; deadlines from recorded times), no longer 4 h after the latest observation.
- At T0+24.5 h the escalation is ONE step with alternatives, dexamethasone 20 mg q6h OR methylprednisolone
  1000 mg/day (§5: alternatives are one step, never two steps to both be given; HAZARDS H11), where v1
  listed them as two give steps.
Unchanged: every grade of CRS, every refusal and its rule, the tocilizumab doses (416 mg; repeat 2 of 2 at T0),
dexamethasone 10 mg q6h at T0, antifungal prophylaxis, escalation not due at T0+6 h.
"""

from pathlib import Path

import pytest

from pathway.errors import Refused
from pathway.episode import fold
from pathway.replay import replay_problems
from tests.scenarios.driver import Driver, acts, citations, gives, steroid_steps, t

SEED = Path(__file__).resolve().parents[3] / "shared" / "seeds" / "000_cc2896f6a1012c3b.txt"
STATUSES = ("open_status", "obs1", "obs2", "after_dex", "obs3", "obs4", "after_mp")


@pytest.fixture(scope="module")
def run() -> dict:
    """Step the whole scenario once; each test asserts one row of the table."""
    d = Driver()
    out: dict = {"driver": d}
    out["open"] = d.open(t(-50), patient_ref="DC-15", weight_kg=52, age_years=15,
                         context="day 11 post-haplo HSCT, dyskeratosis congenita")
    out["open_status"] = d.status(t(-50))
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
    out["after_mp"] = d.status(t(25))
    return out


@pytest.mark.skipif(not SEED.parent.is_dir(), reason="shared/seeds is not beside this checkout")
def test_provenance_seed_file_is_beside_the_checkout() -> None:
    assert SEED.is_file()


def test_seed_is_never_a_clinician_facing_citation(run: dict) -> None:
    for name in STATUSES:
        assert not [c for c in citations(run[name]) if c.upper().startswith("SEED")], name


def test_v2_icans_not_assessed_without_neuro_input(run: dict) -> None:
    for name in ("obs1", "obs2", "obs3", "obs4"):
        status = run[name]
        assert status["icans_grade"] is None and status["crs_grade"] == 3, name
        assert status["basis"]["icans"]["missing"] == ["ice_score", "consciousness"], name
        first = status["next_steps"][0]
        assert (first["kind"], first["missing"]) == ("assess", ["ice_score", "consciousness"]), name
        assert status["icans_screen"] == "ice"
    assert len([s for s in run["obs1"]["next_steps"] if s["kind"] == "assess"]) == 1


def test_v2_first_assessment_due_at_opening(run: dict) -> None:
    first = run["open_status"]["next_steps"][0]
    assert (first["kind"], first["missing"]) == ("assess", ["temp_c", "o2_device", "ice_score", "consciousness"])
    for name in ("open_status", "obs1", "obs4"):  # ICANS never assessed: the neuro assessment is due since opening
        [reassess] = [s for s in run[name]["next_steps"] if s["kind"] == "reassess"]
        assert reassess["at"] == "2026-02-27T10:00:00Z" == run[name]["opened_at"], name
    assert [s for s in run["obs1"]["next_steps"] if s["kind"] == "reassess"][0]["overdue"] is True


def test_at_most_one_steroid_step_in_every_status(run: dict) -> None:
    for name in STATUSES:
        assert len(steroid_steps(run[name])) <= 1, name


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
    # the ICU transfer comes before the drugs: most urgent first (after the v2 `assess` step, see above)
    kinds = [s.get("action") or s.get("drug") or s["kind"] for s in status["next_steps"]]
    assert kinds[0] == "assess" and kinds.index("icu-transfer") < kinds.index("dexamethasone")


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
    # v2: ONE step with the two regimens as alternatives (give one of them), not two steps
    [step] = steroid_steps(status)
    assert step["rule"] == "REC_STEROID_ESCALATE" and "drug" not in step
    assert [(o["drug"], o["dose_mg"], o["route"], o["every_hours"]) for o in step["alternatives"]] == [
        ("dexamethasone", 20.0, "iv", 6.0), ("methylprednisolone", 1000.0, "iv", 24.0)]


def test_methylprednisolone_escalates(run: dict) -> None:
    assert run["mp"].to_state == "escalated_steroid"


def test_history_replays_and_records_one_deviation(run: dict) -> None:
    d = run["driver"]
    assert fold(d.events) == d.episode
    assert replay_problems(d.events) == []
    assert [e.override.reason for e in d.events if e.override] == ["given at referring centre before transfer"]
