"""Replay: re-decide every stored event from the events before it.

Folding trusts events; replaying does not. Each event is turned back into the command that made
it and decided again at its own `recorded_at`; the pathway must produce the very same event
(compared field by field with the stored one, but for the store's stamps: login, snapshot hash).
An event the pathway would refuse, or would record differently, is named by seq. `replay` also
folds every event in the same pass, so a caller that needs the replayed episode (audit verify
compares it with the stored snapshot) does not fold the history a second time.
"""

from dataclasses import dataclass, field
from typing import Iterable, Sequence

from pathway.commands import Correct, OpenEpisode, Void
from pathway.episode import Episode, apply
from pathway.errors import IntegrityError, Invalid, Refused
from pathway.events import Event
from pathway.history import command_of, decide_change, is_change, redecide as redecide_history, standing
from pathway.machine import decide, decide_open

__all__ = ["FOLD_ERRORS", "Replayed", "command_of", "redecide", "replay", "replay_problems"]

#: What `fold` raises on events that do not make an episode (audit verify reports it, not the text).
FOLD_ERRORS = (ValueError, KeyError, TypeError, AttributeError)


def redecide(episode: Episode | None, event: Event, expected_seq: int,
             before: Sequence[Event] = ()) -> str | None:
    """Why the pathway, given `episode` (the fold of the events before, `before`), would not make `event`;
    None when it makes exactly this event. A correction, void or late entry is re-decided against the
    stored events before it, as when it was accepted. Problems never quote stored values (no patient data)."""
    if event.seq != expected_seq:
        return f"expected seq {expected_seq}"
    try:
        command = command_of(event)
        if isinstance(command, OpenEpisode):
            again = decide_open(command, event.episode_id, event.recorded_at)
        elif episode is None:
            raise ValueError("the first event is not an open")
        elif isinstance(command, (Correct, Void)) or is_change(event):
            again, _ = decide_change(episode, before, command, event.recorded_at)  # type: ignore[arg-type]
        else:
            again = decide(episode, command, event.recorded_at)
    except Refused as refused:
        return f"the pathway refuses this step on replay ({', '.join(refused.rules)})"
    except (Invalid, IntegrityError, ValueError, KeyError, TypeError, AttributeError) as err:
        # the error's text may quote stored values: name only its kind (no patient data in output)
        return f"the event cannot be replayed ({type(err).__name__})"
    decided = event.decided()  # the store's stamps (login, snapshot hash) are not the pathway's to decide
    if again != decided:
        fields = [name for name in Event.model_fields if getattr(again, name) != getattr(decided, name)]
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


def replay(events: Iterable[Event], *, redeciding: bool = True, settled: int = 0) -> Replayed:
    """Re-decide each event (until the first that does not replay) and fold them all, in one pass.

    `redeciding=False` only folds (a diagnostic of what the re-deciding costs). `settled` > 0 folds the
    events up to that seq without re-deciding them: an incremental audit from a signed checkpoint whose
    verify already re-decided them (persistence/checkpoint.py)."""
    result = Replayed()
    episode: Episode | None = None
    expected_seq = 1
    seen: list[Event] = []
    for event in events:
        if redeciding and event.seq > settled:
            problem = redecide(episode, event, expected_seq, seen)
            if problem is not None:
                result.problems.append((event.seq, problem))
                redeciding = False  # the rest would be decided on a history already wrong
        expected_seq += 1
        seen.append(event)
        try:
            episode = refold(seen) if is_change(event) else apply(episode, event)
        except FOLD_ERRORS:
            result.unfolded_at = event.seq
            return result
    result.episode = episode
    return result


def refold(events: Sequence[Event]) -> Episode:
    """The episode after a correction, void or late entry: its effective history re-decided and folded."""
    try:
        return redecide_history(standing(events)).episode
    except Refused as refused:
        raise ValueError(f"the corrected history does not replay ({refused.rule})") from None


def replay_problems(events: Iterable[Event]) -> list[tuple[int, str]]:
    """(seq, problem) for every event the pathway would not reproduce exactly; [] when all replay."""
    result = replay(events)
    if result.unfolded_at is not None and not result.problems:
        return [(result.unfolded_at, "the events do not fold into an episode")]
    return result.problems
