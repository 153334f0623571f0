"""`crs import EPISODE FILE [--dry-run]` (issue 14): real `crs` processes on a real SQLite file.

Observations are grouped by effective time into `observe` steps taken in clinical-time order through the
same rules as `crs observe` (one before the latest event is a late entry); an unusable Observation is
skipped with its reason; a refused step is logged and reported and does not stop the others; bad FHIR is
exit 2 with one sentence and nothing written; --dry-run writes nothing, not even refusals.
"""

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cli.fhir import codes
from tests.cli.conftest import ACTOR, Ran, iso, one_sentence, recent_t0


def vital(rid: str, loinc: str, value: Any, unit: str, at: str | None, status: str = "final") -> dict[str, Any]:
    out: dict[str, Any] = {"resourceType": "Observation", "id": rid, "status": status,
                           "category": [{"coding": [{"system": codes.OBSERVATION_CATEGORY, "code": "vital-signs"}]}],
                           "code": {"coding": [{"system": codes.LOINC, "code": loinc}]},
                           "valueQuantity": {"value": value, "unit": unit, "system": codes.UCUM, "code": unit}}
    if at is not None:
        out["effectiveDateTime"] = at
    return out


def device(rid: str, code: str, at: str) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": rid, "status": "final", "effectiveDateTime": at,
            "code": {"coding": [{"system": codes.CRS_OBSERVATION, "code": "o2-device"}]},
            "valueCodeableConcept": {"coding": [{"system": codes.CRS_VALUE + "o2-device", "code": code}]}}


def blood_pressure(rid: str, systolic: float, diastolic: float, at: str) -> dict[str, Any]:
    def part(code: str, value: float) -> dict[str, Any]:
        return {"code": {"coding": [{"system": codes.LOINC, "code": code}]},
                "valueQuantity": {"value": value, "unit": "mm[Hg]", "system": codes.UCUM, "code": "mm[Hg]"}}

    return {"resourceType": "Observation", "id": rid, "status": "final", "effectiveDateTime": at,
            "code": {"coding": [{"system": codes.LOINC, "code": "85354-9"}]},
            "component": [part("8480-6", systolic), part("8462-4", diastolic)]}


def bundle(*observations: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "collection",
            "entry": [{"fullUrl": f"urn:uuid:{n}", "resource": o} for n, o in enumerate(observations)]}


class Ward:
    """A fresh database with one episode opened at T0 whose latest event is an observation at T0 + 2 h."""

    def __init__(self, folder: Path, crs_bin: Callable[..., Ran]) -> None:
        self.folder, self.crs_bin = folder, crs_bin
        self.env = {"CRS_DB": f"sqlite:///{folder / 'crs.db'}"}
        self.t0 = recent_t0(10)
        self.episode = self.app("--json", "open", "--patient", "PX-9", "--weight-kg", "70", "--age-years", "40",
                                "--at", self.at(0)).json["episode"]
        self.app("observe", self.episode, "--temp", "37.2", "--o2", "room-air", "--at", self.at(2))

    def at(self, hours: float) -> str:
        return iso(self.t0 + timedelta(hours=hours))

    def run(self, *args: str, code: int | None = 0) -> Ran:
        ran = self.crs_bin(*args, env=self.env)
        assert code is None or ran.code == code, (args, ran)
        return ran

    def app(self, *args: str, code: int = 0) -> Ran:
        """The same app in this process: for the setting up and reading back around the `crs import` under test
        (which always runs as a real process), to keep the suite fast."""
        from typer.testing import CliRunner

        from cli.app import app

        result = CliRunner().invoke(app, list(args), env={**self.env, "CRS_ACTOR": ACTOR, "NO_COLOR": "1"})
        ran = Ran(result.exit_code, result.stdout, result.stderr)
        assert ran.code == code, (args, ran)
        return ran

    def file(self, document: Any, name: str = "in.json") -> str:
        path = self.folder / name
        path.write_text(document if isinstance(document, str) else json.dumps(document), encoding="utf-8")
        return str(path)

    def record(self) -> tuple[int, int]:
        """(events, refusals) on record."""
        events = self.app("--json", "history", self.episode).json["events"]
        refusals = self.app("--json", "audit", "refusals", self.episode).json["refusals"]
        return len(events), len(refusals)


@pytest.fixture
def ward(tmp_path: Path, crs_bin: Callable[..., Ran]) -> Ward:
    return Ward(tmp_path, crs_bin)


def test_grouped_by_time_in_clinical_order_with_late_entries_and_fahrenheit(ward: Ward) -> None:
    document = bundle(
        vital("t3", "8310-5", 102.2, "[degF]", ward.at(3)), device("d3", "hfnc", ward.at(3)),
        vital("f3", "3151-8", 30, "L/min", ward.at(3)), vital("x3", "3150-0", 40, "%", ward.at(3)),
        vital("t1", "8310-5", 38.5, "Cel", ward.at(1)),  # before the latest event: a late entry
        device("d1", "room-air", ward.at(1)))
    ran = ward.run("--json", "import", ward.episode, ward.file(document)).json
    assert [(s["at"], s["late"], s["outcome"]) for s in ran["steps"]] == [
        (ward.at(1), True, "accepted"), (ward.at(3), False, "accepted")]
    assert ran["steps"][1]["inputs"] == {"temp_c": 39.0, "o2_device": "hfnc", "o2_flow_lpm": 30.0, "fio2": 0.4}
    assert ran["steps"][1]["crs_grade"] == 3 and ran["steps"][0]["crs_grade"] == 1
    assert (ran["taken"], ran["refused"], ran["skipped"]) == (2, 0, [])
    events = ward.app("--json", "history", ward.episode).json["events"]
    late = next(e for e in events if e["seq"] == ran["steps"][0]["seq"])
    assert late["data"]["late"] is True and late["data"]["late_reason"] == "imported from FHIR"
    assert ward.app("audit", "verify").code == 0


def test_unknown_and_unusable_observations_are_skipped_with_reasons_the_rest_stepped(ward: Ward) -> None:
    document = bundle(
        vital("spo2", "59408-5", 94, "%", ward.at(3)),  # an unknown code: SpO2 is not read by this pathway
        vital("kelvin", "8310-5", 311.15, "K", ward.at(3)),  # a unit it does not convert
        vital("prelim", "8310-5", 39.9, "Cel", ward.at(3), status="preliminary"),
        vital("flow", "3151-8", 4, "L/min", ward.at(3)),  # a flow without a device
        vital("temp", "8310-5", 38.9, "Cel", ward.at(3)), device("air", "room-air", ward.at(3)),
        blood_pressure("bp", 88, 50, ward.at(3)))
    ran = ward.run("--json", "import", ward.episode, ward.file(document)).json
    reasons = {s["resource"]: s["reason"] for s in ran["skipped"]}
    assert set(reasons) == {"Observation/spo2", "Observation/kelvin", "Observation/prelim", "Observation/flow"}
    assert reasons["Observation/spo2"].startswith("unknown code (http://loinc.org|59408-5)")
    assert "unit 'K'" in reasons["Observation/kelvin"] and "Cel or [degF]" in reasons["Observation/kelvin"]
    assert "status preliminary" in reasons["Observation/prelim"]
    assert "needs an oxygen device" in reasons["Observation/flow"]
    (step,) = ran["steps"]
    assert step["inputs"] == {"temp_c": 38.9, "o2_device": "room-air"} and step["outcome"] == "accepted"
    assert step["notes"] == ["blood pressure 88/50 mm[Hg]"]
    stored = next(e for e in ward.app("--json", "history", ward.episode).json["events"] if e["seq"] == step["seq"])
    assert stored["data"]["note"] == "blood pressure 88/50 mm[Hg] (from FHIR Observation/bp)"  # recorded, not only shown
    assert stored["data"]["observation"] == {"temp_c": 38.9, "o2_device": "room-air"}  # it sets no input
    assert "88/50 mm[Hg] (from FHIR Observation/bp)" in " ".join(ward.app("history", ward.episode).stdout.split())
    human = ward.run("import", ward.episode, ward.file(document), "--dry-run").stdout
    assert "skipped Observation/spo2: unknown code" in human and "noted: blood pressure 88/50" in human


def test_dry_run_writes_nothing_not_even_refusals_and_prints_the_steps(ward: Ward) -> None:
    future = iso(datetime.now(recent_t0(0).tzinfo) + timedelta(days=1))
    document = bundle(vital("t1", "8310-5", 38.5, "Cel", ward.at(1)), vital("tf", "8310-5", 38.0, "Cel", future))
    before = ward.record()
    ran = ward.run("--json", "import", ward.episode, ward.file(document), "--dry-run", code=1).json
    assert ran["dry_run"] is True and [s["outcome"] for s in ran["steps"]] == ["accepted", "refused"]
    assert ran["steps"][1]["rule"] == "TIME_FUTURE" and ran["error"] == "refused"
    assert ward.record() == before
    human = ward.run("import", ward.episode, ward.file(document), "--dry-run", code=1).stdout
    assert human.startswith("Dry run (nothing written)") and "would be accepted" in human
    assert "refused by TIME_FUTURE" in human


def test_a_refused_step_is_logged_and_does_not_stop_the_others(ward: Ward) -> None:
    future = iso(datetime.now(recent_t0(0).tzinfo) + timedelta(days=1))
    document = bundle(vital("tf", "8310-5", 38.0, "Cel", future), vital("t3", "8310-5", 38.5, "Cel", ward.at(3)))
    events, refusals = ward.record()
    ran = ward.run("--json", "import", ward.episode, ward.file(document), code=1).json
    assert (ran["taken"], ran["refused"]) == (1, 1) and ran["rule"] == "TIME_FUTURE"
    assert ward.record() == (events + 1, refusals + 1)
    ran = ward.run("import", ward.episode, ward.file(document), code=1)
    assert "refused by TIME_FUTURE" in ran.stdout and one_sentence(ran.stderr)
    assert ran.stderr.startswith("crs: 1 of 2 import step(s) refused; the first by TIME_FUTURE")


def test_a_single_observation_is_one_step(ward: Ward) -> None:
    ran = ward.run("--json", "import", ward.episode, ward.file(vital("one", "8310-5", 38.2, "Cel", ward.at(4)))).json
    assert [s["inputs"] for s in ran["steps"]] == [{"temp_c": 38.2}]
    assert ran["steps"][0]["crs_grade"] is None  # not assessed without the oxygen device, never 0


BAD = {
    "not JSON": ("{not json", "not JSON"),
    "wrong resourceType": ({"resourceType": "Patient"}, "resourceType"),
    "missing effective time": (bundle(vital("t", "8310-5", 38.5, "Cel", None)), "no effective time"),
    "date without a time": (bundle(vital("t", "8310-5", 38.5, "Cel", "2026-01-01")), "time of day"),
    "absurd temperature": (bundle(vital("ok", "8310-5", 38.5, "Cel", "T1"), vital("hot", "8310-5", 52, "Cel", "T1")),
                           "outside 30–45 °C"),
    "absurd in Fahrenheit": (bundle(vital("f", "8310-5", 200, "[degF]", "T1")), "200 [degF] is outside"),
    "a value that is a string": (bundle(vital("s", "8310-5", "38.5", "Cel", "T1")), "valueQuantity.value"),
    "NaN": ('{"resourceType": "Observation", "status": "final", "valueQuantity": {"value": NaN}}', "not JSON"),
}


def test_bad_fhir_is_exit_2_one_sentence_and_nothing_written(ward: Ward) -> None:
    before = ward.record()
    for name, (document, words) in BAD.items():
        if not isinstance(document, str):
            document = json.loads(json.dumps(document).replace('"T1"', json.dumps(ward.at(3))))
        ran = ward.run("import", ward.episode, ward.file(document), code=None)
        assert ran.code == 2 and ran.stdout == "" and one_sentence(ran.stderr), (name, ran)
        assert words in ran.stderr, (name, ran.stderr)
    as_json = ward.run("--json", "import", ward.episode, ward.file("{not json"), code=2).json
    assert as_json["error"] == "invalid" and as_json["message"]
    assert ward.record() == before
    assert ward.run("import", ward.episode, str(ward.folder / "missing.json"), code=2).stderr.startswith("crs: FILE")
    assert ward.run("import", "EZZZZZ", ward.file(bundle()), code=4).code == 4


def test_round_trip_of_the_seed_000_export_gives_the_same_grades_at_the_same_times(tmp_path: Path,
                                                                                   crs_bin: Callable[..., Ran]) -> None:
    """Export (docs/fhir-example-seed-000.json) -> import into a new episode -> the same CRS and ICANS grades at
    the same clinical times, and the new episode's own export validates."""
    from cli.fhir.example import DOCS_FILE
    from tests.support import fhir_r4

    ward = Ward.__new__(Ward)
    ward.folder, ward.crs_bin, ward.env = tmp_path, crs_bin, {"CRS_DB": f"sqlite:///{tmp_path / 'crs.db'}"}
    exported = json.loads(DOCS_FILE.read_text(encoding="utf-8"))
    ward.episode = ward.app("--json", "open", "--patient", "DC-15-copy", "--weight-kg", "52", "--age-years", "15",
                            "--at", "2026-01-03T06:00Z").json["episode"]
    ran = ward.run("--json", "import", ward.episode, str(DOCS_FILE)).json
    grades = {}
    for entry in exported["entry"]:
        resource = entry["resource"]
        code = resource.get("code", {}).get("coding", [{}])[0].get("code")
        if resource["resourceType"] == "Observation" and code in ("crs-grade", "icans-grade"):
            grades.setdefault(resource["effectiveDateTime"], {})[code] = resource.get("valueInteger")
    assert [(s["at"], {"crs-grade": s["crs_grade"], "icans-grade": s["icans_grade"]}) for s in ran["steps"]] \
        == sorted(grades.items())
    assert [s["crs_grade"] for s in ran["steps"]] == [3, 3, 3, 3] and ran["refused"] == 0
    again = json.loads(ward.run("export", ward.episode, "--format", "fhir").stdout)
    assert fhir_r4.problems(again) == []
