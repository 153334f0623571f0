"""The basis of each CRS and ICANS grade, exactly as a clinician reads it to check the call (pathway/grading.py;
docs/CLINICAL.md §1–2; issue 12: these words survived a mutation run).

A basis says which input decided the grade (`decided_by`), what a full assessment still lacks (`missing`), the notes
shown as warnings, and its sources (`citations`: ASCO-2021 beside ASTCT-2019 for a child's CAPD screen).
"""

from typing import Any

import pytest

from pathway.grading import crs_grade, icans_grade
from pathway.observations import Observation
from pathway.policy import DEFAULT_POLICY

ADULT, CHILD = 40.0, 8.0


def crs(**obs: Any) -> dict[str, Any]:
    return crs_grade(Observation(**obs), DEFAULT_POLICY).basis()


def icans(age: float = ADULT, **obs: Any) -> dict[str, Any]:
    return icans_grade(Observation(**obs), age_years=age, policy=DEFAULT_POLICY).basis()


# -- CRS: the circulatory input that decided the grade ---------------------------------------------------------------

@pytest.mark.parametrize(("flags", "decided_by"), [
    ({"hypotension": True}, ["hypotension"]),  # grade 2: hypotension not needing a vasopressor
    ({"vasopressin": True}, ["vasopressin"]),  # vasopressin alone: grade 3 (not counted as a vasopressor)
    ({"vasopressors": 1}, ["vasopressors=1"]),
    ({"vasopressors": 1, "vasopressin": True}, ["vasopressors=1+vasopressin"]),
])
def test_crs_by_hypotension_or_one_vasopressor_names_it(flags: dict[str, Any], decided_by: list[str]) -> None:
    basis = crs(temp_c=38.5, o2_device="room-air", **flags)
    assert (basis["grade"], basis["decided_by"]) == (2 if "hypotension" in flags else 3, decided_by)


# -- ICANS: the deciding domain, the notes, the sources -------------------------------------------------------------

def test_icans_grade_1_is_decided_by_the_ice_score() -> None:
    """ICE 8, awake: grade 1, decided by the ICE score (a grade-1 finding is a finding, not "nothing")."""
    assert icans(ice_score=8, consciousness="awake")["decided_by"] == ["ice=8"]
    assert icans(ice_score=10, consciousness="awake")["decided_by"] == ["no neurological finding"]


def test_several_findings_without_a_screen_are_all_named_and_the_grade_left_not_assessed() -> None:
    basis = icans(seizure="brief", cerebral_edema="focal")
    assert basis["grade"] is None
    assert basis["notes"] == [
        "seizure=brief, cerebral_edema=focal recorded without an ICE score or consciousness: ICANS is at least that "
        "grade; assess now",
        "ICANS not assessed: neither ICE score nor consciousness recorded"]


def test_a_child_not_assessed_names_the_capd_and_cites_its_source() -> None:
    basis = icans(CHILD, seizure="none")
    assert basis == {"grade": None, "decided_by": ["not assessed"],
                     "notes": ["ICANS not assessed: neither CAPD nor consciousness recorded"], "fever": None,
                     "missing": ["capd_score", "consciousness"], "citations": ["ASTCT-2019", "ASCO-2021"]}


@pytest.mark.parametrize(("age", "obs", "note"), [
    (CHILD, {"consciousness": "awake"}, "ICANS partly assessed: CAPD not recorded (needed for resolution)"),
    (ADULT, {"consciousness": "awake"}, "ICANS partly assessed: ICE score not recorded (needed for resolution)"),
    (ADULT, {"ice_score": 10}, "ICANS partly assessed: consciousness not recorded (needed for resolution)"),
])
def test_a_partly_assessed_icans_names_what_resolution_still_needs(age: float, obs: dict[str, Any],
                                                                  note: str) -> None:
    basis = icans(age, **obs)
    assert (basis["grade"], basis["notes"]) == (0, [note])


# -- CRS: the whole basis, case by case (CLINICAL.md §1) ---------------------------------------------------------------

CITES = ["ASTCT-2019"]


def masked(**obs: Any) -> dict[str, Any]:
    """CRS after tocilizumab or a steroid: fever is no longer required."""
    return crs_grade(Observation(**obs), DEFAULT_POLICY, fever_masked=True).basis()


@pytest.mark.parametrize(("masked_by_therapy", "obs", "expected"), [
    (False, {"temp_c": 37.0, "o2_device": "room-air"},
     (0, ["no fever"], [], False, [])),
    (False, {"temp_c": 37.0, "o2_device": "hfnc", "o2_flow_lpm": 30},
     (0, ["no fever"], ["no fever and no prior tocilizumab or steroid: hypotension/hypoxia not graded as CRS"],
      False, [])),
    (False, {"temp_c": 38.5, "o2_device": "hfnc", "o2_flow_lpm": 30},
     (3, ["o2=hfnc"], [], True, [])),
    (False, {"temp_c": 38.5, "o2_device": "nasal-cannula"},
     (2, ["o2=nasal-cannula"], ["nasal cannula flow not recorded: read as low flow"], True, [])),
    (True, {"temp_c": 37.0, "o2_device": "hfnc", "o2_flow_lpm": 30},
     (3, ["o2=hfnc"], ["fever not required after tocilizumab or a steroid"], False, [])),
    (True, {"temp_c": 37.0, "o2_device": "room-air"},
     (0, ["no fever, no hypotension, no hypoxia"], [], False, [])),
    (False, {"temp_c": 38.5},
     (None, ["not assessed"], ["CRS not assessed: oxygen support (room-air counts) not recorded"], True,
      ["o2_device"])),
    (False, {},
     (None, ["not assessed"], ["CRS not assessed: temperature and oxygen support (room-air counts) not recorded"],
      None, ["temp_c", "o2_device"])),
], ids=["afebrile", "afebrile-on-oxygen", "febrile-hfnc", "cannula-no-flow", "masked-hfnc", "masked-room-air",
        "no-oxygen-recorded", "nothing-recorded"])
def test_the_crs_basis_a_clinician_checks(masked_by_therapy: bool, obs: dict[str, Any],
                                          expected: tuple[Any, ...]) -> None:
    """`masked_by_therapy`: tocilizumab or a steroid given in the episode (fever no longer required)."""
    basis = masked(**obs) if masked_by_therapy else crs(**obs)
    grade, decided_by, notes, fever, missing = expected
    assert basis == {"grade": grade, "decided_by": decided_by, "notes": notes, "fever": fever, "missing": missing,
                     "citations": CITES}
