"""Malformed values for every option: exit 2, exactly one sentence (or one JSON object), no traceback,
and a byte-identical database (CONTRACT.md: invalid input writes nothing).

Values come from independent descriptions of "malformed" (out of range, wrong type, unknown name,
unprintable or over-long text, not an ISO time), not from the parsers under test.
"""

import json
import math
import re
import tempfile
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cli.app import app
from tests.cli.conftest import ACTOR, iso, one_sentence, recent_t0

RESERVED = {"-h", "--help", "--json", "--version"}  # values the parser would read as these flags
UNPRINTABLE = st.characters(categories=["Cc", "Cf", "Co", "Cs"])
WORD = st.text(alphabet=st.characters(categories=["Lu", "Ll", "Nd"]), min_size=1, max_size=12)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _is_time(text: str) -> bool:
    try:
        datetime.fromisoformat(text.strip())
    except ValueError:
        return False
    return True


def numbers(low: float, high: float, *, integer: bool = False, low_open: bool = False) -> st.SearchStrategy[str]:
    below = st.floats(max_value=low, exclude_max=not low_open, allow_nan=False)
    above = st.floats(min_value=high, exclude_min=True, allow_nan=False)
    out_of_range = st.one_of(below, above).map(lambda x: repr(x) if math.isfinite(x) else str(x))
    parts = [out_of_range, st.sampled_from(["nan", "inf", "-inf", "NaN", "1e999", "9" * 400]),
             st.text(min_size=0, max_size=30).filter(lambda s: not _is_number(s)),
             st.text(min_size=1001, max_size=1500)]
    if integer:
        parts.append(st.floats(min_value=low + 0.01, max_value=high - 0.01).filter(lambda x: x != int(x)).map(repr))
    return st.one_of(*parts)


def choices(valid: tuple[str, ...]) -> st.SearchStrategy[str]:
    """Not one of `valid` however spelled (every vocabulary is case-insensitive, `_` and `-` alike: issue 13)."""
    from cli.values import vocabulary_key

    keys = {vocabulary_key(v) for v in valid}
    near = [v[:-1] for v in valid] + [v + "x" for v in valid] + [v.replace("e", "é") for v in valid]
    return st.one_of(st.text(max_size=30), st.sampled_from(near + ["x" * 600])).filter(
        lambda s: vocabulary_key(s) not in keys)


def names_any_case(valid: tuple[str, ...]) -> st.SearchStrategy[str]:
    """Not one of `valid` even with case and surrounding blanks ignored (drug names are case-insensitive)."""
    near = [v[:-1] for v in valid] + [v + "x" for v in valid] + [v.replace("a", "á") for v in valid]
    return st.one_of(st.text(max_size=30), st.sampled_from(near + ["x" * 600])).filter(
        lambda s: s.strip().lower() not in valid)


def capd_values() -> st.SearchStrategy[str]:
    """Not a CAPD total 0–32 and not `unable` (any case)."""
    words = st.sampled_from(["unabel", "unable!", "un able", "none", "n/a", "32.0", "8.5", "-0.5", "+-1", "0x10"])
    return st.one_of(numbers(0, 32, integer=True), words).filter(lambda s: s.strip().lower() != "unable")


def texts(limit: int) -> st.SearchStrategy[str]:
    with_control = st.builds(lambda a, c, b: a + c + b, WORD, UNPRINTABLE, WORD)
    too_long = st.text(alphabet="abcdefghij ", min_size=limit + 1, max_size=limit + 400).filter(
        lambda s: len(s.strip()) > limit)
    blank = st.sampled_from(["", " ", "   \t "])
    return st.one_of(with_control, too_long, blank)


def times() -> st.SearchStrategy[str]:
    return st.one_of(st.text(max_size=40), st.sampled_from(
        ["yesterday", "2026-02-30T10:00:00Z", "2026-13-01", "25:00", "1700000000", "2026-03-01T10:00:00+25:00",
         "2026/03/01 10:00", "2026-03-01T10:00:00ZZ", "9" * 300])).filter(lambda s: not _is_time(s))


def not_matching(pattern: str, limit: int) -> st.SearchStrategy[str]:
    compiled = re.compile(pattern)
    return st.one_of(st.text(max_size=40), st.text(min_size=limit + 1, max_size=limit + 50),
                     st.sampled_from(["Jane Doe", "-x", "ü", "a b"])).filter(
        lambda s: len(s.strip()) > limit or not compiled.fullmatch(s.strip()))


def seqs() -> st.SearchStrategy[str]:
    """Not an event seq (a whole number from 1, as `crs history` prints it)."""
    return st.one_of(st.sampled_from(["0", "000", "-3", "1.5", "1e3", "9999999999", "seq2", "#2", "²"]),
                     st.text(max_size=12)).filter(lambda s: not re.fullmatch(r"[0-9]{1,9}", s.strip())
                                                  or int(s) < 1)


def not_earlier() -> st.SearchStrategy[str]:
    """A valid time not before the fixture episodes' latest event (now - 90 min) and not in the future:
    `--late` there is invalid input (a late entry is earlier than the latest event)."""
    return st.integers(min_value=0, max_value=85).map(lambda m: iso(recent_t0(0) - timedelta(minutes=m)))


O2 = ("room-air", "nasal-cannula", "blow-by", "hfnc", "facemask", "non-rebreather", "venturi", "cpap", "bipap",
      "ventilator")
DRUGS = ("tocilizumab", "dexamethasone", "methylprednisolone", "anakinra", "siltuximab", "ruxolitinib",
         "cyclophosphamide")
ACTIONS = ("icu-transfer", "infection-workup", "antibiotics", "antifungal-prophylaxis", "telemetry", "labs",
           "echocardiogram", "fluid-bolus", "aspiration-precautions", "neurology-consult", "neuroimaging", "eeg",
           "antiseizure")
STATES = ("assessment", "tocilizumab", "steroid", "escalated_steroid", "refractory", "resolved", "closed")
OPEN = ["open", "--patient", "P-1", "--weight-kg", "70", "--age-years", "40"]
EPISODE_ID = r"[A-Za-z0-9][A-Za-z0-9_-]*"
UNSET = ("route", "note", "temp", "hypotension", "vasopressors", "vasopressin", "o2", "o2-flow", "fio2", "ice", "capd",
         "consciousness", "seizure", "motor-weakness", "cerebral-edema")  # what `crs correct --unset` takes

#: (argv before the value, the option (None: the value is positional), strategy, argv after)
CASES: list[tuple[list[str], str | None, st.SearchStrategy[str], list[str]]] = [
    (OPEN, "--weight-kg", numbers(0.5, 350), []),
    (OPEN, "--age-years", numbers(0, 120), []),
    (["open", "--weight-kg", "70", "--age-years", "40"], "--patient", not_matching(r"[A-Za-z0-9][A-Za-z0-9_.:/-]*", 64), []),
    (OPEN, "--context", texts(500), []),
    (OPEN, "--policy", st.text(max_size=40).filter(lambda s: s.strip() != "default" and not Path(s.strip()).is_file()), []),
    (OPEN, "--at", times(), []),
    (["observe", "{E}"], "--temp", numbers(30, 45), []),
    (["observe", "{E}"], "--vasopressors", numbers(0, 6, integer=True), []),
    (["observe", "{E}"], "--o2", choices(O2), []),
    (["observe", "{E}", "--o2", "hfnc"], "--o2-flow", numbers(0, 80), []),
    (["observe", "{E}", "--o2", "hfnc"], "--fio2", numbers(0.21, 1.0), []),
    (["observe", "{E}"], "--ice", numbers(0, 10, integer=True), []),
    (["observe", "{C}"], "--capd", capd_values(), []),
    (["observe", "{E}"], "--capd", st.sampled_from(["0", "8", "9", "32", "unable", "UNABLE"]), []),  # adult: --ice
    (["observe", "{C}"], "--ice", st.sampled_from(["0", "7", "10"]), []),  # a child under 12: --capd
    (["observe", "{C}", "--capd", "3"], "--ice", st.sampled_from(["0", "10"]), []),  # both screens at once
    (["observe", "{E}"], "--consciousness", choices(("awake", "voice", "touch", "unarousable")), []),
    (["observe", "{E}"], "--seizure", choices(("none", "brief", "prolonged")), []),
    (["observe", "{E}"], "--cerebral-edema", choices(("none", "focal", "diffuse")), []),
    (["observe", "{E}"], "--at", times(), []),
    (["observe", "{E}", "--hypotension"], None, WORD, []),  # a flag takes no value: a stray argument
    (["observe", "{E}", "--vasopressin"], None, WORD, []),
    (["observe", "{E}", "--motor-weakness"], None, WORD, []),
    (["observe"], None, not_matching(EPISODE_ID, 64), ["--temp", "37"]),
    (["give", "{E}"], None, names_any_case(DRUGS), ["--dose-mg", "10"]),
    (["give", "{E}", "dexamethasone"], "--dose-mg", numbers(0.1, 10_000), []),  # below 0.1 mg is a typo
    (["give", "{E}", "dexamethasone", "--dose-mg", "10"], "--route", choices(("iv", "sc", "po")), []),
    (["give", "{E}", "dexamethasone", "--dose-mg", "10"], "--override", texts(500), []),
    (["give", "{E}", "dexamethasone", "--dose-mg", "10"], "--at", times(), []),
    (["act", "{E}"], None, choices(ACTIONS), []),
    (["act", "{E}", "labs"], "--note", texts(500), []),
    (["act", "{E}", "labs"], "--at", times(), []),
    (["resolve", "{E}"], "--override", texts(500), []),
    (["resolve", "{E}"], "--at", times(), []),
    (["close", "{E}"], "--reason", texts(500), []),
    (["close", "{E}"], "--at", times(), []),
    (["status", "{E}"], "--as-of", times(), []),
    (["status"], None, not_matching(EPISODE_ID, 64), []),
    (["history"], None, not_matching(EPISODE_ID, 64), []),
    (["list"], "--state", choices(STATES), []),
    (["list", "--due"], "--at", times(), []),
    (["audit", "report", "{E}"], "--format", choices(("md", "html", "json")), []),
    (["audit", "report", "{E}", "--out"], None, st.builds(lambda w: f"/nonexistent-{w}/report.md", WORD), []),
    (["audit", "verify", "--digest"], None, st.builds(lambda w: f"/nonexistent-{w}/digest.json", WORD), []),
    (["pathway"], "--format", choices(("table", "mermaid", "json")), []),
    ([], "--actor", texts(64), ["list"]),
    ([], "--db", st.text(max_size=60).filter(lambda s: not s.startswith(("sqlite", "postgres"))), ["list"]),
    (["observe", "{E}"], None, st.builds(lambda w: f"--{w.lower()}x", WORD), []),  # unknown option
    # late entries and their overrides (issue 10)
    (["observe", "{E}", "--temp", "37"], "--late", texts(500), []),
    (["observe", "{E}", "--temp", "37"], "--override", texts(500), []),
    (["observe", "{E}", "--temp", "37"], "--note", texts(500), []),
    (["give", "{E}", "dexamethasone", "--dose-mg", "10"], "--late", texts(500), []),
    (["act", "{E}", "labs"], "--late", texts(500), []),
    (["act", "{E}", "labs"], "--override", texts(500), []),
    (["act", "{E}", "labs"], "--late", WORD, []),  # late without --at: now is not earlier than the latest event
    (["act", "{E}", "labs", "--late", "charted late"], "--at", not_earlier(), []),
    # corrections and voids: malformed values, and well-formed ones that cannot make a correction
    (["correct", "{E}"], None, seqs(), ["--reason", "typo", "--temp", "37"]),
    (["correct", "{E}", "2", "--temp", "37"], "--reason", texts(500), []),
    (["correct", "{E}", "2"], "--reason", WORD, []),  # no corrected value at all
    (["correct", "{E}", "2", "--reason", "typo"], "--temp", numbers(30, 45), []),
    (["correct", "{E}", "2", "--reason", "typo"], "--vasopressors", numbers(0, 6, integer=True), []),
    (["correct", "{E}", "2", "--reason", "typo"], "--o2", choices(O2), []),
    (["correct", "{E}", "2", "--reason", "typo", "--o2", "hfnc"], "--o2-flow", numbers(0, 80), []),
    (["correct", "{E}", "2", "--reason", "typo", "--o2", "hfnc"], "--fio2", numbers(0.21, 1.0), []),
    (["correct", "{E}", "2", "--reason", "typo"], "--ice", numbers(0, 10, integer=True), []),
    (["correct", "{C}", "2", "--reason", "typo"], "--capd", capd_values(), []),
    (["correct", "{C}", "2", "--reason", "typo"], "--ice", st.sampled_from(["0", "7", "10"]), []),  # a child: CAPD
    (["correct", "{E}", "2", "--reason", "typo"], "--consciousness", choices(("awake", "voice", "touch",
                                                                               "unarousable")), []),
    (["correct", "{E}", "2", "--reason", "typo"], "--seizure", choices(("none", "brief", "prolonged")), []),
    (["correct", "{E}", "2", "--reason", "typo"], "--cerebral-edema", choices(("none", "focal", "diffuse")), []),
    (["correct", "{E}", "2", "--reason", "typo"], "--drug", names_any_case(DRUGS), []),
    (["correct", "{E}", "2", "--reason", "typo"], "--dose-mg", numbers(0.1, 10_000), []),
    (["correct", "{E}", "2", "--reason", "typo"], "--dose-mg", st.sampled_from(["1", "560"]), []),  # not a give
    (["correct", "{E}", "2", "--reason", "typo"], "--route", choices(("iv", "sc", "po")), []),
    (["correct", "{E}", "2", "--reason", "typo"], "--action", choices(ACTIONS), []),
    (["correct", "{E}", "2", "--reason", "typo"], "--note", texts(500), []),
    (["correct", "{E}", "2", "--reason", "typo"], "--unset", st.text(max_size=30).filter(
        lambda s: s.strip().removeprefix("--") not in UNSET), []),
    (["correct", "{E}", "2", "--reason", "typo"], "--unset", st.sampled_from(["o2", "motor-weakness", "ice", "fio2"]),
     []),  # removes only what was not recorded (the observation has a temperature alone): changes nothing
    (["correct", "{E}", "2", "--reason", "typo", "--temp", "38"], "--unset", st.sampled_from(["temp", "--temp"]),
     []),  # one input both corrected and removed
    (["correct", "{E}", "2", "--reason", "typo", "--temp", "37"], "--override", texts(500), []),
    (["correct", "{E}", "2", "--reason", "typo", "--temp"], None, st.sampled_from(["37"]), ["--dose-mg", "10"]),
    (["void", "{E}"], None, seqs(), ["--reason", "typo"]),
    (["void", "{E}", "2"], "--reason", texts(500), []),
    (["void", "{E}", "2", "--reason", "typo"], "--override", texts(500), []),
    ([], None, st.builds(lambda w: f"{w.lower()}x", WORD), []),  # unknown command
]


@pytest.fixture(scope="module")
def database() -> Iterator[tuple[str, dict[str, str], Path]]:
    """One real SQLite file with an adult's episode ({E}) and a 4-year-old's ({C}), shared by every example
    (it must never change)."""
    with tempfile.TemporaryDirectory(prefix="crs-fuzz-") as folder:
        url = f"sqlite:///{Path(folder) / 'crs.db'}"
        runner = CliRunner()
        env = {"CRS_DB": url, "CRS_ACTOR": ACTOR}
        episodes = {}
        child = ["open", "--patient", "P-2", "--weight-kg", "16", "--age-years", "4"]
        for name, argv in (("{E}", OPEN), ("{C}", child)):
            opened = runner.invoke(app, argv + ["--at", iso(recent_t0(2)), "--json"], env=env)
            assert opened.exit_code == 0, opened.output
            episodes[name] = json.loads(opened.stdout)["episode"]
            observed = runner.invoke(app, ["observe", episodes[name], "--temp", "38.5", "--at",
                                           iso(recent_t0(2) + timedelta(minutes=30))], env=env)
            assert observed.exit_code == 0, observed.output
        yield url, episodes, Path(folder)


def _files(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


@settings(max_examples=700, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(data=st.data())
def test_malformed_values_exit_2_with_one_sentence_and_write_nothing(database: Any, data: st.DataObject) -> None:
    url, episodes, folder = database
    before, value_case = _files(folder), data.draw(st.sampled_from(range(len(CASES))), label="case")
    head, option, strategy, tail = CASES[value_case]
    value = data.draw(strategy.filter(lambda v: v not in RESERVED and "Traceback" not in v), label="value")
    argv = [episodes.get(part, part) for part in head] + ([option] if option else []) + [value] + tail
    as_json = data.draw(st.booleans(), label="--json")
    result = CliRunner().invoke(app, argv + (["--json"] if as_json else []), env={"CRS_DB": url, "CRS_ACTOR": ACTOR})
    shown = f"argv={argv!r} exit={result.exit_code} stdout={result.stdout!r} stderr={result.stderr!r}"
    assert result.exit_code == 2, shown
    if as_json:
        assert result.stderr == "" and len(result.stdout.strip().splitlines()) == 1, shown
        body = json.loads(result.stdout)
        assert body["error"] == "invalid" and one_sentence(body["message"]), shown
    else:
        assert result.stdout == "" and one_sentence(result.stderr), shown
    assert _files(folder) == before, f"the database changed: {shown}"


def test_the_database_check_can_fail(database: Any) -> None:
    """A valid step on the same file does change it: the byte comparison above has teeth."""
    url, episodes, folder = database
    before = _files(folder)
    ran = CliRunner().invoke(app, ["act", episodes["{E}"], "labs", "--at", iso(recent_t0(0))], env={"CRS_DB": url})
    assert ran.exit_code == 0, ran.output
    assert _files(folder) != before
