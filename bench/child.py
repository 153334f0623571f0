"""Work run in a fresh child process, so its peak RSS is its own: `python -m bench.child KIND ARGS`.

    verify URL   persistence.audit.verify on the store opened read-only (as `crs audit verify`); on a
                 large database it checks episodes in worker processes, whose own peak RSS is
                 reported apart (workers_peak_rss_mb: the largest worker; 0 when none ran)
    serial URL   verify in this one process (no worker processes): what one core does
    chain URL    the same without re-deciding each event (chain + fold == snapshot only): how much
                 of verify's time the replay takes (a diagnostic, not a mode crs offers)
    raw PATH     the baseline: read the same event rows with sqlite3, recompute SHA-256 of each,
                 check each links to its predecessor

Prints one JSON object: the counts, seconds, and peak RSS (VmHWM) before and after the work.
"""

import hashlib
import json
import resource
import sqlite3
import sys
import time

from bench.core import peak_rss_mb

RAW_SELECT = ("SELECT episode_id, seq, kind, at, recorded_at, actor, from_state, to_state, payload, override, "
              "prev_hash, hash FROM event ORDER BY episode_id, seq")


def verify(url: str, replay: bool = True, workers: bool = True) -> dict[str, object]:
    from persistence import audit
    from persistence.audit import verify as audit_verify
    from persistence.store import Store

    if not replay:
        audit.REDECIDE = False  # this child process only
    if not workers:
        audit.MAX_WORKERS = 1  # this child process only
    store = Store.open(url, read_only=True)
    before = peak_rss_mb()
    started = time.perf_counter()
    report = audit_verify(store)
    seconds = time.perf_counter() - started
    return {"ok": report.ok, "episodes": report.episodes, "events": report.events, "failures": len(report.failures),
            "first_failure": report.failures[0].as_json() if report.failures else None, "seconds": seconds,
            "rss_before_mb": before, "peak_rss_mb": peak_rss_mb(), "workers_peak_rss_mb": _children_peak_rss_mb()}


def _children_peak_rss_mb() -> float:
    """The largest peak RSS among this process's finished children (Linux: ru_maxrss in kB)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def raw(path: str) -> dict[str, object]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    before = peak_rss_mb()
    started = time.perf_counter()
    events = broken = 0
    episode, prev = None, ""
    sha256 = hashlib.sha256
    for row in conn.execute(RAW_SELECT):  # streamed by the cursor, never all in memory
        if row[0] != episode:
            episode, prev = row[0], "0" * 64
        text = "".join(str(x) for x in row[:10])
        sha256((row[10] + text).encode()).hexdigest()
        if row[10] != prev:
            broken += 1
        prev = row[11]
        events += 1
    seconds = time.perf_counter() - started
    conn.close()
    return {"events": events, "broken": broken, "seconds": seconds, "rss_before_mb": before,
            "peak_rss_mb": peak_rss_mb()}


def main(argv: list[str]) -> None:
    kind, target = argv[0], argv[1]
    result = {"verify": verify, "chain": lambda url: verify(url, replay=False),
              "serial": lambda url: verify(url, workers=False), "raw": raw}[kind](target)
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
