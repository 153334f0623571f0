"""ASTCT ICANS grade: every domain and boundary of CLINICAL.md §2 and §2b, as examples and as properties.

Version 2 (issue 9): `icans_grade(obs, age_years=, policy=)` screens with the CAPD below the policy's
CAPD age (default 12.0 years) and the ICE score from it; ICANS is graded only when the screen or the
level of consciousness is recorded (else None, never 0), and `missing` lists what a full
assessment still lacks.
"""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pathway.grading import icans_grade, uses_capd
from pathway.observations import CerebralEdema, Consciousness, Observation, Seizure
from pathway.policy import DEFAULT_POLICY, Policy

P = DEFAULT_POLICY
ADULT, CHILD = 40.0, 8.0


def grade(age: float = ADULT, policy: Policy = P, **obs: object) -> int | None:
    return icans_grade(Observation(**obs), age_years=age, policy=policy).grade


def result(age: float = ADULT, policy: Policy = P, **obs: object):  # type: ignore[no-untyped-def]
    return icans_grade(Observation(**obs), age_years=age, policy=policy)


# -- adults: ICE (CLINICAL.md §2) ----------------------------------------------------------------------

@pytest.mark.parametrize(
    ("ice", "expected"),
    [(10, 0), (9, 1), (7, 1), (6, 2), (3, 2), (2, 3), (1, 3), (0, 3)],
)
def test_ice_score_boundaries(ice: int, expected: int) -> None:
    assert grade(ice_score=ice) == expected
    assert grade(ice_score=ice, consciousness="awake") == expected


def test_ice_0_awake_is_grade_3_and_ice_0_unarousable_is_grade_4() -> None:
    assert grade(ice_score=0, consciousness="awake") == 3  # global aphasia in an awake patient
    assert grade(ice_score=0, consciousness="unarousable") == 4
    awake = result(ice_score=0, consciousness="awake")
    assert awake.decided_by == ("ice=0",)
    assert set(result(ice_score=0, consciousness="unarousable").decided_by) == {"ice=0", "consciousness=unarousable"}


def test_ice_10_awake_nothing_else_is_grade_0() -> None:
    r = result(ice_score=10, consciousness="awake", seizure="none", cerebral_edema="none")
    assert r.grade == 0 and r.fully_assessed and r.decided_by == ("no neurological finding",)


@pytest.mark.parametrize(
    ("level", "expected"),
    [("awake", 0), ("voice", 2), ("touch", 3), ("unarousable", 4)],
)
def test_each_consciousness_level(level: str, expected: int) -> None:
    assert grade(ice_score=10, consciousness=level) == expected
    assert grade(consciousness=level) == expected  # consciousness alone grades ICANS (screen missing)


@pytest.mark.parametrize(("kind", "expected"), [("none", 0), ("brief", 3), ("prolonged", 4)])
def test_seizure(kind: str, expected: int) -> None:
    assert grade(ice_score=10, seizure=kind) == expected


def test_deep_focal_motor_weakness_is_grade_4() -> None:
    assert grade(ice_score=10, motor_weakness=True) == 4


@pytest.mark.parametrize(("kind", "expected"), [("none", 0), ("focal", 3), ("diffuse", 4)])
def test_cerebral_edema(kind: str, expected: int) -> None:
    assert grade(ice_score=10, cerebral_edema=kind) == expected


def test_worst_domain_wins_and_is_named() -> None:
    r = result(ice_score=8, consciousness="voice", seizure="brief")
    assert r.grade == 3 and r.decided_by == ("seizure=brief",)


# -- not assessed and partly assessed (CLINICAL.md §2 v2) --------------------------------------------

@pytest.mark.parametrize(
    ("obs", "age", "missing"),
    [
        ({}, ADULT, ["ice_score", "consciousness"]),
        ({"temp_c": 38.0}, ADULT, ["ice_score", "consciousness"]),
        ({}, CHILD, ["capd_score", "consciousness"]),
        ({"ice_score": 10}, CHILD, ["capd_score", "consciousness"]),  # the wrong screen for a child grades nothing
        ({"capd_score": 0}, ADULT, ["ice_score", "consciousness"]),  # nor a CAPD for an adult
    ],
)
def test_icans_not_assessed_without_screen_or_consciousness(obs: dict, age: float, missing: list[str]) -> None:
    r = result(age=age, **obs)
    assert r.grade is None and not r.assessed and r.decided_by == ("not assessed",)
    assert r.basis()["missing"] == missing and r.basis()["grade"] is None
    assert any(n.startswith("ICANS not assessed") for n in r.notes)


@pytest.mark.parametrize(
    ("obs", "found"),
    [
        ({"seizure": "brief"}, "seizure=brief"),
        ({"seizure": "prolonged"}, "seizure=prolonged"),
        ({"motor_weakness": True}, "motor_weakness"),
        ({"cerebral_edema": "focal"}, "cerebral_edema=focal"),
        ({"cerebral_edema": "diffuse"}, "cerebral_edema=diffuse"),
    ],
)
@pytest.mark.parametrize(("age", "screen"), [(ADULT, "an ICE score"), (CHILD, "a CAPD")])
def test_a_finding_without_screen_or_consciousness_is_not_assessed_and_says_assess_now(
        obs: dict, found: str, age: float, screen: str) -> None:
    r = result(age=age, **obs)
    assert r.grade is None
    assert r.notes[0] == (f"{found} recorded without {screen} or consciousness: ICANS is at least that grade; "
                          "assess now")


def test_normal_findings_alone_are_not_assessed_without_the_alarm_note() -> None:
    r = result(seizure="none", cerebral_edema="none")
    assert r.grade is None and not any("assess now" in n for n in r.notes)


@pytest.mark.parametrize(
    ("obs", "age", "expected", "missing"),
    [
        ({"ice_score": 10}, ADULT, 0, ["consciousness"]),
        ({"consciousness": "awake"}, ADULT, 0, ["ice_score"]),
        ({"capd_score": 0}, CHILD, 0, ["consciousness"]),
        ({"consciousness": "awake"}, CHILD, 0, ["capd_score"]),
        ({"ice_score": 10, "consciousness": "awake"}, ADULT, 0, []),
        ({"capd_score": 0, "consciousness": "awake"}, CHILD, 0, []),
    ],
)
def test_missing_lists_what_a_full_assessment_lacks(obs: dict, age: float, expected: int, missing: list[str]) -> None:
    r = result(age=age, **obs)
    assert r.grade == expected and list(r.missing) == missing == r.basis()["missing"]
    assert r.fully_assessed == (not missing)
    assert any("partly assessed" in n for n in r.notes) == bool(missing)


# -- children: CAPD (CLINICAL.md §2b) ------------------------------------------------------------------

@pytest.mark.parametrize(
    ("obs", "expected"),
    [
        ({"capd_score": 0, "consciousness": "awake"}, 0),
        ({"capd_score": 0}, 0),
        ({"capd_score": 1}, 1),
        ({"capd_score": 1, "consciousness": "awake"}, 1),
        ({"capd_score": 8}, 1),
        ({"capd_score": 8, "consciousness": "awake"}, 1),
        ({"capd_score": 1, "consciousness": "voice"}, 2),
        ({"capd_score": 8, "consciousness": "voice"}, 2),
        ({"capd_score": 9}, 3),
        ({"capd_score": 9, "consciousness": "awake"}, 3),
        ({"capd_score": 20}, 3),
        ({"capd_score": 32}, 3),
        ({"capd_unable": True}, 4),
        ({"capd_unable": True, "consciousness": "awake"}, 4),
        # other domains as for adults
        ({"capd_score": 0, "consciousness": "touch"}, 3),
        ({"capd_score": 0, "consciousness": "unarousable"}, 4),
        ({"capd_score": 4, "seizure": "brief"}, 3),
        ({"capd_score": 4, "seizure": "prolonged"}, 4),
        ({"capd_score": 4, "motor_weakness": True}, 4),
        ({"capd_score": 4, "cerebral_edema": "focal"}, 3),
        ({"capd_score": 4, "cerebral_edema": "diffuse"}, 4),
    ],
)
def test_capd_grading_table(obs: dict, expected: int) -> None:
    assert grade(age=CHILD, **obs) == expected


def test_capd_names_its_decider_and_cites_asco() -> None:
    r = result(age=CHILD, capd_score=9, consciousness="awake")
    assert r.decided_by == ("capd=9",)
    assert r.citations == ("ASTCT-2019", "ASCO-2021")
    assert result(age=CHILD, capd_unable=True).decided_by == ("capd=unable",)
    assert result(age=ADULT, ice_score=9).citations == ("ASTCT-2019",)


def test_the_old_ice_only_note_for_children_is_gone() -> None:
    """v1 told children under 12 'ICE only'; v2 grades them by CAPD instead."""
    r = result(age=CHILD, capd_score=0, consciousness="awake")
    assert r.grade == 0 and r.notes == ()


@pytest.mark.parametrize(
    ("age", "policy", "capd"),
    [
        (11.9, P, True),
        (12.0, P, False),
        (0.0, P, True),
        (11.99, P, True),
        (12.0, Policy(capd_below_age_years=14.0), True),
        (13.9, Policy(capd_below_age_years=14.0), True),
        (14.0, Policy(capd_below_age_years=14.0), False),
        (11.9, Policy(capd_below_age_years=10.0), False),
        (9.9, Policy(capd_below_age_years=10.0), True),
    ],
)
def test_the_capd_age_boundary_is_policy(age: float, policy: Policy, capd: bool) -> None:
    assert uses_capd(age, policy) is capd
    by_capd = icans_grade(Observation(capd_score=9, consciousness="awake"), age_years=age, policy=policy)
    by_ice = icans_grade(Observation(ice_score=9, consciousness="awake"), age_years=age, policy=policy)
    if capd:
        assert (by_capd.grade, by_capd.missing) == (3, ())
        assert (by_ice.grade, by_ice.missing) == (0, ("capd_score",))  # ICE not read: only consciousness
    else:
        assert (by_ice.grade, by_ice.missing) == (1, ())
        assert (by_capd.grade, by_capd.missing) == (0, ("ice_score",))  # CAPD not read


# -- properties ----------------------------------------------------------------------------------------

_domains = {
    "consciousness": st.none() | st.sampled_from(list(Consciousness)),
    "seizure": st.none() | st.sampled_from(list(Seizure)),
    "motor_weakness": st.booleans(),
    "cerebral_edema": st.none() | st.sampled_from(list(CerebralEdema)),
}
neuro = st.builds(Observation, ice_score=st.none() | st.integers(0, 10), **_domains)


@st.composite
def child_neuro(draw: st.DrawFn) -> Observation:
    unable = draw(st.booleans())
    score = None if unable else draw(st.none() | st.sampled_from([0, 1, 8, 9, 32]) | st.integers(0, 32))
    return Observation(capd_score=score, capd_unable=unable, **{k: draw(s) for k, s in _domains.items()})


def worst_other_domain(obs: Observation) -> int:
    return max([{"awake": 0, "voice": 2, "touch": 3, "unarousable": 4}[obs.consciousness] if obs.consciousness else 0,
                {"none": 0, "brief": 3, "prolonged": 4}[obs.seizure] if obs.seizure else 0,
                4 if obs.motor_weakness else 0,
                {"none": 0, "focal": 3, "diffuse": 4}[obs.cerebral_edema] if obs.cerebral_edema else 0])


@given(neuro)
def test_icans_is_the_worst_domain(obs: Observation) -> None:
    r = icans_grade(obs, age_years=ADULT, policy=P)
    assert (r.grade is None) == (obs.ice_score is None and obs.consciousness is None)
    if r.grade is None:
        return
    assert 0 <= r.grade <= 4 and r.grade >= worst_other_domain(obs)
    if obs.motor_weakness or obs.seizure is Seizure.PROLONGED or obs.cerebral_edema is CerebralEdema.DIFFUSE:
        assert r.grade == 4
    if obs.ice_score is not None and obs.ice_score <= 2:
        assert r.grade >= 3


@given(neuro, st.integers(0, 10))
def test_lower_ice_never_lowers_the_grade(obs: Observation, lower: int) -> None:
    if obs.ice_score is None:
        return
    worse = obs.model_copy(update={"ice_score": min(lower, obs.ice_score)})
    assert icans_grade(worse, age_years=ADULT, policy=P).grade >= icans_grade(obs, age_years=ADULT, policy=P).grade


@given(child_neuro(), st.floats(0, 11.9))
def test_child_grade_is_none_iff_neither_capd_nor_consciousness(obs: Observation, age: float) -> None:
    r = icans_grade(obs, age_years=age, policy=P)
    assert (r.grade is None) == (not obs.capd_recorded and obs.consciousness is None)
    expected_missing = [n for n, absent in (("capd_score", not obs.capd_recorded),
                                            ("consciousness", obs.consciousness is None)) if absent]
    assert list(r.missing) == expected_missing
    if r.grade is None:
        return
    assert 0 <= r.grade <= 4 and r.grade >= worst_other_domain(obs)
    if obs.capd_unable:
        assert r.grade == 4
    elif obs.capd_score is not None:
        if obs.capd_score >= 9:
            assert r.grade >= 3
        elif obs.capd_score >= 1:
            assert r.grade >= (2 if obs.consciousness is Consciousness.VOICE else 1)


@given(child_neuro(), st.integers(0, 32))
def test_higher_capd_never_lowers_the_grade(obs: Observation, higher: int) -> None:
    if obs.capd_score is None:
        return
    worse = obs.model_copy(update={"capd_score": max(higher, obs.capd_score)})
    assert icans_grade(worse, age_years=CHILD, policy=P).grade >= icans_grade(obs, age_years=CHILD, policy=P).grade


@given(child_neuro())
def test_unable_is_at_least_any_capd_score(obs: Observation) -> None:
    unable = obs.model_copy(update={"capd_score": None, "capd_unable": True})
    assert icans_grade(unable, age_years=CHILD, policy=P).grade == 4
