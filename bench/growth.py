"""Benchmark 4: step latency as one episode's history grows (10, 100, 1,000, 10,000 events).

The hot path reads the snapshot row, never the history, so a step should cost the same at event
10 and at event 10,000. Each size is its own episode (a valid scripted course written through
the store's append path) in one SQLite file; rounds visit the sizes in turn, a few durable
steps each, so a busy machine slows every size alike. The baseline is the smallest size.
"""

import shutil
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from bench.core import Goal, Row, Sizes, median, p90, say
from bench.history import append_histories, course_events
from bench.steps import commands
from pathway.service import handle
from persistence.store import Store

ROUNDS = 10


def run(sizes: Sizes) -> list[Row]:
    folder = Path(tempfile.mkdtemp(prefix="crs-bench-growth-"))
    try:
        return _run(sizes, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _run(sizes: Sizes, folder: Path) -> list[Row]:
    store = Store.open(f"sqlite:///{folder / 'growth.db'}")
    clocks = {}
    for number, n in enumerate(sizes.growth_sizes):
        episode = f"EGROW{number}"
        history = course_events(n, episode_id=episode, spacing=timedelta(minutes=1))
        append_histories(store, iter([history]))
        clocks[n] = (episode, history[-1].at)
    say(f"  growth: episodes of {', '.join(f'{n:,}' for n in sizes.growth_sizes)} events written")
    latencies: dict[int, list[float]] = {n: [] for n in sizes.growth_sizes}
    per_round = max(1, sizes.growth_steps // ROUNDS)
    for round_ in range(ROUNDS + 1):
        warm = round_ == 0  # the first round warms up and is not counted
        for n in sizes.growth_sizes:
            episode, clock = clocks[n]
            for cmd in commands(episode, clock, per_round):
                started = time.perf_counter()
                handle(cmd, store.unit_of_work(), cmd.at)
                if not warm:
                    latencies[n].append(time.perf_counter() - started)
                clock = cmd.at
            clocks[n] = (episode, clock)
    store.close()
    first = sizes.growth_sizes[0]
    rows = []
    for n in sizes.growth_sizes:
        for stat, f in (("median", median), ("p90", p90)):
            rows.append(Row("4 growth", f"step latency at {n:,} events ({stat})", f(latencies[n]), "s",
                            f"at {first:,} events", f(latencies[first]), Goal("flat", 1.2) if n != first else None,
                            extra={"steps": len(latencies[n])}))
    return rows
