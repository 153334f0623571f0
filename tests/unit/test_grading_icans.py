"""ASTCT ICANS grade: every domain and boundary of CLINICAL.md §2, as examples and as properties."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pathway.grading import icans_grade
from pathway.observations import CerebralEdema, Consciousness, Observation, Seizure


def grade(**obs: object) -> int:
    return icans_grade(Observation(**obs)).grade


@pytest.mark.parametrize(
    ("ice", "expected"),
    [(10, 0), (9, 1), (7, 1), (6, 2), (3, 2), (2, 3), (1, 3), (0, 3)],
)
def test_ice_score_boundaries(ice: int, expected: int) -> None:
    assert grade(ice_score=ice) == expected


def test_ice_0_and_unarousable_is_grade_4() -> None:
    assert grade(ice_score=0, consciousness="unarousable") == 4


def test_ice_10_awake_nothing_else_is_grade_0() -> None:
    assert grade(ice_score=10, consciousness="awake", seizure="none", cerebral_edema="none") == 0


@pytest.mark.parametrize(
    ("level", "expected"),
    [("awake", 0), ("voice", 2), ("touch", 3), ("unarousable", 4)],
)
def test_each_consciousness_level(level: str, expected: int) -> None:
    assert grade(ice_score=10, consciousness=level) == expected


@pytest.mark.parametrize(("kind", "expected"), [("none", 0), ("brief", 3), ("prolonged", 4)])
def test_seizure(kind: str, expected: int) -> None:
    assert grade(ice_score=10, seizure=kind) == expected


def test_deep_focal_motor_weakness_is_grade_4() -> None:
    assert grade(ice_score=10, motor_weakness=True) == 4


@pytest.mark.parametrize(("kind", "expected"), [("none", 0), ("focal", 3), ("diffuse", 4)])
def test_cerebral_edema(kind: str, expected: int) -> None:
    assert grade(ice_score=10, cerebral_edema=kind) == expected


def test_worst_domain_wins_and_is_named() -> None:
    result = icans_grade(Observation(ice_score=8, consciousness="voice", seizure="brief"))
    assert result.grade == 3 and result.decided_by == ("seizure=brief",)


def test_children_under_12_are_told_ice_only() -> None:
    notes = icans_grade(Observation(ice_score=10), age_years=8).notes
    assert any("CAPD" in n for n in notes)


def test_missing_neuro_assessment_is_noted() -> None:
    assert icans_grade(Observation(temp_c=38)).notes


neuro = st.builds(
    Observation,
    ice_score=st.none() | st.integers(0, 10),
    consciousness=st.none() | st.sampled_from(list(Consciousness)),
    seizure=st.none() | st.sampled_from(list(Seizure)),
    motor_weakness=st.booleans(),
    cerebral_edema=st.none() | st.sampled_from(list(CerebralEdema)),
)


@given(neuro)
def test_icans_is_the_worst_domain(obs: Observation) -> None:
    result = icans_grade(obs)
    assert 0 <= result.grade <= 4
    if obs.motor_weakness or obs.seizure is Seizure.PROLONGED or obs.cerebral_edema is CerebralEdema.DIFFUSE:
        assert result.grade == 4
    if obs.ice_score is not None and obs.ice_score <= 2:
        assert result.grade >= 3


@given(neuro, st.integers(0, 10))
def test_lower_ice_never_lowers_the_grade(obs: Observation, lower: int) -> None:
    if obs.ice_score is None:
        return
    worse = obs.model_copy(update={"ice_score": min(lower, obs.ice_score)})
    assert icans_grade(worse).grade >= icans_grade(obs).grade
