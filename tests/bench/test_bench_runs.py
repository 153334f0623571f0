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
    startup = {r["name"]: r for r in rows_of(result, "1 startup")}
    assert startup["crs observe (median)"]["baseline"] > 0 and startup["crs observe (median)"]["ratio"] > 0
    engine = {r["name"]: r for r in rows_of(result, "2 engine")}
    assert engine["SQLite durable steps/s (1 client)"]["goal"] == ">= 0.5x"
    assert engine["SQLite durable steps/s (1 client)"]["baseline"] > 0
    verify = [r for r in rows_of(result, "3 audit") if r["name"].startswith("verify events/s")]
    assert len(verify) == 2 and all(r["ratio"] > 0 for r in verify)


@pytest.mark.postgres
def test_the_postgresql_benchmark_runs_on_a_given_server(tmp_path: Path, postgres_url: str) -> None:
    result = run_bench(tmp_path, "--only", "pg", "--pg-url", postgres_url)
    rows = rows_of(result, "2 engine")
    assert [r["extra"]["clients"] for r in rows] == [1, 2]
    assert all(r["figure"] > 0 and r["baseline"] > 0 for r in rows)
