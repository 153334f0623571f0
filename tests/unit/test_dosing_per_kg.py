"""Per-kg steroid ceilings (CLINICAL.md §4 v2, HAZARDS H2): every recommended steroid dose is
floor_0.1(min(adult dose, ceiling × weight)), and rule STEROID_DOSE_PER_KG (overridable) refuses a
dose above the ceiling, under the absolute STEROID_DOSE_MAX that no override passes.

The expected figures are worked out by hand (default policy: dexamethasone 0.5 mg/kg a dose,
methylprednisolone 30 mg/kg a day, a q12h dose taking half of that day; ICANS-3 methylprednisolone
1 mg/kg q12h; adult taper 250 / 125 / 60 mg q12h):

| kg   | dex std | dex esc | MP esc/day | MP ICANS-3 q12h | dex ceiling | MP day ceiling |
| 3    | 1.5     | 1.5     | 90         | 3.0             | 1.5         | 90             |
| 10   | 5.0     | 5.0     | 300        | 10.0            | 5.0         | 300            |
| 16   | 8.0     | 8.0     | 480        | 16.0            | 8.0         | 480            |
| 29.9 | 10      | 14.9    | 897        | 29.9            | 14.9        | 897            |
| 33.3 | 10      | 16.6    | 999        | 33.3            | 16.6        | 999            |
| 40   | 10      | 20      | 1000       | 40.0            | 20          | 1200           |

The taper, two ways (the lead decides; see test_the_taper_is_min_of_adult_step_and_ceiling):

| kg   | min(adult step, 15 mg/kg) (CLINICAL §4 as written) | adult step × pulse/1000 (the core today) |
| 3    | 45 / 45 / 45                                       | 22.5 / 11.2 / 5.4                         |
| 10   | 150 / 125 / 60                                     | 75 / 37.5 / 18                            |
| 16   | 240 / 125 / 60                                     | 120 / 60 / 28.8                           |
| 29.9 | 250 / 125 / 60                                     | 224.2 / 112.1 / 53.8                      |
| 33.3 | 250 / 125 / 60                                     | 249.7 / 124.8 / 59.9                      |
| 40   | 250 / 125 / 60                                     | 250 / 125 / 60                            |
"""

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pathway.dosing import (REGIMENS, child_steroid_dose_mg, floor_tenth_mg, regimen, steroid_day_ceiling_mg,
                            steroid_intensity, steroid_per_kg_ceiling_mg)
from pathway.drugs import Drug
from pathway.errors import Refused
from pathway.policy import DEFAULT_POLICY, HARD_LIMITS, Policy
from tests.scenarios.driver import Driver, gives, steroid_steps, t

P = DEFAULT_POLICY
GRADE3 = {"temp_c": 39.0, "o2_device": "hfnc", "o2_flow_lpm": 30}
GRADE4 = {"temp_c": 39.0, "o2_device": "bipap"}


@dataclass(frozen=True)
class Row:
    kg: float
    age: float  # a plausible age for the weight (CAPD under 12)
    dex_standard: float
    dex_escalated: float
    mp_escalated: float
    mp_icans3: float
    taper_min: tuple[float, float, float]  # min(adult step, per-kg q12h ceiling): the most a step may be
    taper: tuple[float, float, float]  # adult step × (child's pulse / adult pulse), what the core does
    dex_ceiling: float
    mp_day_ceiling: float


TABLE = [
    Row(3, 0.1, 1.5, 1.5, 90.0, 3.0, (45.0, 45.0, 45.0), (22.5, 11.2, 5.4), 1.5, 90.0),
    Row(10, 1.0, 5.0, 5.0, 300.0, 10.0, (150.0, 125.0, 60.0), (75.0, 37.5, 18.0), 5.0, 300.0),
    Row(16, 4.0, 8.0, 8.0, 480.0, 16.0, (240.0, 125.0, 60.0), (120.0, 60.0, 28.8), 8.0, 480.0),
    Row(29.9, 9.0, 10.0, 14.9, 897.0, 29.9, (250.0, 125.0, 60.0), (224.2, 112.1, 53.8), 14.9, 897.0),
    Row(33.3, 11.0, 10.0, 16.6, 999.0, 33.3, (250.0, 125.0, 60.0), (249.7, 124.8, 59.9), 16.6, 999.0),
    Row(40, 13.0, 10.0, 20.0, 1000.0, 40.0, (250.0, 125.0, 60.0), (250.0, 125.0, 60.0), 20.0, 1200.0),
]
ids = [f"{r.kg:g}kg" for r in TABLE]


def opened(row: Row, policy: Policy | None = None) -> Driver:
    d = Driver()
    d.open(t(-1), patient_ref="P-KG", weight_kg=row.kg, age_years=row.age, **({"policy": policy} if policy else {}))
    return d


def icans3(row: Row) -> dict[str, object]:
    """ICANS grade 3 by the age-appropriate screen, no CRS (afebrile, room air)."""
    screen = {"capd_score": 9} if row.age < 12 else {"ice_score": 2}
    return {"temp_c": 37.0, "o2_device": "room-air", "consciousness": "awake", **screen}


def refused(fn, *args, **kwargs) -> Refused:  # type: ignore[no-untyped-def]
    with pytest.raises(Refused) as err:
        fn(*args, **kwargs)
    return err.value


# -- the regimens, by hand ---------------------------------------------------------------------------------

@pytest.mark.parametrize("row", TABLE, ids=ids)
def test_every_steroid_regimen_is_capped_by_weight(row: Row) -> None:
    ep = opened(row).episode
    assert ep is not None
    assert regimen("dexamethasone_standard", ep).dose_mg == row.dex_standard
    assert regimen("dexamethasone_escalated", ep).dose_mg == row.dex_escalated
    assert regimen("methylprednisolone_escalated", ep).dose_mg == row.mp_escalated
    icans = regimen("methylprednisolone_icans3", ep)
    assert (icans.dose_mg, icans.every_hours) == (row.mp_icans3, 12.0)
    assert steroid_per_kg_ceiling_mg(Drug.DEXAMETHASONE, row.kg, P) == row.dex_ceiling
    assert steroid_day_ceiling_mg(Drug.METHYLPREDNISOLONE, row.kg, P) == row.mp_day_ceiling
    assert steroid_day_ceiling_mg(Drug.DEXAMETHASONE, row.kg, P) is None


@pytest.mark.parametrize("row", TABLE, ids=ids)
def test_the_taper_steps_down_from_the_childs_pulse(row: Row) -> None:
    """A child's taper is each adult step × (child's pulse / adult pulse), rounded down (docs §4): never the
    plain min(adult step, ceiling), which for 10 kg made the first 'taper' step as large as the pulse."""
    ep = opened(row).episode
    assert ep is not None
    taper = regimen("methylprednisolone_taper", ep)
    assert (taper.dose_mg, taper.every_hours) == (row.taper[0], 12.0)
    assert taper.schedule == tuple(f"{mg:g} mg IV q12h × 2 days" for mg in row.taper)
    for mg, ceiling in zip(row.taper, row.taper_min):  # never above min(adult step, q12h ceiling)
        assert mg <= ceiling
    assert 2 * row.taper[0] < row.mp_escalated  # a day of the first step is less than a day of the pulse


@pytest.mark.parametrize("row", TABLE, ids=ids)
def test_a_capped_regimen_says_so(row: Row) -> None:
    ep = opened(row).episode
    assert ep is not None
    dex = regimen("dexamethasone_standard", ep)
    assert ("capped at" in dex.text) == (row.dex_standard < 10)
    assert f"{row.dex_standard:g} mg" in dex.text
    mp = regimen("methylprednisolone_escalated", ep)
    assert ("capped at" in mp.text) == (row.mp_escalated < 1000)


# -- the same figures as recommended in status ------------------------------------------------------------

@pytest.mark.parametrize("row", TABLE, ids=ids)
def test_crs_grade_3_recommends_the_capped_standard_dexamethasone(row: Row) -> None:
    st_ = opened(row).observe(t(0), **GRADE3)
    (step,) = steroid_steps(st_)
    assert (step["drug"], step["dose_mg"], step["every_hours"]) == ("dexamethasone", row.dex_standard, 6.0)


@pytest.mark.parametrize("row", TABLE, ids=ids)
def test_crs_grade_4_recommends_the_capped_escalated_methylprednisolone(row: Row) -> None:
    st_ = opened(row).observe(t(0), **GRADE4)
    (step,) = steroid_steps(st_)
    assert (step["drug"], step["dose_mg"]) == ("methylprednisolone", row.mp_escalated)


@pytest.mark.parametrize("row", TABLE, ids=ids)
def test_icans_grade_3_alternatives_are_capped(row: Row) -> None:
    st_ = opened(row).observe(t(0), **icans3(row))
    assert st_["icans_grade"] == 3
    (step,) = steroid_steps(st_)
    options = [(o["drug"], o["dose_mg"], o["every_hours"]) for o in step["alternatives"]]
    assert options == [("dexamethasone", row.dex_standard, 6.0), ("methylprednisolone", row.mp_icans3, 12.0)]


@pytest.mark.parametrize("row", TABLE, ids=ids)
def test_escalation_offers_only_doses_that_are_escalated_for_the_weight(row: Row) -> None:
    """An 'escalated' dexamethasone capped to a standard dose (<= 10 mg) is not offered as escalation."""
    d = opened(row)
    d.observe(t(0), **GRADE3)
    d.give(t(0.5), "dexamethasone", row.dex_standard)
    st_ = d.observe(t(24.5), **GRADE3)  # 24 h of standard steroid without improvement
    (step,) = steroid_steps(st_)
    options = [(o["drug"], o["dose_mg"]) for o in step.get("alternatives", [step])]
    expected = ([("dexamethasone", row.dex_escalated)] if row.dex_escalated > 10 else []) + [
        ("methylprednisolone", row.mp_escalated)]
    assert options == expected
    assert step["rule"] == "REC_STEROID_ESCALATE"


@pytest.mark.parametrize("row", TABLE, ids=ids)
def test_the_taper_after_the_escalated_course_is_capped(row: Row) -> None:
    d = opened(row)
    d.observe(t(0), **GRADE4)
    d.give(t(0.5), "methylprednisolone", row.mp_escalated)
    st_ = d.observe(t(0.5 + 72), **GRADE3)  # escalated_course_days = 3 after the first escalated dose
    (step,) = steroid_steps(st_)
    assert (step["drug"], step["dose_mg"]) == ("methylprednisolone", row.taper[0]) and "TAPER" in step["rule"]
    assert step["schedule"] == [f"{mg:g} mg IV q12h × 2 days" for mg in row.taper]


# -- rule STEROID_DOSE_PER_KG at its boundary -------------------------------------------------------------

@pytest.mark.parametrize("row", TABLE, ids=ids)
def test_dexamethasone_exactly_at_the_ceiling_is_accepted(row: Row) -> None:
    d = opened(row)
    d.observe(t(0), **GRADE4)  # grade 4: an escalated dose is allowed at once (ESCALATION_ORDER passes)
    event = d.give(t(1), "dexamethasone", row.dex_ceiling)
    assert event.override is None
    # a per-dose ceiling: the next q6h dose at the ceiling is accepted too
    assert d.give(t(7), "dexamethasone", row.dex_ceiling).override is None


@pytest.mark.parametrize("row", TABLE, ids=ids)
def test_dexamethasone_0_1_mg_above_the_ceiling_is_refused_as_overridable(row: Row) -> None:
    d = opened(row)
    d.observe(t(0), **GRADE4)
    above = round(row.dex_ceiling + 0.1, 1)
    r = refused(d.give, t(1), "dexamethasone", above)
    assert "STEROID_DOSE_PER_KG" in r.rules
    if above > HARD_LIMITS.dexamethasone_dose_max_mg:  # 40 kg: the ceiling is the absolute 20 mg
        assert r.rule == "STEROID_DOSE_MAX" and not r.overridable
        assert refused(d.give, t(1), "dexamethasone", above, override="consultant").rule == "STEROID_DOSE_MAX"
        return
    assert (r.rule, r.overridable) == ("STEROID_DOSE_PER_KG", True)
    (v,) = [v for v in r.violations if v.rule == "STEROID_DOSE_PER_KG"]
    assert v.details["limit_mg"] == row.dex_ceiling and f"{row.kg:g} kg" in v.message
    event = d.give(t(1), "dexamethasone", above, override="oncologist: adult dosing by body surface")
    assert event.override is not None and event.override.rules == ("STEROID_DOSE_PER_KG",)


@pytest.mark.parametrize("row", TABLE, ids=ids)
def test_dexamethasone_above_the_absolute_limit_stays_hard_under_override(row: Row) -> None:
    d = opened(row)
    d.observe(t(0), **GRADE4)
    r = refused(d.give, t(1), "dexamethasone", 20.1, override="consultant")
    assert (r.rule, r.overridable) == ("STEROID_DOSE_MAX", False)


@pytest.mark.parametrize("row", TABLE, ids=ids)
def test_methylprednisolone_single_dose_at_the_ceiling(row: Row) -> None:
    d = opened(row)
    d.observe(t(0), **GRADE4)
    at_ceiling = min(row.mp_day_ceiling, HARD_LIMITS.methylprednisolone_dose_max_mg)
    above = round(at_ceiling + 0.1, 1)
    r = refused(d.give, t(1), "methylprednisolone", above)
    if above > HARD_LIMITS.methylprednisolone_dose_max_mg:  # 40 kg: 1000.1 mg breaks the absolute dose limit
        assert r.rule == "STEROID_DOSE_MAX" and not r.overridable
        assert refused(d.give, t(1), "methylprednisolone", above, override="x").rule == "STEROID_DOSE_MAX"
    else:
        assert (r.rule, r.rules, r.overridable) == ("STEROID_DOSE_PER_KG", ("STEROID_DOSE_PER_KG",), True)
        assert "in 24 hours" in r.message and f"{row.mp_day_ceiling:g} mg a day" in r.message
    assert d.give(t(1), "methylprednisolone", at_ceiling).override is None


@pytest.mark.parametrize("row", TABLE, ids=ids)
def test_methylprednisolone_24_hour_total_at_the_ceiling(row: Row) -> None:
    """The day ceiling counts this dose and every dose in the 24 hours before it."""
    d = opened(row)
    d.observe(t(0), **GRADE4)
    half = row.mp_day_ceiling / 2
    assert d.give(t(1), "methylprednisolone", half).override is None
    assert d.give(t(2), "methylprednisolone", half).override is None  # total exactly the ceiling
    r = refused(d.give, t(3), "methylprednisolone", 0.1)
    assert (r.rule, r.overridable) == ("STEROID_DOSE_PER_KG", True)
    assert f"would total {row.mp_day_ceiling + 0.1:g} mg in 24 hours" in r.message
    # the dose at t(1) leaves the window at t(25) exactly; at t(24.9) it still counts
    assert refused(d.give, t(24.9), "methylprednisolone", half).rule == "STEROID_DOSE_PER_KG"
    assert d.give(t(25), "methylprednisolone", half).override is None


@pytest.mark.parametrize("row", TABLE, ids=ids)
def test_methylprednisolone_over_the_day_ceiling_passes_with_override_but_never_the_absolute_limit(row: Row) -> None:
    d = opened(row)
    d.observe(t(0), **GRADE4)
    first = d.give(t(1), "methylprednisolone", 1000, override="consultant: adult pulse")
    assert (first.override is not None) == (1000 > row.mp_day_ceiling)
    second = d.give(t(2), "methylprednisolone", 1000, override="consultant: adult pulse")
    assert second.override is not None and second.override.rules == ("STEROID_DOSE_PER_KG",)
    r = refused(d.give, t(3), "methylprednisolone", 0.1, override="consultant: adult pulse")
    assert (r.rule, r.overridable) == ("STEROID_DOSE_MAX", False)  # 2000 mg in 24 h: hard
    assert r.rules == ("STEROID_DOSE_MAX", "STEROID_DOSE_PER_KG")


@pytest.mark.parametrize(("every_h", "ceiling"), [(None, 480.0), (24.0, 480.0), (48.0, 480.0), (12.0, 240.0),
                                                 (6.0, 120.0), (8.0, 160.0)])
def test_a_methylprednisolone_dose_takes_its_share_of_the_day_ceiling(every_h: float | None, ceiling: float) -> None:
    """16 kg: 30 mg/kg a day = 480 mg; a q12h dose may take half of it, q6h a quarter (rounded down)."""
    assert steroid_per_kg_ceiling_mg(Drug.METHYLPREDNISOLONE, 16, P, every_h) == ceiling
    assert steroid_per_kg_ceiling_mg(Drug.DEXAMETHASONE, 16, P, every_h) == 8.0  # dexamethasone: per dose


def test_a_twice_daily_pulse_policy_is_capped_per_dose() -> None:
    """A site giving the pulse as 500 mg q12h (CLINICAL §4): a 16 kg child gets 240 mg q12h (480 mg a day)."""
    site = Policy(methylprednisolone_escalated_mg=500, methylprednisolone_escalated_every_h=12)
    ep = opened(TABLE[2], site).episode
    assert ep is not None
    reg = regimen("methylprednisolone_escalated", ep)
    assert (reg.dose_mg, reg.every_hours) == (240.0, 12.0)
    adult = Driver()
    adult_ep = adult.open(t(-1), patient_ref="P-KG", weight_kg=70, age_years=40, policy=site)
    assert regimen("methylprednisolone_escalated", adult_ep).dose_mg == 500.0


def test_a_policy_moves_the_per_kg_ceilings() -> None:
    site = Policy(dexamethasone_max_mg_per_kg_dose=0.25, methylprednisolone_max_mg_per_kg_day=10)
    row = TABLE[2]  # 16 kg
    d = opened(row, site)
    assert d.episode is not None
    assert regimen("dexamethasone_standard", d.episode).dose_mg == 4.0
    assert regimen("methylprednisolone_escalated", d.episode).dose_mg == 160.0
    d.observe(t(0), **GRADE4)
    assert d.give(t(1), "dexamethasone", 4.0).override is None
    assert refused(d.give, t(2), "dexamethasone", 4.1).rule == "STEROID_DOSE_PER_KG"


# -- properties -------------------------------------------------------------------------------------------

WEIGHTS = st.one_of(st.sampled_from([0.5, 3.0, 10.0, 16.0, 19.9, 20.0, 29.9, 33.3, 33.4, 40.0, 66.6, 66.7, 350.0]),
                    st.floats(0.5, 350).map(lambda w: round(w, 2)))
ADULT_DOSE = {"dexamethasone_standard": 10.0, "dexamethasone_escalated": 20.0, "methylprednisolone_escalated": 1000.0}


@given(WEIGHTS)
def test_every_recommended_steroid_dose_is_min_of_adult_dose_and_ceiling(weight: float) -> None:
    d = Driver()
    ep = d.open(t(0), patient_ref="P-KG", weight_kg=weight, age_years=30)
    dex_ceiling = floor_tenth_mg(0.5 * weight)
    mp_day = floor_tenth_mg(30 * weight)
    for name, adult in ADULT_DOSE.items():
        reg = regimen(name, ep)
        ceiling = dex_ceiling if reg.drug is Drug.DEXAMETHASONE else mp_day
        assert reg.dose_mg == floor_tenth_mg(min(adult, ceiling))
    icans = regimen("methylprednisolone_icans3", ep)
    assert icans.dose_mg == floor_tenth_mg(min(weight, 1000, 15 * weight))
    pulse = floor_tenth_mg(min(1000, 30 * weight))
    taper = regimen("methylprednisolone_taper", ep)
    steps = [float(x.split(" mg")[0]) for x in taper.schedule]
    assert len(steps) == 3 and steps == sorted(steps, reverse=True) and steps[0] == taper.dose_mg
    for mg, adult in zip(steps, (250, 125, 60)):
        assert mg <= floor_tenth_mg(min(adult, 15 * weight)) and mg == floor_tenth_mg(mg)
    assert 2 * steps[0] < pulse  # the first step is a step down from the pulse


@given(WEIGHTS)
def test_no_regimen_exceeds_its_per_kg_or_absolute_ceiling(weight: float) -> None:
    d = Driver()
    ep = d.open(t(0), patient_ref="P-KG", weight_kg=weight, age_years=30)
    for name in REGIMENS:
        reg = regimen(name, ep)
        if reg.drug not in (Drug.DEXAMETHASONE, Drug.METHYLPREDNISOLONE) or reg.dose_mg is None:
            continue
        assert reg.dose_mg <= steroid_per_kg_ceiling_mg(reg.drug, weight, P, reg.every_hours) + 1e-9
        limit = (HARD_LIMITS.dexamethasone_dose_max_mg if reg.drug is Drug.DEXAMETHASONE
                 else HARD_LIMITS.methylprednisolone_dose_max_mg)
        assert reg.dose_mg <= limit
        # one day of the regimen never exceeds the methylprednisolone day ceiling either
        if reg.drug is Drug.METHYLPREDNISOLONE and reg.every_hours:
            per_day = reg.dose_mg * max(1.0, 24 / reg.every_hours)
            assert per_day <= steroid_day_ceiling_mg(reg.drug, weight, P) + 1e-6  # type: ignore[operator]


@given(WEIGHTS, st.sampled_from([Drug.DEXAMETHASONE, Drug.METHYLPREDNISOLONE]),
       st.integers(1, 20_000).map(lambda n: n / 10),
       st.sampled_from([None, 6.0, 12.0, 24.0]))
def test_child_dose_is_never_above_the_adult_dose_or_the_ceiling(weight: float, drug: Drug, adult: float,
                                                                 every_h: float | None) -> None:
    dose = child_steroid_dose_mg(drug, adult, weight, P, every_h)
    assert dose <= adult and dose <= steroid_per_kg_ceiling_mg(drug, weight, P, every_h)
    assert dose == floor_tenth_mg(dose)


@given(WEIGHTS)
def test_an_escalated_regimen_offered_is_escalated_for_the_weight(weight: float) -> None:
    """The intensity a regimen stands for is the intensity its capped dose has, or it is not offered."""
    d = Driver()
    d.open(t(-1), patient_ref="P-KG", weight_kg=weight, age_years=30)
    d.observe(t(0), **GRADE3)
    d.give(t(0.5), "dexamethasone", regimen("dexamethasone_standard", d.episode).dose_mg)  # type: ignore[arg-type]
    st_ = d.observe(t(24.5), **GRADE3)
    for drug, mg in gives(st_):
        if drug in ("dexamethasone", "methylprednisolone"):
            assert steroid_intensity(Drug(drug), mg, weight, P) == "escalated"  # type: ignore[arg-type]
