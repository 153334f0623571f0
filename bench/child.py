"""Work run in a fresh child process, so its peak RSS is its own: `python -m bench.child KIND ARGS`.

    verify URL   persistence.audit.verify on the store opened read-only (as `crs audit verify`); on a
                 large database it checks episodes in worker processes, whose own peak RSS is
                 reported apart (workers_peak_rss_mb: the largest worker; 0 when none ran)
    serial URL   verify in this one process (no worker processes): what one core does
    chain URL    the same without re-deciding each event (chain + fold == snapshot only): how much
                 of verify's time the replay takes (a diagnostic, not a mode crs offers)
    raw PATH     the baseline: read the same event rows with sqlite3, recompute SHA-256 of each,
                 check each links to its predecessor, in this one process
    raw-parallel PATH WORKERS
                 the same baseline in WORKERS forked processes, each with its own read-only
                 connection reading a contiguous share of the episodes: what the straightforward
                 loop does with as many processes as verify's workers (timed from the first query
                 to the last worker's exit)

verify, serial and chain also report `workers`: how many worker processes verify checked with
(0: in-process), so the bench can put the baseline with as many processes beside each.

Prints one JSON object: the counts, seconds, and peak RSS (VmHWM) before and after the work.
"""

import hashlib
import json
import multiprocessing
import resource
import sqlite3
import sys
import time
from typing import Any

from bench.core import peak_rss_mb

RAW_COLUMNS = ("SELECT episode_id, seq, kind, at, recorded_at, actor, from_state, to_state, payload, override, "
               "prev_hash, hash FROM event")
RAW_SELECT = RAW_COLUMNS + " ORDER BY episode_id, seq"
RAW_SHARE = RAW_COLUMNS + " WHERE episode_id BETWEEN ? AND ? ORDER BY episode_id, seq"


def verify(url: str, replay: bool = True, workers: bool = True) -> dict[str, object]:
    from persistence import audit
    from persistence.audit import verify as audit_verify
    from persistence.store import Store

    if not replay:
        audit.REDECIDE = False  # this child process only
    if not workers:
        audit.MAX_WORKERS = 1  # this child process only
    used: list[int] = []
    chosen = audit._workers

    def counted(*args: Any) -> int:  # how many workers verify chose: the parallel baseline gets as many
        used.append(chosen(*args))
        return used[-1]
    audit._workers = counted  # this child process only
    store = Store.open(url, read_only=True)
    before = peak_rss_mb()
    started = time.perf_counter()
    report = audit_verify(store)
    seconds = time.perf_counter() - started
    return {"ok": report.ok, "episodes": report.episodes, "events": report.events, "failures": len(report.failures),
            "first_failure": report.failures[0].as_json() if report.failures else None, "seconds": seconds,
            "rss_before_mb": before, "peak_rss_mb": peak_rss_mb(), "workers_peak_rss_mb": _children_peak_rss_mb(),
            "workers": used[0] if used and used[0] > 1 else 0}


def _children_peak_rss_mb() -> float:
    """The largest peak RSS among this process's finished children (Linux: ru_maxrss in kB)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def _hash_rows(path: str, sql: str, params: tuple[str, ...] = ()) -> tuple[int, int]:
    """The baseline's loop: stream the rows, SHA-256 each, check each links to its predecessor.
    Returns (events, broken links)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    events = broken = 0
    episode, prev = None, ""
    sha256 = hashlib.sha256
    try:
        for row in conn.execute(sql, params):  # streamed by the cursor, never all in memory
            if row[0] != episode:
                episode, prev = row[0], "0" * 64
            text = "".join(str(x) for x in row[:10])
            sha256((row[10] + text).encode()).hexdigest()
            if row[10] != prev:
                broken += 1
            prev = row[11]
            events += 1
    finally:
        conn.close()
    return events, broken


def raw(path: str) -> dict[str, object]:
    before = peak_rss_mb()
    started = time.perf_counter()
    events, broken = _hash_rows(path, RAW_SELECT)
    seconds = time.perf_counter() - started
    return {"events": events, "broken": broken, "seconds": seconds, "rss_before_mb": before,
            "peak_rss_mb": peak_rss_mb(), "workers": 0}


def _share(args: tuple[str, str, str]) -> tuple[int, int]:
    path, first, last = args
    return _hash_rows(path, RAW_SHARE, (first, last))


def raw_parallel(path: str, workers: int) -> dict[str, object]:
    before = peak_rss_mb()
    started = time.perf_counter()
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    ids = [episode_id for (episode_id,) in conn.execute("SELECT id FROM episode ORDER BY id")]
    conn.close()
    size = -(-len(ids) // workers)  # contiguous shares, the last one possibly shorter
    shares = [(path, chunk[0], chunk[-1]) for chunk in (ids[i:i + size] for i in range(0, len(ids), size))]
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        counts = pool.map(_share, shares, chunksize=1)
    seconds = time.perf_counter() - started
    return {"events": sum(e for e, _ in counts), "broken": sum(b for _, b in counts), "seconds": seconds,
            "rss_before_mb": before, "peak_rss_mb": peak_rss_mb(), "workers": workers,
            "workers_peak_rss_mb": _children_peak_rss_mb()}


def main(argv: list[str]) -> None:
    kind, target = argv[0], argv[1]
    result = {"verify": verify, "chain": lambda url: verify(url, replay=False),
              "serial": lambda url: verify(url, workers=False), "raw": raw,
              "raw-parallel": lambda path: raw_parallel(path, int(argv[2]))}[kind](target)
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
