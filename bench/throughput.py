"""Benchmark 2: durable steps per second, in process, against a raw insert loop on the same disk.

Ours: `pathway.service.handle` + `Store.unit_of_work()`, one committed transaction per step
(SQLite: WAL, synchronous=FULL, BEGIN IMMEDIATE). Baseline: the DB-API driver inserting one
event-sized row (a real event's columns) per committed transaction, same pragmas. Rounds
alternate ours and the baseline so a busy machine slows both. PostgreSQL: see bench/pg.py.
"""

import shutil
import sqlite3
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from bench.core import Goal, Row, Sizes, say
from bench.steps import RAW_COLUMNS, RAW_TABLE, T0, event_row, open_episode, run_steps
from persistence.store import Store


def raw_sqlite_loop(path: Path, count: int, first_seq: int) -> None:
    """One event-sized row per committed transaction (BEGIN IMMEDIATE ... COMMIT), WAL + FULL."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute(RAW_TABLE)
        row = event_row()
        sql = f"INSERT INTO raw_event ({', '.join(RAW_COLUMNS)}) VALUES ({', '.join('?' * len(RAW_COLUMNS))})"
        values = [row[c] for c in RAW_COLUMNS]
        for seq in range(first_seq, first_seq + count):
            values[1] = seq
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(sql, values)
            conn.execute("COMMIT")
    finally:
        conn.close()


def store_sql_loop(path: Path, episode_id: str, count: int) -> None:
    """The store's own statements for one step (lock, read snapshot, insert event, update snapshot,
    commit) on its own schema and triggers, with rows computed once: the database's share of a step."""
    from bench.history import course_events
    from pathway.episode import fold
    from persistence.rows import EVENT_COLUMNS, snapshot_params
    from persistence.unit_of_work import LOAD_EPISODE as load

    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        version = conn.execute("SELECT version FROM episode WHERE id = ?", (episode_id,)).fetchone()[0]
        row = event_row(episode_id)
        events = course_events(3, episode_id=episode_id)
        snapshot = snapshot_params(fold(events), events[-1], "0" * 64)
        columns = EVENT_COLUMNS.split(", ")
        insert = f"INSERT INTO event ({EVENT_COLUMNS}) VALUES ({', '.join('?' * len(columns))})"
        update = ("UPDATE episode SET state = ?, version = ?, updated_at = ?, snapshot = ?, head_hash = ? "
                  "WHERE id = ? AND version = ?")
        values = [row[c] for c in columns]
        for seq in range(version + 1, version + 1 + count):
            values[1] = seq
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(load, {"id": episode_id}).fetchone()  # the snapshot and its head event, as a step reads them
            conn.execute(insert, values)
            conn.execute(update, (snapshot["state"], seq, snapshot["updated_at"], snapshot["snapshot"],
                                  row["hash"], episode_id, seq - 1))
            conn.execute("COMMIT")
    finally:
        conn.close()


def run_sqlite(sizes: Sizes) -> list[Row]:
    folder = Path(tempfile.mkdtemp(prefix="crs-bench-engine-"))
    try:
        store = Store.open(f"sqlite:///{folder / 'crs.db'}")
        episode, floor_episode = open_episode(store, 1), open_episode(store, 2)
        ours = base = floor = 0.0
        clock, raw_seq = T0, 1
        n = sizes.engine_steps
        run_steps(store, episode, clock, 50)  # warm-up: caches, pool, statement cache
        clock += timedelta(seconds=50)
        raw_sqlite_loop(folder / "raw.db", 50, 10**6)
        for round_ in range(sizes.engine_rounds):
            started = time.perf_counter()
            clock = run_steps(store, episode, clock, n)
            ours += time.perf_counter() - started
            started = time.perf_counter()
            raw_sqlite_loop(folder / "raw.db", n, raw_seq)
            base += time.perf_counter() - started
            raw_seq += n
            started = time.perf_counter()
            store_sql_loop(folder / "crs.db", floor_episode, n)
            floor += time.perf_counter() - started
            say(f"  engine sqlite: round {round_ + 1}/{sizes.engine_rounds}: ours {n / ours * (round_ + 1):,.0f} "
                f"steps/s, raw {n / base * (round_ + 1):,.0f} tx/s (running)")
        store.close()
        steps = n * sizes.engine_rounds
        return [Row("2 engine", "SQLite durable steps/s (1 client)", steps / ours, "steps/s",
                    "raw sqlite3 insert+commit", steps / base, Goal(">=", 0.5),
                    extra={"steps": steps, "ms_per_step": 1000 * ours / steps, "ms_per_raw_tx": 1000 * base / steps}),
                Row("2 engine", "SQL floor: the store's own statements per step (sqlite3, rows precomputed)",
                    steps / floor, "tx/s", "raw sqlite3 insert+commit", steps / base,
                    note=f"ours / this floor = {floor / ours:.2f}x: the rest of a step is Python "
                         "(decide, apply, JSON, hashing)")]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
