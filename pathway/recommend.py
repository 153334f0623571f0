"""What `crs status` shows: grades with their basis, the next best steps, timers and warnings.

Recommendations come from the current state's table (states/) plus supportive care; every
recommended dose is dry-run through the same rule checks as a real dose, so the pathway never
recommends a step it would refuse. A step held back only by a timer appears under `due`.

Every time shown (`due`, `reassess`) is computed from recorded clinical times only, never from
`now`: two calls a minute apart show the same deadlines; `now` only decides which are overdue.
"""

from dataclasses import replace
from datetime import datetime
from typing import Any

from pathway.clock import after, as_utc, iso, span
from pathway.commands import MIN_DOSE_MG, AdministerDose
from pathway.dosing import Regimen, regimen, steroid_intensity
from pathway.drugs import REFRACTORY_DRUGS, STEROIDS, Drug
from pathway.episode import Episode
from pathway.grading import uses_capd
from pathway.guards import CONDITIONS, at_least, latest_crs, latest_icans, next_toci_at, resolution_at
from pathway.machine import violations
from states import PATHWAY, SUPPORTIVE, Recommend, State, TimedGuard

DISCLAIMER = ("Decision support only: every recommendation must be reviewed by the treating clinician; "
              "this tool does not replace clinical judgement.")

#: What each missing input asks the bedside to record, in the words of the command's options.
MISSING_TEXT = {"temp_c": "temperature (--temp)", "o2_device": "oxygen support (--o2, room-air counts)",
                "ice_score": "ICE score (--ice)", "capd_score": "CAPD (--capd)",
                "consciousness": "level of consciousness (--consciousness)"}


def reassess_hours(ep: Episode) -> float:
    """The reassessment interval from the worse of CRS and ICANS (CLINICAL.md §7; policy)."""
    p = ep.policy
    hours = [p.reassess_h_otherwise]
    if at_least(latest_crs(ep), 2):
        hours.append(p.reassess_h_grade2_plus)
    if at_least(latest_icans(ep), 1):
        hours.append(p.reassess_h_icans)
    return min(hours)


def domain_due(ep: Episode, domain: str) -> datetime:
    """When `domain` ("crs" or "icans") is next due: its latest *assessed* observation plus the interval,
    or at once (the opening time) when it was never assessed. Recorded times only."""
    assessed = ep.crs if domain == "crs" else ep.icans
    return after(assessed.at, reassess_hours(ep)) if assessed is not None else ep.opened_at


def reassess_at(ep: Episode) -> datetime:
    """When the next assessment is due: the earlier of the CRS and ICANS deadlines."""
    return min(domain_due(ep, "crs"), domain_due(ep, "icans"))


def _timer_start(name: str, ep: Episode) -> datetime | None:
    if name == "last_tocilizumab":
        return ep.toci_doses[-1].at if ep.toci_doses else None
    if name == "phase_start":
        return ep.phase_started_at
    if name == "zero_streak_start":
        return ep.zero_streak_since
    raise KeyError(name)


def timer_at(guard: TimedGuard, ep: Episode) -> datetime | None:
    if guard.starts_at in ("latest_crs_assessment", "latest_icans_assessment"):
        return domain_due(ep, guard.starts_at.split("_")[1])
    start = _timer_start(guard.starts_at, ep)
    if start is None:
        return None
    return after(start, getattr(ep.policy, guard.hours_field))


def _due_item(what: str, at: datetime, now: datetime, rule: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"what": what, "at": iso(at), "overdue": at < now}
    if rule:
        item["rule"] = rule
    return item


def due(ep: Episode, now: datetime) -> list[dict[str, Any]]:
    """Pending timers of the current state, and the reassessment (a deadline: shown overdue once past)."""
    out: list[dict[str, Any]] = []
    for guard in PATHWAY[ep.state].timed:
        at = timer_at(guard, ep)
        if at is None or (not guard.deadline and at <= now):
            continue
        if guard.only_if and not CONDITIONS[guard.only_if](ep, now):
            continue
        out.append(_due_item(guard.what, at, now, guard.rule))
    return sorted(out, key=lambda d: d["at"])


def _option(reg: Regimen) -> dict[str, Any]:
    out: dict[str, Any] = {"drug": reg.drug.value, "dose_mg": reg.dose_mg, "route": reg.route.value,
                           "every_hours": reg.every_hours, "text": reg.text, "citations": list(reg.citations)}
    if reg.schedule:
        out["schedule"] = list(reg.schedule)
    return out


def _offer(reg: Regimen, rec: Recommend, ep: Episode, now: datetime, held: list[dict[str, Any]]) -> bool:
    """Whether this regimen may be offered now: its dose dry-runs through the same rules as a real dose.

    A course under way (last dose within its interval) or a dose held only by a hard timer goes under
    `due` instead; a steroid capped for weight below the intensity it stands for is not offered."""
    if reg.dose_mg is None:
        return True
    w = ep.weight_kg
    if reg.intensity and steroid_intensity(reg.drug, reg.dose_mg, w, ep.policy) != reg.intensity:
        return False  # e.g. "escalated" dexamethasone capped for a child to a standard dose
    given = ep.doses_of(reg.drug)
    if reg.every_hours and given and now - given[-1].at < span(reg.every_hours):
        held.append(_due_item(f"next dose: {reg.text}", after(given[-1].at, reg.every_hours), now,
                              rec.id))
        return False
    probe = AdministerDose(at=max(now, ep.last_at), actor="recommend", episode_id=ep.id, drug=reg.drug,
                           dose_mg=reg.dose_mg, route=reg.route)
    found = violations(ep, probe, now)
    if not found:
        return True
    timed = [v for v in found if v.earliest_at is not None and not v.overridable]
    if len(timed) == len(found):
        held.append(_due_item(f"{reg.text} allowed ({', '.join(v.rule for v in timed)})",
                              max(v.earliest_at for v in timed if v.earliest_at), now, timed[0].rule))
    return False


def _recordable(reg: Regimen) -> Regimen:
    """A regimen whose dose floors below the smallest recordable dose (a site's per-kg ceiling at a tiny
    weight) is still shown, without a figure: silently dropping an indicated drug would hide it."""
    if reg.dose_mg is None or reg.dose_mg >= MIN_DOSE_MG:
        return reg
    return replace(reg, dose_mg=None, text=f"{reg.text}: below the smallest recordable dose ({MIN_DOSE_MG:g} mg) "
                                           "at this weight, dose per local protocol")


def _give(rec: Recommend, ep: Episode, now: datetime, held: list[dict[str, Any]]) -> dict[str, Any] | None:
    """One give step: a single regimen, or one step whose `alternatives` are exclusive options."""
    offered = [reg for reg in (_recordable(regimen(name, ep)) for name in rec.regimens)
               if _offer(reg, rec, ep, now, held)]
    if not offered:
        return None
    citations = list(dict.fromkeys(rec.citations + tuple(c for reg in offered for c in reg.citations)))
    if len(offered) == 1:
        reg = offered[0]
        step: dict[str, Any] = {"kind": "give", **_option(reg), "why": f"{rec.why}: {reg.text}", "rule": rec.id,
                                "citations": citations}
        step.pop("text")
        if reg.drug is Drug.TOCILIZUMAB:
            step["why"] += f"; dose {len(ep.toci_doses) + 1} of {ep.policy.toci_max_doses_episode} allowed"
        return step
    return {"kind": "give", "alternatives": [_option(reg) for reg in offered],
            "why": f"{rec.why}: give ONE of " + " or ".join(reg.text for reg in offered), "rule": rec.id,
            "citations": citations}


def drug_class(step: dict[str, Any]) -> str:
    """The class a give step belongs to: at most one step per class (one steroid regimen at a time)."""
    drugs = {Drug(o["drug"]) for o in step.get("alternatives", [step])}
    if drugs & STEROIDS:
        return "steroid"
    if drugs & REFRACTORY_DRUGS:
        return "refractory"
    return "+".join(sorted(d.value for d in drugs))


def _assess(ep: Episode) -> tuple[int, dict[str, Any]] | None:
    """Ask for what the latest observation lacks: first of all when a grade is not assessed (H6, H7)."""
    latest = ep.latest
    screen = "capd_score" if uses_capd(ep.age_years, ep.policy) else "ice_score"
    if latest is None:
        missing = ["temp_c", "o2_device", screen, "consciousness"]
        why = "no assessment recorded: the first assessment is due at the episode's opening"
    else:
        missing = list(latest.crs_basis.get("missing", [])) + list(latest.icans_basis.get("missing", []))
        if not missing:
            return None
        if "temp_c" in missing and latest.inputs.get("o2_device") not in (None, "room-air"):
            why = "oxygen above room air without a temperature: measure the temperature now (never reassuring)"
        elif latest.crs_grade is None or latest.icans_grade is None:
            why = "assessment incomplete: a grade not assessed is never normal"
        else:
            why = "assessment partly complete: resolution needs every item"
    urgent = latest is None or latest.crs_grade is None or latest.icans_grade is None
    text = ", ".join(MISSING_TEXT[m] for m in missing)
    return (0 if urgent else 85), {"kind": "assess", "missing": missing, "why": f"{why}; record {text}",
                                   "rule": "ASSESS", "citations": ["ASTCT-2019"]}


def next_steps(ep: Episode, now: datetime) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(next steps most urgent first, steps held back by a timer)."""
    if ep.state is State.CLOSED:
        return [], []
    held: list[dict[str, Any]] = []
    ranked: list[tuple[int, dict[str, Any]]] = []
    if (assess := _assess(ep)) is not None:
        ranked.append(assess)
    taken: set[str] = set()  # drug classes and actions already recommended
    recs = sorted(PATHWAY[ep.state].recommends + (SUPPORTIVE if ep.state is not State.RESOLVED else ()),
                  key=lambda r: r.priority)
    for rec in recs:
        if not CONDITIONS[rec.when](ep, now):
            continue
        if rec.kind in ("act", "support"):
            if rec.action in taken:
                continue
            last = ep.actions.get(rec.action or "")
            if (rec.kind == "act" and not rec.repeat and last is not None
                    and (rec.again_after_h is None or now - last < span(rec.again_after_h))):
                continue
            taken.add(rec.action or "")
            ranked.append((rec.priority, {"kind": rec.kind, ("action" if rec.kind == "act" else "support"): rec.action,
                                          "why": rec.why, "rule": rec.id, "citations": list(rec.citations)}))
            continue
        step = _give(rec, ep, now, held)
        if step is not None and (cls := drug_class(step)) not in taken:
            taken.add(cls)
            ranked.append((rec.priority, step))
    at = reassess_at(ep)
    hours = reassess_hours(ep)
    never = [name for name, a in (("CRS", ep.crs), ("ICANS (neuro assessment)", ep.icans)) if a is None]
    first = f"{' and '.join(never)} never assessed: due since the episode opened; " if never else ""
    ranked.append((90, {"kind": "reassess", "at": iso(at), "overdue": at < now,
                        "why": f"{first}reassess every {hours:g} h ({_interval_reason(ep)}; site policy; NCCN "
                               "asks neuro assessment at least twice daily)", "rule": "REASSESS",
                        "citations": ["NCCN-2026", "ASCO-2021"]}))
    ranked.sort(key=lambda pair: pair[0])
    return [step for _, step in ranked], held


def _interval_reason(ep: Episode) -> str:
    if at_least(latest_crs(ep), 2):
        return "CRS grade 2 or more"
    if at_least(latest_icans(ep), 1):
        return "ICANS grade 1 or more"
    return "CRS below grade 2 and no ICANS"


def warnings(ep: Episode, now: datetime) -> list[str]:
    out: list[str] = []
    if ep.state is State.CLOSED:
        return out
    latest = ep.latest
    if latest is None:
        out.append("no observation recorded yet: grades and recommendations need a bedside assessment")
    else:
        deadline = reassess_at(ep)
        if deadline < now:
            out.append(f"stale input: reassessment overdue since {iso(deadline)} (every {reassess_hours(ep):g} h)")
        for note in list(latest.crs_basis.get("notes", [])) + list(latest.icans_basis.get("notes", [])):
            out.append(note)
        for name, grade, assessed in (("CRS", latest.crs_grade, ep.crs), ("ICANS", latest.icans_grade, ep.icans)):
            if grade is None and assessed is not None:
                out.append(f"{name} not assessed on the latest observation: the pathway still reads the last "
                           f"assessed {name} grade {assessed.grade} (seq {assessed.seq}, {iso(assessed.at)})")
        if at_least(latest_icans(ep), 1) and latest_crs(ep) == 0:
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
                 "crs": latest.crs_basis, "icans": latest.icans_basis,
                 "last_assessed": {name: ({"grade": a.grade, "at": iso(a.at), "seq": a.seq} if a else None)
                                   for name, a in (("crs", ep.crs), ("icans", ep.icans))}}
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
        "corrections": ep.corrections,
        "policy": ep.policy.ref,
        "weight_kg": ep.weight_kg,
        "age_years": ep.age_years,
        "icans_screen": "capd" if uses_capd(ep.age_years, ep.policy) else "ice",
        "version": ep.version,
        "opened_at": iso(ep.opened_at),
        "last_event_at": iso(ep.last_at),
        "as_of": iso(now),
        "disclaimer": DISCLAIMER,
    }
