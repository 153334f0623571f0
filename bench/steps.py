"""The step mix the throughput benchmarks drive, and the raw baselines' one event-sized row.

Three observations (each a little different) and one recorded action in every four steps: what a
ward records most. Time is an argument: each step is one second after the previous one, and
`now` is the step's own time, so no step is ever in the future or out of order.
"""

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

from bench.history import ACTOR, OBSERVATIONS
from pathway.commands import Command, OpenEpisode, RecordAction, RecordObservation
from pathway.drugs import Action
from pathway.service import handle
from persistence.store import Store

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=timezone.utc)
RAW_COLUMNS = ("episode_id", "seq", "kind", "at", "recorded_at", "actor", "from_state", "to_state", "payload",
               "override", "prev_hash", "hash", "login", "snapshot_sha256")
RAW_TABLE = ("CREATE TABLE IF NOT EXISTS raw_event (episode_id VARCHAR(16) NOT NULL, seq INTEGER NOT NULL, "
             "kind VARCHAR(16) NOT NULL, at VARCHAR(32) NOT NULL, recorded_at VARCHAR(32) NOT NULL, "
             "actor VARCHAR(64) NOT NULL, from_state VARCHAR(32), to_state VARCHAR(32) NOT NULL, payload TEXT NOT NULL, "
             "override TEXT, prev_hash VARCHAR(64) NOT NULL, hash VARCHAR(64) NOT NULL, login VARCHAR(64) NOT NULL, "
             "snapshot_sha256 VARCHAR(64) NOT NULL, PRIMARY KEY (episode_id, seq))")


def open_episode(store: Store, number: int, at: datetime = T0) -> str:
    cmd = OpenEpisode(at=at, actor=ACTOR, patient_ref=f"BENCH-{number}", weight_kg=70.0, age_years=50.0)
    return handle(cmd, store.unit_of_work(), at).episode.id


def commands(episode_id: str, start: datetime, count: int) -> Iterator[Command]:
    for i in range(1, count + 1):
        at = start + timedelta(seconds=i)
        if i % 4 == 0:
            yield RecordAction(at=at, actor=ACTOR, episode_id=episode_id, action=Action.LABS)
        else:
            yield RecordObservation(at=at, actor=ACTOR, episode_id=episode_id, observation=OBSERVATIONS[i % 3])


def run_steps(store: Store, episode_id: str, start: datetime, count: int) -> datetime:
    """`count` durable steps through the service; returns the last step's time."""
    last = start
    for cmd in commands(episode_id, start, count):
        handle(cmd, store.unit_of_work(), cmd.at)
        last = cmd.at
    return last


def event_row(episode_id: str = "ERAW01") -> dict[str, Any]:
    """The columns of a real observe event (as the store writes them, stamps included): the raw loops' row."""
    from bench.history import course_events
    from pathway.episode import fold
    from persistence.chain import GENESIS
    from persistence.identity import os_login
    from persistence.rows import event_params, snapshot_sha256, snapshot_text

    events = course_events(3, episode_id=episode_id)
    stamps = {"login": os_login(), "snapshot_sha256": snapshot_sha256(snapshot_text(fold(events)))}
    return event_params(events[-1].model_copy(update=stamps), GENESIS)
