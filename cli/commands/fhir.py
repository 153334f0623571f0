"""`crs export` and `crs import`: an episode to the hospital's record as FHIR R4, and bedside vital signs
from it as `observe` steps (cli/fhir/ holds the mapping; this module only reads, steps and prints)."""

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.context import open_store, settings
from cli.options import Episode, JsonFlag
from cli.outfile import Force, OutFile, read_record, write_out
from cli.render import emit, write_text

#: The --late reason of an imported step whose time is before the episode's latest event.
LATE_REASON = "imported from FHIR"


class ExportFormat(StrEnum):
    FHIR = "fhir"


def export(
    ctx: typer.Context,
    episode: Episode,
    format: Annotated[ExportFormat, typer.Option(
        "--format", metavar="fhir", show_default=False,
        help="fhir: one FHIR R4 Bundle (collection) in JSON.")],
    out: OutFile = None,
    force: Force = False,
    json_out: JsonFlag = False,
) -> None:
    """Write the episode as one FHIR R4 Bundle: the pseudonymous patient, vital signs (LOINC, UCUM), grades,
    doses, actions, refusals and overrides (DetectedIssue), and a Provenance per event with its hash.

    Superseded and voided entries are exported with status entered-in-error, never left out.
    """
    from cli.fhir.export import bundle, counts, to_json

    config = settings(ctx, json_out)
    protected, record = read_record(config, episode, out, force=force)
    document = bundle(*record)
    text = to_json(document)
    if out is None:
        if config.json:
            emit(config, document, "plain")
        else:
            write_text(text)
        return
    write_out(out, text, force=force, protected=protected)
    emit(config, {"episode": episode, "format": format.value, "out": str(out), "resources": counts(document)},
         lambda console, payload: write_text(f"FHIR Bundle written to {payload['out']}: " + ", ".join(
             f"{n} {kind}" for kind, n in payload["resources"].items()) + ".\n"))


def import_file(
    ctx: typer.Context,
    episode: Episode,
    file: Annotated[Path, typer.Argument(
        metavar="FILE", show_default=False, parser=lambda value: Path(value),
        help="A FHIR R4 Bundle of vital-sign Observations, or one Observation, in JSON.")],
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Check the file and decide each step by the pathway's rules, but write nothing "
                          "(not even refusals); print the steps it would take.")] = False,
    json_out: JsonFlag = False,
) -> None:
    """Record the vital signs of a FHIR Bundle as `observe` steps: one per effective time, in clinical-time
    order, each through the same rules as `crs observe` (one before the episode's latest event is a late
    entry, "imported from FHIR"). An Observation that cannot be used is skipped with its reason; a refused
    step is logged and reported and does not stop the others (exit 1 if any was refused).

    \b
    Read (LOINC, UCUM):
      8310-5  body temperature (Cel, or [degF] converted to °C)
      3151-8  inhaled oxygen flow rate (L/min)
      3150-0  inhaled oxygen concentration (%)
      and the inputs `crs export` writes in its own code system
      (oxygen device, ICE score, ...); blood pressure 85354-9
      sets nothing and is kept as its step's note.

    Bad FHIR (not JSON, the wrong resourceType, no effective time, an absurd value) is exit 2 and nothing
    is written.
    """
    from cli.commands.checkpoint import read_file
    from cli.fhir.importer import plan as read_plan

    config = settings(ctx, json_out)
    planned = read_plan(read_file(file, "FILE"))  # Invalid (exit 2) before the database is touched
    with open_store(config, read_only=dry_run) as store:
        current = store.episode(episode)  # NotFound: exit 4
        actor = config.actor
        if not dry_run and not config.actor_given and store.backend == "postgresql":
            actor = store.login()
        runner = _Simulation(current, [s.event for s in store.history(episode)]) if dry_run else _Live(store, current)
        steps = [_take(runner, item, episode, actor) for item in planned.steps]
    refused = [s for s in steps if s["outcome"] == "refused"]
    payload: dict[str, Any] = {
        "episode": episode, "dry_run": dry_run, "steps": steps,
        "taken": sum(1 for s in steps if s["outcome"] == "accepted"), "refused": len(refused),
        "skipped": planned.skipped, "ignored": planned.ignored}
    if refused:
        payload.update(error="refused", rule=refused[0]["rule"],
                       message=f"{len(refused)} of {len(steps)} import step(s) refused; the first by "
                               f"{refused[0]['rule']}: {refused[0]['message']}")
    emit(config, payload, lambda console, shown: write_text(import_text(shown)))
    if refused:
        if not config.json:  # the steps on stdout; the refusal, as every error, one sentence on stderr
            from cli.text import visible

            sys.stderr.write(f"crs: {visible(payload['message']).rstrip('.')}.\n")
        raise typer.Exit(1)


def _take(runner: Any, item: Any, episode: str, actor: str) -> dict[str, Any]:
    """One planned step through the pathway's rules: its outcome as the import reports it."""
    from cli.clock import now
    from pathway.commands import RecordObservation
    from pathway.errors import Refused
    from pathway.observations import Observation

    late = LATE_REASON if item.at < runner.episode.last_at else None
    command = RecordObservation(at=item.at, actor=actor, episode_id=episode, observation=Observation(**item.inputs),
                                note=item.note, late=late)
    row: dict[str, Any] = {**item.as_json(), "late": late is not None}
    try:
        event = runner.step(command, now())
    except Refused as refused:
        row.update(outcome="refused", rule=refused.rule, rules=list(refused.rules), message=refused.message)
        return row
    row.update(outcome="accepted", seq=event.seq, crs_grade=event.data.get("crs_grade"),
               icans_grade=event.data.get("icans_grade"))
    return row


class _Live:
    """Each step through the service, as `crs observe` takes it (a refusal is logged there)."""

    def __init__(self, store: Any, episode: Any) -> None:
        self.store, self.episode = store, episode

    def step(self, command: Any, now: Any) -> Any:
        from pathway.service import handle

        result = handle(command, self.store.unit_of_work(), now)
        self.episode = result.episode
        return result.event


class _Simulation:
    """--dry-run: the same decisions on the stored history in memory; nothing is written, not even refusals."""

    def __init__(self, episode: Any, events: list[Any]) -> None:
        self.episode, self.events = episode, events

    def step(self, command: Any, now: Any) -> Any:
        from pathway.episode import apply
        from pathway.history import decide_change
        from pathway.machine import decide

        if command.late is not None:
            event, self.episode = decide_change(self.episode, self.events, command, now)
        else:
            event = decide(self.episode, command, now)
            self.episode = apply(self.episode, event)
        self.events.append(event)
        return event


def import_text(payload: dict[str, Any]) -> str:
    """The human view of an import: a summary line, one line per step, one per skipped Observation."""
    from cli.text import grade_text

    verb = "Dry run (nothing written)" if payload["dry_run"] else "Imported"
    lines = [f"{verb} into {payload['episode']}: {len(payload['steps'])} step(s), {payload['refused']} refused, "
             f"{len(payload['skipped'])} Observation(s) skipped."]
    for number, step in enumerate(payload["steps"], 1):
        inputs = ", ".join(f"{k} {v}" for k, v in step["inputs"].items())
        late = " (late entry)" if step["late"] else ""
        if step["outcome"] == "accepted":
            what = "would be accepted" if payload["dry_run"] else f"accepted #{step['seq']}"
            outcome = f"{what}: CRS {grade_text(step['crs_grade'])}, ICANS {grade_text(step['icans_grade'])}"
        else:
            outcome = f"refused by {step['rule']}: {step['message']}"
        lines.append(f"  {number}. {step['at']}{late}  {inputs}  -> {outcome}")
        lines += [f"     noted: {note} (sets nothing)" for note in step["notes"]]
    lines += [f"  skipped {s['resource']}: {s['reason']}" for s in payload["skipped"]]
    if payload["ignored"]:
        lines.append("  not Observations, ignored: " + ", ".join(f"{n} {k}" for k, n in payload["ignored"].items()))
    return "\n".join(lines) + "\n"
