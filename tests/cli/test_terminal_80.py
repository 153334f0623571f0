"""The bedside terminal at 80 columns (issue 13): every human view rendered at 80 columns and read as a nurse would.

The seed-000 episode (crs demo) is recorded through the real app at times relative to now, then each view is
rendered with COLUMNS=80 (what a pipe gets by default too) and checked: no line wider than the terminal, no word
or identifier split across lines, `status` on one 80x24 screen with what is overdue first, the inputs in clinical
words, and `--full` / `--wide` for everything else.
"""

import re
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from cli.commands.demo import SEED_000, command_line
from pathway.drugs import Action
from pathway.rules import RULES
from tests.cli.conftest import Ran, recent_t0

W80 = {"COLUMNS": "80"}
SCREEN_LINES = 23  # 24 rows less the shell prompt


@pytest.fixture
def seed000(crs: Callable[..., Ran]) -> tuple[str, datetime]:
    """The seed-000 episode, each step as `crs demo` types it; its id and T0 (26 h ago)."""
    import shlex

    t0 = recent_t0(26)
    episode = ""
    for item in SEED_000:
        argv = shlex.split(command_line(item, episode or "X", t0 + timedelta(hours=item.hours)))[1:]
        ran = crs(*argv, "--json")
        assert ran.code == (0 if item.expect == "accepted" else 1), (argv, ran.stdout, ran.stderr)
        if item.verb == "open":
            episode = ran.json["episode"]
    return episode, t0


def lines_of(ran: Ran) -> list[str]:
    assert ran.code == 0, ran.stderr
    return [line.rstrip() for line in ran.stdout.splitlines()]


def assert_fits(lines: list[str], width: int = 80) -> None:
    wide = [line for line in lines if len(line) > width]
    assert not wide, f"{len(wide)} line(s) wider than {width}: {wide[:3]}"


def test_status_fits_one_80_by_24_screen_with_what_is_overdue_first(crs: Callable[..., Ran],
                                                                      seed000: tuple[str, datetime]) -> None:
    episode, _ = seed000
    shown = lines_of(crs("status", episode, env=W80))
    assert_fits(shown)
    assert len(shown) <= SCREEN_LINES, "\n".join(shown)
    steps = [line for line in shown if re.match(r"^\s*\d+\. ", line)]
    assert steps[0].lstrip().startswith("1. assess now: ICE score"), steps  # what to measure now, first
    assert "reassess now: OVERDUE" in steps[1], steps  # then what is overdue, before the routine steps
    assert any("act antifungal-prophylaxis" in line for line in steps)  # the word a nurse types, whole
    text = "\n".join(shown)
    assert "38.8 °C" in text and "high-flow nasal cannula 50 L/min" in text and "FiO2 40 %" in text
    assert "temp_c" not in text and "o2_flow_lpm" not in text
    assert "ICANS not assessed" in text and "missing: ICE score" in text  # never shown as normal
    assert "Decision support" in text


def test_status_full_has_every_reason_and_source(crs: Callable[..., Ran], seed000: tuple[str, datetime]) -> None:
    episode, _ = seed000
    text = " ".join(crs("status", episode, "--full", env={"COLUMNS": "400"}).stdout.split())
    assert "SUPPORT_INFECTION_WORKUP" in text and "ASCO-2021" in text and "NCCN-2026" in text
    assert "daily labs (CBC, CMP, Mg, phosphate, CRP, LDH, ferritin, fibrinogen, PT/PTT)" in text


def test_a_cut_reason_never_leaves_a_number_without_its_unit() -> None:
    from cli.views import fit

    assert fit("next dose: methylprednisolone 1000 mg/day IV for 3 days, then taper", 36) == \
        "next dose: methylprednisolone…"
    assert fit("short enough", 80) == "short enough"


@pytest.mark.parametrize("argv", [["history", "{E}"], ["list"], ["list", "--due"], ["audit", "refusals"],
                                  ["status", "{E}"], ["status", "{E}", "--full"], ["info"], ["pathway"]])
def test_every_view_fits_80_columns_without_splitting_an_identifier(argv: list[str], crs: Callable[..., Ran],
                                                                    seed000: tuple[str, datetime]) -> None:
    episode, _ = seed000
    shown = lines_of(crs(*(a.replace("{E}", episode) for a in argv), env=W80))
    assert_fits(shown)
    text = "\n".join(shown)
    identifiers = [r for r in RULES if r in text.replace("\n", " ")] + [a.value for a in Action]
    for line, following in zip(shown, shown[1:]):
        for name in identifiers:
            for k in range(1, len(name)):
                assert not (line.rstrip().endswith(name[:k]) and following.lstrip().startswith(name[k:])), \
                    f"{name} split across lines:\n{line}\n{following}"


def test_history_at_80_columns_shows_kind_state_and_details_and_wide_shows_the_rest(
        crs: Callable[..., Ran], seed000: tuple[str, datetime]) -> None:
    episode, _ = seed000
    text = "\n".join(lines_of(crs("history", episode, env=W80)))
    for needed in ("open", "give", "observe", "→ tocilizumab", "→ escalated_steroid", "anakinra 100 mg iv",
                   "DEVIATION REFRACTORY_ORDER", "39.4 °C", "nurse-a"):
        assert needed in text, needed
    hashes = [event["hash"][:12] for event in crs("history", episode, "--json").json["events"]]
    assert not any(h in text for h in hashes)  # the hash is a --wide column
    wide = lines_of(crs("history", episode, "--wide", env=W80))
    assert all(any(h in line for line in wide) for h in hashes)
    assert any("recorded" in line and "actor" in line for line in wide)


def test_refusals_at_80_columns_take_a_few_lines_each(crs: Callable[..., Ran], seed000: tuple[str, datetime]) -> None:
    shown = lines_of(crs("audit", "refusals", env=W80))
    assert len(shown) <= 1 + 3 * 4, "\n".join(shown)  # 3 refusals: a heading, then at most 4 lines each
    text = " ".join(shown)
    for rule in ("REFRACTORY_ORDER", "TOCI_MIN_INTERVAL", "ESCALATION_ORDER"):
        assert rule in text


def test_list_shows_patient_state_and_grades_in_columns_and_due_items(crs: Callable[..., Ran],
                                                                     seed000: tuple[str, datetime]) -> None:
    episode, _ = seed000
    rows = lines_of(crs("list", env=W80))
    row = next(line for line in rows if line.startswith(episode))
    assert re.match(rf"{episode}\s+DC-15\s+escalated_steroid\s+3\s+not assessed\s+\d\d-\d\d \d\d:\d\dZ$", row), row
    due = "\n".join(lines_of(crs("list", "--due", env=W80)))
    assert "OVERDUE" in due and "neuro assessment" in due
    wide = "\n".join(lines_of(crs("list", "--wide", env=W80)))
    assert "deviations" in wide and "toci" in wide


def test_list_active_and_limit(crs: Callable[..., Ran], seed000: tuple[str, datetime]) -> None:
    episode, t0 = seed000
    other = crs("open", "--patient", "P-2", "--weight-kg", "70", "--age-years", "40", "--json").json["episode"]
    crs("close", other, "--reason", "transferred", "--json")
    listed = [row["episode"] for row in crs("list", "--active", "--json").json["episodes"]]
    assert listed == [episode]
    limited = crs("list", "--limit", "1", "--json").json
    assert [row["episode"] for row in limited["episodes"]] == [other] and limited["total"] == 2
    assert "1 of 2 episodes shown" in crs("list", "--limit", "1", env=W80).stdout


def test_piped_output_is_80_columns_unless_columns_says_otherwise(crs_bin: Callable[..., Ran], db_url: str,
                                                                  seed000: tuple[str, datetime]) -> None:
    import os

    episode, _ = seed000
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    env["CRS_DB"] = db_url
    import subprocess

    from tests.cli.conftest import installed_crs

    done = subprocess.run(installed_crs() + ["history", episode], capture_output=True, text=True, env=env,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert max(len(line) for line in done.stdout.splitlines()) <= 80
    wide = crs_bin("history", episode, env={"CRS_DB": db_url, "COLUMNS": "200"}).stdout
    assert max(len(line) for line in wide.splitlines()) > 80


# -- quick to type ---------------------------------------------------------------------------------------------

def test_relative_times_are_accepted_wherever_a_time_is(crs: Callable[..., Ran]) -> None:
    episode = crs("open", "--patient", "P-1", "--weight-kg", "70", "--age-years", "40", "--at", "-2h",
                  "--json").json["episode"]
    first = crs("observe", episode, "--temp", "38.5", "--o2", "room-air", "--at", "-90m", "--json")
    assert first.code == 0, first.stdout
    assert crs("observe", episode, "--temp", "38.4", "--o2", "Room-Air", "--at", "now", "--json").code == 0
    refused = crs("observe", episode, "--temp", "38.4", "--o2", "room-air", "--at", "25:00")
    assert refused.code == 2 and "HH:MM" in refused.stderr


def test_a_clock_time_is_the_most_recent_one_not_in_the_future() -> None:
    from cli.clock import now
    from cli.values import iso_time

    current = now()
    for hhmm in ("00:00", "12:00", "23:59"):
        got = iso_time(hhmm)
        assert current - timedelta(days=1) < got <= current, (hhmm, got)
        assert got.astimezone().strftime("%H:%M") == hhmm
    assert abs((iso_time("-15m") - (current - timedelta(minutes=15))).total_seconds()) < 5
    assert abs((iso_time("-1d") - (current - timedelta(days=1))).total_seconds()) < 5
    for bad in ("24:00", "-5x", "+5m", "-15", "yesterday"):
        with pytest.raises(ValueError, match="HH:MM"):
            iso_time(bad)


@pytest.mark.parametrize(("argv", "expected"), [
    (["give", "{E}", "Tocilizamab", "--dose-mg", "400"], "did you mean 'tocilizumab'?"),
    (["act", "{E}", "Labz"], "did you mean 'labs'?"),
    (["observe", "{E}", "--o2", "hfcn"], "did you mean 'hfnc'?"),
    (["observe", "{E}", "--consciousness", "voyce"], "did you mean 'voice'?"),
    (["list", "--state", "escalated-steriod"], "did you mean 'escalated_steroid'?"),
])
def test_every_choice_suggests_the_closest_name(argv: list[str], expected: str, crs: Callable[..., Ran]) -> None:
    episode = crs("open", "--patient", "P-1", "--weight-kg", "70", "--age-years", "40", "--json").json["episode"]
    ran = crs(*(a.replace("{E}", episode) for a in argv))
    assert ran.code == 2 and expected in ran.stderr, ran.stderr
    assert len(ran.stderr.strip().splitlines()) == 1


def test_choices_are_case_insensitive(crs: Callable[..., Ran]) -> None:
    episode = crs("open", "--patient", "P-1", "--weight-kg", "70", "--age-years", "40", "--at", "-1h",
                  "--json").json["episode"]
    observed = crs("observe", episode, "--temp", "39", "--o2", "HFNC", "--o2-flow", "30", "--ice", "10",
                   "--consciousness", "Awake", "--json")
    assert observed.code == 0 and observed.json["observation"]["crs_grade"] == 3, observed.stdout
    given = crs("give", episode, "Tocilizumab", "--dose-mg", "560", "--route", "IV", "--json")
    assert given.code == 0 and given.json["state"] == "tocilizumab", given.stdout
    assert crs("act", episode, "ICU-Transfer", "--json").code == 0
    assert crs("list", "--state", "TOCILIZUMAB", "--json").json["episodes"][0]["episode"] == episode


def test_global_options_are_accepted_after_the_command(crs: Callable[..., Ran], tmp_path) -> None:  # type: ignore[no-untyped-def]
    other = f"sqlite:///{tmp_path / 'other.db'}"
    opened = crs("open", "--patient", "P-9", "--weight-kg", "70", "--age-years", "40", "--db", other,
                 "--actor", "rn.b", "--json")
    assert opened.code == 0, opened.stdout
    episode = opened.json["episode"]
    assert crs("status", episode).code == 2  # CRS_DB names another database, which does not exist
    events = crs("history", episode, "--json", f"--db={other}").json["events"]
    assert events[0]["actor"] == "rn.b"
    noted = crs("act", episode, "labs", "--note", "--db", "--db", other, "--json")  # --note's value is "--db"
    assert noted.code == 0 and noted.json["event"]["data"]["note"] == "--db", noted.stdout


def test_short_version_option(crs: Callable[..., Ran]) -> None:
    ran = crs("-V")
    assert ran.code == 0 and ran.stdout.startswith("crs-pathway ")


def test_info_names_the_database_schema_login_and_policies(crs: Callable[..., Ran]) -> None:
    # A short path, so that 80 columns show it whole: pytest-xdist's tmp_path (popen-gw0/...) was cut there.
    import shutil
    import tempfile

    folder = tempfile.mkdtemp(prefix="crs-")
    try:
        path = f"{folder}/crs.db"
        env = {"CRS_DB": f"sqlite:///{path}"}
        crs("open", "--patient", "P-1", "--weight-kg", "70", "--age-years", "40", "--json", env=env)
        shown = crs("info", "--json", env=env).json
        assert shown["file"] == path and shown["exists"] is True
        assert shown["schema"] == shown["schema_head"] and shown["login"] and "default" in shown["policies"]
        text = crs("info", env={**env, **W80}).stdout
        assert path in text and "schema" in text
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_a_first_run_lists_no_episodes_and_names_where_the_database_will_be(crs_bin: Callable[..., Ran],
                                                                            tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os

    env = {k: v for k, v in os.environ.items() if k != "CRS_DB"}
    env.update(XDG_DATA_HOME=str(tmp_path / "data"), HOME=str(tmp_path))
    import subprocess

    from tests.cli.conftest import installed_crs

    done = subprocess.run(installed_crs() + ["list"], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "No episodes yet" in done.stdout and str(tmp_path / "data") in done.stdout
    info = subprocess.run(installed_crs() + ["info", "--json"], capture_output=True, text=True, env=env, timeout=60)
    assert '"exists": false' in info.stdout
    assert not (tmp_path / "data" / "crs-pathway" / "crs.db").exists()  # reading never creates the database


def test_shell_completion_completes_commands_and_vocabularies(crs_bin: Callable[..., Ran]) -> None:
    for words, cword, expected in (("crs gi", "1", "give"), ("crs act E1 antif", "3", "antifungal-prophylaxis"),
                                   ("crs observe E1 --o2 non", "4", "non-rebreather")):
        ran = crs_bin(env={"COMP_WORDS": words, "COMP_CWORD": cword, "_CRS_COMPLETE": "complete_bash"})
        assert ran.stdout.split() == [expected], (words, ran.stdout, ran.stderr)
    assert "complete -o default -F _crs_completion crs" in crs_bin("--show-completion", env={"SHELL": "/bin/bash"}).stdout


def test_verify_reports_its_progress_and_prints_none_in_a_pipe(crs: Callable[..., Ran], db_url: str,
                                                               seed000: tuple[str, datetime]) -> None:
    from persistence import audit
    from persistence.store import Store

    store = Store.open(db_url, read_only=True)
    try:
        heard: list[tuple[int, int]] = []
        assert audit.verify(store, progress=lambda done, total: heard.append((done, total))).ok
    finally:
        store.close()
    assert heard == [(10, 10)]
    ran = crs("audit", "verify")
    assert ran.code == 0 and ran.stderr == "" and ran.stdout.startswith("OK:")



def _command_paths(command: object, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """`()` for `crs` itself, then every command and sub-command, e.g. `("audit", "verify")`."""
    paths = [prefix]
    for name, sub in getattr(command, "commands", {}).items():
        paths += _command_paths(sub, (*prefix, name))
    return paths


def test_help_at_80_columns_never_breaks_a_hyphenated_word(crs: Callable[..., Ran]) -> None:
    """Click wraps help with textwrap, which breaks at hyphens (`nasal-` / `cannula`, `--weight-` / `kg`):
    every command's --help at 80 columns keeps each hyphenated option name and vocabulary word on one line."""
    import typer

    from cli.app import app

    paths = _command_paths(typer.main.get_command(app))
    assert ("open",) in paths and ("audit", "verify") in paths
    for path in paths:
        ran = crs(*path, "--help", env=W80)
        assert ran.code == 0, (path, ran.stderr)
        shown = ran.stdout.splitlines()
        assert_fits(shown)
        assert "\u2011" not in ran.stdout  # the hyphens held while Click wraps are hyphens again
        for line, following in zip(shown, shown[1:]):
            assert not (re.search(r"\w-$", line) and re.match(r"\s*\w", following)), \
                f"crs {' '.join(path)} --help breaks a word at a hyphen:\n{line}\n{following}"
    assert "--weight-kg" in crs("open", "--help", env=W80).stdout
