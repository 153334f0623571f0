"""Benchmark 1: whole-process latency of `crs` against a peer and a physical floor that do the same work.

A step a nurse types is a fresh process: interpreter start, imports, opening the database, one
durable transaction, printing. What it is compared with has to do that same work, or the ratio
says nothing (the old floor imported the libraries and opened the file without writing to it):

- the peer: `sqlite-utils insert DB raw_event ROW.json`, a published CLI inserting one JSON row
  (a real observe event's columns, bench/steps.py `event_row`) into a WAL-mode SQLite database in
  its own transaction. `crs observe` / the peer is the headline figure (goal <= 1.5x, stretch 1.0x):
  what a user of another command-line tool on SQLite would expect a write to cost.
- the physical floor: a `python -c` child that imports pydantic and transitions, validates one
  input with a small pydantic model, fires one transition of a tiny transitions Machine and makes
  ONE durable sqlite3 write (WAL, synchronous=FULL, BEGIN IMMEDIATE, one row, COMMIT) into its own
  file: what no step on these libraries can beat. Information only: crs must also decide, check
  the chain and print, so its distance from the floor is what the step path costs, not a goal.
- `crs --help` and `crs pathway` against `python -c "import typer"` (goal <= 1.5x).
- `crs history` of a 1,000-event episode and `crs list` of 1,000 episodes against the median
  `crs observe` of the same run (goal <= 2.0x): reading must not cost much more than writing.
  Both databases are generated in-process through the store's own append path
  (bench/history.py `fill`), each in its own file, so `crs observe` still steps a small episode.

Every command runs interleaved in shuffled order, round after round, so load from elsewhere on
the machine falls on ours and the baselines alike. The peer is the `sqlite-utils` console script
of this interpreter's environment (`make bench` installs the `bench` extra); without it the peer
rows are skipped with one line of output, never a crash.
"""

import json
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bench.core import Goal, Row, Sizes, child_env, fmt, median, p90, say, time_process
from bench.history import episode_id, fill
from bench.steps import RAW_COLUMNS, RAW_TABLE, event_row, open_episode
from persistence.store import Store

#: The physical floor of a step (see the module docstring); argv: the database file, the row's seq.
FLOOR_STEP = """
import sqlite3, sys
import pydantic, transitions

class Reading(pydantic.BaseModel):
    episode_id: str
    temp_c: float

class Patient:
    pass

reading = Reading.model_validate({"episode_id": "EFLOOR", "temp_c": "38.5"})
patient = Patient()
transitions.Machine(model=patient, states=["assessment", "tocilizumab"], initial="assessment",
                    transitions=[["fever", "assessment", "tocilizumab"]])
patient.fever()
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA journal_mode = WAL")
conn.execute("PRAGMA synchronous = FULL")
conn.execute("BEGIN IMMEDIATE")
conn.execute("INSERT INTO floor_event (seq, state, payload) VALUES (?, ?, ?)",
             (int(sys.argv[2]), patient.state, reading.model_dump_json()))
conn.execute("COMMIT")
conn.close()
"""
FLOOR_TABLE = "CREATE TABLE floor_event (seq INTEGER PRIMARY KEY, state TEXT NOT NULL, payload TEXT NOT NULL)"
FLOOR_HELP = "import typer"
LIST_EVENTS_PER_EPISODE = 10  # each of the `crs list` episodes: opened, then a short course

# Row names the headline and the smoke test look up.
STEP_VS_PEER = "crs observe (median)"
STEP_VS_FLOOR = "crs observe over its physical floor (median)"
OBSERVE, PEER, FLOOR, TYPER = "crs observe", "sqlite-utils insert", "physical floor", "import typer"


def venv_script(name: str, bin_dir: Path | None = None) -> Path | None:
    """The console script `name` of this interpreter's environment, or None when it is not installed."""
    script = (bin_dir or Path(sys.executable).parent) / name
    return script if script.exists() else None


def crs_argv() -> list[str]:
    script = venv_script("crs")
    return [str(script)] if script else [sys.executable, "-m", "cli"]


def _expect_ok(what: str) -> Callable[[subprocess.CompletedProcess[bytes]], None]:
    def check(done: subprocess.CompletedProcess[bytes]) -> None:
        if done.returncode != 0:
            raise RuntimeError(f"{what} exited {done.returncode}: {done.stderr.decode(errors='replace')[-400:]}")
    return check


def _sqlite_file(path: Path, table: str) -> None:
    """A WAL-mode SQLite file with one empty table: where a baseline writes."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(table)
        conn.commit()
    finally:
        conn.close()


def _filled(db: Path, episodes: int, events_per_episode: int) -> None:
    """`episodes` episodes of `events_per_episode` events in a fresh file, through the store's append path."""
    store = Store.open(f"sqlite:///{db}")
    try:
        fill(store, episodes, events_per_episode)
    finally:
        store.close()


def run(sizes: Sizes) -> list[Row]:
    folder = Path(tempfile.mkdtemp(prefix="crs-bench-startup-"))
    try:
        return _run(sizes, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _run(sizes: Sizes, folder: Path) -> list[Row]:
    db, history_db, list_db = folder / "crs.db", folder / "history.db", folder / "list.db"
    opened_at = (datetime.now(timezone.utc) - timedelta(days=2)).replace(microsecond=0)
    store = Store.open(f"sqlite:///{db}")
    try:
        episode = open_episode(store, 1, opened_at)
    finally:
        store.close()
    _filled(history_db, 1, sizes.startup_history_events)
    _filled(list_db, sizes.startup_list_episodes, LIST_EVENTS_PER_EPISODE)
    long_episode = episode_id(0)  # the one episode `fill` wrote into history.db
    crs, py, env = crs_argv(), sys.executable, child_env()
    seconds = iter(range(60, 10**9))
    seqs = iter(range(1, 10**9))

    def observe() -> list[str]:  # each observe needs a later --at (TIME_ORDER), still in the past
        at = (opened_at + timedelta(seconds=next(seconds))).strftime("%Y-%m-%dT%H:%M:%SZ")
        return [*crs, "--db", f"sqlite:///{db}", "observe", episode, "--temp", "38.5", "--at", at]

    floor_db = folder / "floor.db"
    _sqlite_file(floor_db, FLOOR_TABLE)
    history_name = f"crs history, {sizes.startup_history_events:,} events"
    list_name = f"crs list, {sizes.startup_list_episodes:,} episodes"
    commands: dict[str, Callable[[], list[str]]] = {
        OBSERVE: observe,
        FLOOR: lambda: [py, "-c", FLOOR_STEP, str(floor_db), str(next(seqs))],
        "crs --help": lambda: [*crs, "--help"],
        "crs pathway": lambda: [*crs, "pathway"],
        TYPER: lambda: [py, "-c", FLOOR_HELP],
        history_name: lambda: [*crs, "--db", f"sqlite:///{history_db}", "history", long_episode],
        list_name: lambda: [*crs, "--db", f"sqlite:///{list_db}", "list"],
    }
    peer = venv_script("sqlite-utils")
    if peer is None:
        say("  startup: sqlite-utils is not installed (`make bench` installs the bench extra): the peer rows are skipped")
    else:
        peer_db, row_file = folder / "peer.db", folder / "row.json"
        _sqlite_file(peer_db, RAW_TABLE)
        peer_row = {column: value for column, value in event_row().items() if column in RAW_COLUMNS}

        def peer_insert() -> list[str]:  # a fresh seq each time (the table's primary key), written before the clock starts
            row_file.write_text(json.dumps({**peer_row, "seq": next(seqs)}))
            return [str(peer), "insert", str(peer_db), "raw_event", str(row_file)]
        commands[PEER] = peer_insert

    times = _interleaved(commands, sizes, env)

    def row(name: str, base: str, goal: float | None, stat: str = "median", label: str | None = None,
            note: str = "") -> Row:
        f = median if stat == "median" else p90
        return Row("1 startup", label or f"{name} ({stat})", f(times[name]), "s", base, f(times[base]),
                   Goal("<=", goal) if goal is not None else None, note=note,
                   extra={"runs": len(times[name]), "p90": p90(times[name]), "baseline_p90": p90(times[base])})

    rows = []
    if peer is not None:
        peer_note = "one JSON row (a real event's columns) into a WAL database; stretch goal 1.0x"
        rows += [row(OBSERVE, PEER, 1.5, note=peer_note), row(OBSERVE, PEER, 1.5, "p90")]
        rows[0].extra["stretch"] = 1.0
    rows.append(row(OBSERVE, FLOOR, None, label=STEP_VS_FLOOR,
                    note="floor: import pydantic + transitions, one validation, one transition, one durable "
                         "sqlite3 write (WAL, synchronous=FULL); information, not a goal"))
    for name in ("crs --help", "crs pathway"):
        rows += [row(name, TYPER, 1.5), row(name, TYPER, 1.5, "p90")]
    rows += [row(history_name, OBSERVE, 2.0), row(list_name, OBSERVE, 2.0)]
    return rows


def _interleaved(commands: dict[str, Callable[[], list[str]]], sizes: Sizes, env: dict[str, str]) -> dict[str, list[float]]:
    """Seconds of each command's whole process, rounds in shuffled order; warm-up rounds not kept."""
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
    return times


def headline(rows: Sequence[Row]) -> str:
    """The issue's headline figure, one line: the step against its peer, and against its physical floor."""
    named = {r.name: r for r in rows}
    floor = named.get(STEP_VS_FLOOR)
    floor_part = f"step/floor: {floor.ratio:.1f}x (floor {fmt(floor.baseline, 's')})" if floor and floor.ratio else ""
    peer = named.get(STEP_VS_PEER)
    if peer is None or peer.ratio is None:
        return f"step/peer ratio: - (sqlite-utils not installed); {floor_part}"
    return (f"step/peer ratio: {peer.ratio:.2f}x (crs observe {fmt(peer.figure, 's')} vs sqlite-utils insert "
            f"{fmt(peer.baseline, 's')}; goal {peer.goal}, stretch 1.0x); {floor_part}")
