"""The unit of work: one step, one database transaction (pathway.service.UnitOfWork).

Concurrency: the write transaction takes the lock before reading (SQLite `BEGIN IMMEDIATE`;
PostgreSQL `SELECT ... FOR UPDATE` of the snapshot row), so a step decides on the latest
snapshot. Behind that lock, optimistic checks still hold the line: the event's seq must be the
stored version + 1, `UNIQUE(episode_id, seq)` rejects a duplicate, and the snapshot update is
`WHERE version = expected`. Any lost race ends as `Conflict`, never a lost update.

Speed: a step is a handful of statements, run on the driver's own connection from the database's
pool (persistence/database.py); driver errors come out as DatabaseError, a lost race as Conflict.
The snapshot is parsed (validated, ~30 µs) on every load: no parsed copy is kept. A cache of the last
64 was removed (issue 13, measured 2026-12-02): a `crs` step, a process of its own, never hit it (one
lookup, 0 hits; `crs observe` CPU 378 / 444 ms min / median without it, 401 / 436 ms with, 20
interleaved runs); it saved ~45 µs of ~450 µs CPU per step only in one process stepping the same
episode again and again (bench/throughput.py), which crs never is.
"""

import json
import re
from typing import Any

from pydantic import ValidationError

from pathway.episode import Episode
from pathway.errors import Conflict, IntegrityError, Invalid, NotFound, Refused, UntrustedRecord
from pathway.events import PATHWAY_VERSION, Event, decided_version
from pathway.replay import snapshot_disagreements
from pathway.service import RefusalRecord
from persistence.chain import GENESIS, link
from persistence.database import Database, DatabaseError
from persistence.ids import random_episode_id
from persistence.identity import login_for
from persistence.rows import (EVENT_COLUMNS, REFUSAL_CHAIN_COLUMNS, REFUSAL_COLUMNS, EventRecord, canonical_from_row,
                              chained_refusal, episode_params, event_from_row, event_params, refusal_params,
                              snapshot_params, snapshot_sha256, snapshot_text, target_of)

_PG_CONFLICT_STATES = {"40001", "40P01", "55P03"}  # serialization failure, deadlock, lock not available

# Statements in the named style (:name); _Statements turns them into the driver's own style.
_ID_TAKEN = "SELECT 1 FROM episode WHERE id = :id"
#: The snapshot with the head event it must match (HAZARDS H15): one indexed read, checked in O(1).
LOAD_EPISODE = ("SELECT e.version, e.head_hash, e.snapshot, " + ", ".join(f"v.{c}" for c in EVENT_COLUMNS.split(", "))
         + " FROM episode e LEFT JOIN event v ON v.episode_id = e.id AND v.seq = e.version WHERE e.id = :id")
_LOAD_EPISODE_LOCKED = LOAD_EPISODE + " FOR UPDATE OF e"
_REFUSAL_HEAD = "SELECT seq, hash FROM refusal ORDER BY seq DESC LIMIT 1"
_PG_REFUSAL_LOCK = "SELECT pg_advisory_xact_lock(1668445043)"  # "crss": one refusal appended at a time
_EVENTS = f"SELECT {EVENT_COLUMNS} FROM event WHERE episode_id = :id ORDER BY seq"
_INSERT_EVENT = (
    f"INSERT INTO event ({EVENT_COLUMNS}) VALUES "
    "(:episode_id, :seq, :kind, :at, :recorded_at, :actor, :from_state, :to_state, :payload, :override, "
    ":prev_hash, :hash, :target_seq, :login, :snapshot_sha256)"
)
_INSERT_EPISODE = (
    "INSERT INTO episode (id, patient_ref, state, version, policy_name, policy_version, policy_json, opened_at, "
    "updated_at, snapshot, head_hash) VALUES (:id, :patient_ref, :state, :version, :policy_name, "
    ":policy_version, :policy_json, :opened_at, :updated_at, :snapshot, :head_hash)"
)
_UPDATE_EPISODE = (
    "UPDATE episode SET state = :state, version = :version, updated_at = :updated_at, snapshot = :snapshot, "
    "head_hash = :head_hash WHERE id = :id AND version = :expected"
)
#: PostgreSQL: the event and the snapshot in one statement (one round trip fewer per step); a
#: data-modifying WITH always runs to completion, its triggers and constraints included.
_APPEND_STEP = f"WITH appended AS ({_INSERT_EVENT} RETURNING seq) {_UPDATE_EPISODE}"
_INSERT_REFUSAL = (
    f"INSERT INTO refusal ({REFUSAL_CHAIN_COLUMNS}, {REFUSAL_COLUMNS}) VALUES (:seq, :prev_hash, :hash, "
    ":at, :recorded_at, :actor, :episode_id, :kind, :command, :rule, :rules, :message, :breaks_seq, :login)"
)
_NAMED = re.compile(r"(?<!:):(\w+)")

def read_snapshot(snapshot: str, episode_id: str) -> Episode:
    """The episode a snapshot row encodes; one sentence (exit 2), never the row's text, if it cannot be read.

    A snapshot written by an earlier pathway version (before "not assessed" grades, v2) does not fit
    today's episode model; the events stay intact and `audit verify` reports the episode.
    """
    try:
        return Episode.model_validate_json(snapshot)
    except ValidationError:
        raise Invalid(f"episode {episode_id} was recorded in a format this version of the pathway cannot read "
                      "(an earlier pathway version); nothing was changed: see `crs audit verify`") from None


def _untrusted(episode_id: str, version: int, problem: str) -> UntrustedRecord:
    return UntrustedRecord(episode_id, f"episode {episode_id}: its stored snapshot (version {version}) {problem}; "
                                         "the step was refused and nothing was changed (RECORD_INTEGRITY): "
                                         "run `crs audit verify`")


def _check_head(episode_id: str, version: int, head_hash: str, head: EventRecord) -> None:
    """The snapshot row's head is the stored event at its version, and that event matches its own hash."""
    if head.seq is None:
        raise _untrusted(episode_id, version, "names an event that is not in its history")
    canonical = canonical_from_row(head)
    if canonical is None:
        try:
            canonical = event_from_row(head).event.canonical()
        except (ValueError, TypeError):
            raise _untrusted(episode_id, version, "ends at an event that cannot be read") from None
    if not isinstance(head.prev_hash, str) or link(head.prev_hash, canonical) != head.hash:
        raise _untrusted(episode_id, version, "ends at an event that does not match its hash")
    if head.hash != head_hash:
        raise _untrusted(episode_id, version, "names a head hash that is not its latest event's")


class _Statements:
    """The statements in one driver's parameter style (sqlite3: :name; psycopg: %(name)s)."""

    def __init__(self, dialect: str) -> None:
        convert = (lambda sql: sql) if dialect == "sqlite" else (lambda sql: _NAMED.sub(r"%(\1)s", sql))
        self.id_taken = convert(_ID_TAKEN)
        self.load = convert(_LOAD_EPISODE_LOCKED if dialect == "postgresql" else LOAD_EPISODE)
        self.load_again = convert(LOAD_EPISODE) if dialect == "postgresql" else None
        self.events = convert(_EVENTS)
        self.insert_event = convert(_INSERT_EVENT)
        self.insert_episode = convert(_INSERT_EPISODE)
        self.update_episode = convert(_UPDATE_EPISODE)
        # SQLite runs in-process (no round trips to save): two plain statements there.
        self.append_step = convert(_APPEND_STEP) if dialect == "postgresql" else None
        self.insert_refusal = convert(_INSERT_REFUSAL)
        self.refusal_head = _REFUSAL_HEAD
        self.refusal_lock = _PG_REFUSAL_LOCK if dialect == "postgresql" else None
        self.begin = "BEGIN IMMEDIATE" if dialect == "sqlite" else None  # psycopg begins implicitly


_STATEMENTS: dict[str, _Statements] = {}


def conflict_or_none(exc: DatabaseError) -> Conflict | None:
    """The Conflict a database error means (lost race, busy, lock timeout), or None."""
    if exc.integrity:
        return Conflict("the episode changed under you (a concurrent step); retry")
    state = getattr(exc.orig, "sqlstate", None)
    message = str(exc.orig).lower()
    if state in _PG_CONFLICT_STATES or "database is locked" in message or "database is busy" in message:
        return Conflict("the database is busy with another step; retry")
    return None


class SqlUnitOfWork:
    """Re-enterable: each `with` block is a fresh transaction; leaving without commit rolls back."""

    def __init__(self, database: Database) -> None:
        self._db = database
        self._tainted = False  # a driver error touched the connection: never pool it again
        dialect = database.dialect
        self._sql = _STATEMENTS.get(dialect) or _STATEMENTS.setdefault(dialect, _Statements(dialect))
        self._driver_error: type[BaseException] = database.driver.Error
        self._conn: Any = None  # the driver's connection, lent by the database's pool
        self._valid = False  # False once the connection was found lost (it was discarded)
        self._cursor: Any = None
        self._begun = False
        self._heads: dict[str, tuple[int, str]] = {}  # episode -> (version, head hash) seen here

    def _failed(self, exc: BaseException, sql: str) -> Exception:
        """A driver error as DatabaseError (what callers catch), a lost race or a lost connection as
        Conflict (exit 3: the environment's fault, retry; HAZARDS H21)."""
        conn = self._conn
        self._tainted = True
        if conn is not None and self._valid and self._db.is_disconnect(exc, conn):
            self._lose()  # never hand a dead connection back to the pool
            if sql == "COMMIT":  # the server may have committed before the connection went
                return Conflict("the connection to the database was lost while the step was being committed; "
                                "check `crs history` to see whether it was recorded before retrying")
            return Conflict("the connection to the database was lost during the step; nothing was written, retry")
        if getattr(exc, "sqlstate", None) == "42501":  # PostgreSQL: insufficient privilege (a role's grants)
            login = self._db.session_user or self._db.url.username or "?"
            return Invalid(f"the database login '{login}' may not record steps (permission denied); nothing was "
                           "written: a care-team login needs the crs_clinician role (see `crs roles`)")
        wrapped = self._db.wrap(exc, sql)
        return conflict_or_none(wrapped) or wrapped

    def _lose(self) -> None:
        """The connection is gone: close what is left of it, count it closed, never pool it."""
        if self._valid:
            self._valid = False
            self._db.discard(self._conn)

    def _begin(self) -> None:
        """SQLite: BEGIN IMMEDIATE takes the write lock before anything is read. PostgreSQL
        (psycopg, not autocommit) begins by itself at the first statement."""
        if self._sql.begin:
            try:
                self._cursor.execute(self._sql.begin)
            except self._driver_error as exc:
                raise self._failed(exc, self._sql.begin) from exc
        self._begun = True

    def _run(self, sql: str, params: dict[str, Any]) -> Any:
        cursor = self.cursor
        if not self._begun:
            self._begin()
        try:
            return cursor.execute(sql, params)
        except self._driver_error as exc:
            raise self._failed(exc, sql) from exc

    def __enter__(self) -> "SqlUnitOfWork":
        if self._conn is not None:
            raise RuntimeError("this unit of work is already open")
        conn, _ = self._db.acquire()  # a pooled one only while alive (database.py)
        self._tainted = False
        self._valid = True
        try:
            self._conn, self._cursor = conn, conn.cursor()
            self._begin()
        except BaseException:
            self._conn = self._cursor = None
            if self._valid:
                self._valid = False
                self._db.discard(conn)
            raise
        self._heads = {}
        return self

    def __exit__(self, *exc: object) -> None:
        conn, cursor, self._conn, self._cursor = self._conn, self._cursor, None, None
        begun, self._begun = self._begun, False
        if conn is None or not self._valid:  # a lost connection was discarded already
            return
        self._valid = False
        try:
            cursor.close()
            if begun:
                conn.rollback()  # leaving without commit(): the step's writes go
        except self._driver_error:
            self._tainted = True  # the connection failed as it was being cleaned: never pool it
        self._db.release(conn, clean=not self._tainted)

    @property
    def cursor(self) -> Any:
        """The DB-API cursor of this transaction (inside the `with` block only)."""
        self._open_connection()
        return self._cursor

    def _open_connection(self) -> Any:
        if self._conn is None:
            raise RuntimeError("use the unit of work inside a `with` block")
        return self._conn

    def commit(self) -> None:
        conn = self._open_connection()
        try:
            conn.commit()
        except self._driver_error as exc:
            raise self._failed(exc, "COMMIT") from exc
        self._begun = False  # a later statement in this block begins a new transaction

    def rollback(self) -> None:
        conn = self._open_connection()
        if self._valid:
            try:
                conn.rollback()
            except self._driver_error as exc:
                raise self._failed(exc, "ROLLBACK") from exc
        self._begun = False
        self._heads = {}

    def new_episode_id(self) -> str:
        for attempt in range(32):
            candidate = random_episode_id(5 if attempt < 16 else 7)
            if self._run(self._sql.id_taken, {"id": candidate}).fetchone() is None:
                return candidate
        raise Conflict("no free episode id could be found; retry")

    def load(self, episode_id: str) -> Episode:
        """The episode's snapshot, locked, and checked against its head event (UntrustedRecord, exit 5)."""
        row = self._run(self._sql.load, {"id": episode_id}).fetchone()
        if row is None:
            raise NotFound(f"no episode {episode_id}")
        if row[3] is None and self._sql.load_again:
            # PostgreSQL: a step that waited for the lock re-reads the updated episode row but not a new
            # join partner (the head event committed meanwhile); under the lock, one fresh read sees both.
            row = self._run(self._sql.load_again, {"id": episode_id}).fetchone()
        version, head_hash, snapshot = row[:3]
        self._heads[episode_id] = (version, head_hash)
        head = EventRecord._make(row[3:])
        if head.snapshot_sha256 is None:  # a head event from before schema 0003: check on the fold instead
            return self._folded(episode_id, version, snapshot, head)
        _check_head(episode_id, version, head_hash, head)
        if not isinstance(snapshot, str) or snapshot_sha256(snapshot) != head.snapshot_sha256:
            raise _untrusted(episode_id, version, "does not match the snapshot hash its latest event recorded")
        return read_snapshot(snapshot, episode_id)

    def _folded(self, episode_id: str, version: int, snapshot: str, head: EventRecord) -> Episode:
        """The check for an episode whose latest event predates the snapshot hash (written before schema
        0003): its whole chain recomputed and folded, which must equal the snapshot. O(events), once: the
        event this step appends records the hash. A snapshot an earlier pathway version wrote cannot equal
        today's fold field for field (fields were added since); it must agree on every field it has, and the
        step then decides on the fold (HAZARDS H15, H23)."""
        from pathway.history import episode_of

        if head.seq is None:
            raise _untrusted(episode_id, version, "names an event that is not in its history")
        try:
            events = self.events(episode_id)
            folded = episode_of(events)
        except (IntegrityError, Refused, ValueError, KeyError, TypeError) as exc:
            raise _untrusted(episode_id, version, "is not at the end of a history that verifies") from exc
        if decided_version(events[-1]) != PATHWAY_VERSION:
            # written by an earlier pathway (H23): it must agree with the fold on every field it records, and the
            # step decides on the fold, which has the fields today's pathway reads
            try:
                recorded = json.loads(snapshot) if isinstance(snapshot, str) else None
            except ValueError:
                recorded = None
            if not isinstance(recorded, dict) or snapshot_disagreements(recorded, folded.model_dump(mode="json")):
                raise _untrusted(episode_id, version, "differs from the fold of its history")
            return folded
        stored = read_snapshot(snapshot, episode_id)
        if folded.model_dump(mode="json") != stored.model_dump(mode="json"):
            raise _untrusted(episode_id, version, "differs from the fold of its history")
        return stored

    def events(self, episode_id: str) -> list[Event]:
        """The loaded episode's stored events, their chain recomputed: a correction re-decides the whole
        history, so it must be the history that was written (IntegrityError, exit 5, if not)."""
        if episode_id not in self._heads:
            raise RuntimeError("events() needs load() of the same episode in this unit of work")
        version, head_hash = self._heads[episode_id]
        rows = self._run(self._sql.events, {"id": episode_id}).fetchall()
        events: list[Event] = []
        prev_hash = GENESIS
        for row in map(EventRecord._make, rows):
            try:
                stored = event_from_row(row)
            except (ValueError, TypeError):
                stored = None
            if (stored is None or row.seq != len(events) + 1 or row.prev_hash != prev_hash
                    or link(prev_hash, stored.event.canonical()) != row.hash or row.target_seq != target_of(stored.event)):
                raise UntrustedRecord(episode_id, f"episode {episode_id}: the stored history fails its hash chain at "
                                      f"seq {row.seq}; the step was refused and nothing was changed "
                                      "(RECORD_INTEGRITY): see `crs audit verify`")
            events.append(stored.event)
            prev_hash = row.hash
        if not events or events[-1].seq != version or prev_hash != head_hash:
            raise UntrustedRecord(episode_id, f"episode {episode_id}: the snapshot is not at the end of the stored "
                                  "history; the step was refused and nothing was changed (RECORD_INTEGRITY): "
                                  "see `crs audit verify`")
        return events

    def append(self, event: Event, snapshot: Episode) -> Event:
        if snapshot.id != event.episode_id or snapshot.version != event.seq:
            raise ValueError("the snapshot must be the episode after this event")
        opening = event.seq == 1
        if opening:
            if event.kind != "open" or event.episode_id in self._heads:
                raise Conflict(f"episode {event.episode_id} already exists")
            expected, prev_hash = 0, GENESIS
        else:
            if event.episode_id not in self._heads:
                raise RuntimeError("append() needs load() of the same episode in this unit of work")
            expected, prev_hash = self._heads[event.episode_id]
            if event.seq != expected + 1:
                raise Conflict(f"episode {event.episode_id} changed under you (a concurrent step); retry")
        text = snapshot_text(snapshot)
        event = event.model_copy(update={"login": self._login(), "snapshot_sha256": snapshot_sha256(text)})
        event_row = event_params(event, prev_hash)
        hash_ = event_row["hash"]
        if opening:
            row = episode_params(snapshot, event, hash_, text)
            self._run(self._sql.insert_episode, row)
            self._run(self._sql.insert_event, event_row)
        else:
            row = snapshot_params(snapshot, event, hash_, text)
            if self._sql.append_step:  # PostgreSQL: one round trip
                updated = self._run(self._sql.append_step, {**event_row, **row, "expected": expected})
            else:
                self._run(self._sql.insert_event, event_row)
                updated = self._run(self._sql.update_episode, {**row, "expected": expected})
            if updated.rowcount != 1:
                raise Conflict(f"episode {event.episode_id} changed under you (a concurrent step); retry")
        self._heads[event.episode_id] = (event.seq, hash_)
        return event

    def record_refusal(self, refusal: RefusalRecord) -> None:
        """Append to the refusal log's chain: after its head, under a lock (SQLite: the write transaction;
        PostgreSQL: an advisory lock, since two refusals on different episodes lock no common row)."""
        if self._sql.refusal_lock:
            self._run(self._sql.refusal_lock, {})
        head = self._run(self._sql.refusal_head, {}).fetchone()
        seq, prev_hash = (1, GENESIS) if head is None else (head[0] + 1, head[1])
        params = refusal_params(refusal.model_copy(update={"login": self._login()}))
        self._run(self._sql.insert_refusal, chained_refusal(params, seq, prev_hash))

    def _login(self) -> str:
        """The authenticated login this unit of work writes as (persistence/identity.py)."""
        try:
            return login_for(self._db, self.cursor)
        except self._driver_error as exc:
            raise self._failed(exc, "SELECT session_user") from exc

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> Any:
        """Raw access inside this transaction, in the driver's parameter style (maintenance, tests)."""
        return self._run(sql, params or {})
