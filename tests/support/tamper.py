"""Tamper with a database behind the store's back, the way an attacker with file or superuser
access could, so the tests can show that `audit verify` notices.

The append-only triggers stop this, so tampering has to get past them first:
- SQLite (a raw connection, so foreign keys are off, SQLite's default): in one transaction, save
  the trigger definitions from sqlite_master, DROP them, run the tampering SQL, CREATE them
  again, COMMIT (the database keeps its triggers afterwards);
- PostgreSQL: `SET LOCAL session_replication_role = replica` (superuser only), which makes
  ordinary triggers not fire for that transaction.
"""

import sqlite3
from typing import Any

import psycopg
from sqlalchemy.engine import make_url


def _pg_connect(url: str) -> psycopg.Connection[Any]:
    parsed = make_url(url)
    return psycopg.connect(host=parsed.host, port=parsed.port, user=parsed.username, dbname=parsed.database)


def raw_connect(url: str) -> Any:
    """A plain DB-API connection (sqlite3 or psycopg) to the store's database."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return sqlite3.connect(parsed.database, isolation_level=None)
    return _pg_connect(url)


def placeholders(url: str, sql: str) -> str:
    """Write tests' SQL with `?` and get the backend's placeholder style."""
    return sql if make_url(url).get_backend_name() == "sqlite" else sql.replace("?", "%s")


def tamper(url: str, *statements: tuple[str, tuple[Any, ...]] | str) -> None:
    """Run SQL with the append-only triggers out of the way (see module docstring)."""
    items = [(s, ()) if isinstance(s, str) else s for s in statements]
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        conn = sqlite3.connect(parsed.database, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            triggers = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'").fetchall()
            for name, _ in triggers:
                conn.execute(f'DROP TRIGGER "{name}"')
            for sql, params in items:
                conn.execute(sql, params)
            for _, sql in triggers:
                conn.execute(sql)
            conn.execute("COMMIT")
        finally:
            conn.close()
        return
    with _pg_connect(url) as conn:
        conn.execute("SET LOCAL session_replication_role = replica")
        for sql, params in items:
            conn.execute(sql.replace("?", "%s"), params)


# -- forging a history that hashes right ---------------------------------------------------------------

EVENT_ROW_COLUMNS = ("episode_id", "seq", "kind", "at", "recorded_at", "actor", "from_state", "to_state", "payload",
                     "override", "prev_hash", "hash", "target_seq", "login", "snapshot_sha256")


def event_rows(url: str, episode_id: str) -> list[tuple[Any, ...]]:
    """Every stored column of an episode's event rows, in seq order, read behind the store's back."""
    conn = raw_connect(url)
    try:
        sql = placeholders(url, f"SELECT {', '.join(EVENT_ROW_COLUMNS)} FROM event WHERE episode_id = ? ORDER BY seq")
        return [tuple(row) for row in conn.execute(sql, (episode_id,)).fetchall()]
    finally:
        conn.close()


def forge_tail(url: str, episode_id: str, keep: int, events: list[Any], *, snapshot: str | None = None,
               target_seq: dict[int, int | None] | None = None) -> str:
    """Replace the events after seq `keep` with `events` (pathway Events), each hashed onto the chain the
    way the store hashes it, and point the episode row at the new head: what someone who knows the
    algorithm (persistence/chain.py) can write. `snapshot` (JSON text) replaces the stored snapshot;
    without it the old one stays. `target_seq` forces that column for the given seqs (else as the store
    would write it). Returns the new head hash. The chain then verifies; only the replay can object."""
    from persistence.rows import event_params

    kept = [row for row in event_rows(url, episode_id) if row[1] <= keep]
    prev = kept[-1][11]
    rows = []
    for event in events:
        row = event_params(event, prev)
        if target_seq and event.seq in target_seq:
            row["target_seq"] = target_seq[event.seq]
        rows.append(tuple(row[c] for c in EVENT_ROW_COLUMNS))
        prev = row["hash"]
    last = events[-1] if events else None
    version = last.seq if last is not None else keep
    statements: list[tuple[str, tuple[Any, ...]]] = [
        ("DELETE FROM event WHERE episode_id = ? AND seq > ?", (episode_id, keep)),
        *((f"INSERT INTO event ({', '.join(EVENT_ROW_COLUMNS)}) VALUES ({', '.join('?' * len(EVENT_ROW_COLUMNS))})",
           row) for row in rows),
        ("UPDATE episode SET version = ?, head_hash = ? WHERE id = ?", (version, prev, episode_id)),
    ]
    if snapshot is not None:
        statements.append(("UPDATE episode SET snapshot = ? WHERE id = ?", (snapshot, episode_id)))
    tamper(url, *statements)
    return prev
