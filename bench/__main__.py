"""`python -m bench` (`make bench`): every benchmark, each with a baseline measured in the same run.

    python -m bench                      all benchmarks, default sizes (a few minutes on 2 cores)
    python -m bench --only startup,audit a selection: startup, engine, pg, audit, growth, fuzz
    python -m bench --large              the audit also at 1,000,000 events
    python -m bench --json [PATH]        also write the rows as JSON (default bench/results/latest.json)
    python -m bench --pg-url URL         use this PostgreSQL server instead of starting one
    python -m bench --quick              tiny sizes: proves the benchmarks run, measures nothing

Benchmarks measure; they never fail on speed (the exit status is 0 unless a benchmark broke).
"""

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from bench.core import ROOT, Row, Sizes, markdown, say, table

BENCHES = ("startup", "engine", "pg", "audit", "growth", "fuzz")
TITLES = {
    "startup": "1. Step latency, whole process (crs vs a peer CLI, its physical floor, typer, its own step)",
    "engine": "2. Engine, SQLite (CPU per durable step vs raw sqlite3; steps/s)",
    "pg": "2. Engine throughput, PostgreSQL (durable steps/s vs raw psycopg)",
    "audit": "3. Audit verify (events/s vs raw read + SHA-256, like for like; peak RSS)",
    "growth": "4. Growth (step latency vs history length)",
    "fuzz": "5. Fuzzing budget (steps/s and states/s)",
}


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(BENCHES), help="comma-separated: " + ", ".join(BENCHES))
    parser.add_argument("--large", action="store_true", help="audit verify also at 1,000,000 events")
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    parser.add_argument("--json", nargs="?", const=str(ROOT / "bench" / "results" / "latest.json"), default=None,
                        metavar="PATH", help="write machine-readable results")
    parser.add_argument("--pg-url", default=None, help="PostgreSQL URL (postgresql+psycopg://...) to use")
    args = parser.parse_args(argv)
    args.only = [b.strip() for b in args.only.split(",") if b.strip()]
    unknown = sorted(set(args.only) - set(BENCHES))
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHES)}")
    return args


def runners(args: argparse.Namespace) -> dict[str, Callable[[Sizes], list[Row]]]:
    """Imported lazily, so one benchmark's import cost never lands in another's figures."""
    def startup(s: Sizes) -> list[Row]:
        from bench import startup as m
        return m.run(s)

    def engine(s: Sizes) -> list[Row]:
        from bench import throughput as m
        return m.run_sqlite(s)

    def pg(s: Sizes) -> list[Row]:
        from bench import pg as m
        return m.run(s, args.pg_url)

    def audit(s: Sizes) -> list[Row]:
        from bench import audit as m
        return m.run(s)

    def growth(s: Sizes) -> list[Row]:
        from bench import growth as m
        return m.run(s)

    def fuzz(s: Sizes) -> list[Row]:
        from bench import fuzz as m
        return m.run(s)

    return {"startup": startup, "engine": engine, "pg": pg, "audit": audit, "growth": growth, "fuzz": fuzz}


def headline(name: str, rows: list[Row]) -> str | None:
    """A benchmark's one-line headline, printed under its table and again under the summary: the
    startup benchmark's step/peer and step/floor ratios (issue 13's figure). None for the others."""
    if name != "startup":
        return None
    from bench.startup import headline as startup_headline
    return startup_headline(rows)


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    sizes = Sizes.quick() if args.quick else Sizes.large() if args.large else Sizes()
    say(f"crs-pathway benchmarks: {', '.join(args.only)} ({'quick' if args.quick else 'large' if args.large else 'default'}"
        f" sizes; python {platform.python_version()}, {platform.machine()})")
    all_rows: list[Row] = []
    timings: dict[str, float] = {}
    broken: dict[str, str] = {}
    headlines: dict[str, str] = {}
    run = runners(args)
    for name in BENCHES:
        if name not in args.only:
            continue
        say(f"\n== {TITLES[name]}")
        started = time.perf_counter()
        try:
            rows = run[name](sizes)
        except Exception as err:  # one broken benchmark must not hide the others' figures
            broken[name] = f"{type(err).__name__}: {err}"
            say(f"  BROKEN: {broken[name]}")
            continue
        timings[name] = time.perf_counter() - started
        all_rows += rows
        say(table(rows, f"-- {TITLES[name]} ({timings[name]:.0f} s)"))
        line = headline(name, rows)
        if line:
            headlines[name] = line
            say(f"\n>> {line}")
    say("\n== Summary (ratio = figure / baseline measured in the same run)")
    say(table([r for r in all_rows if r.goal is not None], "-- goals"))
    for line in headlines.values():
        say(f"\n>> {line}")
    say("\nREADME table:\n" + markdown(all_rows))
    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({
            "when": datetime.now(timezone.utc).isoformat(), "sizes": sizes.__dict__, "python": platform.python_version(),
            "machine": platform.machine(), "seconds": timings, "broken": broken,
            "headlines": headlines,
            "rows": [r.as_json() for r in all_rows]}, indent=2, default=str))
        say(f"\nJSON written to {out}")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
