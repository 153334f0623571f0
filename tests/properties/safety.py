"""Safety predicates shared by the stateful suite and the exhaustive check.

Written from CLINICAL.md and CONTRACT.md, NOT from pathway/guards.py: the hard limits, allowed
routes and declared edges are restated here (the edges are snapshotted from states.PATHWAY at
import time), so disabling or breaking a guard in the core cannot also weaken the check that is
meant to catch it. Every problem string starts with the rule ID it breaks, so tests can assert
which property fired.
"""

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from pathway.commands import StepCommand
from pathway.episode import Episode
from pathway.errors import Refused
from pathway.events import Event
from pathway.machine import violations
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


def history_problems(events: Sequence[Event], weight_kg: float) -> list[str]:
    """Every safety property an accepted history must keep. [] when the history is safe."""
    problems: list[str] = []
    gives: dict[str, list[tuple[datetime, float]]] = {drug: [] for drug in ROUTES}
    tol = CEILING_ROUNDING_TOLERANCE_MG + EPS_MG
    closed_seen = False
    given_drugs: set[str] = set()
    intensities: set[str] = set()
    prev: Event | None = None
    for i, ev in enumerate(events, start=1):
        if ev.seq != i:
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
        if ev.kind == "give":
            problems += _dose_problems(ev, gives, weight_kg, tol)
            given_drugs.add(ev.data["drug"])
            if ev.data.get("intensity"):
                intensities.add(ev.data["intensity"])
        if ev.to_state in PHASE_NEEDS:
            problems += _phase_problems(ev, given_drugs, intensities)
        prev = ev
    problems += _window_problems(gives, weight_kg, tol)
    return problems


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
