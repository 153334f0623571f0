"""Replay: re-decide every stored event from the events before it.

Folding trusts events; replaying does not. Each event is turned back into the command that made
it and decided again at its own `recorded_at`; the pathway must produce the very same event
(compared field by field with the stored one, but for the store's stamps: login, snapshot hash).
An event the pathway would refuse, or would record differently, is named by seq. `replay` also
folds every event in the same pass, so a caller that needs the replayed episode (audit verify
compares it with the stored snapshot) does not fold the history a second time.

Replay is by the version that decided (HAZARDS H23): only the events today's pathway decided
(`decided_version(event) == PATHWAY_VERSION`: the version an event records, or 2 for one the store stamped
before versions were recorded) are re-decided, and an episode's versions never go back. An event decided by an earlier pathway keeps its
decision: it is folded as recorded and counted (`Replayed.earlier`), its bytes vouched for by the chain
and by signed checkpoints. Re-deciding it with today's rules would make a clean record look forged (v2
made an unassessed grade null where v1 recorded 0), or re-interpret the past in silence.
"""

from dataclasses import dataclass, field
from typing import Iterable, Sequence

from pathway.commands import Correct, OpenEpisode, Void
from pathway.episode import Episode, apply
from pathway.errors import IntegrityError, Invalid, Refused
from pathway.events import PATHWAY_VERSION, Event, decided_version
from pathway.history import command_of, decide_change, is_change, redecide as redecide_history, standing
from pathway.machine import decide, decide_open

__all__ = ["FOLD_ERRORS", "Replayed", "command_of", "redecide", "replay", "replay_problems", "snapshot_disagreements"]

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
    #: Events decided by an earlier pathway version: folded as recorded, not re-decided (H23).
    earlier: int = 0


def replay(events: Iterable[Event], *, redeciding: bool = True, settled: int = 0) -> Replayed:
    """Re-decide each event (until the first that does not replay) and fold them all, in one pass.

    `redeciding=False` only folds (a diagnostic of what the re-deciding costs). `settled` > 0 folds the
    events up to that seq without re-deciding them: an incremental audit from a signed checkpoint whose
    verify already re-decided them (persistence/checkpoint.py)."""
    result = Replayed()
    episode: Episode | None = None
    expected_seq = 1
    seen: list[Event] = []
    versioned = False  # an event decided by today's pathway was seen: every later one must be too
    for event in events:
        current = decided_version(event) == PATHWAY_VERSION
        result.earlier += not current
        if not current and not result.problems and (event.seq != expected_seq or versioned):
            result.problems.append((event.seq, f"expected seq {expected_seq}" if event.seq != expected_seq else
                                    "an event decided by an earlier pathway after one decided by this pathway "
                                    "(a version cannot go back: edited)"))
            redeciding = False  # one problem: the first event that does not replay
        versioned = versioned or current
        if redeciding and event.seq > settled and current:
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


def snapshot_disagreements(stored: object, folded: object, path: str = "") -> list[str]:
    """Where a snapshot written by an earlier pathway disagrees with today's fold of the same history: the
    fields it records that the fold also has, compared value for value (lists item by item). A field only
    one side has is a difference of versions, not of facts; a recorded fact the fold does not reproduce
    (a dose deleted, a state changed) is a disagreement. Paths only, never values (no patient data)."""
    if isinstance(stored, dict) and isinstance(folded, dict):
        return [p for key in stored if key in folded
                for p in snapshot_disagreements(stored[key], folded[key], f"{path}.{key}" if path else key)]
    if isinstance(stored, list) and isinstance(folded, list):
        if len(stored) != len(folded):
            return [path]
        return [p for i, (a, b) in enumerate(zip(stored, folded)) for p in snapshot_disagreements(a, b, f"{path}[{i}]")]
    return [] if stored == folded else [path]


def replay_problems(events: Iterable[Event]) -> list[tuple[int, str]]:
    """(seq, problem) for every event the pathway would not reproduce exactly; [] when all replay."""
    result = replay(events)
    if result.unfolded_at is not None and not result.problems:
        return [(result.unfolded_at, "the events do not fold into an episode")]
    return result.problems
