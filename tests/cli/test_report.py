"""`crs audit report`: the QA facts of one episode, in md, html (one self-contained file) and json."""

import re
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.cli.conftest import ACTOR, iso, recent_t0

NOTE = '<script>alert("x")</script> & friends'


@pytest.fixture
def episode(crs):  # type: ignore[no-untyped-def]
    """Seed-000 in short: an anakinra deviation, grade 3, two toci doses, dexamethasone, one refusal."""
    t0 = recent_t0(30)

    def at(hours: float) -> list[str]:
        return ["--at", iso(t0 + timedelta(hours=hours))]

    opened = crs("open", "--patient", "DC-15", "--weight-kg", "52", "--age-years", "15", *at(0), "--json")
    e = opened.json["episode"]
    steps = [
        ["give", e, "anakinra", "--dose-mg", "100", "--override", "given at referring centre", *at(1)],
        ["observe", e, "--temp", "39.4", "--o2", "hfnc", "--o2-flow", "30", "--ice", "8", *at(2)],
        ["act", e, "icu-transfer", "--note", NOTE, *at(2.5)],
        ["give", e, "tocilizumab", "--dose-mg", "400", *at(3)],
        ["observe", e, "--temp", "39.1", "--o2", "hfnc", "--o2-flow", "50", *at(12)],
        ["give", e, "tocilizumab", "--dose-mg", "400", *at(12.5)],
        ["give", e, "dexamethasone", "--dose-mg", "10", *at(13)],
    ]
    for args in steps:
        ran = crs(*args)
        assert ran.code == 0, (args, ran.stderr)
    assert crs("give", e, "tocilizumab", "--dose-mg", "400", *at(14)).code == 1
    return e, t0


def test_json_report_facts(crs, episode) -> None:  # type: ignore[no-untyped-def]
    e, t0 = episode
    data = crs("audit", "report", e, "--format", "json").json
    assert [(row["seq"], row["kind"]) for row in data["timeline"]] == [
        (1, "open"), (2, "give"), (3, "observe"), (4, "act"), (5, "give"), (6, "observe"), (7, "give"), (8, "give")]
    assert all(row["at"] and row["recorded_at"] and row["hash"] for row in data["timeline"])
    assert [(g["crs_grade"], g["icans_grade"]) for g in data["grades"]] == [(3, 1), (3, 0)]
    assert [(d["drug"], d["dose_mg"], d["limit_mg"], d["within_limits"]) for d in data["doses"]] == [
        ("anakinra", 100.0, 100.0, True), ("tocilizumab", 400.0, 457.6, True), ("tocilizumab", 400.0, 457.6, True),
        ("dexamethasone", 10.0, 20.0, True)]
    assert data["doses"][0]["deviation"] is True
    guards = {g["guard"]: g for g in data["timed_guards"]}
    assert (guards["CRS grade ≥ 2 → tocilizumab"]["hours"], guards["CRS grade ≥ 2 → tocilizumab"]["status"]) == (1, "met")
    assert (guards["CRS grade ≥ 3 → corticosteroid"]["hours"], guards["CRS grade ≥ 3 → corticosteroid"]["status"]) == (
        11, "met")
    interval = guards["tocilizumab doses ≥ 8 h apart"]
    assert (interval["hours"], interval["status"]) == (9.5, "met")
    assert any(g["status"] == "missed" and g["guard"].startswith("reassessment") for g in data["timed_guards"])
    assert data["deviations"] == [{"seq": 2, "at": iso(t0 + timedelta(hours=1)), "kind": "give",
                                   "what": "anakinra 100 mg iv", "rule": "REFRACTORY_ORDER",
                                   "rules": ["REFRACTORY_ORDER"], "reason": "given at referring centre",
                                   "actor": ACTOR}]
    assert [r["rules"] for r in data["refusals"]] == [["TOCI_MIN_INTERVAL", "TOCI_MAX_DOSES"]]
    actions = {a["action"]: a["status"] for a in data["supportive_actions"]}
    assert actions["icu-transfer"] == "done"
    assert actions["echocardiogram"] == "missing" and actions["antifungal-prophylaxis"] == "missing"
    assert data["summary"]["deviations"] == 1 and data["summary"]["refused_attempts"] == 1


def test_markdown_report_has_every_section(crs, episode) -> None:  # type: ignore[no-untyped-def]
    e, _ = episode
    text = crs("audit", "report", e).stdout
    for heading in ("## Timeline", "## Grades over time", "## Doses against their limits", "## Timed guards",
                    "## Deviations", "## Refused attempts", "## Required supportive actions"):
        assert heading in text
    assert "given at referring centre" in text and "REFRACTORY_ORDER" in text and "MISSING" in text


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def test_html_report_is_one_self_contained_file(crs, episode, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    e, _ = episode
    out = tmp_path / "report.html"
    assert crs("audit", "report", e, "--format", "html", "--out", str(out)).code == 0
    html = out.read_text(encoding="utf-8")
    parser = _Collect()
    parser.feed(html)
    tags = [tag for tag, _ in parser.tags]
    assert "script" not in tags and "link" not in tags and "img" not in tags and "iframe" not in tags
    assert not any(key in ("src", "href") for _, attrs in parser.tags for key in attrs)
    assert not re.search(r"url\(|@import|https?://", html)
    assert tags.count("svg") == 1 and tags.count("style") == 1
    svg = html[html.index("<svg"):html.index("</svg>")]
    assert svg.count("<path d=\"M") >= 2 + 4, "two grade step lines and four dose markers"
    assert "CRS grade" in svg and "ICANS grade" in svg and "anakinra 100 mg (deviation)" in svg
    assert NOTE not in html and "&lt;script&gt;" in html, "record text is escaped, never markup"
