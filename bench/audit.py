"""Benchmark 3: `audit verify` events/s and peak memory, against reading the rows and hashing them.

One SQLite database grows through the sizes (default 100 then 1,000 episodes of 100 events:
10,000 then 100,000 events; `--large` adds 10,000 episodes: 1,000,000 events). At each size a
fresh child process runs `persistence.audit.verify` (chain + fold == snapshot + re-deciding
every event) and others the raw baseline (bench/child.py; the median of three runs, taken
before, between and after the others), each reporting its own peak RSS,
so memory that grows with the database shows up as a growing figure. From
`audit.PARALLEL_MIN_EVENTS` (5,000) events on, verify checks episodes in worker processes, one
per CPU: its figure is then wall-clock time over all of them (the baseline stays one process),
so a second core busy with other work lowers it; the largest worker's peak RSS is noted apart.
At 100,000 events (or the largest size below it), bench/checkpoint.py compares `verify --checkpoint`
in full with the incremental `--since-checkpoint` on a copy of that database grown by 1% of its
episodes since a signed checkpoint.
"""

import shutil
import tempfile
import time
from pathlib import Path

from bench import checkpoint as checkpoint_bench
from bench.core import Goal, Row, Sizes, run_json_child, say
from bench.history import Templates, fill
from persistence.store import Store


def run(sizes: Sizes) -> list[Row]:
    folder = Path(tempfile.mkdtemp(prefix="crs-bench-audit-"))
    try:
        return _run(sizes, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _run(sizes: Sizes, folder: Path) -> list[Row]:
    db = folder / "audit.db"
    url = f"sqlite:///{db}"
    store = Store.open(url)
    per = sizes.audit_events_per_episode
    templates = Templates(per)
    rows: list[Row] = []
    have = 0
    gen_events = gen_seconds = 0.0
    rss: list[tuple[int, float, float, float]] = []  # (events, verify peak, raw peak, largest worker's peak)
    sized = [episodes * per for episodes in sizes.audit_episodes]
    compare_at = max([n for n in sized if n <= 100_000] or sized[:1])  # full vs incremental verify there
    for episodes in sizes.audit_episodes:
        started = time.perf_counter()
        gen_events += fill(store, episodes - have, per, first=have, templates=templates)
        gen_seconds += time.perf_counter() - started
        have = episodes
        events = episodes * per
        say(f"  audit: {events:,} events generated ({gen_events / gen_seconds:,.0f} events/s); verifying")
        bases = [run_json_child(["raw", str(db)])]  # the baseline between the others: a busy moment moves both
        ours = run_json_child(["verify", url])
        if not ours["ok"] or ours["events"] != events:
            raise RuntimeError(f"audit verify did not pass on the generated database: {ours}")
        bases.append(run_json_child(["raw", str(db)]))
        chain = run_json_child(["chain", url])
        serial = run_json_child(["serial", url])
        bases.append(run_json_child(["raw", str(db)]))
        base = sorted(bases, key=lambda b: b["seconds"])[1]  # the median of three
        if any(b["events"] != events or b["broken"] for b in bases):
            raise RuntimeError(f"the raw baseline read a different database: {bases}")
        rows.append(Row("3 audit", f"verify events/s at {events:,} events", events / ours["seconds"], "events/s",
                        "raw read + SHA-256", events / base["seconds"], Goal(">=", 0.3),
                        note="in worker processes (one per CPU)" if ours["workers_peak_rss_mb"] else "in-process",
                        extra={"events": events, "verify_s": ours["seconds"], "raw_s": base["seconds"]}))
        rows.append(Row("3 audit", f"verify in one process at {events:,} events", events / serial["seconds"],
                        "events/s", "raw read + SHA-256", events / base["seconds"],
                        note="no worker processes: what one core does (the baseline's own terms)"))
        rows.append(Row("3 audit", f"verify without replay at {events:,} events", events / chain["seconds"],
                        "events/s", "raw read + SHA-256", events / base["seconds"],
                        note="chain + fold == snapshot only, no re-decide: diagnostic, shows what the replay costs"))
        rss.append((events, ours["peak_rss_mb"], base["peak_rss_mb"], ours["workers_peak_rss_mb"]))
        workers = f" (workers' peak {ours['workers_peak_rss_mb']:.1f} MB)" if ours["workers_peak_rss_mb"] else ""
        say(f"  audit: {events:,} events: verify {ours['seconds']:.1f} s, peak RSS {ours['peak_rss_mb']:.1f} MB{workers}; "
            f"one process {serial['seconds']:.1f} s; chain only {chain['seconds']:.1f} s; raw {base['seconds']:.2f} s, {base['peak_rss_mb']:.1f} MB")
        if events == compare_at:
            rows += checkpoint_bench.compare(db, folder, events)
    store.close()
    smallest = rss[0]
    for events, peak, raw_peak, worker_peak in rss[1:]:
        workers = f"; largest worker process {worker_peak:.1f} MB" if worker_peak else ""
        rows.append(Row("3 audit", f"verify peak RSS at {events:,} events", peak, "MB",
                        f"verify at {smallest[0]:,} events", smallest[1], Goal("flat", 1.1),
                        note=f"raw baseline peak {raw_peak:.1f} MB{workers}"))
    rows.append(Row("3 audit", f"verify peak RSS at {smallest[0]:,} events", smallest[1], "MB",
                    note=f"raw baseline peak {smallest[2]:.1f} MB"))
    rows.append(Row("3 audit", "history generation (decide + store append path)", gen_events / gen_seconds,
                    "events/s", note="setup speed, not a goal"))
    return rows
