"""Benchmark 2 on PostgreSQL: durable steps/s with 1 and 8 client processes, on distinct episodes.

The server is the test suite's (tests/support/postgres.py: initdb into a temporary folder, a
free loopback port, default durability: fsync on, synchronous_commit on), or `--pg-url`. Each
client is a separate process (spawned: nothing inherited) that opens its own store and episode,
says ready, waits for the common start, and steps. The baseline clients insert one event-sized
row per committed transaction with psycopg, nothing else.
"""

import multiprocessing
import time
from datetime import timedelta
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bench.core import Goal, Row, Sizes, say


@contextmanager
def server(pg_url: str | None) -> Iterator[tuple[str | None, str]]:
    """(base URL or None, why not): a fresh database URL factory on the test suite's server."""
    if pg_url:
        yield pg_url, ""
        return
    try:
        from tests.support.postgres import find_bindir, start_server
    except ImportError as err:  # pytest missing: the dev extra is not installed
        yield None, f"cannot import tests.support.postgres ({err}); pass --pg-url"
        return
    bindir = find_bindir()
    if bindir is None:
        yield None, "no PostgreSQL server binaries (initdb/postgres); run `make postgres` or pass --pg-url"
        return
    pg = start_server(bindir)
    try:
        yield pg.create_database("crs_bench"), ""
    finally:
        pg.stop()


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def client(kind: str, url: str, number: int, steps: int, ready: Any, go: Any, results: Any) -> None:
    """One client process: `ours` steps through the service, `raw` inserts rows with psycopg."""
    try:
        if kind == "ours":
            from bench.steps import T0, open_episode, run_steps
            from persistence.store import Store

            store = Store.open(url)
            episode = open_episode(store, number)
            run_steps(store, episode, T0, 5)  # warm-up
            ready.put(number)
            go.wait()
            started = time.monotonic()
            run_steps(store, episode, T0 + timedelta(seconds=10), steps)
            results.put((started, time.monotonic(), steps, None))
            store.close()
        else:
            import psycopg

            from bench.steps import RAW_COLUMNS, event_row

            row = event_row(f"ERAW{number:02d}")
            sql = (f"INSERT INTO raw_event ({', '.join(RAW_COLUMNS)}) VALUES "
                   f"({', '.join('%s' for _ in RAW_COLUMNS)})")
            values = [row[c] for c in RAW_COLUMNS]
            with psycopg.connect(_libpq(url)) as conn:
                conn.execute("DELETE FROM raw_event WHERE episode_id = %s", (values[0],))
                conn.commit()
                ready.put(number)
                go.wait()
                started = time.monotonic()
                for seq in range(1, steps + 1):
                    values[1] = seq
                    with conn.transaction():
                        conn.execute(sql, values)
                results.put((started, time.monotonic(), steps, None))
    except BaseException as err:  # report, never hang the parent
        results.put((0.0, 0.0, 0, f"{type(err).__name__}: {err}"))
        raise


def _round(kind: str, url: str, clients: int, steps: int, first: int) -> float:
    """Steps per second of `clients` processes together, from the common start to the last finish."""
    ctx = multiprocessing.get_context("spawn")
    ready, results, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    procs = [ctx.Process(target=client, args=(kind, url, first + i, steps, ready, go, results), daemon=True)
             for i in range(clients)]
    for p in procs:
        p.start()
    try:
        for _ in procs:
            ready.get(timeout=120)
        started = time.monotonic()
        go.set()
        outcomes = [results.get(timeout=600) for _ in procs]
        elapsed = time.monotonic() - started
    finally:
        for p in procs:
            p.join(timeout=30)
    errors = [o[3] for o in outcomes if o[3]]
    if errors:
        raise RuntimeError(f"PostgreSQL {kind} client failed: {errors[0]}")
    return sum(o[2] for o in outcomes) / elapsed


def run(sizes: Sizes, pg_url: str | None) -> list[Row]:
    with server(pg_url) as (url, why):
        if url is None:
            say(f"  SKIPPED PostgreSQL engine benchmarks: {why}")
            return [Row("2 engine", "PostgreSQL durable steps/s", 0.0, "steps/s", note=f"skipped: {why}")]
        import psycopg

        from bench.steps import RAW_TABLE
        from persistence.store import Store

        Store.open(url).close()  # create the schema once, before the clients race to it
        with psycopg.connect(_libpq(url)) as conn:
            conn.execute(RAW_TABLE)
        rows = []
        first = 1
        for clients in sizes.pg_clients:
            ours = base = 0.0
            for _ in range(2):  # alternate: ours, raw, ours, raw
                ours += _round("ours", url, clients, sizes.pg_steps, first) / 2
                first += clients
                base += _round("raw", url, clients, sizes.pg_steps, first) / 2
            say(f"  engine postgresql, {clients} client(s): ours {ours:,.0f} steps/s, raw {base:,.0f} tx/s")
            rows.append(Row("2 engine", f"PostgreSQL durable steps/s ({clients} client{'s' if clients > 1 else ''})",
                            ours, "steps/s", "raw psycopg insert+commit", base, Goal(">=", 0.5),
                            extra={"clients": clients, "steps_per_client": sizes.pg_steps}))
        return rows
