"""Exhaustive check: breadth-first over the pathway's abstract state space, driving the REAL decide().

A concrete node is (episode, its events, the clock). Its abstract key keeps what the rules can
see, time bucketed at the policy's timers; one concrete representative is kept per key, and from
it every abstract step is tried with a concrete command (a command refused only by overridable
rules is tried again with an override; one accepted without any needs no override variant, it
would make the very same event). Every accepted step is checked against the safety predicates of
tests/properties/safety.py; a closed episode must refuse everything.

Four slices keep the product of dimensions small enough to finish in ~35 s on 2 cores:
- `pathway`: state x latest assessed CRS grade x ICANS bucket x whether the latest observation left a
  grade not assessed x tocilizumab doses (total, last 24 h) x time since the last dose (4 h / interval /
  24 h) x steroid intensity x refractory given x time since the phase started (its window). Steps: each
  CRS grade 0-4 (ICANS 0/2/4), fully assessed (partial observations are the assessment slices': here
  they would double the states), every drug at a typical and a limit-busting dose and a wrong route,
  act, resolve, close, a backdated and a future command, clock jumps of 4 h, the tocilizumab interval
  and 24 h.
- `daily-limits`: state x tocilizumab/steroid/refractory given x 24 h counts of methylprednisolone
  (and 1000 mg reached), anakinra and siltuximab. Steps: doses toward each per-dose and per-24 h
  ceiling, repeated at once or hours apart.
- `assessment` (adult, 52 kg, ICE) and `assessment-child` (10 kg, 4 years, CAPD; the per-kg steroid
  ceilings bind): state x latest assessed CRS grade and ICANS bucket x what the latest observation left
  unassessed x the fully assessed zero streak (none / shorter / longer than the resolution window) x
  the fever run (none / under / over the grade-1 tocilizumab window) x tocilizumab doses x steroid
  intensity x refractory given x the phase window. Steps: fully assessed observations at CRS 0-4 and
  ICANS 2-4 (ICANS alone too, with CRS 0 or not recorded), partial ones (empty, temperature only,
  oxygen and vasopressors without temperature, zeros without consciousness), the wrong ICANS screen for
  the age (must be invalid input), give each of the first two doses `crs status` recommends (options
  of an alternatives step included), resolve, close, clock jumps of 8 h and 24 h. Every new abstract
  state is also checked against the status invariants of advice.py (ceilings, one steroid step,
  tocilizumab only for CRS, a steroid shown when indicated, deadlines that do not slide, every
  recommended dose accepted) and against the raw-event view of the grades (no null as 0).
This is exhaustive over the abstraction, not over every concrete history; the stateful suite
samples concrete histories without that bound. Both run the same predicates.
"""

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from pathway.commands import AdministerDose, Close, OpenEpisode, RecordAction, RecordObservation, Resolve, StepCommand
from pathway.dosing import toci_dose_mg
from pathway.drugs import Action, Drug, Route
from pathway.episode import Episode, apply
from pathway.errors import Invalid, Refused
from pathway.events import Event
from pathway.machine import decide, decide_open
from pathway.observations import Observation
from pathway.policy import DEFAULT_POLICY, Policy
from pathway.recommend import status
from states import State
from tests.properties import advice, safety
from tests.properties.strategies import graded_observation, is_child

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
EID = "EP-EXH"
ACTOR = "exhaustive"
REASON = "exhaustive check: clinician override"
STEROID_RANK = {None: 0, "standard": 1, "escalated": 2}

Key = tuple[object, ...]
#: Builds the concrete command for a node; None: the step does not apply there (nothing recommended).
Builder = Callable[[Episode, datetime], StepCommand | None]
#: Label prefix of the steps that type the wrong ICANS screen for the patient's age: must be Invalid.
WRONG_SCREEN = "observe wrong screen"


@dataclass(frozen=True)
class Step:
    """An abstract step: a label and either a command builder or a clock jump in hours."""

    label: str
    build: Builder | None = None
    jump_h: float | None = None


@dataclass(frozen=True)
class Node:
    episode: Episode
    events: tuple[Event, ...]
    now: datetime
    path: tuple[str, ...]


@dataclass
class Result:
    states: int = 0
    edges: int = 0  # accepted steps and clock jumps explored
    refusals: int = 0
    max_depth: int = 0
    complete: bool = False
    seconds: float = 0.0
    invalid: int = 0  # wrong-screen observations refused as invalid input
    status_checked: int = 0  # abstract states whose `crs status` was checked
    violations: list[str] = field(default_factory=list)
    by_state: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {"states": self.states, "edges": self.edges, "refusals": self.refusals, "invalid": self.invalid,
                "status_checked": self.status_checked, "max_depth": self.max_depth, "complete": self.complete,
                "seconds": round(self.seconds, 1), "by_state": self.by_state}


def _bucket(delta: timedelta | None, edges: tuple[float, ...]) -> int | None:
    if delta is None:
        return None
    hours = delta.total_seconds() / 3600
    return sum(hours >= e for e in edges)


def _sign(a: int | None, b: int | None) -> int | None:
    return None if a is None or b is None else (a > b) - (a < b)


def _in_day(ep: Episode, drug: Drug, now: datetime) -> list[float]:
    return [d.dose_mg for d in ep.doses_of(drug) if now - d.at < safety.DAY]


def _icans_bucket(grade: int | None) -> int | None:
    return None if grade is None else (0 if grade == 0 else 2 if grade <= 2 else 4)


def _assessed(ep: Episode) -> Key:
    """What the rules read of the grades: the latest ASSESSED CRS and ICANS grades, and whether the latest
    observation left either not assessed (the `assess` step; a broken streak)."""
    latest = ep.latest
    return (ep.crs.grade if ep.crs else None, ep.icans.grade if ep.icans else None,
            None if latest is None else (latest.crs_grade is None, latest.icans_grade is None))


def _common(ep: Episode) -> Key:
    return (max((STEROID_RANK[d.intensity] for d in ep.doses if d.intensity), default=0),
            any(d.drug.value in safety.REFRACTORY for d in ep.doses))


def key_pathway(ep: Episode, now: datetime) -> Key:
    """state x latest CRS grade x ICANS bucket x tocilizumab doses (total, last 24 h) x time since the
    last dose (4 h / interval / 24 h) x steroid intensity x refractory given x time since the phase
    started (its window). A closed episode takes no step, and a resolved one no tocilizumab, so their
    keys keep only what is left to check there."""
    p = ep.policy
    toci = ep.toci_doses
    if ep.is_closed:
        return ("closed", ep.resolved_at is not None, len(toci), *_common(ep))
    crs, icans, nulls = _assessed(ep)
    grades = (crs, _icans_bucket(icans), nulls)
    if ep.state is State.RESOLVED:
        return ("resolved", *grades, len(toci), *_common(ep))
    phase = ep.phase_started_at
    return (
        ep.state.value, *grades, len(toci), len(_in_day(ep, Drug.TOCILIZUMAB, now)),
        _bucket(now - toci[-1].at if toci else None, (4, p.toci_min_interval_h, 24)),
        *_common(ep),
        _bucket(now - phase if phase else None, (p.escalation_window_h,)),
    )


def key_daily(ep: Episode, now: datetime) -> Key:
    """state x tocilizumab given x steroid intensity x refractory given x the 24 h counts of the
    drugs with daily ceilings (methylprednisolone also: 1000 mg reached). Closed keeps nothing more."""
    if ep.is_closed:
        return ("closed",)
    mp = _in_day(ep, Drug.METHYLPREDNISOLONE, now)
    return (
        ep.state.value, bool(ep.toci_doses), *_common(ep),
        min(len(mp), 4), sum(mp) >= safety.MP_MAX_MG, len(_in_day(ep, Drug.ANAKINRA, now)),
        len(_in_day(ep, Drug.SILTUXIMAB, now)),
    )


def key_assessment(ep: Episode, now: datetime) -> Key:
    """state x latest assessed CRS grade and ICANS bucket (0 / 1-2 / 3 / 4) x what the latest observation
    left unassessed x the fully assessed zero streak (none / < / >= the resolution window) x the fever run
    (none / within / past the grade-1 tocilizumab window) x tocilizumab doses (0, 1, 2+) x steroid
    intensity x refractory given x the phase window. A resolved episode keeps its grades and steroid."""
    p = ep.policy
    if ep.is_closed:
        return ("closed", ep.resolved_at is not None, *_common(ep))
    latest = ep.latest
    nulls = None if latest is None else (latest.crs_grade is None, latest.icans_grade is None,
                                         bool(latest.crs_basis.get("missing") or latest.icans_basis.get("missing")))
    crs = ep.crs.grade if ep.crs else None
    icans = ep.icans.grade if ep.icans else None
    icans_b = None if icans is None else min(max(icans, 2), 4) if icans else 0
    if ep.state is State.RESOLVED:
        return ("resolved", crs, icans_b, nulls, *_common(ep))
    fever_h = p.toci_grade1_fever_hours
    return (
        ep.state.value, crs, icans_b, nulls,
        _bucket(now - ep.zero_streak_since if ep.zero_streak_since else None, (p.resolution_window_h,)),
        _bucket(now - ep.fever_since if ep.fever_since else None, (fever_h + 1e-6,) if fever_h else ()),
        min(len(ep.toci_doses), 2), *_common(ep),
        _bucket(now - ep.phase_started_at if ep.phase_started_at else None, (p.escalation_window_h,)),
    )


_STATUS: list[tuple[Episode, datetime, dict[str, object]]] = []


def cached_status(ep: Episode, now: datetime) -> dict:  # type: ignore[type-arg]
    """status(ep, now) once per node: the node's builders and its checks share it (one entry; it keeps the
    episode alive, so its id cannot be reused while cached)."""
    if _STATUS and _STATUS[0][0] is ep and _STATUS[0][1] == now:
        return _STATUS[0][2]
    st = status(ep, now)
    _STATUS[:] = [(ep, now, st)]
    return st


def _observe(crs: int | None, icans: int | None) -> Builder:
    """A fully assessed observation (None: that domain not recorded), with the screen for the patient's age."""
    return lambda ep, now: RecordObservation(at=now, actor=ACTOR, episode_id=EID, observation=graded_observation(
        crs, icans, is_child(ep.age_years, ep.policy)))


def _observe_partial(drop: tuple[str, ...], crs: int = 0, icans: int = 0, **extra: object) -> Builder:
    """A fully assessed observation at (crs, icans) less the fields in `drop` (and with `extra`)."""
    def build(ep: Episode, now: datetime) -> StepCommand:
        full = graded_observation(crs, icans, is_child(ep.age_years, ep.policy)).model_dump(exclude_defaults=True)
        fields = {k: v for k, v in {**full, **extra}.items() if k not in drop}
        return RecordObservation(at=now, actor=ACTOR, episode_id=EID, observation=Observation(**fields))
    return build


def _wrong_screen(ep: Episode, now: datetime) -> StepCommand:
    """The other age group's screen: an ICE score for a child, a CAPD for an older patient (exit 2)."""
    fields = {"ice_score": 10} if is_child(ep.age_years, ep.policy) else {"capd_score": 0}
    return RecordObservation(at=now, actor=ACTOR, episode_id=EID, observation=Observation(
        temp_c=36.8, o2_device="room-air", consciousness="awake", **fields))


def _follow(i: int) -> Builder:
    """The i-th dose `crs status` recommends now (every option of an alternatives step counts)."""
    def build(ep: Episode, now: datetime) -> StepCommand | None:
        opts = [o for _, o in advice.recommended_doses(cached_status(ep, now))]
        if i >= len(opts):
            return None
        o = opts[i]
        return AdministerDose(at=max(now, ep.last_at), actor=ACTOR, episode_id=EID, drug=o["drug"],
                              dose_mg=o["dose_mg"], route=o["route"])
    return build


def _give(drug: Drug, dose: float, route: Route | None = None) -> Builder:
    return lambda ep, now: AdministerDose(at=now, actor=ACTOR, episode_id=EID, drug=drug, dose_mg=round(dose, 6),
                                          route=route)


def _doses(weight_kg: float, policy: Policy) -> dict[str, float]:
    return {
        "toci": min(toci_dose_mg(weight_kg, policy), safety.toci_limit_mg(weight_kg)),
        "toci_bust": round(safety.toci_limit_mg(weight_kg), 1) + 0.1,
        "silt": weight_kg * 11,
        "silt_bust": round(safety.siltuximab_limit_mg(weight_kg), 1) + 0.1,
    }


def pathway_actions(weight_kg: float, policy: Policy = DEFAULT_POLICY) -> list[Step]:
    """Every abstract step, made concrete for this patient: each CRS grade (ICANS 0/2/4), each drug at
    a typical and a limit-busting dose (and a wrong route), act, resolve, close, a backdated and a
    future command, clock jumps of 4 h, the tocilizumab interval and 24 h."""
    d = _doses(weight_kg, policy)
    observations = [(g, 0) for g in range(5)] + [(0, 2), (0, 4)]
    actions = [Step(f"observe crs={c} icans={i}", _observe(c, i)) for c, i in observations]
    actions += [
        Step(f"give tocilizumab {d['toci']:g}", _give(Drug.TOCILIZUMAB, d["toci"])),
        Step(f"give tocilizumab {d['toci_bust']:g}", _give(Drug.TOCILIZUMAB, d["toci_bust"])),
        Step(f"give tocilizumab {d['toci']:g} sc", _give(Drug.TOCILIZUMAB, d["toci"], Route.SC)),
        Step("give dexamethasone 10", _give(Drug.DEXAMETHASONE, 10)),
        Step("give dexamethasone 20", _give(Drug.DEXAMETHASONE, 20)),
        Step("give dexamethasone 20.1", _give(Drug.DEXAMETHASONE, 20.1)),
        Step("give methylprednisolone 1000", _give(Drug.METHYLPREDNISOLONE, 1000)),
        Step("give methylprednisolone 1000.1", _give(Drug.METHYLPREDNISOLONE, 1000.1)),
        Step("give anakinra 100", _give(Drug.ANAKINRA, 100)),
        Step("give anakinra 100.1 sc", _give(Drug.ANAKINRA, 100.1, Route.SC)),
        Step(f"give siltuximab {d['silt']:g}", _give(Drug.SILTUXIMAB, d["silt"])),
        Step(f"give siltuximab {d['silt_bust']:g}", _give(Drug.SILTUXIMAB, d["silt_bust"])),
        Step("give ruxolitinib 10", _give(Drug.RUXOLITINIB, 10)),
        Step("give ruxolitinib 10 iv", _give(Drug.RUXOLITINIB, 10, Route.IV)),
        Step("give cyclophosphamide 500", _give(Drug.CYCLOPHOSPHAMIDE, 500)),
        Step("act labs", lambda ep, now: RecordAction(at=now, actor=ACTOR, episode_id=EID, action=Action.LABS)),
        Step("resolve", lambda ep, now: Resolve(at=now, actor=ACTOR, episode_id=EID)),
        Step("close", lambda ep, now: Close(at=now, actor=ACTOR, episode_id=EID)),
        Step("observe backdated 1 min", lambda ep, now: RecordObservation(
            at=ep.last_at - timedelta(minutes=1), actor=ACTOR, episode_id=EID, observation=graded_observation(3))),
        Step("give tocilizumab 6 min in the future", lambda ep, now: AdministerDose(
            at=now + timedelta(minutes=6), actor=ACTOR, episode_id=EID, drug=Drug.TOCILIZUMAB, dose_mg=d["toci"],
            override_reason=REASON)),
    ]
    actions += [Step(f"jump {h:g} h", jump_h=h) for h in (4.0, policy.toci_min_interval_h, 24.0)]
    return actions


def daily_actions(weight_kg: float, policy: Policy = DEFAULT_POLICY) -> list[Step]:
    """Doses toward every per-dose and per-24 h ceiling, repeated at once or 4 / 8 / 24 h apart
    (indications are passed by the automatic override retry, so no observation is needed)."""
    d = _doses(weight_kg, policy)
    return [
        Step(f"give tocilizumab {d['toci']:g}", _give(Drug.TOCILIZUMAB, d["toci"])),
        Step("give dexamethasone 10", _give(Drug.DEXAMETHASONE, 10)),
        Step(f"give methylprednisolone {2 * weight_kg:g}", _give(Drug.METHYLPREDNISOLONE, 2 * weight_kg)),
        Step("give methylprednisolone 1000", _give(Drug.METHYLPREDNISOLONE, 1000)),
        Step("give methylprednisolone 1000.1", _give(Drug.METHYLPREDNISOLONE, 1000.1)),
        Step("give anakinra 100", _give(Drug.ANAKINRA, 100)),
        Step("give anakinra 100.1", _give(Drug.ANAKINRA, 100.1)),
        Step(f"give siltuximab {d['silt']:g}", _give(Drug.SILTUXIMAB, d["silt"])),
        Step(f"give siltuximab {d['silt_bust']:g}", _give(Drug.SILTUXIMAB, d["silt_bust"])),
        Step("close", lambda ep, now: Close(at=now, actor=ACTOR, episode_id=EID)),
        *[Step(f"jump {h:g} h", jump_h=h) for h in (4.0, policy.toci_min_interval_h, 24.0)],
    ]


def assessment_actions(weight_kg: float, policy: Policy = DEFAULT_POLICY) -> list[Step]:
    """Fully assessed and partial observations (ICANS alone too), the wrong screen, the first two recommended
    doses (alternatives included), resolve, close, clock jumps of 8 h and 24 h."""
    graded = [(c, 0) for c in range(5)] + [(0, 2), (0, 3), (0, 4), (None, 4)]
    actions = [Step(f"observe crs={c} icans={i}", _observe(c, i)) for c, i in graded]
    actions += [
        Step("observe empty", lambda ep, now: RecordObservation(at=now, actor=ACTOR, episode_id=EID,
                                                                observation=Observation())),
        Step("observe temperature 39.4 only", lambda ep, now: RecordObservation(
            at=now, actor=ACTOR, episode_id=EID, observation=Observation(temp_c=39.4))),
        Step("observe bipap and 2 vasopressors, no temperature", _observe_partial(("temp_c",), crs=4)),
        Step("observe crs=0 icans=0, no consciousness", _observe_partial(("consciousness",))),
        Step(f"{WRONG_SCREEN} for the age", _wrong_screen),
        *[Step(f"give recommended #{i}", _follow(i)) for i in range(2)],
        Step("resolve", lambda ep, now: Resolve(at=now, actor=ACTOR, episode_id=EID)),
        Step("close", lambda ep, now: Close(at=now, actor=ACTOR, episode_id=EID)),
    ]
    actions += [Step(f"jump {h:g} h", jump_h=h) for h in (8.0, 24.0)]
    return actions


@dataclass(frozen=True)
class Slice:
    """One exhaustive exploration: an abstraction, the alphabet explored under it, and the patient."""

    name: str
    key: Callable[[Episode, datetime], Key]
    actions: Callable[[float, Policy], list[Step]]
    weight_kg: float = 52.0
    age_years: float = 15.0
    #: check `crs status` of every new abstract state (advice.status_problems, fold_view_problems)
    check_status: bool = False


SLICES = (
    Slice("pathway", key_pathway, pathway_actions),
    Slice("daily-limits", key_daily, daily_actions),
    Slice("assessment", key_assessment, assessment_actions, check_status=True),
    Slice("assessment-child", key_assessment, assessment_actions, weight_kg=10.0, age_years=4.0, check_status=True),
)


def _with_override(cmd: StepCommand) -> StepCommand | None:
    if isinstance(cmd, (AdministerDose, Resolve)):
        return cmd.model_copy(update={"override_reason": REASON})
    return None


def _try(node: Node, cmd: StepCommand, result: Result, label: str = "") -> tuple[Event | None, Refused | None]:
    ep = node.episode
    wrong = label.startswith(WRONG_SCREEN)
    try:
        event = decide(ep, cmd, node.now)
    except Invalid as err:
        result.invalid += 1
        if not wrong:
            result.violations.append(f"SCREEN: {label} raised Invalid ({err.message}) | path: {' > '.join(node.path)}")
        return None, None
    except Refused as err:
        result.refusals += 1
        if ep.is_closed and "EPISODE_CLOSED" not in err.rules:
            result.violations.append(f"EPISODE_CLOSED: a closed episode refused {cmd.kind} with {err.rules} only"
                                     f" | path: {' > '.join(node.path)}")
        return None, err
    problems = safety.override_problems(ep, cmd, node.now, event)
    if wrong:
        problems.append(f"SCREEN: {label} was accepted (the wrong ICANS screen for {ep.age_years:g} years)")
    if ep.is_closed:
        problems.append(f"EPISODE_CLOSED: a closed episode accepted {cmd.kind}")
    problems += safety.history_problems(node.events + (event,), ep.weight_kg, only_last=True)
    result.violations += [f"{p} | path: {' > '.join(node.path)} > {cmd.kind}" for p in problems]
    return event, None


def _check_node(node: Node, result: Result) -> None:
    """The status invariants and the raw-event view of the grades, on a new abstract state's representative."""
    result.status_checked += 1
    problems = advice.status_problems(node.episode, node.events, node.now, st=cached_status(node.episode, node.now))
    problems += safety.fold_view_problems(node.events, node.episode)
    result.violations += [f"{p} | path: {' > '.join(node.path)}" for p in problems]


def explore(slice_: Slice = SLICES[0], weight_kg: float | None = None, age_years: float | None = None,
            policy: Policy = DEFAULT_POLICY, actions: list[Step] | None = None, stop_on_violation: bool = False,
            max_states: int = 200_000, check_status: bool | None = None) -> Result:
    """BFS over abstract keys from a freshly opened episode; one concrete representative per key.
    The patient is the slice's unless given."""
    started = time.perf_counter()
    key = slice_.key
    weight_kg = slice_.weight_kg if weight_kg is None else weight_kg
    age_years = slice_.age_years if age_years is None else age_years
    check = slice_.check_status if check_status is None else check_status
    actions = actions if actions is not None else slice_.actions(weight_kg, policy)
    opened = decide_open(OpenEpisode(at=T0, actor=ACTOR, patient_ref="EXH-1", weight_kg=weight_kg,
                                     age_years=age_years, policy=policy), EID, T0)
    root = Node(apply(None, opened), (opened,), T0, ("open",))
    result = Result()
    seen: set[Key] = {key(root.episode, root.now)}
    queue = deque([root])
    if check:
        _check_node(root, result)
    while queue:
        node = queue.popleft()
        result.max_depth = max(result.max_depth, len(node.path))
        result.by_state[node.episode.state.value] = result.by_state.get(node.episode.state.value, 0) + 1
        for action in actions:
            successors: list[Node] = []
            if action.jump_h is not None:
                successors.append(Node(node.episode, node.events, node.now + timedelta(hours=action.jump_h),
                                       node.path + (action.label,)))
            else:
                assert action.build is not None
                cmd = action.build(node.episode, node.now)
                if cmd is None:
                    continue
                label = action.label
                event, refused = _try(node, cmd, result, label)
                if refused is not None and refused.overridable and (again := _with_override(cmd)) is not None:
                    event, _ = _try(node, again, result, label)
                    label += " (override)"
                if event is not None:
                    successors.append(Node(apply(node.episode, event), node.events + (event,), node.now,
                                           node.path + (label,)))
            for nxt in successors:
                result.edges += 1
                k = key(nxt.episode, nxt.now)
                if k not in seen:
                    seen.add(k)
                    queue.append(nxt)
                    if check:
                        _check_node(nxt, result)
            if result.violations and stop_on_violation:
                result.states = len(seen)
                result.seconds = time.perf_counter() - started
                return result
        if len(seen) > max_states:
            break
    result.states = len(seen)
    result.complete = not queue
    result.seconds = time.perf_counter() - started
    return result
