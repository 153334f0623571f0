"""Benchmark 3b: `audit verify --checkpoint`, full against incremental (`--since-checkpoint`), same database.

Run by bench/audit.py at its 100,000-event size (the largest it has up to that): the generated
database is copied (SQLite's backup API, a consistent copy), a signed checkpoint of it is taken
(`persistence.checkpoint.take` + `sign`: a full verify, then the signature), then 1% of its episodes
get three observations each through the store's own step path (pathway.service.handle, recorded
after the checkpoint). Then, each in a fresh child process on that same file, one after another:
incremental, full, incremental again (the incremental figure is their mean, so a busy moment
moves both modes). Full re-decides every event; incremental re-decides only the appended ones and
does not fold the episodes that did not change (persistence/checkpoint.py says what it skips).

    python -m bench.checkpoint take URL KEY OUT         sign a checkpoint of URL with KEY into OUT
    python -m bench.checkpoint verify URL CP PUB MODE   verify URL against CP (MODE: full, incremental)

Each child prints one JSON object: seconds, the report's counts and its own peak RSS.
"""

import json
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from bench.core import ROOT, Row, child_env, peak_rss_mb, say

APPENDED_SHARE = 0.01  # of the episodes, appended to after the checkpoint
APPENDED_EACH = 3  # observations appended to each


def _child(*args: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "bench.checkpoint", *args], env=child_env(), cwd=ROOT,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"bench.checkpoint {args[0]} failed ({done.returncode}): {done.stderr[-1500:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _append(url: str, share: float, each: int) -> tuple[int, int]:
    """Three observations on 1% of the episodes (at least one), recorded now: (episodes, events) appended."""
    from pathway.commands import RecordObservation
    from pathway.observations import Observation
    from pathway.service import handle
    from persistence.store import Store

    store = Store.open(url)
    try:
        ids = sorted(e.id for e in store.episodes())
        chosen = ids[::max(1, round(1 / share))][:max(1, round(len(ids) * share))]
        for episode_id in chosen:
            for n in range(each):
                now = datetime.now(timezone.utc)
                command = RecordObservation(at=now - timedelta(minutes=each - n), actor="bench", episode_id=episode_id,
                                            observation=Observation(temp_c=37.0 + n / 10, o2_device="room-air"))
                handle(command, store.unit_of_work(), now)
    finally:
        store.close()
    return len(chosen), len(chosen) * each


def compare(db: Path, folder: Path, events: int) -> list[Row]:
    """Full vs incremental verify against one checkpoint of a copy of `db` (which holds `events` events)."""
    from persistence import checkpoint

    copy = folder / "checkpoint.db"
    source, target = sqlite3.connect(db), sqlite3.connect(copy)
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()
    url = f"sqlite:///{copy}"
    key = checkpoint.generate_key()
    key_file, public_file, out = folder / "bench-key", folder / "bench-key.pub", folder / "checkpoint.json"
    key_file.write_bytes(checkpoint.private_pem(key))
    public_file.write_bytes(checkpoint.public_pem(key.public_key()))
    taken = _child("take", url, str(key_file), str(out))
    if not taken["ok"]:
        raise RuntimeError(f"the generated database did not verify for its checkpoint: {taken}")
    episodes, appended = _append(url, APPENDED_SHARE, APPENDED_EACH)
    total = events + appended
    runs = [_child("verify", url, str(out), str(public_file), mode) for mode in ("incremental", "full", "incremental")]
    if any(not r["ok"] or r["events"] != total for r in runs):
        raise RuntimeError(f"verify --checkpoint did not pass on the grown database: {runs}")
    full = runs[1]["seconds"]
    incremental = (runs[0]["seconds"] + runs[2]["seconds"]) / 2
    say(f"  checkpoint: taken in {taken['seconds']:.1f} s; {episodes} episode(s) then got {appended} event(s); "
        f"verify --checkpoint full {full:.1f} s, --since-checkpoint {runs[0]['seconds']:.2f} / "
        f"{runs[2]['seconds']:.2f} s")
    shown = f"{total:,} events, {appended} appended to {episodes} of the episodes"
    return [
        Row("3 audit", f"checkpoint (full verify + sign) at {events:,} events", events / taken["seconds"], "events/s",
            note=f"{taken['seconds']:.1f} s", extra={"seconds": taken["seconds"]}),
        Row("3 audit", f"verify --checkpoint (full) at {shown}", total / full, "events/s",
            note=f"{full:.1f} s; peak RSS {runs[1]['peak_rss_mb']:.1f} MB", extra={"seconds": full}),
        Row("3 audit", f"verify --checkpoint --since-checkpoint at {shown}", total / incremental, "events/s",
            "full verify --checkpoint, same database and run", total / full,
            note=f"{incremental:.2f} s (mean of 2, around the full run); re-decides {appended} event(s); "
                 f"peak RSS {max(runs[0]['peak_rss_mb'], runs[2]['peak_rss_mb']):.1f} MB",
            extra={"seconds": incremental, "runs": [r["seconds"] for r in runs]}),
    ]


def _take(url: str, key_path: str, out: str) -> dict[str, Any]:
    from persistence import checkpoint
    from persistence.store import Store

    key = checkpoint.load_private_key(Path(key_path).read_bytes(), key_path)
    store = Store.open(url, read_only=True)
    started = time.perf_counter()
    report, body = checkpoint.take(store, datetime.now(timezone.utc))
    if body is not None:
        Path(out).write_text(checkpoint.text_of(checkpoint.sign(body, key)), encoding="utf-8")
    seconds = time.perf_counter() - started
    return {"ok": body is not None, "events": report.events, "seconds": seconds, "peak_rss_mb": peak_rss_mb()}


def _verify(url: str, checkpoint_path: str, public_path: str, mode: str) -> dict[str, Any]:
    from persistence import checkpoint
    from persistence.store import Store

    store = Store.open(url, read_only=True)
    started = time.perf_counter()
    public = checkpoint.load_public_key(Path(public_path).read_bytes(), public_path)
    taken = checkpoint.read(Path(checkpoint_path).read_bytes(), public)
    report = checkpoint.verify_checkpoint(store, taken, incremental=mode == "incremental")
    seconds = time.perf_counter() - started
    return {"ok": report.ok, "episodes": report.episodes, "events": report.events, "failures": len(report.failures),
            "first_failure": report.failures[0].as_json() if report.failures else None, "seconds": seconds,
            "peak_rss_mb": peak_rss_mb()}


def main(argv: list[str]) -> None:
    if argv[0] == "take":
        result = _take(*argv[1:4])
    elif argv[0] == "verify":
        result = _verify(*argv[1:5])
    else:
        raise SystemExit(f"unknown kind {argv[0]!r}")
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
