"""Named predicates the pathway table refers to: rule checks, routing guards, recommendation conditions.

Each rule check takes the step's Context and returns a Violation or None. Time is the command's
`at` (clinical time) and `now` passed in; nothing here reads a clock.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import Callable

from pathway.clock import after, span
from pathway.commands import AdministerDose, StepCommand
from pathway.dosing import (DOSE_LIMITS, last_steroid, steroid_day_ceiling_mg, steroid_intensity,
                            steroid_per_kg_ceiling_mg)
from pathway.drugs import ALLOWED_ROUTES, DEFAULT_ROUTE, STEROIDS, Drug, Route
from pathway.episode import DoseRecord, Episode
from pathway.errors import Violation
from pathway.policy import HARD_LIMITS, Policy
from states.names import State

DAY = timedelta(hours=24)


@dataclass
class Context:
    """Everything a guard may look at for one step."""

    episode: Episode
    command: StepCommand
    now: datetime

    @property
    def policy(self) -> Policy:
        return self.episode.policy

    @property
    def at(self) -> datetime:
        return self.command.at

    @cached_property
    def dose(self) -> AdministerDose | None:
        return self.command if isinstance(self.command, AdministerDose) else None

    @cached_property
    def route(self) -> Route | None:
        if self.dose is None:
            return None
        return self.dose.route or DEFAULT_ROUTE[self.dose.drug]

    @cached_property
    def intensity(self) -> str | None:
        d = self.dose
        if d is None or d.drug not in STEROIDS:
            return None
        return steroid_intensity(d.drug, d.dose_mg, self.episode.weight_kg, self.policy)

    def doses_within(self, drug: Drug, window: timedelta) -> list[DoseRecord]:
        return [d for d in self.episode.doses_of(drug) if self.at - d.at < window]


def _v(rule: str, message: str, *, overridable: bool = False, earliest_at: datetime | None = None,
       **details: object) -> Violation:
    return Violation(rule, overridable, message, earliest_at, dict(details))


# -- state of the episode (shared by rules, routes and recommendations) --------------------------

def latest_crs(ep: Episode) -> int | None:
    """The latest *assessed* CRS grade (None: never assessed). A not-assessed observation adds nothing."""
    return ep.crs.grade if ep.crs else None


def latest_icans(ep: Episode) -> int | None:
    return ep.icans.grade if ep.icans else None


def at_least(grade: int | None, threshold: int) -> bool:
    """grade >= threshold, where a not-assessed grade (None) is never at least anything, nor 0."""
    return grade is not None and grade >= threshold


def assessed_at(ep: Episode) -> datetime | None:
    """When the grades the rules read were last assessed (either domain)."""
    times = [a.at for a in (ep.crs, ep.icans) if a is not None]
    return max(times) if times else None


def improved_since(baseline: int | None, ep: Episode) -> bool:
    """Improvement: the worse of CRS and ICANS is lower than at the baseline (CLINICAL.md §7)."""
    current = ep.severity
    return baseline is not None and current is not None and current < baseline


def worse_since(baseline: int | None, ep: Episode) -> bool:
    current = ep.severity
    return baseline is not None and current is not None and current > baseline


def grade_4(ep: Episode) -> bool:
    """CRS grade 4 or ICANS grade 4: escalated steroid is allowed at once (CLINICAL.md §4, §8)."""
    return latest_crs(ep) == 4 or latest_icans(ep) == 4


def toci_indicated(ep: Episode, at: datetime) -> bool:
    """CRS grade 2+, or persistent grade-1 fever; never for ICANS without CRS (CLINICAL.md §3, §8)."""
    crs = latest_crs(ep)
    if crs is None:
        return False
    if crs >= 2:
        return True
    hours = ep.policy.toci_grade1_fever_hours
    return (crs == 1 and hours is not None and ep.fever_since is not None
            and at - ep.fever_since > span(hours))


def toci_persisting(ep: Episode) -> bool:
    """CRS grade >= 2 still present >= 8 h after the last tocilizumab dose, without improvement."""
    doses = ep.toci_doses
    if not doses or ep.crs is None or ep.crs.grade < 2:
        return False
    last = doses[-1]
    return (ep.crs.at - last.at >= span(ep.policy.steroid_after_toci_h)
            and not improved_since(last.severity_at_dose, ep))


def steroid_indicated(ep: Episode) -> bool:
    p = ep.policy
    return (at_least(latest_crs(ep), p.steroid_min_crs_grade) or at_least(latest_icans(ep), p.steroid_min_icans_grade)
            or toci_persisting(ep))


def escalation_clock(ep: Episode) -> datetime | None:
    """When the standard-steroid window ends (only while in the steroid state)."""
    if ep.state is not State.STEROID or ep.phase_started_at is None:
        return None
    return after(ep.phase_started_at, ep.policy.escalation_window_h)


def escalation_allowed(ep: Episode) -> bool:
    """Grade 4 (CRS or ICANS), worsening since steroid start, or the window passed without improvement."""
    if grade_4(ep):
        return True
    if ep.state is not State.STEROID:
        return ep.state in (State.ESCALATED_STEROID, State.REFRACTORY, State.RESOLVED)
    if worse_since(ep.steroid_start_severity, ep):
        return True
    ends = escalation_clock(ep)
    seen = assessed_at(ep)
    return (ends is not None and seen is not None and seen >= ends
            and not improved_since(ep.phase_start_severity, ep))


def refractory_prerequisites(ep: Episode) -> bool:
    return bool(ep.toci_doses) and ep.steroid_given


def next_toci_at(ep: Episode) -> datetime | None:
    doses = ep.toci_doses
    return after(doses[-1].at, ep.policy.toci_min_interval_h) if doses else None


def resolution_at(ep: Episode) -> datetime | None:
    if ep.zero_streak_since is None:
        return None
    return after(ep.zero_streak_since, ep.policy.resolution_window_h)


# -- rule checks ---------------------------------------------------------------------------------

def future_violation(at: datetime, now: datetime) -> Violation | None:
    """TIME_FUTURE on its own: also checked when an episode is opened (there is no episode yet)."""
    if at - now > timedelta(minutes=HARD_LIMITS.future_tolerance_min):  # a difference: never overflows
        return _v("TIME_FUTURE", f"the time given is more than {HARD_LIMITS.future_tolerance_min:g} minutes in "
                  "the future")
    return None


def check_time_future(c: Context) -> Violation | None:
    return future_violation(c.at, c.now)


def check_time_order(c: Context) -> Violation | None:
    if c.at < c.episode.last_at:
        return _v("TIME_ORDER", "the time given is earlier than the episode's latest event; events cannot go "
                  "back in time (a step charted after the fact is a late entry: --late REASON)",
                  earliest_at=c.episode.last_at)
    return None


def check_route(c: Context) -> Violation | None:
    d = c.dose
    if d is not None and c.route not in ALLOWED_ROUTES[d.drug]:
        allowed = ", ".join(sorted(r.value for r in ALLOWED_ROUTES[d.drug]))
        return _v("DRUG_ROUTE", f"{d.drug.value} is not given {c.route}; allowed: {allowed}")
    return None


def check_toci_interval(c: Context) -> Violation | None:
    earliest = next_toci_at(c.episode)
    if earliest is not None and c.at < earliest:
        return _v("TOCI_MIN_INTERVAL", f"the previous tocilizumab dose was less than "
                  f"{c.policy.toci_min_interval_h:g} hours ago", earliest_at=earliest)
    return None


def check_toci_count(c: Context) -> Violation | None:
    given = len(c.episode.toci_doses)
    in_day = c.doses_within(Drug.TOCILIZUMAB, DAY)
    if len(in_day) >= HARD_LIMITS.toci_max_doses_24h:
        return _v("TOCI_MAX_DOSES", f"{len(in_day)} tocilizumab doses already in 24 hours (hard limit "
                  f"{HARD_LIMITS.toci_max_doses_24h})", earliest_at=in_day[0].at + DAY)
    if given >= HARD_LIMITS.toci_max_doses_episode:
        return _v("TOCI_MAX_DOSES", f"{given} tocilizumab doses already in this episode (hard limit "
                  f"{HARD_LIMITS.toci_max_doses_episode})")
    if len(in_day) >= c.policy.toci_max_doses_24h:
        return _v("TOCI_MAX_DOSES", f"{len(in_day)} tocilizumab doses already in 24 hours (policy maximum "
                  f"{c.policy.toci_max_doses_24h})", overridable=True)
    if given >= c.policy.toci_max_doses_episode:
        return _v("TOCI_MAX_DOSES", f"{given} tocilizumab doses already in this episode (policy maximum "
                  f"{c.policy.toci_max_doses_episode})", overridable=True)
    return None


def check_toci_indication(c: Context) -> Violation | None:
    if not toci_indicated(c.episode, c.at):
        crs = latest_crs(c.episode)
        seen = "no assessed CRS grade on record" if crs is None else f"latest assessed CRS grade is {crs}"
        return _v("TOCI_INDICATION", f"tocilizumab needs CRS grade 2 or more; {seen}", overridable=True)
    return None


def dose_limit_violation(c: Context, rule: str) -> Violation | None:
    """The drug's hard limits (dosing.DOSE_LIMITS) when they belong to `rule`: one dose, then 24 hours."""
    d = c.dose
    limit = DOSE_LIMITS.get(d.drug) if d is not None else None
    if d is None or limit is None or limit.rule != rule:
        return None
    weight = c.episode.weight_kg
    for_weight = f" for {weight:g} kg" if limit.weight_based else ""
    per_dose = limit.per_dose_mg(weight)
    if d.dose_mg > per_dose:
        return _v(rule, f"{d.drug.value} {d.dose_mg:g} mg is above the limit of {per_dose:g} mg a dose{for_weight}",
                  limit_mg=per_dose)
    if limit.per_day_mg is not None:
        day = c.doses_within(d.drug, DAY)
        total = sum(x.dose_mg for x in day) + d.dose_mg
        per_day = limit.per_day_mg(weight)
        if total > per_day:
            return _v(rule, f"{d.drug.value} would total {total:g} mg in 24 hours, above the limit of {per_day:g} mg"
                      f"{for_weight}", earliest_at=day[0].at + DAY, limit_mg=per_day)
    return None


def check_toci_dose(c: Context) -> Violation | None:
    return dose_limit_violation(c, "TOCI_DOSE_MAX")


def check_steroid_dose(c: Context) -> Violation | None:
    return dose_limit_violation(c, "STEROID_DOSE_MAX")


def check_other_dose(c: Context) -> Violation | None:
    return dose_limit_violation(c, "DOSE_MAX")


def check_steroid_indication(c: Context) -> Violation | None:
    ep = c.episode
    if ep.steroid_given or steroid_indicated(ep):
        return None  # indicated, or a course (or taper) already under way
    return _v("STEROID_INDICATION", "no steroid indication on record (CRS grade 3+, CRS grade 2+ persisting 8 h "
              "after tocilizumab, or ICANS grade 2+)", overridable=True)


def check_escalation_order(c: Context) -> Violation | None:
    if c.intensity != "escalated" or escalation_allowed(c.episode):
        return None
    ends = escalation_clock(c.episode)
    return _v("ESCALATION_ORDER", "escalated steroid before standard steroid has had its window without "
              "improvement (and CRS is neither grade 4 nor worsening)", overridable=True, earliest_at=ends)


def check_refractory_order(c: Context) -> Violation | None:
    if refractory_prerequisites(c.episode):
        return None
    missing = [name for name, done in (("tocilizumab", bool(c.episode.toci_doses)),
                                       ("a corticosteroid", c.episode.steroid_given)) if not done]
    return _v("REFRACTORY_ORDER", f"a refractory-line drug before {' and '.join(missing)} has been given",
              overridable=True)


def check_steroid_per_kg(c: Context) -> Violation | None:
    """The policy's per-kg ceiling (binds for children): dexamethasone a dose, methylprednisolone a day."""
    d = c.dose
    if d is None or d.drug not in STEROIDS:
        return None
    weight = c.episode.weight_kg
    if d.drug is Drug.DEXAMETHASONE:
        ceiling = steroid_per_kg_ceiling_mg(d.drug, weight, c.policy)
        if d.dose_mg > ceiling:
            return _v("STEROID_DOSE_PER_KG", f"dexamethasone {d.dose_mg:g} mg is above the per-kg ceiling of "
                      f"{ceiling:g} mg a dose ({c.policy.dexamethasone_max_mg_per_kg_dose:g} mg/kg × {weight:g} kg)",
                      overridable=True, limit_mg=ceiling)
        return None
    per_day = steroid_day_ceiling_mg(d.drug, weight, c.policy)
    total = sum(x.dose_mg for x in c.doses_within(d.drug, DAY)) + d.dose_mg
    if per_day is not None and total > per_day:
        return _v("STEROID_DOSE_PER_KG", f"methylprednisolone would total {total:g} mg in 24 hours, above the per-kg "
                  f"ceiling of {per_day:g} mg a day ({c.policy.methylprednisolone_max_mg_per_kg_day:g} mg/kg × "
                  f"{weight:g} kg)", overridable=True, limit_mg=per_day)
    return None


def check_resolve(c: Context) -> Violation | None:
    """Fully assessed zeros for the window (the streak), and a current one: the latest observation within
    the reassessment interval, so a lone old observation cannot vouch for the hours since (nothing seen)."""
    ep = c.episode
    ready = resolution_at(ep)
    current = ep.latest is not None and c.at - ep.latest.at <= span(ep.policy.reassess_h_otherwise)
    if ready is not None and current and c.at >= ready:
        return None
    if ep.latest is None:
        why = "no observation on record"
    elif ready is None:
        crs, icans = ep.latest.crs_grade, ep.latest.icans_grade
        grades = f"latest grades are CRS {_grade_text(crs)}, ICANS {_grade_text(icans)}"
        if crs == 0 and icans == 0:
            grades += " but not fully assessed (CRS: temperature and oxygen; ICANS: screen and consciousness)"
        why = grades
    elif not current:
        why = (f"the latest observation is more than {ep.policy.reassess_h_otherwise:g} hours old: reassess before "
               "resolving")
    else:
        why = "fully assessed grade 0 has not yet held for the resolution window"
    waiting = ready is not None and c.at < ready  # only time passing lets it through
    return _v("RESOLVE_CRITERIA", f"resolution criteria do not hold: {why}", overridable=True,
              earliest_at=ready if waiting else None)


def _grade_text(grade: int | None) -> str:
    return "not assessed" if grade is None else str(grade)


CHECKS: dict[str, Callable[[Context], Violation | None]] = {
    "TIME_FUTURE": check_time_future,
    "TIME_ORDER": check_time_order,
    "DRUG_ROUTE": check_route,
    "TOCI_DOSE_MAX": check_toci_dose,
    "TOCI_MIN_INTERVAL": check_toci_interval,
    "TOCI_MAX_DOSES": check_toci_count,
    "TOCI_INDICATION": check_toci_indication,
    "STEROID_DOSE_MAX": check_steroid_dose,
    "STEROID_INDICATION": check_steroid_indication,
    "STEROID_DOSE_PER_KG": check_steroid_per_kg,
    "ESCALATION_ORDER": check_escalation_order,
    "REFRACTORY_ORDER": check_refractory_order,
    "RESOLVE_CRITERIA": check_resolve,
    "DOSE_MAX": check_other_dose,
}
#: Rules enforced by the structure rather than a check function: the machine's table, and the record's own
#: history (CORRECTION_TARGET, checked by pathway/history.py before a correction or void is decided).
STRUCTURAL_RULES = frozenset({"EPISODE_CLOSED", "PATHWAY_TRANSITION", "CORRECTION_TARGET", "RECORD_INTEGRITY"})

# -- routing guards (which destination an allowed step takes) ------------------------------------

ROUTES: dict[str, Callable[[Context], bool]] = {
    "grade_4": lambda c: grade_4(c.episode),
    "refractory_prerequisites": lambda c: refractory_prerequisites(c.episode),
}

# -- recommendation conditions (episode, time now) -----------------------------------------------


def _toci_repeat(ep: Episode, now: datetime) -> bool:
    doses = ep.toci_doses
    return bool(doses) and toci_indicated(ep, now) and not improved_since(doses[-1].severity_at_dose, ep)


def _refractory_due(ep: Episode, now: datetime) -> bool:
    if ep.phase_started_at is None or ep.severity is None:
        return False
    if worse_since(ep.phase_start_severity, ep):
        return True
    ends = after(ep.phase_started_at, ep.policy.refractory_window_h)
    seen = assessed_at(ep)
    return (seen is not None and seen >= ends and not improved_since(ep.phase_start_severity, ep)
            and at_least(ep.severity, 1))


def _escalated_course_running(ep: Episode, now: datetime) -> bool:
    """Within the escalated course's days (1000 mg/day × 3 days) since its first dose."""
    start = ep.escalated_started_at
    return start is not None and now - start < span(24 * ep.policy.escalated_course_days)


def _taper_now(ep: Episode, now: datetime) -> bool:
    """A steroid course steps down: its days are done, or the worse grade is 1 or less (ASCO-2021: taper once
    ICANS <= grade 1). The taper follows the steroid last given."""
    if not ep.steroid_given:
        return False
    start = ep.escalated_started_at
    done = start is not None and now - start >= span(24 * ep.policy.escalated_course_days)
    return done or (ep.severity is not None and ep.severity <= 1)


def fluids_failed(ep: Episode) -> bool:
    """Hypotension persisting after the policy's boluses within its window (CLINICAL.md §9)."""
    p, boluses = ep.policy, ep.fluid_boluses
    if ep.hypotensive_at is None or len(boluses) < p.fluid_boluses_before_vasopressor:
        return False
    return (boluses[-1] - boluses[0] <= span(p.fluid_bolus_window_h)
            and ep.hypotensive_at > boluses[-1])


def _fluid_bolus_due(ep: Episode, now: datetime) -> bool:
    """Hypotensive, no vasopressor, fluids not yet failed, and no bolus since it was seen."""
    if ep.hypotensive_at is None or ep.on_vasopressor or fluids_failed(ep):
        return False
    return not ep.fluid_boluses or ep.fluid_boluses[-1] < ep.hypotensive_at  # type: ignore[operator]


def _seizure_on_record(ep: Episode) -> bool:
    """A seizure recorded in this episode (a later observation that does not mention one does not erase it)."""
    return ep.seizure_at is not None


def _steroid_by_icans_only(ep: Episode, grade: int) -> bool:
    """ICANS at `grade` sets the steroid, with no CRS grade that calls for a stronger one (§8)."""
    return latest_icans(ep) == grade and not at_least(latest_crs(ep), 4)


CONDITIONS: dict[str, Callable[[Episode, datetime], bool]] = {
    "toci_doses_below_policy_max": lambda ep, now: len(ep.toci_doses) < ep.policy.toci_max_doses_episode,
    "crs_grade_2_plus": lambda ep, now: at_least(latest_crs(ep), 2),
    "crs_grade_3_plus": lambda ep, now: at_least(latest_crs(ep), 3),
    "crs_grade_4": lambda ep, now: latest_crs(ep) == 4,
    "grade_4": lambda ep, now: grade_4(ep),
    "icans_grade_1_plus": lambda ep, now: at_least(latest_icans(ep), 1),
    "icans_grade_2_plus": lambda ep, now: at_least(latest_icans(ep), 2),
    "icans_grade_3_plus": lambda ep, now: at_least(latest_icans(ep), 3),
    "icans_grade_3_steroid": lambda ep, now: _steroid_by_icans_only(ep, 3),
    "icans_grade_4": lambda ep, now: latest_icans(ep) == 4,
    "seizure_on_record": lambda ep, now: _seizure_on_record(ep),
    "fever_on_record": lambda ep, now: ep.fever_since is not None,  # until a recorded temperature is afebrile
    "steroid_on_record": lambda ep, now: ep.steroid_given,
    "fluid_bolus_due": _fluid_bolus_due,
    "fluids_failed": lambda ep, now: fluids_failed(ep),
    "fluids_failed_no_vasopressor": lambda ep, now: fluids_failed(ep) and not ep.on_vasopressor,
    "toci_indicated": lambda ep, now: toci_indicated(ep, now),
    "toci_repeat_indicated": _toci_repeat,
    "steroid_indicated": lambda ep, now: steroid_indicated(ep),
    "escalation_due": lambda ep, now: escalation_allowed(ep),
    "standard_course_continues": lambda ep, now: not escalation_allowed(ep) and at_least(ep.severity, 2),
    "escalation_pending": lambda ep, now: not escalation_allowed(ep) and at_least(ep.severity, 1),
    "refractory_due": _refractory_due,
    "escalated_course_continues": lambda ep, now: (_escalated_course_running(ep, now) and at_least(ep.severity, 2)),
    "standard_course_under_way": lambda ep, now: (ep.escalated_started_at is None
                                                  and last_steroid(ep, "standard") is not None
                                                  and at_least(ep.severity, 2)),
    "refractory_pending": lambda ep, now: not _refractory_due(ep, now) and at_least(ep.severity, 1),
    "methylprednisolone_step_down": lambda ep, now: (_taper_now(ep, now)
                                                     and last_steroid(ep) is Drug.METHYLPREDNISOLONE),
    "dexamethasone_step_down": lambda ep, now: _taper_now(ep, now) and last_steroid(ep) is Drug.DEXAMETHASONE,
    "anakinra_course_continues": lambda ep, now: bool(ep.doses_of(Drug.ANAKINRA)) and at_least(ep.severity, 1),
    "refractory_still_due": lambda ep, now: (_refractory_due(ep, now) and not ep.doses_of(Drug.SILTUXIMAB)),
    "methylprednisolone_taper_due": lambda ep, now: last_steroid(ep) is Drug.METHYLPREDNISOLONE,
    "dexamethasone_taper_due": lambda ep, now: last_steroid(ep) is Drug.DEXAMETHASONE,
}
