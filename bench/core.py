"""What every benchmark shares: sizes, the result row, statistics, timing of child processes, tables.

A row is one figure against one baseline measured in the same run, so a slow or busy machine
moves both and the ratio stays meaningful. Ratios are always figure / baseline; the goal says
which side is good (latency: at most; throughput: at least). Nothing here ever fails a build.
"""

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent  # the repository: children import bench, tests, pathway from here


@dataclass(frozen=True)
class Sizes:
    """How much work each benchmark does. `default` finishes in a few minutes on 2 cores."""

    startup_reps: int = 25  # timed runs of each command (after warm-up), interleaved
    startup_warmup: int = 3
    startup_history_events: int = 1_000  # `crs history` of one episode this long
    startup_list_episodes: int = 1_000  # `crs list` of this many episodes
    engine_steps: int = 1_500  # durable steps per SQLite throughput round
    engine_rounds: int = 4  # rounds alternate ours and the baseline
    pg_steps: int = 600  # per client
    pg_clients: tuple[int, ...] = (1, 8)
    audit_episodes: tuple[int, ...] = (100, 1_000)  # verified cumulatively: 10,000 then 100,000 events
    audit_events_per_episode: int = 100
    growth_sizes: tuple[int, ...] = (10, 100, 1_000, 10_000)
    growth_steps: int = 300
    fuzz_examples: int = 60
    exhaustive_states: int = 3_000

    @classmethod
    def quick(cls) -> "Sizes":
        """Tiny sizes: proves every benchmark runs (tests/bench), measures nothing worth quoting."""
        return cls(startup_reps=1, startup_warmup=1, startup_history_events=30, startup_list_episodes=12,
                   engine_steps=40, engine_rounds=2, pg_steps=20,
                   pg_clients=(1, 2), audit_episodes=(3, 6), audit_events_per_episode=20, growth_sizes=(10, 60),
                   growth_steps=10, fuzz_examples=3, exhaustive_states=40)

    @classmethod
    def large(cls) -> "Sizes":
        """`--large`: the audit also at 1,000,000 events (10,000 episodes x 100)."""
        return cls(audit_episodes=(100, 1_000, 10_000))


@dataclass(frozen=True)
class Goal:
    op: str  # "<=" (lower is better) or ">=" (higher is better) or "flat"
    ratio: float

    def met(self, ratio: float) -> bool:
        return ratio <= self.ratio if self.op in ("<=", "flat") else ratio >= self.ratio

    def __str__(self) -> str:
        return f"{'<=' if self.op == 'flat' else self.op} {self.ratio:g}x"


@dataclass
class Row:
    bench: str
    name: str
    figure: float
    unit: str
    baseline_name: str = ""
    baseline: float | None = None
    goal: Goal | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0):
            return None
        return self.figure / self.baseline  # type: ignore[operator]

    @property
    def status(self) -> str:
        if self.goal is None or self.ratio is None:
            return "info"
        return "met" if self.goal.met(self.ratio) else "NOT MET"

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["goal"] = str(self.goal) if self.goal else None
        out["ratio"] = None if self.ratio is None else round(self.ratio, 4)
        out["status"] = self.status
        return out


# -- statistics ---------------------------------------------------------------------------------

def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def p90(values: Sequence[float]) -> float:
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=10, method="inclusive")[-1]


def fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    if unit == "s":
        return f"{value * 1000:.0f} ms" if value >= 0.1 else f"{value * 1000:.2f} ms"
    if unit == "MB":
        return f"{value:.1f} MB"
    if abs(value) >= 100:
        return f"{value:,.0f}{(' ' + unit) if unit else ''}"
    return f"{value:.3g}{(' ' + unit) if unit else ''}"


@dataclass
class Spent:
    """Wall-clock and CPU seconds (this process: user + system, all its threads) summed over timed blocks.

    CPU time is the like-for-like figure for in-process work against a baseline on the same disk:
    waiting for a flush costs wall-clock time but no CPU, so a disk whose flush gets slower moves
    the wall-clock ratio towards 1 while the work done per step is unchanged."""

    wall: float = 0.0
    cpu: float = 0.0

    @contextmanager
    def timing(self) -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.wall += time.perf_counter() - wall
            self.cpu += time.process_time() - cpu


# -- child processes ----------------------------------------------------------------------------

def child_env() -> dict[str, str]:
    """The environment for timed children: the repo importable, bytecode cached as in a normal
    install (a `PYTHONDONTWRITEBYTECODE` shell would otherwise recompile every edited module)."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def time_process(argv: Sequence[str], env: dict[str, str], check: Callable[[subprocess.CompletedProcess[bytes]], None]
                 | None = None) -> float:
    """Wall-clock seconds of one whole process, start to exit."""
    started = time.perf_counter()
    done = subprocess.run(list(argv), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    elapsed = time.perf_counter() - started
    if check is not None:
        check(done)
    elif done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:4])} ... exited {done.returncode}: {done.stderr.decode()[-500:]}")
    return elapsed


def run_json_child(args: Sequence[str], timeout_s: float | None = None) -> dict[str, Any]:
    """Run `python -m bench.child ...` and return the JSON object it prints last."""
    done = subprocess.run([sys.executable, "-m", "bench.child", *args], env=child_env(), cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout_s)
    if done.returncode != 0:
        raise RuntimeError(f"bench.child {args[0]} failed ({done.returncode}): {done.stderr[-1500:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM), in MB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- output -------------------------------------------------------------------------------------

def say(text: str = "") -> None:
    print(text, flush=True)


def table(rows: Sequence[Row], title: str) -> str:
    header = ("measure", "figure", "baseline", "baseline figure", "ratio", "goal", "status")
    lines = [(r.name, fmt(r.figure, r.unit), r.baseline_name or "-", fmt(r.baseline, r.unit),
              "-" if r.ratio is None else f"{r.ratio:.2f}x", str(r.goal) if r.goal else "-", r.status) for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *lines)]
    out = [title, "  ".join(h.ljust(w) for h, w in zip(header, widths)), "  ".join("-" * w for w in widths)]
    out += ["  ".join(str(c).ljust(w) for c, w in zip(line, widths)) for line in lines]
    notes = [f"  * {r.name}: {r.note}" for r in rows if r.note]
    return "\n".join(out + notes)


def markdown(rows: Sequence[Row]) -> str:
    """The README table: one line per measure with a goal."""
    out = ["| benchmark | measure | figure | baseline | ratio | goal | status |",
           "|---|---|---|---|---|---|---|"]
    for r in rows:
        if r.goal is None:
            continue
        ratio = "-" if r.ratio is None else f"{r.ratio:.2f}x"
        out.append(f"| {r.bench} | {r.name} | {fmt(r.figure, r.unit)} | {r.baseline_name}: {fmt(r.baseline, r.unit)} "
                   f"| {ratio} | {r.goal} | {r.status} |")
    return "\n".join(out)
