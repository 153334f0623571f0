"""Hypothesis strategies for episodes: patients, policies, observations, doses, times and reasons.

Everything is drawn inside the validation of the models it feeds (a Policy is built so it is
always valid), and edge values are sampled on purpose: 37.9/38.0 °C, 6/6.1 L/min, ICE 10/9/7/6/3/2/0,
dose ceilings exactly, a hair above and a hair below.
"""

from typing import Any

from hypothesis import reject, strategies as st

from pathway.drugs import Action, Drug, Route
from pathway.observations import CerebralEdema, Consciousness, O2Device, Observation, Seizure
from pathway.policy import Policy
from tests.properties import safety

WEIGHTS = st.one_of(
    st.sampled_from([52.0, 70.0, 30.0, 29.9, 0.5, 350.0, 25.0, 90.9, 52.37, 100.0]),
    st.floats(min_value=0.5, max_value=350.0, allow_nan=False).map(lambda w: round(w, 2)),
)
AGES = st.one_of(st.sampled_from([15.0, 58.0, 0.0, 11.9, 12.0, 17.9, 18.0, 120.0]),
                 st.floats(min_value=0, max_value=120).map(lambda a: round(a, 1)))

REASONS = st.one_of(
    st.sampled_from(["given at referring centre before transfer", "clinician decision", "x",
                     "  padded reason  ", "ICU attending: rapid deterioration"]),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=30)
    .filter(lambda s: s.strip() != ""),
)
MAYBE_REASON = st.one_of(st.none(), REASONS)


def _hours(*values: float) -> st.SearchStrategy[float]:
    """Flat sampled_from: one cheap draw (nested float strategies cost milliseconds a draw)."""
    return st.sampled_from(values)


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    """A random policy inside every hard limit (constructed within the validation rules)."""
    dex_escalated = draw(st.sampled_from([20.0, 16.0, 12.5, 10.0, 1.0]))
    dex_standard = draw(st.sampled_from([10.0, 5.0, 0.5, 19.9, 20.0]).map(lambda x: min(x, dex_escalated)))
    fields: dict[str, Any] = {
        "name": draw(st.sampled_from(["site-a", "site-b", "shortage"])),
        "version": draw(st.sampled_from(["1", "2", "2026.1"])),
        "fever_threshold_c": draw(st.sampled_from([37.5, 38.0, 38.3, 39.0])),
        "fever_comparator": draw(st.sampled_from([">=", ">"])),
        "high_flow_above_lpm": draw(st.sampled_from([6.0, 4.0, 15.0, 0.5])),
        "toci_mg_per_kg": draw(st.sampled_from([8.0, 4.0, 6.0])),
        "toci_mg_per_kg_under_30kg": draw(st.sampled_from([12.0, 8.0, 10.0])),
        "toci_child_weight_kg": draw(st.sampled_from([30.0, 20.0, 40.0])),
        "toci_min_interval_h": draw(_hours(8.0, 8.0, 8.001, 12.0, 24.0, 48.0)),
        "toci_max_doses_episode": draw(st.sampled_from([1, 2, 3, 4])),
        "toci_max_doses_24h": draw(st.sampled_from([1, 2, 3])),
        "toci_grade1_fever_hours": draw(_hours(None, 72.0, 72.0, 24.0, 1.0, 96.0)),
        "steroid_min_crs_grade": draw(st.sampled_from([1, 2, 3, 4])),
        "steroid_after_toci_h": draw(_hours(8.0, 8.0, 0.0, 4.0, 24.0)),
        "steroid_min_icans_grade": draw(st.sampled_from([1, 2, 3, 4])),
        "dexamethasone_standard_mg": dex_standard,
        "dexamethasone_escalated_mg": dex_escalated,
        "dexamethasone_every_h": draw(_hours(6.0, 6.0, 12.0, 1.0, 24.0)),
        "standard_methylprednisolone_mg_per_kg": draw(st.sampled_from([2.0, 1.0, 0.5, 10.0])),
        "methylprednisolone_escalated_mg": draw(st.sampled_from([1000.0, 500.0, 250.0, 999.9])),
        "methylprednisolone_escalated_every_h": draw(_hours(24.0, 12.0, 6.0)),
        "escalation_window_h": draw(_hours(24.0, 24.0, 12.0, 48.0, 1.0, 72.0, 0.5)),
        "refractory_window_h": draw(_hours(24.0, 24.0, 12.0, 48.0, 1.0, 72.0, 0.5)),
        "anakinra_adult_mg": draw(st.sampled_from([100.0, 50.0, 99.9])),
        "anakinra_child_mg_per_kg": draw(st.sampled_from([2.0, 1.0, 4.0, 8.0])),
        "anakinra_every_h": draw(_hours(6.0, 12.0, 2.0, 24.0)),
        "anakinra_adult_age_years": draw(st.sampled_from([18.0, 16.0, 12.0])),
        "siltuximab_mg_per_kg": draw(st.sampled_from([11.0, 10.0, 5.5])),
        "reassess_h_grade2_plus": draw(_hours(4.0, 1.0, 12.0)),
        "reassess_h_otherwise": draw(_hours(12.0, 4.0, 24.0)),
        "resolution_window_h": draw(_hours(24.0, 24.0, 12.0, 48.0, 1.0, 72.0, 0.5)),
    }
    try:
        return Policy(**fields)
    except ValueError:  # every value above is inside today's validation; if it tightens, skip the draw
        reject()


TEMPS = [None, 30.0, 35.5, 36.8, 37.4, 37.5, 37.9, 37.99, 38.0, 38.01, 38.1, 38.3, 38.5, 39.0, 39.01, 39.4, 40.5, 45.0]
FLOWS = [None, 0.0, 0.5, 2.0, 4.0, 6.0, 6.01, 6.1, 15.0, 15.1, 30.0, 50.0, 80.0]
FIO2S = [None, 0.21, 0.35, 0.4, 0.6, 1.0]
DEVICES = [None, *O2Device]
ICE = [None, 10, 9, 8, 7, 6, 5, 3, 2, 1, 0]


@st.composite
def observations(draw: st.DrawFn) -> Observation:
    """Any valid observation, every field, from value lists that hold every grading boundary
    (flat sampled_from draws: a nested float strategy per field costs ~5 ms an observation)."""
    device = draw(st.sampled_from(DEVICES))
    no_device = device is None or device is O2Device.ROOM_AIR
    return Observation(
        temp_c=draw(st.sampled_from(TEMPS)),
        hypotension=draw(st.booleans()),
        vasopressors=draw(st.sampled_from([0, 0, 0, 1, 1, 2, 6])),
        vasopressin=draw(st.booleans()),
        o2_device=device,
        o2_flow_lpm=None if no_device else draw(st.sampled_from(FLOWS)),
        fio2=draw(st.sampled_from([None, 0.21])) if no_device else draw(st.sampled_from(FIO2S)),
        ice_score=draw(st.sampled_from(ICE)),
        consciousness=draw(st.sampled_from([None, *Consciousness])),
        seizure=draw(st.sampled_from([None, *Seizure])),
        motor_weakness=draw(st.sampled_from([False, False, False, True])),
        cerebral_edema=draw(st.sampled_from([None, None, *CerebralEdema])),
    )


#: Observations that grade CRS exactly g under the default fever threshold (fever given, so masking is moot).
CRS_OBS: dict[int, dict[str, Any]] = {
    0: {"temp_c": 36.8, "o2_device": "room-air", "ice_score": 10, "consciousness": "awake"},
    1: {"temp_c": 39.4},
    2: {"temp_c": 39.4, "o2_device": "nasal-cannula", "o2_flow_lpm": 4},
    3: {"temp_c": 39.4, "o2_device": "hfnc", "o2_flow_lpm": 30, "fio2": 0.35},
    4: {"temp_c": 39.4, "o2_device": "bipap", "vasopressors": 2},
}
ICANS_OBS: dict[int, dict[str, Any]] = {
    0: {"ice_score": 10, "consciousness": "awake"},
    2: {"ice_score": 5, "consciousness": "voice"},
    4: {"ice_score": 0, "consciousness": "unarousable"},
}


def graded_observation(crs: int, icans: int = 0) -> Observation:
    return Observation(**{**CRS_OBS[crs], **ICANS_OBS[icans]})


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
