"""ASTCT CRS grade: every row and boundary of CLINICAL.md §1, as examples and as properties.

Version 2 (issue 9): a CRS grade needs a recorded temperature AND a recorded oxygen support
(`room-air` counts). Without both the grade is None (not assessed, never 0), the basis lists what
is missing, and oxygen above room air (or hypotension) without a temperature asks for it at once.
"""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pathway.grading import crs_grade, crs_missing
from pathway.observations import O2Device, Observation
from pathway.policy import DEFAULT_POLICY, Policy

P = DEFAULT_POLICY
MEASURE_NOW = "measure the temperature now"


def grade(masked: bool = False, policy: Policy = P, **obs: object) -> int | None:
    return crs_grade(Observation(**obs), policy, fever_masked=masked).grade


@pytest.mark.parametrize(
    ("obs", "expected"),
    [
        # fever alone (on room air): grade 1; the fever boundary 37.9 / 38.0
        ({"temp_c": 38.0, "o2_device": "room-air"}, 1),
        ({"temp_c": 37.9, "o2_device": "room-air"}, 0),
        ({"temp_c": 40.5, "o2_device": "room-air"}, 1),
        # hypotension column
        ({"temp_c": 38.5, "o2_device": "room-air", "hypotension": True}, 2),
        ({"temp_c": 38.5, "o2_device": "room-air", "vasopressors": 1}, 3),
        ({"temp_c": 38.5, "o2_device": "room-air", "vasopressors": 1, "vasopressin": True}, 3),
        ({"temp_c": 38.5, "o2_device": "room-air", "vasopressin": True}, 3),  # vasopressin alone is one vasopressor
        ({"temp_c": 38.5, "o2_device": "room-air", "vasopressors": 2}, 4),
        ({"temp_c": 38.5, "o2_device": "room-air", "vasopressors": 6}, 4),
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
        ({"temp_c": 37.9, "o2_device": "hfnc", "o2_flow_lpm": 40}, 0),
        # v2: not assessed (None, never 0) without a temperature AND an oxygen support
        ({"o2_device": "hfnc"}, None),
        ({"o2_device": "room-air"}, None),
        ({"temp_c": 39.5}, None),
        ({"temp_c": 39.5, "vasopressors": 2}, None),
        ({"vasopressors": 2, "hypotension": True}, None),
        ({}, None),
    ],
)
def test_crs_grade_table(obs: dict, expected: int | None) -> None:
    assert grade(**obs) == expected


@pytest.mark.parametrize(
    ("obs", "expected"),
    [
        ({"temp_c": 37.0, "o2_device": "nasal-cannula", "o2_flow_lpm": 2}, 2),
        ({"temp_c": 36.5, "o2_device": "room-air", "vasopressors": 1}, 3),
        ({"temp_c": 36.5, "o2_device": "bipap"}, 4),
        ({"temp_c": 36.5, "o2_device": "room-air"}, 0),
        # fever no longer needed, but the temperature still is: masked or not, silence is not normal
        ({"o2_device": "bipap"}, None),
        ({"temp_c": 36.5, "vasopressors": 1}, None),
        ({"temp_c": 36.5}, None),
        ({}, None),
    ],
)
def test_fever_not_required_after_tocilizumab_or_steroid(obs: dict, expected: int | None) -> None:
    assert grade(masked=True, **obs) == expected


def test_basis_names_the_deciding_input() -> None:
    result = crs_grade(Observation(temp_c=39.5, vasopressors=1, o2_device="nasal-cannula", o2_flow_lpm=4), P)
    assert result.decided_by == ("vasopressors=1",)
    assert result.basis()["citations"] == ["ASTCT-2019"]
    assert result.basis()["missing"] == [] and result.fully_assessed
    high = crs_grade(Observation(temp_c=38.2, o2_device="nasal-cannula", o2_flow_lpm=8), P)
    assert "high flow" in high.decided_by[0]


def test_fever_comparator_is_policy() -> None:
    strict = Policy(fever_comparator=">")
    assert grade(policy=strict, temp_c=38.0, o2_device="room-air") == 0
    assert grade(policy=strict, temp_c=38.1, o2_device="room-air") == 1


# -- not assessed (CLINICAL.md §1 v2) ----------------------------------------------------------------

@pytest.mark.parametrize(
    ("obs", "missing"),
    [
        ({"temp_c": 39.0}, ["o2_device"]),  # temperature only
        ({"o2_device": "room-air"}, ["temp_c"]),  # oxygen only
        ({"o2_device": "nasal-cannula", "o2_flow_lpm": 2}, ["temp_c"]),
        ({}, ["temp_c", "o2_device"]),  # nothing
        ({"ice_score": 10, "consciousness": "awake"}, ["temp_c", "o2_device"]),  # neuro only
    ],
)
def test_crs_not_assessed_names_what_is_missing(obs: dict, missing: list[str]) -> None:
    result = crs_grade(Observation(**obs), P)
    assert result.grade is None and not result.assessed and not result.fully_assessed
    assert result.basis()["grade"] is None
    assert result.basis()["missing"] == missing == list(result.missing)
    assert result.decided_by == ("not assessed",)
    assert any(n.startswith("CRS not assessed") for n in result.notes)


def test_the_basis_of_an_assessed_grade_lists_nothing_missing() -> None:
    for obs in ({"temp_c": 36.5, "o2_device": "room-air"}, {"temp_c": 39.0, "o2_device": "bipap"}):
        basis = crs_grade(Observation(**obs), P).basis()
        assert basis["missing"] == [] and basis["grade"] is not None


@pytest.mark.parametrize("device", ["nasal-cannula", "blow-by", "hfnc", "facemask", "non-rebreather", "venturi",
                                    "cpap", "bipap", "ventilator"])
def test_oxygen_above_room_air_without_temperature_asks_for_it_now(device: str) -> None:
    result = crs_grade(Observation(o2_device=device), P)
    assert result.grade is None and result.missing == ("temp_c",)
    assert MEASURE_NOW in result.notes[0]  # the first note: never reassuring
    assert crs_grade(Observation(o2_device=device), P, fever_masked=True).grade is None


def test_hypotension_without_temperature_also_asks_for_it_now() -> None:
    result = crs_grade(Observation(vasopressors=1, o2_device="room-air"), P)
    assert result.grade is None and MEASURE_NOW in result.notes[0]


def test_room_air_or_nothing_without_temperature_is_not_assessed_but_not_alarming() -> None:
    for obs in ({"o2_device": "room-air"}, {}):
        result = crs_grade(Observation(**obs), P)
        assert result.grade is None and not any(MEASURE_NOW in n for n in result.notes)


# -- properties ----------------------------------------------------------------------------------------

@st.composite
def observations(draw: st.DrawFn) -> Observation:
    """Any subset of the CRS fields, including none."""
    device = draw(st.none() | st.sampled_from(list(O2Device)))
    flow = None if device in (None, O2Device.ROOM_AIR) else draw(st.none() | st.floats(0, 80))
    return Observation(temp_c=draw(st.none() | st.sampled_from([37.9, 38.0]) | st.floats(30, 45)),
                       hypotension=draw(st.booleans()), vasopressors=draw(st.integers(0, 6)),
                       vasopressin=draw(st.booleans()), o2_device=device, o2_flow_lpm=flow)


def assessed(obs: Observation) -> bool:
    return obs.temp_c is not None and obs.o2_device is not None


@given(observations(), st.booleans())
def test_grade_is_none_or_bounded_and_none_iff_temp_or_o2_missing(obs: Observation, masked: bool) -> None:
    result = crs_grade(obs, P, fever_masked=masked)
    assert result.decided_by
    assert (result.grade is None) == (not assessed(obs))
    assert result.grade is None or 0 <= result.grade <= 4
    assert list(result.missing) == list(crs_missing(obs)) == [
        name for name, value in (("temp_c", obs.temp_c), ("o2_device", obs.o2_device)) if value is None]
    assert result.fully_assessed == assessed(obs)


@given(observations())
def test_no_fever_and_no_prior_therapy_is_grade_0(obs: Observation) -> None:
    if assessed(obs) and obs.temp_c < 38.0:  # type: ignore[operator]
        assert crs_grade(obs, P).grade == 0


@given(observations())
def test_prior_therapy_never_lowers_the_grade(obs: Observation) -> None:
    plain, masked = crs_grade(obs, P).grade, crs_grade(obs, P, fever_masked=True).grade
    if plain is None:
        assert masked is None
    else:
        assert masked is not None and masked >= plain


@given(observations(), st.integers(0, 6))
def test_more_vasopressors_never_lower_the_grade(obs: Observation, extra: int) -> None:
    more = obs.model_copy(update={"vasopressors": min(6, obs.vasopressors + extra)})
    before, after = crs_grade(obs, P, fever_masked=True).grade, crs_grade(more, P, fever_masked=True).grade
    assert (before is None) == (after is None)
    if before is not None:
        assert after >= before  # type: ignore[operator]


@given(st.floats(38.0, 45), st.sampled_from(list(O2Device)))
def test_febrile_grade_never_below_1(temp: float, device: O2Device) -> None:
    assert grade(temp_c=temp, o2_device=device) >= 1  # type: ignore[operator]
    assert grade(temp_c=temp) is None  # the same fever with no oxygen support recorded: not assessed


@given(observations())
def test_organ_support_without_temperature_is_never_reassuring(obs: Observation) -> None:
    result = crs_grade(obs, P)
    organ = obs.hypotension or obs.vasopressors or obs.vasopressin or obs.o2_device not in (None, O2Device.ROOM_AIR)
    if obs.temp_c is None:
        assert result.grade is None
        assert any(MEASURE_NOW in n for n in result.notes) == bool(organ)
