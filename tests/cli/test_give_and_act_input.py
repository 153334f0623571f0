"""`crs give` and `crs act` input (CONTRACT v2): drug names in any case, the 0.1 mg dose floor (H5),
and the new supportive actions; invalid input is exit 2 with one sentence and writes nothing."""

from datetime import timedelta
from pathlib import Path

import pytest

from cli.commands import steps
from pathway.commands import MIN_DOSE_MG
from pathway.drugs import Action
from tests.cli.conftest import iso, one_sentence, recent_t0


@pytest.fixture
def grade3(crs, tmp_path: Path):  # type: ignore[no-untyped-def]
    """An adult at CRS grade 3 (a steroid is indicated), and the folder holding its database."""
    t0 = recent_t0(10)
    opened = crs("open", "--patient", "P-G", "--weight-kg", "70", "--age-years", "40", "--at", iso(t0), "--json")
    episode = opened.json["episode"]
    ran = crs("observe", episode, "--temp", "39", "--o2", "facemask", "--ice", "10", "--consciousness", "awake",
              "--at", iso(t0 + timedelta(hours=1)))
    assert ran.code == 0, ran.stderr
    return episode, t0, tmp_path


def _files(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def test_the_cli_spells_the_cores_dose_floor() -> None:
    assert steps.MIN_DOSE_MG == MIN_DOSE_MG == 0.1


@pytest.mark.parametrize("typed", ["Dexamethasone", "DEXAMETHASONE", "dexaMETHASONE", " dexamethasone "])
def test_drug_names_are_case_insensitive(crs, grade3, typed: str) -> None:  # type: ignore[no-untyped-def]
    episode, t0, _ = grade3
    ran = crs("give", episode, typed, "--dose-mg", "10", "--at", iso(t0 + timedelta(hours=2)), "--json")
    assert ran.code == 0, ran.stdout
    assert ran.json["event"]["data"]["drug"] == "dexamethasone" and ran.json["state"] == "steroid"


def test_an_unknown_drug_lists_the_known_ones(crs, grade3) -> None:  # type: ignore[no-untyped-def]
    episode, t0, folder = grade3
    before = _files(folder)
    ran = crs("give", episode, "Dexamethason", "--dose-mg", "10", "--at", iso(t0 + timedelta(hours=2)))
    assert ran.code == 2 and one_sentence(ran.stderr) and "DRUG" in ran.stderr and "methylprednisolone" in ran.stderr
    assert _files(folder) == before


@pytest.mark.parametrize("dose", ["0.05", "0", "0.0999", "1e-300", "-1"])
def test_a_dose_below_0_1_mg_is_a_typo(crs, grade3, dose: str) -> None:  # type: ignore[no-untyped-def]
    episode, t0, folder = grade3
    before = _files(folder)
    plain = crs("give", episode, "dexamethasone", "--dose-mg", dose, "--at", iso(t0 + timedelta(hours=2)))
    assert plain.code == 2 and plain.stdout == "" and one_sentence(plain.stderr), plain
    assert "--dose-mg" in plain.stderr and "at least 0.1 mg" in plain.stderr
    as_json = crs("give", episode, "dexamethasone", "--dose-mg", dose, "--at", iso(t0 + timedelta(hours=2)), "--json")
    assert as_json.code == 2 and as_json.json["error"] == "invalid" and "0.1" in as_json.json["message"]
    assert _files(folder) == before
    assert crs("audit", "refusals", "--json").json == {"refusals": []}, "invalid input is not a refusal"


def test_0_1_mg_is_accepted(crs, grade3) -> None:  # type: ignore[no-untyped-def]
    episode, t0, folder = grade3
    before = _files(folder)
    ran = crs("give", episode, "dexamethasone", "--dose-mg", "0.1", "--at", iso(t0 + timedelta(hours=2)), "--json")
    assert ran.code == 0, ran.stdout
    assert ran.json["event"]["data"]["dose_mg"] == 0.1
    assert _files(folder) != before, "the accepted dose was written: the comparisons above have teeth"


@pytest.mark.parametrize("action", ["fluid-bolus", "aspiration-precautions", "neurology-consult", "neuroimaging",
                                    "eeg", "antiseizure"])
def test_the_new_supportive_actions(crs, grade3, action: str) -> None:  # type: ignore[no-untyped-def]
    episode, t0, _ = grade3
    ran = crs("act", episode, action, "--note", "done at the bedside", "--at", iso(t0 + timedelta(hours=2)), "--json")
    assert ran.code == 0, ran.stdout
    assert (ran.json["kind"], ran.json["event"]["data"]["action"]) == ("act", action)
    assert crs("history", episode, "--json").json["events"][-1]["data"]["action"] == action


def test_act_help_lists_every_action(crs) -> None:  # type: ignore[no-untyped-def]
    shown = " ".join(crs("act", "--help", env={"COLUMNS": "200"}).stdout.split())
    for action in Action:
        assert action.value in shown


def test_an_observation_note_is_recorded_shown_and_absent_when_not_given(crs, grade3) -> None:  # type: ignore[no-untyped-def]
    """`crs observe --note`: in the event's data only when given, in history, status --full and the audit report."""
    episode, t0, _ = grade3
    ran = crs("observe", episode, "--temp", "38.9", "--o2", "facemask", "--ice", "10", "--consciousness", "awake",
              "--note", "  BP 88/50 on the ward monitor ", "--at", iso(t0 + timedelta(hours=2)), "--json")
    assert ran.code == 0, ran.stdout
    events = crs("history", episode, "--json").json["events"]
    assert "note" not in events[1]["data"]  # the observation recorded without one
    assert events[-1]["data"]["note"] == "BP 88/50 on the ward monitor"  # stripped, like act's note
    assert events[-1]["data"]["observation"]["temp_c"] == 38.9  # it sets no input
    assert "BP 88/50 on the ward monitor" in " ".join(crs("history", episode).stdout.split())
    full = crs("status", episode, "--full", env={"COLUMNS": "200"})
    assert "BP 88/50 on the ward monitor" in " ".join(full.stdout.split())
    assert crs("status", episode, "--full", "--json").json["basis"]["note"] == "BP 88/50 on the ward monitor"
    assert "note" not in (crs("status", episode, "--json").json["basis"] or {})  # the snapshot has no note
    report = crs("audit", "report", episode, "--format", "json").json
    assert report["timeline"][-1]["summary"].endswith("— BP 88/50 on the ward monitor")
    assert report["grades"][-1]["note"] == "BP 88/50 on the ward monitor" and "note" not in report["grades"][0]
    markdown = crs("audit", "report", episode, "--format", "md").stdout
    assert markdown.count("BP 88/50 on the ward monitor") == 2  # the timeline and the grades' inputs
    assert "— note: BP 88/50 on the ward monitor" in crs("audit", "report", episode, "--format", "html").stdout


def test_an_observation_note_is_bounded_and_never_repeated_in_the_error(crs, grade3) -> None:  # type: ignore[no-untyped-def]
    episode, t0, folder = grade3
    before = _files(folder)
    secret = "Jane Roe " + "x" * 500
    ran = crs("observe", episode, "--temp", "38", "--note", secret, "--at", iso(t0 + timedelta(hours=2)), "--json")
    assert ran.code == 2 and "--note" in ran.json["message"] and "Jane" not in ran.stdout + ran.stderr
    assert _files(folder) == before


def test_a_correction_of_an_observation_carries_its_note(crs, grade3) -> None:  # type: ignore[no-untyped-def]
    episode, t0, _ = grade3
    seq = crs("observe", episode, "--temp", "38.9", "--o2", "facemask", "--note", "BP 88/50",
              "--at", iso(t0 + timedelta(hours=2)), "--json").json["seq"]
    refused = crs("correct", episode, str(seq), "--reason", "typo", "--note", "other", "--json")
    assert refused.code == 2 and "its note (--note) is not corrected" in refused.json["message"]
    ran = crs("correct", episode, str(seq), "--reason", "typo", "--temp", "38.7", "--json")
    assert ran.code == 0, ran.stdout
    last = crs("history", episode, "--json").json["events"][-1]
    assert last["data"]["corrected"]["note"] == "BP 88/50" and last["data"]["corrected"]["observation"]["temp_c"] == 38.7
    assert "BP 88/50" in crs("status", episode, "--full", "--json").json["basis"]["note"]  # as the correction stands
    assert crs("audit", "verify").code == 0
