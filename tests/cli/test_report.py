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
    # v2: the second observation recorded no ICE score and no consciousness: ICANS not assessed (null, never 0)
    assert [(g["crs_grade"], g["icans_grade"]) for g in data["grades"]] == [(3, 1), (3, None)]
    assert [(g["crs_missing"], g["icans_missing"]) for g in data["grades"]] == [
        ([], ["consciousness"]), ([], ["ice_score", "consciousness"])]
    summary = data["summary"]
    assert (summary["max_crs_grade"], summary["max_icans_grade"], summary["observations"],
            summary["observations_crs_not_assessed"], summary["observations_icans_not_assessed"]) == (3, 1, 2, 0, 1)
    assert data["timeline"][5]["summary"].startswith("CRS 3, ICANS not assessed (")
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
    # CRS reassessed 10 h after grade 3 (4 h asked); ICANS (grade 1, with CRS 3: 4 h) never reassessed by the
    # last event on record, 11 h later; the observation at +12 h did not assess ICANS, so it does not count
    crs_gap, icans_gap = guards["reassessment of CRS within 4 h"], guards["reassessment of ICANS within 4 h"]
    assert (crs_gap["hours"], crs_gap["status"]) == (10, "missed")
    assert (icans_gap["hours"], icans_gap["status"]) == (11, "missed")
    assert "ICANS grade ≥ 2 → corticosteroid" in guards and "CRS never assessed" not in guards
    assert data["deviations"] == [{"seq": 2, "at": iso(t0 + timedelta(hours=1)), "kind": "give",
                                   "what": "anakinra 100 mg iv", "rule": "REFRACTORY_ORDER",
                                   "rules": ["REFRACTORY_ORDER"], "reason": "given at referring centre",
                                   "actor": ACTOR}]
    assert [r["rules"] for r in data["refusals"]] == [["TOCI_MIN_INTERVAL", "TOCI_MAX_DOSES"]]
    actions = {a["action"]: a["status"] for a in data["supportive_actions"]}
    assert actions["icu-transfer"] == "done"
    assert actions["echocardiogram"] == "missing" and actions["antifungal-prophylaxis"] == "missing"
    assert actions["aspiration-precautions"] == "missing" and actions["neurology-consult"] == "missing", "ICANS 1"
    assert "neuroimaging" not in actions and "antiseizure" not in actions and "fluid-bolus" not in actions
    assert data["summary"]["deviations"] == 1 and data["summary"]["refused_attempts"] == 1
    # nothing corrected: the section is empty, every event stands as recorded, the summary counts zero
    assert data["corrections"] == [] and not any(row["superseded_by"] or row["voided_by"] or row["late"]
                                                 for row in data["timeline"])
    assert (summary["corrections"], summary["voids"], summary["late_entries"], summary["refused_corrections"]) == (
        0, 0, 0, 0)
    assert data["refusals"][0]["breaks_seq"] is None


def test_markdown_report_has_every_section(crs, episode) -> None:  # type: ignore[no-untyped-def]
    e, _ = episode
    text = crs("audit", "report", e).stdout
    for heading in ("## Timeline", "## Corrections", "## Grades over time", "## Doses against their limits", "## Timed guards",
                    "## Deviations", "## Refused attempts", "## Required supportive actions"):
        assert heading in text
    assert "given at referring centre" in text and "REFRACTORY_ORDER" in text and "MISSING" in text
    grade_rows = [line for line in text.split("## Grades over time", 1)[1].split("##", 1)[0].splitlines()
                  if line.startswith("| 6 |")]
    assert grade_rows and "| 3 | not assessed |" in grade_rows[0]
    assert "ICANS: ICE score, level of consciousness" in grade_rows[0]
    assert "None" not in text and "| observations icans not assessed | 1 |" in text


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
    assert '<td>3</td><td><span class="na">not assessed</span></td>' in html and "None" not in html
    assert svg.count('class="not-assessed"') == 1 and "ICANS not assessed (missing ICANS: ICE score" in svg


def test_report_requires_icu_and_echo_once_fluids_fail(crs) -> None:  # type: ignore[no-untyped-def]
    """CLINICAL §9: still hypotensive after two fluid boluses within 6 h -> ICU transfer and echocardiogram
    are required (and shown missing until recorded), also at CRS grade 2 where nothing else requires them."""
    t0 = recent_t0(10)

    def at(hours: float) -> list[str]:
        return ["--at", iso(t0 + timedelta(hours=hours))]

    e = crs("open", "--patient", "HYPO-1", "--weight-kg", "70", "--age-years", "50", *at(0), "--json").json["episode"]
    hypotensive = ["--temp", "38.5", "--o2", "room-air", "--hypotension", "--ice", "10", "--consciousness", "awake"]
    for args in (["observe", e, *hypotensive, *at(1)], ["act", e, "fluid-bolus", *at(1.2)],
                 ["observe", e, *hypotensive, *at(2)], ["act", e, "fluid-bolus", *at(2.2)]):
        assert crs(*args).code == 0, args
    before = crs("audit", "report", e, "--format", "json").json
    assert not {"echocardiogram", "icu-transfer"} & {a["action"] for a in before["supportive_actions"]}
    assert crs("observe", e, *hypotensive, *at(3)).code == 0  # persisting after two boluses
    after = crs("audit", "report", e, "--format", "json").json
    fluids = {a["action"]: a for a in after["supportive_actions"] if "fluid boluses" in a["required_because"]}
    assert set(fluids) == {"icu-transfer", "echocardiogram"}
    assert {a["status"] for a in fluids.values()} == {"missing"}
    assert fluids["echocardiogram"]["required_since"] == iso(t0 + timedelta(hours=3))
