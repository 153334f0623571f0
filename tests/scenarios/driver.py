"""An in-memory driver for whole episodes: decide + fold, no store. The pure core end to end."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from pathway.commands import AdministerDose, Close, OpenEpisode, RecordAction, RecordObservation, Resolve
from pathway.episode import Episode, apply
from pathway.events import Event
from pathway.machine import decide, decide_open
from pathway.observations import Observation
from pathway.recommend import status

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def t(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


@dataclass
class Driver:
    """Steps one episode in memory; `now` trails each step's clinical time by a minute."""

    episode: Episode | None = None
    events: list[Event] = field(default_factory=list)
    actor: str = "nurse-a"

    def _commit(self, event: Event) -> Episode:
        self.episode = apply(self.episode, event)
        self.events.append(event)
        return self.episode

    def open(self, at: datetime, **kw: Any) -> Episode:
        cmd = OpenEpisode(at=at, actor=self.actor, **kw)
        return self._commit(decide_open(cmd, "E0001", at + timedelta(minutes=1)))

    def step(self, cmd: Any) -> Event:
        assert self.episode is not None
        event = decide(self.episode, cmd, cmd.at + timedelta(minutes=1))
        self._commit(event)
        return event

    def observe(self, at: datetime, **obs: Any) -> dict[str, Any]:
        self.step(RecordObservation(at=at, actor=self.actor, episode_id="E0001", observation=Observation(**obs)))
        return self.status(at)

    def give(self, at: datetime, drug: str, dose_mg: float, override: str | None = None) -> Event:
        return self.step(AdministerDose(at=at, actor=self.actor, episode_id="E0001", drug=drug, dose_mg=dose_mg,
                                        override_reason=override))

    def act(self, at: datetime, action: str) -> Event:
        return self.step(RecordAction(at=at, actor=self.actor, episode_id="E0001", action=action))

    def resolve(self, at: datetime, override: str | None = None) -> Event:
        return self.step(Resolve(at=at, actor=self.actor, episode_id="E0001", override_reason=override))

    def close(self, at: datetime, reason: str | None = None) -> Event:
        return self.step(Close(at=at, actor=self.actor, episode_id="E0001", reason=reason))

    def status(self, at: datetime) -> dict[str, Any]:
        assert self.episode is not None
        return status(self.episode, at)


def gives(st: dict[str, Any]) -> list[tuple[str, float | None]]:
    return [(s["drug"], s["dose_mg"]) for s in st["next_steps"] if s["kind"] == "give"]


def acts(st: dict[str, Any]) -> list[str]:
    return [s["action"] for s in st["next_steps"] if s["kind"] == "act"]
