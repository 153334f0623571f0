"""The benchmarks run end to end at tiny sizes (`python -m bench --quick`). No timing is asserted:
speed is measured in bench/, never tested. What is asserted: every benchmark produced its rows
with a baseline, nothing broke, and the generated audit database verified (the bench refuses to
report a verify figure otherwise)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_bench(tmp_path: Path, *args: str) -> dict:
    out = tmp_path / "bench.json"
    done = subprocess.run([sys.executable, "-m", "bench", "--quick", "--json", str(out), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "== Summary" in done.stdout and "README table" in done.stdout
    return json.loads(out.read_text())


def rows_of(result: dict, bench: str) -> list[dict]:
    return [r for r in result["rows"] if r["bench"] == bench]


def test_every_benchmark_but_postgresql_runs_and_reports_ratios(tmp_path: Path) -> None:
    result = run_bench(tmp_path, "--only", "startup,engine,audit,growth,fuzz")
    assert result["broken"] == {}
    for bench in ("1 startup", "2 engine", "3 audit", "4 growth", "5 fuzz"):
        rows = rows_of(result, bench)
        assert rows, f"no rows for {bench}"
        assert all(r["figure"] > 0 for r in rows if "skipped" not in r["note"]), rows
    assert_startup_like_for_like(result)
    engine = {r["name"]: r for r in rows_of(result, "2 engine")}
    cpu = engine["SQLite CPU per durable step (1 client)"]  # like for like: CPU, not waiting for the disk
    assert cpu["goal"] == "<= 2x" and cpu["unit"] == "µs" and cpu["baseline"] > 0
    assert cpu["baseline_name"] == "raw sqlite3, the step's own statements"
    wall = engine["SQLite durable steps/s (1 client, wall clock)"]
    assert wall["goal"] is None and wall["status"] == "info" and wall["baseline"] > 0
    verify = [r for r in rows_of(result, "3 audit") if r["name"].startswith("verify events/s")]
    assert len(verify) == 2 and all(r["ratio"] > 0 for r in verify)
    one_process = [r for r in rows_of(result, "3 audit") if r["name"].startswith("verify in one process")]
    assert len(one_process) == 2 and all(r["baseline_name"] == "raw read + SHA-256, one process"
                                         and r["goal"] == ">= 0.3x" and r["ratio"] > 0 for r in one_process)


def test_the_parallel_audit_baseline_reads_every_row_once(tmp_path: Path) -> None:
    """The quick sizes stay below verify's worker threshold, so the parallel baseline is run here on its own:
    its shares of the episodes add up to the whole database, as the one-process baseline reads it."""
    from bench.core import run_json_child
    from bench.history import fill
    from persistence.store import Store

    db = tmp_path / "audit.db"
    store = Store.open(f"sqlite:///{db}")
    try:
        fill(store, 5, 8)
    finally:
        store.close()
    one = run_json_child(["raw", str(db)])
    shared = run_json_child(["raw-parallel", str(db), "2"])
    assert one["events"] == shared["events"] == 40 and one["broken"] == shared["broken"] == 0
    assert shared["workers"] == 2


def assert_startup_like_for_like(result: dict) -> None:
    """The step against the sqlite-utils peer (when installed: `make bench` installs it, `make test` need not),
    against its physical floor (information only), the reads against the same run's step, and the headline."""
    from bench.startup import venv_script

    startup = {r["name"]: r for r in rows_of(result, "1 startup")}
    headline = result["headlines"]["startup"]
    assert headline.startswith("step/peer ratio: ") and "step/floor: " in headline
    if venv_script("sqlite-utils") is None:
        assert "crs observe (median)" not in startup and "sqlite-utils not installed" in headline
    else:
        for stat in ("median", "p90"):
            peer = startup[f"crs observe ({stat})"]
            assert peer["baseline_name"] == "sqlite-utils insert" and peer["goal"] == "<= 1.5x" and peer["ratio"] > 0
    floor = startup["crs observe over its physical floor (median)"]
    assert floor["baseline_name"] == "physical floor" and floor["goal"] is None and floor["status"] == "info"
    assert floor["baseline"] > 0
    for name in ("crs --help (median)", "crs pathway (median)"):
        assert startup[name]["baseline_name"] == "import typer" and startup[name]["goal"] == "<= 1.5x"
    reads = [r for name, r in startup.items() if name.startswith(("crs history, ", "crs list, "))]
    assert len(reads) == 2 and all(r["baseline_name"] == "crs observe" and r["goal"] == "<= 2x" for r in reads)
    assert not any("import sqlmodel" in name or "sqlmodel" in r["baseline_name"] for name, r in startup.items())


def test_the_peer_is_looked_up_in_this_environment_and_may_be_missing(tmp_path: Path) -> None:
    from bench.startup import venv_script

    assert venv_script("sqlite-utils", tmp_path) is None
    (tmp_path / "sqlite-utils").write_text("#!/bin/sh\n")
    assert venv_script("sqlite-utils", tmp_path) == tmp_path / "sqlite-utils"


@pytest.mark.postgres
def test_the_postgresql_benchmark_runs_on_a_given_server(tmp_path: Path, postgres_url: str) -> None:
    result = run_bench(tmp_path, "--only", "pg", "--pg-url", postgres_url)
    rows = rows_of(result, "2 engine")
    assert [r["extra"]["clients"] for r in rows] == [1, 2]
    assert all(r["figure"] > 0 and r["baseline"] > 0 for r in rows)
