"""`crs demo`: seed-000 end to end on a throwaway SQLite file, with its three refused unsafe steps."""

from pathlib import Path


def test_demo_json(crs, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ran = crs("demo", "--json")
    assert ran.code == 0, ran.stdout or ran.stderr
    body = ran.json
    assert body["ok"] is True and body["scenario"] == "seed-000"
    assert [(s["outcome"], s.get("rule")) for s in body["steps"] if s["outcome"] == "refused"] == [
        ("refused", "REFRACTORY_ORDER"), ("refused", "TOCI_MIN_INTERVAL"), ("refused", "ESCALATION_ORDER")]
    assert sum(1 for s in body["steps"] if s["outcome"] == "accepted") == 10
    assert body["steps"][-1]["state"] == "escalated_steroid"
    assert body["verify"] == {"ok": True, "episodes": 1, "events": 10, "refusals": 3, "earlier_pathway_events": 0, "failures": []}
    assert body["status"]["state"] == "escalated_steroid" and body["status"]["deviations"] == 1
    assert all(s["command"].startswith("crs ") and "--at" in s["command"] for s in body["steps"])
    assert not (tmp_path / "crs.db").exists(), "the demo never touches the configured database"


def test_demo_human_output(crs) -> None:  # type: ignore[no-untyped-def]
    ran = crs("demo")
    assert ran.code == 0 and ran.stderr == ""
    text = ran.stdout
    for rule in ("REFRACTORY_ORDER", "TOCI_MIN_INTERVAL", "ESCALATION_ORDER"):
        assert f"REFUSED by {rule}" in text
    assert "OK: 1 episode(s), 10 event(s), 3 refused attempt(s) verified" in text
    assert "Next steps" in text and "13 steps: 10 accepted, 3 refused" in text
    assert "\x1b[" not in text, "no colour when stdout is not a terminal"
