"""What `crs status` shows: grades with their basis, the next best steps, timers and warnings.

Recommendations come from the current state's table (states/) plus supportive care; every
recommended dose is dry-run through the same rule checks as a real dose, so the pathway never
recommends a step it would refuse. A step held back only by a timer appears under `due`.
"""

from datetime import datetime, timedelta
from typing import Any

from pathway.clock import as_utc, iso
from pathway.commands import AdministerDose
from pathway.dosing import regimen
from pathway.episode import Episode
from pathway.guards import CONDITIONS, latest_crs, next_toci_at, resolution_at
from pathway.machine import violations
from states import PATHWAY, SUPPORTIVE, Recommend, State, TimedGuard

DISCLAIMER = ("Decision support only: every recommendation must be reviewed by the treating clinician; "
              "this tool does not replace clinical judgement.")


def reassess_hours(ep: Episode) -> float:
    p = ep.policy
    return p.reassess_h_grade2_plus if (latest_crs(ep) or 0) >= 2 else p.reassess_h_otherwise


def _timer_start(name: str, ep: Episode) -> datetime | None:
    if name == "last_tocilizumab":
        return ep.toci_doses[-1].at if ep.toci_doses else None
    if name == "phase_start":
        return ep.phase_started_at
    if name == "zero_streak_start":
        return ep.zero_streak_since
    if name == "latest_observation":
        return ep.latest.at if ep.latest else ep.opened_at
    raise KeyError(name)


def timer_at(guard: TimedGuard, ep: Episode) -> datetime | None:
    start = _timer_start(guard.starts_at, ep)
    if start is None:
        return None
    hours = reassess_hours(ep) if guard.hours_field == "reassess_h_*" else getattr(ep.policy, guard.hours_field)
    return start + timedelta(hours=hours)


def due(ep: Episode, now: datetime) -> list[dict[str, Any]]:
    """Pending timers of the current state (and the reassessment, which is always expected)."""
    out: list[dict[str, Any]] = []
    for guard in PATHWAY[ep.state].timed:
        at = timer_at(guard, ep)
        if at is None or (guard.name != "reassess" and at <= now):
            continue
        if guard.only_if and not CONDITIONS[guard.only_if](ep, now):
            continue
        item: dict[str, Any] = {"what": guard.what, "at": iso(at)}
        if guard.rule:
            item["rule"] = guard.rule
        out.append(item)
    return sorted(out, key=lambda d: d["at"])


def _give(rec: Recommend, ep: Episode, now: datetime, held: list[dict[str, Any]]) -> dict[str, Any] | None:
    reg = regimen(rec.regimen or "", ep)
    step: dict[str, Any] = {"kind": "give", "drug": reg.drug.value, "dose_mg": reg.dose_mg, "route": reg.route.value,
                            "every_hours": reg.every_hours, "why": f"{rec.why}: {reg.text}", "rule": rec.id,
                            "citations": list(dict.fromkeys(rec.citations + reg.citations))}
    if reg.schedule:
        step["schedule"] = list(reg.schedule)
    if reg.dose_mg is None:
        return step
    given = ep.doses_of(reg.drug)
    if reg.every_hours and given and now - given[-1].at < timedelta(hours=reg.every_hours):
        # a course under way: the next dose is a timer, not a step to take now
        held.append({"what": f"next dose: {reg.text}", "at": iso(given[-1].at + timedelta(hours=reg.every_hours)),
                     "rule": rec.id})
        return None
    at = max(now, ep.last_at)
    probe = AdministerDose(at=at, actor="recommend", episode_id=ep.id, drug=reg.drug, dose_mg=reg.dose_mg,
                           route=reg.route)
    found = violations(ep, probe, now)
    if not found:
        if reg.drug.value == "tocilizumab":
            step["why"] += f"; dose {len(ep.toci_doses) + 1} of {ep.policy.toci_max_doses_episode} allowed"
        return step
    timed = [v for v in found if v.earliest_at is not None and not v.overridable]
    if len(timed) == len(found):
        held.append({"what": f"{reg.text} allowed ({', '.join(v.rule for v in timed)})",
                     "at": iso(max(v.earliest_at for v in timed if v.earliest_at)),
                     "rule": timed[0].rule})
    return None


def next_steps(ep: Episode, now: datetime) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(next steps most urgent first, steps held back by a timer)."""
    if ep.state is State.CLOSED:
        return [], []
    held: list[dict[str, Any]] = []
    ranked: list[tuple[int, dict[str, Any]]] = []
    seen_drugs: set[str] = set()
    recs = sorted(PATHWAY[ep.state].recommends + (SUPPORTIVE if ep.state is not State.RESOLVED else ()),
                  key=lambda r: r.priority)
    for rec in recs:
        if not CONDITIONS[rec.when](ep, now):
            continue
        if rec.kind == "act":
            last = ep.actions.get(rec.action or "")
            if last is not None and (rec.again_after_h is None or now - last < timedelta(hours=rec.again_after_h)):
                continue
            ranked.append((rec.priority, {"kind": "act", "action": rec.action, "why": rec.why, "rule": rec.id,
                                          "citations": list(rec.citations)}))
            continue
        step = _give(rec, ep, now, held)
        key = f"{step['drug']}:{step['dose_mg']}" if step else ""
        if step and key not in seen_drugs:
            seen_drugs.add(key)
            ranked.append((rec.priority, step))
    reassess_at = (ep.latest.at if ep.latest else now) + timedelta(hours=reassess_hours(ep))
    grade_note = "while CRS grade is 2 or more" if (latest_crs(ep) or 0) >= 2 else "at CRS grade below 2"
    ranked.append((90, {"kind": "reassess", "at": iso(max(reassess_at, now) if not ep.latest else reassess_at),
                        "why": f"reassess every {reassess_hours(ep):g} h {grade_note} (site policy; NCCN asks "
                               "neuro assessment at least twice daily)", "rule": "REASSESS",
                        "citations": ["NCCN-2026"]}))
    ranked.sort(key=lambda pair: pair[0])
    return [step for _, step in ranked], held


def warnings(ep: Episode, now: datetime) -> list[str]:
    out: list[str] = []
    if ep.state is State.CLOSED:
        return out
    if ep.latest is None:
        out.append("no observation recorded yet: grades and recommendations need a bedside assessment")
    else:
        age_h = (now - ep.latest.at).total_seconds() / 3600
        if age_h > reassess_hours(ep):
            out.append(f"stale input: the latest observation is {age_h:.1f} h old (reassess every "
                       f"{reassess_hours(ep):g} h)")
        for note in list(ep.latest.crs_basis.get("notes", [])) + list(ep.latest.icans_basis.get("notes", [])):
            out.append(note)
        if ep.latest.icans_grade >= 1 and ep.latest.crs_grade == 0:
            out.append("ICANS without CRS: tocilizumab is not indicated; corticosteroids are the mainstay")
    if ep.deviations:
        out.append(f"{ep.deviations} deviation(s) on record: see `crs audit report`")
    return out


def status(ep: Episode, now: datetime) -> dict[str, Any]:
    """The `crs status` object of CONTRACT.md, for this episode as it stands at `now`."""
    now = as_utc(now)
    steps, held = next_steps(ep, now)
    latest = ep.latest
    basis = None
    if latest is not None:
        basis = {"observed_at": iso(latest.at), "seq": latest.seq, "inputs": latest.inputs,
                 "crs": latest.crs_basis, "icans": latest.icans_basis}
    nxt = next_toci_at(ep)
    return {
        "episode": ep.id,
        "patient": ep.patient_ref,
        "state": ep.state.value,
        "crs_grade": latest.crs_grade if latest else None,
        "icans_grade": latest.icans_grade if latest else None,
        "next_steps": steps,
        "due": sorted(due(ep, now) + held, key=lambda d: d["at"]),
        "basis": basis,
        "warnings": warnings(ep, now),
        "tocilizumab_doses": len(ep.toci_doses),
        "tocilizumab_max_doses": ep.policy.toci_max_doses_episode,
        "next_tocilizumab_at": iso(nxt) if nxt else None,
        "resolution_criteria_at": iso(r) if (r := resolution_at(ep)) else None,
        "deviations": ep.deviations,
        "policy": ep.policy.ref,
        "weight_kg": ep.weight_kg,
        "age_years": ep.age_years,
        "version": ep.version,
        "opened_at": iso(ep.opened_at),
        "last_event_at": iso(ep.last_at),
        "as_of": iso(now),
        "disclaimer": DISCLAIMER,
    }
