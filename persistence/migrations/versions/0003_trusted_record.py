"""A record QA can trust: the authenticated login, the snapshot bound to the chain, a chained refusal log.

- `event.login`: the authenticated identity that wrote the event (the OS login on SQLite, the
  session user on PostgreSQL); `event.snapshot_sha256`: the SHA-256 of the snapshot the event
  produced. Both are inside the event's hash (pathway/events.py STAMPS). Rows written before this
  revision keep NULL in both, and their hashes do not change (an absent stamp is not hashed).
- `refusal.seq`, `refusal.prev_hash`, `refusal.hash`, `refusal.login`: the refusal log becomes one
  hash chain (persistence/rows.py refusal_canonical). Refusals already stored are chained here, in
  the order they were written (`id`), with a NULL login: they were not chained before, so an edit
  made to them before this upgrade cannot be told apart; everything after can.
- Triggers: every new event must carry its login and snapshot hash, and every new refusal its
  chain, so nothing written from now on can pass for a row from before the upgrade. On PostgreSQL
  the login must also be the session user: the database, not the client, vouches for it.

Revision ID: 0003
Revises: 0002
"""

import hashlib
import json

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

GENESIS = "0" * 64
#: The columns a refusal's hash covers, in the order of persistence/rows.py REFUSAL_HASHED (a test
#: checks that a refusal chained here verifies like one chained by the store).
_HASHED = ("seq", "at", "recorded_at", "actor", "login", "episode_id", "kind", "command", "rule", "rules", "message",
           "breaks_seq")

SQLITE_TRIGGERS = [
    "CREATE TRIGGER event_stamped BEFORE INSERT ON event WHEN NEW.login IS NULL OR NEW.snapshot_sha256 IS NULL "
    "BEGIN SELECT RAISE(ABORT, 'an event must carry its login and snapshot hash'); END",
    "CREATE TRIGGER refusal_chained BEFORE INSERT ON refusal "
    "WHEN NEW.login IS NULL OR NEW.seq IS NULL OR NEW.prev_hash IS NULL OR NEW.hash IS NULL "
    "BEGIN SELECT RAISE(ABORT, 'a refusal must carry its login and its place in the chain'); END",
]
POSTGRES_TRIGGERS = [
    """
    CREATE FUNCTION crs_event_authenticated() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.login IS DISTINCT FROM session_user::text THEN
            RAISE EXCEPTION 'the login recorded must be the session user' USING ERRCODE = '42501';
        END IF;
        IF NEW.snapshot_sha256 IS NULL THEN
            RAISE EXCEPTION 'an event must carry its snapshot hash';
        END IF;
        RETURN NEW;
    END $$
    """,
    """
    CREATE FUNCTION crs_refusal_authenticated() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.login IS DISTINCT FROM session_user::text THEN
            RAISE EXCEPTION 'the login recorded must be the session user' USING ERRCODE = '42501';
        END IF;
        IF NEW.seq IS NULL OR NEW.prev_hash IS NULL OR NEW.hash IS NULL THEN
            RAISE EXCEPTION 'a refusal must carry its place in the chain';
        END IF;
        RETURN NEW;
    END $$
    """,
    "CREATE TRIGGER event_authenticated BEFORE INSERT ON event FOR EACH ROW EXECUTE FUNCTION crs_event_authenticated()",
    "CREATE TRIGGER refusal_authenticated BEFORE INSERT ON refusal FOR EACH ROW "
    "EXECUTE FUNCTION crs_refusal_authenticated()",
]


def _dumps(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _chain_existing_refusals() -> None:
    """Give every stored refusal its seq and hash, oldest first (the update triggers are lifted for it)."""
    bind = op.get_bind()
    rows = bind.execute(sa.text(
        "SELECT id, at, recorded_at, actor, episode_id, kind, command, rule, rules, message, breaks_seq "
        "FROM refusal ORDER BY id")).mappings().all()
    if not rows:
        return
    sqlite = bind.dialect.name == "sqlite"
    if sqlite:
        saved = bind.execute(sa.text("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'refusal_no_update'")
                             ).scalar()
        op.execute("DROP TRIGGER refusal_no_update")
    else:
        op.execute("ALTER TABLE refusal DISABLE TRIGGER refusal_append_only")
    prev = GENESIS
    for seq, row in enumerate(rows, start=1):
        values = {**row, "seq": seq, "login": None}
        hash_ = hashlib.sha256((prev + _dumps({k: values[k] for k in _HASHED})).encode("utf-8")).hexdigest()
        bind.execute(sa.text("UPDATE refusal SET seq = :seq, prev_hash = :prev, hash = :hash WHERE id = :id"),
                     {"seq": seq, "prev": prev, "hash": hash_, "id": row["id"]})
        prev = hash_
    if sqlite:
        op.execute(saved)
    else:
        op.execute("ALTER TABLE refusal ENABLE TRIGGER refusal_append_only")


def upgrade() -> None:
    op.add_column("event", sa.Column("login", sa.String(64), nullable=True))
    op.add_column("event", sa.Column("snapshot_sha256", sa.String(64), nullable=True))
    op.add_column("refusal", sa.Column("seq", sa.Integer(), nullable=True))
    op.add_column("refusal", sa.Column("prev_hash", sa.String(64), nullable=True))
    op.add_column("refusal", sa.Column("hash", sa.String(64), nullable=True))
    op.add_column("refusal", sa.Column("login", sa.String(64), nullable=True))
    _chain_existing_refusals()
    op.create_index("ux_refusal_seq", "refusal", ["seq"], unique=True)
    for statement in SQLITE_TRIGGERS if op.get_bind().dialect.name == "sqlite" else POSTGRES_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("crs never drops an audit trail; restore from a backup instead")
