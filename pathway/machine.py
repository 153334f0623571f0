"""The machine: built once from states.PATHWAY with `transitions`; decide() turns a command into an event.

decide() is pure: it checks every rule the table names for the step (all of them, so a refusal
lists every rule at once, hard first), applies an override only to overridable rules, then reads
the destination from the transitions machine's table (its first transition whose routing guards
hold). It never mutates the episode or the machine; the caller folds the returned event.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from transitions import Machine

from pathway.clock import as_utc
from pathway.commands import AdministerDose, Close, OpenEpisode, RecordAction, RecordObservation, Resolve, StepCommand
from pathway.dosing import DOSE_LIMITS, steroid_intensity
from pathway.drugs import REFRACTORY_DRUGS, STEROIDS, Drug
from pathway.episode import Episode
from pathway.errors import Invalid, Refused, Violation
from pathway.events import PATHWAY_VERSION, Event, Override
from pathway.grading import crs_grade, icans_grade, uses_capd
from pathway.guards import CHECKS, ROUTES, STRUCTURAL_RULES, Context, future_violation
from pathway.table import transition_specs
from states import DRUG_RULES, INITIAL, PATHWAY, STEP_RULES, State


class _Model:
    """The machine's model. MACHINE is never fired (decide() reads its table, see _route), so the
    routing guards it names (plain strings, as the drawing shows them) need no methods here."""

    state: str


def build_machine() -> Machine:
    """One transitions.Machine from the table: no auto transitions, invalid triggers raise."""
    return Machine(model=_Model(), states=[s.value for s in State], transitions=transition_specs(),
                   initial=INITIAL.value, auto_transitions=False, ignore_invalid_triggers=False, send_event=True)


MACHINE = build_machine()


def trigger_for(command: StepCommand, episode: Episode) -> str:
    if isinstance(command, RecordObservation):
        return "observe"
    if isinstance(command, RecordAction):
        return "act"
    if isinstance(command, Resolve):
        return "resolve"
    if isinstance(command, Close):
        return "close"
    drug = command.drug
    if drug is Drug.TOCILIZUMAB:
        return "give_tocilizumab"
    if drug in STEROIDS:
        intensity = steroid_intensity(drug, command.dose_mg, episode.weight_kg, episode.policy)
        return f"give_{intensity}_steroid"
    if drug in REFRACTORY_DRUGS:
        return "give_refractory"
    raise ValueError(f"unknown drug {drug}")


def _route(trigger: str, state: State, ctx: Context) -> State:
    """Where the machine's transition table sends this step, read from MACHINE without firing it.

    The same semantics as `transitions` firing the trigger (the first transition from `state`
    whose conditions all hold wins; no destination = stay), without moving a shared model under
    a lock: a tenth of the cost, and decide() stays free of shared mutable state. A test checks
    that this agrees with firing the machine itself for every step the property suite takes.
    """
    event = MACHINE.events.get(trigger)
    candidates = event.transitions.get(state.value) if event is not None else None
    if not candidates:
        raise Refused([Violation("PATHWAY_TRANSITION", False, f"{trigger} is not a step from {state}")])
    for transition in candidates:
        if all(ROUTES[condition.func](ctx) == condition.target for condition in transition.conditions):
            return State(transition.dest) if transition.dest is not None else state
    raise Refused([Violation("PATHWAY_TRANSITION", False, f"no declared step {trigger} from {state}")])


def _violations(ctx: Context, trigger: str) -> list[Violation]:
    """Checked: the step rules, the drug's own rules, and the rules the state's edge names. A step
    the state does not declare is refused structurally (EPISODE_CLOSED on a closed episode)."""
    episode, command = ctx.episode, ctx.command
    edge = PATHWAY[episode.state].edge(trigger)
    drug_rules = DRUG_RULES[command.drug.value] if isinstance(command, AdministerDose) else ()
    found = [v for rule in STEP_RULES + drug_rules + (edge.rules if edge else ())
             if (v := CHECKS[rule](ctx)) is not None]
    if edge is None:
        if episode.is_closed:
            found.insert(0, Violation("EPISODE_CLOSED", False, "the episode is closed and takes no further step"))
        else:
            found.insert(0, Violation("PATHWAY_TRANSITION", False,
                                      f"{trigger.replace('_', ' ')} is not a step from {episode.state}"))
    return found


def violations(episode: Episode, command: StepCommand, now: datetime) -> list[Violation]:
    """All violations of this step, without deciding; recommendations use it as a dry run."""
    return _violations(Context(episode, command, as_utc(now)), trigger_for(command, episode))


def _override(found: list[Violation], reason: str | None, actor: str) -> Override | None:
    if not found:
        return None
    if reason is None or any(not v.overridable for v in found):
        raise Refused(found)
    ordered = Refused(found)  # for the rule order only
    return Override(rule=ordered.rule, rules=ordered.rules, reason=reason, actor=actor)


def _give_data(command: AdministerDose, ctx: Context) -> dict[str, Any]:
    weight = ctx.episode.weight_kg
    data: dict[str, Any] = {"drug": command.drug.value, "dose_mg": command.dose_mg, "route": ctx.route.value,
                            "mg_per_kg": round(command.dose_mg / weight, 3)}
    if ctx.intensity:
        data["intensity"] = ctx.intensity
    if (limit := DOSE_LIMITS.get(command.drug)) is not None:
        data["limit_mg"] = limit.per_dose_mg(weight)
    if command.drug is Drug.TOCILIZUMAB:
        data["dose_number"] = len(ctx.episode.toci_doses) + 1
    return data


def _data(command: StepCommand, ctx: Context) -> dict[str, Any]:
    ep = ctx.episode
    if isinstance(command, RecordObservation):
        obs = command.observation
        crs = crs_grade(obs, ep.policy, fever_masked=ep.fever_masked)
        icans = icans_grade(obs, age_years=ep.age_years, policy=ep.policy)
        return {"observation": obs.inputs(), "crs_grade": crs.grade, "icans_grade": icans.grade,
                "crs_basis": crs.basis(), "icans_basis": icans.basis(),
                **({"note": command.note} if command.note else {})}  # absent when not given: old events unchanged
    if isinstance(command, AdministerDose):
        return _give_data(command, ctx)
    if isinstance(command, RecordAction):
        return {"action": command.action.value, **({"note": command.note} if command.note else {})}
    if isinstance(command, Close):
        return {"reason": command.reason} if command.reason else {}
    return {}


def check_screen(episode: Episode, command: StepCommand) -> None:
    """The ICANS screen must fit the patient's age (CLINICAL.md §2b): the wrong one is invalid input.

    Not a rule (nothing to override, nothing to log): the observation cannot be graded as typed.
    """
    if not isinstance(command, RecordObservation):
        return
    obs, policy = command.observation, episode.policy
    child = uses_capd(episode.age_years, policy)
    if child and obs.ice_score is not None:
        raise Invalid(f"the ICE score is not used under {policy.capd_below_age_years:g} years: record the "
                      "CAPD with --capd N (0–32) or --capd unable")
    if not child and obs.capd_recorded:
        raise Invalid(f"the CAPD is for children under {policy.capd_below_age_years:g} years: record the ICE "
                      "score with --ice N (0–10)")


@dataclass(frozen=True)
class Evaluation:
    """One step judged against an episode: every rule it breaks, and where the table sends it."""

    ctx: Context
    trigger: str
    found: list[Violation]

    @property
    def structural(self) -> bool:
        return any(v.rule in STRUCTURAL_RULES for v in self.found)

    def event(self, seq: int, override: Override | None) -> Event:
        """The event this step makes with `override` passing its overridable rules (the caller decided)."""
        ctx, command = self.ctx, self.ctx.command
        episode = ctx.episode
        dest = _route(self.trigger, episode.state, ctx)
        data = _data(command, ctx)
        late = getattr(command, "late", None)
        if late is not None:
            data["late"] = True
            data["late_reason"] = late
        data["pathway"] = PATHWAY_VERSION
        return Event(episode_id=episode.id, seq=seq, kind=command.kind, at=command.at, recorded_at=ctx.now,
                     actor=command.actor, from_state=episode.state.value, to_state=dest.value, data=data,
                     override=override)


def evaluate(episode: Episode, command: StepCommand, now: datetime, *, placed: bool = False) -> Evaluation:
    """Judge a step without deciding it. `placed`: the step sits at its own clinical time inside a
    corrected history (pathway/history.py), so TIME_ORDER, which guards the end of the record, does not apply."""
    if command.episode_id != episode.id:
        raise ValueError("command is for another episode")
    check_screen(episode, command)
    ctx = Context(episode, command, as_utc(now))
    trigger = trigger_for(command, episode)
    found = _violations(ctx, trigger)
    if placed:
        found = [v for v in found if v.rule != "TIME_ORDER"]
    return Evaluation(ctx, trigger, found)


def decide(episode: Episode, command: StepCommand, now: datetime) -> Event:
    """The event this command makes, or Refused naming every rule it breaks. Pure."""
    if getattr(command, "late", None) is not None:
        raise ValueError("a late entry is decided against the episode's history (pathway.history.decide_change)")
    judged = evaluate(episode, command, now)
    if judged.structural:
        raise Refused(judged.found)  # no override passes a step the pathway does not have
    override = _override(judged.found, getattr(command, "override_reason", None), command.actor)
    return judged.event(episode.version + 1, override)


def decide_open(command: OpenEpisode, episode_id: str, now: datetime) -> Event:
    if (too_late := future_violation(command.at, as_utc(now))) is not None:
        raise Refused([too_late])
    data: dict[str, Any] = {"patient_ref": command.patient_ref, "weight_kg": command.weight_kg,
                            "age_years": command.age_years, "policy": command.policy.model_dump(mode="json")}
    if command.context:
        data["context"] = command.context
    data["pathway"] = PATHWAY_VERSION
    return Event(episode_id=episode_id, seq=1, kind="open", at=command.at, recorded_at=now, actor=command.actor,
                 from_state=None, to_state=INITIAL.value, data=data)
