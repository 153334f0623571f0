"""ASTCT CRS grade: every row and boundary of CLINICAL.md §1, as examples and as properties."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pathway.grading import crs_grade
from pathway.observations import O2Device, Observation
from pathway.policy import DEFAULT_POLICY, Policy

P = DEFAULT_POLICY


def grade(masked: bool = False, policy: Policy = P, **obs: object) -> int:
    return crs_grade(Observation(**obs), policy, fever_masked=masked).grade


@pytest.mark.parametrize(
    ("obs", "expected"),
    [
        # fever alone: grade 1; the fever boundary 37.9 / 38.0
        ({"temp_c": 38.0}, 1),
        ({"temp_c": 37.9}, 0),
        ({"temp_c": 40.5}, 1),
        # hypotension column
        ({"temp_c": 38.5, "hypotension": True}, 2),
        ({"temp_c": 38.5, "vasopressors": 1}, 3),
        ({"temp_c": 38.5, "vasopressors": 1, "vasopressin": True}, 3),
        ({"temp_c": 38.5, "vasopressin": True}, 3),  # vasopressin alone is one vasopressor
        ({"temp_c": 38.5, "vasopressors": 2}, 4),
        ({"temp_c": 38.5, "vasopressors": 6}, 4),
        # hypoxia column, by device
        ({"temp_c": 38.5, "o2_device": "room-air"}, 1),
        ({"temp_c": 38.5, "o2_device": "nasal-cannula", "o2_flow_lpm": 6}, 2),
        ({"temp_c": 38.5, "o2_device": "nasal-cannula", "o2_flow_lpm": 6.1}, 3),  # > 6 L/min is high flow
        ({"temp_c": 38.5, "o2_device": "nasal-cannula"}, 2),  # flow not recorded: low flow, with a note
        ({"temp_c": 38.5, "o2_device": "blow-by"}, 2),
        ({"temp_c": 38.5, "o2_device": "hfnc", "o2_flow_lpm": 30}, 3),
        ({"temp_c": 38.5, "o2_device": "facemask"}, 3),
        ({"temp_c": 38.5, "o2_device": "non-rebreather"}, 3),
        ({"temp_c": 38.5, "o2_device": "venturi"}, 3),
        ({"temp_c": 38.5, "o2_device": "cpap"}, 4),
        ({"temp_c": 38.5, "o2_device": "bipap"}, 4),
        ({"temp_c": 38.5, "o2_device": "ventilator"}, 4),
        # the worse of hypotension and hypoxia sets the grade (CLINICAL.md's worked example)
        ({"temp_c": 39.5, "vasopressors": 1, "o2_device": "nasal-cannula", "o2_flow_lpm": 4}, 3),
        ({"temp_c": 39.5, "hypotension": True, "o2_device": "bipap"}, 4),
        # no fever, no prior tocilizumab/steroid: grade 0 whatever the organ support
        ({"temp_c": 37.0, "vasopressors": 2, "o2_device": "ventilator"}, 0),
        ({"o2_device": "hfnc"}, 0),
    ],
)
def test_crs_grade_table(obs: dict, expected: int) -> None:
    assert grade(**obs) == expected


@pytest.mark.parametrize(
    ("obs", "expected"),
    [
        ({"temp_c": 37.0, "o2_device": "nasal-cannula", "o2_flow_lpm": 2}, 2),
        ({"temp_c": 36.5, "vasopressors": 1}, 3),
        ({"temp_c": 36.5, "o2_device": "bipap"}, 4),
        ({"temp_c": 36.5}, 0),
        ({}, 0),
    ],
)
def test_fever_not_required_after_tocilizumab_or_steroid(obs: dict, expected: int) -> None:
    assert grade(masked=True, **obs) == expected


def test_basis_names_the_deciding_input() -> None:
    result = crs_grade(Observation(temp_c=39.5, vasopressors=1, o2_device="nasal-cannula", o2_flow_lpm=4), P)
    assert result.decided_by == ("vasopressors=1",)
    assert result.basis()["citations"] == ["ASTCT-2019"]
    high = crs_grade(Observation(temp_c=38.2, o2_device="nasal-cannula", o2_flow_lpm=8), P)
    assert "high flow" in high.decided_by[0]


def test_fever_comparator_is_policy() -> None:
    strict = Policy(fever_comparator=">")
    assert grade(policy=strict, temp_c=38.0) == 0
    assert grade(policy=strict, temp_c=38.1) == 1


@st.composite
def observations(draw: st.DrawFn) -> Observation:
    device = draw(st.none() | st.sampled_from(list(O2Device)))
    flow = None if device in (None, O2Device.ROOM_AIR) else draw(st.none() | st.floats(0, 80))
    return Observation(temp_c=draw(st.none() | st.floats(30, 45)), hypotension=draw(st.booleans()),
                       vasopressors=draw(st.integers(0, 6)), vasopressin=draw(st.booleans()),
                       o2_device=device, o2_flow_lpm=flow)


@given(observations(), st.booleans())
def test_grade_is_total_and_bounded(obs: Observation, masked: bool) -> None:
    result = crs_grade(obs, P, fever_masked=masked)
    assert 0 <= result.grade <= 4 and result.decided_by


@given(observations())
def test_no_fever_and_no_prior_therapy_is_grade_0(obs: Observation) -> None:
    if obs.temp_c is None or obs.temp_c < 38.0:
        assert crs_grade(obs, P).grade == 0


@given(observations())
def test_prior_therapy_never_lowers_the_grade(obs: Observation) -> None:
    assert crs_grade(obs, P, fever_masked=True).grade >= crs_grade(obs, P).grade


@given(observations(), st.integers(0, 6))
def test_more_vasopressors_never_lower_the_grade(obs: Observation, extra: int) -> None:
    more = obs.model_copy(update={"vasopressors": min(6, obs.vasopressors + extra)})
    assert crs_grade(more, P, fever_masked=True).grade >= crs_grade(obs, P, fever_masked=True).grade


@given(st.floats(38.0, 45))
def test_febrile_grade_never_below_1(temp: float) -> None:
    assert grade(temp_c=temp) >= 1
