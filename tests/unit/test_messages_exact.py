"""Exact words and boundaries that the fresh-clone mutation run of issue 12 found unchecked.

Each of these survived `make mutation` at 63b3bab: the sentence a site reads when its policy passes a hard
limit (which field, which limit), the sentence a nurse reads when an observation contradicts itself, the
recorded inputs of an observation as plain JSON values, the class of a next step (one steroid regimen at a
time), and the priority bands that make the order of the next steps well defined.
"""

from typing import Any

import pytest
from pydantic import ValidationError

from pathway.observations import Observation, inconsistency
from pathway.policy import HARD_LIMITS, Policy, hard_limit_problem
from pathway.recommend import drug_class
from states import PATHWAY

#: (field, a value past its hard limit, the limit it passes, "above" or "below")
PAST_A_LIMIT: list[tuple[str, float, float, str]] = [
    ("toci_min_interval_h", 7, HARD_LIMITS.toci_min_interval_h, "below"),
    ("toci_max_doses_episode", 5, HARD_LIMITS.toci_max_doses_episode, "above"),
    ("toci_mg_per_kg", 9, HARD_LIMITS.toci_mg_per_kg, "above"),
    ("toci_mg_per_kg_under_30kg", 13, HARD_LIMITS.toci_mg_per_kg_under_30kg, "above"),
    ("toci_child_weight_kg", 31, HARD_LIMITS.toci_child_weight_kg, "above"),
    ("toci_max_doses_24h", 4, HARD_LIMITS.toci_max_doses_24h, "above"),
    ("dexamethasone_standard_mg", 21, HARD_LIMITS.dexamethasone_dose_max_mg, "above"),
    ("dexamethasone_escalated_mg", 21, HARD_LIMITS.dexamethasone_dose_max_mg, "above"),
    ("methylprednisolone_escalated_mg", 1001, HARD_LIMITS.methylprednisolone_dose_max_mg, "above"),
    ("anakinra_adult_mg", 101, HARD_LIMITS.anakinra_dose_max_mg, "above"),
    ("siltuximab_mg_per_kg", 11.5, HARD_LIMITS.siltuximab_mg_per_kg, "above"),
]


@pytest.mark.parametrize(("field", "value", "limit", "side"), PAST_A_LIMIT, ids=[c[0] for c in PAST_A_LIMIT])
def test_a_policy_past_a_hard_limit_names_the_field_and_the_limit(field: str, value: float, limit: float,
                                                                 side: str) -> None:
    expected = f"{field}: {value:g} is {side} the hard limit of {limit:g}"
    assert hard_limit_problem(Policy.model_construct(**{field: value})) == expected
    with pytest.raises(ValidationError, match=expected):
        Policy(**{field: value})


def test_a_policy_at_its_hard_limits_is_accepted() -> None:
    at_limits = {field: limit for field, _, limit, _ in PAST_A_LIMIT if field != "dexamethasone_standard_mg"}
    assert hard_limit_problem(Policy.model_construct(**at_limits)) is None


def test_a_standard_dexamethasone_dose_above_the_escalated_one_is_refused() -> None:
    expected = "dexamethasone_standard_mg: must not exceed dexamethasone_escalated_mg"
    assert hard_limit_problem(Policy.model_construct(dexamethasone_standard_mg=15, dexamethasone_escalated_mg=12)) \
        == expected
    assert hard_limit_problem(Policy.model_construct(dexamethasone_standard_mg=12, dexamethasone_escalated_mg=12)) \
        is None


@pytest.mark.parametrize(("fields", "expected"), [
    ({"capd_unable": True, "capd_score": 3}, "capd is either a score or 'unable', not both"),
    ({"ice_score": 7, "capd_score": 3},
     "record either an ICE score or a CAPD (the policy's CAPD age decides which), not both"),
    ({"ice_score": 7, "capd_unable": True},
     "record either an ICE score or a CAPD (the policy's CAPD age decides which), not both"),
    ({"o2_flow_lpm": 2}, "o2_flow_lpm needs an oxygen device other than room-air"),
    ({"fio2": 0.22, "o2_device": "room-air"}, "fio2 above 0.21 needs an oxygen device other than room-air"),
    ({"fio2": 0.5}, "fio2 above 0.21 needs an oxygen device other than room-air"),
    ({"fio2": 0.21, "o2_device": "room-air"}, None),  # room air is 21 % oxygen
    ({"fio2": 0.4, "o2_device": "facemask"}, None),
])
def test_an_observation_that_contradicts_itself_is_named_exactly(fields: dict[str, Any], expected: str | None) -> None:
    assert inconsistency(Observation.model_construct(**{**Observation().model_dump(), **fields})) == expected


def test_the_recorded_inputs_are_plain_json_values() -> None:
    inputs = Observation(o2_device="hfnc", o2_flow_lpm=30, consciousness="voice", seizure="brief").inputs()
    assert inputs == {"o2_device": "hfnc", "o2_flow_lpm": 30.0, "consciousness": "voice", "seizure": "brief"}
    assert all(type(value) in (str, float) for value in inputs.values())  # never an enum member


@pytest.mark.parametrize(("step", "expected"), [
    ({"drug": "dexamethasone"}, "steroid"),
    ({"alternatives": [{"drug": "dexamethasone"}, {"drug": "methylprednisolone"}]}, "steroid"),
    ({"drug": "anakinra"}, "refractory"),
    ({"alternatives": [{"drug": "siltuximab"}, {"drug": "anakinra"}]}, "refractory"),
    ({"drug": "tocilizumab"}, "tocilizumab"),
])
def test_each_give_step_has_one_class(step: dict[str, Any], expected: str) -> None:
    assert drug_class(step) == expected


#: The regimens (pathway/dosing.py) whose steps are of the steroid class: one of them is shown at a time.
STEROID_REGIMENS = {"dexamethasone_standard", "dexamethasone_escalated", "methylprednisolone_escalated",
                    "methylprednisolone_icans3", "escalated_course", "standard_course", "methylprednisolone_taper",
                    "dexamethasone_taper"}


def test_the_next_steps_have_one_order() -> None:
    """Every state's recommendations have priorities inside 2..83: the urgent assessment (0), the routine one
    (85) and the reassessment (90) sort around them. Two may share a priority only if they are steroid steps,
    of which one at a time is shown (one regimen per class), so no two shown steps tie (docs/SAFETY.md: why
    moving those three bands by one, or sorting without the key, changes nothing)."""
    from collections import defaultdict

    for state, spec in PATHWAY.items():
        by_priority: dict[int, list[str]] = defaultdict(list)
        steroid: set[str] = set()
        for rec in spec.recommends:
            by_priority[rec.priority].append(rec.id)
            if rec.kind == "give" and rec.regimen in STEROID_REGIMENS:
                steroid.add(rec.id)
        for priority, ids in by_priority.items():
            assert 1 < priority < 84, f"{state}: {ids} outside the recommendation band"
            assert len(ids) == 1 or set(ids) <= steroid, \
                f"{state}: {ids} share priority {priority} and could be shown together"
