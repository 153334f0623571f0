"""The installed `crs` on a real PostgreSQL server (CRS_DB=postgresql+psycopg://...): a short episode with
a refusal, its history, the refusal log and a verify — the same answers as on SQLite."""

from datetime import timedelta

import pytest

from tests.cli.conftest import iso, recent_t0

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_episode_on_postgresql(crs_bin, postgres_url: str) -> None:  # type: ignore[no-untyped-def]
    env = {"CRS_DB": postgres_url}
    t0 = recent_t0(12)

    def run(*args: str, hours: float | None = None):  # type: ignore[no-untyped-def]
        at = ["--at", iso(t0 + timedelta(hours=hours))] if hours is not None else []
        return crs_bin(*args, *at, "--json", env=env)

    opened = run("open", "--patient", "PG-1", "--weight-kg", "25", "--age-years", "8", hours=0)
    assert opened.code == 0, opened.stderr or opened.stdout
    episode = opened.json["episode"]
    status = run("observe", episode, "--temp", "39", "--o2", "facemask", hours=1).json
    assert status["crs_grade"] == 3
    assert ("tocilizumab", 300.0) in {(s["drug"], s["dose_mg"]) for s in status["next_steps"] if s["kind"] == "give"}
    assert run("give", episode, "tocilizumab", "--dose-mg", "300", hours=1.5).code == 0
    again = run("give", episode, "tocilizumab", "--dose-mg", "300", hours=2)
    assert again.code == 1 and again.json["rule"] == "TOCI_MIN_INTERVAL"
    assert again.json["earliest_at"] == iso(t0 + timedelta(hours=9.5))
    history = run("history", episode).json
    assert [e["kind"] for e in history["events"]] == ["open", "observe", "give"]
    assert [r["rule"] for r in run("audit", "refusals").json["refusals"]] == ["TOCI_MIN_INTERVAL"]
    assert run("audit", "verify").json == {"ok": True, "episodes": 1, "events": 3, "refusals": 1,
                                          "earlier_pathway_events": 0, "failures": []}
    missing = crs_bin("status", "EZZZZZ", env=env)
    assert missing.code == 4 and missing.stderr.count("\n") == 1
