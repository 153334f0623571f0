"""The QA report's judgements over one episode's events: timed guards met or missed, and the required
supportive actions done or missing (CLINICAL.md §6–§9). Pure.

A grade that was not assessed (null) is never read as 0 and never as an indication: `at_least`
is the only comparison used. Reassessment is judged per domain (CRS, ICANS) between consecutive
observations that assessed it, against the interval the pathway itself applied at the time
(pathway.recommend.reassess_hours on the episode folded to that point: the worse of CRS and ICANS),
so an observation that did not assess a domain never counts as its reassessment.
"""

from collections.abc import Callable
from datetime import datetime
from typing import Any

from cli.text import grade_value
from pathway.clock import iso
from pathway.drugs import STEROIDS, Drug
from pathway.episode import Episode, apply
from pathway.events import Event
from pathway.guards import at_least, fluids_failed  # the pathway's own comparison: not assessed is never "at least" anything
from pathway.policy import HARD_LIMITS
from pathway.recommend import reassess_hours

#: CLINICAL.md §6, §8, §9: the supportive actions each finding requires, and why. A test checks that
#: every action the pathway recommends as supportive care (states/common.SUPPORTIVE) is listed here.
REQUIRED_ACTIONS: tuple[tuple[str, str, str], ...] = (
    ("fever", "infection-workup", "fever: blood cultures, urine, chest X-ray"),
    ("fever", "antibiotics", "fever: antibiotics if neutropenic"),
    ("crs2", "telemetry", "CRS grade ≥ 2: continuous cardiac and pulse-oximetry monitoring"),
    ("crs2", "labs", "CRS grade ≥ 2: daily labs"),
    ("crs3", "icu-transfer", "CRS grade ≥ 3: ICU transfer"),
    ("crs3", "echocardiogram", "CRS grade ≥ 3: echocardiogram"),
    ("hypotension", "fluid-bolus", "hypotension: IV fluid bolus"),
    ("fluids_failed", "icu-transfer", "hypotension persisting after fluid boluses: ICU transfer"),
    ("fluids_failed", "echocardiogram", "hypotension persisting after fluid boluses: echocardiogram"),
    ("icans1", "aspiration-precautions", "ICANS grade ≥ 1: aspiration precautions"),
    ("icans1", "neurology-consult", "ICANS grade ≥ 1: neurology consultation"),
    ("icans2", "neuroimaging", "ICANS grade ≥ 2: neuroimaging (MRI, or CT)"),
    ("icans2", "eeg", "ICANS grade ≥ 2: EEG"),
    ("icans3", "icu-transfer", "ICANS grade ≥ 3: ICU transfer"),
    ("seizure", "antiseizure", "a seizure was recorded: antiseizure treatment"),
    ("steroid", "antifungal-prophylaxis", "a corticosteroid was given: antifungal prophylaxis"),
)

#: What starts each requirement, read from one observation's data.
TRIGGERS: dict[str, Callable[[dict[str, Any]], bool]] = {
    "fever": lambda d: (d.get("crs_basis") or {}).get("fever") is True,
    "crs2": lambda d: at_least(d.get("crs_grade"), 2),
    "crs3": lambda d: at_least(d.get("crs_grade"), 3),
    "hypotension": lambda d: bool((d.get("observation") or {}).get("hypotension")),
    "icans1": lambda d: at_least(d.get("icans_grade"), 1),
    "icans2": lambda d: at_least(d.get("icans_grade"), 2),
    "icans3": lambda d: at_least(d.get("icans_grade"), 3),
    "seizure": lambda d: (d.get("observation") or {}).get("seizure") in ("brief", "prolonged"),
}
DOMAINS = (("crs", "CRS"), ("icans", "ICANS"))


def hours(start: datetime, end: datetime) -> float:
    return round((end - start).total_seconds() / 3600, 2)


def _guard(name: str, start: datetime | None, end: datetime | None, *, target: str, ok: bool | None,
           detail: str) -> dict[str, Any]:
    status = "not applicable" if start is None else ("missed" if ok is False else "met" if ok else "open")
    return {"guard": name, "from": iso(start) if start else None, "to": iso(end) if end else None,
            "hours": hours(start, end) if start and end else None, "target": target, "status": status,
            "detail": detail}


def _is_steroid(event: Event) -> bool:
    return event.data.get("drug") in {d.value for d in STEROIDS}


def timed_guards(episode: Any, events: list[Event]) -> list[dict[str, Any]]:
    """Timed expectations: when therapy followed its indication, toci intervals, reassessment gaps."""
    observations = [e for e in events if e.kind == "observe"]
    doses = [e for e in events if e.kind == "give"]
    toci = [e for e in doses if e.data.get("drug") == Drug.TOCILIZUMAB]
    steroids = [e for e in doses if _is_steroid(e)]
    out = [_indication(label, observations, domain, threshold, given, what)
           for label, domain, threshold, given, what in (
               ("CRS grade ≥ 2 → tocilizumab", "crs_grade", 2, toci, "tocilizumab"),
               ("CRS grade ≥ 3 → corticosteroid", "crs_grade", 3, steroids, "a corticosteroid"),
               ("ICANS grade ≥ 2 → corticosteroid", "icans_grade", 2, steroids, "a corticosteroid"))]
    for previous, current in zip(toci, toci[1:]):
        gap = hours(previous.at, current.at)
        out.append(_guard("tocilizumab doses ≥ 8 h apart", previous.at, current.at,
                          target=f"≥ {HARD_LIMITS.toci_min_interval_h:g} h (TOCI_MIN_INTERVAL)",
                          ok=gap >= HARD_LIMITS.toci_min_interval_h,
                          detail=f"doses #{previous.seq} and #{current.seq}"))
    out += reassessments(events)
    if (escalation := _escalation(episode.policy.escalation_window_h, steroids)) is not None:
        out.append(escalation)
    return out


def _indication(label: str, observations: list[Event], key: str, threshold: int, given: list[Event],
                what: str) -> dict[str, Any]:
    first = next((e for e in observations if at_least(e.data.get(key), threshold)), None)
    start = first.at if first else None
    earlier = any(start and e.at <= start for e in given)  # e.g. given before transfer, under override
    after = next((e.at for e in given if start and e.at > start), None)
    if start is None:
        ok, end, detail = None, None, "never indicated"
    elif earlier:
        ok, end, detail = True, start, f"{what} given before the grade was first recorded"
    else:
        ok, end = after is not None, after
        detail = f"{what} given" if after else f"{what} not given after the indication"
    return _guard(label, start, end, target="given after the indication", ok=ok, detail=detail)


def reassessments(events: list[Event]) -> list[dict[str, Any]]:
    """Per domain, each gap between consecutive observations that assessed it, against the strictest
    interval the pathway applied in between (a deadline passed while the interval was shorter is missed)."""
    out: list[dict[str, Any]] = []
    episode: Episode | None = None
    open_since: dict[str, tuple[Event, float, str, int]] = {}  # domain -> (last assessed, limit, grades, skipped)
    for event in events:
        episode = apply(episode, event)
        if event.kind != "observe":
            continue
        assessed = {domain: event.data.get(f"{domain}_grade") is not None for domain, _ in DOMAINS}
        for domain, name in DOMAINS:
            if domain in open_since and assessed[domain]:
                last, limit, grades, skipped = open_since[domain]
                note = f"; {skipped} observation(s) in between did not assess {name}" if skipped else ""
                out.append(_guard(f"reassessment of {name} within {limit:g} h", last.at, event.at,
                                  target=f"≤ {limit:g} h (policy: the worse of CRS and ICANS sets it)",
                                  ok=hours(last.at, event.at) <= limit,
                                  detail=f"observations #{last.seq} and #{event.seq} "
                                         f"(after #{last.seq}: {grades}){note}"))
        limit = reassess_hours(episode)
        grades = (f"CRS {grade_value(episode.crs.grade if episode.crs else None)}, "
                  f"ICANS {grade_value(episode.icans.grade if episode.icans else None)}")
        for domain, _ in DOMAINS:
            if assessed[domain]:
                open_since[domain] = (event, limit, grades, 0)
            elif domain in open_since:
                last, previous_limit, previous_grades, skipped = open_since[domain]
                open_since[domain] = (last, min(previous_limit, limit), previous_grades, skipped + 1)
    return out + _unmet_at_end(events, open_since)


def _unmet_at_end(events: list[Event], open_since: dict[str, tuple[Event, float, str, int]]) -> list[dict[str, Any]]:
    """A domain never assessed although observations were recorded, or not reassessed in time by the
    last event on record: both missed (the pathway asked for them; CLINICAL.md §7)."""
    out: list[dict[str, Any]] = []
    observations = [e for e in events if e.kind == "observe"]
    if not observations:
        return out
    last_event = events[-1]
    for domain, name in DOMAINS:
        if domain not in open_since:
            out.append(_guard(f"{name} never assessed", events[0].at, last_event.at,
                              target="assessed at the opening, then at each interval (CLINICAL.md §7)", ok=False,
                              detail=f"none of the {len(observations)} observation(s) on record assessed {name}"))
            continue
        last, limit, grades, skipped = open_since[domain]
        if hours(last.at, last_event.at) > limit:
            out.append(_guard(f"reassessment of {name} within {limit:g} h", last.at, last_event.at,
                              target=f"≤ {limit:g} h (policy: the worse of CRS and ICANS sets it)", ok=False,
                              detail=f"not reassessed after #{last.seq} (after #{last.seq}: {grades}) by the last "
                                     f"event on record, #{last_event.seq}"))
    return out


def _escalation(window: float, steroids: list[Event]) -> dict[str, Any] | None:
    escalated = [e for e in steroids if e.data.get("intensity") == "escalated"]
    standard = [e for e in steroids if e.data.get("intensity") != "escalated"]
    if not escalated:
        return None
    start = standard[0].at if standard and standard[0].at <= escalated[0].at else None
    ok = None if start is None else (hours(start, escalated[0].at) >= window or escalated[0].override is not None)
    detail = "escalated without a standard course" if start is None else (
        "escalated under override" if escalated[0].override is not None else "escalation after standard steroid")
    return _guard(f"escalated steroid after ≥ {window:g} h of standard steroid", start, escalated[0].at,
                  target=f"≥ {window:g} h, or grade 4 / worsening (ESCALATION_ORDER)", ok=ok, detail=detail)


def _fluids_failed_at(events: list[Event]) -> datetime | None:
    """The first observation at which the pathway's own test (guards.fluids_failed) held: still hypotensive
    after the policy's fluid boluses within its window (CLINICAL.md §9)."""
    episode: Episode | None = None
    for event in events:
        episode = apply(episode, event)
        if event.kind == "observe" and fluids_failed(episode):
            return event.at
    return None


def supportive_actions(events: list[Event]) -> list[dict[str, Any]]:
    """CLINICAL.md §6: each required action, what required it and when, done (when) or missing."""
    observations = [e for e in events if e.kind == "observe"]
    triggers: dict[str, datetime | None] = {
        name: next((e.at for e in observations if test(e.data)), None) for name, test in TRIGGERS.items()}
    triggers["steroid"] = next((e.at for e in events if e.kind == "give" and _is_steroid(e)), None)
    triggers["fluids_failed"] = _fluids_failed_at(events)
    done: dict[str, datetime] = {}
    for event in events:
        if event.kind == "act":
            done.setdefault(str(event.data.get("action")), event.at)
    rows = []
    for trigger, action, why in REQUIRED_ACTIONS:
        since = triggers[trigger]
        if since is None:
            continue
        at = done.get(action)
        rows.append({"action": action, "required_because": why, "required_since": iso(since),
                     "done_at": iso(at) if at else None, "status": "done" if at else "missing",
                     "hours_from_trigger": hours(since, at) if at else None})
    return rows
