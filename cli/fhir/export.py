"""`crs export --format fhir`: an episode's stored history as one FHIR R4 Bundle of type `collection`.

Plain dicts, not fhir.resources models, for three reasons: `crs` ships no FHIR library at run time (the
library's 8.x has R4B and R5 but not R4, and its R4 line needs pydantic 1), building a Bundle of a few
hundred resources as dicts costs nothing at start-up, and the tests validate every Bundle with the
library *and* with R4's own required value sets (tests/support/fhir_r4.py), which is where correctness
is proven rather than assumed.

Everything is derived from the record alone, so an export is reproducible: resource ids are UUIDv5 of
(episode, seq, role), the Bundle's timestamp is the latest `recorded_at`. Nothing identifying leaves:
the Patient carries the pseudonymous reference and nothing else, and free text a person typed that the
pathway never needed (the episode's context, an action's or an observation's note) is not exported; the
reasons a rule asked for (override, correction, void, late entry) are.
"""

import uuid
from collections.abc import Sequence
from typing import Any

from cli.fhir import codes
from pathway.clock import iso
from pathway.episode import Episode
from pathway.events import Event
from pathway.rules import Kind, rule
from pathway.service import RefusalRecord
from persistence.rows import StoredEvent

#: The namespace of every resource id (UUIDv5), fixed so an export is the same on every machine.
NAMESPACE = uuid.UUID("6f1c2a0e-5b7d-4e38-9a52-1c0d3f6e8b11")

Resource = dict[str, Any]


def resource_id(episode_id: str, *parts: object) -> str:
    """A stable id for one resource of the episode (its seq and role)."""
    return str(uuid.uuid5(NAMESPACE, "/".join([episode_id, *map(str, parts)])))


def ref(resource: Resource) -> dict[str, str]:
    return {"reference": f"urn:uuid:{resource['id']}"}


def concept(system: str, code: str, display: str | None = None, text: str | None = None) -> dict[str, Any]:
    coding: dict[str, str] = {"system": system, "code": code}
    if display is not None:
        coding["display"] = display
    out: dict[str, Any] = {"coding": [coding]}
    if text is not None:
        out["text"] = text
    return out


class _Builder:
    """Collects the resources of one episode in the order they are made, with each event's targets."""

    def __init__(self, episode: Episode, stored: Sequence[StoredEvent]) -> None:
        from cli.payloads import replaced

        self.episode = episode
        self.stored = list(stored)
        self.superseded, self.voided = replaced(s.event for s in self.stored)
        self.resources: list[Resource] = []
        self.targets: dict[int, list[Resource]] = {}  # seq -> the resources its event made or struck
        self.patient = self._add({"resourceType": "Patient", "id": resource_id(episode.id, "patient"),
                                  "identifier": [{"use": "secondary", "system": codes.PATIENT_REF,
                                                  "value": episode.patient_ref}]})
        self.care = self._add(self._episode_of_care())

    def _add(self, resource: Resource) -> Resource:
        self.resources.append(resource)
        return resource

    def _episode_of_care(self) -> Resource:
        events = [s.event for s in self.stored]
        period: dict[str, str] = {"start": iso(events[0].at)} if events else {}
        closing = next((e for e in events if e.kind == "close"), None)
        if closing is not None:
            period["end"] = iso(closing.at)
        return {"resourceType": "EpisodeOfCare", "id": resource_id(self.episode.id, "episode"),
                "identifier": [{"system": codes.EPISODE_ID, "value": self.episode.id}],
                "status": "finished" if closing is not None else "active",
                "patient": ref(self.patient), "period": period}

    def struck(self, seq: int) -> bool:
        return seq in self.superseded or seq in self.voided

    # -- one event -------------------------------------------------------------------------------
    def event(self, event: Event) -> None:
        made: list[Resource]
        if event.kind == "open":
            made = [self.patient, self.care]
        elif event.kind in ("observe", "give", "act"):
            made = self.entry(event, event.data, event.seq, struck=self.struck(event.seq), corrected=False)
        elif event.kind == "correct":
            made = self.entry(event, event.data["corrected"], event.seq,
                              struck=False, corrected=True, kind=event.data["target_kind"])
            made += self.targets.get(event.data["target_seq"], [])  # the entry it struck
        elif event.kind == "void":
            made = list(self.targets.get(event.data["target_seq"], []))
        else:  # resolve, close: a change of the episode
            made = [self.care]
        if event.override is not None:
            made.append(self._add(self.override_issue(event, made)))
        self.targets[event.seq] = made

    def entry(self, event: Event, data: dict[str, Any], seq: int, *, struck: bool, corrected: bool,
              kind: str | None = None) -> list[Resource]:
        kind = kind or event.kind
        if kind == "observe":
            return self.observation(event, data, seq, struck=struck, corrected=corrected)
        if kind == "give":
            return [self._add(self.dose(event, data, seq, struck=struck))]
        return [self._add(self.procedure(event, data, seq, struck=struck))]

    def _common(self, seq: int, role: str, resource_type: str) -> Resource:
        return {"resourceType": resource_type, "id": resource_id(self.episode.id, seq, role)}

    def observation(self, event: Event, data: dict[str, Any], seq: int, *, struck: bool,
                    corrected: bool) -> list[Resource]:
        status = "entered-in-error" if struck else "corrected" if corrected else "final"
        recorded = data.get("observation", {})
        measured: dict[str, Resource] = {}
        for field in (*codes.VITAL_BY_FIELD, *codes.PROJECT_INPUTS):
            if field in recorded and recorded[field] is not None:
                measured[field] = self._add(self.measurement(event, seq, field, recorded[field], status))
        made = list(measured.values())
        for grade_field, (code, display, inputs) in codes.GRADES.items():
            grade: Resource = {**self._common(seq, code, "Observation"), "status": status,
                               "code": concept(codes.CRS_OBSERVATION, code, display, display),
                               "subject": ref(self.patient), "effectiveDateTime": iso(event.at),
                               "issued": iso(event.recorded_at)}
            value = data.get(grade_field)
            if value is None:  # not assessed: a reason for the absence, never a 0
                missing = (data.get(grade_field.replace("grade", "basis")) or {}).get("missing") or []
                grade["dataAbsentReason"] = concept(codes.DATA_ABSENT_REASON, "not-performed", "Not Performed",
                                                    "not assessed" + (": missing " + ", ".join(missing)
                                                                      if missing else ""))
            else:
                grade["valueInteger"] = int(value)
            links = [ref(measured[f]) for f in inputs if f in measured]
            if links:
                grade["derivedFrom"] = links
            made.append(self._add(grade))
        return made

    def measurement(self, event: Event, seq: int, field: str, value: Any, status: str) -> Resource:
        out = {**self._common(seq, field, "Observation"), "status": status}
        vital = codes.VITAL_BY_FIELD.get(field)
        if vital is not None:
            out["category"] = [concept(codes.OBSERVATION_CATEGORY, "vital-signs", "Vital Signs")]
            out["code"] = concept(codes.LOINC, vital.loinc, vital.display, vital.display)
        else:
            code, display = codes.PROJECT_INPUTS[field]
            out["code"] = concept(codes.CRS_OBSERVATION, code, display, display)
        out.update({"subject": ref(self.patient), "effectiveDateTime": iso(event.at),
                    "issued": iso(event.recorded_at)})
        if vital is not None:
            shown = float(value) if vital.per_field == 1 else round(float(value) * vital.per_field, 10)
            out["valueQuantity"] = {"value": shown, "unit": vital.unit,
                                    "system": codes.UCUM, "code": vital.ucum}
        elif field in codes.CODED_INPUTS:
            code = codes.PROJECT_INPUTS[field][0]
            out["valueCodeableConcept"] = concept(codes.CRS_VALUE + code, str(value), text=str(value))
        elif isinstance(value, bool):
            out["valueBoolean"] = value
        else:
            out["valueInteger"] = int(value)
        return out

    def dose(self, event: Event, data: dict[str, Any], seq: int, *, struck: bool) -> Resource:
        drug, route = str(data["drug"]), str(data.get("route") or "")
        rxcui = codes.RXNORM.get(drug)
        medication = (concept(codes.RXNORM_SYSTEM, rxcui, drug, drug) if rxcui is not None else {"text": drug})
        dosage: dict[str, Any] = {"dose": {"value": float(data["dose_mg"]), "unit": "mg", "system": codes.UCUM,
                                           "code": "mg"}}
        if route in codes.ROUTES:
            dosage["route"] = concept(codes.SNOMED, *codes.ROUTES[route], text=route)
        return {**self._common(seq, "dose", "MedicationAdministration"),
                "status": "entered-in-error" if struck else "completed",
                "medicationCodeableConcept": medication, "subject": ref(self.patient), "context": ref(self.care),
                "effectiveDateTime": iso(event.at), "dosage": dosage}

    def procedure(self, event: Event, data: dict[str, Any], seq: int, *, struck: bool) -> Resource:
        action = str(data["action"])
        return {**self._common(seq, "action", "Procedure"),
                "status": "entered-in-error" if struck else "completed",
                "code": concept(codes.CRS_ACTION, action, text=action), "subject": ref(self.patient),
                "performedDateTime": iso(event.at)}

    def override_issue(self, event: Event, implicated: list[Resource]) -> Resource:
        assert event.override is not None
        override = event.override
        issue: Resource = {**self._common(event.seq, "override", "DetectedIssue"), "status": "final",
                           "code": self._rule_concept(override.rules),
                           "severity": "moderate",  # an override passes overridable rules only, never a hard one
                           "patient": ref(self.patient), "identifiedDateTime": iso(event.at),
                           "detail": "passed by override: " + "; ".join(rule(r).sentence for r in override.rules
                                                                         if _known(r)),
                           "mitigation": [{"action": {"text": override.reason}, "date": iso(event.recorded_at),
                                           "author": {"display": override.actor}}]}
        if implicated:
            issue["implicated"] = [ref(r) for r in implicated]
        return issue

    def _rule_concept(self, rules: Sequence[str]) -> dict[str, Any]:
        first = rules[0]
        return {"coding": [{"system": codes.CRS_RULE, "code": r} for r in rules],
                "text": rule(first).sentence if _known(first) else first}

    def refusal(self, number: int, refused: RefusalRecord) -> Resource:
        hard = any(_known(r) and rule(r).kind is not Kind.OVERRIDABLE for r in refused.rules)
        return {"resourceType": "DetectedIssue", "id": resource_id(self.episode.id, "refusal", number),
                "status": "final", "code": self._rule_concept(refused.rules or (refused.rule,)),
                "severity": "high" if hard else "moderate", "patient": ref(self.patient),
                "identifiedDateTime": iso(refused.at),
                "detail": f"refused {refused.kind}: {refused.message}"}

    # -- provenance ------------------------------------------------------------------------------
    def provenance(self, stored: StoredEvent) -> Resource:
        event = stored.event
        targets = self.targets.get(event.seq) or [self.care]
        agents = [{"type": concept(codes.PARTICIPANT_TYPE, "performer", "Performer"),
                   "who": {"display": event.actor}}]
        if event.login is not None:
            agents.append({"type": concept(codes.PARTICIPANT_TYPE, "enterer", "Enterer"),
                           "who": {"identifier": {"system": codes.LOGIN, "value": event.login}}})
        return {"resourceType": "Provenance", "id": resource_id(self.episode.id, event.seq, "provenance"),
                "target": [ref(r) for r in _unique(targets)], "occurredDateTime": iso(event.at),
                "recorded": iso(event.recorded_at),
                "activity": {"text": f"crs {event.kind} (seq {event.seq})"},
                "agent": agents,
                "entity": [{"role": "source", "what": {
                    "identifier": {"system": codes.EVENT_HASH, "value": stored.hash},
                    "display": f"event {event.seq} of episode {event.episode_id}, hash-chained"}}]}

    def refusal_provenance(self, number: int, refused: RefusalRecord, issue: Resource) -> Resource:
        agents = [{"type": concept(codes.PARTICIPANT_TYPE, "performer", "Performer"),
                   "who": {"display": refused.actor}}]
        if refused.login is not None:
            agents.append({"type": concept(codes.PARTICIPANT_TYPE, "enterer", "Enterer"),
                           "who": {"identifier": {"system": codes.LOGIN, "value": refused.login}}})
        return {"resourceType": "Provenance", "id": resource_id(self.episode.id, "refusal", number, "provenance"),
                "target": [ref(issue)], "occurredDateTime": iso(refused.at), "recorded": iso(refused.recorded_at),
                "activity": {"text": f"crs {refused.kind} refused by {refused.rule}"}, "agent": agents}


def _known(rule_id: str) -> bool:
    try:
        rule(rule_id)
    except KeyError:
        return False
    return True


def _unique(resources: list[Resource]) -> list[Resource]:
    seen: dict[str, Resource] = {}
    for resource in resources:
        seen.setdefault(resource["id"], resource)
    return list(seen.values())


def bundle(episode: Episode, stored: Sequence[StoredEvent], refusals: Sequence[RefusalRecord]) -> Resource:
    """The episode as one Bundle (`collection`): Patient, EpisodeOfCare, the resources of every event in seq
    order (struck ones as `entered-in-error`), a DetectedIssue per refusal and override, a Provenance per
    event and per refusal."""
    builder = _Builder(episode, stored)
    for item in stored:
        builder.event(item.event)
    provenances = [builder.provenance(item) for item in stored]
    for number, refused in enumerate(refusals, 1):
        issue = builder._add(builder.refusal(number, refused))
        provenances.append(builder.refusal_provenance(number, refused, issue))
    resources = builder.resources + provenances
    stamps = [s.event.recorded_at for s in stored] + [r.recorded_at for r in refusals]
    out: Resource = {"resourceType": "Bundle", "id": resource_id(episode.id, "bundle"), "type": "collection"}
    if stamps:
        out["timestamp"] = iso(max(stamps))
    out["entry"] = [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in resources]
    return out


def to_json(document: Resource) -> str:
    """The Bundle as `crs export` writes it: indented, ASCII-only, so a stored control or bidi character is
    its \\u escape on a terminal, never raw (HAZARDS H22)."""
    import json

    return json.dumps(document, indent=2) + "\n"


def counts(document: Resource) -> dict[str, int]:
    """How many resources of each type a Bundle holds (the command's summary)."""
    out: dict[str, int] = {}
    for entry in document.get("entry", []):
        kind = entry["resource"]["resourceType"]
        out[kind] = out.get(kind, 0) + 1
    return dict(sorted(out.items()))
