"""`crs correct`, `crs void`, `--late` and `crs upgrade` in-process on a real SQLite file (CONTRACT:
"Corrections and late entries"; CLINICAL §10; HAZARDS H4, H20).

Every answer is read back through other commands (history, status --as-of, audit refusals, audit
verify), so a change that only looked right in its own output would fail here. The same acceptance
runs through the installed `crs` on SQLite and PostgreSQL in test_corrections_subprocess.py.
"""

import shutil
from persistence.schema import HEAD
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cli.commands import corrections
from pathway.history import INPUTS
from tests.cli.conftest import ACTOR, Ran, iso, one_sentence, recent_t0

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "crs-0.1.0-rev0001.db"
CRS_2 = ["--temp", "38.6", "--o2", "nasal-cannula", "--o2-flow", "4", "--ice", "10", "--consciousness", "awake"]
CHANGE_KEYS = {"seq", "kind", "target_seq", "target_kind", "at", "recorded_at", "actor", "reason", "before", "after",
               "override", "overrides"}
STEPPED_KEYS = {"episode", "seq", "kind", "at", "from_state", "state", "deviation", "event", "status"}


class Ward:
    """One adult episode (70 kg, 58 y) with a CRS grade 2 observation at +1 h, on the `crs` fixture's file."""

    def __init__(self, crs: Callable[..., Ran], t0: datetime) -> None:
        self.crs, self.t0 = crs, t0
        opened = crs("open", "--patient", "CART-70", "--weight-kg", "70", "--age-years", "58", "--at", iso(t0),
                     "--json")
        assert opened.code == 0, opened.stderr
        self.id: str = opened.json["episode"]
        self.ok("observe", *CRS_2, hours=1)  # seq 2

    def at(self, hours: float) -> str:
        return iso(self.t0 + timedelta(hours=hours))

    def run(self, *args: str, hours: float | None = None, as_json: bool = True) -> Ran:
        when = ["--at", self.at(hours)] if hours is not None else []
        argv = [args[0], self.id, *args[1:], *when, *(["--json"] if as_json else [])]
        return self.crs(*argv)

    def ok(self, *args: str, hours: float | None = None) -> dict[str, Any]:
        ran = self.run(*args, hours=hours)
        assert ran.code == 0, (args, ran.stdout, ran.stderr)
        return dict(ran.json)

    def history(self) -> list[dict[str, Any]]:
        return list(self.ok("history")["events"])

    def refusals(self) -> list[dict[str, Any]]:
        ran = self.crs("audit", "refusals", self.id, "--json")
        assert ran.code == 0, ran.stderr
        return list(ran.json["refusals"])

    def verify_clean(self) -> None:
        ran = self.crs("audit", "verify", "--json")
        assert ran.code == 0 and ran.json["ok"] is True, ran.stdout


@pytest.fixture
def ward(crs) -> Ward:  # type: ignore[no-untyped-def]
    return Ward(crs, recent_t0(30))


def _files(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir()) if path.is_file()}


# -- the acceptance of issue 10 ---------------------------------------------------------------------

def test_the_56_mg_typo_is_corrected_and_the_real_8_hour_interval_holds(ward: Ward) -> None:
    ward.ok("give", "tocilizumab", "--dose-mg", "56", hours=1.5)  # seq 3: the typo (560 mg were given)
    body = ward.ok("correct", "3", "--reason", "typo: 560 mg given", "--dose-mg", "560")
    assert body.keys() == STEPPED_KEYS | {"correction"}
    assert (body["seq"], body["kind"], body["at"]) == (4, "correct", ward.at(1.5)), "at the dose's own clinical time"
    assert (body["from_state"], body["state"]) == ("tocilizumab", "tocilizumab")
    change = body["correction"]
    assert change.keys() == CHANGE_KEYS
    assert (change["kind"], change["target_seq"], change["target_kind"], change["reason"], change["actor"]) == (
        "correct", 3, "give", "typo: 560 mg given", ACTOR)
    assert (change["before"]["dose_mg"], change["after"]["dose_mg"]) == (56.0, 560.0)
    assert body["event"]["data"]["corrected"]["dose_mg"] == 560.0

    early = ward.run("give", "tocilizumab", "--dose-mg", "560", hours=2.5)  # +1 h after the first dose
    assert early.code == 1 and early.json["rule"] == "TOCI_MIN_INTERVAL", "the correction moved nothing in time"
    assert early.json["earliest_at"] == ward.at(9.5)
    second = ward.ok("give", "tocilizumab", "--dose-mg", "560", hours=9.5)  # the real interval: +8 h
    assert second["seq"] == 5 and second["event"]["data"]["dose_number"] == 2
    ward.verify_clean()


def test_a_correction_to_900_mg_is_refused_even_with_override_and_only_the_refusal_is_written(ward: Ward) -> None:
    ward.ok("give", "tocilizumab", "--dose-mg", "56", hours=1.5)
    before = ward.history()
    refused = ward.run("correct", "3", "--reason", "typo", "--dose-mg", "900", "--override", "clinician insists")
    assert refused.code == 1 and refused.json["rule"] == "TOCI_DOSE_MAX" and refused.json["overridable"] is False
    assert ward.history() == before, "nothing was written to the episode"
    logged = ward.refusals()
    assert [(r["kind"], r["rule"], r["command"]["target_seq"], r["command"]["changes"]) for r in logged] == [
        ("correct", "TOCI_DOSE_MAX", 3, {"dose_mg": 900.0})]
    assert logged[0]["breaks_seq"] is None, "the corrected entry itself breaks the limit, no later event"
    plain = ward.run("correct", "3", "--reason", "typo", "--dose-mg", "900", as_json=False)
    assert plain.code == 1 and plain.stdout == "" and one_sentence(plain.stderr) and "TOCI_DOSE_MAX" in plain.stderr
    ward.verify_clean()


def test_a_late_dose_two_hours_before_a_recorded_one_is_refused_naming_breaks_seq(ward: Ward) -> None:
    ward.ok("give", "tocilizumab", "--dose-mg", "560", hours=4)  # seq 3
    late = ward.run("give", "tocilizumab", "--dose-mg", "560", "--late", "charted after the fact", hours=2)
    assert late.code == 1, late.stdout
    assert (late.json["rule"], late.json["breaks_seq"]) == ("TOCI_MIN_INTERVAL", 3)
    assert "(seq 3, in the corrected history)" in late.json["message"]
    plain = ward.run("give", "tocilizumab", "--dose-mg", "560", "--late", "charted after the fact", hours=2,
                     as_json=False)
    assert plain.code == 1 and one_sentence(plain.stderr)
    assert "TOCI_MIN_INTERVAL" in plain.stderr and "seq 3" in plain.stderr
    assert [(r["kind"], r["rule"], r["breaks_seq"], r["command"]["late"]) for r in ward.refusals()] == [
        ("give", "TOCI_MIN_INTERVAL", 3, "charted after the fact")] * 2
    shown = ward.crs("audit", "refusals", ward.id, env={"COLUMNS": "300"}).stdout
    assert "breaks seq 3" in shown and "(late)" in shown
    assert [e["kind"] for e in ward.history()] == ["open", "observe", "give"]


def test_voiding_the_only_tocilizumab_dose_leaves_assessment_and_says_so(ward: Ward) -> None:
    ward.ok("give", "tocilizumab", "--dose-mg", "560", hours=1.5)
    body = ward.ok("void", "3", "--reason", "recorded on the wrong episode")
    assert (body["kind"], body["from_state"], body["state"]) == ("void", "tocilizumab", "assessment")
    assert body["status"]["state"] == "assessment" and body["status"]["tocilizumab_doses"] == 0
    assert (body["correction"]["kind"], body["correction"]["target_seq"], body["correction"]["after"]) == (
        "void", 3, None)
    assert ward.ok("status")["state"] == "assessment"
    ward.verify_clean()


def test_human_views_of_a_correction_and_a_void(ward: Ward) -> None:
    ward.ok("give", "tocilizumab", "--dose-mg", "56", hours=1.5)
    corrected = ward.run("correct", "3", "--reason", "typo", "--dose-mg", "560", as_json=False)
    assert corrected.code == 0, corrected.stderr
    text = " ".join(corrected.stdout.split())
    assert "seq 3 (give) superseded by seq 4: dose_mg 56 → 560; state tocilizumab" in text
    assert "State recomputed" not in text, "the state did not change"
    voided = ward.run("void", "4", "--reason", "wrong patient", as_json=False)
    assert voided.code == 1, "a correction cannot itself be voided (CORRECTION_TARGET)"
    ward.ok("give", "dexamethasone", "--dose-mg", "10", "--override", "grade 2 with neuro signs", hours=2)
    voided = ward.run("void", "5", "--reason", "wrong patient", as_json=False)
    assert voided.code == 0, voided.stderr
    text = " ".join(voided.stdout.split())
    assert "seq 5 (give) voided by seq 6: entered in error; state tocilizumab" in text
    assert "State recomputed: steroid → tocilizumab" in text


# -- what history, status --as-of and the refusal log show --------------------------------------------

def test_history_marks_superseded_voided_and_late_events(ward: Ward) -> None:
    ward.ok("give", "tocilizumab", "--dose-mg", "56", hours=1.5)  # 3
    ward.ok("act", "labs", hours=2)  # 4
    ward.ok("correct", "3", "--reason", "typo", "--dose-mg", "560")  # 5
    ward.ok("void", "4", "--reason", "labs were not sent")  # 6
    late = ward.ok("act", "telemetry", "--late", "charted at the end of the shift", hours=1.2)  # 7
    assert late["correction"]["kind"] == "late" and late["event"]["data"]["late"] is True
    events = ward.history()
    assert [(e["seq"], e["kind"], e["superseded_by"], e["voided_by"]) for e in events] == [
        (1, "open", None, None), (2, "observe", None, None), (3, "give", 5, None), (4, "act", None, 6),
        (5, "correct", None, None), (6, "void", None, None), (7, "act", None, None)]
    assert events[2]["data"]["dose_mg"] == 56.0, "the original stays as it was recorded"
    table = " ".join(ward.crs("history", ward.id, env={"COLUMNS": "220"}).stdout.split())
    assert "[superseded by 5] tocilizumab 56 mg iv" in table and "[voided by 6] labs" in table
    assert "[late] telemetry (late: charted at the end of the shift)" in table
    assert "corrects seq 3 (give) to: tocilizumab 560 mg iv — typo" in table
    assert ward.ok("status")["corrections"] == 3
    assert "Corrections" in ward.crs("status", ward.id).stdout
    ward.verify_clean()


def test_status_as_of_shows_what_was_recorded_and_what_stands(ward: Ward) -> None:
    at = ward.at(1.2)
    before = ward.ok("status", "--as-of", at)
    assert (before["crs_grade"], before["corrected_entries"]) == (2, [])
    ward.ok("correct", "2", "--reason", "oxygen was off", "--o2", "room-air", "--unset", "o2-flow")
    after = ward.ok("status", "--as-of", at)
    assert after["crs_grade"] == 1, "the effective history: the corrected observation stands"
    [entry] = after["corrected_entries"]
    assert (entry["kind"], entry["target_seq"], entry["seq"]) == ("correct", 2, 3)
    assert entry["before"]["o2_device"] == "nasal-cannula" and "o2_flow_lpm" in entry["before"]
    assert entry["after"]["o2_device"] == "room-air" and "o2_flow_lpm" not in entry["after"]
    assert ward.ok("status", "--as-of", ward.at(0.5))["corrected_entries"] == [], "not yet at that clinical time"
    shown = " ".join(ward.crs("status", ward.id, "--as-of", at, env={"COLUMNS": "200"}).stdout.split())
    assert "seq 2 (observe) superseded by seq 3" in shown and "o2_device nasal-cannula → room-air" in shown
    plain = ward.ok("status")
    assert "corrected_entries" not in plain and plain["corrections"] == 1


def test_an_overridable_rule_a_correction_makes_a_later_event_break_needs_override(ward: Ward) -> None:
    ward.ok("give", "tocilizumab", "--dose-mg", "560", hours=1.5)  # 3, indicated by CRS 2 at seq 2
    refused = ward.run("correct", "2", "--reason", "oxygen was off", "--o2", "room-air", "--unset", "o2-flow")
    assert refused.code == 1 and refused.json["overridable"] is True
    assert (refused.json["rule"], refused.json["breaks_seq"]) == ("TOCI_INDICATION", 3)
    passed = ward.ok("correct", "2", "--reason", "oxygen was off", "--o2", "room-air", "--unset", "o2-flow",
                     "--override", "tocilizumab given for rising CRP")
    assert passed["deviation"]["rules"] == ["TOCI_INDICATION"]
    assert passed["correction"]["overrides"] == {"3": ["TOCI_INDICATION"]}
    assert [r["breaks_seq"] for r in ward.refusals()] == [3]
    ward.verify_clean()


# -- CORRECTION_TARGET, EPISODE_CLOSED: exit 1, logged ---------------------------------------------------

@pytest.mark.parametrize("argv, words", [
    (["correct", "1", "--reason", "x", "--temp", "37"], "event 1 is an open"),
    (["correct", "99", "--reason", "x", "--temp", "37"], "no event 99"),
    (["correct", "4", "--reason", "x", "--dose-mg", "500"], "event 4 is a correct"),
    (["correct", "3", "--reason", "x", "--dose-mg", "500"], "already superseded by event 4"),
    (["void", "3", "--reason", "x"], "already superseded by event 4"),
    (["void", "4", "--reason", "x"], "event 4 is a correct"),
    (["void", "1", "--reason", "x"], "event 1 is an open"),
])
def test_correction_target_refuses_and_logs(ward: Ward, argv: list[str], words: str) -> None:
    ward.ok("give", "tocilizumab", "--dose-mg", "56", hours=1.5)
    ward.ok("correct", "3", "--reason", "typo", "--dose-mg", "560")
    before = ward.history()
    ran = ward.run(*argv)
    assert ran.code == 1 and ran.json["rule"] == "CORRECTION_TARGET" and ran.json["overridable"] is False, ran.stdout
    assert words in ran.json["message"]
    assert ward.history() == before
    assert [(r["kind"], r["rule"]) for r in ward.refusals()] == [(argv[0], "CORRECTION_TARGET")]


def test_a_void_of_a_void_and_a_closed_episode_are_refused(ward: Ward) -> None:
    ward.ok("act", "labs", hours=2)  # 3
    ward.ok("void", "3", "--reason", "not sent")  # 4
    again = ward.run("void", "4", "--reason", "x")
    assert again.code == 1 and again.json["rule"] == "CORRECTION_TARGET"
    ward.ok("close", "--reason", "transferred", hours=3)  # 5
    for argv in (["correct", "2", "--reason", "x", "--temp", "37"], ["void", "2", "--reason", "x"],
                 ["act", "labs", "--late", "charted late", "--at", ward.at(2.5)]):
        ran = ward.run(*argv)
        assert ran.code == 1 and ran.json["rule"] == "EPISODE_CLOSED", (argv, ran.stdout)


# -- exit 2: invalid input writes nothing ---------------------------------------------------------------

@pytest.mark.parametrize("argv, words", [
    (["correct", "3", "--reason", "x"], "--unset NAME"),
    (["correct", "3", "--reason", "x", "--unset", "bogus"], "--unset"),
    (["correct", "3", "--reason", "x", "--unset", "dose-mg"], "--unset"),
    (["correct", "3", "--reason", "x", "--temp", "37"], "--temp is not an option of `crs give`"),
    (["correct", "2", "--reason", "x", "--dose-mg", "560"], "--dose-mg is not an option of `crs observe`"),
    (["correct", "2", "--reason", "x", "--note", "typo"], "its note (--note) is not corrected"),
    (["correct", "3", "--reason", "x", "--temp", "37", "--dose-mg", "560"], "a correction changes one recorded entry"),
    (["correct", "2", "--reason", "x", "--temp", "37", "--unset", "temp"], "contradict"),
    (["correct", "2", "--reason", "x", "--ice", "3", "--capd", "4"], "--ice and --capd"),
    (["correct", "3", "--reason", "x", "--dose-mg", "56"], "changes nothing"),
    (["correct", "2", "--reason", "x", "--o2", "room-air"], "--o2-flow needs an oxygen device"),
    (["correct", "2", "--reason", "x", "--capd", "5", "--unset", "ice"], "CAPD is for children"),
    (["correct", "3", "--reason", "x", "--dose-mg", "abc"], "--dose-mg"),
    (["correct", "3", "--reason", "x", "--route", "im"], "--route"),
    (["correct", "2", "--reason", "x", "--o2", "Room-Air"], "--o2"),
    (["correct", "2", "--reason", "x", "--vasopressors", "7"], "--vasopressors"),
    (["correct", "x", "--reason", "x", "--temp", "37"], "SEQ"),
    (["correct", "0", "--reason", "x", "--temp", "37"], "SEQ"),
    (["correct", "3", "--dose-mg", "560"], "--reason"),
    (["correct", "3", "--reason", " ", "--dose-mg", "560"], "--reason"),
    (["void", "3"], "--reason"),
    (["void", "-1", "--reason", "x"], ""),
    (["act", "labs", "--late", "charted late"], "--late is for a clinical time before"),
    (["act", "labs", "--late", "", "--at", "{1.5}"], "--late"),
])
def test_invalid_input_exits_2_with_one_sentence_and_writes_nothing(ward: Ward, db_url: str, argv: list[str],
                                                                     words: str) -> None:
    ward.ok("give", "tocilizumab", "--dose-mg", "56", hours=1.5)  # 3
    argv = [ward.at(float(part[1:-1])) if part.startswith("{") else part for part in argv]
    folder = Path(db_url.removeprefix("sqlite:///")).parent
    before = _files(folder)
    plain = ward.run(*argv, as_json=False)
    assert plain.code == 2 and plain.stdout == "" and one_sentence(plain.stderr), plain
    assert words in plain.stderr, plain.stderr
    as_json = ward.run(*argv)
    assert as_json.code == 2 and as_json.json.keys() == {"error", "message"} and as_json.json["error"] == "invalid"
    assert _files(folder) == before
    assert ward.refusals() == [], "invalid input is not a refusal"


def test_a_late_entry_at_the_latest_time_is_not_late(ward: Ward) -> None:
    ran = ward.run("observe", "--temp", "37", "--o2", "room-air", "--late", "x", hours=1)
    assert ran.code == 2 and "record it without --late" in ran.json["message"]
    early = ward.run("observe", "--temp", "37", "--late", "x", hours=-1)
    assert early.code == 1 and early.json["rule"] == "TIME_ORDER", "before the episode was opened"


def test_a_late_observation_regrades_and_reroutes(ward: Ward) -> None:
    ward.ok("observe", "--temp", "37", "--o2", "room-air", "--ice", "10", "--consciousness", "awake", hours=3)
    late = ward.ok("observe", "--temp", "39", "--o2", "facemask", "--ice", "10", "--consciousness", "awake",
                   "--late", "paper chart entered later", hours=2)
    assert late["observation"]["crs_grade"] == 3 and late["correction"]["kind"] == "late"
    assert late["crs_grade"] == 0, "the status reads the latest observation in clinical time (seq 3)"
    assert late["as_of"] == ward.at(3)
    shown = ward.run("observe", "--temp", "38", "--o2", "room-air", "--late", "x", hours=2.5, as_json=False)
    assert shown.code == 0 and "Late entry (charted after the fact): x" in shown.stdout
    ward.verify_clean()


# -- help, names, upgrade ---------------------------------------------------------------------------------

def test_help_texts_say_what_corrections_voids_and_late_entries_are(crs) -> None:  # type: ignore[no-untyped-def]
    def shown(*argv: str) -> str:
        ran = crs(*argv, "--help", env={"COLUMNS": "200"})
        assert ran.code == 0
        return " ".join(ran.stdout.split())

    correct = shown("correct")
    assert "--reason" in correct and "supersedes" in correct and "--unset NAME" in correct
    assert "CORRECTION_TARGET" in correct and "--hypotension / --no-hypotension" in correct
    void = shown("void")
    assert "--reason" in void and "entered in error" in void and "CORRECTION_TARGET" in void
    for command in ("observe", "give", "act"):
        text = shown(command)
        assert "--late REASON" in text and "charted after the fact" in text
        assert "before the episode's latest event" in text
        assert "With --late it also passes the overridable rules the late entry makes later events break" in text
    assert "upgrade" in shown() and "schema" in shown("upgrade")


def test_correction_option_names_are_the_cores_input_names() -> None:
    """Every input pathway.history.INPUTS lists can be corrected, and each option names a real input."""
    for kind, names in INPUTS.items():
        covered = {name for k, name in corrections.CORRECT_OPTIONS.values() if k == kind}
        if kind == "observe":
            covered.add("capd_unable")  # --capd unable
        assert covered == names, kind
        removable = {n for k, inputs in corrections.UNSET_INPUTS.values() if k == kind for n in inputs}
        assert removable <= names, kind
    assert all(f"--{name}" in corrections.CORRECT_OPTIONS for name in corrections.UNSET_INPUTS)


def test_upgrade_a_database_made_by_the_previous_release(crs, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    if not FIXTURE.is_file():
        pytest.skip(f"no fixture {FIXTURE.name} (scripts/make_upgrade_fixture.py builds it from the old release)")
    old = tmp_path / "old.db"
    shutil.copyfile(FIXTURE, old)
    url = f"sqlite:///{old}"
    env = {"CRS_DB": url}
    listed = crs("list", "--json", env=env)
    assert listed.code == 2 and "crs upgrade" in listed.json["message"], "read-only commands ask for the upgrade"
    upgraded = crs("upgrade", "--json", env=env)
    assert upgraded.code == 0, upgraded.stdout
    assert upgraded.json == {"database": url, "schema": HEAD, "upgraded_from": "0001", "created": False}
    again = crs("upgrade", env=env)
    assert again.code == 0 and f"already at schema {HEAD}" in again.stdout
    assert crs("upgrade", "--json", env=env).json["upgraded_from"] is None
    verified = crs("audit", "verify", "--json", env=env)
    assert verified.code == 0 and verified.json["ok"] is True and verified.json["episodes"] >= 3
    episodes = crs("list", "--json", env=env).json["episodes"]
    adult = next(e for e in episodes if e["patient"] == "ADULT-SEED")
    history = crs("history", adult["episode"], "--json", env=env).json["events"]
    act = next(e for e in history if e["kind"] == "act")
    assert (act["superseded_by"], act["voided_by"]) == (None, None)
    voided = crs("void", adult["episode"], str(act["seq"]), "--reason", "entered on the wrong day", "--json", env=env)
    assert voided.code == 0, voided.stdout
    assert crs("audit", "verify", "--json", env=env).json["ok"] is True


def test_upgrade_creates_a_new_database_and_says_so(crs, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'new.db'}"
    made = crs("upgrade", "--json", env={"CRS_DB": url})
    assert made.code == 0 and made.json == {"database": url, "schema": HEAD, "upgraded_from": None, "created": True}
    assert f"created at schema {HEAD}" in crs("upgrade", env={"CRS_DB": f"sqlite:///{tmp_path / 'other.db'}"}).stdout


def test_upgrade_from_schema_0001_built_by_its_migration(crs, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Without the release fixture too: the 0001 schema as its own migration made it."""
    from tests.support.schema import migrate_to

    path = tmp_path / "v1.db"
    migrate_to(f"sqlite:///{path}", "0001")
    env = {"CRS_DB": f"sqlite:///{path}"}
    assert crs("list", env=env).code == 2
    ran = crs("upgrade", env=env)
    assert ran.code == 0 and f"upgraded from schema 0001 to {HEAD}" in ran.stdout
    assert crs("list", "--json", env=env).json == {"episodes": []}
