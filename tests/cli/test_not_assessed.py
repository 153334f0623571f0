"""A grade not assessed (null, CONTRACT v2) is "not assessed" everywhere a person reads it — observe,
status, history, list, the md/html/json report and its SVG timeline, `crs demo` — never "None",
never 0, never "not graded"; and the report never counts it as 0.

Each episode is stepped in process through the real app on a real SQLite file; the human output
is read at a width where no table cell wraps, so phrases can be found whole.
"""

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import Ran, iso, recent_t0

WIDE = {"COLUMNS": "400"}
FORBIDDEN = ("None", "not graded", "grade None")


def readable(text: str) -> str:
    """The words of a rendered view with table borders and line breaks removed."""
    return " ".join(re.sub(r"[│┃┏┓┗┛┡┩┣┫━─┼╇╈┳┻┠┨└┘┌┐├┤┬┴]", " ", text).split())


def assert_clean(text: str) -> None:
    text = text.replace("_None._", "").replace('<p class="muted">None.</p>', "")  # an empty section, not a grade
    for word in FORBIDDEN:
        assert word not in text, f"{word!r} shown to a person"


class Steps:
    def __init__(self, crs: Callable[..., Ran], t0: datetime) -> None:
        self.crs, self.t0 = crs, t0

    def __call__(self, *args: str, hours: float, json: bool = True) -> Any:
        ran = self.crs(*args, "--at", iso(self.t0 + timedelta(hours=hours)), *(["--json"] if json else []), env=WIDE)
        assert ran.code == 0, ran.stderr or ran.stdout
        return ran.json if json else ran.stdout

    def open(self, age: str = "58", weight: str = "70") -> str:
        return str(self("open", "--patient", "P-NA", "--weight-kg", weight, "--age-years", age, hours=0)["episode"])


@pytest.fixture
def steps(crs: Callable[..., Ran]) -> Steps:
    return Steps(crs, recent_t0(30))


def test_a_new_episode_is_not_assessed_and_due_at_opening(steps: Steps, crs: Callable[..., Ran]) -> None:
    e = steps.open()
    body = crs("status", e, "--json").json
    assert (body["crs_grade"], body["icans_grade"], body["next_steps"][0]["kind"]) == (None, None, "assess")
    shown = readable(crs("status", e, env=WIDE).stdout)
    assert "CRS not assessed (no observation recorded yet)" in shown
    assert f"reassess now: OVERDUE since {iso(steps.t0)[5:16].replace('T', ' ')}Z" in shown  # 80 columns: MM-DD hh:mm
    assert_clean(shown)


def test_an_empty_observation_is_not_assessed_and_asks_for_everything(steps: Steps) -> None:
    e = steps.open()
    body = steps("observe", e, hours=1)
    assert (body["crs_grade"], body["icans_grade"]) == (None, None)
    assert body["next_steps"][0] == {**body["next_steps"][0], "kind": "assess",
                                     "missing": ["temp_c", "o2_device", "ice_score", "consciousness"]}
    shown = readable(steps("observe", e, hours=2, json=False))
    assert "CRS not assessed, ICANS not assessed." in shown
    assert "CRS not assessed (missing: temperature, oxygen support)" in shown
    assert "ICANS not assessed (missing: ICE score, level of consciousness)" in shown
    assert "assess now: temperature, oxygen support, ICE score, level of consciousness" in shown
    assert "grade 0" not in shown and "decided by not assessed" not in shown
    assert_clean(shown)


def test_status_names_the_last_assessed_grade(steps: Steps, crs: Callable[..., Ran]) -> None:
    e = steps.open()
    steps("observe", e, "--temp", "39", "--o2", "hfnc", "--ice", "8", "--consciousness", "awake", hours=1)
    steps("observe", e, "--o2", "hfnc", hours=2)  # oxygen above room air without a temperature (H7)
    body = crs("status", e, "--json").json
    assert (body["crs_grade"], body["icans_grade"]) == (None, None)
    assert body["next_steps"][0]["kind"] == "assess" and body["next_steps"][0]["missing"][0] == "temp_c"
    shown = readable(crs("status", e, env=WIDE).stdout)
    assert re.search(r"CRS not assessed \(missing: temperature; last assessed grade 3 at [-\d :]+Z \(#2\)\)", shown)
    assert re.search(r"ICANS not assessed \(missing: ICE score, level of consciousness; last assessed grade 1 "
                     r"at [-\d :]+Z \(#2\)\)", shown), shown
    assert "assess now: temperature, ICE score, level of consciousness" in shown
    assert_clean(shown)


def test_a_partly_assessed_icans_says_what_is_not_recorded(steps: Steps, crs: Callable[..., Ran]) -> None:
    e = steps.open()
    steps("observe", e, "--temp", "37", "--o2", "room-air", "--consciousness", "voice", hours=1)
    shown = readable(crs("status", e, env=WIDE).stdout)
    assert "ICANS grade 2 (decided by awakens to voice; not recorded: ICE score)" in shown
    assert "CRS grade 0 (decided by no fever)" in shown


def test_history_and_list(steps: Steps, crs: Callable[..., Ran]) -> None:
    e = steps.open()
    steps("observe", e, "--temp", "38.5", "--o2", "room-air", hours=1)
    history = crs("history", e, "--json").json
    assert [(ev["data"]["crs_grade"], ev["data"]["icans_grade"]) for ev in history["events"][1:]] == [(1, None)]
    shown = readable(crs("history", e, env=WIDE).stdout)
    assert "CRS 1, ICANS not assessed; 38.5 °C, room air" in shown
    assert_clean(shown)
    row = crs("list", "--json").json["episodes"][0]
    assert (row["crs_grade"], row["icans_grade"]) == (1, None)
    listed = readable(crs("list", env=WIDE).stdout)
    assert f"{e} P-NA assessment 1 not assessed" in listed
    assert_clean(listed)


@pytest.fixture
def unassessed_crs(steps: Steps) -> str:
    """An ICANS-only episode: CRS is never assessed (no temperature, no oxygen support recorded)."""
    e = steps.open()
    steps("observe", e, "--ice", "8", "--consciousness", "awake", hours=1)
    steps("observe", e, "--ice", "6", "--consciousness", "awake", "--vasopressors", "2", hours=3)
    return e


def test_report_json_never_counts_null_as_zero(crs: Callable[..., Ran], unassessed_crs: str) -> None:
    data = crs("audit", "report", unassessed_crs, "--format", "json").json
    assert [(g["crs_grade"], g["icans_grade"]) for g in data["grades"]] == [(None, 1), (None, 2)]
    assert [g["crs_missing"] for g in data["grades"]] == [["temp_c", "o2_device"]] * 2
    summary = data["summary"]
    assert (summary["max_crs_grade"], summary["max_icans_grade"]) == (None, 2)
    assert (summary["observations_crs_not_assessed"], summary["observations_icans_not_assessed"]) == (2, 0)
    guards = {g["guard"]: g for g in data["timed_guards"]}
    assert guards["CRS never assessed"]["status"] == "missed"
    assert guards["CRS grade ≥ 2 → tocilizumab"]["status"] == "not applicable", "null is no indication"
    assert guards["ICANS grade ≥ 2 → corticosteroid"]["status"] == "missed"
    assert guards["reassessment of ICANS within 8 h"]["status"] == "met", "ICANS 1 sets 8 h, not 12 h"
    assert "CRS not assessed, ICANS 1 (" in data["timeline"][1]["summary"]


def test_report_markdown_and_html_say_not_assessed(crs: Callable[..., Ran], unassessed_crs: str,
                                                     tmp_path: Path) -> None:
    markdown = crs("audit", "report", unassessed_crs).stdout
    assert "| max crs grade | not assessed |" in markdown and "| max icans grade | 2 |" in markdown
    assert "| not assessed | 1 |" in markdown and "CRS: temperature, oxygen support" in markdown
    assert_clean(markdown)
    out = tmp_path / "r.html"
    assert crs("audit", "report", unassessed_crs, "--format", "html", "--out", str(out)).code == 0
    html = out.read_text(encoding="utf-8")
    assert '<td><span class="na">not assessed</span></td><td>1</td>' in html
    assert "<td>max crs grade</td><td>not assessed</td>" in html
    assert_clean(html)
    svg = html[html.index("<svg"):html.index("</svg>")]
    assert "CRS grade</title></path>" not in svg, "no CRS line: it was never assessed (not a line at 0)"
    assert ": CRS " not in svg.replace("CRS not assessed", ""), "no CRS point at any grade"
    assert svg.count('class="not-assessed"') == 2 and "CRS not assessed, ICANS grade 1 (missing CRS: " in svg


def test_report_reassessment_by_the_worse_of_crs_and_icans(steps: Steps, crs: Callable[..., Ran]) -> None:
    """CRS 0 with ICANS 1 is reassessed within 8 h (not CRS 0's 12 h): 9 h later is missed for both.
    An observation that assesses only ICANS is no CRS reassessment."""
    e = steps.open()
    steps("observe", e, "--temp", "37", "--o2", "room-air", "--ice", "8", "--consciousness", "awake", hours=1)
    steps("observe", e, "--temp", "38.4", "--o2", "nasal-cannula", "--o2-flow", "2", "--ice", "10",
          "--consciousness", "awake", hours=10)
    steps("observe", e, "--ice", "10", "--consciousness", "awake", hours=12)  # neuro only
    steps("observe", e, "--temp", "38", "--o2", "room-air", "--ice", "10", "--consciousness", "awake", hours=15)
    guards = crs("audit", "report", e, "--format", "json").json["timed_guards"]
    rows = [(g["guard"], g["hours"], g["status"]) for g in guards if g["guard"].startswith("reassessment")]
    assert rows == [
        ("reassessment of CRS within 8 h", 9, "missed"), ("reassessment of ICANS within 8 h", 9, "missed"),
        ("reassessment of ICANS within 4 h", 2, "met"),  # after CRS grade 2: 4 h for both domains
        ("reassessment of CRS within 4 h", 5, "missed"), ("reassessment of ICANS within 4 h", 3, "met"),
    ]
    skipped = next(g for g in guards if g["guard"] == "reassessment of CRS within 4 h")
    assert "1 observation(s) in between did not assess CRS" in skipped["detail"]


def test_demo_says_not_assessed(crs: Callable[..., Ran]) -> None:
    ran = crs("demo", env=WIDE)
    assert ran.code == 0, ran.stdout
    shown = readable(ran.stdout)
    assert "CRS grade 3, ICANS not assessed" in shown and "ICANS not assessed (missing: ICE score" in shown
    assert_clean(shown)
