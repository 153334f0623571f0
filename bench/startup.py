"""Benchmark 1: whole-process latency of `crs` against its dependency floor.

A step a nurse types is a fresh process: interpreter start, imports, opening the database, one
transaction, printing. The floor is what no implementation on these libraries can beat: start
Python, import sqlmodel + typer + transitions, open the same SQLite file. `--help` and `pathway`
are compared with importing typer alone. The commands run interleaved in shuffled order, round
after round, so load from elsewhere on the machine falls on ours and the baseline alike.
"""

import random
import shutil
import subprocess
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bench.core import Goal, Row, Sizes, child_env, median, p90, say, time_process

FLOOR_STEP = "import sqlmodel, typer, transitions, sqlite3; sqlite3.connect({path!r}).execute('select 1')"
FLOOR_HELP = "import typer"


def crs_argv() -> list[str]:
    script = Path(sys.executable).parent / "crs"
    return [str(script)] if script.exists() else [sys.executable, "-m", "cli"]


def _open_episode(db: Path, at: datetime) -> str:
    """One episode in a fresh SQLite file, opened in-process (the CLI's own store and service)."""
    from pathway.commands import OpenEpisode
    from pathway.service import handle
    from persistence.store import Store

    store = Store.open(f"sqlite:///{db}")
    try:
        result = handle(OpenEpisode(at=at, actor="bench", patient_ref="BENCH-STARTUP", weight_kg=70, age_years=50),
                        store.unit_of_work(), at)
    finally:
        store.close()
    return result.episode.id


def _expect_ok(what: str):  # type: ignore[no-untyped-def]
    def check(done: subprocess.CompletedProcess[bytes]) -> None:
        if done.returncode != 0:
            raise RuntimeError(f"{what} exited {done.returncode}: {done.stderr.decode(errors='replace')[-400:]}")
    return check


def run(sizes: Sizes) -> list[Row]:
    folder = Path(tempfile.mkdtemp(prefix="crs-bench-startup-"))
    try:
        return _run(sizes, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _run(sizes: Sizes, folder: Path) -> list[Row]:
    db = folder / "crs.db"
    opened_at = (datetime.now(timezone.utc) - timedelta(days=2)).replace(microsecond=0)
    episode = _open_episode(db, opened_at)
    crs, py, env = crs_argv(), sys.executable, child_env()
    seconds = iter(range(60, 10**9))

    def observe() -> list[str]:  # each observe needs a later --at (TIME_ORDER), still in the past
        at = (opened_at + timedelta(seconds=next(seconds))).strftime("%Y-%m-%dT%H:%M:%SZ")
        return [*crs, "--db", f"sqlite:///{db}", "observe", episode, "--temp", "38.5", "--at", at]

    commands = {
        "crs observe": observe,
        "floor: import sqlmodel, typer, transitions + open SQLite": lambda: [py, "-c", FLOOR_STEP.format(path=str(db))],
        "crs --help": lambda: [*crs, "--help"],
        "crs pathway": lambda: [*crs, "pathway"],
        "floor: import typer": lambda: [py, "-c", FLOOR_HELP],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    order = list(commands)
    rng = random.Random(5)
    total = sizes.startup_warmup + sizes.startup_reps
    for round_ in range(total):
        rng.shuffle(order)
        for name in order:
            elapsed = time_process(commands[name](), env, _expect_ok(name))
            if round_ >= sizes.startup_warmup:  # warm-up rounds fill the page cache and bytecode caches
                times[name].append(elapsed)
        if round_ % 5 == 4:
            say(f"  startup: round {round_ + 1}/{total}")

    def row(name: str, base: str, goal: float, stat: str = "median") -> Row:
        f = median if stat == "median" else p90
        return Row("1 startup", f"{name} ({stat})", f(times[name]), "s", base.removeprefix("floor: "), f(times[base]),
                   Goal("<=", goal), extra={"runs": len(times[name])})

    step_floor = "floor: import sqlmodel, typer, transitions + open SQLite"
    rows = [row("crs observe", step_floor, 1.2), row("crs observe", step_floor, 1.2, "p90")]
    for name in ("crs --help", "crs pathway"):
        rows += [row(name, "floor: import typer", 1.5), row(name, "floor: import typer", 1.5, "p90")]
    return rows
