"""Conversions between domain objects (pathway.*) and storage rows, in one place.

The round trip must be exact: `event_from_row(event_params(e, ...)).canonical() ==
e.canonical()`, or a freshly written chain would fail `audit verify`. JSON is written from
`model_dump(mode="json")` so what is stored is already JSON-native and reads back identically.
"""

import json
from dataclasses import dataclass
from json.encoder import encode_basestring as _quoted  # type: ignore[attr-defined]  # json.dumps of one str
from datetime import datetime
from typing import Any

from pathway.clock import as_utc
from pathway.episode import Episode
from pathway.events import Event
from pathway.service import RefusalRecord

def time_text(value: datetime) -> str:
    """Fixed-width ISO UTC text (YYYY-MM-DDTHH:MM:SS.ffffff+00:00): sorts as text and parses back
    to the same instant. isoformat, not strftime: the same text, a third of the time."""
    return as_utc(value).replace(tzinfo=None).isoformat(timespec="microseconds") + "+00:00"


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


def _canonical_time(value: str) -> str | None:
    """Stored fixed-width UTC text -> the form pydantic's JSON gives that instant (Z; micro if any)."""
    if len(value) != 32 or not value.endswith("+00:00") or value[19] != ".":
        return None
    return (value[:19] if value[20:26] == "000000" else value[:26]) + "Z"


def canonical_from_row(row: Any) -> str | None:
    """Event.canonical() of a stored row, assembled from its columns without building the Event.

    A shortcut for audit verify: the JSON columns are stored with the canonical settings, so they
    splice in verbatim. If the hash of this text matches the stored hash, the row is byte for byte
    what was hashed; if it does not (or the row has an unusual shape: None), the audit takes the
    full path, so a mismatch here can only cost time, never hide or invent a problem.
    """
    at, recorded_at = _canonical_time(row.at), _canonical_time(row.recorded_at)
    if at is None or recorded_at is None or not isinstance(row.seq, int):
        return None
    try:
        return "".join((
            '{"actor":', _quoted(row.actor), ',"at":"', at, '","data":', row.payload,
            ',"episode_id":', _quoted(row.episode_id),
            ',"from_state":', "null" if row.from_state is None else _quoted(row.from_state),
            ',"kind":', _quoted(row.kind), ',"override":', "null" if row.override is None else row.override,
            ',"recorded_at":"', recorded_at, '","seq":', str(row.seq), ',"to_state":', _quoted(row.to_state), "}",
        ))
    except TypeError:  # a column of the wrong type (edited): the full path names the problem
        return None


def episode_params(episode: Episode, event: Event, head_hash: str) -> dict[str, Any]:
    """The snapshot row's values after `event` made `episode`."""
    return {
        "id": episode.id, "patient_ref": episode.patient_ref, "state": str(episode.state),
        "version": episode.version, "policy_name": episode.policy.name, "policy_version": episode.policy.version,
        "policy_json": episode.policy.model_dump_json(), "opened_at": time_text(episode.opened_at),
        "updated_at": time_text(event.recorded_at), "snapshot": episode.model_dump_json(), "head_hash": head_hash,
    }


def snapshot_params(episode: Episode, event: Event, head_hash: str) -> dict[str, Any]:
    """What a step changes in the snapshot row (an UPDATE needs neither the policy nor opened_at)."""
    return {
        "id": episode.id, "state": str(episode.state), "version": episode.version,
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
