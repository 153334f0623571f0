"""Both worked episodes of shared/scenarios/README.md through the INSTALLED `crs`, as real processes,
with real absolute `--at` times on a real SQLite file; every answer of their tables is checked.

The scenarios run side by side (threads, each stepping its own database in order) to keep the wall
time down; each test below asserts one row. The seeds are test provenance only: no answer cites them.

Expectations changed for CLINICAL.md v2 / scenarios README version 2 (issue 9), as in
tests/scenarios/test_seed_000.py and test_seed_001.py, which give each reason:
- seed-000: ICANS is null (not assessed) at every observation, none records a neuro input (§2); the first
  next step is `assess` asking for ice_score and consciousness; the escalation at T0+24.5 h is ONE step with
  alternatives dexamethasone 20 mg q6h OR methylprednisolone 1000 mg/day (§5, H11).
- seed-001: the calm observations record `--ice 10 --consciousness awake` (README v2, §7); without them the
  resolve at T0+95.1 h is refused by RESOLVE_CRITERIA (third run, "001 no neuro"); ICANS null before them;
  T0+34 h escalation ONE step with alternatives; T0+60 h anakinra OR siltuximab as ONE step, beside the
  escalated methylprednisolone course (day 2) and a repeat tocilizumab 560 mg (§5, H12).
- `audit report` must still answer (exit 0) with seed-000's null ICANS grades (it failed with exit 70 while
  cli/report compared null grades; fixed in cli/).
"""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import Ran, iso, recent_t0
from tests.scenarios import driver

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


NEURO = ("--ice", "10", "--consciousness", "awake")  # README v2: the calm observations' neuro assessment


def seed_001(s: Script, neuro: tuple[str, ...] = NEURO) -> None:
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
        s(f"obs {h}", "observe", "{E}", "--temp", "36.8", "--o2", "room-air", *neuro, hours=h)
    s("resolve", "resolve", "{E}", hours=95.1)
    if not neuro:  # the variant ends with its refusal
        s("status", "status", "{E}", "--as-of", iso(s.at(95.1)))
        return
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
        "001 no neuro": Script(crs_bin, f"sqlite:///{folder / 'seed001-no-neuro.db'}", recent_t0(97)),
    }
    with ThreadPoolExecutor(max_workers=3) as pool:
        for future in [pool.submit(seed_000, scripts["000"]), pool.submit(seed_001, scripts["001"]),
                       pool.submit(seed_001, scripts["001 no neuro"], ())]:
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
    """Every (drug, dose) offered, the options of an alternatives step included."""
    return set(driver.gives(status))  # type: ignore[arg-type]


def acts(status: dict[str, Any]) -> set[str]:
    return set(driver.acts(status))


def statuses(s: Script) -> list[dict[str, Any]]:
    """Every status the run answered (observe answers are statuses; steps carry theirs)."""
    out = []
    for ran in s.answers.values():
        body = ran.json if ran.code == 0 else {}
        if "next_steps" in body:
            out.append(body)
        elif isinstance(body.get("status"), dict) and "next_steps" in body["status"]:
            out.append(body["status"])
    return out


@pytest.mark.parametrize("seed", ["000", "001", "001 no neuro"])
def test_seeds_are_never_cited_and_one_steroid_step_at_most(runs: dict[str, Script], seed: str) -> None:
    found = statuses(runs[seed])
    assert len(found) >= 8
    for status in found:
        assert not [c for c in driver.citations(status) if c.upper().startswith("SEED")]
        assert len(driver.steroid_steps(status)) <= 1


def first_is_neuro_assess(status: dict[str, Any]) -> bool:
    first = status["next_steps"][0]
    return first["kind"] == "assess" and first["missing"] == ["ice_score", "consciousness"]


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
    assert status["icans_grade"] is None and first_is_neuro_assess(status)  # v2: not assessed, ask for it
    assert ok(s, "toci 1")["state"] == "tocilizumab"


def test_000_no_improvement_after_24h(runs: dict[str, Script]) -> None:
    status = ok(runs["000"], "obs 0")
    assert status["crs_grade"] == 3 and status["icans_grade"] is None and first_is_neuro_assess(status)
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
    assert status["crs_grade"] == 3 and status["icans_grade"] is None
    assert {("dexamethasone", 20.0), ("methylprednisolone", 1000.0)} <= gives(status)
    assert driver.alternatives(status) == [[("dexamethasone", 20.0), ("methylprednisolone", 1000.0)]]  # ONE step
    assert ok(s, "mp")["state"] == "escalated_steroid"


def test_000_audit(runs: dict[str, Script]) -> None:
    s = runs["000"]
    assert ok(s, "verify") == {"ok": True, "episodes": 1, "events": 10, "refusals": 3,
                              "earlier_pathway_events": 0, "failures": []}
    assert [r["rule"] for r in ok(s, "refusals")["refusals"]] == ["REFRACTORY_ORDER", "TOCI_MIN_INTERVAL",
                                                                   "ESCALATION_ORDER"]
    as_of = ok(s, "as of")
    assert (as_of["state"], as_of["crs_grade"], as_of["tocilizumab_doses"]) == ("assessment", 3, 0)
    assert as_of["icans_grade"] is None  # v2


def test_000_report_lists_the_anakinra_deviation(runs: dict[str, Script]) -> None:
    report = ok(runs["000"], "report")
    assert [(d["rules"], d["reason"]) for d in report["deviations"]] == [(["REFRACTORY_ORDER"], REASON)]
    assert report["summary"]["refused_attempts"] == 3 and report["summary"]["tocilizumab_doses"] == 2


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
    assert driver.alternatives(status) == [[("dexamethasone", 20.0), ("methylprednisolone", 1000.0)]]  # v2
    assert ok(s, "mp")["state"] == "escalated_steroid"
    status = ok(s, "obs 60")
    assert status["crs_grade"] == 4 and {("anakinra", 100.0), ("siltuximab", 770.0)} <= gives(status)
    # v2: the refractory drugs are ONE step, beside the escalated course (day 2) and a repeat tocilizumab
    assert driver.alternatives(status) == [[("anakinra", 100.0), ("siltuximab", 770.0)]]
    [steroid] = driver.steroid_steps(status)
    assert (steroid["rule"], steroid["drug"], steroid["dose_mg"]) == ("REC_STEROID_ESCALATED_CONTINUE",
                                                                      "methylprednisolone", 1000.0)
    assert ("tocilizumab", 560.0) in gives(status)
    for name in ("obs 0", "obs 9", "obs 34", "obs 60"):
        assert ok(s, name)["icans_grade"] is None and first_is_neuro_assess(ok(s, name)), name
    assert ok(s, "anakinra")["state"] == "refractory"


def test_001_resolve_close_and_closed(runs: dict[str, Script]) -> None:
    s = runs["001"]
    assert [(ok(s, f"obs {h}")["crs_grade"], ok(s, f"obs {h}")["icans_grade"]) for h in (70, 82, 95)] == [(0, 0)] * 3
    assert all(ok(s, f"obs {h}")["observation"]["icans_basis"]["missing"] == [] for h in (70, 82, 95))
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


def test_001_resolve_without_the_neuro_inputs_is_refused(runs: dict[str, Script]) -> None:
    s = runs["001 no neuro"]
    assert [(ok(s, f"obs {h}")["crs_grade"], ok(s, f"obs {h}")["icans_grade"]) for h in (70, 82, 95)] == [
        (0, None)] * 3
    body = refused(s, "resolve")
    assert body["rules"] == ["RESOLVE_CRITERIA"] and body["overridable"] is True
    assert ok(s, "status")["state"] == "refractory"  # nothing written
