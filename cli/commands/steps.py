"""Commands that change an episode: each is one step (one event, atomically) or nothing at all."""

from typing import Annotated, Any

import typer

from cli import payloads, values
from cli.context import build, open_store, settings, status_at, step, when
from cli.options import At, EntryOverride, Episode, JsonFlag, Late, Override
from cli.render import emit
from pathway.drugs import Action, Drug, Route

#: Spelled here (equal to pathway.commands.MIN_DOSE_MG, a test checks) so building the app loads no pydantic.
MIN_DOSE_MG = 0.1

# The contract's observation vocabularies, spelled here so that building the app does not load the
# pydantic observation model (start-up time); a test checks they equal pathway.observations' enums.
O2_DEVICES = ("room-air", "nasal-cannula", "blow-by", "hfnc", "facemask", "non-rebreather", "venturi", "cpap",
              "bipap", "ventilator")
CONSCIOUSNESS = ("awake", "voice", "touch", "unarousable")
SEIZURE = ("none", "brief", "prolonged")
CEREBRAL_EDEMA = ("none", "focal", "diffuse")


def open_episode(
    ctx: typer.Context,
    patient: Annotated[str, typer.Option("--patient", parser=values.patient_ref, metavar="REF", show_default=False,
                                         help="Pseudonymous patient reference (letters, digits, - _ . : /; no names).")],
    weight_kg: Annotated[float, typer.Option("--weight-kg", parser=values.number(0.5, 350, unit="kg"), metavar="W",
                                             show_default=False, help="Body weight in kg (0.5–350).")],
    age_years: Annotated[float, typer.Option("--age-years", parser=values.number(0, 120, unit="years"), metavar="A",
                                             show_default=False, help="Age in years (0–120).")],
    context: Annotated[str | None, typer.Option("--context", parser=values.text(500), metavar="TEXT",
                                                help="Clinical context, e.g. 'day 11 post-haplo HSCT' (no names).")] = None,
    policy: Annotated[Any, typer.Option("--policy", parser=values.policy, metavar="NAME_OR_FILE",
                                        help="Policy: a packaged name (default) or a TOML file; "
                                             "validated against the hard limits.")] = None,
    at: At = None,
    json_out: JsonFlag = False,
) -> None:
    """Open an episode in state `assessment` and print its id."""
    from pathway.commands import OpenEpisode

    config = settings(ctx, json_out)
    fields: dict[str, Any] = {"policy": policy} if policy is not None else {}
    command = build(OpenEpisode, at=when(at), actor=config.actor, patient_ref=patient, weight_kg=weight_kg,
                    age_years=age_years, context=context, **fields)
    result = step(config, command)
    emit(config, payloads.opened(result), "opened")


def observe(
    ctx: typer.Context,
    episode: Episode,
    temp: Annotated[float | None, typer.Option("--temp", parser=values.number(30, 45, unit="°C"), metavar="C",
                                               help="Temperature, °C (30–45); CRS is graded only with --temp "
                                                    "and --o2.")] = None,
    hypotension: Annotated[bool, typer.Option("--hypotension",
                                              help="Hypotension not needing vasopressors.")] = False,
    vasopressors: Annotated[int, typer.Option("--vasopressors", parser=values.number(0, 6, integer=True),
                                              metavar="N", help="Vasopressors running, vasopressin not counted (0–6).")] = 0,
    vasopressin: Annotated[bool, typer.Option("--vasopressin", help="Vasopressin running.")] = False,
    o2: Annotated[str | None, typer.Option("--o2", metavar="DEVICE", parser=values.choice(O2_DEVICES, "oxygen device"), autocompletion=values.completer(O2_DEVICES),
                                                help="Oxygen support: " + ", ".join(O2_DEVICES)
                                                + " (room-air counts as recorded).")] = None,
    o2_flow: Annotated[float | None, typer.Option("--o2-flow", parser=values.number(0, 80, unit="L/min"),
                                                  metavar="LPM", help="Oxygen flow, L/min (0–80); a nasal cannula "
                                                                      "above 6 L/min counts as high flow.")] = None,
    fio2: Annotated[float | None, typer.Option("--fio2", parser=values.number(0.21, 1.0), metavar="F",
                                               help="Inspired O2 fraction (0.21–1.0).")] = None,
    ice: Annotated[int | None, typer.Option("--ice", parser=values.number(0, 10, integer=True), metavar="N",
                                            help="ICE score for ICANS (0–10), from the policy's CAPD age "
                                                 "(default 12 years) up; a younger child: --capd.")] = None,
    capd: Annotated[Any, typer.Option("--capd", parser=values.capd, metavar="N|unable",
                                      help="CAPD total for ICANS (0–32) in a child under the policy's CAPD age "
                                           "(default 12 years), or 'unable' when it cannot be performed "
                                           "(grade 4); older patients: --ice.")] = None,
    consciousness: Annotated[str | None, typer.Option(
        "--consciousness", metavar="LEVEL", parser=values.choice(CONSCIOUSNESS, "level of consciousness"), autocompletion=values.completer(CONSCIOUSNESS), help="Level of consciousness: awake, voice, touch, unarousable "
                                                 "(with --ice or --capd: a full ICANS assessment).")] = None,
    seizure: Annotated[str | None, typer.Option("--seizure", metavar="KIND", parser=values.choice(SEIZURE, "seizure kind"), autocompletion=values.completer(SEIZURE),
                                                    help="Seizure: none, brief, prolonged.")] = None,
    motor_weakness: Annotated[bool, typer.Option("--motor-weakness", help="Deep focal motor weakness.")] = False,
    cerebral_edema: Annotated[str | None, typer.Option(
        "--cerebral-edema", metavar="KIND", parser=values.choice(CEREBRAL_EDEMA, "cerebral edema finding"), autocompletion=values.completer(CEREBRAL_EDEMA), help="Cerebral edema on imaging: none, focal, diffuse.")] = None,
    note: Annotated[str | None, typer.Option("--note", parser=values.text(500), metavar="TEXT",
                                             help="Free text for the record (no names); sets no input.")] = None,
    at: At = None,
    late: Late = None,
    override: EntryOverride = None,
    json_out: JsonFlag = False,
) -> None:
    """Record one bedside assessment, grade CRS and ICANS, and print the next steps.

    CRS is graded only with --temp and --o2 (room-air counts); ICANS only with --ice or --capd (by
    age) or --consciousness. Otherwise that grade is not assessed (never 0) and the first next step
    asks for what is missing. An assessment charted after the fact, at a clinical time before the
    episode's latest event, is a late entry: --at TIME --late REASON.
    """
    from pathway.commands import RecordObservation
    from pathway.errors import Invalid
    from pathway.observations import Observation

    config = settings(ctx, json_out)
    if ice is not None and capd is not None:
        raise Invalid("--ice and --capd are two screens for the same thing: record --capd N|unable for a child "
                      "under the policy's CAPD age (default 12 years), --ice N for anyone older, not both")
    observation = build(Observation, temp_c=temp, hypotension=hypotension, vasopressors=vasopressors,
                        vasopressin=vasopressin, o2_device=o2, o2_flow_lpm=o2_flow, fio2=fio2, ice_score=ice,
                        consciousness=consciousness, seizure=seizure, motor_weakness=motor_weakness,
                        cerebral_edema=cerebral_edema,
                        capd_score=capd if isinstance(capd, int) else None, capd_unable=capd == "unable")
    command = build(RecordObservation, at=when(at), actor=config.actor, episode_id=episode, observation=observation,
                    note=note, late=late, override_reason=override)
    if late is not None:
        result, change = changing(config, command)
        emit(config, {**payloads.observed(result, status_after(result)), "correction": change}, "observed")
        return
    result = step(config, command)
    emit(config, payloads.observed(result, status_at(result.episode, result.event.at)), "observed")


def give(
    ctx: typer.Context,
    episode: Episode,
    drug: Annotated[str, typer.Argument(metavar="DRUG", show_default=False, parser=values.drug,
                                        autocompletion=values.completer(tuple(d.value for d in Drug)),
                                        help="Drug given (any case): " + ", ".join(d.value for d in Drug) + ".")],
    dose_mg: Annotated[float, typer.Option("--dose-mg", parser=values.number(MIN_DOSE_MG, 10_000, unit="mg"),
                                           metavar="X", show_default=False,
                                           help=f"Dose given, mg (at least {MIN_DOSE_MG:g}: less is a typo).")],
    route: Annotated[str | None, typer.Option("--route", metavar="ROUTE",
                                              parser=values.choice(tuple(r.value for r in Route), "route"), autocompletion=values.completer(tuple(r.value for r in Route)),
                                                help="Route: iv, sc or po (default: the drug's usual route).")] = None,
    at: At = None,
    late: Late = None,
    override: EntryOverride = None,
    json_out: JsonFlag = False,
) -> None:
    """Record one administered dose; moves the episode to the state the drug opens, if the rules allow.

    A dose charted after the fact, at a clinical time before the episode's latest event, is a late
    entry: --at TIME --late REASON (checked as if recorded on time; later events are re-checked).
    """
    from pathway.commands import AdministerDose

    config = settings(ctx, json_out)
    command = build(AdministerDose, at=when(at), actor=config.actor, episode_id=episode, drug=drug, dose_mg=dose_mg,
                    route=route, late=late, override_reason=override)
    _stepped(config, command)


def act(
    ctx: typer.Context,
    episode: Episode,
    action: Annotated[str, typer.Argument(metavar="ACTION", show_default=False,
                                          parser=values.choice(tuple(a.value for a in Action), "action"), autocompletion=values.completer(tuple(a.value for a in Action)),
                                             help="Supportive-care action: one of the list above.")],
    at: At = None,
    note: Annotated[str | None, typer.Option("--note", parser=values.text(500), metavar="TEXT",
                                             help="A short note (no names).")] = None,
    late: Late = None,
    override: EntryOverride = None,
    json_out: JsonFlag = False,
) -> None:
    """Record a supportive-care action (docs/CLINICAL.md §6).

    \b
    ACTION (any case) is one of:
      icu-transfer, infection-workup, antibiotics, antifungal-prophylaxis,
      telemetry, labs, echocardiogram, fluid-bolus, aspiration-precautions,
      neurology-consult, neuroimaging, eeg, antiseizure

    An action charted after the fact, at a clinical time before the episode's latest event, is a
    late entry: --at TIME --late REASON.
    """
    from pathway.commands import RecordAction

    config = settings(ctx, json_out)
    command = build(RecordAction, at=when(at), actor=config.actor, episode_id=episode, action=action, note=note,
                    late=late, override_reason=override)
    _stepped(config, command)


def resolve(ctx: typer.Context, episode: Episode, at: At = None, override: Override = None,
            json_out: JsonFlag = False) -> None:
    """Move the episode to `resolved` when the resolution criteria hold (RESOLVE_CRITERIA)."""
    from pathway.commands import Resolve

    config = settings(ctx, json_out)
    _stepped(config, build(Resolve, at=when(at), actor=config.actor, episode_id=episode, override_reason=override))


def close(
    ctx: typer.Context,
    episode: Episode,
    at: At = None,
    reason: Annotated[str | None, typer.Option("--reason", parser=values.text(500), metavar="TEXT",
                                               help="Why the episode ends, e.g. 'CRS resolved'.")] = None,
    json_out: JsonFlag = False,
) -> None:
    """End the episode; a closed episode takes no further step (EPISODE_CLOSED)."""
    from pathway.commands import Close

    config = settings(ctx, json_out)
    _stepped(config, build(Close, at=when(at), actor=config.actor, episode_id=episode, reason=reason))


def _stepped(config: Any, command: Any) -> None:
    if getattr(command, "late", None) is not None:
        result, change = changing(config, command)
        emit(config, {**payloads.stepped(result, status_after(result)), "correction": change}, "stepped")
        return
    result = step(config, command)
    emit(config, payloads.stepped(result, status_at(result.episode, result.event.at)), "stepped")


def changing(config: Any, command: Any) -> tuple[Any, dict[str, Any]]:
    """A correction, void or late entry: one step (refused, it logs its refusal), then the change as QA reads
    it (who, when, why, before -> after), from the episode's stored events."""
    from cli.clock import now
    from pathway.history import changes
    from pathway.service import handle

    with open_store(config) as store:
        result = handle(command, store.unit_of_work(), now())
        events = [stored.event for stored in store.history(command.episode_id)]
    change = next(c for c in changes(events) if c.seq == result.event.seq)
    return result, change.as_json()


def status_after(result: Any) -> dict[str, Any]:
    """The status after a change, at the episode's latest clinical time (a change's own time is in the past)."""
    return status_at(result.episode, max(result.episode.last_at, result.event.at))
