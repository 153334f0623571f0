"""Every documented exit code, with one sentence on stderr (or one JSON object with --json)."""

import json
import os
import shutil
import sqlite3
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from cli.errors import classify
from pathway.errors import Conflict, IntegrityError, Invalid, NotFound
from tests.cli.conftest import iso, one_sentence, recent_t0


@pytest.fixture
def opened(crs):  # type: ignore[no-untyped-def]
    t0 = recent_t0(30)
    ran = crs("open", "--patient", "P-1", "--weight-kg", "70", "--age-years", "40", "--at", iso(t0), "--json")
    assert ran.code == 0, ran.stderr
    crs("observe", ran.json["episode"], "--temp", "39", "--o2", "hfnc", "--o2-flow", "30",
        "--at", iso(t0 + timedelta(hours=1)))
    return ran.json["episode"], t0


def _both(crs, *args: str):  # type: ignore[no-untyped-def]
    """Run plain and with --json; the plain run gives one sentence, the JSON run one object."""
    plain = crs(*args)
    as_json = crs(*args, "--json")
    assert plain.stdout == "" and one_sentence(plain.stderr), plain
    assert as_json.stderr == "" and len(as_json.stdout.strip().splitlines()) == 1
    return plain, as_json.json


def test_exit_1_refused_names_the_rule_and_how_to_proceed(crs, opened) -> None:  # type: ignore[no-untyped-def]
    episode, t0 = opened
    assert crs("give", episode, "tocilizumab", "--dose-mg", "560", "--at", iso(t0 + timedelta(hours=2))).code == 0
    plain, body = _both(crs, "give", episode, "tocilizumab", "--dose-mg", "560", "--at", iso(t0 + timedelta(hours=3)))
    assert plain.code == 1
    assert "TOCI_MIN_INTERVAL" in plain.stderr and iso(t0 + timedelta(hours=10)) in plain.stderr
    assert body["error"] == "refused" and body["rule"] == "TOCI_MIN_INTERVAL" and body["overridable"] is False
    assert body["earliest_at"] == iso(t0 + timedelta(hours=10))
    plain, body = _both(crs, "give", episode, "anakinra", "--dose-mg", "100", "--at", iso(t0 + timedelta(hours=3)))
    assert plain.code == 1 and "REFRACTORY_ORDER" in plain.stderr and "--override REASON" in plain.stderr
    assert body["overridable"] is True
    plain, body = _both(crs, "give", episode, "dexamethasone", "--dose-mg", "40", "--at", iso(t0 + timedelta(hours=3)))
    assert plain.code == 1 and body["rule"] == "STEROID_DOSE_MAX" and "hard limit" in plain.stderr


def test_exit_1_future_time(crs, opened) -> None:  # type: ignore[no-untyped-def]
    episode, _ = opened
    far = iso(recent_t0(-2))
    plain, body = _both(crs, "observe", episode, "--temp", "37", "--at", far)
    assert plain.code == 1 and body["rule"] == "TIME_FUTURE"


@pytest.mark.parametrize("args, needle", [
    (["open", "--patient", "Jane Doe", "--weight-kg", "70", "--age-years", "40"], "--patient"),
    (["open", "--patient", "P", "--weight-kg", "351", "--age-years", "40"], "350"),
    (["open", "--patient", "P", "--weight-kg", "70", "--age-years", "-1"], "--age-years"),
    (["open", "--patient", "P", "--weight-kg", "70", "--age-years", "40", "--at", "next tuesday"], "--at"),
    (["open", "--patient", "P", "--weight-kg", "70"], "--age-years"),
    (["open", "--patient", "P", "--weight-kg", "70", "--age-years", "40", "--bogus"], "--bogus"),
    (["give", "E00000", "aspirin", "--dose-mg", "1"], "DRUG"),
    (["act", "E00000", "dance"], "ACTION"),
    (["observe", "E00000", "--o2", "room-air", "--o2-flow", "2"], "--o2-flow"),
    (["observe", "E00000", "--temp", "46"], "45"),
    (["frobnicate"], "frobnicate"),
], ids=lambda value: value if isinstance(value, str) else " ".join(value)[:40])
def test_exit_2_invalid_names_the_option(crs, args: list[str], needle: str) -> None:  # type: ignore[no-untyped-def]
    plain, body = _both(crs, *args)
    assert plain.code == 2 and needle in plain.stderr
    assert body["error"] == "invalid" and needle in body["message"]


def test_json_anywhere_switches_error_output(crs) -> None:  # type: ignore[no-untyped-def]
    for args in (["--json", "give"], ["give", "--json"], ["--json", "nope"], ["observe", "E1", "--temp", "x", "--json"]):
        ran = crs(*args)
        assert ran.code == 2 and ran.stderr == ""
        assert json.loads(ran.stdout)["error"] == "invalid"


def test_exit_3_conflict_mapping() -> None:
    """A lost race is provoked by the persistence suite's concurrency tests; here: its mapping."""
    failure = classify(Conflict("episode E1 changed under you; retry"))
    assert (failure.exit_code, failure.payload["error"]) == (3, "conflict")
    assert [classify(e).exit_code for e in (Invalid("x"), NotFound("x"), IntegrityError("x"))] == [2, 4, 5]


def test_exit_4_not_found(crs, opened) -> None:  # type: ignore[no-untyped-def]
    for args in (["status", "EZZZZZ"], ["history", "EZZZZZ"], ["observe", "EZZZZZ", "--temp", "37"],
                 ["audit", "report", "EZZZZZ"], ["audit", "verify", "EZZZZZ"], ["audit", "refusals", "EZZZZZ"]):
        plain, body = _both(crs, *args)
        assert plain.code == 4 and body["error"] == "not_found", args


def test_exit_5_tampered_history(crs, opened, db_url: str) -> None:  # type: ignore[no-untyped-def]
    episode, _ = opened
    path = db_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TRIGGER event_no_update")
        conn.execute("UPDATE event SET actor = 'someone-else' WHERE episode_id = ? AND seq = 2", (episode,))
    before = Path(path).read_bytes()
    ran = crs("audit", "verify", "--json")
    assert ran.code == 5
    body = ran.json
    assert body["error"] == "integrity" and episode in body["message"]
    assert body["ok"] is False and {"episode": episode, "seq": 2} in [
        {"episode": f["episode"], "seq": f["seq"]} for f in body["failures"]]
    plain = crs("audit", "verify")
    assert plain.code == 5 and episode in plain.stdout and "FAILED" in plain.stdout
    assert Path(path).read_bytes() == before, "audit verify must not write"


def test_unopenable_and_unusable_databases(crs, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not an sqlite database" * 100)
    cases = [f"sqlite:///{tmp_path}/no/such/dir/crs.db", "mysql://x@y/z", "not a url", f"sqlite:///{garbage}"]
    for url in cases:
        for args in (["open", "--patient", "P", "--weight-kg", "70", "--age-years", "40"], ["list"],
                     ["audit", "verify"]):
            plain, body = _both(crs, "--db", url, *args)
            assert plain.code == 2 and body["error"] == "invalid", (url, args, plain)
    assert garbage.read_bytes() == b"this is not an sqlite database" * 100


def test_malformed_policy_file(crs, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cases = {
        "beyond.toml": "toci_min_interval_h = 6\n",
        "unknown.toml": "toci_per_fortnight = 3\n",
        "broken.toml": "name = \n",
        "binary.toml": None,
    }
    for name, content in cases.items():
        path = tmp_path / name
        if content is None:
            path.write_bytes(b"\xff\xfe\x00garbage")
        else:
            path.write_text(content, encoding="utf-8")
        plain, body = _both(crs, "open", "--patient", "P", "--weight-kg", "70", "--age-years", "40", "--policy",
                            str(path))
        assert plain.code == 2 and "--policy" in plain.stderr and body["error"] == "invalid", name
    plain, _ = _both(crs, "open", "--patient", "P", "--weight-kg", "70", "--age-years", "40", "--policy",
                     str(tmp_path / "missing.toml"))
    assert plain.code == 2
    assert not (tmp_path / "crs.db").exists(), "invalid input must not even create the database"


def _make_read_only(paths: list[Path]) -> list[list[str]]:
    """File modes for a normal user; the immutable attribute for root (who ignores modes)."""
    if os.geteuid() != 0:
        for path in paths:
            os.chmod(path, 0o444)
        os.chmod(paths[0].parent, 0o555)
        return []
    if shutil.which("chattr") is None:
        pytest.skip("running as root without chattr: no way to make a file read-only here")
    undo = []
    for path in paths:
        done = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
        if done.returncode != 0:
            for command in undo:
                subprocess.run(command, check=False)
            pytest.skip(f"chattr +i is not permitted here: {done.stderr.strip()}")
        undo.append(["chattr", "-i", str(path)])
    return undo


@pytest.mark.skipif(not hasattr(os, "geteuid"), reason="POSIX permissions")
def test_read_only_database_one_sentence(crs, opened, db_url: str) -> None:  # type: ignore[no-untyped-def]
    """A database the user may read but not write: a step fails with one sentence, the audit still reads."""
    episode, t0 = opened
    path = Path(db_url.removeprefix("sqlite:///"))
    files = [path] + sorted(path.parent.glob(path.name + "-*"))
    before = {f: f.read_bytes() for f in files}
    undo = _make_read_only(files)
    try:
        step = crs("observe", episode, "--temp", "37", "--at", iso(t0 + timedelta(hours=2)))
        assert step.code in (2, 3) and step.stdout == "" and one_sentence(step.stderr), step
        as_json = crs("observe", episode, "--temp", "37", "--at", iso(t0 + timedelta(hours=2)), "--json")
        assert as_json.code in (2, 3) and json.loads(as_json.stdout)["error"] in ("invalid", "conflict")
        verify = crs("audit", "verify", "--json")
        assert verify.code == 0, verify
    finally:
        for command in undo:
            subprocess.run(command, check=False)
        if os.geteuid() != 0:
            os.chmod(path.parent, 0o755)
            for f in files:
                os.chmod(f, 0o644)
    assert {f: f.read_bytes() for f in files} == before


def test_a_name_typed_as_patient_is_not_echoed(crs) -> None:  # type: ignore[no-untyped-def]
    plain, body = _both(crs, "open", "--patient", "Jane Doe", "--weight-kg", "70", "--age-years", "40")
    assert plain.code == 2 and "Jane" not in plain.stderr and "Jane" not in body["message"]


def test_a_bad_actor_names_the_option_and_its_variable_in_one_sentence(crs) -> None:  # type: ignore[no-untyped-def]
    for ran in (crs("list", env={"CRS_ACTOR": "bad\x01name"}), crs("--actor", "bad\x02name", "list")):
        assert ran.code == 2
        assert ran.stderr.startswith("crs: Invalid value for --actor (or CRS_ACTOR): the text contains"), ran.stderr
        assert one_sentence(ran.stderr) and "'" not in ran.stderr
