"""Exact JSON of every command (CONTRACT.md), in-process on a real SQLite file.

Times, hashes and the random episode id are masked; everything else is compared whole where the
object is the CLI's own, and key by key where the pathway's wording is the core's business.
"""

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from persistence.identity import os_login
from tests.cli.conftest import ACTOR, iso, mask, recent_t0

LOGIN = os_login()  # the authenticated login a step records on SQLite: the OS login of this process

STATUS_KEYS = {"episode", "patient", "state", "crs_grade", "icans_grade", "next_steps", "due", "basis", "warnings",
               "tocilizumab_doses", "deviations", "policy", "disclaimer"}
POLICY = {"name": "default", "version": "1"}


@pytest.fixture
def t0():  # type: ignore[no-untyped-def]
    return recent_t0(30)


@pytest.fixture
def episode(crs, t0) -> str:  # type: ignore[no-untyped-def]
    opened = crs("open", "--patient", "CART-70", "--weight-kg", "70", "--age-years", "58", "--at", iso(t0), "--json")
    assert opened.code == 0, opened.stderr
    return opened.json["episode"]


def test_open(crs, t0) -> None:  # type: ignore[no-untyped-def]
    ran = crs("open", "--patient", "DC-15", "--weight-kg", "52", "--age-years", "15", "--context", "day 11 post-HSCT",
              "--at", iso(t0), "--json")
    assert ran.code == 0 and ran.stderr == ""
    body = ran.json
    assert mask(body, {body["episode"]: "<ID>"}) == {
        "episode": "<ID>", "state": "assessment", "policy": POLICY, "patient": "DC-15", "weight_kg": 52.0,
        "age_years": 15.0, "context": "day 11 post-HSCT", "opened_at": "<T>", "seq": 1, "actor": ACTOR,
        "login": LOGIN, "icans_screen": "ice",
    }
    assert body["opened_at"] == iso(t0)
    assert len(body["episode"]) <= 8, "an id a person can type"
    child = crs("open", "--patient", "PED-4", "--weight-kg", "16", "--age-years", "4", "--at", iso(t0), "--json")
    assert child.json["icans_screen"] == "capd", "a child under the policy's CAPD age is screened with the CAPD"
    assert "--capd N|unable" in crs("open", "--patient", "PED-5", "--weight-kg", "16", "--age-years", "4").stdout


def test_open_naive_time_is_local_and_stored_in_utc(crs, t0) -> None:  # type: ignore[no-untyped-def]
    naive = t0.astimezone().replace(tzinfo=None).isoformat()
    ran = crs("open", "--patient", "P1", "--weight-kg", "70", "--age-years", "40", "--at", naive, "--json")
    assert ran.code == 0, ran.stderr
    assert ran.json["opened_at"] == iso(t0)


def test_open_with_policy_file(crs, t0, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    site = tmp_path / "site.toml"
    site.write_text('name = "site-a"\nversion = "3"\ntoci_max_doses_episode = 3\n', encoding="utf-8")
    ran = crs("open", "--patient", "P2", "--weight-kg", "70", "--age-years", "40", "--policy", str(site), "--json")
    assert ran.code == 0, ran.stderr
    assert ran.json["policy"] == {"name": "site-a", "version": "3"}
    by_name = crs("open", "--patient", "P3", "--weight-kg", "70", "--age-years", "40", "--policy", "default", "--json")
    assert by_name.json["policy"] == POLICY


def test_observe_returns_status_with_this_observations_grades(crs, episode, t0) -> None:  # type: ignore[no-untyped-def]
    at = t0 + timedelta(hours=1)
    ran = crs("observe", episode, "--temp", "38.6", "--o2", "nasal-cannula", "--o2-flow", "4", "--ice", "10",
              "--consciousness", "awake", "--at", iso(at), "--json")
    assert ran.code == 0, ran.stderr
    body = ran.json
    assert STATUS_KEYS <= body.keys()
    assert (body["episode"], body["patient"], body["state"]) == (episode, "CART-70", "assessment")
    assert (body["crs_grade"], body["icans_grade"]) == (2, 0)
    assert body["seq"] == 2
    assert mask(body["observation"]) == {
        "seq": 2, "at": "<T>", "crs_grade": 2, "icans_grade": 0,
        "crs_basis": body["observation"]["crs_basis"], "icans_basis": body["observation"]["icans_basis"],
    }
    assert body["observation"]["at"] == iso(at)
    assert body["basis"]["observed_at"] == iso(at)
    assert body["basis"]["inputs"] == {"temp_c": 38.6, "o2_device": "nasal-cannula", "o2_flow_lpm": 4.0,
                                       "ice_score": 10, "consciousness": "awake"}
    toci = [s for s in body["next_steps"] if s.get("drug") == "tocilizumab"]
    assert toci and toci[0]["dose_mg"] == 560 and toci[0]["route"] == "iv" and toci[0]["citations"]
    assert {s.get("action") for s in body["next_steps"]} >= {"telemetry", "labs"}
    assert body["policy"] == POLICY and body["tocilizumab_doses"] == 0


def test_give_act_resolve_close_step_objects(crs, episode, t0) -> None:  # type: ignore[no-untyped-def]
    crs("observe", episode, "--temp", "38.6", "--o2", "nasal-cannula", "--o2-flow", "4",
        "--at", iso(t0 + timedelta(hours=1)), "--json")
    give = crs("give", episode, "tocilizumab", "--dose-mg", "560", "--at", iso(t0 + timedelta(hours=1.5)), "--json")
    assert give.code == 0, give.stderr
    body = give.json
    assert STATUS_KEYS <= body["status"].keys()
    assert body["status"]["state"] == "tocilizumab" and body["status"]["tocilizumab_doses"] == 1
    event = body["event"]
    assert mask({k: v for k, v in body.items() if k != "status"}, {episode: "<ID>"}) == {
        "episode": "<ID>", "seq": 3, "kind": "give", "at": "<T>", "from_state": "assessment", "state": "tocilizumab",
        "deviation": None,
        "event": {"seq": 3, "kind": "give", "at": "<T>", "recorded_at": "<T>", "actor": ACTOR, "login": LOGIN,
                  "from_state": "assessment", "to_state": "tocilizumab", "data": event["data"], "override": None},
    }
    assert event["data"]["drug"] == "tocilizumab" and event["data"]["dose_mg"] == 560 and event["data"]["route"] == "iv"

    act = crs("act", episode, "labs", "--note", "CBC, CRP sent", "--at", iso(t0 + timedelta(hours=2)), "--json")
    assert act.code == 0, act.stderr
    assert (act.json["kind"], act.json["seq"], act.json["state"]) == ("act", 4, "tocilizumab")
    assert act.json["event"]["data"]["action"] == "labs"

    # resolution criteria do not hold (CRS 2 just now): refused, overridable; with --override accepted
    refused = crs("resolve", episode, "--at", iso(t0 + timedelta(hours=3)), "--json")
    assert refused.code == 1
    assert mask(refused.json) == {
        "error": "refused", "message": refused.json["message"], "rule": "RESOLVE_CRITERIA",
        "rules": ["RESOLVE_CRITERIA"], "overridable": True, "violations": refused.json["violations"],
        **({"earliest_at": "<T>"} if "earliest_at" in refused.json else {}),
    }
    resolved = crs("resolve", episode, "--override", "clinical review: CRS settled", "--at",
                   iso(t0 + timedelta(hours=3)), "--json")
    assert resolved.code == 0, resolved.stderr
    assert resolved.json["state"] == "resolved"
    assert resolved.json["deviation"] == {"rule": "RESOLVE_CRITERIA", "rules": ["RESOLVE_CRITERIA"],
                                          "reason": "clinical review: CRS settled", "actor": ACTOR}

    closed = crs("close", episode, "--reason", "CRS resolved", "--at", iso(t0 + timedelta(hours=4)), "--json")
    assert closed.code == 0, closed.stderr
    assert (closed.json["from_state"], closed.json["state"], closed.json["kind"]) == ("resolved", "closed", "close")
    after = crs("observe", episode, "--temp", "37", "--at", iso(t0 + timedelta(hours=5)), "--json")
    assert after.code == 1 and after.json["rule"] == "EPISODE_CLOSED" and after.json["overridable"] is False


def test_status_history_list_refusals_verify(crs, episode, t0) -> None:  # type: ignore[no-untyped-def]
    crs("observe", episode, "--temp", "39", "--o2", "hfnc", "--o2-flow", "30", "--at", iso(t0 + timedelta(hours=1)))
    crs("give", episode, "tocilizumab", "--dose-mg", "560", "--at", iso(t0 + timedelta(hours=2)))
    early = crs("give", episode, "tocilizumab", "--dose-mg", "560", "--at", iso(t0 + timedelta(hours=3)), "--json")
    assert early.code == 1
    assert early.json["rule"] == "TOCI_MIN_INTERVAL" and early.json["overridable"] is False
    assert early.json["earliest_at"] == iso(t0 + timedelta(hours=10))

    status = crs("status", episode, "--json")
    assert status.code == 0 and STATUS_KEYS <= status.json.keys()
    assert (status.json["state"], status.json["crs_grade"], status.json["tocilizumab_doses"]) == ("tocilizumab", 3, 1)

    as_of = crs("status", episode, "--as-of", iso(t0 + timedelta(hours=1, minutes=30)), "--json")
    assert as_of.code == 0
    assert (as_of.json["state"], as_of.json["crs_grade"], as_of.json["tocilizumab_doses"]) == ("assessment", 3, 0)
    assert as_of.json["as_of"] == iso(t0 + timedelta(hours=1, minutes=30))
    before = crs("status", episode, "--as-of", iso(t0 - timedelta(hours=1)), "--json")
    assert before.code == 4 and before.json["error"] == "not_found"

    history = crs("history", episode, "--json")
    assert history.code == 0
    masked = mask(history.json, {episode: "<ID>"})
    assert masked["episode"] == "<ID>"
    assert [(e["seq"], e["kind"], e["from_state"], e["to_state"], e["actor"], e["override"], e["hash"])
            for e in masked["events"]] == [
        (1, "open", None, "assessment", ACTOR, None, "<H>"),
        (2, "observe", "assessment", "assessment", ACTOR, None, "<H>"),
        (3, "give", "assessment", "tocilizumab", ACTOR, None, "<H>"),
    ]
    assert all(set(e) == {"seq", "kind", "at", "recorded_at", "actor", "login", "from_state", "to_state", "data",
                          "override", "hash", "superseded_by", "voided_by"} for e in history.json["events"])
    assert all(e["login"] == LOGIN for e in history.json["events"])  # the OS login, whatever --actor said
    assert all(e["superseded_by"] is None and e["voided_by"] is None for e in history.json["events"])
    assert history.json["events"][2]["at"] == iso(t0 + timedelta(hours=2))

    listed = crs("list", "--json")
    # v2: the observation recorded no ICE score and no consciousness, so ICANS is not assessed (null, never 0)
    assert mask(listed.json, {episode: "<ID>"}) == {"episodes": [{
        "episode": "<ID>", "patient": "CART-70", "state": "tocilizumab", "crs_grade": 3, "icans_grade": None,
        "opened_at": "<T>", "last_at": "<T>", "events": 3, "tocilizumab_doses": 1, "deviations": 0, "policy": POLICY,
    }]}
    assert crs("list", "--state", "closed", "--json").json == {"episodes": []}
    # CRS reassessment (every 4 h at grade 3) became due at +5 h; ICANS, never assessed, has been due since the
    # opening (t0): by +11 h both are pending, and both are overdue now
    due_later = crs("list", "--due", "--at", iso(t0 + timedelta(hours=11)), "--json").json["episodes"]
    assert [row["episode"] for row in due_later] == [episode]
    assert [(item["what"], item["at"], item["overdue"]) for item in due_later[0]["due"]] == [
        ("neuro assessment (ICE or CAPD, and consciousness)", iso(t0), True),
        ("reassess CRS (temperature and oxygen support)", iso(t0 + timedelta(hours=5)), True)]
    by_then = crs("list", "--due", "--at", iso(t0 + timedelta(hours=2, minutes=30)), "--json").json["episodes"]
    assert [item["what"] for row in by_then for item in row["due"]] == [
        "neuro assessment (ICE or CAPD, and consciousness)"], "a first assessment is due at the opening, never later"
    shown = crs("list", "--due", "--at", iso(t0 + timedelta(hours=11))).stdout
    assert "OVERDUE" in shown and "not assessed" in shown and "None" not in shown

    refusals = crs("audit", "refusals", "--json")
    assert mask(refusals.json, {episode: "<ID>"}) == {"refusals": [{
        "at": "<T>", "recorded_at": "<T>", "actor": ACTOR, "login": LOGIN, "episode": "<ID>", "kind": "give",
        "command": mask(refusals.json["refusals"][0]["command"], {episode: "<ID>"}), "rule": "TOCI_MIN_INTERVAL",
        "rules": ["TOCI_MIN_INTERVAL"], "message": refusals.json["refusals"][0]["message"], "breaks_seq": None,
    }]}
    assert refusals.json["refusals"][0]["command"]["drug"] == "tocilizumab"
    assert crs("audit", "refusals", episode, "--json").json == refusals.json

    verified = crs("audit", "verify", "--json")
    assert verified.code == 0
    assert verified.json == {"ok": True, "episodes": 1, "events": 3, "refusals": 1, "earlier_pathway_events": 0, "failures": []}
    # one episode's verify also checks the whole refusal log (one chain) and the triggers
    assert crs("audit", "verify", episode, "--json").json == {"ok": True, "episodes": 1, "events": 3, "refusals": 1,
                                                              "earlier_pathway_events": 0, "failures": []}


def test_list_due_by_the_end_of_a_shift(crs) -> None:  # type: ignore[no-untyped-def]
    """Timers pending now that fall due by --at: a reassessment in 2.5 h, a repeat toci dose in 7 h."""
    now = recent_t0(0)
    opened = crs("open", "--patient", "P-9", "--weight-kg", "70", "--age-years", "40",
                 "--at", iso(now - timedelta(hours=2)), "--json")
    episode = opened.json["episode"]
    crs("observe", episode, "--temp", "39", "--o2", "hfnc", "--o2-flow", "30", "--ice", "10",
        "--consciousness", "awake", "--at", iso(now - timedelta(hours=1.5)))
    crs("give", episode, "tocilizumab", "--dose-mg", "560", "--at", iso(now - timedelta(hours=1)))

    def due_by(hours: float) -> list[str]:
        rows = crs("list", "--due", "--at", iso(now + timedelta(hours=hours)), "--json").json["episodes"]
        assert [row["episode"] for row in rows] in ([], [episode])
        return [item.get("rule", "reassess") for row in rows for item in row["due"]]

    assert due_by(1) == []
    assert due_by(3) == ["reassess", "reassess"], "CRS and ICANS (neuro) reassessment, both 4 h after grade 3"
    assert "TOCI_MIN_INTERVAL" in due_by(8) and "reassess" in due_by(8)


def test_digest_and_verify_against_it(crs, episode, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "digest.json"
    written = crs("audit", "digest", "--out", str(out), "--json")
    assert written.code == 0 and written.json == {"out": str(out), "format": "json"}
    printed = crs("audit", "digest", "--json")
    assert printed.json["episodes"][episode]["seq"] == 1
    verified = crs("audit", "verify", "--digest", str(out), "--json")
    assert verified.code == 0 and verified.json["ok"] is True
    both = crs("audit", "verify", episode, "--digest", str(out), "--json")
    assert both.code == 2 and both.json["error"] == "invalid"


def test_report_formats(crs, episode, t0, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    crs("observe", episode, "--temp", "39", "--o2", "hfnc", "--o2-flow", "30", "--at", iso(t0 + timedelta(hours=1)))
    crs("give", episode, "tocilizumab", "--dose-mg", "560", "--at", iso(t0 + timedelta(hours=2)))
    crs("give", episode, "anakinra", "--dose-mg", "100", "--at", iso(t0 + timedelta(hours=3)))  # refused
    report = crs("audit", "report", episode, "--format", "json", "--json")
    assert report.code == 0
    data: dict[str, Any] = report.json
    assert data["episode"] == episode and data["summary"]["refused_attempts"] == 1
    assert [d["drug"] for d in data["doses"]] == ["tocilizumab"]
    assert data["doses"][0]["limit_mg"] == 616 and data["doses"][0]["within_limits"] is True
    guards = {g["guard"]: g for g in data["timed_guards"]}
    assert guards["CRS grade ≥ 2 → tocilizumab"]["hours"] == 1 and guards["CRS grade ≥ 2 → tocilizumab"]["status"] == "met"
    assert guards["CRS grade ≥ 3 → corticosteroid"]["status"] == "missed"
    missing = {a["action"] for a in data["supportive_actions"] if a["status"] == "missing"}
    assert {"icu-transfer", "echocardiogram", "telemetry", "labs"} <= missing
    markdown = crs("audit", "report", episode)
    assert markdown.code == 0 and markdown.stdout.startswith(f"# QA report — episode {episode}")
    html_file = tmp_path / "report.html"
    written = crs("audit", "report", episode, "--format", "html", "--out", str(html_file), "--json")
    assert written.json == {"episode": episode, "format": "html", "out": str(html_file)}
    assert html_file.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_pathway_json_and_mermaid(crs) -> None:  # type: ignore[no-untyped-def]
    described = crs("pathway", "--format", "json")
    assert described.code == 0
    names = [state["name"] for state in described.json["states"]]
    assert names[:5] == ["assessment", "tocilizumab", "steroid", "escalated_steroid", "refractory"]
    assert {"resolved", "closed"} <= set(names)
    assert {rule["id"] for rule in described.json["rules"]} >= {"TOCI_MIN_INTERVAL", "EPISODE_CLOSED"}
    assert crs("pathway", "--json").json == described.json
    mermaid = crs("pathway", "--format", "mermaid")
    assert mermaid.code == 0 and "stateDiagram" in mermaid.stdout
    as_json = crs("pathway", "--format", "mermaid", "--json").json
    assert as_json["format"] == "mermaid" and as_json["mermaid"].rstrip("\n") == mermaid.stdout.rstrip("\n")
    table = crs("pathway")
    assert table.code == 0 and "TOCI_MIN_INTERVAL" in table.stdout


def test_global_json_flag_and_version(crs, episode) -> None:  # type: ignore[no-untyped-def]
    assert [row["episode"] for row in crs("--json", "list").json["episodes"]] == [episode]
    version = crs("--version")
    assert version.code == 0 and version.stdout.startswith("crs-pathway ")
