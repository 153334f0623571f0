"""Benchmark 3: `audit verify` events/s and peak memory, against reading the rows and hashing them.

One SQLite database grows through the sizes (default 100 then 1,000 episodes of 100 events:
10,000 then 100,000 events; `--large` adds 10,000 episodes: 1,000,000 events). At each size, each
in a fresh child process (bench/child.py, each reporting its own peak RSS, so memory that grows
with the database shows up as a growing figure): `persistence.audit.verify` (chain + fold ==
snapshot + re-deciding every event) as `crs audit verify` runs it, the same in one process, the
same without the re-decide (a diagnostic), and the baselines, each three times between the
others and its median kept. Every ratio compares like with like:

- one process against one process: `verify in one process` against the raw baseline (read every
  event row with sqlite3, SHA-256 it, check it links to its predecessor) in one process. This is
  the audit's like-for-like figure (goal >= 0.3x): the same core doing both.
- parallel against parallel: from `audit.PARALLEL_MIN_EVENTS` (5,000) events on, verify checks
  episodes in worker processes (one per CPU, at most `audit.MAX_WORKERS`) fed by the reading
  process, so its figure is wall-clock time over all of them. Its baseline is then the faster of
  the raw loop in one process and in as many forked processes as verify had workers, each reading
  a contiguous share of the episodes on its own connection (the row names which won: on a small
  database forking costs the raw loop more than sharing the work saves, and a baseline slower than
  the one-process loop would flatter verify). Below that size verify runs in-process and so does
  its baseline. A second core busy with other work lowers both; the largest worker's peak RSS is
  noted apart.
  (Until issue 13 the parallel verify was compared with the one-process baseline: two cores
  against one.)
- `verify without replay` is compared with the same baseline as verify (it uses workers too).

At 100,000 events (or the largest size below it), bench/checkpoint.py compares `verify --checkpoint`
in full with the incremental `--since-checkpoint` on a copy of that database grown by 1% of its
episodes since a signed checkpoint.
"""

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

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
        # Each baseline three times, between the others, its median kept: a busy moment moves both sides.
        bases: list[dict[str, Any]] = [run_json_child(["raw", str(db)])]
        ours = run_json_child(["verify", url])
        if not ours["ok"] or ours["events"] != events:
            raise RuntimeError(f"audit verify did not pass on the generated database: {ours}")
        workers = ours["workers"]  # the parallel baseline gets as many processes (none: verify ran in-process)
        parallel: list[dict[str, Any]] = []

        def baselines(one_process: bool = True) -> None:
            if one_process:
                bases.append(run_json_child(["raw", str(db)]))
            if workers:
                parallel.append(run_json_child(["raw-parallel", str(db), str(workers)]))
        baselines()
        chain = run_json_child(["chain", url])
        baselines(one_process=False)
        serial = run_json_child(["serial", url])
        baselines()
        base = _median_run(bases, events)
        base_name = "raw read + SHA-256, one process"
        par = _median_run(parallel, events) if workers else None
        wide, wide_name = base, base_name  # in-process verify, or forking cost the baseline more than it gained
        if par is not None and par["seconds"] < base["seconds"]:
            wide, wide_name = par, f"raw read + SHA-256, {workers} processes"
        against = (f"; baseline: the faster of the raw loop in one process and in {workers} "
                   f"({base['seconds']:.2f} s / {par['seconds']:.2f} s)") if par else ""
        rows.append(Row("3 audit", f"verify in one process at {events:,} events", events / serial["seconds"],
                        "events/s", base_name, events / base["seconds"], Goal(">=", 0.3),
                        note="the like-for-like figure: one process against one process",
                        extra={"events": events, "verify_s": serial["seconds"], "raw_s": base["seconds"]}))
        rows.append(Row("3 audit", f"verify events/s at {events:,} events", events / ours["seconds"], "events/s",
                        wide_name, events / wide["seconds"], Goal(">=", 0.3),
                        note=(f"as `crs audit verify` runs: a reading process and {workers} worker processes{against}"
                              if workers else "as `crs audit verify` runs: in-process here (below "
                              "audit.PARALLEL_MIN_EVENTS), so against the one-process baseline"),
                        extra={"events": events, "verify_s": ours["seconds"], "raw_s": wide["seconds"],
                               "workers": workers, "raw_one_process_s": base["seconds"],
                               "raw_parallel_s": par["seconds"] if par else None}))
        rows.append(Row("3 audit", f"verify without replay at {events:,} events", events / chain["seconds"],
                        "events/s", wide_name, events / wide["seconds"],
                        note="chain + fold == snapshot only, no re-decide: diagnostic, shows what the replay costs"))
        shown_workers = f" (workers' peak {ours['workers_peak_rss_mb']:.1f} MB)" if ours["workers_peak_rss_mb"] else ""
        in_parallel = f"; raw in {workers} processes {par['seconds']:.2f} s" if par else ""
        say(f"  audit: {events:,} events: verify {ours['seconds']:.1f} s, peak RSS {ours['peak_rss_mb']:.1f} MB{shown_workers}; "
            f"one process {serial['seconds']:.1f} s; chain only {chain['seconds']:.1f} s; raw one process "
            f"{base['seconds']:.2f} s, {base['peak_rss_mb']:.1f} MB{in_parallel}")
        rss.append((events, ours["peak_rss_mb"], base["peak_rss_mb"], ours["workers_peak_rss_mb"]))
        if events == compare_at:
            rows += checkpoint_bench.compare(db, folder, events)
    store.close()
    smallest = rss[0]
    for events, peak, raw_peak, worker_peak in rss[1:]:
        largest = f"; largest worker process {worker_peak:.1f} MB" if worker_peak else ""
        rows.append(Row("3 audit", f"verify peak RSS at {events:,} events", peak, "MB",
                        f"verify at {smallest[0]:,} events", smallest[1], Goal("flat", 1.1),
                        note=f"raw baseline peak {raw_peak:.1f} MB{largest}"))
    rows.append(Row("3 audit", f"verify peak RSS at {smallest[0]:,} events", smallest[1], "MB",
                    note=f"raw baseline peak {smallest[2]:.1f} MB"))
    rows.append(Row("3 audit", "history generation (decide + store append path)", gen_events / gen_seconds,
                    "events/s", note="setup speed, not a goal"))
    return rows


def _median_run(runs: list[dict[str, Any]], events: int) -> dict[str, Any]:
    """The median run of a baseline by seconds, once every run is shown to have read the whole, unbroken database."""
    if any(r["events"] != events or r["broken"] for r in runs):
        raise RuntimeError(f"the raw baseline read a different database: {runs}")
    return sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2]
