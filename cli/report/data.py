"""The QA report's facts, assembled from one episode's stored history and refusal log. Pure.

Everything here is derived from the events themselves (not from the snapshot's summary), so the
report shows what the record says happened, step by step. A grade not assessed stays null here
(the renderers say "not assessed"); the summary's maxima skip it and count it instead, never as 0.
The guards and required actions are judged in cli/report/guards.py.

Grades, doses against limits, timed guards, deviations and required actions are those of the
*effective* history (cli/report/corrections.py: what stands after corrections, voids and late
entries, re-decided by the pathway's rules): a voided dose counts against no limit, a corrected one
with its corrected value. The timeline alone shows every stored event, with what replaced what.
The summary counts corrections, voids and late entries on record, and `refused_corrections`: the
refused attempts that were a correction, a void or a late entry (each listed with its `breaks_seq`).
"""

from datetime import timedelta
from typing import Any

from cli import payloads
from cli.report.corrections import NOT_RECORDED, Effective, correction_rows, counts, effective
from cli.report.guards import supportive_actions, timed_guards
from cli.text import as_text, grade_value
from pathway.clock import iso
from pathway.dosing import DOSE_LIMITS
from pathway.drugs import Drug
from pathway.events import Event
from pathway.history import is_change
from pathway.policy import HARD_LIMITS

DISCLAIMER = ("This report supports quality review; it does not replace clinical judgement. Hours are "
              "computed from the clinical (effective) times on the record.")


def assemble(episode: Any, stored: list[Any], refusals: list[Any]) -> dict[str, Any]:
    """The report as one JSON-ready dict: the same object the md, html and json renderers print."""
    recorded: list[Event] = [item.event for item in stored]
    stands = effective(recorded)
    events = stands.events
    observations = [e for e in events if e.kind == "observe"]
    doses = [e for e in events if e.kind == "give"]
    grades = [_mark(_grade_row(e), stands) for e in observations]
    deviations = [_deviation(e) for e in events if e.override is not None]
    refused = [_refused(record) for record in refusals]
    guards = timed_guards(episode, events)
    actions = supportive_actions(events)
    dose_rows = [_mark(row, stands) for row in doses_against_limits(episode, doses)]
    corrections = correction_rows(recorded)
    by_seq = {row["seq"]: row for row in corrections}
    return {
        "episode": episode.id,
        "patient": episode.patient_ref,
        "weight_kg": episode.weight_kg,
        "age_years": episode.age_years,
        "context": episode.context,
        "policy": episode.policy.ref,
        "state": str(episode.state),
        "opened_at": iso(episode.opened_at),
        "last_event_at": iso(episode.last_at),
        "resolved_at": iso(episode.resolved_at) if episode.resolved_at else None,
        "closed_at": iso(episode.closed_at) if episode.closed_at else None,
        "events": len(recorded),
        "last_hash": stored[-1].hash if stored else None,
        "summary": {
            "max_crs_grade": max((g["crs_grade"] for g in grades if g["crs_grade"] is not None), default=None),
            "max_icans_grade": max((g["icans_grade"] for g in grades if g["icans_grade"] is not None),
                                   default=None),
            "observations": len(grades),
            "observations_crs_not_assessed": sum(1 for g in grades if g["crs_grade"] is None),
            "observations_icans_not_assessed": sum(1 for g in grades if g["icans_grade"] is None),
            "tocilizumab_doses": sum(1 for e in doses if e.data.get("drug") == Drug.TOCILIZUMAB.value),
            "doses": len(doses),
            "deviations": len(deviations),
            "refused_attempts": len(refused),
            **counts(corrections),
            "refused_corrections": sum(1 for r in refused if r["correction"]),
            "timed_guards_missed": sum(1 for g in guards if g["status"] == "missed"),
            "supportive_actions_missing": sum(1 for a in actions if a["status"] == "missing"),
            "doses_above_limit": sum(1 for d in dose_rows if d["within_limits"] is False),
        },
        "timeline": [_timeline_row(item, stands, by_seq) for item in stored],
        "grades": grades,
        "doses": dose_rows,
        "timed_guards": guards,
        "deviations": deviations,
        "refusals": refused,
        "supportive_actions": actions,
        "corrections": corrections,
        "disclaimer": DISCLAIMER,
    }


def _summary(event: Event, change: dict[str, Any] | None = None) -> str:
    data = event.data
    if event.kind == "open":
        return f"opened: {data.get('weight_kg')} kg, {data.get('age_years')} y" + (
            f"; {data['context']}" if data.get("context") else "")
    if event.kind in ("correct", "void"):
        verb = "corrects" if event.kind == "correct" else "voids"
        told = f": {change['before_after']}" if change else ""
        return f"{verb} #{data.get('target_seq')} ({data.get('target_kind')}){told} — {data.get('reason')}"
    late = f" (late entry: {data['late_reason']})" if data.get("late") is True and data.get("late_reason") else ""
    if event.kind == "observe":
        inputs = ", ".join(f"{k}={v}" for k, v in (data.get("observation") or {}).items())
        return (f"CRS {grade_value(data.get('crs_grade'))}, ICANS {grade_value(data.get('icans_grade'))} "
                f"({inputs})" + (f" — {data['note']}" if data.get("note") else "") + late)
    if event.kind == "give":
        return f"{data.get('drug')} {data.get('dose_mg'):g} mg {data.get('route', '')}".rstrip() + late
    if event.kind == "act":
        return str(data.get("action")) + (f" — {data['note']}" if data.get("note") else "") + late
    if event.kind == "close":
        return "closed" + (f": {data['reason']}" if data.get("reason") else "")
    return event.kind + late


def _timeline_row(item: Any, stands: Effective, corrections: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """One stored event as recorded, with where it stands: superseded or voided (by which seq), a late
    entry, or the correction or void of which seq. Nothing on record is left out."""
    event = item.event
    change = corrections.get(event.seq)
    return {
        "seq": event.seq, "kind": event.kind, "at": iso(event.at), "recorded_at": iso(event.recorded_at),
        "actor": event.actor, "login": event.login, "from_state": event.from_state, "to_state": event.to_state,
        "summary": _summary(event, change), "deviation": event.override is not None, "hash": item.hash,
        "superseded_by": stands.superseded_by.get(event.seq), "voided_by": stands.voided_by.get(event.seq),
        "late": event.seq in stands.late, "target_seq": event.data.get("target_seq") if is_change(event) else None,
    }


def _mark(row: dict[str, Any], stands: Effective) -> dict[str, Any]:
    """An effective-history row says which entry it stands for: `corrects_seq` (the original entry its
    corrected values replace, None when it stands as recorded) and whether it was entered late."""
    place = stands.places.get(row["seq"], row["seq"])
    return {**row, "corrects_seq": place if place != row["seq"] else None, "late": place in stands.late}


def _refused(record: Any) -> dict[str, Any]:
    """A refused attempt, with the recorded event a refused correction or late entry would have broken."""
    row = payloads.refusal(record)
    command = row.get("command") or {}
    return {**row, "breaks_seq": getattr(record, "breaks_seq", None), "tried": tried(row),
            "correction": row.get("kind") in ("correct", "void") or command.get("late") is not None}


def _grade_row(event: Event) -> dict[str, Any]:
    data = event.data
    return {
        "seq": event.seq, "at": iso(event.at), "crs_grade": data.get("crs_grade"),
        "icans_grade": data.get("icans_grade"), "inputs": data.get("observation") or {},
        "fever": (data.get("crs_basis") or {}).get("fever"),
        "crs_decided_by": (data.get("crs_basis") or {}).get("decided_by"),
        "icans_decided_by": (data.get("icans_basis") or {}).get("decided_by"),
        "crs_missing": list((data.get("crs_basis") or {}).get("missing") or []),
        "icans_missing": list((data.get("icans_basis") or {}).get("missing") or []),
        **({"note": data["note"]} if data.get("note") else {}),  # the observation's free text, only when given
    }


def inputs_and_note(grade: dict[str, Any]) -> Any:
    """A grades row's inputs cell: the inputs, and the observation's note after them when it has one."""
    return f"{as_text(grade['inputs'])} — note: {grade['note']}" if grade.get("note") else grade["inputs"]


def _deviation(event: Event) -> dict[str, Any]:
    assert event.override is not None
    return {"seq": event.seq, "at": iso(event.at), "kind": event.kind, "what": _summary(event),
            "rule": event.override.rule, "rules": list(event.override.rules), "reason": event.override.reason,
            "actor": event.override.actor}


def _limits(drug: str, weight_kg: float) -> tuple[float | None, float | None, str]:
    """(per-dose ceiling mg, 24-hour ceiling mg, where the figures come from): pathway.dosing.DOSE_LIMITS."""
    limit = DOSE_LIMITS.get(Drug(drug))
    if limit is None:
        return None, None, "no source retrieved: no dose limit beyond input validation"
    per_day = limit.per_day_mg(weight_kg) if limit.per_day_mg else None
    basis = f"{limit.rule} (weight-based)" if limit.weight_based else limit.rule
    return limit.per_dose_mg(weight_kg), per_day, basis


def tried(refusal: dict[str, Any]) -> str:
    """What a refused attempt tried, in a few words (no free text: reasons and notes may not be shown here)."""
    command = refusal.get("command") or {}
    text = str(refusal.get("kind", ""))
    if command.get("target_seq") is not None:
        text += f" #{command['target_seq']}"
        changed = {k: v for k, v in (command.get("changes") or {}).items() if k != "note"}
        named = [f"{k} → {as_text(v)}" for k, v in sorted(changed.items())]
        named += ["note"] * ("note" in (command.get("changes") or {}))
        named += [f"{k} → {NOT_RECORDED}" for k in command.get("unset") or ()]
        text += f": {', '.join(named)}" if named else ""
    if command.get("drug"):
        text += f" {command['drug']} {command.get('dose_mg'):g} mg"
    if command.get("late") is not None:
        text += " (late entry)"
    if command.get("override_reason"):
        text += " (with override)"
    return text


def doses_against_limits(episode: Any, doses: list[Event]) -> list[dict[str, Any]]:
    """Each dose that stands against its limits; the 24-hour window holds the doses before it in clinical
    order (the list's order), so a late dose counts where it was given, not where it was charted."""
    rows = []
    for index, event in enumerate(doses):
        drug, dose = str(event.data.get("drug")), float(event.data.get("dose_mg", 0))
        per_dose, per_day, basis = _limits(drug, episode.weight_kg)
        window = [e for e in doses[:index + 1]
                  if e.data.get("drug") == drug and timedelta(0) <= event.at - e.at < timedelta(hours=24)]
        day_total = sum(float(e.data.get("dose_mg", 0)) for e in window)
        within = None if per_dose is None else dose <= per_dose and (per_day is None or day_total <= per_day)
        rows.append({
            "seq": event.seq, "at": iso(event.at), "drug": drug, "dose_mg": dose, "route": event.data.get("route"),
            "intensity": event.data.get("intensity"), "limit_mg": per_dose,
            "percent_of_limit": round(100 * dose / per_dose, 1) if per_dose else None,
            "total_24h_mg": day_total, "limit_24h_mg": per_day, "doses_24h": len(window),
            "limit_basis": basis, "within_limits": within, "deviation": event.override is not None,
        })
    toci = [r for r in rows if r["drug"] == Drug.TOCILIZUMAB]
    for number, row in enumerate(toci, 1):
        row["dose_number"] = number
        row["within_limits"] = bool(row["within_limits"]) and number <= HARD_LIMITS.toci_max_doses_episode and \
            row["doses_24h"] <= HARD_LIMITS.toci_max_doses_24h
    return rows
