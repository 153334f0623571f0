"""Extreme but valid times never end in exit 70 (CONTRACT "Exit codes", "Time"; HAZARDS H21).

The edge refuses a time outside the clinical range (1900-01-01 to 2200-01-01 UTC: pathway/clock.py
EARLIEST_TIME, LATEST_TIME) with one sentence, exit 2. What is already on record is read whatever its
time: an older crs accepted any year, so an episode opened at 0001-01-01 must still report, show its
status and history, and verify; a policy interval too long for a datetime saturates (a deadline that
never arrives) instead of overflowing.
"""

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import cli
from cli.app import app
from pathway.errors import Refused
from persistence.store import Store
from tests.cli.conftest import ACTOR, Ran, one_sentence
from tests.support import steps

UTC = timezone.utc
CHECKOUT = Path(cli.__file__).resolve().parents[1]
#: The range sentence every refused extreme time ends with.
RANGE = "is outside the clinical time range crs accepts: give a time from 1900-01-01 to 2200-01-01 (UTC)"
#: The previous release, checked out (read-only) for the tests that need an episode only it could write.
PREVIOUS = Path(os.environ.get("CRS_PREVIOUS_CHECKOUT", "/tmp/prev"))
PREVIOUS_COMMIT = "7a35703"  # the release before issue 11


def crs_process(db_url: str, *args: str, cwd: Path = CHECKOUT) -> Ran:
    """`python -m cli ARGS` as its own process, from the checkout `cwd` (the current one by default)."""
    env = {**os.environ, "CRS_DB": db_url, "CRS_ACTOR": ACTOR, "NO_COLOR": "1", "TZ": "UTC"}
    done = subprocess.run([sys.executable, "-m", "cli", *args], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=120)
    return Ran(done.returncode, done.stdout, done.stderr)


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    opened = Store.open(db_url)
    yield opened
    opened.close()


def treated(store: Store, at: datetime) -> str:
    """An episode opened at `at`: CRS 2, tocilizumab, labs, CRS 3, dexamethasone, a refused second
    tocilizumab dose (a refusal row), all within the first hour, each decided a minute after its time."""
    episode = steps.open_episode(store, at=at, patient_ref="EDGE-1")
    steps.observe(store, episode, at)
    steps.give(store, episode, at + timedelta(minutes=5))
    steps.act(store, episode, at + timedelta(minutes=10))
    steps.observe(store, episode, at + timedelta(minutes=20), temp_c=39.0, o2_device="hfnc", o2_flow_lpm=40)
    steps.give(store, episode, at + timedelta(minutes=25), drug="dexamethasone", dose_mg=10)
    with pytest.raises(Refused):
        steps.give(store, episode, at + timedelta(minutes=30))
    return episode


#: What QA runs on an episode on record: each must answer (exit 0), whatever the episode's times.
READS = [["audit", "report", "{e}"], ["audit", "report", "{e}", "--format", "html"],
         ["audit", "report", "{e}", "--format", "json"], ["status", "{e}"], ["status", "{e}", "--json"],
         ["history", "{e}"], ["audit", "verify"], ["audit", "verify", "{e}"], ["audit", "refusals", "{e}"],
         ["list"]]


def assert_reads(run: Callable[..., Ran], episode: str) -> None:
    for args in READS:
        ran = run(*[a.format(e=episode) for a in args])
        assert ran.code == 0, (args, ran.code, ran.stderr)


# -- the edge ------------------------------------------------------------------------------------

def test_status_as_of_9999_12_31_is_invalid_input_not_exit_70(store: Store, db_url: str) -> None:
    """The quoted bug: `crs status E --as-of 9999-12-31T23:59:59Z` exited 70 (an overflow adding the
    5-minute TIME_FUTURE tolerance to the as-of time). Now: exit 2, one sentence naming the range."""
    episode = treated(store, datetime(2026, 3, 1, 10, 0, tzinfo=UTC))
    ran = crs_process(db_url, "status", episode, "--as-of", "9999-12-31T23:59:59Z")
    assert ran.code == 2, (ran.code, ran.stderr)
    assert one_sentence(ran.stderr) and f"--as-of: '9999-12-31T23:59:59Z' {RANGE}" in ran.stderr


@pytest.mark.parametrize("at", ["0001-01-01T00:00:00Z", "0001-01-01", "0001-01-01T00:00:00+14:00",
                                "1899-12-31T23:59:59Z", "2200-01-01T00:00:01Z", "9999-12-31T23:59:59Z",
                                "9999-12-31T23:59:59.999999-14:00", "9999-12-31"])
def test_at_and_as_of_outside_the_clinical_range_are_exit_2(crs: Callable[..., Ran], at: str) -> None:
    opened = crs("open", "--patient", "EDGE-2", "--weight-kg", "70", "--age-years", "40", "--at",
                 "2026-03-01T10:00:00Z", "--json")
    episode = opened.json["episode"]
    for args in (["open", "--patient", "EDGE-3", "--weight-kg", "70", "--age-years", "40"],
                 ["observe", episode, "--temp", "38"], ["give", episode, "tocilizumab", "--dose-mg", "560"],
                 ["act", episode, "labs"], ["resolve", episode], ["close", episode]):
        ran = crs(*args, "--at", at)
        assert ran.code == 2 and one_sentence(ran.stderr) and RANGE in ran.stderr, (args, ran.code, ran.stderr)
    for args in (["status", episode, "--as-of", at], ["list", "--due", "--at", at]):
        ran = crs(*args)
        assert ran.code == 2 and RANGE in ran.stderr, (args, ran.code, ran.stderr)
    assert len(crs("history", episode, "--json").json["events"]) == 1  # nothing written


def test_the_edges_of_the_clinical_range_are_accepted(crs: Callable[..., Ran]) -> None:
    """1900-01-01T00:00Z opens an episode (a time that far back is on the edge, not beyond it); 2200-01-01 is
    the last --as-of, and as a step's time it is refused by the pathway's own rule (TIME_FUTURE, exit 1)."""
    opened = crs("open", "--patient", "EDGE-4", "--weight-kg", "70", "--age-years", "40", "--at",
                 "1900-01-01T00:00:00Z", "--json")
    assert opened.code == 0 and opened.json["opened_at"] == "1900-01-01T00:00:00Z", opened.stderr
    episode = opened.json["episode"]
    assert crs("status", episode, "--as-of", "2200-01-01T00:00:00Z").code == 0
    assert crs("status", episode, "--as-of", "1900-01-01T00:00:00Z").code == 0
    assert crs("list", "--due", "--at", "2200-01-01T00:00:00Z").code == 0
    future = crs("observe", episode, "--temp", "38", "--at", "2200-01-01T00:00:00Z", "--json")
    assert future.code == 1 and future.json["rule"] == "TIME_FUTURE"
    assert_reads(crs, episode)


# -- what is already on record -------------------------------------------------------------------

def test_report_on_an_episode_opened_at_0001_01_01_is_not_exit_70(store: Store, crs: Callable[..., Ran]) -> None:
    """The quoted bug: `crs audit report` on an episode opened at 0001-01-01 exited 70 (the 24-hour dose
    window reached before year 1). Such an episode was written by an older crs, whose edge took any year;
    the core below the edge still takes it, so it is made here through the service directly."""
    episode = treated(store, datetime(1, 1, 1, tzinfo=UTC))
    assert_reads(crs, episode)
    report = crs("audit", "report", episode, "--format", "json")
    assert report.json["opened_at"] == "0001-01-01T00:00:00Z"
    assert [row["total_24h_mg"] for row in report.json["doses"]] == [560.0, 10.0]
    assert crs("status", episode, "--as-of", "1900-01-01T00:00:00Z").code == 0  # as of a time the edge takes


def test_list_due_with_an_episode_opened_at_0001_01_01_is_not_exit_70(store: Store, crs: Callable[..., Ran]) -> None:
    """`list --due` re-reads the due times crs itself printed; an 0001-01-01 one is on record, not typed at the
    edge, so it must not meet the edge's range (cli/commands/queries.py reads it with values.stored_time)."""
    episode = treated(store, datetime(1, 1, 1, tzinfo=UTC))
    ran = crs("list", "--due", "--json")
    assert ran.code == 0, ran.stderr
    assert [row["episode"] for row in ran.json["episodes"]] == [episode]


def test_html_report_of_an_episode_open_for_years_is_not_exit_70(store: Store, crs: Callable[..., Ran]) -> None:
    """The SVG timeline picked its tick step from a fixed list and raised StopIteration (exit 70) for any
    episode spanning more than 300 days: here one opened at 0001-01-01 (a typo'd year) and then charted in
    2026, and one left open for 400 days."""
    for opened_at in (datetime(1, 1, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC)):
        episode = steps.open_episode(store, at=opened_at, patient_ref="EDGE-5")
        steps.observe(store, episode, datetime(2026, 2, 5, 10, 0, tzinfo=UTC))
        steps.give(store, episode, datetime(2026, 2, 5, 10, 5, tzinfo=UTC))
        ran = crs("audit", "report", episode, "--format", "html")
        assert ran.code == 0, ran.stderr
        assert 3 <= ran.stdout.count('class="tick" text-anchor="middle">+') <= 11  # a readable number of ticks
        assert_reads(crs, episode)


@pytest.fixture(scope="module")
def previous_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The previous release's tree: CRS_PREVIOUS_CHECKOUT if given, else PREVIOUS_COMMIT taken out of this
    repository's own history with `git archive` (a fresh clone has it), so the test runs in CI too."""
    if "CRS_PREVIOUS_CHECKOUT" in os.environ or (PREVIOUS / "cli" / "__main__.py").is_file():
        if not (PREVIOUS / "cli" / "__main__.py").is_file():
            pytest.skip(f"no previous release checked out at {PREVIOUS}")
        return PREVIOUS
    target = tmp_path_factory.mktemp("previous-release")
    archive = subprocess.run(["git", "-C", str(CHECKOUT), "archive", PREVIOUS_COMMIT], capture_output=True,
                             timeout=120)
    if archive.returncode != 0:
        pytest.skip(f"the previous release {PREVIOUS_COMMIT} is not in this repository's history")
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True, timeout=120)
    return target


def test_an_episode_the_previous_release_opened_at_0001_01_01_still_reads(db_url: str, crs: Callable[..., Ran],
                                                                          previous_release: Path) -> None:
    """Made by the previous release itself (`python -m cli` from its checkout), then read by today's crs
    (after `crs upgrade` if the schema moved on): report, status, history, verify, refusals, list."""
    previous = previous_release
    opened = crs_process(db_url, "--json", "open", "--patient", "OLD-1", "--weight-kg", "70", "--age-years", "50",
                         "--at", "0001-01-01T00:00:00Z", cwd=previous)
    assert opened.code == 0, opened.stderr
    episode = opened.json["episode"]
    for args, code in ((["observe", episode, "--temp", "38.6", "--o2", "nasal-cannula", "--o2-flow", "4", "--ice",
                         "10", "--consciousness", "awake", "--at", "0001-01-01T00:00:00Z"], 0),
                       (["give", episode, "tocilizumab", "--dose-mg", "560", "--at", "0001-01-01T00:05:00Z"], 0),
                       (["give", episode, "tocilizumab", "--dose-mg", "560", "--at", "0001-01-01T01:00:00Z"], 1),
                       (["observe", episode, "--temp", "38.6", "--o2", "room-air", "--at", "2026-03-01T10:00:00Z"], 0)):
        assert crs_process(db_url, *args, cwd=previous).code == code, args
    assert crs_process(db_url, "upgrade").code == 0
    assert_reads(crs, episode)


# -- policy intervals too long for a datetime ------------------------------------------------------

def test_a_policy_interval_too_long_for_a_datetime_saturates_not_exit_70(tmp_path: Path,
                                                                         crs: Callable[..., Ran]) -> None:
    """A site policy with `toci_min_interval_h = 1e12` (validation bounds it below only) made every status
    after a tocilizumab dose exit 70. The deadline now saturates at the last representable instant: the repeat
    dose is never allowed (TOCI_MIN_INTERVAL, exit 1), never "no deadline". If validation ever bounds the
    interval above, the policy is refused at the edge instead (exit 2): either is an answer, never 70."""
    default = (CHECKOUT / "pathway" / "policies" / "default.toml").read_text(encoding="utf-8")
    lines = [("toci_min_interval_h = 1e12" if line.startswith("toci_min_interval_h") else
              "resolution_window_h = 1e300" if line.startswith("resolution_window_h") else
              'name = "edge-long"' if line.startswith("name =") else line) for line in default.splitlines()]
    policy = tmp_path / "edge-long.toml"
    policy.write_text("\n".join(lines) + "\n", encoding="utf-8")
    opened = crs("open", "--patient", "EDGE-6", "--weight-kg", "70", "--age-years", "40", "--policy", str(policy),
                 "--at", "2026-03-01T10:00:00Z", "--json")
    if opened.code == 2:
        assert "toci_min_interval_h" in opened.json["message"] or "resolution_window_h" in opened.json["message"]
        return
    assert opened.code == 0, opened.stdout
    episode = opened.json["episode"]
    assert crs("observe", episode, "--temp", "38.6", "--o2", "nasal-cannula", "--o2-flow", "4", "--ice", "10",
               "--consciousness", "awake", "--at", "2026-03-01T10:30:00Z").code == 0
    assert crs("give", episode, "tocilizumab", "--dose-mg", "560", "--at", "2026-03-01T10:35:00Z").code == 0
    status = crs("status", episode, "--json")
    assert status.code == 0, status.stdout
    assert status.json["next_tocilizumab_at"] == "9999-12-31T23:59:59.999999Z"
    again = crs("give", episode, "tocilizumab", "--dose-mg", "560", "--at", "2026-03-02T10:35:00Z", "--json")
    assert again.code == 1 and again.json["rule"] == "TOCI_MIN_INTERVAL", again.stdout
    assert_reads(crs, episode)


# -- the whole representable range ---------------------------------------------------------------

@pytest.fixture(scope="module")
def one_episode(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """One real SQLite file with a treated episode (doses, timers, a refusal) for the property below."""
    url = f"sqlite:///{tmp_path_factory.mktemp('extreme') / 'crs.db'}"
    store = Store.open(url)
    try:
        return url, treated(store, datetime(2026, 3, 1, 10, 0, tzinfo=UTC))
    finally:
        store.close()


OFFSETS = st.none() | st.builds(timezone, st.integers(-86_340, 86_340).map(lambda s: timedelta(seconds=s)))


@settings(max_examples=60)
@given(moment=st.datetimes(min_value=datetime.min, max_value=datetime.max, timezones=OFFSETS))
@example(moment=datetime.max.replace(tzinfo=UTC))
@example(moment=datetime.min.replace(tzinfo=UTC))
@example(moment=datetime(9999, 12, 31, 23, 59, 59))
@example(moment=datetime(1, 1, 1))
@example(moment=datetime(2200, 1, 1, tzinfo=UTC))
@example(moment=datetime(1900, 1, 1, tzinfo=UTC))
def test_status_as_of_any_representable_time_is_never_exit_70(one_episode: tuple[str, str],
                                                              moment: datetime) -> None:
    url, episode = one_episode
    runner = CliRunner()
    for args in (["status", episode, "--as-of", moment.isoformat(), "--json"],
                 ["list", "--due", "--at", moment.isoformat(), "--json"]):
        result = runner.invoke(app, args, env={"CRS_DB": url, "CRS_ACTOR": ACTOR, "NO_COLOR": "1"})
        body: Any = result.stdout
        assert result.exit_code in (0, 2, 4), (args, result.exit_code, body)
        if result.exit_code == 2:  # outside the range (or, naive, a time this machine's zone repeats or skips)
            assert RANGE in body or "offset" in body, body
        if result.exit_code == 4:  # as of a time before the episode was opened
            assert args[0] == "status" and "had not been opened" in body, body
