"""The unit of work: one step, one database transaction (pathway.service.UnitOfWork).

Concurrency: the write transaction takes the lock before reading (SQLite `BEGIN IMMEDIATE`;
PostgreSQL `SELECT ... FOR UPDATE` of the snapshot row), so a step decides on the latest
snapshot. Behind that lock, optimistic checks still hold the line: the event's seq must be the
stored version + 1, `UNIQUE(episode_id, seq)` rejects a duplicate, and the snapshot update is
`WHERE version = expected`. Any lost race ends as `Conflict`, never a lost update.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import IntegrityError as DbIntegrityError

from pathway.episode import Episode
from pathway.errors import Conflict, NotFound
from pathway.events import Event
from pathway.service import RefusalRecord
from persistence.chain import GENESIS, link
from persistence.ids import random_episode_id
from persistence.rows import EVENT_COLUMNS, REFUSAL_COLUMNS, episode_params, event_params, refusal_params

_PG_CONFLICT_STATES = {"40001", "40P01", "55P03"}  # serialization failure, deadlock, lock not available

_ID_TAKEN = text("SELECT 1 FROM episode WHERE id = :id")
_LOAD = text("SELECT version, head_hash, snapshot FROM episode WHERE id = :id")
_LOAD_LOCKED = text("SELECT version, head_hash, snapshot FROM episode WHERE id = :id FOR UPDATE")
_INSERT_EVENT = text(
    f"INSERT INTO event ({EVENT_COLUMNS}) VALUES "
    "(:episode_id, :seq, :kind, :at, :recorded_at, :actor, :from_state, :to_state, :payload, :override, "
    ":prev_hash, :hash)"
)
_INSERT_EPISODE = text(
    "INSERT INTO episode (id, patient_ref, state, version, policy_name, policy_version, policy_json, opened_at, "
    "updated_at, snapshot, head_hash) VALUES (:id, :patient_ref, :state, :version, :policy_name, "
    ":policy_version, :policy_json, :opened_at, :updated_at, :snapshot, :head_hash)"
)
_UPDATE_EPISODE = text(
    "UPDATE episode SET state = :state, version = :version, updated_at = :updated_at, snapshot = :snapshot, "
    "head_hash = :head_hash WHERE id = :id AND version = :expected"
)
_INSERT_REFUSAL = text(
    f"INSERT INTO refusal ({REFUSAL_COLUMNS}) VALUES "
    "(:at, :recorded_at, :actor, :episode_id, :kind, :command, :rule, :rules, :message)"
)


def conflict_or_none(exc: DBAPIError) -> Conflict | None:
    """The Conflict a database error means (lost race, busy, lock timeout), or None."""
    if isinstance(exc, DbIntegrityError):
        return Conflict("the episode changed under you (a concurrent step); retry")
    state = getattr(exc.orig, "sqlstate", None)
    message = str(exc.orig).lower()
    if state in _PG_CONFLICT_STATES or "database is locked" in message or "database is busy" in message:
        return Conflict("the database is busy with another step; retry")
    return None


@contextmanager
def translated() -> Iterator[None]:
    try:
        yield
    except DBAPIError as exc:
        conflict = conflict_or_none(exc)
        if conflict is None:
            raise
        raise conflict from exc


class SqlUnitOfWork:
    """Re-enterable: each `with` block is a fresh transaction; leaving without commit rolls back."""

    def __init__(self, write_engine: Engine) -> None:
        self._engine = write_engine
        self._locking = write_engine.dialect.name == "postgresql"
        self._conn: Connection | None = None
        self._heads: dict[str, tuple[int, str]] = {}  # episode -> (version, head hash) seen here

    def __enter__(self) -> "SqlUnitOfWork":
        if self._conn is not None:
            raise RuntimeError("this unit of work is already open")
        conn = self._engine.connect()
        try:
            with translated():
                conn.begin()
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        self._heads = {}
        return self

    def __exit__(self, *exc: object) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            if conn.in_transaction():
                conn.rollback()
        finally:
            conn.close()

    @property
    def conn(self) -> Connection:
        if self._conn is None:
            raise RuntimeError("use the unit of work inside a `with` block")
        return self._conn

    def commit(self) -> None:
        with translated():
            self.conn.commit()

    def rollback(self) -> None:
        self.conn.rollback()
        self._heads = {}

    def new_episode_id(self) -> str:
        for attempt in range(32):
            candidate = random_episode_id(5 if attempt < 16 else 7)
            with translated():
                if self.conn.execute(_ID_TAKEN, {"id": candidate}).first() is None:
                    return candidate
        raise Conflict("no free episode id could be found; retry")

    def load(self, episode_id: str) -> Episode:
        with translated():
            row = self.conn.execute(_LOAD_LOCKED if self._locking else _LOAD, {"id": episode_id}).first()
        if row is None:
            raise NotFound(f"no episode {episode_id}")
        self._heads[episode_id] = (row.version, row.head_hash)
        return Episode.model_validate_json(row.snapshot)

    def append(self, event: Event, snapshot: Episode) -> None:
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
        hash_ = link(prev_hash, event.canonical())
        row = episode_params(snapshot, event, hash_)
        with translated():
            if opening:
                self.conn.execute(_INSERT_EPISODE, row)
            self.conn.execute(_INSERT_EVENT, event_params(event, prev_hash, hash_))
            if not opening:
                updated = self.conn.execute(_UPDATE_EPISODE, {**row, "expected": expected})
                if updated.rowcount != 1:
                    raise Conflict(f"episode {event.episode_id} changed under you (a concurrent step); retry")
        self._heads[event.episode_id] = (event.seq, hash_)

    def record_refusal(self, refusal: RefusalRecord) -> None:
        with translated():
            self.conn.execute(_INSERT_REFUSAL, refusal_params(refusal))

    def execute(self, statement: Any, params: dict[str, Any] | None = None) -> Any:
        """Raw access inside this transaction, for maintenance and tests."""
        return self.conn.execute(statement, params or {})
