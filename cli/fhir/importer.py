"""`crs import`: bedside vital signs from a FHIR R4 Bundle (or one Observation) as `observe` steps.

Validation at the edge, in two tiers, because they call for different answers:

- **Bad FHIR** (not JSON, the wrong resourceType, an Observation without an effective time with an offset,
  a value of the wrong type, or an absurd value: outside the range `crs observe` accepts) makes the whole
  file invalid input: exit 2, one sentence, nothing written. A file that is wrong in such a way may be wrong
  in ways no check sees, so none of it is trusted.
- **A well-formed Observation this pathway cannot use** (an unknown code or unit, a status that is not a
  result, no value, a grade) is reported as skipped with its reason and does not stop the others.

The models below read only what the importer uses (pydantic, extra fields ignored). Observations are
grouped by effective time; each group becomes one `Observation` of the pathway, validated by the same model
`crs observe` builds. Stepping the plan is the command's job (cli/commands/fhir.py).
"""

import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from cli.fhir import codes
from pathway.clock import as_utc, iso
from pathway.errors import Invalid

#: The statuses of a result that stands (R4 ObservationStatus); others are skipped.
USABLE_STATUS = frozenset({"final", "amended", "corrected"})

#: The range each number must lie in, as `crs observe` validates it (field, low, high, unit shown).
RANGES: dict[str, tuple[float, float, str]] = {
    "temp_c": (30, 45, "°C"), "o2_flow_lpm": (0, 80, "L/min"), "fio2": (0.21, 1.0, "%"),
    "vasopressors": (0, 6, ""), "ice_score": (0, 10, ""), "capd_score": (0, 32, ""),
}
NAMES = {"temp_c": "body temperature", "o2_flow_lpm": "oxygen flow rate", "fio2": "inhaled oxygen concentration",
         "vasopressors": "vasopressors", "ice_score": "ICE score", "capd_score": "CAPD total"}


class _Read(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)  # FHIR JSON types, not look-alikes


class Coding(_Read):
    system: str | None = None
    code: str | None = None


class Concept(_Read):
    coding: list[Coding] = []
    text: str | None = None


class Quantity(_Read):
    value: float | None = None
    unit: str | None = None
    system: str | None = None
    code: str | None = None


class Component(_Read):
    code: Concept
    valueQuantity: Quantity | None = None


class FhirObservation(_Read):
    """What the importer reads of an R4 Observation."""

    resourceType: Literal["Observation"]
    id: str | None = None
    status: str
    code: Concept
    effectiveDateTime: str | None = None
    effectiveInstant: str | None = None
    valueQuantity: Quantity | None = None
    valueCodeableConcept: Concept | None = None
    valueBoolean: bool | None = None
    valueInteger: int | None = None
    component: list[Component] = []


@dataclass
class Planned:
    """One `observe` step to take: its clinical time, the inputs, and the Observations they came from."""

    at: datetime
    inputs: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)  # field -> the Observation it came from
    notes: list[str] = field(default_factory=list)  # read but sets nothing (blood pressure)
    noted_by: list[str] = field(default_factory=list)  # the Observation of each note

    @property
    def note(self) -> str | None:
        """What was read but sets nothing, with where it came from: the step's note on the record (at most
        500 characters, the note's limit; cut with an ellipsis beyond)."""
        if not self.notes:
            return None
        text = "; ".join(f"{note} (from FHIR {source})" for note, source in zip(self.notes, self.noted_by))
        return text if len(text) <= 500 else text[:499] + "…"

    def as_json(self) -> dict[str, Any]:
        return {"at": iso(self.at), "inputs": dict(sorted(self.inputs.items())),
                "sources": sorted(set(self.sources.values())), "notes": list(self.notes)}


@dataclass
class Plan:
    steps: list[Planned]
    skipped: list[dict[str, str]]  # {"resource": ..., "reason": ...}
    ignored: dict[str, int]  # resources of other types in the Bundle, by type


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


def load(text: str | bytes) -> list[tuple[str, dict[str, Any]]]:
    """The Observations of a Bundle or of a single Observation, each with the name it is reported by;
    other resources of a Bundle are returned too, named by type (the plan counts them)."""
    try:
        document = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Invalid(f"the file is not JSON ({_short(exc)}): expected a FHIR R4 Bundle or Observation") from None
    if not isinstance(document, dict):
        raise Invalid("the file is JSON but not a FHIR resource: expected a Bundle or an Observation object")
    kind = document.get("resourceType")
    if kind == "Observation":
        return [(_name(document, 1), document)]
    if kind != "Bundle":
        raise Invalid(f"the file's resourceType is {_shown(kind)}: expected Bundle or Observation")
    entries = document.get("entry", [])
    if not isinstance(entries, list):
        raise Invalid("the Bundle's entry is not a list")
    out = []
    for number, entry in enumerate(entries, 1):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            raise Invalid(f"entry {number} of the Bundle has no resource with a resourceType")
        out.append((_name(resource, number), resource))
    return out


def _name(resource: dict[str, Any], number: int) -> str:
    rid = resource.get("id")
    kind = resource.get("resourceType", "resource")
    if isinstance(rid, str) and rid and len(rid) <= 64 and rid.replace("-", "").replace(".", "").isalnum():
        return f"{kind}/{rid}"
    return f"{kind} (entry {number})"


def _shown(value: Any) -> str:
    return repr(value)[:40] if isinstance(value, str) else "missing" if value is None else "not a string"


def _short(exc: Exception) -> str:
    return str(exc).split("\n")[0][:80]


def effective_time(name: str, observation: FhirObservation) -> datetime:
    """The effective time: an R4 dateTime with a time and an offset (a date alone cannot be stepped)."""
    text = observation.effectiveDateTime or observation.effectiveInstant
    if text is None:
        raise Invalid(f"{name} has no effective time (effectiveDateTime): nothing was imported")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise Invalid(f"{name} has an effective time that is not an ISO 8601 date-time: nothing was imported") from None
    if "T" not in text or parsed.tzinfo is None or parsed.utcoffset() is None:
        raise Invalid(f"{name}'s effective time needs a time of day with an offset or Z: nothing was imported")
    if not 1900 <= parsed.year <= 2200:
        raise Invalid(f"{name}'s effective time is outside 1900–2200: nothing was imported")
    return as_utc(parsed)


def plan(text: str | bytes) -> Plan:
    """Read the file, check all of it, and group what can be used by effective time (clinical-time order).
    Invalid (exit 2) for bad FHIR or an absurd value anywhere in it."""
    skipped: list[dict[str, str]] = []
    ignored: dict[str, int] = {}
    groups: dict[datetime, Planned] = {}
    for name, resource in load(text):
        if resource["resourceType"] != "Observation":
            ignored[resource["resourceType"]] = ignored.get(resource["resourceType"], 0) + 1
            continue
        try:
            observation = FhirObservation.model_validate(resource)
        except ValidationError as exc:
            raise Invalid(f"{name} is not a valid FHIR Observation: {_problem(exc)}; nothing was imported") from None
        at = effective_time(name, observation)
        read = _read(name, observation)  # Invalid for an absurd value
        if isinstance(read, str):
            skipped.append({"resource": name, "reason": read})
            continue
        group = groups.setdefault(at, Planned(at))
        values, note = read
        if note is not None:
            group.notes.append(note)
            group.noted_by.append(name)
        for key, value in values.items():
            if key in group.inputs:
                skipped.append({"resource": name, "reason": f"a second {NAMES.get(key, key)} at the same time "
                                                            f"({iso(at)}); the first one ({group.sources[key]}) is used"})
                continue
            group.inputs[key] = value
            group.sources[key] = name
    steps = []
    for at in sorted(groups):
        group = groups[at]
        _drop_unsupported_oxygen(group, skipped)
        if group.inputs:
            _check_observation(group)
            steps.append(group)
        else:  # a reading that sets nothing (blood pressure) with no step to report it with
            skipped += [{"resource": source, "reason": f"{note}: sets no pathway input and no step was taken at "
                                                       f"{iso(at)}"} for source, note in zip(group.noted_by, group.notes)]
    return Plan(steps, skipped, dict(sorted(ignored.items())))


def _problem(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"]) or "the resource"
    return f"{where}: {error['msg'].lower()}"


def _read(name: str, observation: FhirObservation) -> tuple[dict[str, Any], str | None] | str:
    """The inputs one Observation sets (and a note), or why it is skipped. Invalid for an absurd value."""
    if observation.status not in USABLE_STATUS:
        return f"status {observation.status}: only final, amended or corrected results are stepped"
    for coding in observation.code.coding:
        if coding.system == codes.LOINC and coding.code in codes.VITAL_BY_LOINC:
            return _vital(name, observation, codes.VITAL_BY_LOINC[coding.code])
        if coding.system == codes.LOINC and coding.code == codes.BLOOD_PRESSURE_PANEL:
            return _blood_pressure(observation)
        if coding.system == codes.CRS_OBSERVATION and coding.code in codes.GRADE_CODES:
            return "a grade is derived by the pathway from the measurements, never imported"
        if coding.system == codes.CRS_OBSERVATION and coding.code in codes.FIELD_BY_PROJECT_CODE:
            return _project_input(name, observation, codes.FIELD_BY_PROJECT_CODE[coding.code])
    shown = ", ".join(f"{c.system or '?'}|{c.code or '?'}" for c in observation.code.coding) or "no coding"
    return f"unknown code ({shown[:120]}): not a vital sign this pathway reads"


def _vital(name: str, observation: FhirObservation, vital: codes.Vital) -> tuple[dict[str, Any], None] | str:
    quantity = observation.valueQuantity
    if quantity is None or quantity.value is None:
        return f"no value for {vital.display.lower()} (valueQuantity): nothing to record"
    unit = quantity.code or quantity.unit
    value = quantity.value
    if vital.field == "temp_c" and unit == codes.FAHRENHEIT:
        value = round((value - 32) * 5 / 9, 2)  # °F to °C, to 0.01 °C: finer than any thermometer reads
    elif unit != vital.ucum:
        return f"unit {str(unit)[:20]!r} for {vital.display.lower()}: expected UCUM {vital.ucum}" + (
            f" or {codes.FAHRENHEIT}" if vital.field == "temp_c" else "")
    elif vital.per_field != 1:
        value = round(value / vital.per_field, 12)  # FiO2: % to a fraction
    _in_range(name, vital.field, value, shown=quantity.value, unit=str(unit))
    return {vital.field: value}, None


def _blood_pressure(observation: FhirObservation) -> tuple[dict[str, Any], str] | str:
    parts: dict[str, float] = {}
    for component in observation.component:
        for coding in component.code.coding:
            if coding.system == codes.LOINC and coding.code in (codes.SYSTOLIC, codes.DIASTOLIC):
                if component.valueQuantity is not None and component.valueQuantity.value is not None:
                    parts[coding.code] = component.valueQuantity.value
    if codes.SYSTOLIC not in parts:
        return "blood pressure without a systolic value (8480-6)"
    diastolic = f"/{parts[codes.DIASTOLIC]:g}" if codes.DIASTOLIC in parts else ""
    return {}, f"blood pressure {parts[codes.SYSTOLIC]:g}{diastolic} mm[Hg]"


def _project_input(name: str, observation: FhirObservation, key: str) -> tuple[dict[str, Any], None] | str:
    from pathway import observations

    if key in codes.CODED_INPUTS:
        system = codes.CRS_VALUE + codes.PROJECT_INPUTS[key][0]
        concept = observation.valueCodeableConcept
        code = next((c.code for c in (concept.coding if concept else []) if c.system == system), None)
        allowed = {"o2_device": observations.O2Device, "consciousness": observations.Consciousness,
                   "seizure": observations.Seizure, "cerebral_edema": observations.CerebralEdema}[key]
        if code not in {member.value for member in allowed}:
            return f"{key.replace('_', ' ')}: no code of {system} this pathway knows"
        return {key: code}, None
    if key in ("hypotension", "vasopressin", "motor_weakness", "capd_unable"):
        if observation.valueBoolean is None:
            return f"{key.replace('_', ' ')}: no valueBoolean"
        return {key: observation.valueBoolean}, None
    if observation.valueInteger is None:
        return f"{NAMES[key]}: no valueInteger"
    _in_range(name, key, observation.valueInteger, shown=observation.valueInteger, unit="")
    return {key: observation.valueInteger}, None


def _in_range(name: str, key: str, value: float, *, shown: float, unit: str) -> None:
    low, high, shown_unit = RANGES[key]
    if not math.isfinite(value) or not low <= value <= high:
        given = f"{shown:g}{' ' + unit if unit else ''}"
        factor = codes.VITAL_BY_FIELD[key].per_field if key in codes.VITAL_BY_FIELD else 1  # FiO2 in % as sent
        limits = f"{low * factor:g}–{high * factor:g}{' ' + shown_unit if shown_unit else ''}"
        raise Invalid(f"{name}: {NAMES[key]} {given} is outside {limits}, not a plausible measurement; "
                      "nothing was imported")


def _drop_unsupported_oxygen(group: Planned, skipped: list[dict[str, str]]) -> None:
    """A flow, or an FiO2 above air, needs an oxygen device other than room air at the same time
    (pathway.observations): without one that reading cannot be used, the rest of the group can."""
    device = group.inputs.get("o2_device")
    if device not in (None, "room-air"):
        return
    for key in ("o2_flow_lpm", "fio2"):
        if key in group.inputs and (key == "o2_flow_lpm" or group.inputs[key] > 0.21):
            group.inputs.pop(key)
            source = group.sources.pop(key)
            skipped.append({"resource": source, "reason": f"{NAMES[key]} needs an oxygen device other than room "
                                                          f"air at the same time ({iso(group.at)}); none was sent"})


def _check_observation(group: Planned) -> None:
    """The group as the pathway's own Observation model reads it (the same validation as `crs observe`)."""
    from pathway.observations import Observation

    try:
        Observation(**group.inputs)
    except ValidationError as exc:
        error = exc.errors()[0]
        raise Invalid(f"the Observations at {iso(group.at)} do not make one bedside assessment: "
                      f"{str(error['msg']).removeprefix('Value error, ')}; nothing was imported") from None
