"""Safety predicates shared by the stateful suite and the exhaustive check.

Written from CLINICAL.md and CONTRACT.md, NOT from pathway/guards.py: the hard limits, allowed
routes and declared edges are restated here (the edges are snapshotted from states.PATHWAY at
import time), so disabling or breaking a guard in the core cannot also weaken the check that is
meant to catch it. Every problem string starts with the rule ID it breaks, so tests can assert
which property fired.

Issue 9 adds, from the raw events alone (never the episode's own summary fields):
- NULL_GRADE: a CRS grade is stored iff the observation recorded temperature AND oxygen support; an
  ICANS grade iff it recorded the age-appropriate screen (ICE, or CAPD under the policy's CAPD age)
  or consciousness; a not-assessed grade is stored as null, never 0 (CLINICAL.md §1–2). SCREEN: an
  accepted observation never carries the other age group's screen (§2b).
- RESOLVE_CRITERIA: a resolve accepted without an override needs every observation of the last
  resolution window fully assessed (CRS: temperature and oxygen; ICANS: screen and consciousness) at
  grade 0/0, in a streak that began at least the window before (§7).
- STEROID_DOSE_PER_KG: a steroid dose above the policy's per-kg ceiling (dexamethasone a dose,
  methylprednisolone over 24 h) carries an override naming the rule (§4).
- fold_view_problems: the episode's latest assessed CRS / ICANS grades and its zero streak agree with
  the same figures computed from the raw events (a not-assessed observation changes neither); SEVERITY:
  its severity and each dose's improvement baseline are the worse of the latest assessed CRS and ICANS.

Issue 12 (H30) adds the indications and the order of therapy, from the raw events before each dose (never
from pathway/guards.py, whose rules they restate; an override naming the rule is the recorded deviation):
- TOCI_INDICATION: tocilizumab needs a latest assessed CRS grade of 2 or more, or grade 1 with fever for
  longer than the policy's grade-1 window (§3); ICANS never indicates it (§8).
- STEROID_INDICATION: a corticosteroid needs a course already under way (a steroid given before), CRS at
  the policy's steroid grade (3), ICANS at its steroid grade (2), or CRS grade 2 or more assessed at least
  the policy's 8 h after the last tocilizumab dose without improvement since that dose (§4).
- ESCALATION_ORDER: an escalated dose (dexamethasone above the policy's standard dose, methylprednisolone
  above its standard mg/kg, never above 2 mg/kg) needs CRS or ICANS grade 4, a grade worse than at the
  first steroid, or an assessment the policy's window (24 h) after a standard dose without improvement
  since it (§4). Stated one-sided: once an escalated steroid, a refractory drug or a resolve is on record
  the check stops (the pathway allows a course or a taper there), so it never flags a legitimate step.
- REFRACTORY_ORDER: a refractory-line drug needs tocilizumab and a corticosteroid given before it (§5).
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pathway.commands import StepCommand
from pathway.episode import Episode
from pathway.errors import Refused
from pathway.events import Event
from pathway.machine import violations
from pathway.policy import Policy
from pathway.rules import RULES
from states import PATHWAY, State

CLOSED, ASSESSMENT = State.CLOSED.value, State.ASSESSMENT.value
PHASE_NEEDS = {State.TOCILIZUMAB.value: "tocilizumab", State.STEROID.value: "steroid",
               State.ESCALATED_STEROID.value: "escalated_steroid", State.REFRACTORY.value: "refractory"}
HOUR = timedelta(hours=1)
DAY = timedelta(hours=24)
FUTURE_TOLERANCE = timedelta(minutes=5)
EPS_MG = 1e-9

#: Tolerance on weight-based ceilings, in mg: none. (Regression R1, test_regressions.py: the core
#: used to round its ceilings to the NEAREST 0.1 mg, up to 0.05 mg above the limit; it now rounds down.)
CEILING_ROUNDING_TOLERANCE_MG = 0.0

# -- the hard limits, restated from CLINICAL.md §3–5 ----------------------------------------------
TOCI_CAP_MG = 800.0
TOCI_MIN_GAP = timedelta(hours=8)
TOCI_MAX_24H = 3
TOCI_MAX_EPISODE = 4
DEX_MAX_MG = 20.0
MP_MAX_MG = 1000.0
MP_MAX_24H_MG = 2000.0
ANAKINRA_MAX_MG = 100.0
ANAKINRA_MAX_24H_MG = 400.0
SILTUXIMAB_MG_PER_KG = 11.0
#: A standard methylprednisolone dose is at most 2 mg/kg (§4); above it, escalated.
MP_STANDARD_MAX_MG_PER_KG = 2.0

#: Allowed routes (rules.py DRUG_ROUTE sentence; CLINICAL.md).
ROUTES: dict[str, frozenset[str]] = {
    "tocilizumab": frozenset({"iv"}),
    "dexamethasone": frozenset({"iv", "po"}),
    "methylprednisolone": frozenset({"iv"}),
    "anakinra": frozenset({"iv", "sc"}),
    "siltuximab": frozenset({"iv"}),
    "ruxolitinib": frozenset({"po"}),
    "cyclophosphamide": frozenset({"iv"}),
}
REFRACTORY = frozenset({"anakinra", "siltuximab", "ruxolitinib", "cyclophosphamide"})
STEROIDS = frozenset({"dexamethasone", "methylprednisolone"})


def toci_limit_mg(weight_kg: float) -> float:
    """8 mg/kg at >= 30 kg, 12 mg/kg under 30 kg, + 10 %, never above 800 mg (exact, unrounded)."""
    per_kg = 12.0 if weight_kg < 30 else 8.0
    return min(TOCI_CAP_MG, weight_kg * per_kg * 1.1)


def siltuximab_limit_mg(weight_kg: float) -> float:
    return weight_kg * SILTUXIMAB_MG_PER_KG * 1.1


def floor_tenth(x: float) -> float:
    """Round a ceiling down to the 0.1 mg grid (CLINICAL.md §4: "rounded down to 0.1 mg")."""
    return math.floor(x * 10 + 1e-9) / 10


# -- the per-kg steroid ceilings, restated from CLINICAL.md §4 (policy, overridable) ---------------

def dex_per_kg_ceiling_mg(weight_kg: float, policy: Policy) -> float:
    """Dexamethasone: the policy's mg/kg a dose (default 0.5) × weight, rounded down."""
    return floor_tenth(policy.dexamethasone_max_mg_per_kg_dose * weight_kg)


def mp_per_kg_day_ceiling_mg(weight_kg: float, policy: Policy) -> float:
    """Methylprednisolone: the policy's mg/kg a day (default 30) × weight, rounded down."""
    return floor_tenth(policy.methylprednisolone_max_mg_per_kg_day * weight_kg)


# -- what an observation recorded, from its stored inputs (CLINICAL.md §1–2, §2b, §7) ----------------

def screen_recorded(inputs: dict[str, Any], child: bool) -> bool:
    """The ICE score (12 years and over) or the CAPD, a score or 'unable' (children)."""
    if child:
        return inputs.get("capd_score") is not None or inputs.get("capd_unable") is True
    return inputs.get("ice_score") is not None


def crs_recorded(inputs: dict[str, Any]) -> bool:
    """A CRS grade needs a recorded temperature and a recorded oxygen support (room-air counts)."""
    return inputs.get("temp_c") is not None and inputs.get("o2_device") is not None


def icans_recorded(inputs: dict[str, Any], child: bool) -> bool:
    """An ICANS grade needs the age-appropriate screen or the level of consciousness."""
    return screen_recorded(inputs, child) or inputs.get("consciousness") is not None


def icans_fully_recorded(inputs: dict[str, Any], child: bool) -> bool:
    return screen_recorded(inputs, child) and inputs.get("consciousness") is not None


@dataclass(frozen=True)
class Patient:
    """The facts of the open event: weight, age, policy, and so which ICANS screen applies."""

    weight_kg: float
    age_years: float
    policy: Policy

    @property
    def child(self) -> bool:
        return self.age_years < self.policy.capd_below_age_years


_PATIENTS: dict[int, tuple[Event, Patient]] = {}


def patient_of(events: Sequence[Event]) -> Patient | None:
    """The patient of a history's open event (memoised per open event: the policy is validated once)."""
    if not events or events[0].kind != "open":
        return None
    opened = events[0]
    hit = _PATIENTS.get(id(opened))
    if hit is not None and hit[0] is opened:
        return hit[1]
    data = opened.data
    patient = Patient(float(data["weight_kg"]), float(data["age_years"]), Policy.model_validate(data["policy"]))
    if len(_PATIENTS) > 256:
        _PATIENTS.clear()
    _PATIENTS[id(opened)] = (opened, patient)
    return patient


def fully_assessed_zero(ev: Event, child: bool) -> bool:
    """CRS 0 and ICANS 0, each fully assessed: the only observation that counts toward resolution."""
    inputs = ev.data["observation"]
    return (crs_recorded(inputs) and icans_fully_recorded(inputs, child)
            and ev.data["crs_grade"] == 0 and ev.data["icans_grade"] == 0)


@dataclass
class RawView:
    """What the raw observe events say: latest assessed grades (seq, at, grade), the zero streak, fever."""

    crs: tuple[int, datetime, int] | None = None
    icans: tuple[int, datetime, int] | None = None
    zero_streak_since: datetime | None = None
    fever_since: datetime | None = None
    ever_crs_1_plus: bool = False
    ever_icans_1_plus: bool = False


def has_fever(temp_c: float | None, policy: Policy) -> bool | None:
    if temp_c is None:
        return None
    return temp_c >= policy.fever_threshold_c if policy.fever_comparator == ">=" else temp_c > policy.fever_threshold_c


def raw_view(events: Sequence[Event], patient: Patient) -> RawView:
    view = RawView()
    for ev in events:
        if ev.kind != "observe":
            continue
        crs, icans = ev.data["crs_grade"], ev.data["icans_grade"]
        if crs is not None:
            view.crs = (ev.seq, ev.at, crs)
            view.ever_crs_1_plus |= crs >= 1
        if icans is not None:
            view.icans = (ev.seq, ev.at, icans)
            view.ever_icans_1_plus |= icans >= 1
        view.zero_streak_since = (view.zero_streak_since or ev.at) if fully_assessed_zero(ev, patient.child) else None
        fever = has_fever(ev.data["observation"].get("temp_c"), patient.policy)
        if fever is True:
            view.fever_since = view.fever_since or ev.at
        elif fever is False:
            view.fever_since = None
    return view


def icans_only(events: Sequence[Event]) -> bool:
    """An ICANS-only episode: ICANS grade >= 1 assessed, CRS never assessed at grade >= 1."""
    patient = patient_of(events)
    if patient is None:
        return False
    view = raw_view(events, patient)
    return view.ever_icans_1_plus and not view.ever_crs_1_plus


def fold_view_problems(events: Sequence[Event], episode: Episode) -> list[str]:
    """The episode's latest ASSESSED CRS / ICANS grades and its resolution streak equal what the raw
    events give: a not-assessed observation never changes the latest assessed grade, and only a fully
    assessed 0/0 observation starts or extends the streak (any other breaks it)."""
    patient = patient_of(events)
    if patient is None:
        return []
    view = raw_view(events, patient)
    out: list[str] = []
    for name, got, want in (("CRS", episode.crs, view.crs), ("ICANS", episode.icans, view.icans)):
        got_t = (got.seq, got.at, got.grade) if got is not None else None
        if got_t != want:
            out.append(f"NULL_GRADE: the episode's latest assessed {name} is {got_t}, the raw events give {want}")
    if episode.zero_streak_since != view.zero_streak_since:
        out.append(f"NULL_GRADE: the episode's zero streak starts at {episode.zero_streak_since}, the raw events "
                   f"(fully assessed 0/0 observations only) give {view.zero_streak_since}")
    out += _severity_problems(events, episode)
    return out


def _severity_problems(events: Sequence[Event], episode: Episode) -> list[str]:
    """Improvement and worsening are judged on the worse of the latest ASSESSED CRS and ICANS grades
    (CLINICAL.md §7): the episode's severity, and each dose's baseline, are that worse grade."""
    crs: int | None = None
    icans: int | None = None
    baselines: list[int | None] = []
    for ev in events:
        if ev.kind == "observe":
            crs = ev.data["crs_grade"] if ev.data["crs_grade"] is not None else crs
            icans = ev.data["icans_grade"] if ev.data["icans_grade"] is not None else icans
        elif ev.kind == "give":
            baselines.append(max((g for g in (crs, icans) if g is not None), default=None))
    worse = max((g for g in (crs, icans) if g is not None), default=None)
    out: list[str] = []
    if episode.severity != worse:
        out.append(f"SEVERITY: the episode's severity is {episode.severity}, the worse of the latest assessed CRS "
                   f"{crs} and ICANS {icans} is {worse}")
    got = [d.severity_at_dose for d in episode.doses]
    if got != baselines:
        out.append(f"SEVERITY: the doses' improvement baselines are {got}, the worse assessed grade at each dose "
                   f"was {baselines}")
    return out


# -- the declared edges, frozen when this module is imported --------------------------------------

def _snapshot_edges() -> dict[tuple[str, str], frozenset[str]]:
    out: dict[tuple[str, str], frozenset[str]] = {}
    for state, spec in PATHWAY.items():
        for edge in spec.edges:
            dests = {(edge.to or state).value}
            if edge.when:
                dests.add((edge.otherwise or state).value)
            out[(state.value, edge.trigger)] = frozenset(dests)
    return out


DECLARED_EDGES = _snapshot_edges()


def trigger_of(event: Event) -> str:
    """The pathway trigger an event stands for, from what the event itself records."""
    if event.kind != "give":
        return event.kind
    drug = event.data["drug"]
    if drug == "tocilizumab":
        return "give_tocilizumab"
    if drug in STEROIDS:
        return f"give_{event.data.get('intensity')}_steroid"
    return "give_refractory"


def _window_max(items: Sequence[tuple[datetime, float]]) -> tuple[float, datetime | None]:
    """Largest sum over any half-open 24 h window [t, t+24h) anchored at a dose time."""
    best, where = 0.0, None
    for i, (start, _) in enumerate(items):
        total = sum(v for at, v in items[i:] if at - start < DAY)
        if total > best:
            best, where = total, start
    return best, where


def history_problems(events: Sequence[Event], weight_kg: float, only_last: bool = False,
                     effective: bool = False) -> list[str]:
    """Every safety property an accepted history must keep. [] when the history is safe.

    `only_last`: the history without its last event is known to be safe (the exhaustive search checked
    it when it reached the parent node), so only problems that involve the last event are reported;
    the earlier events are still read for what they establish (doses, windows, streaks).
    `effective`: the events are an effective history (issue 10: the open event, then every entry that
    stands after corrections, voids and late entries, re-decided, in clinical-time order), whose seqs are
    the stored seqs of the values that stand, so not 1..n; every other property holds as for any history."""
    problems: list[str] = []
    gives: dict[str, list[tuple[datetime, float]]] = {drug: [] for drug in ROUTES}
    tol = CEILING_ROUNDING_TOLERANCE_MG + EPS_MG
    patient = patient_of(events)
    closed_seen = False
    given_drugs: set[str] = set()
    intensities: set[str] = set()
    prev: Event | None = None
    course = Course(patient) if patient is not None else None
    first_checked = len(events) if only_last else 1
    for i, ev in enumerate(events, start=1):
        if i < first_checked:  # known safe: only record what it establishes
            if course is not None:
                course.add(ev)
            if ev.kind == "give":
                gives[ev.data["drug"]].append((ev.at, float(ev.data["dose_mg"])))
                given_drugs.add(ev.data["drug"])
                if ev.data.get("intensity"):
                    intensities.add(ev.data["intensity"])
            closed_seen |= ev.kind == "close"
            prev = ev
            continue
        if ev.seq != i and not effective:
            problems.append(f"SEQ: event {i} has seq {ev.seq}")
        if closed_seen:
            problems.append(f"EPISODE_CLOSED: seq {ev.seq} ({ev.kind}) follows close")
        if ev.from_state == CLOSED:
            problems.append(f"EPISODE_CLOSED: seq {ev.seq} ({ev.kind}) leaves the closed state")
        if prev is not None:
            if ev.at < prev.at:
                problems.append(f"TIME_ORDER: seq {ev.seq} at {ev.at} is earlier than seq {prev.seq} at {prev.at}")
            if ev.from_state != prev.to_state:
                problems.append(f"PATHWAY_TRANSITION: seq {ev.seq} starts in {ev.from_state}, "
                                f"previous ended in {prev.to_state}")
        if ev.at > ev.recorded_at + FUTURE_TOLERANCE:
            problems.append(f"TIME_FUTURE: seq {ev.seq} at {ev.at} is more than 5 min after now {ev.recorded_at}")
        if ev.kind == "open":
            if i != 1 or ev.to_state != ASSESSMENT:
                problems.append(f"PATHWAY_TRANSITION: open at seq {ev.seq} to {ev.to_state}")
        else:
            allowed = DECLARED_EDGES.get((ev.from_state or "", trigger_of(ev)))
            if allowed is None or ev.to_state not in allowed:
                problems.append(f"PATHWAY_TRANSITION: seq {ev.seq} {ev.from_state} -{trigger_of(ev)}-> "
                                f"{ev.to_state} is not a declared edge")
        if ev.kind == "close":
            closed_seen = True
        if patient is not None and ev.kind == "observe":
            problems += _observe_problems(ev, patient)
        if patient is not None and ev.kind == "resolve":
            problems += _resolve_problems(ev, events[:i - 1], patient)
        if patient is not None and ev.kind == "give":
            problems += _per_kg_problems(ev, gives, patient)
        if course is not None:
            if ev.kind == "give":
                problems += course.indication_problems(ev)
            course.add(ev)
        if ev.kind == "give":
            problems += _dose_problems(ev, gives, weight_kg, tol)
            given_drugs.add(ev.data["drug"])
            if ev.data.get("intensity"):
                intensities.add(ev.data["intensity"])
        if ev.to_state in PHASE_NEEDS:
            problems += _phase_problems(ev, given_drugs, intensities)
        prev = ev
    if not only_last or (events and events[-1].kind == "give"):  # a new 24 h excess needs a new dose
        problems += _window_problems(gives, weight_kg, tol)
    return problems


def _observe_problems(ev: Event, patient: Patient) -> list[str]:
    """Not assessed is never 0: a grade is stored (non-null) iff its domain was recorded (§1–2)."""
    out: list[str] = []
    inputs, crs, icans = ev.data["observation"], ev.data["crs_grade"], ev.data["icans_grade"]
    if crs_recorded(inputs) != (crs is not None):
        out.append(f"NULL_GRADE: seq {ev.seq} CRS grade {crs!r} although temperature and oxygen support were "
                   f"{'' if crs_recorded(inputs) else 'not '}both recorded ({sorted(inputs)})")
    if icans_recorded(inputs, patient.child) != (icans is not None):
        screen = "CAPD" if patient.child else "ICE"
        out.append(f"NULL_GRADE: seq {ev.seq} ICANS grade {icans!r} although the {screen} screen or consciousness "
                   f"was {'' if icans_recorded(inputs, patient.child) else 'not '}recorded ({sorted(inputs)})")
    if screen_recorded(inputs, not patient.child):
        out.append(f"SCREEN: seq {ev.seq} accepted the {'ICE score' if patient.child else 'CAPD'} at "
                   f"{patient.age_years:g} years (CAPD below {patient.policy.capd_below_age_years:g} years)")
    return out


def _resolve_problems(ev: Event, before: Sequence[Event], patient: Patient) -> list[str]:
    """A resolve without an override: fully assessed 0/0 on every observation of the last window, in a
    streak that began at least the window before (computed from the raw events, CLINICAL.md §7)."""
    if ev.override is not None and "RESOLVE_CRITERIA" in ev.override.rules:
        return []
    window = timedelta(hours=patient.policy.resolution_window_h)
    observed = [e for e in before if e.kind == "observe"]
    if not observed:
        return [f"RESOLVE_CRITERIA: seq {ev.seq} resolved without an override and without any observation"]
    out: list[str] = []
    recent = [e for e in observed if ev.at - e.at < window]
    bad = [e.seq for e in recent if not fully_assessed_zero(e, patient.child)]
    if bad:
        out.append(f"RESOLVE_CRITERIA: seq {ev.seq} resolved without an override although observation(s) {bad} of "
                   f"the last {patient.policy.resolution_window_h:g} h are not fully assessed grade 0/0")
    start = None
    for e in observed:
        start = (start or e.at) if fully_assessed_zero(e, patient.child) else None
    if start is None or ev.at - start < window:
        out.append(f"RESOLVE_CRITERIA: seq {ev.seq} resolved without an override; the fully assessed 0/0 streak "
                   f"began {start} (needs at least {patient.policy.resolution_window_h:g} h before {ev.at})")
    return out


def _per_kg_problems(ev: Event, gives: dict[str, list[tuple[datetime, float]]], patient: Patient) -> list[str]:
    """A steroid dose above the per-kg ceiling carries an override naming STEROID_DOSE_PER_KG (§4).
    Called before the dose is added to `gives`."""
    drug, dose = ev.data["drug"], float(ev.data["dose_mg"])
    overridden = ev.override is not None and "STEROID_DOSE_PER_KG" in ev.override.rules
    w, p = patient.weight_kg, patient.policy
    if drug == "dexamethasone":
        ceiling = dex_per_kg_ceiling_mg(w, p)
        above, what = dose > ceiling + EPS_MG, f"dexamethasone {dose:g} mg > {ceiling:g} mg a dose"
    elif drug == "methylprednisolone":
        ceiling = mp_per_kg_day_ceiling_mg(w, p)
        total = sum(v for t, v in gives[drug] if ev.at - t < DAY) + dose
        above, what = total > ceiling + EPS_MG, f"methylprednisolone {total:g} mg in 24 h > {ceiling:g} mg a day"
    else:
        return []
    if above and not overridden:
        return [f"STEROID_DOSE_PER_KG: seq {ev.seq} {what} for {w:g} kg without an override"]
    return []


def _dose_problems(ev: Event, gives: dict[str, list[tuple[datetime, float]]], weight_kg: float,
                   tol: float) -> list[str]:
    out: list[str] = []
    drug, dose, route = ev.data["drug"], float(ev.data["dose_mg"]), ev.data["route"]
    if route not in ROUTES[drug]:
        out.append(f"DRUG_ROUTE: seq {ev.seq} {drug} given {route}")
    if drug == "tocilizumab":
        previous = gives[drug]
        if dose > toci_limit_mg(weight_kg) + tol:
            out.append(f"TOCI_DOSE_MAX: seq {ev.seq} tocilizumab {dose:g} mg > {toci_limit_mg(weight_kg):g} mg "
                       f"for {weight_kg:g} kg")
        if previous and ev.at - previous[-1][0] < TOCI_MIN_GAP:
            out.append(f"TOCI_MIN_INTERVAL: seq {ev.seq} tocilizumab {ev.at - previous[-1][0]} after the previous")
        if len(previous) + 1 > TOCI_MAX_EPISODE:
            out.append(f"TOCI_MAX_DOSES: seq {ev.seq} is tocilizumab dose {len(previous) + 1} of the episode")
    elif drug == "dexamethasone" and dose > DEX_MAX_MG + EPS_MG:
        out.append(f"STEROID_DOSE_MAX: seq {ev.seq} dexamethasone {dose:g} mg > {DEX_MAX_MG:g} mg")
    elif drug == "methylprednisolone" and dose > MP_MAX_MG + EPS_MG:
        out.append(f"STEROID_DOSE_MAX: seq {ev.seq} methylprednisolone {dose:g} mg > {MP_MAX_MG:g} mg")
    elif drug == "anakinra" and dose > ANAKINRA_MAX_MG + EPS_MG:
        out.append(f"DOSE_MAX: seq {ev.seq} anakinra {dose:g} mg > {ANAKINRA_MAX_MG:g} mg")
    elif drug == "siltuximab" and dose > siltuximab_limit_mg(weight_kg) + tol:
        out.append(f"DOSE_MAX: seq {ev.seq} siltuximab {dose:g} mg > {siltuximab_limit_mg(weight_kg):g} mg")
    gives[drug].append((ev.at, dose))
    return out


def _window_problems(gives: dict[str, list[tuple[datetime, float]]], weight_kg: float, tol: float) -> list[str]:
    out: list[str] = []
    if len(gives["tocilizumab"]) > TOCI_MAX_24H:
        count, at = _window_max([(t, 1.0) for t, _ in gives["tocilizumab"]])
        if count > TOCI_MAX_24H:
            out.append(f"TOCI_MAX_DOSES: {count:g} tocilizumab doses in the 24 h from {at}")
    for drug, rule, limit in (("methylprednisolone", "STEROID_DOSE_MAX", MP_MAX_24H_MG),
                              ("anakinra", "DOSE_MAX", ANAKINRA_MAX_24H_MG),
                              ("siltuximab", "DOSE_MAX", siltuximab_limit_mg(weight_kg) + tol)):
        if len(gives[drug]) < 2:
            continue  # a single dose is checked against its own (lower or equal) ceiling
        total, at = _window_max(gives[drug])
        if total > limit + EPS_MG:
            out.append(f"{rule}: {drug} {total:g} mg in the 24 h from {at} (limit {limit:g} mg)")
    return out


def _phase_problems(ev: Event, given: set[str], intensities: set[str]) -> list[str]:
    """A state is only entered once its drug has been tried: no step skipped (CLINICAL.md §5)."""
    phase = PHASE_NEEDS[ev.to_state]
    need: list[tuple[bool, str]] = []
    if phase == "tocilizumab":
        need = [("tocilizumab" in given, "tocilizumab")]
    elif phase == "steroid":
        need = [(bool(given & STEROIDS), "a steroid")]
    elif phase == "escalated_steroid":
        need = [("escalated" in intensities, "an escalated steroid")]
    else:
        need = [("tocilizumab" in given, "tocilizumab"), (bool(given & STEROIDS), "a steroid"),
                (bool(given & REFRACTORY), "a refractory drug")]
    return [f"PHASE_ORDER: seq {ev.seq} entered {ev.to_state} before {what} was given" for ok, what in need if not ok]


# -- indications and order of therapy, restated from CLINICAL.md §3–5, §8 (issue 12, H30) --------------

def _overridden(ev: Event, rule: str) -> bool:
    """The event records a clinician's override passing `rule` (the deviation the record must show)."""
    return ev.override is not None and rule in ev.override.rules


def _hours(hours: float) -> timedelta:
    """A policy's hours as a timedelta, saturated (an absurd policy figure reads as "never")."""
    return timedelta(hours=min(max(hours, -1e9), 1e9))


def escalated_dose(drug: str, dose_mg: float, patient: Patient) -> bool:
    """Escalated steroid (§4): dexamethasone above the policy's standard dose; methylprednisolone above the standard
    mg/kg for the patient's weight, the policy's, never above 2 mg/kg (a site may lower the boundary, not raise it:
    a pulse is never a standard dose, H24)."""
    p = patient.policy
    if drug == "dexamethasone":
        return dose_mg > p.dexamethasone_standard_mg
    per_kg = min(p.standard_methylprednisolone_mg_per_kg, MP_STANDARD_MAX_MG_PER_KG)
    return drug == "methylprednisolone" and dose_mg > per_kg * patient.weight_kg


@dataclass
class Course:
    """What the indication and order rules read, from the raw events so far: the latest assessed grades,
    the febrile run, and each dose with the worse assessed grade at the time it was given."""

    patient: Patient
    crs: tuple[datetime, int] | None = None
    icans: tuple[datetime, int] | None = None
    fever_since: datetime | None = None
    toci: list[tuple[datetime, int | None]] = field(default_factory=list)
    standard: list[tuple[datetime, int | None]] = field(default_factory=list)
    first_steroid_severity: int | None = None
    steroid_given: bool = False
    escalated_given: bool = False
    refractory_given: bool = False
    resolved: bool = False

    @property
    def severity(self) -> int | None:
        """The worse of the latest assessed CRS and ICANS grades (§7)."""
        return max((g for _, g in (a for a in (self.crs, self.icans) if a is not None)), default=None)

    def add(self, ev: Event) -> None:
        if ev.kind == "observe":
            crs, icans = ev.data["crs_grade"], ev.data["icans_grade"]
            if crs is not None:
                self.crs = (ev.at, crs)
            if icans is not None:
                self.icans = (ev.at, icans)
            fever = has_fever(ev.data["observation"].get("temp_c"), self.patient.policy)
            if fever is True:
                self.fever_since = self.fever_since or ev.at
            elif fever is False:
                self.fever_since = None
        elif ev.kind == "resolve":
            self.resolved = True
        elif ev.kind == "give":
            drug, baseline = ev.data["drug"], self.severity
            if drug == "tocilizumab":
                self.toci.append((ev.at, baseline))
            elif drug in STEROIDS:
                if not self.steroid_given:
                    self.first_steroid_severity = baseline
                self.steroid_given = True
                if escalated_dose(drug, float(ev.data["dose_mg"]), self.patient):
                    self.escalated_given = True
                else:
                    self.standard.append((ev.at, baseline))
            elif drug in REFRACTORY:
                self.refractory_given = True

    def _not_improved_since(self, baseline: int | None) -> bool:
        now = self.severity
        return not (baseline is not None and now is not None and now < baseline)

    def toci_indicated(self, at: datetime) -> bool:
        """§3: CRS grade >= 2, or grade 1 with fever for longer than the policy's grade-1 window."""
        if self.crs is None:
            return False
        hours = self.patient.policy.toci_grade1_fever_hours
        return self.crs[1] >= 2 or (self.crs[1] == 1 and hours is not None and self.fever_since is not None
                                    and at - self.fever_since > _hours(hours))

    def steroid_indicated(self) -> bool:
        """§4: CRS at the policy's steroid grade, ICANS at its steroid grade, or CRS >= 2 persisting the policy's
        hours after the last tocilizumab dose without improvement since it."""
        p = self.patient.policy
        if self.crs is not None and self.crs[1] >= p.steroid_min_crs_grade:
            return True
        if self.icans is not None and self.icans[1] >= p.steroid_min_icans_grade:
            return True
        if not self.toci or self.crs is None or self.crs[1] < 2:
            return False
        last_at, baseline = self.toci[-1]
        return self.crs[0] - last_at >= _hours(p.steroid_after_toci_h) and self._not_improved_since(baseline)

    def escalation_allowed(self) -> bool:
        """§4: grade 4, worse than at the first steroid, or the window after a standard dose passed (an
        assessment at least the window later) without improvement since it. One-sided: after an escalated
        steroid, a refractory drug or a resolve, allowed (a course or a taper)."""
        if (self.crs is not None and self.crs[1] == 4) or (self.icans is not None and self.icans[1] == 4):
            return True
        if self.escalated_given or self.refractory_given or self.resolved:
            return True
        now = self.severity
        if self.steroid_given and self.first_steroid_severity is not None and now is not None \
                and now > self.first_steroid_severity:
            return True
        seen = max((a[0] for a in (self.crs, self.icans) if a is not None), default=None)
        window = _hours(self.patient.policy.escalation_window_h)
        return seen is not None and any(seen - at >= window and self._not_improved_since(baseline)
                                        for at, baseline in self.standard)

    def indication_problems(self, ev: Event) -> list[str]:
        """A dose accepted without an override naming the rule it needed (call before add(ev))."""
        drug, dose, seq = ev.data["drug"], float(ev.data["dose_mg"]), ev.seq
        crs = self.crs[1] if self.crs else None
        icans = self.icans[1] if self.icans else None
        grades = f"latest assessed CRS {crs}, ICANS {icans}"
        out: list[str] = []
        if drug == "tocilizumab" and not self.toci_indicated(ev.at) and not _overridden(ev, "TOCI_INDICATION"):
            out.append(f"TOCI_INDICATION: seq {seq} tocilizumab accepted without an override at {grades} (needs CRS "
                       f"grade 2 or more, or grade 1 with fever over the policy's window; fever since "
                       f"{self.fever_since})")
        if drug in STEROIDS:
            if not self.steroid_given and not self.steroid_indicated() and not _overridden(ev, "STEROID_INDICATION"):
                out.append(f"STEROID_INDICATION: seq {seq} {drug} {dose:g} mg accepted without an override and "
                           f"without an indication: {grades}, no steroid before, tocilizumab at "
                           f"{[str(at) for at, _ in self.toci]}")
            if escalated_dose(drug, dose, self.patient) and not self.escalation_allowed() \
                    and not _overridden(ev, "ESCALATION_ORDER"):
                out.append(f"ESCALATION_ORDER: seq {seq} escalated {drug} {dose:g} mg accepted without an override "
                           f"at {grades}: no grade 4, no worsening since the first steroid (grade "
                           f"{self.first_steroid_severity}), no standard dose the window before without "
                           f"improvement (standard doses at {[str(at) for at, _ in self.standard]})")
        if drug in REFRACTORY and not (self.toci and self.steroid_given) and not _overridden(ev, "REFRACTORY_ORDER"):
            missing = [what for what, done in (("tocilizumab", bool(self.toci)), ("a corticosteroid",
                                                                                   self.steroid_given)) if not done]
            out.append(f"REFRACTORY_ORDER: seq {seq} {drug} accepted without an override before "
                       f"{' and '.join(missing)} was given")
        return out


# -- per-step checks: overrides and refusals ------------------------------------------------------

def override_problems(pre: Episode, command: StepCommand, now: datetime, event: Event) -> list[str]:
    """An accepted step: it broke no hard rule; it carries an override iff overridable rules refused it,
    naming exactly those rules, with the clinician's reason and the actor."""
    found = violations(pre, command, now)
    hard = [v.rule for v in found if not v.overridable]
    soft = [v.rule for v in found if v.overridable]
    out: list[str] = []
    if hard:
        out.append(f"{hard[0]}: accepted although violations() reports hard rule(s) {hard}")
    reason = getattr(command, "override_reason", None)
    if soft:
        ov = event.override
        if ov is None:
            out.append(f"OVERRIDE: seq {event.seq} broke {soft} but carries no override")
        else:
            if set(ov.rules) != set(soft) or ov.rule != soft[0]:
                out.append(f"OVERRIDE: seq {event.seq} override names {ov.rules}, violations were {soft}")
            if not ov.reason or not ov.reason.strip() or ov.reason != reason:
                out.append(f"OVERRIDE: seq {event.seq} override reason {ov.reason!r} != {reason!r}")
            if ov.actor != command.actor:
                out.append(f"OVERRIDE: seq {event.seq} override actor {ov.actor!r} != {command.actor!r}")
    elif event.override is not None:
        out.append(f"OVERRIDE: seq {event.seq} carries an override but broke no rule")
    return out


def refusal_problems(pre: Episode, command: StepCommand, now: datetime, err: Refused) -> list[str]:
    """A refusal names known rules, hard first, agrees with violations(), and was not passable."""
    out: list[str] = []
    unknown = [r for r in err.rules if r not in RULES]
    if unknown:
        out.append(f"REFUSAL: unknown rule IDs {unknown}")
    flags = [v.overridable for v in err.violations]
    if flags != sorted(flags):
        out.append(f"REFUSAL: hard rules not first in {err.rules}")
    found = violations(pre, command, now)
    if sorted(v.rule for v in found) != sorted(err.rules):
        out.append(f"REFUSAL: refused with {err.rules}, violations() reports {[v.rule for v in found]}")
    if found and all(v.overridable for v in found) and getattr(command, "override_reason", None) \
            and not any(v.rule in ("PATHWAY_TRANSITION", "EPISODE_CLOSED") for v in found):
        out.append(f"REFUSAL: refused {err.rules} although all are overridable and a reason was given")
    return out


def describe(value: Any) -> str:
    """A compact one-line rendering for note()."""
    return repr(value)[:300]
