"""Validating a FHIR Bundle: fhir.resources' R4B models, and FHIR R4's own required value sets.

Why two validators: fhir.resources 8.x ships R4B (4.3.0) and R5, not R4 (4.0.1); its R4 line (6.x) needs
pydantic 1, which conflicts with the pydantic 2 crs runs on. R4B is the backwards-compatible successor of
R4 for every resource crs exports (Patient, EpisodeOfCare, Observation, MedicationAdministration,
Procedure, DetectedIssue, Provenance, Bundle), so its models check structure, cardinality and types. They
do not check that a `code` is in its required value set (`status: "bogus"` passes), and they cannot tell
an R4B-only element from an R4 one. So `r4_problems` checks, from tables copied from the R4 specification
(hl7.org/fhir/R4, valueset-*.html): every `status` and coded element crs sets against R4's value set,
every element against the R4 elements crs is allowed to use, the LOINC code against its UCUM unit, and
every reference against the Bundle's entries. A test proves it catches a wrong status.
"""

import re
from collections.abc import Iterator
from typing import Any

#: R4 required value sets (http://hl7.org/fhir/R4/).
OBSERVATION_STATUS = frozenset({"registered", "preliminary", "final", "amended", "corrected", "cancelled",
                                "entered-in-error", "unknown"})
R4_STATUS: dict[str, frozenset[str]] = {
    "Observation": OBSERVATION_STATUS,
    "MedicationAdministration": frozenset({"in-progress", "not-done", "on-hold", "completed", "entered-in-error",
                                           "stopped", "unknown"}),
    "Procedure": frozenset({"preparation", "in-progress", "not-done", "on-hold", "stopped", "completed",
                            "entered-in-error", "unknown"}),
    "DetectedIssue": OBSERVATION_STATUS,  # R4 binds DetectedIssue.status to ObservationStatus
    "EpisodeOfCare": frozenset({"planned", "waitlist", "active", "onhold", "finished", "cancelled",
                                "entered-in-error"}),
}
BUNDLE_TYPE = frozenset({"document", "message", "transaction", "transaction-response", "batch", "batch-response",
                         "history", "searchset", "collection"})
DETECTED_ISSUE_SEVERITY = frozenset({"high", "moderate", "low"})
IDENTIFIER_USE = frozenset({"usual", "official", "temp", "secondary", "old"})
PROVENANCE_ENTITY_ROLE = frozenset({"derivation", "revision", "quotation", "source", "removal"})
#: Extensible bindings crs still keeps to the R4 code system exactly.
CODE_SYSTEMS: dict[str, frozenset[str]] = {
    "http://terminology.hl7.org/CodeSystem/observation-category": frozenset({
        "social-history", "vital-signs", "imaging", "laboratory", "procedure", "survey", "exam", "therapy",
        "activity"}),
    "http://terminology.hl7.org/CodeSystem/data-absent-reason": frozenset({
        "unknown", "asked-unknown", "temp-unknown", "not-asked", "asked-declined", "masked", "not-applicable",
        "unsupported", "as-text", "error", "not-a-number", "negative-infinity", "positive-infinity",
        "not-performed", "not-permitted"}),
    "http://terminology.hl7.org/CodeSystem/provenance-participant-type": frozenset({
        "enterer", "performer", "author", "verifier", "legal", "attester", "informant", "custodian",
        "assembler", "composer"}),
}
#: LOINC vital signs and the UCUM unit each must carry.
LOINC_UNITS = {"8310-5": "Cel", "3151-8": "L/min", "3150-0": "%"}
VITAL_SIGNS_CATEGORY = ("http://terminology.hl7.org/CodeSystem/observation-category", "vital-signs")
#: The R4 elements crs may use, per resource (each exists in R4 4.0.1 with this name and type).
R4_ELEMENTS: dict[str, frozenset[str]] = {
    "Bundle": frozenset({"resourceType", "id", "type", "timestamp", "entry"}),
    "Patient": frozenset({"resourceType", "id", "identifier"}),
    "EpisodeOfCare": frozenset({"resourceType", "id", "identifier", "status", "patient", "period"}),
    "Observation": frozenset({"resourceType", "id", "status", "category", "code", "subject", "effectiveDateTime",
                              "issued", "valueQuantity", "valueCodeableConcept", "valueBoolean", "valueInteger",
                              "dataAbsentReason", "derivedFrom", "hasMember"}),
    "MedicationAdministration": frozenset({"resourceType", "id", "status", "medicationCodeableConcept", "subject",
                                           "context", "effectiveDateTime", "dosage"}),
    "Procedure": frozenset({"resourceType", "id", "status", "code", "subject", "performedDateTime"}),
    "DetectedIssue": frozenset({"resourceType", "id", "status", "code", "severity", "patient",
                                "identifiedDateTime", "implicated", "detail", "mitigation"}),
    "Provenance": frozenset({"resourceType", "id", "target", "occurredDateTime", "recorded", "activity", "agent",
                             "entity"}),
}
_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
_TIMES = ("effectiveDateTime", "issued", "performedDateTime", "identifiedDateTime", "occurredDateTime",
          "recorded", "timestamp")


def r4b_problems(document: dict[str, Any]) -> list[str]:
    """fhir.resources R4B: the Bundle, and each entry's resource by its own model."""
    from fhir.resources.R4B import get_fhir_model_class
    from pydantic import ValidationError

    problems = []
    for name, item in [("Bundle", document)] + [(e.get("resource", {}).get("resourceType", "?"), e.get("resource"))
                                                for e in document.get("entry", [])]:
        try:
            get_fhir_model_class(name).model_validate(item)
        except (ValidationError, KeyError, ValueError) as exc:
            problems.append(f"{name}/{(item or {}).get('id')}: {exc}")
    return problems


def _codings(value: Any) -> Iterator[dict[str, Any]]:
    """Every Coding anywhere below `value`."""
    if isinstance(value, dict):
        if "system" in value and "code" in value and isinstance(value.get("code"), str):
            yield value
        for child in value.values():
            yield from _codings(child)
    elif isinstance(value, list):
        for child in value:
            yield from _codings(child)


def _references(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        if isinstance(value.get("reference"), str):
            yield value["reference"]
        for child in value.values():
            yield from _references(child)
    elif isinstance(value, list):
        for child in value:
            yield from _references(child)


def r4_problems(document: dict[str, Any]) -> list[str]:
    """Every way the Bundle departs from R4's required value sets and the elements crs may use."""
    problems: list[str] = []
    if document.get("resourceType") != "Bundle" or document.get("type") not in BUNDLE_TYPE:
        problems.append(f"Bundle.type {document.get('type')!r} is not an R4 BundleType")
    problems += [f"Bundle.{k} is not an element crs uses" for k in document if k not in R4_ELEMENTS["Bundle"]]
    full_urls = {e.get("fullUrl") for e in document.get("entry", [])}
    for entry in document.get("entry", []):
        resource = entry.get("resource", {})
        kind = resource.get("resourceType")
        where = f"{kind}/{resource.get('id')}"
        if entry.get("fullUrl") != f"urn:uuid:{resource.get('id')}":
            problems.append(f"{where}: fullUrl {entry.get('fullUrl')!r} does not name the resource")
        if not _ID.match(str(resource.get("id", ""))):
            problems.append(f"{where}: id is not an R4 id")
        if kind not in R4_ELEMENTS:
            problems.append(f"{where}: crs does not export {kind}")
            continue
        problems += [f"{where}.{k} is not an R4 element crs uses" for k in resource if k not in R4_ELEMENTS[kind]]
        if kind in R4_STATUS and resource.get("status") not in R4_STATUS[kind]:
            problems.append(f"{where}.status {resource.get('status')!r} is not in R4's value set")
        if kind == "DetectedIssue" and resource.get("severity") not in DETECTED_ISSUE_SEVERITY:
            problems.append(f"{where}.severity {resource.get('severity')!r} is not in R4's value set")
        for identifier in resource.get("identifier", []):
            if "use" in identifier and identifier["use"] not in IDENTIFIER_USE:
                problems.append(f"{where}.identifier.use {identifier['use']!r} is not in R4's value set")
        for item in resource.get("entity", []):
            if item.get("role") not in PROVENANCE_ENTITY_ROLE:
                problems.append(f"{where}.entity.role {item.get('role')!r} is not in R4's value set")
        for coding in _codings(resource):
            allowed = CODE_SYSTEMS.get(coding["system"])
            if allowed is not None and coding["code"] not in allowed:
                problems.append(f"{where}: code {coding['code']!r} is not in {coding['system']}")
        for name in _TIMES:
            if name in resource and not _DATETIME.match(str(resource[name])):
                problems.append(f"{where}.{name} is not a date-time with an offset")
        for reference in _references(resource):
            if reference not in full_urls:
                problems.append(f"{where}: reference {reference} is not in the Bundle")
        if kind == "Observation":
            problems += _observation_problems(where, resource)
    return problems


def _observation_problems(where: str, resource: dict[str, Any]) -> list[str]:
    problems = []
    loinc = [c["code"] for c in resource.get("code", {}).get("coding", []) if c.get("system") == "http://loinc.org"]
    categories = {(c.get("system"), c.get("code")) for cat in resource.get("category", [])
                  for c in cat.get("coding", [])}
    for code in loinc:
        if code in LOINC_UNITS:
            quantity = resource.get("valueQuantity", {})
            if quantity.get("system") != "http://unitsofmeasure.org" or quantity.get("code") != LOINC_UNITS[code]:
                problems.append(f"{where}: LOINC {code} needs UCUM {LOINC_UNITS[code]}")
            if VITAL_SIGNS_CATEGORY not in categories:
                problems.append(f"{where}: LOINC {code} needs the vital-signs category")
    values = [k for k in resource if k.startswith("value")]
    if len(values) > 1 or (values and "dataAbsentReason" in resource):
        problems.append(f"{where}: more than one of value[x] and dataAbsentReason (obs-6)")
    if not values and "dataAbsentReason" not in resource:
        problems.append(f"{where}: neither a value nor a dataAbsentReason")
    return problems


def problems(document: dict[str, Any]) -> list[str]:
    """Both validators' problems: an exported Bundle must have none."""
    return r4b_problems(document) + r4_problems(document)
