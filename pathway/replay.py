"""Replay: re-decide every stored event from the events before it.

Folding trusts events; replaying does not. Each event is turned back into the command that made
it and decided again at its own `recorded_at`; the pathway must produce the very same event
(compared field by field with the stored one). An event the pathway would refuse, or would
record differently, is named by seq. `replay` also folds every event in the same pass, so a
caller that needs the replayed episode (audit verify compares it with the stored snapshot) does
not fold the history a second time.
"""

from dataclasses import dataclass, field
from typing import Iterable

from pathway.commands import AdministerDose, Close, OpenEpisode, RecordAction, RecordObservation, Resolve, StepCommand
from pathway.episode import Episode, apply
from pathway.errors import Invalid, Refused
from pathway.events import Event
from pathway.machine import decide, decide_open
from pathway.policy import Policy

#: What `fold` raises on events that do not make an episode (audit verify reports it, not the text).
FOLD_ERRORS = (ValueError, KeyError, TypeError, AttributeError)


def command_of(event: Event) -> OpenEpisode | StepCommand:
    """The command that made this event (what the clinician asked, with its override reason).

    Every command is validated as the CLI validates it (a stored dose of -5 mg cannot be replayed);
    each is built with one validation call, nested models included.
    """
    d, kind = event.data, event.kind
    if kind == "open":
        return OpenEpisode(at=event.at, actor=event.actor, patient_ref=d["patient_ref"], weight_kg=d["weight_kg"],
                           age_years=d["age_years"], context=d.get("context"), policy=Policy.model_validate(d["policy"]))
    step = {"at": event.at, "actor": event.actor, "episode_id": event.episode_id}
    if kind == "observe":
        step["observation"] = d["observation"]
        return RecordObservation.model_validate(step)
    reason = event.override.reason if event.override else None
    if kind == "give":
        return AdministerDose(**step, drug=d["drug"], dose_mg=d["dose_mg"], route=d["route"], override_reason=reason)
    if kind == "act":
        return RecordAction(**step, action=d["action"], note=d.get("note"))
    if kind == "resolve":
        return Resolve(**step, override_reason=reason)
    return Close(**step, reason=d.get("reason"))


def redecide(episode: Episode | None, event: Event, expected_seq: int) -> str | None:
    """Why the pathway, given `episode` (the fold of the events before), would not make `event`; None
    when it makes exactly this event. Problems never quote stored values (no patient data)."""
    if event.seq != expected_seq:
        return f"expected seq {expected_seq}"
    try:
        command = command_of(event)
        if isinstance(command, OpenEpisode):
            again = decide_open(command, event.episode_id, event.recorded_at)
        elif episode is None:
            raise ValueError("the first event is not an open")
        else:
            again = decide(episode, command, event.recorded_at)
    except Refused as refused:
        return f"the pathway refuses this step on replay ({', '.join(refused.rules)})"
    except (Invalid, ValueError, KeyError, TypeError, AttributeError) as err:
        # the error's text may quote stored values: name only its kind (no patient data in output)
        return f"the event cannot be replayed ({type(err).__name__})"
    if again != event:
        fields = [name for name in Event.model_fields if getattr(again, name) != getattr(event, name)]
        return f"replay differs in {', '.join(fields)}"
    return None


@dataclass
class Replayed:
    """The outcome of one pass over a history: what did not replay, and the fold of it all."""

    #: (seq, problem) for the first event the pathway would not reproduce; [] when all replay.
    problems: list[tuple[int, str]] = field(default_factory=list)
    #: fold(events) (every event, also those after a problem); None when there are none or it failed.
    episode: Episode | None = None
    #: The seq of the event the fold failed on (the events do not make an episode), else None.
    unfolded_at: int | None = None


def replay(events: Iterable[Event], *, redeciding: bool = True) -> Replayed:
    """Re-decide each event (until the first that does not replay) and fold them all, in one pass.

    `redeciding=False` only folds (a diagnostic of what the re-deciding costs)."""
    result = Replayed()
    episode: Episode | None = None
    expected_seq = 1
    for event in events:
        if redeciding:
            problem = redecide(episode, event, expected_seq)
            if problem is not None:
                result.problems.append((event.seq, problem))
                redeciding = False  # the rest would be decided on a history already wrong
            expected_seq += 1
        try:
            episode = apply(episode, event)
        except FOLD_ERRORS:
            result.unfolded_at = event.seq
            return result
    result.episode = episode
    return result


def replay_problems(events: Iterable[Event]) -> list[tuple[int, str]]:
    """(seq, problem) for every event the pathway would not reproduce exactly; [] when all replay."""
    result = replay(events)
    if result.unfolded_at is not None and not result.problems:
        return [(result.unfolded_at, "the events do not fold into an episode")]
    return result.problems
