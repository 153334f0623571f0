"""Naive local times through a real `crs` process with `TZ` set (CONTRACT "Time"; HAZARDS H21).

A naive time is read in the machine's local zone only when it names one instant: the repeated hour
(clocks go back) and the skipped hour (clocks go forward) are invalid input, exit 2, asking for an
offset, and nothing is written, not even a refusal. Episodes are set up in-process (fast, UTC times);
the command under test runs as its own process, `python -m cli`, so the C library reads `TZ` afresh.
"""

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import cli
from tests.cli.conftest import ACTOR, Ran, one_sentence

#: The checkout whose `cli` this test imported: the subprocess runs the same code.
CHECKOUT = Path(cli.__file__).resolve().parents[1]
NEW_YORK = "America/New_York"


def crs_in_zone(db_url: str, zone: str | None, *args: str) -> Ran:
    """`python -m cli ARGS` with TZ=zone (None: TZ unset, so /etc/localtime decides)."""
    env = {k: v for k, v in os.environ.items() if k not in ("TZ", "CRS_DB", "CRS_ACTOR")}
    env.update({"CRS_DB": db_url, "CRS_ACTOR": ACTOR, "NO_COLOR": "1"})
    if zone is not None:
        env["TZ"] = zone
    done = subprocess.run([sys.executable, "-m", "cli", *args], capture_output=True, text=True, env=env,
                          cwd=CHECKOUT, timeout=120)
    return Ran(done.returncode, done.stdout, done.stderr)


@pytest.fixture
def dosed(crs: Callable[..., Ran]) -> str:
    """CRS grade 2 at 22:00Z on 31 Oct 2026 and a first tocilizumab dose at 22:25Z (18:25 EDT in New York)."""
    opened = crs("open", "--patient", "NY-1", "--weight-kg", "70", "--age-years", "58", "--at",
                 "2026-10-31T21:00:00Z", "--json")
    assert opened.code == 0, opened.stderr
    episode = opened.json["episode"]
    assert crs("observe", episode, "--temp", "38.6", "--o2", "nasal-cannula", "--o2-flow", "4", "--ice", "10",
               "--consciousness", "awake", "--at", "2026-10-31T22:00:00Z").code == 0
    assert crs("give", episode, "tocilizumab", "--dose-mg", "560", "--at", "2026-10-31T22:25:00Z").code == 0
    return str(episode)


def record(crs: Callable[..., Ran], episode: str) -> tuple[Any, Any]:
    """What the database holds for the episode: its history and the refusal log."""
    history, refusals = crs("history", episode, "--json"), crs("audit", "refusals", "--json")
    assert history.code == 0 and refusals.code == 0, (history.stderr, refusals.stderr)
    return history.json, refusals.json


def test_repeated_hour_tocilizumab_dose_is_not_guessed_as_edt(crs: Callable[..., Ran], db_url: str,
                                                              dosed: str) -> None:
    """The quoted bug: with TZ=America/New_York the naive 2026-11-01T01:30 is 7 h 05 min after the first dose
    if it is the first 01:30 (EDT) and 8 h 05 min if it is the second (EST): one reading passes
    TOCI_MIN_INTERVAL and the other does not, so the time is refused (exit 2), never guessed, and nothing is
    written: no event and no refusal."""
    before = record(crs, dosed)
    ran = crs_in_zone(db_url, NEW_YORK, "give", dosed, "tocilizumab", "--dose-mg", "560", "--at", "2026-11-01T01:30")
    assert ran.code == 2, (ran.code, ran.stdout, ran.stderr)
    assert one_sentence(ran.stderr) and ran.stdout == ""
    assert "--at" in ran.stderr and "'2026-11-01T01:30' is ambiguous" in ran.stderr
    assert "UTC-04:00 or UTC-05:00" in ran.stderr and "2026-11-01T01:30-05:00" in ran.stderr
    assert record(crs, dosed) == before
    assert before[1]["refusals"] == []


def test_repeated_hour_refusal_is_one_json_object_with_json(crs: Callable[..., Ran], db_url: str,
                                                            dosed: str) -> None:
    ran = crs_in_zone(db_url, NEW_YORK, "--json", "give", dosed, "tocilizumab", "--dose-mg", "560", "--at",
                      "2026-11-01T01:30")
    assert ran.code == 2 and ran.stderr == ""
    body = Ran(ran.code, ran.stdout, ran.stderr).json
    assert body["error"] == "invalid" and "ambiguous" in body["message"] and "offset" in body["message"]


def test_skipped_hour_time_is_invalid_input(crs: Callable[..., Ran], db_url: str, dosed: str) -> None:
    """The quoted bug: 2026-03-08T02:30 does not exist in New York (clocks go from 02:00 to 03:00); it was
    accepted. Here on `open`, where no episode exists yet to refuse it."""
    ran = crs_in_zone(db_url, NEW_YORK, "open", "--patient", "NY-2", "--weight-kg", "70", "--age-years", "58",
                      "--at", "2026-03-08T02:30")
    assert ran.code == 2 and one_sentence(ran.stderr), (ran.code, ran.stderr)
    assert "'2026-03-08T02:30' does not exist" in ran.stderr and "clocks went forward" in ran.stderr
    assert "offset" in ran.stderr
    listed = crs("list", "--json")
    assert [row["patient"] for row in listed.json["episodes"]] == ["NY-1"]


def test_skipped_and_repeated_hours_in_status_as_of_are_invalid_input(db_url: str, dosed: str) -> None:
    for at, needle in (("2026-11-01T01:30", "is ambiguous"), ("2026-03-08T02:30", "does not exist")):
        ran = crs_in_zone(db_url, NEW_YORK, "status", dosed, "--as-of", at)
        assert ran.code == 2 and one_sentence(ran.stderr) and "--as-of" in ran.stderr and needle in ran.stderr


def test_an_unambiguous_naive_time_is_still_read_in_the_local_zone(crs: Callable[..., Ran], db_url: str,
                                                                   dosed: str) -> None:
    """02:00 on 1 Nov 2026 in New York exists once (EST, after the repeated hour): it is 07:00Z, as before."""
    ran = crs_in_zone(db_url, NEW_YORK, "act", dosed, "telemetry", "--at", "2026-11-01T02:00")
    assert ran.code == 0, ran.stderr
    events = record(crs, dosed)[0]["events"]
    assert events[-1]["kind"] == "act" and events[-1]["at"] == "2026-11-01T07:00:00Z"


def test_the_ambiguous_time_with_an_explicit_offset_is_accepted(crs: Callable[..., Ran], db_url: str,
                                                                dosed: str) -> None:
    """The offset settles it: -04:00 (EDT, 7 h 05 min after the first dose) is refused by TOCI_MIN_INTERVAL;
    -05:00 (EST, 8 h 05 min) is given."""
    early = crs_in_zone(db_url, NEW_YORK, "--json", "give", dosed, "tocilizumab", "--dose-mg", "560", "--at",
                        "2026-11-01T01:30-04:00")
    assert early.code == 1 and early.json["rule"] == "TOCI_MIN_INTERVAL"
    late = crs_in_zone(db_url, NEW_YORK, "--json", "give", dosed, "tocilizumab", "--dose-mg", "560", "--at",
                       "2026-11-01T01:30-05:00")
    assert late.code == 0, late.stdout
    assert record(crs, dosed)[0]["events"][-1]["at"] == "2026-11-01T06:30:00Z"


@pytest.mark.parametrize("zone, at, stored", [
    ("Europe/London", "2026-10-25T01:30", None),  # repeated: BST or GMT
    ("Europe/London", "2026-10-25T02:30", "2026-10-25T02:30:00Z"),
    ("Australia/Lord_Howe", "2026-04-05T01:45", None),  # repeated half hour: +11:00 or +10:30
    ("Australia/Lord_Howe", "2026-10-04T02:15", None),  # skipped half hour
    ("Australia/Lord_Howe", "2026-10-04T02:30", "2026-10-03T15:30:00Z"),
    ("UTC", "2026-11-01T01:30", "2026-11-01T01:30:00Z"),
])
def test_other_zones_refuse_only_their_own_repeated_and_skipped_times(crs: Callable[..., Ran], db_url: str,
                                                                      zone: str, at: str, stored: str | None) -> None:
    ran = crs_in_zone(db_url, zone, "--json", "open", "--patient", "TZ-1", "--weight-kg", "70", "--age-years", "58",
                      "--at", at)
    if stored is None:
        assert ran.code == 2 and ran.json["error"] == "invalid" and "offset" in ran.json["message"], ran.stdout
        database = Path(db_url.removeprefix("sqlite:///"))
        assert not database.exists() or crs("list", "--json").json["episodes"] == []  # nothing written
    else:
        assert ran.code == 0 and ran.json["opened_at"] == stored, ran.stdout


def test_with_tz_unset_the_machine_zone_reads_a_naive_time(db_url: str) -> None:
    """No TZ: /etc/localtime decides, exactly as this process (TZ unset too) reads the same wall time."""
    import time
    from datetime import datetime, timezone

    before = os.environ.pop("TZ", None)
    time.tzset()
    try:
        expected = datetime(2026, 7, 1, 9, 15).astimezone().astimezone(timezone.utc)
    finally:
        if before is not None:
            os.environ["TZ"] = before
        time.tzset()
    ran = crs_in_zone(db_url, None, "--json", "open", "--patient", "TZ-2", "--weight-kg", "70", "--age-years", "58",
                      "--at", "2026-07-01T09:15")
    assert ran.code == 0, ran.stdout
    assert ran.json["opened_at"] == expected.isoformat().replace("+00:00", "Z")
