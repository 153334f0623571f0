"""Conversions between domain objects (pathway.*) and storage rows, in one place.

The round trip must be exact: `event_from_row(event_params(e, ...)).canonical() ==
e.canonical()`, or a freshly written chain would fail `audit verify`. JSON is written from
`model_dump(mode="json")` so what is stored is already JSON-native and reads back identically.
"""

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pathway.clock import as_utc
from pathway.episode import Episode
from pathway.events import Event
from pathway.service import RefusalRecord

_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%f+00:00"


def time_text(value: datetime) -> str:
    """Fixed-width ISO UTC text: sorts as text and parses back to the same instant."""
    return as_utc(value).strftime(_TIME_FORMAT)


def text_time(value: str) -> datetime:
    return as_utc(datetime.fromisoformat(value))


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class StoredEvent:
    """An event as stored, with the chain links that protect it."""

    event: Event
    prev_hash: str
    hash: str


EVENT_COLUMNS = "episode_id, seq, kind, at, recorded_at, actor, from_state, to_state, payload, override, prev_hash, hash"


def event_params(event: Event, prev_hash: str, hash_: str) -> dict[str, Any]:
    plain = event.model_dump(mode="json")
    return {
        "episode_id": event.episode_id, "seq": event.seq, "kind": event.kind,
        "at": time_text(event.at), "recorded_at": time_text(event.recorded_at), "actor": event.actor,
        "from_state": event.from_state, "to_state": event.to_state, "payload": dumps(plain["data"]),
        "override": None if plain["override"] is None else dumps(plain["override"]),
        "prev_hash": prev_hash, "hash": hash_,
    }


def event_from_row(row: Any) -> StoredEvent:
    """Rebuild an Event from a row selected with EVENT_COLUMNS (raises on corrupt rows)."""
    event = Event.model_validate({
        "episode_id": row.episode_id, "seq": row.seq, "kind": row.kind,
        "at": text_time(row.at), "recorded_at": text_time(row.recorded_at), "actor": row.actor,
        "from_state": row.from_state, "to_state": row.to_state, "data": json.loads(row.payload),
        "override": None if row.override is None else json.loads(row.override),
    })
    return StoredEvent(event=event, prev_hash=row.prev_hash, hash=row.hash)


def episode_params(episode: Episode, event: Event, head_hash: str) -> dict[str, Any]:
    """The snapshot row's values after `event` made `episode`."""
    return {
        "id": episode.id, "patient_ref": episode.patient_ref, "state": str(episode.state),
        "version": episode.version, "policy_name": episode.policy.name, "policy_version": episode.policy.version,
        "policy_json": episode.policy.model_dump_json(), "opened_at": time_text(episode.opened_at),
        "updated_at": time_text(event.recorded_at), "snapshot": episode.model_dump_json(), "head_hash": head_hash,
    }


REFUSAL_COLUMNS = "at, recorded_at, actor, episode_id, kind, command, rule, rules, message"


def refusal_params(refusal: RefusalRecord) -> dict[str, Any]:
    return {
        "at": time_text(refusal.at), "recorded_at": time_text(refusal.recorded_at), "actor": refusal.actor,
        "episode_id": refusal.episode_id, "kind": refusal.kind, "command": dumps(refusal.command),
        "rule": refusal.rule, "rules": dumps(list(refusal.rules)), "message": refusal.message,
    }


def refusal_from_row(row: Any) -> RefusalRecord:
    return RefusalRecord(
        at=text_time(row.at), recorded_at=text_time(row.recorded_at), actor=row.actor, episode_id=row.episode_id,
        kind=row.kind, command=json.loads(row.command), rule=row.rule, rules=tuple(json.loads(row.rules)),
        message=row.message,
    )
