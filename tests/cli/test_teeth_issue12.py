"""Teeth for the CLI-side input controls docs/SAFETY.md names (issue 12): ONE control off, the evidence fails.

As in test_teeth_cli.py: the check the evidence makes runs through the app in-process (Typer's CliRunner on the
real app, a real SQLite file), first with the control switched off by monkeypatch (the check fails), then, the
patch undone, with the control on (the same check passes).

| hazard | test                                   | control switched off                                         |
| ------ | -------------------------------------- | ------------------------------------------------------------ |
| H3     | test_teeth_h3_a_repeated_hour_is_never | cli.values._local_instant reads a naive time by one reading  |
|        | _guessed                               | (the later offset, fold=1) instead of refusing two           |
| H26    | test_teeth_h26_the_weight_range[...]   | the weight range of `crs open` (the CLI's --weight-kg parser |
|        |                                        | and pathway.commands.OpenEpisode's Field, one at a time and  |
|        |                                        | both)                                                        |

The evidence of H3 (tests/cli/test_local_times.py) runs `python -m cli` with TZ set, a process the monkeypatch
cannot reach: here the same command runs in-process with TZ set and time.tzset(), and the same assertions judge it.
H26's range is spelled twice, by the CLI (values.number(0.5, 350)) and by the core (OpenEpisode: weight 0.5-350 kg,
for any caller of the pathway): with either one off the other still refuses 351 kg as exit 2 naming --weight-kg
and 350 (the evidence passes); with both off, 351 kg opens an episode and the evidence fails.
"""

import os
import time
import typing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import pytest
from pydantic import Field
from typer.testing import CliRunner

import pathway.commands
from cli import values
from cli.app import app
from cli.commands import steps
from tests.cli import test_exit_codes as exit_code_evidence
from tests.cli.conftest import ACTOR, Ran, one_sentence
from tests.cli.test_local_times import NEW_YORK, dosed, record  # noqa: F401  (a fixture, and its helper)

pytestmark = pytest.mark.teeth


@contextmanager
def local_zone(zone: str) -> Iterator[None]:
    """This process's local zone is `zone` (TZ and the C library's tzset) for the block; restored after."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = zone
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()


def crs_in_zone_here(db_url: str, zone: str, *args: str) -> Ran:
    """test_local_times.crs_in_zone, in-process: `crs ARGS` with the local zone `zone`."""
    with local_zone(zone):
        result = CliRunner().invoke(app, list(args), env={"CRS_DB": db_url, "CRS_ACTOR": ACTOR, "NO_COLOR": "1"})
    return Ran(result.exit_code, result.stdout, result.stderr)


def repeated_hour_is_refused(crs: Callable[..., Ran], db_url: str, episode: str) -> None:
    """The evidence of test_local_times.py test_repeated_hour_tocilizumab_dose_is_not_guessed_as_edt: in New York
    the naive 2026-11-01T01:30 is 7 h 05 (EDT) or 8 h 05 (EST) after the first dose; it is refused (exit 2),
    naming both offsets, and nothing is written, no event and no refusal."""
    before = record(crs, episode)
    ran = crs_in_zone_here(db_url, NEW_YORK, "give", episode, "tocilizumab", "--dose-mg", "560", "--at",
                           "2026-11-01T01:30")
    assert ran.code == 2, (ran.code, ran.stdout, ran.stderr)
    assert one_sentence(ran.stderr) and ran.stdout == ""
    assert "--at" in ran.stderr and "'2026-11-01T01:30' is ambiguous" in ran.stderr
    assert "UTC-04:00 or UTC-05:00" in ran.stderr and "2026-11-01T01:30-05:00" in ran.stderr
    assert record(crs, episode) == before
    assert before[1]["refusals"] == []


def _one_reading(naive: datetime, raw: str) -> datetime:
    """The regression H3 names: the wall time read by the C library's later offset, whatever else it could be."""
    return naive.replace(fold=1).astimezone()


def test_teeth_h3_a_repeated_hour_is_never_guessed(crs: Callable[..., Ran], db_url: str, dosed: str,  # noqa: F811
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """cli.values._local_instant guessing the later offset (EST): the second tocilizumab dose at 01:30 in the repeated
    hour is recorded as 8 h 05 after the first, though it may be 7 h 05: the evidence fails (exit 0, not 2)."""
    monkeypatch.setattr(values, "_local_instant", _one_reading)
    with pytest.raises(AssertionError, match=r"^\(0, 'Recorded #4 give tocilizumab 560 mg"):  # exit 0: accepted
        repeated_hour_is_refused(crs, db_url, dosed)
    history = crs("history", dosed, "--json").json
    assert [e["at"] for e in history["events"] if e["kind"] == "give"][-1] == "2026-11-01T06:30:00Z"


def test_teeth_h3_the_repeated_hour_check_on(crs: Callable[..., Ran], db_url: str, dosed: str) -> None:  # noqa: F811
    """The control on: the same in-process check passes (so the teeth test above is not vacuous)."""
    repeated_hour_is_refused(crs, db_url, dosed)


def _weight_parser() -> Any:
    """The OptionInfo of `crs open --weight-kg` (Typer reads its parser each time it builds the command)."""
    return typing.get_type_hints(steps.open_episode, include_extras=True)["weight_kg"].__metadata__[0]


def cli_range_off(mp: pytest.MonkeyPatch) -> None:
    mp.setattr(_weight_parser(), "parser", float)


def core_range_off(mp: pytest.MonkeyPatch) -> None:
    class AnyWeight(pathway.commands.OpenEpisode):
        weight_kg: float = Field(gt=0, le=1e9)

    mp.setattr(pathway.commands, "OpenEpisode", AnyWeight)


def both_ranges_off(mp: pytest.MonkeyPatch) -> None:
    cli_range_off(mp)
    core_range_off(mp)


WEIGHT_351 = (["open", "--patient", "P", "--weight-kg", "351", "--age-years", "40"], "350")
#: case -> (switch off, whether the evidence must then fail)
H26_CASES: dict[str, tuple[Callable[[pytest.MonkeyPatch], None], bool]] = {
    "cli-range-off": (cli_range_off, False),  # the core refuses: exit 2, "--weight-kg", "350"
    "core-range-off": (core_range_off, False),  # the CLI refuses
    "both-ranges-off": (both_ranges_off, True),  # 351 kg opens an episode
}


@pytest.mark.parametrize("case", list(H26_CASES))
def test_teeth_h26_the_weight_range(case: str, crs: Callable[..., Ran], monkeypatch: pytest.MonkeyPatch) -> None:
    """The weight 351 case of test_exit_2_invalid_names_the_option: with the range off at both layers, 351 kg is
    accepted (the evidence fails: an episode is opened); with one layer off, the other still refuses it."""
    args, needle = WEIGHT_351
    switch_off, fails = H26_CASES[case]
    switch_off(monkeypatch)
    if fails:
        with pytest.raises(AssertionError):
            exit_code_evidence.test_exit_2_invalid_names_the_option(crs, args, needle)
        assert crs(*args).code == 0, "351 kg opens an episode"
    else:
        exit_code_evidence.test_exit_2_invalid_names_the_option(crs, args, needle)
        assert "--weight-kg" in crs(*args).stderr
    monkeypatch.undo()
    exit_code_evidence.test_exit_2_invalid_names_the_option(crs, args, needle)
