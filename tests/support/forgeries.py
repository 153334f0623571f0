"""Forgeries of the record, each built the strongest way an administrator could (HAZARDS H19).

Each forgery is a function `(url, store) -> episode id | None` that rewrites the database behind the
store's back (tests/support/tamper.py: the append-only triggers out of the way), on a database that
holds `build_scene(store)`, typically after a checkpoint of it was taken (`checkpoint_of`). What it
writes is what this very project would have written: events re-decided by the pathway, stamped and
hashed with persistence/rows.py, the episode row (snapshot, state, updated_at, head) made to agree,
and refusal-log entries re-chained with `chained_refusal`. It returns the episode a step should then
be tried on (the step-time snapshot check), or None where no episode's step is concerned.

`FORGERIES` maps each name to its function. Every function carries, besides its docstring (what it
forges and which check should catch it):
- `caught_by_plain`: `audit verify` without a checkpoint reports it;
- `caught_at_step`: a step on the returned episode is refused (RECORD_INTEGRITY, exit 5).
Verify with a checkpoint taken before the forgery catches every one (a signed, external anchor).

The module runs against the previous release too (for the "passed verify before" proof): where a
column, a stamp or the refusal chain does not exist yet, it writes what that release would have.
"""

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pathway.commands import OpenEpisode, RecordObservation
from pathway.episode import Episode, apply, fold
from pathway.errors import Refused
from pathway.events import Event
from pathway.history import command_of
from pathway.machine import decide, decide_open
from pathway.observations import Observation
from persistence.chain import GENESIS
from persistence.ids import random_episode_id
from persistence.rows import dumps, episode_params, event_params, time_text
from persistence.store import Store
from tests.support.steps import ACTOR, T0, give, minutes, observe, open_episode, treated_episode
from tests.support.tamper import EVENT_ROW_COLUMNS, forge_tail, placeholders, raw_connect, tamper

try:  # this release: the snapshot's canonical text and its hash in the head event
    from persistence.rows import snapshot_sha256, snapshot_text
except ImportError:  # the previous release stored model_dump_json() and no hash
    snapshot_sha256 = None  # type: ignore[assignment]

    def snapshot_text(episode: Episode) -> str:  # type: ignore[misc]
        return episode.model_dump_json()
try:  # this release: the refusal log is one hash chain
    from persistence.rows import REFUSAL_COLUMNS, chained_refusal
except ImportError:  # the previous release: no chain
    from persistence.rows import REFUSAL_COLUMNS  # type: ignore[no-redef]

    chained_refusal = None  # type: ignore[assignment]

STAMPED = "snapshot_sha256" in Event.model_fields
VICTIM_REF, BYSTANDER_REF = "PT-VICTIM", "PT-BYSTANDER"
#: When the scene's checkpoint is taken: after every event and refusal of the scene (they end at T0+57 min).
CHECKPOINT_AT = T0 + minutes(120)
#: The recorded time a forger backdates to: after the scene, well before the checkpoint (and its margin).
BACKDATED = T0 + minutes(90)
#: Growth after the checkpoint is recorded from here on.
AFTER = T0 + minutes(150)


@dataclass(frozen=True)
class Scene:
    victim: str  # five events: open, observe, tocilizumab, labs, observe
    bystander: str  # the same five events
    refusals: int  # three refused repeat doses of the victim's, in the refusal log


def build_scene(store: Store) -> Scene:
    """Two treated episodes and three refused attempts, all recorded before CHECKPOINT_AT."""
    victim = treated_episode(store, patient_ref=VICTIM_REF)
    bystander = treated_episode(store, patient_ref=BYSTANDER_REF)
    for n in range(3):  # a repeat tocilizumab dose within 8 h: refused (TOCI_MIN_INTERVAL), logged
        try:
            give(store, victim, T0 + minutes(50 + 3 * n))
        except Refused:
            pass
        else:
            raise AssertionError("the repeat dose was not refused")
    return Scene(victim=victim, bystander=bystander, refusals=3)


def grow(store: Store) -> str:
    """What the record may do after a checkpoint: the victim observed, a refusal, a new episode (its id)."""
    victim = episode_id(store, VICTIM_REF)
    observe(store, victim, AFTER)
    try:
        give(store, victim, AFTER + minutes(2))  # within 8 h of the dose: refused and logged
    except Refused:
        pass
    return open_episode(store, at=AFTER + minutes(5), patient_ref="PT-NEW")


def checkpoint_of(store: Store, at: datetime = CHECKPOINT_AT) -> Any:
    """A checkpoint of the store taken at `at`, signed with a fresh key and read back as verify reads it:
    (persistence.checkpoint.Checkpoint, the private key). The store must verify."""
    from persistence import checkpoint

    report, body = checkpoint.take(store, at)
    assert body is not None, report.as_json()
    key = checkpoint.generate_key()
    text = checkpoint.text_of(checkpoint.sign(body, key)).encode("utf-8")
    return checkpoint.read(text, key.public_key()), key


def episode_id(store: Store, patient_ref: str) -> str:
    found = [e.id for e in store.episodes() if e.patient_ref == patient_ref]
    assert len(found) == 1, f"{len(found)} episodes of {patient_ref}"
    return found[0]


# -- writing histories the way the store does --------------------------------------------------------------

def _stamped(event: Event, episode: Episode, login: str | None) -> Event:
    """The event as the store appends it: with the writer's login and the hash of the snapshot it made."""
    if not STAMPED:
        return event
    return event.model_copy(update={"login": login, "snapshot_sha256": snapshot_sha256(snapshot_text(episode))})


def _decided(before: list[Event], steps: list[tuple[Any, datetime]], login: str | None) -> list[Event]:
    """Each (command, recorded_at) decided by the pathway after `before`, as it would have been then."""
    episode = fold(before)
    made: list[Event] = []
    for command, now in steps:
        event = decide(episode, command, now) if episode is not None else None
        assert event is not None
        episode = apply(episode, event)
        made.append(_stamped(event, episode, login))
    return made


def _login(events: list[Event]) -> str | None:
    return getattr(events[-1], "login", None)


def _point_row(url: str, episode: str, events: list[Event]) -> None:
    """The episode row agrees with `events` (forge_tail already set version and head_hash)."""
    folded = fold(events)
    assert folded is not None
    tamper(url, ("UPDATE episode SET snapshot = ?, state = ?, updated_at = ? WHERE id = ?",
                 (snapshot_text(folded), str(folded.state), time_text(events[-1].recorded_at), episode)))


def _rewrite(url: str, store: Store, episode: str, keep: int, steps: list[tuple[Any, datetime]]) -> None:
    """Keep the first `keep` events, then the `steps` re-decided, stamped and hashed: a chain that verifies."""
    stored = [s.event for s in store.history(episode)]
    made = _decided(stored[:keep], steps, _login(stored))
    forge_tail(url, episode, keep, made)
    _point_row(url, episode, stored[:keep] + made)


def _again(events: list[Event]) -> list[tuple[Any, datetime]]:
    """The stored events as the commands that made them, at their recorded times (to decide them again)."""
    return [(command_of(e), e.recorded_at) for e in events]


def _observation(episode: str, at: datetime, temp_c: float = 38.6) -> RecordObservation:
    return RecordObservation(at=at, actor=ACTOR, episode_id=episode, observation=Observation(
        temp_c=temp_c, o2_device="nasal-cannula", o2_flow_lpm=2))


def _forgery(*, plain: bool, step: bool) -> Callable[[Callable[[str, Store], str | None]],
                                                      Callable[[str, Store], str | None]]:
    def register(function: Callable[[str, Store], str | None]) -> Callable[[str, Store], str | None]:
        function.caught_by_plain = plain  # type: ignore[attr-defined]
        function.caught_at_step = step  # type: ignore[attr-defined]
        FORGERIES[function.__name__] = function
        return function
    return register


FORGERIES: dict[str, Callable[[str, Store], str | None]] = {}


# -- events: edited, deleted, inserted, appended, cut, re-hashed --------------------------------------------

@_forgery(plain=False, step=False)
def event_edited_rehashed(url: str, store: Store) -> str | None:
    """The victim's first observation (seq 2) recorded a different temperature, and everything after it
    re-decided and re-hashed, the snapshot folded again: the chain, the replay and the snapshot agree.
    Caught only by a checkpoint (seq 5's hash is not the checkpoint's)."""
    victim = episode_id(store, VICTIM_REF)
    stored = [s.event for s in store.history(victim)]
    edited = command_of(stored[1])
    edited = edited.model_copy(update={"observation": edited.observation.model_copy(update={"temp_c": 39.4})})
    _rewrite(url, store, victim, 1, [(edited, stored[1].recorded_at), *_again(stored[2:])])
    return victim


@_forgery(plain=False, step=False)
def event_deleted_rehashed(url: str, store: Store) -> str | None:
    """The victim's labs (seq 4) removed and the last observation re-decided as seq 4, re-hashed, the episode
    row made to agree. Caught only by a checkpoint (the checkpoint's seq 5 is gone)."""
    victim = episode_id(store, VICTIM_REF)
    stored = [s.event for s in store.history(victim)]
    _rewrite(url, store, victim, 3, _again(stored[4:]))
    return victim


@_forgery(plain=False, step=False)
def event_inserted_rehashed(url: str, store: Store) -> str | None:
    """An observation that never happened slipped in after the victim's dose (as seq 4), the rest re-decided
    after it and re-hashed. Caught only by a checkpoint (seq 5's hash differs)."""
    victim = episode_id(store, VICTIM_REF)
    stored = [s.event for s in store.history(victim)]
    inserted = _observation(victim, T0 + minutes(25))
    _rewrite(url, store, victim, 3, [(inserted, T0 + minutes(26)), *_again(stored[3:])])
    return victim


@_forgery(plain=False, step=False)
def tail_truncated(url: str, store: Store) -> str | None:
    """The victim's history cut after its dose (seq 3), the episode row pointed at it (snapshot, state,
    version, head, updated_at). Caught only by a checkpoint (or a digest): the chain is shorter, not wrong."""
    victim = episode_id(store, VICTIM_REF)
    _rewrite(url, store, victim, 3, [])
    return victim


@_forgery(plain=False, step=False)
def event_appended_backdated(url: str, store: Store) -> str | None:
    """An observation appended to the bystander with a recorded_at backdated to before the checkpoint,
    decided by the pathway and chained, the episode row made to agree. A digest passes it (the digest's
    seq is still there); caught only by a checkpoint: recorded before it, yet not in it."""
    bystander = episode_id(store, BYSTANDER_REF)
    _rewrite(url, store, bystander, 5, [(_observation(bystander, BACKDATED - minutes(1)), BACKDATED)])
    return bystander


@_forgery(plain=False, step=False)
def login_rewritten_rehashed(url: str, store: Store) -> str | None:
    """The login of the victim's dose (seq 3) changed to another identity, the chain re-hashed from there
    (the login is a stamp: the replay does not decide it). Caught only by a checkpoint."""
    victim = episode_id(store, VICTIM_REF)
    stored = [s.event for s in store.history(victim)]
    changed = stored[2].model_copy(update={"login": "dr-house"}) if STAMPED else stored[2]
    forge_tail(url, victim, 2, [changed, *stored[3:]])
    return victim


@_forgery(plain=False, step=False)
def actor_rewritten_rehashed(url: str, store: Store) -> str | None:
    """The actor of the victim's dose (seq 3) made "Dr Gregory House", the chain re-hashed from there
    (the pathway decides again what it is told the actor was). Caught only by a checkpoint."""
    victim = episode_id(store, VICTIM_REF)
    stored = [s.event for s in store.history(victim)]
    forge_tail(url, victim, 2, [stored[2].model_copy(update={"actor": "Dr Gregory House"}), *stored[3:]])
    return victim


@_forgery(plain=True, step=False)
def login_edited(url: str, store: Store) -> str | None:
    """The login column of the victim's dose (seq 3) edited in place, no hash touched: plain verify's
    chain (the login is inside the hash), so also a checkpoint."""
    victim = episode_id(store, VICTIM_REF)
    column = "login" if STAMPED else "actor"
    tamper(url, (f"UPDATE event SET {column} = 'dr-house' WHERE episode_id = ? AND seq = 3", (victim,)))
    return victim


# -- whole episodes ---------------------------------------------------------------------------------------

@_forgery(plain=False, step=False)
def episode_deleted(url: str, store: Store) -> str | None:
    """The bystander removed entirely (events and episode row). Nothing is left to disagree: caught only by
    a checkpoint (or a digest) that lists it."""
    bystander = episode_id(store, BYSTANDER_REF)
    tamper(url, ("DELETE FROM event WHERE episode_id = ?", (bystander,)),
           ("DELETE FROM episode WHERE id = ?", (bystander,)))
    return None


@_forgery(plain=False, step=False)
def episode_fabricated(url: str, store: Store) -> str | None:
    """A whole episode that never was (open and one observation), decided by the pathway, stamped and hashed,
    recorded at backdated times before the checkpoint. Plain verify and a digest pass it; caught by a
    checkpoint: recorded before it, yet not in it. Returns the fabricated episode."""
    login = _login([s.event for s in store.history(episode_id(store, VICTIM_REF))])
    fabricated = random_episode_id(7)
    opened = decide_open(OpenEpisode(at=BACKDATED - minutes(10), actor=ACTOR, patient_ref="PT-FABRICATED",
                                     weight_kg=70, age_years=54), fabricated, BACKDATED - minutes(9))
    episode = apply(None, opened)
    events = [_stamped(opened, episode, login)]
    events += _decided(events, [(_observation(fabricated, BACKDATED - minutes(5)), BACKDATED - minutes(4))],
                       login)
    prev, rows = GENESIS, []
    for event in events:
        row = event_params(event, prev)
        rows.append(tuple(row[c] for c in EVENT_ROW_COLUMNS))
        prev = row["hash"]
    folded = fold(events)
    assert folded is not None
    ep = episode_params(folded, events[-1], prev)
    tamper(url, (f"INSERT INTO episode ({', '.join(ep)}) VALUES ({', '.join('?' * len(ep))})", tuple(ep.values())),
           *((f"INSERT INTO event ({', '.join(EVENT_ROW_COLUMNS)}) VALUES ({', '.join('?' * len(EVENT_ROW_COLUMNS))})",
              row) for row in rows))
    return fabricated


# -- the snapshot -----------------------------------------------------------------------------------------

def _without_doses(url: str, victim: str) -> str:
    conn = raw_connect(url)
    try:
        ((text,),) = conn.execute(placeholders(url, "SELECT snapshot FROM episode WHERE id = ?"), (victim,)).fetchall()
    finally:
        conn.close()
    value = json.loads(text)
    value["doses"] = []
    return dumps(value)


@_forgery(plain=True, step=True)
def snapshot_doses_deleted(url: str, store: Store) -> str | None:
    """The victim's tocilizumab dose deleted from its snapshot JSON, nothing else touched (the finding that let
    a third dose through): the head's snapshot hash and the replay disagree. Caught by plain verify and at the
    next step."""
    victim = episode_id(store, VICTIM_REF)
    tamper(url, ("UPDATE episode SET snapshot = ? WHERE id = ?", (_without_doses(url, victim), victim)))
    return victim


@_forgery(plain=True, step=False)
def snapshot_forged_head_rehashed(url: str, store: Store) -> str | None:
    """The dose deleted from the victim's snapshot and the head event re-stamped with that snapshot's hash and
    re-hashed: the step-time check (head hash, snapshot hash) passes, so a step decides on it. Caught by
    plain verify (the replay is not the snapshot) and by a checkpoint (the head's hash changed)."""
    victim = episode_id(store, VICTIM_REF)
    stored = [s.event for s in store.history(victim)]
    forged = _without_doses(url, victim)
    head = stored[-1].model_copy(update={"snapshot_sha256": snapshot_sha256(forged)}) if STAMPED else stored[-1]
    forge_tail(url, victim, 4, [head], snapshot=forged)
    return victim


# -- the episode row's other columns ------------------------------------------------------------------------

def _set_episode(url: str, store: Store, column: str, value: Any) -> str:
    victim = episode_id(store, VICTIM_REF)
    tamper(url, (f"UPDATE episode SET {column} = ? WHERE id = ?", (value, victim)))
    return victim


@_forgery(plain=True, step=False)
def patient_ref_edited(url: str, store: Store) -> str | None:
    """The victim's episode row given another patient_ref (the record now names another patient). No step
    reads it; plain verify compares it with the open event's."""
    return _set_episode(url, store, "patient_ref", "PT-SOMEONE-ELSE")


@_forgery(plain=True, step=False)
def policy_json_edited(url: str, store: Store) -> str | None:
    """The victim's policy_json column with a 1-hour tocilizumab interval instead of 8. No step reads it;
    plain verify compares it with the policy the open event recorded."""
    victim = episode_id(store, VICTIM_REF)
    conn = raw_connect(url)
    try:
        ((text,),) = conn.execute(placeholders(url, "SELECT policy_json FROM episode WHERE id = ?"),
                                  (victim,)).fetchall()
    finally:
        conn.close()
    return _set_episode(url, store, "policy_json", json.dumps({**json.loads(text), "toci_min_interval_h": 1.0}))


@_forgery(plain=True, step=False)
def policy_version_edited(url: str, store: Store) -> str | None:
    """The victim's policy_version column changed. Plain verify compares it with the open event's policy."""
    return _set_episode(url, store, "policy_version", "99")


@_forgery(plain=True, step=False)
def opened_at_edited(url: str, store: Store) -> str | None:
    """The victim's opened_at column a day earlier. Plain verify compares it with the open event's time."""
    return _set_episode(url, store, "opened_at", time_text(T0 - minutes(24 * 60)))


@_forgery(plain=True, step=False)
def updated_at_edited(url: str, store: Store) -> str | None:
    """The victim's updated_at column moved. Plain verify compares it with the last event's recorded_at."""
    return _set_episode(url, store, "updated_at", time_text(BACKDATED))


# -- the refusal log ----------------------------------------------------------------------------------------

_REFUSAL_FIELDS = [c.strip() for c in REFUSAL_COLUMNS.split(",")]


def _refusal_rows(url: str) -> list[dict[str, Any]]:
    """The refusal log as dicts of REFUSAL_COLUMNS (+ id, seq, prev_hash, hash where they exist), in order."""
    chained = chained_refusal is not None
    columns = ["id", *(["seq", "prev_hash", "hash"] if chained else []), *_REFUSAL_FIELDS]
    conn = raw_connect(url)
    try:
        order = "seq" if chained else "id"
        rows = conn.execute(f"SELECT {', '.join(columns)} FROM refusal ORDER BY {order}").fetchall()
    finally:
        conn.close()
    return [dict(zip(columns, row)) for row in rows]


def _replace_refusals(url: str, rows: list[dict[str, Any]], start: int, new: list[dict[str, Any]]) -> None:
    """Replace the log from entry index `start` on with `new`, re-chained onto the entry before (this release)."""
    prev = rows[start - 1]["hash"] if start and chained_refusal is not None else GENESIS
    statements: list[tuple[str, tuple[Any, ...]]] = [("DELETE FROM refusal WHERE id = ?", (row["id"],))
                                                     for row in rows[start:]]
    for offset, row in enumerate(new):
        params = {name: row[name] for name in _REFUSAL_FIELDS}
        if chained_refusal is not None:
            params = chained_refusal(params, start + offset + 1, prev)
            prev = params["hash"]
        statements.append((f"INSERT INTO refusal ({', '.join(params)}) VALUES ({', '.join('?' * len(params))})",
                           tuple(params.values())))
    tamper(url, *statements)


@_forgery(plain=False, step=False)
def refusal_edited_rechained(url: str, store: Store) -> str | None:
    """The second refusal now says an overridable rule refused it (not TOCI_MIN_INTERVAL), and the log re-chained
    from there. Caught only by a checkpoint (the head entry's hash changed)."""
    rows = _refusal_rows(url)
    edited = {**rows[1], "rule": "TOCI_INDICATION", "rules": dumps(["TOCI_INDICATION"])}
    _replace_refusals(url, rows, 1, [edited, *rows[2:]])
    return None


@_forgery(plain=True, step=False)
def refusal_edited(url: str, store: Store) -> str | None:
    """The second refusal's message edited in place, the chain not recomputed: plain verify's refusal chain."""
    rows = _refusal_rows(url)
    tamper(url, ("UPDATE refusal SET message = 'nothing happened' WHERE id = ?", (rows[1]["id"],)))
    return None


@_forgery(plain=False, step=False)
def refusal_deleted_rechained(url: str, store: Store) -> str | None:
    """The second refusal removed and the rest renumbered and re-chained. Caught only by a checkpoint (its head
    entry, the third, is gone)."""
    rows = _refusal_rows(url)
    _replace_refusals(url, rows, 1, rows[2:])
    return None


@_forgery(plain=False, step=False)
def refusal_inserted_rechained(url: str, store: Store) -> str | None:
    """A refusal that never happened inserted after the first, recorded between the first two, the rest
    re-chained after it. Caught only by a checkpoint (the head entry's hash changed)."""
    rows = _refusal_rows(url)
    inserted = {**rows[0], "message": "a forged refusal", "recorded_at": time_text(T0 + minutes(52))}
    _replace_refusals(url, rows, 1, [inserted, *rows[1:]])
    return None


@_forgery(plain=False, step=False)
def refusal_appended_backdated(url: str, store: Store) -> str | None:
    """A refusal appended at the end of the log, chained, recorded at a time backdated to before the
    checkpoint. Caught only by a checkpoint: after its head, yet recorded before it."""
    rows = _refusal_rows(url)
    appended = {**rows[-1], "message": "a forged refusal", "recorded_at": time_text(BACKDATED)}
    _replace_refusals(url, rows, len(rows), [appended])
    return None


@_forgery(plain=False, step=False)
def refusal_log_truncated(url: str, store: Store) -> str | None:
    """The last refusal removed (the chain before it is intact). Caught only by a checkpoint (its head is gone)."""
    rows = _refusal_rows(url)
    _replace_refusals(url, rows, len(rows) - 1, [])
    return None


# -- the append-only triggers -------------------------------------------------------------------------------

def _schema(url: str, sqlite: list[str], postgres: list[str]) -> None:
    """DDL run as the database's owner, kept (the triggers stay as this leaves them)."""
    conn = raw_connect(url)
    try:
        for statement in sqlite if isinstance(conn, sqlite3.Connection) else postgres:
            conn.execute(statement)
        conn.commit()
    finally:
        conn.close()


@_forgery(plain=True, step=False)
def triggers_dropped(url: str, store: Store) -> str | None:
    """The event table's append-only triggers dropped (and left so): rows can now be edited without a trace in
    them. Caught by plain verify (and so a checkpoint): the trigger is missing."""
    _schema(url, ["DROP TRIGGER event_no_update", "DROP TRIGGER event_no_delete"],
            ["DROP TRIGGER event_append_only ON event"])
    return None


@_forgery(plain=True, step=False)
def trigger_disabled(url: str, store: Store) -> str | None:
    """The event table's append-only trigger disabled (PostgreSQL: ALTER TABLE ... DISABLE TRIGGER; SQLite,
    which cannot disable one: re-created `WHEN 0`, so it never fires). Caught by plain verify."""
    _schema(url, ["DROP TRIGGER event_no_update",
                  "CREATE TRIGGER event_no_update BEFORE UPDATE ON event WHEN 0 "
                  "BEGIN SELECT RAISE(ABORT, 'event rows are append-only'); END"],
            ["ALTER TABLE event DISABLE TRIGGER event_append_only"])
    return None


@_forgery(plain=True, step=False)
def trigger_function_replaced(url: str, store: Store) -> str | None:
    """The append-only triggers kept by name but made to do nothing (PostgreSQL: their function replaced by
    one that lets the row through; SQLite: the trigger re-created with an empty body). Caught by plain verify."""
    _schema(url, ["DROP TRIGGER event_no_update",
                  "CREATE TRIGGER event_no_update BEFORE UPDATE ON event BEGIN SELECT 1; END"],
            ["CREATE OR REPLACE FUNCTION crs_append_only() RETURNS trigger LANGUAGE plpgsql AS "
             "$$ BEGIN RETURN COALESCE(NEW, OLD); END $$"])
    return None

