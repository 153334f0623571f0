"""Both worked episodes of shared/scenarios/README.md through the INSTALLED `crs`, as real processes,
with real absolute `--at` times on a real SQLite file; every answer of their tables is checked.

The two scenarios run side by side (two threads, each stepping its own database in order) to keep
the wall time down; each test below asserts one row.
"""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import Ran, iso, recent_t0

pytestmark = pytest.mark.slow
REASON = "given at referring centre before transfer"


class Script:
    """Steps one episode through `crs`, keeping every answer by name."""

    def __init__(self, crs_bin: Callable[..., Ran], url: str, t0: datetime) -> None:
        self.crs_bin, self.url, self.t0 = crs_bin, url, t0
        self.answers: dict[str, Ran] = {}
        self.episode = ""

    def at(self, hours: float) -> datetime:
        return self.t0 + timedelta(hours=hours)

    def __call__(self, name: str, *args: str, hours: float | None = None) -> Ran:
        argv = [a.replace("{E}", self.episode) for a in args]
        if hours is not None:
            argv += ["--at", iso(self.at(hours))]
        ran = self.crs_bin(*argv, "--json", env={"CRS_DB": self.url})
        self.answers[name] = ran
        if name == "open" and ran.code == 0:
            self.episode = ran.json["episode"]
        return ran


def seed_000(s: Script) -> None:
    s("open", "open", "--patient", "DC-15", "--weight-kg", "52", "--age-years", "15", "--context",
      "day 11 post-haplo HSCT, dyskeratosis congenita", hours=-50)
    s("anakinra refused", "give", "{E}", "anakinra", "--dose-mg", "100", hours=-48)
    s("anakinra override", "give", "{E}", "anakinra", "--dose-mg", "100", "--override", REASON, hours=-48)
    s("obs -24.5", "observe", "{E}", "--temp", "39.4", "--o2", "hfnc", "--o2-flow", "30", "--fio2", "0.35", hours=-24.5)
    s("toci 1", "give", "{E}", "tocilizumab", "--dose-mg", "400", hours=-24)
    s("obs 0", "observe", "{E}", "--temp", "39.1", "--o2", "hfnc", "--o2-flow", "50", "--fio2", "0.35", hours=0)
    s("toci 2", "give", "{E}", "tocilizumab", "--dose-mg", "400", hours=5 / 60)
    s("dex", "give", "{E}", "dexamethasone", "--dose-mg", "10", hours=10 / 60)
    s("toci 3 refused", "give", "{E}", "tocilizumab", "--dose-mg", "400", hours=1)
    s("obs 6", "observe", "{E}", "--temp", "38.9", "--o2", "hfnc", "--o2-flow", "50", "--fio2", "0.4", hours=6)
    s("mp refused", "give", "{E}", "methylprednisolone", "--dose-mg", "1000", hours=6)
    s("obs 24.5", "observe", "{E}", "--temp", "38.8", "--o2", "hfnc", "--o2-flow", "50", "--fio2", "0.4", hours=24.5)
    s("mp", "give", "{E}", "methylprednisolone", "--dose-mg", "1000", hours=25)
    s("verify", "audit", "verify")
    s("report", "audit", "report", "{E}", "--format", "json")
    s("refusals", "audit", "refusals", "{E}")
    s("as of", "status", "{E}", "--as-of", iso(s.at(-24.25)))


def seed_001(s: Script) -> None:
    s("open", "open", "--patient", "CART-70", "--weight-kg", "70", "--age-years", "58", hours=-12)
    for action in ("antibiotics", "antifungal-prophylaxis", "infection-workup"):
        s(f"act {action}", "act", "{E}", action, hours=-12)
    s("obs 0", "observe", "{E}", "--temp", "38.6", "--o2", "nasal-cannula", "--o2-flow", "4", hours=0)
    s("toci", "give", "{E}", "tocilizumab", "--dose-mg", "560", hours=10 / 60)
    s("obs 9", "observe", "{E}", "--temp", "38.8", "--o2", "hfnc", "--o2-flow", "30", hours=9)
    s("dex", "give", "{E}", "dexamethasone", "--dose-mg", "10", hours=9.2)
    s("obs 34", "observe", "{E}", "--temp", "38.5", "--o2", "hfnc", "--o2-flow", "40", hours=34)
    s("mp", "give", "{E}", "methylprednisolone", "--dose-mg", "1000", hours=34.2)
    s("obs 60", "observe", "{E}", "--temp", "38.6", "--o2", "bipap", hours=60)
    s("anakinra", "give", "{E}", "anakinra", "--dose-mg", "100", hours=60.2)
    for h in (70, 82, 95):
        s(f"obs {h}", "observe", "{E}", "--temp", "36.8", "--o2", "room-air", hours=h)
    s("resolve", "resolve", "{E}", hours=95.1)
    s("close", "close", "{E}", "--reason", "CRS resolved", hours=96)
    s("after close", "observe", "{E}", "--temp", "37", hours=96.5)
    s("verify", "audit", "verify")
    s("history", "history", "{E}")


@pytest.fixture(scope="module")
def runs(crs_bin: Callable[..., Ran], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Script]:
    folder: Path = tmp_path_factory.mktemp("seeds")
    scripts = {
        "000": Script(crs_bin, f"sqlite:///{folder / 'seed000.db'}", recent_t0(26)),
        "001": Script(crs_bin, f"sqlite:///{folder / 'seed001.db'}", recent_t0(97)),
    }
    with ThreadPoolExecutor(max_workers=2) as pool:
        for future in [pool.submit(seed_000, scripts["000"]), pool.submit(seed_001, scripts["001"])]:
            future.result()
    return scripts


def ok(s: Script, name: str) -> dict[str, Any]:
    ran = s.answers[name]
    assert ran.code == 0, f"{name}: exit {ran.code}: {ran.stdout or ran.stderr}"
    assert ran.stderr == ""
    return ran.json


def refused(s: Script, name: str) -> dict[str, Any]:
    ran = s.answers[name]
    assert ran.code == 1, f"{name}: expected a refusal, got exit {ran.code}: {ran.stdout or ran.stderr}"
    body = ran.json
    assert body["error"] == "refused"
    return body


def gives(status: dict[str, Any]) -> set[tuple[str, float]]:
    return {(s["drug"], s["dose_mg"]) for s in status["next_steps"] if s["kind"] == "give"}


def acts(status: dict[str, Any]) -> set[str]:
    return {s["action"] for s in status["next_steps"] if s["kind"] == "act"}


# -- seed-000 ---------------------------------------------------------------------------------------
def test_000_open_and_anakinra(runs: dict[str, Script]) -> None:
    s = runs["000"]
    assert ok(s, "open")["state"] == "assessment"
    body = refused(s, "anakinra refused")
    assert body["rule"] == "REFRACTORY_ORDER" and body["overridable"] is True
    given = ok(s, "anakinra override")
    assert given["state"] == "assessment"
    assert given["deviation"]["rules"] == ["REFRACTORY_ORDER"] and given["deviation"]["reason"] == REASON


def test_000_grade_3_recommends_tocilizumab_416(runs: dict[str, Script]) -> None:
    s = runs["000"]
    status = ok(s, "obs -24.5")
    assert status["crs_grade"] == 3 and ("tocilizumab", 416.0) in gives(status)
    assert ok(s, "toci 1")["state"] == "tocilizumab"


def test_000_no_improvement_after_24h(runs: dict[str, Script]) -> None:
    status = ok(runs["000"], "obs 0")
    assert status["crs_grade"] == 3
    assert {"icu-transfer", "infection-workup", "antibiotics"} <= acts(status)
    dex = next(step for step in status["next_steps"] if step.get("drug") == "dexamethasone")
    assert (dex["dose_mg"], dex["route"], dex["every_hours"]) == (10.0, "iv", 6.0)
    toci = next(step for step in status["next_steps"] if step.get("drug") == "tocilizumab")
    assert "2 of 2" in toci["why"]


def test_000_second_toci_and_dexamethasone(runs: dict[str, Script]) -> None:
    s = runs["000"]
    assert ok(s, "toci 2")["status"]["tocilizumab_doses"] == 2
    dex = ok(s, "dex")
    assert dex["state"] == "steroid" and "antifungal-prophylaxis" in acts(dex["status"])


def test_000_third_toci_within_8h_refused_with_earliest_time(runs: dict[str, Script]) -> None:
    s = runs["000"]
    body = refused(s, "toci 3 refused")
    assert body["rule"] == "TOCI_MIN_INTERVAL" and body["overridable"] is False
    assert body["earliest_at"] == iso(s.at(5 / 60 + 8))


def test_000_escalation_not_yet_due_then_refused(runs: dict[str, Script]) -> None:
    s = runs["000"]
    status = ok(s, "obs 6")
    assert status["crs_grade"] == 3 and ("methylprednisolone", 1000.0) not in gives(status)
    body = refused(s, "mp refused")
    assert "ESCALATION_ORDER" in body["rules"] and body["overridable"] is True


def test_000_escalation_after_24h_of_dexamethasone(runs: dict[str, Script]) -> None:
    s = runs["000"]
    status = ok(s, "obs 24.5")
    assert status["crs_grade"] == 3
    assert {("dexamethasone", 20.0), ("methylprednisolone", 1000.0)} <= gives(status)
    assert ok(s, "mp")["state"] == "escalated_steroid"


def test_000_audit(runs: dict[str, Script]) -> None:
    s = runs["000"]
    assert ok(s, "verify") == {"ok": True, "episodes": 1, "events": 10, "failures": []}
    report = ok(s, "report")
    assert [(d["rules"], d["reason"]) for d in report["deviations"]] == [(["REFRACTORY_ORDER"], REASON)]
    assert report["summary"]["refused_attempts"] == 3 and report["summary"]["tocilizumab_doses"] == 2
    assert [r["rule"] for r in ok(s, "refusals")["refusals"]] == ["REFRACTORY_ORDER", "TOCI_MIN_INTERVAL",
                                                                   "ESCALATION_ORDER"]
    as_of = ok(s, "as of")
    assert (as_of["state"], as_of["crs_grade"], as_of["tocilizumab_doses"]) == ("assessment", 3, 0)


# -- seed-001 ---------------------------------------------------------------------------------------
def test_001_open_and_supportive_actions(runs: dict[str, Script]) -> None:
    s = runs["001"]
    assert ok(s, "open")["state"] == "assessment"
    for action in ("antibiotics", "antifungal-prophylaxis", "infection-workup"):
        assert ok(s, f"act {action}")["event"]["data"]["action"] == action


def test_001_grade_2_recommends_tocilizumab_560(runs: dict[str, Script]) -> None:
    s = runs["001"]
    status = ok(s, "obs 0")
    assert status["crs_grade"] == 2 and ("tocilizumab", 560.0) in gives(status)
    assert {"telemetry", "labs"} <= acts(status) and "infection-workup" not in acts(status)
    toci = next(step for step in status["next_steps"] if step.get("drug") == "tocilizumab")
    assert toci["route"] == "iv"
    assert ok(s, "toci")["state"] == "tocilizumab"


def test_001_worse_at_9h(runs: dict[str, Script]) -> None:
    s = runs["001"]
    status = ok(s, "obs 9")
    assert status["crs_grade"] == 3
    assert {("dexamethasone", 10.0), ("tocilizumab", 560.0)} <= gives(status)
    assert {"icu-transfer", "echocardiogram"} <= acts(status)
    assert ok(s, "dex")["state"] == "steroid"


def test_001_escalation_then_refractory(runs: dict[str, Script]) -> None:
    s = runs["001"]
    status = ok(s, "obs 34")
    assert status["crs_grade"] == 3 and ("methylprednisolone", 1000.0) in gives(status)
    assert ok(s, "mp")["state"] == "escalated_steroid"
    status = ok(s, "obs 60")
    assert status["crs_grade"] == 4 and {("anakinra", 100.0), ("siltuximab", 770.0)} <= gives(status)
    assert ok(s, "anakinra")["state"] == "refractory"


def test_001_resolve_close_and_closed(runs: dict[str, Script]) -> None:
    s = runs["001"]
    assert [(ok(s, f"obs {h}")["crs_grade"], ok(s, f"obs {h}")["icans_grade"]) for h in (70, 82, 95)] == [(0, 0)] * 3
    resolved = ok(s, "resolve")
    assert resolved["state"] == "resolved" and resolved["deviation"] is None
    assert any("taper" in step.get("why", "").lower() for step in resolved["status"]["next_steps"])
    assert ok(s, "close")["state"] == "closed"
    body = refused(s, "after close")
    assert body["rule"] == "EPISODE_CLOSED" and body["overridable"] is False
    assert ok(s, "verify")["ok"] is True
    kinds = [e["kind"] for e in ok(s, "history")["events"]]
    assert kinds == ["open", "act", "act", "act", "observe", "give", "observe", "give", "observe", "give",
                     "observe", "give", "observe", "observe", "observe", "resolve", "close"]
