"""Conversions between domain objects (pathway.*) and storage rows, in one place.

The round trip must be exact: `event_from_row(event_params(e, ...)).canonical() ==
e.canonical()` (and the hash event_params computes is over that same text), or a freshly written chain would fail `audit verify`. JSON is written from
`model_dump(mode="json")` so what is stored is already JSON-native and reads back identically.
"""

import hashlib
import json
from collections import namedtuple
from dataclasses import dataclass
from json.encoder import encode_basestring as _quoted  # type: ignore[attr-defined]  # json.dumps of one str
from datetime import datetime
from collections.abc import Mapping
from typing import Any

from pathway.clock import as_utc
from pathway.episode import Episode
from pathway.events import Event
from pathway.service import RefusalRecord
from persistence.chain import link

def time_text(value: datetime) -> str:
    """Fixed-width ISO UTC text (YYYY-MM-DDTHH:MM:SS.ffffff+00:00): sorts as text and parses back
    to the same instant. isoformat, not strftime: the same text, a third of the time."""
    return as_utc(value).isoformat(timespec="microseconds")  # a UTC time ends in +00:00


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


EVENT_COLUMNS = ("episode_id, seq, kind, at, recorded_at, actor, from_state, to_state, payload, override, prev_hash, hash, "
                 "target_seq, login, snapshot_sha256")
#: An event row as plain tuple with names (what a DB-API cursor returns, made readable).
EventRecord = namedtuple("EventRecord", EVENT_COLUMNS.replace(",", " "))


def target_of(event: Event) -> int | None:
    """The `target_seq` column: the seq a correct or void event replaces (NULL for every other event)."""
    return event.data.get("target_seq") if event.kind in ("correct", "void") else None


def event_params(event: Event, prev_hash: str) -> dict[str, Any]:
    """The event's row, its hash included. `data` and `override` are serialised once, and the
    hashed text is spliced from those very column texts (canonical_text), which is also how
    audit verify recomputes it; tests check that it equals `Event.canonical()`."""
    plain = event.model_dump(mode="json", include={"data", "override"})
    row = {
        "episode_id": event.episode_id, "seq": event.seq, "kind": event.kind,
        "at": time_text(event.at), "recorded_at": time_text(event.recorded_at), "actor": event.actor,
        "from_state": event.from_state, "to_state": event.to_state, "payload": dumps(plain["data"]),
        "override": None if plain.get("override") is None else dumps(plain["override"]),
        "prev_hash": prev_hash, "target_seq": target_of(event), "login": event.login,
        "snapshot_sha256": event.snapshot_sha256,
    }
    canonical = canonical_text(row)
    row["hash"] = link(prev_hash, canonical if canonical is not None else event.canonical())
    return row


def event_from_row(row: Any) -> StoredEvent:
    """Rebuild an Event from a row selected with EVENT_COLUMNS (raises on corrupt rows)."""
    event = Event.model_validate({
        "episode_id": row.episode_id, "seq": row.seq, "kind": row.kind,
        "at": text_time(row.at), "recorded_at": text_time(row.recorded_at), "actor": row.actor,
        "from_state": row.from_state, "to_state": row.to_state, "data": json.loads(row.payload),
        "override": None if row.override is None else json.loads(row.override),
        "login": row.login, "snapshot_sha256": row.snapshot_sha256,
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
    return _splice(row.episode_id, row.seq, row.kind, row.at, row.recorded_at, row.actor, row.from_state,
                   row.to_state, row.payload, row.override, row.login, row.snapshot_sha256)


def canonical_text(columns: Mapping[str, Any]) -> str | None:
    """The canonical JSON of an event from its column values (see canonical_from_row); None when
    a value has a shape the splice does not cover."""
    return _splice(columns["episode_id"], columns["seq"], columns["kind"], columns["at"], columns["recorded_at"],
                   columns["actor"], columns["from_state"], columns["to_state"], columns["payload"],
                   columns["override"], columns["login"], columns["snapshot_sha256"])


def _splice(episode_id: Any, seq: Any, kind: Any, at: Any, recorded_at: Any, actor: Any, from_state: Any,
            to_state: Any, payload: Any, override: Any, login: Any, snapshot_sha256: Any) -> str | None:
    if not (isinstance(at, str) and isinstance(recorded_at, str) and isinstance(seq, int)):
        return None
    at, recorded_at = _canonical_time(at), _canonical_time(recorded_at)
    if at is None or recorded_at is None:
        return None
    try:
        return "".join((
            '{"actor":', _quoted(actor), ',"at":"', at, '","data":', payload, ',"episode_id":', _quoted(episode_id),
            ',"from_state":', "null" if from_state is None else _quoted(from_state),
            ',"kind":', _quoted(kind), "" if login is None else ',"login":' + _quoted(login),
            ',"override":', "null" if override is None else override,
            ',"recorded_at":"', recorded_at, '","seq":', str(seq),
            "" if snapshot_sha256 is None else ',"snapshot_sha256":' + _quoted(snapshot_sha256),
            ',"to_state":', _quoted(to_state), "}",
        ))
    except TypeError:  # a column of the wrong type (edited): the full path names the problem
        return None


def snapshot_text(episode: Episode) -> str:
    """The snapshot row's JSON: canonical (sorted keys, like an event's), so the same episode always has the
    same text whether it was stepped to or folded from stored events (whose data reads back key-sorted), and
    anyone can recompute the snapshot hash an event records from the fold of its history."""
    return dumps(episode.model_dump(mode="json"))


def snapshot_sha256(snapshot: str) -> str:
    """The hash an event records of the snapshot it produced (`Event.snapshot_sha256`): SHA-256 of its UTF-8 text."""
    return hashlib.sha256(snapshot.encode("utf-8")).hexdigest()


def episode_params(episode: Episode, event: Event, head_hash: str, snapshot: str | None = None) -> dict[str, Any]:
    """The snapshot row's values after `event` made `episode` (`snapshot`: its JSON, if already made)."""
    return {
        "id": episode.id, "patient_ref": episode.patient_ref, "state": str(episode.state),
        "version": episode.version, "policy_name": episode.policy.name, "policy_version": episode.policy.version,
        "policy_json": episode.policy.model_dump_json(), "opened_at": time_text(episode.opened_at),
        "updated_at": time_text(event.recorded_at),
        "snapshot": snapshot_text(episode) if snapshot is None else snapshot, "head_hash": head_hash,
    }


def snapshot_params(episode: Episode, event: Event, head_hash: str, snapshot: str | None = None) -> dict[str, Any]:
    """What a step changes in the snapshot row (an UPDATE needs neither the policy nor opened_at)."""
    return {
        "id": episode.id, "state": str(episode.state), "version": episode.version,
        "updated_at": time_text(event.recorded_at),
        "snapshot": snapshot_text(episode) if snapshot is None else snapshot, "head_hash": head_hash,
    }


REFUSAL_COLUMNS = "at, recorded_at, actor, episode_id, kind, command, rule, rules, message, breaks_seq, login"
#: The refusal log's own hash chain (schema 0003): one chain over the whole log, in `seq` order.
REFUSAL_CHAIN_COLUMNS = "seq, prev_hash, hash"
#: A refusal row as a plain tuple with names, chain columns first.
RefusalRecordRow = namedtuple("RefusalRecordRow", (REFUSAL_CHAIN_COLUMNS + ", " + REFUSAL_COLUMNS).replace(",", " "))
#: The columns a refusal's hash covers: every column but `id` (a database counter) and the hash itself.
REFUSAL_HASHED = ("seq", "at", "recorded_at", "actor", "login", "episode_id", "kind", "command", "rule", "rules",
                  "message", "breaks_seq")


def refusal_params(refusal: RefusalRecord) -> dict[str, Any]:
    return {
        "at": time_text(refusal.at), "recorded_at": time_text(refusal.recorded_at), "actor": refusal.actor,
        "episode_id": refusal.episode_id, "kind": refusal.kind, "command": dumps(refusal.command),
        "rule": refusal.rule, "rules": dumps(list(refusal.rules)), "message": refusal.message,
        "breaks_seq": refusal.breaks_seq, "login": refusal.login,
    }


def refusal_canonical(columns: Mapping[str, Any]) -> str:
    """The text a refusal's hash covers: its stored column values (REFUSAL_HASHED) as canonical JSON.

    The JSON columns (`command`, `rules`) are covered as the very text stored, so verify needs no
    re-serialisation: ``hash = sha256(prev_hash + refusal_canonical(row))``, genesis 64 zeros, as for events."""
    return dumps({name: columns[name] for name in REFUSAL_HASHED})


def chained_refusal(params: dict[str, Any], seq: int, prev_hash: str) -> dict[str, Any]:
    """A refusal row's values with its place in the refusal log's chain (seq, prev_hash, hash)."""
    row = {**params, "seq": seq, "prev_hash": prev_hash}
    row["hash"] = link(prev_hash, refusal_canonical(row))
    return row


def refusal_from_row(row: Any) -> RefusalRecord:
    return RefusalRecord(
        at=text_time(row.at), recorded_at=text_time(row.recorded_at), actor=row.actor, episode_id=row.episode_id,
        kind=row.kind, command=json.loads(row.command), rule=row.rule, rules=tuple(json.loads(row.rules)),
        message=row.message, breaks_seq=row.breaks_seq, login=row.login,
    )
