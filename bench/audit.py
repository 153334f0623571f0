"""Benchmark 3: `audit verify` events/s and peak memory, against reading the rows and hashing them.

One SQLite database grows through the sizes (default 100 then 1,000 episodes of 100 events:
10,000 then 100,000 events; `--large` adds 10,000 episodes: 1,000,000 events). At each size a
fresh child process runs `persistence.audit.verify` (chain + fold == snapshot + re-deciding
every event) and another the raw baseline (bench/child.py), each reporting its own peak RSS,
so memory that grows with the database shows up as a growing figure.
"""

import shutil
import tempfile
import time
from pathlib import Path

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
    rss: list[tuple[int, float, float]] = []  # (events, verify peak, raw peak)
    for episodes in sizes.audit_episodes:
        started = time.perf_counter()
        gen_events += fill(store, episodes - have, per, first=have, templates=templates)
        gen_seconds += time.perf_counter() - started
        have = episodes
        events = episodes * per
        say(f"  audit: {events:,} events generated ({gen_events / gen_seconds:,.0f} events/s); verifying")
        ours = run_json_child(["verify", url])
        if not ours["ok"] or ours["events"] != events:
            raise RuntimeError(f"audit verify did not pass on the generated database: {ours}")
        chain = run_json_child(["chain", url])
        base = run_json_child(["raw", str(db)])
        if base["events"] != events or base["broken"]:
            raise RuntimeError(f"the raw baseline read a different database: {base}")
        rows.append(Row("3 audit", f"verify events/s at {events:,} events", events / ours["seconds"], "events/s",
                        "raw read + SHA-256", events / base["seconds"], Goal(">=", 0.3),
                        extra={"events": events, "verify_s": ours["seconds"], "raw_s": base["seconds"]}))
        rows.append(Row("3 audit", f"verify without replay at {events:,} events", events / chain["seconds"],
                        "events/s", "raw read + SHA-256", events / base["seconds"],
                        note="chain + fold == snapshot only, no re-decide: diagnostic, shows what the replay costs"))
        rss.append((events, ours["peak_rss_mb"], base["peak_rss_mb"]))
        say(f"  audit: {events:,} events: verify {ours['seconds']:.1f} s, peak RSS {ours['peak_rss_mb']:.1f} MB; "
            f"raw {base['seconds']:.2f} s, {base['peak_rss_mb']:.1f} MB")
    store.close()
    smallest = rss[0]
    for events, peak, raw_peak in rss[1:]:
        rows.append(Row("3 audit", f"verify peak RSS at {events:,} events", peak, "MB",
                        f"verify at {smallest[0]:,} events", smallest[1], Goal("flat", 1.1),
                        note=f"raw baseline peak {raw_peak:.1f} MB"))
    rows.append(Row("3 audit", f"verify peak RSS at {smallest[0]:,} events", smallest[1], "MB",
                    note=f"raw baseline peak {smallest[2]:.1f} MB"))
    rows.append(Row("3 audit", "history generation (decide + store append path)", gen_events / gen_seconds,
                    "events/s", note="setup speed, not a goal"))
    return rows
