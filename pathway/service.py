"""handle(command, uow, now): load -> decide -> append -> commit. The one way a step happens.

The ports are Protocols so the pure core never imports the store; persistence/ implements them
on SQLite and PostgreSQL, and tests can run the same handler over any of them.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from pathway.clock import as_utc
from pathway.commands import Command, Correct, OpenEpisode, Void
from pathway.episode import Episode, apply
from pathway.errors import Refused, UntrustedRecord
from pathway.events import Event
from pathway.model import Frozen


class RefusalRecord(Frozen):
    """A refused attempt, for the refusal log (`crs audit refusals`). Never changes an episode."""


    at: datetime  # the clinical time the command asked for
    recorded_at: datetime
    actor: str
    episode_id: str | None
    kind: str
    command: dict[str, Any]
    rule: str
    rules: tuple[str, ...]
    message: str
    breaks_seq: int | None = None  # a correction or late entry: the recorded event it would break
    login: str | None = None  # stamped by the store: the authenticated identity that tried it


class UnitOfWork(Protocol):
    """One transaction. Leaving the `with` block without `commit()` rolls back."""

    def __enter__(self) -> "UnitOfWork": ...
    def __exit__(self, *exc: object) -> None: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...
    def new_episode_id(self) -> str: ...
    def load(self, episode_id: str) -> Episode:
        """The episode's snapshot, locked for this step where the backend can; NotFound if absent."""
        ...
    def events(self, episode_id: str) -> list[Event]:
        """Every stored event of the (loaded, locked) episode in seq order: a correction re-decides them."""
        ...
    def append(self, event: Event, snapshot: Episode) -> Event:
        """Append one event (seq must be the next) and store the new snapshot; Conflict if raced.
        Returns the event as stored: with the store's stamps (login, snapshot hash)."""
        ...
    def record_refusal(self, refusal: RefusalRecord) -> None: ...


@dataclass(frozen=True)
class StepResult:
    episode: Episode
    event: Event


def refusal_record(command: Command, refused: Refused | UntrustedRecord, now: datetime) -> RefusalRecord:
    return RefusalRecord(
        at=command.at, recorded_at=as_utc(now), actor=command.actor,
        episode_id=getattr(command, "episode_id", None), kind=command.kind,
        command=command.model_dump(mode="json", exclude={"policy"}),
        rule=refused.rule, rules=tuple(refused.rules), message=refused.message, breaks_seq=refused.breaks_seq,
    )


def rewrites_history(command: Command) -> bool:
    """A correction, a void or a late entry: decided against the whole stored history, not the snapshot alone."""
    return isinstance(command, (Correct, Void)) or getattr(command, "late", None) is not None


def handle(command: Command, uow: UnitOfWork, now: datetime) -> StepResult:
    """Run one step atomically. A refusal, or a snapshot that fails its check against the chain (the
    store's `load`), writes only its refusal-log row, then re-raises."""
    from pathway.machine import decide, decide_open  # the machine is built on first use

    try:
        with uow:
            if isinstance(command, OpenEpisode):
                event = decide_open(command, uow.new_episode_id(), now)
                episode = apply(None, event)
            else:
                current = uow.load(command.episode_id)
                if rewrites_history(command):  # the whole stored history (the common step never loads it)
                    from pathway.history import decide_change

                    event, episode = decide_change(current, uow.events(command.episode_id), command, now)
                else:
                    event = decide(current, command, now)  # type: ignore[arg-type]
                    episode = apply(current, event)
            stored = uow.append(event, episode)
            uow.commit()
            return StepResult(episode=episode, event=stored)
    except (Refused, UntrustedRecord) as refused:  # an untrusted snapshot: exit 5, logged like a refusal
        with uow:
            uow.record_refusal(refusal_record(command, refused, now))
            uow.commit()
        raise
