"""`crs audit report` on a corrected record: what stands, what was recorded, and who changed what.

The episodes are built through the real service (pathway.service.handle) on a real SQLite file,
the way every step is recorded; the report is then read through the app (`crs audit report`), and
once through the installed `crs` as a real process.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from cli.report.data import tried
from pathway.commands import (AdministerDose, Command, Correct, OpenEpisode, RecordAction, RecordObservation,
                              Void)
from pathway.errors import Refused
from pathway.observations import Observation
from pathway.service import StepResult, handle
from persistence.identity import os_login
from persistence.store import Store
from tests.cli.conftest import ACTOR, iso, mask, recent_t0

REVIEWER = "pharmacist-b"
MARKUP = '<img src=x onerror="alert(1)"> & co'
CRS2 = {"temp_c": 38.6, "o2_device": "nasal-cannula", "o2_flow_lpm": 4, "ice_score": 10, "consciousness": "awake"}


@dataclass
class Built:
    episode: str
    t0: datetime
    refused: list[Refused]

    def at(self, hours: float) -> str:
        return iso(self.t0 + timedelta(hours=hours))


class Recorder:
    """Steps through the real service on a real store, each recorded at a given (past) time."""

    def __init__(self, store: Store, t0: datetime) -> None:
        self.store, self.t0, self.refused = store, t0, []
        self.episode = ""

    def h(self, hours: float) -> datetime:
        return self.t0 + timedelta(hours=hours)

    def ok(self, command: Command, recorded: float) -> StepResult:
        return handle(command, self.store.unit_of_work(), self.h(recorded))

    def refuse(self, command: Command, recorded: float) -> Refused:
        with pytest.raises(Refused) as caught:
            handle(command, self.store.unit_of_work(), self.h(recorded))
        self.refused.append(caught.value)
        return caught.value

    def open(self, weight_kg: float = 70) -> str:
        opened = self.ok(OpenEpisode(at=self.h(0), actor=ACTOR, patient_ref="CORR-1", weight_kg=weight_kg,
                                     age_years=50), 0)
        self.episode = opened.episode.id
        return self.episode

    def observe(self, hours: float, late: str | None = None, recorded: float | None = None,
                **inputs: Any) -> StepResult:
        return self.ok(RecordObservation(at=self.h(hours), actor=ACTOR, episode_id=self.episode, late=late,
                                         observation=Observation(**inputs)), hours if recorded is None else recorded)

    def toci(self, hours: float, dose_mg: float, **extra: Any) -> AdministerDose:
        return AdministerDose(at=self.h(hours), actor=ACTOR, episode_id=self.episode, drug="tocilizumab",
                              dose_mg=dose_mg, **extra)


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    opened = Store.open(db_url)
    yield opened
    opened.close()


def build_corrected(store: Store, t0: datetime) -> Built:
    """A 70 kg adult at CRS 2: tocilizumab typed 56 mg (corrected to 560), a dose on the wrong chart (voided),
    and a dose charted late that makes a later one the third of the episode (passed by its override).

    seq 1 open, 2 observe, 3 give 56 (superseded by 4), 4 correct, 5 give (voided by 6), 6 void, 7 observe,
    8 give at +18 h, 9 late give at +9.25 h recorded at +19.1 h; three refused attempts on the way."""
    r = Recorder(store, t0)
    r.open()
    r.observe(0.5, **CRS2)
    r.ok(r.toci(1, 56), 1)
    r.refuse(Correct(at=r.h(1.1), actor=REVIEWER, episode_id=r.episode, target_seq=3, reason="typo",
                     changes={"dose_mg": 900}, override_reason="prescribed so"), 1.1)
    r.ok(Correct(at=r.h(1.2), actor=REVIEWER, episode_id=r.episode, target_seq=3, reason=f"typo {MARKUP}",
                 changes={"dose_mg": 560}), 1.2)
    r.ok(r.toci(12, 560), 12)
    r.ok(Void(at=r.h(12.5), actor=REVIEWER, episode_id=r.episode, target_seq=5, reason="charted on the wrong episode"),
         12.5)
    r.observe(17, **CRS2)
    r.ok(r.toci(18, 560), 18)
    r.refuse(r.toci(16, 560, late="charted after the round"), 19)  # 2 h before seq 8
    r.refuse(r.toci(9.25, 560, late="charted after the round"), 19)  # makes seq 8 the third dose: override needed
    r.ok(r.toci(9.25, 560, late="charted after the round", override_reason="third dose approved by attending"), 19.1)
    return Built(r.episode, r.t0, r.refused)


@pytest.fixture
def corrected(store: Store) -> Built:
    return build_corrected(store, recent_t0(30))


def _report(crs: Callable[..., Any], episode: str) -> dict[str, Any]:
    ran = crs("audit", "report", episode, "--format", "json")
    assert ran.code == 0, ran.stderr
    return ran.json


def test_json_corrections_section_and_counts(crs, corrected: Built) -> None:  # type: ignore[no-untyped-def]
    data = _report(crs, corrected.episode)
    rows = {row["seq"]: row for row in data["corrections"]}
    assert list(rows) == [4, 6, 9], "every correction, void and late entry, in the order recorded"
    fix, void, late = rows[4], rows[6], rows[9]
    assert (fix["kind"], fix["target_seq"], fix["target_kind"], fix["actor"]) == ("correct", 3, "give", REVIEWER)
    assert (fix["at"], fix["recorded_at"]) == (corrected.at(1), corrected.at(1.2)), "the target's clinical time"
    assert fix["reason"] == f"typo {MARKUP}" and fix["before_after"] == "dose_mg 56 → 560"
    assert fix["before"]["dose_mg"] == 56 and fix["after"]["dose_mg"] == 560
    assert fix["override"] is None and fix["overrides"] == {}
    assert (void["kind"], void["target_seq"], void["reason"]) == ("void", 5, "charted on the wrong episode")
    assert void["before_after"] == "dose_mg 560, drug tocilizumab, route iv → voided" and void["after"] is None
    assert (late["kind"], late["target_seq"], late["target_kind"]) == ("late", None, "give")
    assert (late["at"], late["recorded_at"]) == (corrected.at(9.25), corrected.at(19.1))
    assert late["before_after"] == "not recorded → dose_mg 560, drug tocilizumab, route iv"
    assert late["override"]["reason"] == "third dose approved by attending"
    assert late["overrides"] == {"8": ["TOCI_MAX_DOSES"]}, "the recorded event its override passed"
    summary = data["summary"]
    assert (summary["corrections"], summary["voids"], summary["late_entries"]) == (1, 1, 1)
    assert (summary["refused_attempts"], summary["refused_corrections"]) == (3, 3)
    assert data["events"] == 9, "every stored event is counted as recorded"


def test_json_timeline_keeps_and_marks_every_recorded_event(crs, corrected: Built) -> None:  # type: ignore[no-untyped-def]
    timeline = _report(crs, corrected.episode)["timeline"]
    assert [row["seq"] for row in timeline] == list(range(1, 10)), "nothing hidden"
    marks = {row["seq"]: (row["superseded_by"], row["voided_by"], row["late"], row["target_seq"]) for row in timeline}
    assert marks == {1: (None, None, False, None), 2: (None, None, False, None), 3: (4, None, False, None),
                     4: (None, None, False, 3), 5: (None, 6, False, None), 6: (None, None, False, 5),
                     7: (None, None, False, None), 8: (None, None, False, None), 9: (None, None, True, None)}
    assert timeline[2]["summary"] == "tocilizumab 56 mg iv", "the original stays as it was recorded"
    assert timeline[3]["summary"].startswith("corrects #3 (give): dose_mg 56 → 560 — typo")
    late = timeline[8]
    assert (late["at"], late["recorded_at"]) == (corrected.at(9.25), corrected.at(19.1))
    assert late["summary"] == "tocilizumab 560 mg iv (late entry: charted after the round)"


def test_json_doses_grades_and_guards_are_what_stands(crs, corrected: Built) -> None:  # type: ignore[no-untyped-def]
    data = _report(crs, corrected.episode)
    doses = [(d["seq"], d["at"], d["dose_mg"], d["corrects_seq"], d["late"], d["total_24h_mg"], d["doses_24h"],
              d.get("dose_number"), d["within_limits"]) for d in data["doses"]]
    assert doses == [
        (4, corrected.at(1), 560.0, 3, False, 560.0, 1, 1, True),  # the corrected value, at the original's time
        (9, corrected.at(9.25), 560.0, None, True, 1120.0, 2, 2, True),  # the late dose where it was given
        (8, corrected.at(18), 560.0, None, False, 1680.0, 3, 3, True)]
    assert 56.0 not in [d["dose_mg"] for d in data["doses"]] and 5 not in [d["seq"] for d in data["doses"]], \
        "neither the superseded nor the voided dose counts against a limit"
    assert data["doses"][0]["percent_of_limit"] == 90.9, "560 of 616 mg (8 mg/kg + 10%, 70 kg)"
    summary = data["summary"]
    assert (summary["tocilizumab_doses"], summary["doses"], summary["doses_above_limit"]) == (3, 3, 0)
    intervals = [(g["detail"], g["hours"], g["status"]) for g in data["timed_guards"]
                 if g["guard"] == "tocilizumab doses ≥ 8 h apart"]
    assert intervals == [("doses #4 and #9", 8.25, "met"), ("doses #9 and #8", 8.75, "met")]
    assert [(d["seq"], d["rules"], d["reason"], d["actor"]) for d in data["deviations"]] == [
        (8, ["TOCI_MAX_DOSES"], "third dose approved by attending", ACTOR)], "the late entry's grant, on seq 8"
    assert data["state"] == "tocilizumab"


def test_refused_corrections_are_listed_with_breaks_seq(crs, corrected: Built) -> None:  # type: ignore[no-untyped-def]
    refusals = _report(crs, corrected.episode)["refusals"]
    assert [(r["kind"], r["rules"], r["breaks_seq"], r["tried"]) for r in refusals] == [
        ("correct", ["TOCI_DOSE_MAX"], None, "correct #3: dose_mg → 900 (with override)"),
        ("give", ["TOCI_MIN_INTERVAL", "TOCI_MAX_DOSES"], 8, "give tocilizumab 560 mg (late entry)"),
        ("give", ["TOCI_MAX_DOSES"], 8, "give tocilizumab 560 mg (late entry)")]
    assert [r.breaks_seq for r in corrected.refused] == [None, 8, 8], "the report says what the core decided"
    assert all(r["correction"] for r in refusals)
    assert "(seq 8, in the corrected history)" in refusals[1]["message"]


def _section(text: str, heading: str) -> str:
    return text.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]


def test_markdown_corrections_section_struck_entries_and_counts(crs, corrected: Built) -> None:  # type: ignore[no-untyped-def]
    ran = crs("audit", "report", corrected.episode)
    assert ran.code == 0, ran.stderr
    text = ran.stdout
    section = _section(text, "Corrections")
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| seq")]
    assert len(rows) == 3
    assert rows[0].startswith(f"| 4 | correct | #3 (give) | {corrected.at(1)} | {corrected.at(1.2)} | {REVIEWER} |")
    assert "| dose_mg 56 → 560 |" in rows[0]
    assert rows[1].startswith("| 6 | void | #5 (give) |") and "→ voided" in rows[1]
    assert rows[2].startswith(f"| 9 | late | new give | {corrected.at(9.25)} | {corrected.at(19.1)} |")
    assert "third dose approved by attending (nurse-a): passed #8 TOCI_MAX_DOSES" in rows[2]
    timeline = _section(text, "Timeline")
    struck = {line.split(" | ")[0]: line for line in timeline.splitlines() if "~~" in line}
    assert set(struck) == {"| 3", "| 5"}, "superseded and voided entries are struck, and only they"
    assert "~~tocilizumab 56 mg iv~~ | superseded by #4 |" in struck["| 3"]
    assert "~~tocilizumab 560 mg iv~~ | voided by #6 |" in struck["| 5"]
    assert "| late entry |" in next(line for line in timeline.splitlines() if line.startswith("| 9 |"))
    for measure in ("| corrections | 1 |", "| voids | 1 |", "| late entries | 1 |", "| refused corrections | 3 |"):
        assert measure in _section(text, "Summary")
    refused = _section(text, "Refused attempts")
    assert "| breaks seq |" in refused and "| TOCI_MIN_INTERVAL, TOCI_MAX_DOSES | 8 |" in refused
    doses = _section(text, "Doses against their limits")
    assert "| 56 |" not in doses and "| 1680 |" in doses
    assert "None" not in text


class _Cells(HTMLParser):
    """The table rows of an HTML report: (tr class, [cell text]), and every start tag seen."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[str, list[str]]] = []
        self.tags: list[str] = []
        self._in_cell = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "tr":
            self.rows.append((dict(attrs).get("class") or "", []))
        elif tag == "td":
            self.rows[-1][1].append("")
            self._in_cell = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._in_cell = False

    def handle_data(self, data: str) -> None:
        if self._in_cell:
            self.rows[-1][1][-1] += data


def test_html_corrections_escaped_and_struck(crs, corrected: Built, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "report.html"
    assert crs("audit", "report", corrected.episode, "--format", "html", "--out", str(out)).code == 0
    html = out.read_text(encoding="utf-8")
    assert MARKUP not in html and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt; &amp; co" in html
    parser = _Cells()
    parser.feed(html)
    assert "img" not in parser.tags and "script" not in parser.tags, "record text never becomes markup"
    assert '<td><del>tocilizumab 56 mg iv</del></td><td>superseded by #4</td>' in html
    assert '<td><del>tocilizumab 560 mg iv</del></td><td>voided by #6</td>' in html
    struck = [cells[0] for css, cells in parser.rows if "struck" in css.split()]
    assert struck == ["3", "5"]
    late = [cells for css, cells in parser.rows if "late" in css.split()]
    assert [(c[0], c[1], c[2]) for c in late] == [("9", corrected.at(9.25), corrected.at(19.1))]
    assert "<h2>Corrections</h2>" in html
    corrections = [cells for _, cells in parser.rows if len(cells) == 9 and cells[1] in ("correct", "void", "late")]
    assert [(c[0], c[2], c[7]) for c in corrections] == [
        ("4", "#3 (give)", "dose_mg 56 → 560"), ("6", "#5 (give)", "dose_mg 560, drug tocilizumab, route iv → voided"),
        ("9", "new give", "not recorded → dose_mg 560, drug tocilizumab, route iv")]
    assert corrections[2][8] == "third dose approved by attending (nurse-a): passed #8 TOCI_MAX_DOSES"
    svg = html[html.index("<svg"):html.index("</svg>")]
    assert "560 mg (late entry)" in svg and "(corrects #3)" in svg and " 56 mg" not in svg


def test_no_corrections_section_says_none(crs, store: Store) -> None:  # type: ignore[no-untyped-def]
    r = Recorder(store, recent_t0(5))
    episode = r.open()
    r.observe(0.5, **CRS2)
    data = _report(crs, episode)
    assert data["corrections"] == []
    assert (data["summary"]["corrections"], data["summary"]["voids"], data["summary"]["late_entries"]) == (0, 0, 0)
    assert {(row["superseded_by"], row["voided_by"], row["late"]) for row in data["timeline"]} == {(None, None, False)}
    text = crs("audit", "report", episode).stdout
    assert "_none — no correction, void or late entry is on record._" in _section(text, "Corrections")
    assert "~~" not in text
    html = crs("audit", "report", episode, "--format", "html").stdout
    assert "<h2>Corrections</h2><p class=\"muted\">Each correction, void and late entry, in the order recorded.</p>" \
           "<p class=\"muted\">none — no correction, void or late entry is on record.</p>" in html


def test_corrected_observation_and_voided_action_change_grades_and_required_actions(  # type: ignore[no-untyped-def]
        crs, store: Store) -> None:
    """A grade 3 typed in error (hfnc for nasal cannula) no longer requires ICU and echocardiogram once
    corrected; a voided action is no longer done; a corrected note shows before → after, escaped."""
    r = Recorder(store, recent_t0(6))
    episode = r.open()
    r.observe(0.5, **{**CRS2, "o2_device": "hfnc", "o2_flow_lpm": 30})  # seq 2: CRS 3 as typed
    r.ok(RecordAction(at=r.h(1), actor=ACTOR, episode_id=episode, action="telemetry"), 1)  # seq 3
    r.ok(RecordAction(at=r.h(1.5), actor=ACTOR, episode_id=episode, action="labs", note="drawn"), 1.5)  # seq 4
    before = _report(crs, episode)
    assert before["summary"]["max_crs_grade"] == 3
    assert {"icu-transfer", "echocardiogram"} <= {a["action"] for a in before["supportive_actions"]}
    r.ok(Correct(at=r.h(2), actor=REVIEWER, episode_id=episode, target_seq=2, reason="device mis-keyed",
                 changes={"o2_device": "nasal-cannula", "o2_flow_lpm": 4}), 2)  # seq 5
    r.ok(Void(at=r.h(2), actor=REVIEWER, episode_id=episode, target_seq=3, reason="not started"), 2.1)  # seq 6
    r.ok(Correct(at=r.h(2), actor=REVIEWER, episode_id=episode, target_seq=4, reason="note", changes={"note": MARKUP}),
         2.2)  # seq 7
    after = _report(crs, episode)
    assert after["summary"]["max_crs_grade"] == 2 and [g["crs_grade"] for g in after["grades"]] == [2]
    assert after["grades"][0]["corrects_seq"] == 2 and after["grades"][0]["seq"] == 5
    actions = {a["action"]: a["status"] for a in after["supportive_actions"]}
    assert "icu-transfer" not in actions and "echocardiogram" not in actions, "CRS 3 no longer stands"
    assert actions["telemetry"] == "missing", "the voided action is not done"
    assert actions["labs"] == "done"
    rows = {row["seq"]: row["before_after"] for row in after["corrections"]}
    assert rows[5] == "o2_device hfnc → nasal-cannula; o2_flow_lpm 30 → 4"
    assert rows[6] == "action telemetry → voided" and rows[7] == f"note drawn → {MARKUP}"
    html = crs("audit", "report", episode, "--format", "html").stdout
    assert MARKUP not in html and "note drawn → &lt;img src=x" in html


def test_installed_crs_reports_corrections(crs_bin, db_url: str, corrected: Built) -> None:  # type: ignore[no-untyped-def]
    ran = crs_bin("audit", "report", corrected.episode, env={"CRS_DB": db_url})
    assert ran.code == 0, ran.stderr
    assert "## Corrections" in ran.stdout and "| dose_mg 56 → 560 |" in ran.stdout
    assert "~~tocilizumab 56 mg iv~~" in ran.stdout
    assert crs_bin("audit", "verify", corrected.episode, env={"CRS_DB": db_url}).code == 0


@pytest.mark.postgres
def test_same_report_on_postgresql(crs_bin, db_url: str, corrected: Built, postgres_url: str) -> None:  # type: ignore[no-untyped-def]
    """The report is the same on both databases: the same steps on PostgreSQL give the same facts (ids,
    times and hashes masked), through the installed `crs`."""
    on_postgres = Store.open(postgres_url)
    try:
        other = build_corrected(on_postgres, corrected.t0)
    finally:
        on_postgres.close()
    reports = []
    for url, episode in ((db_url, corrected.episode), (postgres_url, other.episode)):
        ran = crs_bin("audit", "report", episode, "--format", "json", env={"CRS_DB": url})
        assert ran.code == 0, ran.stderr
        reports.append(_logins_masked(mask(ran.json, {episode: "E"})))
    assert reports[0][1] == {os_login()} and reports[1][1] == {make_url(postgres_url).username}  # who wrote each
    assert reports[0][0] == reports[1][0]
    reports = [report for report, _ in reports]
    assert reports[1]["summary"]["corrections"] == 1 and reports[1]["refusals"][1]["breaks_seq"] == 8


def _logins_masked(value: Any) -> tuple[Any, set[str]]:
    """The report with every `login` masked, and the logins it named: they differ by backend (the OS login on
    SQLite, the database role on PostgreSQL), everything else must not."""
    found: set[str] = set()

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if isinstance(node.get("login"), str):
                found.add(node["login"])
            return {k: "<LOGIN>" if k == "login" else walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(value), found


def test_tried_shows_no_free_text() -> None:
    """A refused correction is told by its target and changed values; a note's text (free text) never."""
    command = {"target_seq": 4, "changes": {"note": MARKUP, "action": "labs"}, "unset": ["route"],
               "reason": "secret reason", "override_reason": "why"}
    text = tried({"kind": "correct", "command": command})
    assert text == "correct #4: action → labs, note, route → not recorded (with override)"
    assert MARKUP not in text and "secret" not in text
    assert tried({"kind": "void", "command": {"target_seq": 2, "reason": "secret"}}) == "void #2"
