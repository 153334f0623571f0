"""`crs export EPISODE --format fhir` (issue 14): real `crs` processes on a real SQLite file.

Every Bundle exported here is validated with zero problems by both validators of tests/support/fhir_r4.py
(fhir.resources' R4B models and R4's required value sets), and checked for what the issue asks: a Patient
with the pseudonymous reference alone, LOINC/UCUM vital signs, grades with a dataAbsentReason when not
assessed, struck entries entered-in-error, a DetectedIssue per refusal and override, a Provenance per event
with its hash. The seed-000 example in docs/ is checked to be current.
"""

import copy
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cli.fhir import codes
from typer.testing import CliRunner

from cli.app import app as cli_app
from tests.cli.conftest import ACTOR, Ran, one_sentence
from tests.support import fhir_r4

ROOT = Path(__file__).resolve().parents[2]
CONTEXT = "day 9 after CAR-T, bed 12"  # free text that must not leave in an export


def resources(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def by_code(bundle: dict[str, Any], code: str) -> list[dict[str, Any]]:
    return [r for r in resources(bundle, "Observation") if r["code"]["coding"][0]["code"] == code]


@pytest.fixture(scope="module")
def episode(tmp_path_factory: pytest.TempPathFactory, crs_bin: Callable[..., Ran]) -> dict[str, Any]:
    """One episode with every kind of entry: vitals, ICANS inputs, doses, an action, a correction, a void, a
    late entry, an override and a refusal; then its export and history."""
    folder = tmp_path_factory.mktemp("fhir-export")
    env = {"CRS_DB": f"sqlite:///{folder / 'crs.db'}"}

    def run(*args: str, code: int = 0) -> Ran:
        ran = crs_bin(*args, env=env)
        assert ran.code == code, (args, ran)
        return ran

    def app(*args: str, code: int = 0) -> Ran:
        """The same app in this process, for setting the episode up (the exports under test are real processes)."""
        result = CliRunner().invoke(cli_app, list(args), env={**env, "CRS_ACTOR": ACTOR, "NO_COLOR": "1"})
        ran = Ran(result.exit_code, result.stdout, result.stderr)
        assert ran.code == code, (args, ran)
        return ran

    opened = app("--json", "open", "--patient", "PX-7", "--weight-kg", "70", "--age-years", "40",
                 "--context", CONTEXT, "--at", "2026-02-01T08:00Z").json
    eid = opened["episode"]
    app("observe", eid, "--temp", "39.2", "--o2", "nasal-cannula", "--o2-flow", "4", "--at", "2026-02-01T09:00Z")
    app("give", eid, "tocilizumab", "--dose-mg", "560", "--at", "2026-02-01T09:10Z")  # seq 3
    app("give", eid, "tocilizumab", "--dose-mg", "560", "--at", "2026-02-01T10:00Z", code=1)  # refused, hard
    app("observe", eid, "--temp", "38.1", "--o2", "room-air", "--ice", "8", "--consciousness", "awake",
        "--at", "2026-02-01T12:00Z")  # seq 4
    app("act", eid, "labs", "--note", "CBC for bed 12", "--at", "2026-02-01T12:10Z")  # seq 5
    app("correct", eid, "4", "--reason", "typo in temperature", "--temp", "38.4", "--o2", "room-air", "--ice", "8",
        "--consciousness", "awake")  # seq 6 supersedes 4
    app("void", eid, "5", "--reason", "entered on the wrong episode")  # seq 7 voids 5
    app("act", eid, "telemetry", "--at", "2026-02-01T11:00Z", "--late", "charted after the round")  # seq 8
    app("give", eid, "dexamethasone", "--dose-mg", "10", "--at", "2026-02-01T12:30Z",
        "--override", "clinical team decision")  # seq 9, passes STEROID_INDICATION
    app("observe", eid, "--ice", "9", "--at", "2026-02-01T13:00Z")  # seq 10: CRS not assessed
    exported = run("export", eid, "--format", "fhir").stdout
    history = app("--json", "history", eid).json
    return {"id": eid, "bundle": json.loads(exported), "text": exported, "history": history, "run": run,
            "folder": folder}


def test_every_exported_bundle_validates_with_both_validators(episode: dict[str, Any]) -> None:
    assert fhir_r4.r4b_problems(episode["bundle"]) == []
    assert fhir_r4.r4_problems(episode["bundle"]) == []
    assert episode["bundle"]["type"] == "collection"


def test_the_patient_carries_the_pseudonymous_reference_and_nothing_else(episode: dict[str, Any]) -> None:
    (patient,) = resources(episode["bundle"], "Patient")
    assert set(patient) == {"resourceType", "id", "identifier"}
    assert patient["identifier"] == [{"use": "secondary", "system": codes.PATIENT_REF, "value": "PX-7"}]
    assert CONTEXT not in episode["text"] and "bed 12" not in episode["text"]  # context and notes stay home


def test_vital_signs_carry_loinc_ucum_and_the_vital_signs_category(episode: dict[str, Any]) -> None:
    temps = by_code(episode["bundle"], "8310-5")
    assert {t["valueQuantity"]["value"] for t in temps} == {39.2, 38.1, 38.4}
    assert all(t["valueQuantity"]["code"] == "Cel" and t["valueQuantity"]["system"] == codes.UCUM for t in temps)
    assert all(t["category"][0]["coding"][0]["code"] == "vital-signs" for t in temps)
    (flow,) = by_code(episode["bundle"], "3151-8")
    assert flow["valueQuantity"] == {"value": 4.0, "unit": "L/min", "system": codes.UCUM, "code": "L/min"}


def test_grades_link_to_their_measurements_and_not_assessed_is_never_zero(episode: dict[str, Any]) -> None:
    bundle = episode["bundle"]
    crs = by_code(bundle, "crs-grade")
    first = next(g for g in crs if g["effectiveDateTime"] == "2026-02-01T09:00:00Z")
    assert first["valueInteger"] == 2
    linked = {link["reference"].removeprefix("urn:uuid:") for link in first["derivedFrom"]}
    same_time = {r["id"] for r in resources(bundle, "Observation") if r["effectiveDateTime"] == "2026-02-01T09:00:00Z"
                 and r["code"]["coding"][0]["code"] in ("8310-5", "3151-8", "o2-device")}
    assert linked == same_time and len(linked) == 3
    last = next(g for g in crs if g["effectiveDateTime"] == "2026-02-01T13:00:00Z")
    assert "valueInteger" not in last and last["dataAbsentReason"]["coding"][0]["code"] == "not-performed"
    icans = next(g for g in by_code(bundle, "icans-grade") if g["effectiveDateTime"] == "2026-02-01T13:00:00Z")
    assert icans["valueInteger"] == 1  # graded from the ICE score alone (ICE 9)
    assert [link["reference"] for link in icans["derivedFrom"]] == [
        f"urn:uuid:{r['id']}" for r in by_code(bundle, "ice-score") if r["effectiveDateTime"] == "2026-02-01T13:00:00Z"]


def test_superseded_and_voided_entries_are_entered_in_error_and_kept(episode: dict[str, Any]) -> None:
    bundle = episode["bundle"]
    at_noon = [r for r in resources(bundle, "Observation") if r["effectiveDateTime"] == "2026-02-01T12:00:00Z"]
    assert {r["status"] for r in at_noon} == {"entered-in-error", "corrected"}
    assert {r["valueQuantity"]["value"]: r["status"] for r in at_noon if r["code"]["coding"][0]["code"] == "8310-5"} \
        == {38.1: "entered-in-error", 38.4: "corrected"}
    procedures = {p["code"]["coding"][0]["code"]: p["status"] for p in resources(bundle, "Procedure")}
    assert procedures == {"labs": "entered-in-error", "telemetry": "completed"}


def test_doses_are_medication_administrations_in_mg_with_route(episode: dict[str, Any]) -> None:
    doses = resources(episode["bundle"], "MedicationAdministration")
    assert [d["medicationCodeableConcept"]["coding"][0]["code"] for d in doses] == ["612865", "3264"]
    assert all(d["dosage"]["dose"]["code"] == "mg" and d["dosage"]["route"]["coding"][0]["code"] == "47625008"
               for d in doses)


def test_refusals_and_overrides_are_detected_issues(episode: dict[str, Any]) -> None:
    issues = resources(episode["bundle"], "DetectedIssue")
    refused = next(i for i in issues if i["detail"].startswith("refused"))
    assert refused["code"]["coding"][0]["code"] == "TOCI_MIN_INTERVAL" and refused["severity"] == "high"
    override = next(i for i in issues if "mitigation" in i)
    assert override["code"]["coding"][0]["code"] == "STEROID_INDICATION" and override["severity"] == "moderate"
    assert override["mitigation"][0]["action"]["text"] == "clinical team decision"
    assert len(issues) == 2


def test_a_provenance_per_event_carries_actor_login_times_and_hash(episode: dict[str, Any]) -> None:
    provenances = [p for p in resources(episode["bundle"], "Provenance") if "entity" in p]
    events = episode["history"]["events"]
    assert len(provenances) == len(events)
    for provenance, event in zip(provenances, events):
        assert provenance["entity"][0]["what"]["identifier"]["value"] == event["hash"]
        assert provenance["recorded"] == event["recorded_at"] and provenance["occurredDateTime"] == event["at"]
        assert provenance["agent"][0]["who"]["display"] == event["actor"]
        assert provenance["agent"][1]["who"]["identifier"]["value"] == event["login"]
    full_urls = {e["fullUrl"] for e in episode["bundle"]["entry"]}
    assert all(t["reference"] in full_urls for p in provenances for t in p["target"])


def test_the_r4_check_catches_what_the_r4b_models_let_through(episode: dict[str, Any]) -> None:
    """Teeth: a wrong status, severity or data-absent code passes fhir.resources but not the R4 check."""
    for path, value in (("Observation.status", "bogus"), ("DetectedIssue.severity", "critical"),
                        ("MedicationAdministration.status", "final"), ("Procedure.status", "done")):
        kind, element = path.split(".")
        broken = copy.deepcopy(episode["bundle"])
        resources(broken, kind)[0][element] = value
        assert fhir_r4.r4b_problems(broken) == [], path  # the library does not enforce the value set
        assert any(element in p and repr(value) in p for p in fhir_r4.r4_problems(broken)), path
    broken = copy.deepcopy(episode["bundle"])
    absent = next(r for r in resources(broken, "Observation") if "dataAbsentReason" in r)
    absent["dataAbsentReason"]["coding"][0]["code"] = "not-assessed"
    assert any("not-assessed" in p for p in fhir_r4.r4_problems(broken))
    absent["valueInteger"] = 0
    assert any("obs-6" in p for p in fhir_r4.r4_problems(broken))
    assert fhir_r4.r4b_problems({"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": {"resourceType": "Patient", "birthDate": "not a date"}}]})  # and the library has teeth too


def test_export_out_writes_a_file_and_refuses_to_overwrite(episode: dict[str, Any]) -> None:
    run, out = episode["run"], episode["folder"] / "bundle.json"
    written = run("--json", "export", episode["id"], "--format", "fhir", "--out", str(out)).json
    assert written["out"] == str(out) and written["resources"]["Patient"] == 1
    assert json.loads(out.read_text(encoding="utf-8")) == episode["bundle"]
    again = run("export", episode["id"], "--format", "fhir", "--out", str(out), code=2)
    assert one_sentence(again.stderr) and "already exists" in again.stderr


def test_export_of_an_unknown_episode_or_format_is_one_sentence(episode: dict[str, Any]) -> None:
    run = episode["run"]
    missing = run("export", "EZZZZZ", "--format", "fhir", code=4)
    assert one_sentence(missing.stderr)
    wrong = run("--json", "export", episode["id"], "--format", "hl7v2", code=2)
    assert wrong.json["error"] == "invalid"
    assert run("--json", "export", episode["id"], code=2).json["error"] == "invalid"  # --format is required


def test_seed_000_example_in_docs_is_current_and_valid() -> None:
    """docs/fhir-example-seed-000.json is what `make fhir-example` writes today."""
    from cli.fhir.example import DOCS_FILE, text

    current = text()
    assert DOCS_FILE.read_text(encoding="utf-8") == current, "stale: run `make fhir-example`"
    bundle = json.loads(current)
    assert fhir_r4.problems(bundle) == []
    assert Counter(e["resource"]["resourceType"] for e in bundle["entry"]) == {
        "Observation": 24, "Provenance": 13, "MedicationAdministration": 5, "DetectedIssue": 4, "Patient": 1,
        "EpisodeOfCare": 1}
