"""The code tables of the FHIR mapping: LOINC and UCUM for the vital signs, RxNorm and SNOMED CT for
doses, and this project's own code system for everything no standard code names exactly.

Why a code system of our own: there is no LOINC or SNOMED CT code for the ASTCT CRS or ICANS grade
(2019 consensus), nor for the pathway's oxygen-device vocabulary, its supportive actions or its rule
IDs. Borrowing a near code would say something the record does not; a `urn:` system says plainly that
the meaning is this project's (README, "FHIR R4").

RxNorm codes are given only where the ingredient's RxCUI is certain; otherwise the drug is named as
text (`RXNORM` maps it to None). Every table is data, read by export and import alike, so the two
cannot drift apart.
"""

from typing import Final

LOINC: Final = "http://loinc.org"
UCUM: Final = "http://unitsofmeasure.org"
RXNORM_SYSTEM: Final = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED: Final = "http://snomed.info/sct"
OBSERVATION_CATEGORY: Final = "http://terminology.hl7.org/CodeSystem/observation-category"
DATA_ABSENT_REASON: Final = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
PARTICIPANT_TYPE: Final = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"

#: This project's code systems (not resolvable URLs: names that say whose meaning a code carries).
CRS_OBSERVATION: Final = "urn:crs-pathway:CodeSystem:observation"  # grades and the non-LOINC inputs
CRS_VALUE: Final = "urn:crs-pathway:CodeSystem:"  # + field name: the values of a coded input (o2-device, ...)
CRS_ACTION: Final = "urn:crs-pathway:CodeSystem:action"
CRS_RULE: Final = "urn:crs-pathway:CodeSystem:rule"
PATIENT_REF: Final = "urn:crs-pathway:patient-ref"
EPISODE_ID: Final = "urn:crs-pathway:episode"
EVENT_HASH: Final = "urn:crs-pathway:event-sha256"
LOGIN: Final = "urn:crs-pathway:login"


class Vital:
    """One vital sign with a standard LOINC code: the observation field it fills, its UCUM unit, and
    the factor from the FHIR value to the field (FiO2 is a percentage in FHIR, a fraction in crs)."""

    def __init__(self, field: str, loinc: str, display: str, ucum: str, unit: str, per_field: float) -> None:
        self.field, self.loinc, self.display = field, loinc, display
        self.ucum, self.unit, self.per_field = ucum, unit, per_field


VITALS: Final = (
    Vital("temp_c", "8310-5", "Body temperature", "Cel", "°C", 1.0),
    Vital("o2_flow_lpm", "3151-8", "Inhaled oxygen flow rate", "L/min", "L/min", 1.0),
    Vital("fio2", "3150-0", "Inhaled oxygen concentration", "%", "%", 100.0),
)
VITAL_BY_FIELD: Final = {v.field: v for v in VITALS}
VITAL_BY_LOINC: Final = {v.loinc: v for v in VITALS}

#: Blood pressure: read on import, but the pathway has no field for it (CLINICAL: hypotension is a
#: clinical judgement, not a number), so it sets nothing: it is reported back and kept as its step's note.
BLOOD_PRESSURE_PANEL: Final = "85354-9"
SYSTOLIC: Final = "8480-6"
DIASTOLIC: Final = "8462-4"

#: The other observation inputs, in this project's code system: field -> (code, display).
PROJECT_INPUTS: Final = {
    "o2_device": ("o2-device", "Oxygen support device"),
    "hypotension": ("hypotension", "Hypotension not needing vasopressors"),
    "vasopressors": ("vasopressors", "Vasopressors running, vasopressin not counted"),
    "vasopressin": ("vasopressin", "Vasopressin running"),
    "ice_score": ("ice-score", "ICE score (ICANS)"),
    "capd_score": ("capd-score", "CAPD total (ICANS, children)"),
    "capd_unable": ("capd-unable", "Unable to perform the CAPD"),
    "consciousness": ("consciousness", "Level of consciousness"),
    "seizure": ("seizure", "Seizure"),
    "motor_weakness": ("motor-weakness", "Deep focal motor weakness"),
    "cerebral_edema": ("cerebral-edema", "Cerebral edema on imaging"),
}
FIELD_BY_PROJECT_CODE: Final = {code: field for field, (code, _) in PROJECT_INPUTS.items()}
#: Coded inputs: their values are codes in CRS_VALUE + code (e.g. urn:crs-pathway:CodeSystem:o2-device).
CODED_INPUTS: Final = frozenset({"o2_device", "consciousness", "seizure", "cerebral_edema"})

#: The grades: which recorded inputs each is graded from (its `derivedFrom` links).
GRADES: Final = {
    "crs_grade": ("crs-grade", "ASTCT CRS grade (2019)",
                  ("temp_c", "o2_device", "o2_flow_lpm", "fio2", "hypotension", "vasopressors", "vasopressin")),
    "icans_grade": ("icans-grade", "ASTCT ICANS grade (2019)",
                    ("ice_score", "capd_score", "capd_unable", "consciousness", "seizure", "motor_weakness",
                     "cerebral_edema")),
}
GRADE_CODES: Final = frozenset(code for code, _, _ in GRADES.values())

#: RxNorm ingredient RxCUIs, where certain; None: the drug is sent as text only.
RXNORM: Final[dict[str, str | None]] = {
    "tocilizumab": "612865",
    "dexamethasone": "3264",
    "methylprednisolone": "6902",
    "anakinra": "72435",
    "cyclophosphamide": "3002",
    "siltuximab": None,
    "ruxolitinib": None,
}

#: SNOMED CT route of administration.
ROUTES: Final = {
    "iv": ("47625008", "Intravenous route"),
    "sc": ("34206005", "Subcutaneous route"),
    "po": ("26643006", "Oral route"),
}

#: Temperature units FHIR may send, to °C.
FAHRENHEIT: Final = "[degF]"
