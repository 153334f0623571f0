"""The database schema as SQLModel tables. These are storage rows, never domain models:
`pathway.*` objects are converted at the store's edge (persistence/rows.py).

Times are ISO 8601 UTC text of fixed width (``YYYY-MM-DDTHH:MM:SS.ffffff+00:00``) on every
backend, so they sort as text, read back to the same instant, and the canonical JSON of a
reloaded event re-hashes identically on SQLite and PostgreSQL. JSON columns are plain text
(not JSONB), so the stored bytes are exactly the bytes written.

The hot path does not import this module (SQLModel is slow to import); it uses SQL text whose
column names a contract test checks against these tables.
"""

from sqlalchemy import Index, Text
from sqlmodel import Field, SQLModel

TIME_WIDTH = 32  # len("2025-01-01T10:00:00.000000+00:00")
HASH_WIDTH = 64  # hex SHA-256

metadata = SQLModel.metadata


class EpisodeRow(SQLModel, table=True):
    """The episode's snapshot (a cache of fold(events), checked by `audit verify`) and version."""

    __tablename__ = "episode"
    __table_args__ = (Index("ix_episode_state", "state"),)

    id: str = Field(primary_key=True, max_length=16)
    patient_ref: str = Field(max_length=64)
    state: str = Field(max_length=32)
    version: int  # seq of the latest event: the optimistic-concurrency token
    policy_name: str = Field(max_length=64)
    policy_version: str = Field(max_length=32)
    policy_json: str = Field(sa_type=Text)
    opened_at: str = Field(max_length=TIME_WIDTH)
    updated_at: str = Field(max_length=TIME_WIDTH)  # recorded_at of the latest event
    snapshot: str = Field(sa_type=Text)  # rows.snapshot_text(Episode): canonical JSON
    head_hash: str = Field(max_length=HASH_WIDTH)


class EventRow(SQLModel, table=True):
    """One accepted step. Append-only: triggers reject UPDATE and DELETE."""

    __tablename__ = "event"
    __table_args__ = (Index("ix_event_target", "episode_id", "target_seq"),)

    episode_id: str = Field(primary_key=True, foreign_key="episode.id", max_length=16)
    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})  # PK = UNIQUE(episode_id, seq)
    kind: str = Field(max_length=16)
    at: str = Field(max_length=TIME_WIDTH)
    recorded_at: str = Field(max_length=TIME_WIDTH)
    actor: str = Field(max_length=64)
    from_state: str | None = Field(default=None, max_length=32)
    to_state: str = Field(max_length=32)
    payload: str = Field(sa_type=Text)  # JSON of event.data
    override: str | None = Field(default=None, sa_type=Text)  # JSON of event.override
    prev_hash: str = Field(max_length=HASH_WIDTH)
    hash: str = Field(max_length=HASH_WIDTH)
    #: a correct/void event's target (= data.target_seq, which the hash covers; verify checks they agree)
    target_seq: int | None = Field(default=None)
    #: the authenticated identity that wrote it (OS login; PostgreSQL session user). Hashed. NULL before 0003.
    login: str | None = Field(default=None, max_length=64)
    #: SHA-256 of the snapshot this event produced (binds the snapshot row to the chain). Hashed. NULL before 0003.
    snapshot_sha256: str | None = Field(default=None, max_length=HASH_WIDTH)


class RefusalRow(SQLModel, table=True):
    """One refused attempt (the refusal log). Append-only: triggers reject UPDATE and DELETE.
    Hash-chained like an episode's events, over the whole log in `seq` order (rows.refusal_canonical)."""

    __tablename__ = "refusal"
    __table_args__ = (Index("ix_refusal_episode_id", "episode_id"), Index("ux_refusal_seq", "seq", unique=True))

    id: int | None = Field(default=None, primary_key=True)
    seq: int | None = Field(default=None)  # 1, 2, ... (the id counter may skip on PostgreSQL)
    prev_hash: str | None = Field(default=None, max_length=HASH_WIDTH)
    hash: str | None = Field(default=None, max_length=HASH_WIDTH)
    login: str | None = Field(default=None, max_length=64)
    at: str = Field(max_length=TIME_WIDTH)  # the clinical time the command asked for
    recorded_at: str = Field(max_length=TIME_WIDTH)
    actor: str = Field(max_length=64)
    episode_id: str | None = Field(default=None, max_length=16)  # None for a refused open
    kind: str = Field(max_length=16)
    command: str = Field(sa_type=Text)  # JSON of the command tried
    rule: str = Field(max_length=64)
    rules: str = Field(sa_type=Text)  # JSON list of every rule that refused
    message: str = Field(sa_type=Text)
    breaks_seq: int | None = Field(default=None)  # a refused correction: the recorded event it would break
