"""Hypothesis strategies for episodes: patients, policies, observations, doses, times and reasons.

Everything is drawn inside the validation of the models it feeds (a Policy is built so it is
always valid), and edge values are sampled on purpose: 37.9/38.0 °C, 6/6.1 L/min, ICE 10/9/7/6/3/2/0,
CAPD 0/1/8/9/32 and unable, ages 11.9/12.0, weights where the per-kg steroid ceilings bind
(3, 10, 16, 29.9, 33.3 kg), dose ceilings exactly, a hair above and a hair below.

Observations are drawn as recipes (OBS_RECIPES) and built against the patient when the rule runs
(build_observation): ANY subset of fields, the empty observation included, with the ICANS screen the
patient's age calls for (CAPD under the policy's CAPD age, ICE otherwise) and, now and then, the wrong
one (the core must refuse it as invalid input and fold nothing).
"""

from typing import Any

from hypothesis import reject, strategies as st

from pathway.drugs import Action, Drug, Route
from pathway.observations import CerebralEdema, Consciousness, O2Device, Observation, Seizure
from pathway.policy import Policy
from tests.properties import safety

WEIGHTS = st.one_of(
    st.sampled_from([52.0, 70.0, 30.0, 29.9, 0.5, 350.0, 25.0, 90.9, 52.37, 100.0]),
    # per-kg steroid ceilings bind here (dexamethasone 0.5 mg/kg < 10 mg below 20 kg, methylprednisolone
    # 30 mg/kg/day < 1000 mg below 33.3 kg; 33.3 kg is 999 mg a day)
    st.sampled_from([3.0, 10.0, 16.0, 29.9, 33.3, 40.0]),
    st.floats(min_value=0.5, max_value=350.0, allow_nan=False).map(lambda w: round(w, 2)),
)
AGES = st.one_of(st.sampled_from([15.0, 58.0, 0.0, 11.9, 12.0, 17.9, 18.0, 120.0]),
                 # children: CAPD below the (default) CAPD age of 12.0 years
                 st.sampled_from([4.0, 0.5, 8.0, 11.9, 11.99, 12.0, 12.01]),
                 st.floats(min_value=0, max_value=120).map(lambda a: round(a, 1)))

REASONS = st.one_of(
    st.sampled_from(["given at referring centre before transfer", "clinician decision", "x",
                     "  padded reason  ", "ICU attending: rapid deterioration"]),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=30)
    .filter(lambda s: s.strip() != ""),
)
MAYBE_REASON = st.one_of(st.none(), REASONS)


#: Each policy field and the values drawn for it (flat sampled_from: one cheap draw; nested float
#: strategies cost milliseconds a draw). The strategies are built once, here, not at every draw.
POLICY_VALUES: dict[str, tuple[Any, ...]] = {
    "name": ("site-a", "site-b", "shortage"),
    "version": ("1", "2", "2026.1"),
    "fever_threshold_c": (37.5, 38.0, 38.3, 39.0),
    "fever_comparator": (">=", ">"),
    "high_flow_above_lpm": (6.0, 4.0, 15.0, 0.5),
    "toci_mg_per_kg": (8.0, 4.0, 6.0),
    "toci_mg_per_kg_under_30kg": (12.0, 8.0, 10.0),
    "toci_child_weight_kg": (30.0, 20.0, 40.0),
    "toci_min_interval_h": (8.0, 8.0, 8.001, 12.0, 24.0, 48.0),
    "toci_max_doses_episode": (1, 2, 3, 4),
    "toci_max_doses_24h": (1, 2, 3),
    "toci_grade1_fever_hours": (None, 72.0, 72.0, 24.0, 1.0, 96.0),
    "steroid_min_crs_grade": (1, 2, 3, 4),
    "steroid_after_toci_h": (8.0, 8.0, 0.0, 4.0, 24.0),
    "steroid_min_icans_grade": (1, 2, 3, 4),
    "dexamethasone_every_h": (6.0, 6.0, 12.0, 1.0, 24.0),
    "standard_methylprednisolone_mg_per_kg": (2.0, 1.0, 0.5, 1.5),  # at most 2 (H24)
    "methylprednisolone_escalated_mg": (1000.0, 500.0, 250.0, 999.9),
    "methylprednisolone_escalated_every_h": (24.0, 12.0, 6.0),
    "escalation_window_h": (24.0, 24.0, 12.0, 48.0, 1.0, 72.0, 0.5),
    "refractory_window_h": (24.0, 24.0, 12.0, 48.0, 1.0, 72.0, 0.5),
    "anakinra_adult_mg": (100.0, 50.0, 99.9),
    "anakinra_child_mg_per_kg": (2.0, 1.0, 4.0, 8.0),
    "anakinra_every_h": (6.0, 12.0, 2.0, 24.0),
    "anakinra_adult_age_years": (18.0, 16.0, 12.0),
    "siltuximab_mg_per_kg": (11.0, 10.0, 5.5),
    "reassess_h_grade2_plus": (4.0, 1.0, 12.0),
    "reassess_h_otherwise": (12.0, 4.0, 24.0),
    "resolution_window_h": (24.0, 24.0, 12.0, 48.0, 1.0, 72.0, 0.5),
    # issue 9: children, per-kg ceilings, ICANS and hypotension
    "capd_below_age_years": (12.0, 12.0, 0.0, 5.0, 11.95, 18.0, 21.0, 25.0),
    # 0.15 mg/kg floors under the 0.1 mg minimum dose at 0.5 kg (regression R3: shown without a figure, no crash)
    "dexamethasone_max_mg_per_kg_dose": (0.5, 0.5, 0.2, 0.3, 1.0, 0.25, 0.15),
    "methylprednisolone_max_mg_per_kg_day": (30.0, 30.0, 10.0, 20.0, 50.0, 1.0),
    "icans3_methylprednisolone_mg_per_kg": (1.0, 1.0, 2.0, 0.5),
    "icans3_methylprednisolone_every_h": (12.0, 12.0, 6.0, 24.0),
    "escalated_course_days": (3.0, 3.0, 1.0, 5.0),
    "reassess_h_icans": (8.0, 8.0, 4.0, 12.0, 24.0),
    "fluid_boluses_before_vasopressor": (2, 2, 1, 3),
    "fluid_bolus_window_h": (6.0, 6.0, 1.0, 12.0),
}
_POLICY_FIELDS = st.fixed_dictionaries({k: st.sampled_from(v) for k, v in POLICY_VALUES.items()})
_DEX_ESCALATED = st.sampled_from([20.0, 16.0, 12.5, 10.0, 1.0])
_DEX_STANDARD = st.sampled_from([10.0, 5.0, 0.5, 19.9, 20.0])


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    """A random policy inside every hard limit (constructed within the validation rules)."""
    dex_escalated = draw(_DEX_ESCALATED)
    fields: dict[str, Any] = {**draw(_POLICY_FIELDS), "dexamethasone_escalated_mg": dex_escalated,
                              "dexamethasone_standard_mg": min(draw(_DEX_STANDARD), dex_escalated)}
    try:
        return Policy(**fields)
    except ValueError:  # every value above is inside today's validation; if it tightens, skip the draw
        reject()


TEMPS = [None, 30.0, 35.5, 36.8, 37.4, 37.5, 37.9, 37.99, 38.0, 38.01, 38.1, 38.3, 38.5, 39.0, 39.01, 39.4, 40.5, 45.0]
FLOWS = [None, 0.0, 0.5, 2.0, 4.0, 6.0, 6.01, 6.1, 15.0, 15.1, 30.0, 50.0, 80.0]
FIO2S = [None, 0.21, 0.35, 0.4, 0.6, 1.0]
DEVICES = [None, *O2Device]
ICE = [None, 10, 9, 8, 7, 6, 5, 3, 2, 1, 0]
#: CAPD totals (0–32) with the grading edges 0 | 1–8 | >= 9, and "unable" (grade 4).
CAPD = [None, 0, 1, 8, 9, 32, 0, 4, 12, 20, "unable", "unable"]

#: The fields an observation may record; a recipe keeps any subset of them ("screen" is the ICANS
#: screen, ICE or CAPD, chosen for the patient when the observation is built).
CRS_FIELDS = ("temp_c", "hypotension", "vasopressors", "vasopressin", "o2_device", "o2_flow_lpm", "fio2")
ICANS_FIELDS = ("screen", "consciousness", "seizure", "motor_weakness", "cerebral_edema")
FIELDS = CRS_FIELDS + ICANS_FIELDS


_S = st.sampled_from
_OBS_DEVICE, _OBS_TEMP, _OBS_FLOW, _OBS_FIO2 = _S(DEVICES), _S(TEMPS), _S(FLOWS), _S(FIO2S)
_OBS_FIO2_AIR = _S([None, 0.21])
_OBS_NEURO = {
    "ice_score": _S(ICE),
    "capd": _S(CAPD),
    "consciousness": _S([None, *Consciousness]),
    "seizure": _S([None, *Seizure]),
    "motor_weakness": _S([False, False, False, True]),
    "cerebral_edema": _S([None, None, *CerebralEdema]),
}
_OBS_FLAGS = {"hypotension": st.booleans(), "vasopressors": _S([0, 0, 0, 1, 1, 2, 6]), "vasopressin": st.booleans()}
_OBS_MODE = _S(["full", "full", "full", "subset", "subset", "subset", "empty", "neuro"])
_MASK = st.integers(0, 2 ** len(FIELDS) - 1)  # one draw for "any subset of fields"
_NEURO_MASK = st.integers(0, 2 ** len(ICANS_FIELDS) - 1)
_SCREEN = _S(["right"] * 7 + ["wrong"])


@st.composite
def observation_recipes(draw: st.DrawFn) -> dict[str, Any]:
    """Which fields are recorded: every field (often), any subset (one draw of a bit mask), nothing at
    all, or neuro inputs only (ICANS-only); the values of the kept fields (only those are drawn); and
    which screen is typed: the age-appropriate one, or (1 in 8) the wrong one."""
    mode = draw(_OBS_MODE)
    if mode == "full":
        kept = frozenset(FIELDS)
    elif mode == "empty":
        kept = frozenset()
    elif mode == "neuro":
        mask = draw(_NEURO_MASK)
        kept = frozenset(f for i, f in enumerate(ICANS_FIELDS) if mask >> i & 1)
    else:
        mask = draw(_MASK)
        kept = frozenset(f for i, f in enumerate(FIELDS) if mask >> i & 1)
    values: dict[str, Any] = {}
    if kept & {"o2_device", "o2_flow_lpm", "fio2"}:
        device = values["o2_device"] = draw(_OBS_DEVICE)
        no_device = device is None or device is O2Device.ROOM_AIR
        values["o2_flow_lpm"] = None if no_device else draw(_OBS_FLOW)
        values["fio2"] = draw(_OBS_FIO2_AIR) if no_device else draw(_OBS_FIO2)
    if "temp_c" in kept:
        values["temp_c"] = draw(_OBS_TEMP)
    for name, strategy in _OBS_FLAGS.items():
        if name in kept:
            values[name] = draw(strategy)
    for name, strategy in _OBS_NEURO.items():
        if name in kept or (name in ("ice_score", "capd") and "screen" in kept):
            values[name] = draw(strategy)
    return {"values": values, "kept": kept, "mode": mode, "screen": draw(_SCREEN) if "screen" in kept else "right"}


def is_child(age_years: float, policy: Policy) -> bool:
    """CLINICAL.md §2b: the CAPD, not the ICE score, below the policy's CAPD age (default 12.0 years)."""
    return age_years < policy.capd_below_age_years


def build_observation(recipe: dict[str, Any], child: bool) -> Observation:
    """The observation a recipe stands for, for a child (CAPD) or not (ICE); "wrong" types the other screen."""
    values, kept = recipe["values"], recipe["kept"]
    fields: dict[str, Any] = {k: values[k] for k in FIELDS if k != "screen" and k in kept and k in values}
    if fields.get("o2_device") in (None, O2Device.ROOM_AIR):  # flow and FiO2 need a device (validation)
        fields.pop("o2_flow_lpm", None)
        if fields.get("fio2") not in (None, 0.21):
            fields.pop("fio2")
    if "screen" in kept:
        capd = child != (recipe["screen"] == "wrong")
        if capd and values.get("capd") is not None:
            fields.update({"capd_unable": True} if values["capd"] == "unable" else {"capd_score": values["capd"]})
        elif not capd and values.get("ice_score") is not None:
            fields["ice_score"] = values["ice_score"]
    return Observation(**fields)


def observations(child: bool = False) -> st.SearchStrategy[Observation]:
    """Any valid observation (any subset of fields) for a child or an adult screen."""
    return observation_recipes().map(lambda r: build_observation({**r, "screen": "right"}, child))


#: Observations that grade CRS exactly g under the default fever threshold (fever given, so masking is
#: moot), each fully assessed: temperature and oxygen support recorded (room-air counts).
CRS_OBS: dict[int, dict[str, Any]] = {
    0: {"temp_c": 36.8, "o2_device": "room-air"},
    1: {"temp_c": 39.4, "o2_device": "room-air"},
    2: {"temp_c": 39.4, "o2_device": "nasal-cannula", "o2_flow_lpm": 4},
    3: {"temp_c": 39.4, "o2_device": "hfnc", "o2_flow_lpm": 30, "fio2": 0.35},
    4: {"temp_c": 39.4, "o2_device": "bipap", "vasopressors": 2},
}
#: ICANS grade g, fully assessed (screen and consciousness), by ICE (adults) or CAPD (children, §2b).
ICANS_OBS: dict[int, dict[str, Any]] = {
    0: {"ice_score": 10, "consciousness": "awake"},
    1: {"ice_score": 8, "consciousness": "awake"},
    2: {"ice_score": 5, "consciousness": "voice"},
    3: {"ice_score": 0, "consciousness": "awake"},  # ICE 0 awake (global aphasia) is grade 3, not 4 (§2)
    4: {"ice_score": 0, "consciousness": "unarousable"},
}
ICANS_OBS_CHILD: dict[int, dict[str, Any]] = {
    0: {"capd_score": 0, "consciousness": "awake"},
    1: {"capd_score": 8, "consciousness": "awake"},
    2: {"capd_score": 1, "consciousness": "voice"},
    3: {"capd_score": 9, "consciousness": "awake"},
    4: {"capd_unable": True, "consciousness": "unarousable"},
}


def graded_observation(crs: int | None, icans: int | None = 0, child: bool = False) -> Observation:
    """CRS grade `crs` and ICANS grade `icans`, each fully assessed; None leaves that domain unrecorded."""
    neuro = {} if icans is None else (ICANS_OBS_CHILD if child else ICANS_OBS)[icans]
    return Observation(**{**({} if crs is None else CRS_OBS[crs]), **neuro})


# A dose is drawn as a recipe and resolved against the patient's weight when the rule runs, so the
# boundaries (457.6 / 457.7 mg at 52 kg) follow whatever weight was drawn.
ABSOLUTE_DOSES = [0.1, 1.0, 10.0, 10.1, 20.0, 20.1, 99.9, 100.0, 100.1, 250.0, 400.0, 416.0, 457.6, 457.7,
                  500.0, 560.0, 800.0, 800.1, 999.9, 1000.0, 1000.1, 2000.0, 10_000.0]
DOSE_RECIPES = st.one_of(
    st.tuples(st.just("ceiling"), st.sampled_from([0.0, 0.1, -0.1, 0.01, -0.01, 0.04, 0.05, 0.06])),
    st.tuples(st.just("ceiling_exact"), st.sampled_from([0.0, 1e-6, 0.01, -0.01])),
    st.tuples(st.just("per_kg"), st.sampled_from([1.0, 2.0, 2.01, 8.0, 8.8, 11.0, 12.0, 12.1, 12.2, 13.2])),
    st.tuples(st.just("abs"), st.sampled_from(ABSOLUTE_DOSES)),
    st.tuples(st.just("abs"), st.floats(min_value=0.1, max_value=10_000).map(lambda x: round(x, 1))),
)


def exact_ceiling_mg(drug: Drug, weight_kg: float) -> float:
    return {
        Drug.TOCILIZUMAB: safety.toci_limit_mg(weight_kg),
        Drug.DEXAMETHASONE: safety.DEX_MAX_MG,
        Drug.METHYLPREDNISOLONE: safety.MP_MAX_MG,
        Drug.ANAKINRA: safety.ANAKINRA_MAX_MG,
        Drug.SILTUXIMAB: safety.siltuximab_limit_mg(weight_kg),
    }.get(drug, 1000.0)


def resolve_dose(recipe: tuple[str, float], drug: Drug, weight_kg: float) -> float:
    kind, x = recipe
    if kind == "ceiling":
        dose = round(exact_ceiling_mg(drug, weight_kg), 1) + x
    elif kind == "ceiling_exact":
        dose = exact_ceiling_mg(drug, weight_kg) + x
    elif kind == "per_kg":
        dose = weight_kg * x
    else:
        dose = x
    return min(max(round(dose, 6), 0.1), 10_000.0)


DRUGS = st.sampled_from(list(Drug))
ROUTE_CHOICE = st.one_of(st.none(), st.none(), st.sampled_from(list(Route)))
ACTIONS = st.sampled_from(list(Action))
NOTES = st.one_of(st.none(), st.sampled_from(["done at bedside", "ordered"]))

#: When a command happens, relative to the clock: mostly now; sometimes backdated within the
#: allowed range, before the latest event (TIME_ORDER), or in the future (TIME_FUTURE at > 5 min).
WHEN = st.one_of(
    st.just(("now", 0.0)), st.just(("now", 0.0)), st.just(("now", 0.0)),
    st.tuples(st.just("since_last"), st.floats(0, 1)),
    st.tuples(st.just("before_last"), st.sampled_from([1e-6, 1 / 60, 1.0, 30.0])),
    st.tuples(st.just("future_min"), st.sampled_from([5.0, 5.0 + 1e-6, 5.01, 6.0, 600.0])),
)

#: Clock jumps, in hours: minutes to days.
JUMPS = st.one_of(
    st.sampled_from([1 / 60, 0.25, 1.0, 4.0, 7.99, 8.0, 8.01, 12.0, 24.0, 24.01, 25.0, 72.01, 96.0]),
    st.floats(min_value=1 / 60, max_value=240).map(lambda h: round(h, 3)),
)
