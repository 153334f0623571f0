"""Real steps through pathway.service.handle, with a deterministic clinical clock.

`now` is always the command's time plus a minute, so no test depends on the wall clock.
"""

from datetime import datetime, timedelta, timezone
from typing import Any

from pathway.commands import AdministerDose, Command, OpenEpisode, RecordAction, RecordObservation
from pathway.observations import Observation
from pathway.service import StepResult, handle
from persistence.store import Store

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=timezone.utc)
ACTOR = "tester"


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def run(store: Store, command: Command, now: datetime | None = None) -> StepResult:
    return handle(command, store.unit_of_work(), now or command.at + minutes(1))


def open_episode(store: Store, at: datetime = T0, weight_kg: float = 70, patient_ref: str = "PT-0001") -> str:
    cmd = OpenEpisode(at=at, actor=ACTOR, patient_ref=patient_ref, weight_kg=weight_kg, age_years=54)
    return run(store, cmd).episode.id


def observe(store: Store, episode_id: str, at: datetime, **observation: Any) -> StepResult:
    obs = Observation(**(observation or {"temp_c": 38.5, "o2_device": "nasal-cannula", "o2_flow_lpm": 2}))
    return run(store, RecordObservation(at=at, actor=ACTOR, episode_id=episode_id, observation=obs))


def give(store: Store, episode_id: str, at: datetime, drug: str = "tocilizumab", dose_mg: float = 560,
         override_reason: str | None = None) -> StepResult:
    cmd = AdministerDose(at=at, actor=ACTOR, episode_id=episode_id, drug=drug, dose_mg=dose_mg,
                         override_reason=override_reason)
    return run(store, cmd)


def act(store: Store, episode_id: str, at: datetime, action: str = "labs") -> StepResult:
    return run(store, RecordAction(at=at, actor=ACTOR, episode_id=episode_id, action=action))


def treated_episode(store: Store, patient_ref: str = "PT-0001") -> str:
    """open, grade-2 observation, tocilizumab, labs, observation: five events, state tocilizumab."""
    episode_id = open_episode(store, patient_ref=patient_ref)
    observe(store, episode_id, T0 + minutes(10))
    give(store, episode_id, T0 + minutes(20))
    act(store, episode_id, T0 + minutes(30))
    observe(store, episode_id, T0 + minutes(40), temp_c=38.9)
    return episode_id
