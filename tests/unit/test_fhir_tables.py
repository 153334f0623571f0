"""The FHIR code tables cover the whole pathway, and the importer's edge cases, in this process (fast).

A field added to the Observation, a drug or a route added to the pathway, must not vanish silently from
every export: these tests fail until cli/fhir/codes.py names it.
"""

import json
from typing import Any

import pytest

from cli.fhir import codes
from cli.fhir.importer import plan
from pathway.drugs import Drug, Route
from pathway.errors import Invalid
from pathway.observations import Observation

AT = "2026-05-01T10:00:00+02:00"


def test_every_observation_field_has_a_code() -> None:
    assert set(Observation.model_fields) == set(codes.VITAL_BY_FIELD) | set(codes.PROJECT_INPUTS)
    graded = {f for _, _, inputs in codes.GRADES.values() for f in inputs}
    assert graded == set(Observation.model_fields), "every input links to the grade it is graded into"


def test_every_drug_and_route_is_mapped() -> None:
    assert set(codes.RXNORM) == {d.value for d in Drug}
    assert set(codes.ROUTES) == {r.value for r in Route}


def obs(code: str, system: str = codes.LOINC, **fields: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "status": fields.pop("status", "final"),
            "effectiveDateTime": fields.pop("at", AT), "code": {"coding": [{"system": system, "code": code}]},
            **fields}


def q(value: float, unit: str) -> dict[str, Any]:
    return {"valueQuantity": {"value": value, "system": codes.UCUM, "code": unit}}


def read(*resources: dict[str, Any]) -> Any:
    return plan(json.dumps({"resourceType": "Bundle", "type": "collection",
                            "entry": [{"resource": r} for r in resources]}))


def test_an_offset_time_is_read_in_utc_and_fio2_percent_becomes_a_fraction() -> None:
    got = read(obs("3150-0", **q(40, "%")), obs("o2-device", codes.CRS_OBSERVATION,
               valueCodeableConcept={"coding": [{"system": codes.CRS_VALUE + "o2-device", "code": "facemask"}]}))
    (step,) = got.steps
    assert step.at.isoformat() == "2026-05-01T08:00:00+00:00"
    assert step.inputs == {"fio2": 0.4, "o2_device": "facemask"}


def test_a_second_reading_at_the_same_time_is_skipped_and_names_the_one_used() -> None:
    got = read(obs("8310-5", id="a", **q(38.0, "Cel")), obs("8310-5", id="b", **q(38.4, "Cel")))
    assert got.steps[0].inputs == {"temp_c": 38.0}
    assert got.skipped == [{"resource": "Observation/b", "reason": "a second body temperature at the same time "
                                                                   "(2026-05-01T08:00:00Z); the first one "
                                                                   "(Observation/a) is used"}]


def test_grades_struck_results_and_other_resources_set_nothing() -> None:
    got = read(obs("crs-grade", codes.CRS_OBSERVATION, valueInteger=0),
               obs("8310-5", status="entered-in-error", **q(38.0, "Cel")), {"resourceType": "Patient"})
    assert got.steps == [] and got.ignored == {"Patient": 1}
    assert [s["reason"].split(":")[0] for s in got.skipped] == [
        "a grade is derived by the pathway from the measurements, never imported", "status entered-in-error"]


def test_blood_pressure_alone_is_reported_not_stepped() -> None:
    bp = obs("85354-9", component=[{"code": {"coding": [{"system": codes.LOINC, "code": "8480-6"}]},
                                    "valueQuantity": {"value": 85, "code": "mm[Hg]"}}])
    got = read(bp)
    assert got.steps == [] and "blood pressure 85 mm[Hg]: sets no pathway input" in got.skipped[0]["reason"]


@pytest.mark.parametrize("resource, words", [
    (obs("8310-5", at="2026-05-01T10:00:00", **q(38, "Cel")), "offset"),  # no offset: never guessed
    (obs("8310-5", **q(29.9, "Cel")), "outside 30–45"),
    (obs("3151-8", **q(-1, "L/min")), "outside 0–80"),
    (obs("3150-0", **q(101, "%")), "101 % is outside 21–100 %"),
    (obs("ice-score", codes.CRS_OBSERVATION, valueInteger=11), "outside 0–10"),
    (obs("hypotension", codes.CRS_OBSERVATION, valueBoolean="yes"), "valueBoolean"),
    ({"resourceType": "Observation", "status": "final", "code": {}}, "no effective time"),
])
def test_bad_fhir_is_invalid_with_one_sentence(resource: dict[str, Any], words: str) -> None:
    with pytest.raises(Invalid) as raised:
        read(obs("8310-5", **q(38, "Cel")), resource)
    assert words in str(raised.value) and "\n" not in str(raised.value)


def test_an_ice_score_with_a_capd_at_the_same_time_is_invalid_as_crs_observe_says() -> None:
    with pytest.raises(Invalid, match="do not make one bedside assessment"):
        read(obs("ice-score", codes.CRS_OBSERVATION, valueInteger=8),
             obs("capd-score", codes.CRS_OBSERVATION, valueInteger=3))


def _bp(rid: str, systolic: float) -> dict[str, Any]:
    return obs("85354-9", id=rid, component=[{"code": {"coding": [{"system": codes.LOINC, "code": "8480-6"}]},
                                              "valueQuantity": {"value": systolic, "code": "mm[Hg]"}}])


def test_blood_pressure_with_a_step_becomes_its_note_naming_where_it_came_from() -> None:
    (step,) = read(obs("8310-5", **q(38.0, "Cel")), _bp("bp-1", 88), _bp("bp-2", 90)).steps
    assert step.inputs == {"temp_c": 38.0}
    assert step.note == ("blood pressure 88 mm[Hg] (from FHIR Observation/bp-1); "
                         "blood pressure 90 mm[Hg] (from FHIR Observation/bp-2)")
    assert read(obs("8310-5", **q(38.0, "Cel"))).steps[0].note is None  # nothing read that sets nothing: no note


def test_many_blood_pressures_at_one_time_are_cut_to_the_notes_500_characters() -> None:
    (step,) = read(obs("8310-5", **q(38.0, "Cel")), *[_bp(f"bp-{n}-" + "x" * 50, 80 + n) for n in range(8)]).steps
    assert step.note is not None and len(step.note) == 500 and step.note.endswith("…")
