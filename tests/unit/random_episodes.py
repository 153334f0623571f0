"""Random episodes for unit-level properties: partial observations (any subset of fields, none
included), children screened by CAPD, ICANS-only courses, and a clinician who often follows the
pathway's own next steps (so deep states are reached). Built with decide() + apply() only.

`walk(plan)` returns every (episode, now, status, event) after each accepted step, for the
invariants of tests/unit/test_hazards_issue9.py to judge.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from hypothesis import strategies as st
from pydantic import ValidationError

from pathway.commands import AdministerDose, RecordAction, RecordObservation, Resolve
from pathway.episode import Episode
from pathway.errors import Invalid, Refused
from pathway.events import Event
from pathway.grading import uses_capd
from pathway.observations import Observation
from pathway.recommend import status
from tests.scenarios.driver import Driver, t

WEIGHTS = [3.0, 10.0, 16.0, 29.9, 33.3, 40.0, 70.0, 120.0]
AGES = [0.5, 4.0, 11.9, 12.0, 15.0, 58.0]
ICE = [None, 10, 8, 5, 2, 0]
CAPD: list[Any] = [None, 0, 4, 9, "unable"]
HOURS = [0.1, 1.0, 4.0, 8.5, 24.5]

observations = st.fixed_dictionaries({}, optional={
    "temp_c": st.sampled_from([36.8, 37.9, 38.0, 39.5]),
    "o2_device": st.sampled_from(["room-air", "nasal-cannula", "hfnc", "bipap"]),
    "hypotension": st.booleans(),
    "vasopressors": st.sampled_from([1, 2]),
    "screen": st.integers(0, len(ICE) - 1),  # mapped to ICE or CAPD by the patient's age
    "consciousness": st.sampled_from(["awake", "voice", "touch", "unarousable"]),
    "seizure": st.sampled_from(["none", "brief", "prolonged"]),
    "cerebral_edema": st.sampled_from(["none", "focal", "diffuse"]),
})

#: A fully assessed observation at a chosen CRS and ICANS grade (so treatment states and resolution are reached).
graded = st.tuples(st.integers(0, 4), st.sampled_from([0, 0, 0, 1, 2, 3, 4]))
CRS_FIELDS: list[dict[str, Any]] = [
    {"temp_c": 36.8, "o2_device": "room-air"}, {"temp_c": 38.5, "o2_device": "room-air"},
    {"temp_c": 38.6, "o2_device": "nasal-cannula", "o2_flow_lpm": 3}, {"temp_c": 39.0, "o2_device": "hfnc",
                                                                       "o2_flow_lpm": 30},
    {"temp_c": 39.0, "o2_device": "bipap"}]
ICE_FIELDS: list[dict[str, Any]] = [{"ice_score": 10, "consciousness": "awake"}, {"ice_score": 8, "consciousness": "awake"},
                                    {"ice_score": 5, "consciousness": "awake"}, {"ice_score": 2, "consciousness": "awake"},
                                    {"ice_score": 0, "consciousness": "unarousable"}]
CAPD_FIELDS: list[dict[str, Any]] = [{"capd_score": 0, "consciousness": "awake"}, {"capd_score": 4, "consciousness": "awake"},
                                     {"capd_score": 4, "consciousness": "voice"}, {"capd_score": 9, "consciousness": "awake"},
                                     {"capd_unable": True, "consciousness": "touch"}]

steps = st.one_of(
    st.tuples(st.just("observe"), observations, st.sampled_from(HOURS)),
    st.tuples(st.just("graded"), graded, st.sampled_from(HOURS)),
    st.tuples(st.just("graded"), st.just((0, 0)), st.sampled_from([4.0, 12.0, 24.5])),
    st.tuples(st.just("follow"), st.integers(0, 3), st.sampled_from([0.1, 1.0, 6.5])),
    st.tuples(st.just("follow"), st.integers(0, 3), st.sampled_from([0.1, 8.5, 24.5])),
    st.tuples(st.just("give"), st.tuples(st.sampled_from(["tocilizumab", "dexamethasone", "methylprednisolone",
                                                          "anakinra"]),
                                         st.sampled_from([0.1, 5.0, 10.0, 20.0, 100.0, 300.0, 560.0, 1000.0])),
              st.sampled_from([0.1, 1.0])),
    st.tuples(st.just("act"), st.sampled_from(["fluid-bolus", "icu-transfer", "aspiration-precautions"]),
              st.sampled_from([0.1, 1.0])),
    st.tuples(st.just("resolve"), st.just(None), st.sampled_from([0.1, 24.5])),
)

plans = st.fixed_dictionaries({
    "weight_kg": st.sampled_from(WEIGHTS),
    "age_years": st.sampled_from(AGES),
    "depth": st.sampled_from([0, 0, 1, 2, 3]),  # a treated storm first: 1 steroid, 2 escalated, 3 refractory
    "steps": st.lists(steps, max_size=20),
})


@dataclass
class Seen:
    episode: Episode
    now: datetime
    status: dict[str, Any]
    event: Event | None  # the event this step made (None: the opening status)


@dataclass
class Walk:
    driver: Driver
    seen: list[Seen] = field(default_factory=list)


def _observation(fields: dict[str, Any], age_years: float, policy: Any) -> Observation:
    fields = dict(fields)
    level = fields.pop("screen", None)
    if level is not None:
        if uses_capd(age_years, policy):
            value = CAPD[min(level, len(CAPD) - 1)]
            if value == "unable":
                fields["capd_unable"] = True
            elif value is not None:
                fields["capd_score"] = value
        elif ICE[level] is not None:
            fields["ice_score"] = ICE[level]
    return Observation(**fields)


def _followed(st_: dict[str, Any], index: int) -> tuple[str, float] | None:
    options = [(o["drug"], o["dose_mg"]) for s in st_["next_steps"] if s["kind"] == "give"
               for o in s.get("alternatives", [s]) if o["dose_mg"] is not None]
    return options[index % len(options)] if options else None


def _give_recommended(d: Driver, at: datetime, out: "Walk", drugs: set[str]) -> None:
    assert d.episode is not None
    options = [(o["drug"], o["dose_mg"]) for s in status(d.episode, at)["next_steps"] if s["kind"] == "give"
               for o in s.get("alternatives", [s]) if o["drug"] in drugs and o["dose_mg"] is not None]
    assert options, f"no {drugs} recommended"
    event = d.give(at, options[0][0], options[0][1])
    out.seen.append(Seen(d.episode, at, status(d.episode, at), event))


def _storm(d: Driver, out: "Walk", depth: int) -> datetime:
    """CRS 3 that does not improve: tocilizumab + steroid, then escalation, then a refractory drug."""
    at = t(1)
    if depth == 0:
        return t(0)
    assert d.episode is not None
    neuro = CAPD_FIELDS[0] if uses_capd(d.episode.age_years, d.episode.policy) else ICE_FIELDS[0]
    storm = {**CRS_FIELDS[3], **neuro}
    out.seen.append(Seen(d.episode, at, d.observe(at, **storm), d.events[-1]))
    _give_recommended(d, at + timedelta(minutes=5), out, {"tocilizumab"})
    _give_recommended(d, at + timedelta(minutes=10), out, {"dexamethasone", "methylprednisolone"})
    for level in range(2, depth + 1):
        at = at + timedelta(hours=24.5)
        out.seen.append(Seen(d.episode, at, d.observe(at, **storm), d.events[-1]))
        wanted = {"dexamethasone", "methylprednisolone"} if level == 2 else {"anakinra", "siltuximab"}
        _give_recommended(d, at + timedelta(minutes=5), out, wanted)
    return at + timedelta(minutes=10)


def walk(plan: dict[str, Any]) -> Walk:
    d = Driver()
    ep = d.open(t(0), patient_ref="P-RANDOM", weight_kg=plan["weight_kg"], age_years=plan["age_years"])
    out = Walk(d, [Seen(ep, t(0), status(ep, t(0)), None)])
    at = _storm(d, out, plan.get("depth", 0))
    for kind, what, hours in plan["steps"]:
        assert d.episode is not None
        ep = d.episode
        at = at + timedelta(hours=hours)
        cmd: Any
        base = {"at": at, "actor": "nurse-a", "episode_id": "E0001"}
        try:
            if kind == "observe":
                cmd = RecordObservation(**base, observation=_observation(what, ep.age_years, ep.policy))
            elif kind == "graded":
                neuro = CAPD_FIELDS if uses_capd(ep.age_years, ep.policy) else ICE_FIELDS
                cmd = RecordObservation(**base, observation=Observation(**CRS_FIELDS[what[0]], **neuro[what[1]]))
            elif kind == "follow":
                choice = _followed(status(ep, at), what)
                if choice is None:
                    continue
                cmd = AdministerDose(**base, drug=choice[0], dose_mg=choice[1])
            elif kind == "give":
                cmd = AdministerDose(**base, drug=what[0], dose_mg=what[1])
            elif kind == "act":
                cmd = RecordAction(**base, action=what)
            else:
                cmd = Resolve(**base)
            event = d.step(cmd)
        except (Refused, Invalid, ValidationError):
            continue
        assert d.episode is not None
        out.seen.append(Seen(d.episode, at, status(d.episode, at), event))
    return out

