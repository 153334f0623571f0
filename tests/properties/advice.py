"""Invariants of what `crs status` recommends (pathway.recommend.status), shared by the stateful suite
and the exhaustive check.

Written from CLINICAL.md, not from pathway/ (the ceilings come from safety.py, the latest assessed
grades and the fever run from the raw events): every problem string starts with the rule it breaks.

- RECOMMEND_DOSE: no recommended dose, nor any option of an alternatives step, above its absolute hard
  ceiling (§3–5) or its per-kg ceiling (§4: dexamethasone the policy's mg/kg a dose; methylprednisolone
  the policy's mg/kg a day, a dose given every e h taking e/24 of it).
- RECOMMEND (H13): every recommended dose, every option included, is accepted by decide() as it stands,
  without an override.
- STEROID_STEPS / REFRACTORY_STEPS: at most one steroid step (a step is a steroid step if it or any of
  its alternatives is dexamethasone or methylprednisolone), at most one refractory step (§5, H11).
- DEADLINE_SLIDES: status(now) and status(now + 1 min) give identical `due` and `next_steps` but for
  the `overdue` flags, whenever no instant a timer could fire at lies between the two; and whatever lies
  between, a deadline (`reassess` at, each `due` item's at) never moves with the clock (§7, H10).
- RECOMMEND_TOCI: tocilizumab is recommended only at a latest assessed CRS grade >= 2, or at grade 1
  under the persistent-fever policy (§3, §8: ICANS alone never recommends it).
- REASSESS_AT (H10, §7): the reassessment is due at the earlier of the two domains' deadlines, each the
  latest ASSESSED observation of that domain plus the interval (the policy's 4 h while CRS >= 2, 8 h
  while ICANS >= 1, else 12 h: the shortest that applies), or the episode's opening time for a domain
  never assessed (a new episode's first assessment is due at once).
- GRADE_4_STEROID (H9, §4, §8): before any steroid, a latest assessed CRS or ICANS grade 4 shows a steroid
  step with an escalated-intensity option (dexamethasone above the policy's standard dose,
  methylprednisolone above its standard mg/kg), unless no escalated methylprednisolone fits under the
  patient's per-kg ceiling.
- ASSESS (H6, H7, §1): when the latest observation left a grade not assessed (or there is none), the
  FIRST next step is `assess`, naming every missing input (temperature, oxygen support, the age's
  screen, consciousness); a partly assessed one still asks (not first); a fully assessed one does not.
- CITATION (H14): no clinician-facing step, nor any option of one, cites a seed answer (SEED-000,
  SEED-001): they are test provenance, not sources.
- STEROID_MISSING (liveness, H2/R2): before any steroid (assessment, tocilizumab), a latest assessed CRS
  or ICANS grade at the policy's steroid threshold (§4) shows a steroid step: a child's capped dose may
  not make the indicated steroid vanish.
"""

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from pathway.commands import AdministerDose
from pathway.episode import Episode
from pathway.errors import Refused
from pathway.events import Event
from pathway.machine import decide
from pathway.recommend import status
from tests.properties import safety

MINUTE = timedelta(minutes=1)


def options(step: dict[str, Any]) -> list[dict[str, Any]]:
    """A give step's options: itself, or each of its alternatives."""
    return list(step.get("alternatives", [step]))


def give_steps(st: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in st["next_steps"] if s["kind"] == "give"]


def recommended_doses(st: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(step, option) for every option with a dose."""
    return [(s, o) for s in give_steps(st) for o in options(s) if o.get("dose_mg") is not None]


def dose_ceiling_problems(st: dict[str, Any], patient: safety.Patient) -> list[str]:
    out: list[str] = []
    w, p = patient.weight_kg, patient.policy
    for step, opt in recommended_doses(st):
        drug, dose, every = opt["drug"], float(opt["dose_mg"]), opt.get("every_hours")
        hard = {"tocilizumab": safety.toci_limit_mg(w), "dexamethasone": safety.DEX_MAX_MG,
                "methylprednisolone": safety.MP_MAX_MG, "anakinra": safety.ANAKINRA_MAX_MG,
                "siltuximab": safety.siltuximab_limit_mg(w)}.get(drug)
        if hard is not None and dose > hard + safety.EPS_MG:
            out.append(f"RECOMMEND_DOSE: {step['rule']} recommends {drug} {dose:g} mg, above the hard ceiling of "
                       f"{hard:g} mg for {w:g} kg")
        per_kg = None
        if drug == "dexamethasone":
            per_kg = safety.dex_per_kg_ceiling_mg(w, p)
        elif drug == "methylprednisolone":
            share = 1.0 if every is None or every >= 24 else every / 24
            per_kg = safety.floor_tenth(p.methylprednisolone_max_mg_per_kg_day * w * share)
        if per_kg is not None and dose > per_kg + safety.EPS_MG:
            out.append(f"RECOMMEND_DOSE: {step['rule']} recommends {drug} {dose:g} mg"
                       f"{f' every {every:g} h' if every else ''}, above the per-kg ceiling of {per_kg:g} mg "
                       f"for {w:g} kg (STEROID_DOSE_PER_KG)")
    return out


def dry_run_problems(ep: Episode, st: dict[str, Any], now: datetime) -> list[str]:
    """H13: the pathway never recommends a dose it would refuse (every option of an alternatives step too)."""
    out: list[str] = []
    for step, opt in recommended_doses(st):
        probe = AdministerDose(at=max(now, ep.last_at), actor="dry-run", episode_id=ep.id, drug=opt["drug"],
                               dose_mg=opt["dose_mg"], route=opt["route"])
        try:
            decide(ep, probe, now)
        except Refused as err:
            out.append(f"RECOMMEND: status recommends {opt['drug']} {opt['dose_mg']} mg ({step['rule']}) but "
                       f"decide refuses it: {err.rules}")
    return out


def step_count_problems(st: dict[str, Any]) -> list[str]:
    out: list[str] = []
    steps = give_steps(st)
    steroid = [s["rule"] for s in steps if any(o["drug"] in safety.STEROIDS for o in options(s))]
    refractory = [s["rule"] for s in steps if any(o["drug"] in safety.REFRACTORY for o in options(s))]
    if len(steroid) > 1:
        out.append(f"STEROID_STEPS: {len(steroid)} steroid steps recommended at once: {steroid}")
    if len(refractory) > 1:
        out.append(f"REFRACTORY_STEPS: {len(refractory)} refractory steps recommended at once: {refractory}")
    return out


def toci_problems(st: dict[str, Any], view: safety.RawView, patient: safety.Patient, now: datetime,
                  last_at: datetime) -> list[str]:
    if not any(o["drug"] == "tocilizumab" for s in give_steps(st) for o in options(s)):
        return []
    crs = view.crs[2] if view.crs else None
    if crs is not None and crs >= 2:
        return []
    hours = patient.policy.toci_grade1_fever_hours
    fever_rule = (crs == 1 and hours is not None and view.fever_since is not None
                  and any(t - view.fever_since > timedelta(hours=hours) for t in (now, max(now, last_at))))
    if fever_rule:
        return []
    return [f"RECOMMEND_TOCI: tocilizumab recommended at latest assessed CRS grade {crs} "
            f"(latest ICANS {view.icans[2] if view.icans else None}; fever since {view.fever_since})"]


def steroid_missing_problems(st: dict[str, Any], events: Sequence[Event], view: safety.RawView,
                             patient: safety.Patient) -> list[str]:
    if st["state"] not in ("assessment", "tocilizumab"):
        return []
    if any(e.kind == "give" and e.data["drug"] in safety.STEROIDS for e in events):
        return []
    p = patient.policy
    crs, icans = (view.crs[2] if view.crs else None), (view.icans[2] if view.icans else None)
    indicated = (crs is not None and crs >= p.steroid_min_crs_grade) or (icans is not None
                                                                          and icans >= p.steroid_min_icans_grade)
    if not indicated or any(o["drug"] in safety.STEROIDS for s in give_steps(st) for o in options(s)):
        return []
    return [f"STEROID_MISSING: CRS {crs} / ICANS {icans} call for a steroid (thresholds {p.steroid_min_crs_grade} / "
            f"{p.steroid_min_icans_grade}) but no steroid step is shown for {patient.weight_kg:g} kg "
            f"(steps: {[s['rule'] for s in st['next_steps']]})"]


def grade_4_problems(st: dict[str, Any], events: Sequence[Event], view: safety.RawView,
                     patient: safety.Patient) -> list[str]:
    if st["state"] not in ("assessment", "tocilizumab"):
        return []
    if any(e.kind == "give" and e.data["drug"] in safety.STEROIDS for e in events):
        return []
    crs, icans = (view.crs[2] if view.crs else None), (view.icans[2] if view.icans else None)
    if crs != 4 and icans != 4:
        return []
    p, w = patient.policy, patient.weight_kg
    every = p.methylprednisolone_escalated_every_h
    fits = safety.floor_tenth(min(p.methylprednisolone_escalated_mg,
                                  p.methylprednisolone_max_mg_per_kg_day * w * (1.0 if every >= 24 else every / 24)))
    if fits <= p.standard_methylprednisolone_mg_per_kg * w:
        return []  # the per-kg ceiling leaves no escalated methylprednisolone for this patient
    escalated = [o for s in give_steps(st) for o in options(s) if o.get("dose_mg") is not None and (
        (o["drug"] == "dexamethasone" and o["dose_mg"] > p.dexamethasone_standard_mg)
        or (o["drug"] == "methylprednisolone" and o["dose_mg"] > p.standard_methylprednisolone_mg_per_kg * w))]
    if escalated:
        return []
    return [f"GRADE_4_STEROID: CRS {crs} / ICANS {icans} before any steroid, but no escalated steroid is offered "
            f"(steps: {[s['rule'] for s in st['next_steps']]})"]


def assess_problems(st: dict[str, Any], events: Sequence[Event], patient: safety.Patient) -> list[str]:
    screen = "capd_score" if patient.child else "ice_score"
    observed = [e for e in events if e.kind == "observe"]
    if not observed:
        want, urgent = {"temp_c", "o2_device", screen, "consciousness"}, True
    else:
        inputs = observed[-1].data["observation"]
        want = {k for k in ("temp_c", "o2_device") if inputs.get(k) is None}
        if not safety.screen_recorded(inputs, patient.child):
            want.add(screen)
        if inputs.get("consciousness") is None:
            want.add("consciousness")
        urgent = observed[-1].data["crs_grade"] is None or observed[-1].data["icans_grade"] is None
    asks = [s for s in st["next_steps"] if s["kind"] == "assess"]
    if not want:
        return [f"ASSESS: a fully assessed observation, yet assess steps {asks}"] if asks else []
    if not asks or not want <= set(asks[0].get("missing", [])):
        return [f"ASSESS: {sorted(want)} missing from the latest observation, assess steps shown: {asks}"]
    if urgent and st["next_steps"][0]["kind"] != "assess":
        return [f"ASSESS: a grade is not assessed but the first step is {st['next_steps'][0].get('rule')}, not assess"]
    return []


def citation_problems(st: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for step in st["next_steps"]:
        cited = list(step.get("citations", []))
        cited += [c for o in step.get("alternatives", []) for c in o.get("citations", [])]
        seeds = sorted({c for c in cited if c.upper().startswith("SEED")})
        if seeds:
            out.append(f"CITATION: {step.get('rule')} cites {seeds} to the clinician (seeds are test provenance only)")
    return out


def reassess_problems(st: dict[str, Any], view: safety.RawView, patient: safety.Patient,
                      opened_at: datetime) -> list[str]:
    p = patient.policy
    crs, icans = (view.crs[2] if view.crs else None), (view.icans[2] if view.icans else None)
    hours = min([p.reassess_h_otherwise] + ([p.reassess_h_grade2_plus] if crs is not None and crs >= 2 else [])
                + ([p.reassess_h_icans] if icans is not None and icans >= 1 else []))
    dues = [view.crs[1] + timedelta(hours=hours) if view.crs else opened_at,
            view.icans[1] + timedelta(hours=hours) if view.icans else opened_at]
    want = min(dues)
    got = [s["at"] for s in st["next_steps"] if s["kind"] == "reassess"]
    if len(got) != 1 or datetime.fromisoformat(got[0].replace("Z", "+00:00")) != want:
        return [f"REASSESS_AT: reassessment shown at {got}, due at {want} (every {hours:g} h from the latest "
                f"assessed CRS {view.crs} / ICANS {view.icans}; a domain never assessed is due at the opening "
                f"{opened_at})"]
    return []


# -- deadlines that do not slide ------------------------------------------------------------------

_DURATIONS: dict[int, tuple[object, tuple[timedelta, ...]]] = {}


def _durations(patient: safety.Patient) -> tuple[timedelta, ...]:
    """Every duration a timer can run for: each policy duration, and the fixed 24 h / 12 h / 8 h / 6 h."""
    policy = patient.policy
    hit = _DURATIONS.get(id(policy))
    if hit is not None and hit[0] is policy:
        return hit[1]
    hours: set[float] = {0.0, 6.0, 8.0, 12.0, 24.0}
    for name, value in policy.model_dump().items():
        if isinstance(value, (int, float)) and not isinstance(value, bool) and (name.endswith("_h")
                                                                                 or name.endswith("_hours")):
            hours.add(float(value))
    hours.add(24.0 * policy.escalated_course_days)
    out = tuple(sorted(timedelta(hours=h) for h in hours))
    if len(_DURATIONS) > 256:
        _DURATIONS.clear()
    _DURATIONS[id(policy)] = (policy, out)
    return out


def timer_between(events: Sequence[Event], patient: safety.Patient, start: datetime, end: datetime) -> bool:
    """Whether any recorded time plus any timer duration lands in [start, end]: a superset of every
    instant at which a recommendation, a hold or a due item may appear or go."""
    durations = _durations(patient)
    return any(start <= ev.at + d <= end for ev in events for d in durations)


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k != "overdue"}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _deadlines(st: dict[str, Any]) -> tuple[list[str], dict[str, list[str]]]:
    reassess = [s["at"] for s in st["next_steps"] if s["kind"] == "reassess"]
    due: dict[str, list[str]] = {}
    for item in st["due"]:
        due.setdefault(item["what"], []).append(item["at"])
    return reassess, {k: sorted(v) for k, v in due.items()}


def sliding_problems(ep: Episode, st: dict[str, Any], events: Sequence[Event], patient: safety.Patient,
                     now: datetime) -> list[str]:
    later = status(ep, now + MINUTE)
    out: list[str] = []
    r1, d1 = _deadlines(st)
    r2, d2 = _deadlines(later)
    if r1 != r2:
        out.append(f"DEADLINE_SLIDES: the reassessment moved from {r1} to {r2} when the clock moved 1 minute")
    for what in d1.keys() & d2.keys():  # an item may appear or go at a timer, never move
        a, b = set(d1[what]), set(d2[what])
        if not (a <= b or b <= a):
            out.append(f"DEADLINE_SLIDES: due {what!r} moved from {d1[what]} to {d2[what]} in 1 minute")
    if not timer_between(events, patient, now, now + MINUTE):
        for key in ("due", "next_steps"):
            if _strip(st[key]) != _strip(later[key]):
                out.append(f"DEADLINE_SLIDES: `{key}` changed between {now} and 1 minute later with no timer "
                           f"between: {_strip(st[key])} -> {_strip(later[key])}"[:1500])
    return out


def status_problems(ep: Episode, events: Sequence[Event], now: datetime, dry_run: bool = True,
                    st: dict[str, Any] | None = None) -> list[str]:
    """Every status invariant for this episode at `now` (the episode is the fold of `events`; `st`, if
    given, is status(ep, now) already computed)."""
    patient = safety.patient_of(events)
    if patient is None:
        return []
    st = status(ep, now) if st is None else st
    if ep.is_closed:
        return ["STATUS: a closed episode recommends steps"] if st["next_steps"] else []
    view = safety.raw_view(events, patient)
    out = dose_ceiling_problems(st, patient) + step_count_problems(st)
    out += toci_problems(st, view, patient, now, ep.last_at)
    out += steroid_missing_problems(st, events, view, patient)
    out += reassess_problems(st, view, patient, events[0].at)
    out += citation_problems(st)
    out += assess_problems(st, events, patient)
    out += grade_4_problems(st, events, view, patient)
    out += sliding_problems(ep, st, events, patient, now)
    if dry_run:
        out += dry_run_problems(ep, st, now)
    return out
