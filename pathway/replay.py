"""Replay: re-decide every stored event from the events before it.

Folding trusts events; replaying does not. Each event is turned back into the command that made
it and decided again at its own `recorded_at`; the pathway must produce the very same event.
An event the pathway would refuse, or would record differently, is named by seq.
"""

from typing import Iterable

from pathway.commands import AdministerDose, Close, OpenEpisode, RecordAction, RecordObservation, Resolve, StepCommand
from pathway.episode import Episode, apply
from pathway.errors import Refused
from pathway.events import Event
from pathway.machine import decide, decide_open
from pathway.observations import Observation
from pathway.policy import Policy


def command_of(event: Event) -> OpenEpisode | StepCommand:
    """The command that made this event (what the clinician asked, with its override reason)."""
    d, common = event.data, {"at": event.at, "actor": event.actor}
    reason = event.override.reason if event.override else None
    if event.kind == "open":
        return OpenEpisode(**common, patient_ref=d["patient_ref"], weight_kg=d["weight_kg"],
                           age_years=d["age_years"], context=d.get("context"), policy=Policy.model_validate(d["policy"]))
    step = {**common, "episode_id": event.episode_id}
    if event.kind == "observe":
        return RecordObservation(**step, observation=Observation.model_validate(d["observation"]))
    if event.kind == "give":
        return AdministerDose(**step, drug=d["drug"], dose_mg=d["dose_mg"], route=d["route"], override_reason=reason)
    if event.kind == "act":
        return RecordAction(**step, action=d["action"], note=d.get("note"))
    if event.kind == "resolve":
        return Resolve(**step, override_reason=reason)
    return Close(**step, reason=d.get("reason"))


def replay_problems(events: Iterable[Event]) -> list[tuple[int, str]]:
    """(seq, problem) for every event the pathway would not reproduce exactly; [] when all replay."""
    problems: list[tuple[int, str]] = []
    episode: Episode | None = None
    expected_seq = 1
    for event in events:
        if event.seq != expected_seq:
            problems.append((event.seq, f"expected seq {expected_seq}"))
            return problems
        try:
            command = command_of(event)
            if isinstance(command, OpenEpisode):
                again = decide_open(command, event.episode_id, event.recorded_at)
            elif episode is None:
                raise ValueError("the first event is not an open")
            else:
                again = decide(episode, command, event.recorded_at)
        except Refused as refused:
            problems.append((event.seq, f"the pathway refuses this step on replay ({', '.join(refused.rules)})"))
            return problems
        except (ValueError, KeyError, TypeError) as err:
            # the error's text may quote stored values: name only its kind (no patient data in output)
            problems.append((event.seq, f"the event cannot be replayed ({type(err).__name__})"))
            return problems
        if again != event:
            fields = [name for name in Event.model_fields if getattr(again, name) != getattr(event, name)]
            problems.append((event.seq, f"replay differs in {', '.join(fields)}"))
            return problems
        episode = apply(episode, event)
        expected_seq += 1
    return problems
