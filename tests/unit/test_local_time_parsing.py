"""A naive local time names exactly one instant, or it is refused (CONTRACT "Time"; HAZARDS H21).

`cli.values.iso_time` reads a naive time in the process's local zone through the C library (TZ, else
/etc/localtime). The oracle here is `zoneinfo` reading the same tz database: for each naive wall time it
lists the instants whose local wall time is that input (0: the skipped hour, 1: an ordinary time, 2: the
repeated hour). The parser must return the one instant, or refuse with a sentence asking for an offset:
never a guess. The clinical time range (pathway/clock.py EARLIEST_TIME..LATEST_TIME) is checked here too.
"""

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cli import values
from cli.errors import sentence
from pathway.clock import EARLIEST_TIME, LATEST_TIME
from tests.properties.profiles import examples

#: The brief's zones (a 30-minute DST in Lord Howe), plus a whole skipped day (Apia, 2011-12-30) and a
#: DST change at midnight (São Paulo until 2019), where the skipped "hour" is 00:00-00:59.
ZONES = ("America/New_York", "Europe/London", "Australia/Lord_Howe", "UTC", "Pacific/Apia", "America/Sao_Paulo")
FIRST, LAST = datetime(2000, 1, 1), datetime(2040, 12, 31)


@contextmanager
def local_zone(name: str | None) -> Iterator[None]:
    """The process's local zone set to `name` (None: TZ unset, i.e. /etc/localtime), restored afterwards."""
    before = os.environ.get("TZ")
    try:
        if name is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = name
        time.tzset()
        yield
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()


@pytest.fixture(autouse=True)
def _zone_restored() -> Iterator[None]:
    """Whatever a test does to TZ, the next one starts from the session's own zone."""
    with local_zone(os.environ.get("TZ")):
        yield


def instants(naive: datetime, zone: ZoneInfo) -> set[datetime]:
    """The oracle: every instant whose wall time in `zone` is `naive` (PEP 495: fold 0 and fold 1)."""
    found = set()
    for fold in (0, 1):
        instant = naive.replace(tzinfo=zone, fold=fold).astimezone(timezone.utc)
        if instant.astimezone(zone).replace(tzinfo=None) == naive:
            found.add(instant)
    return found


@cache
def transitions(name: str) -> tuple[tuple[datetime, timedelta, timedelta], ...]:
    """Each change of UTC offset in `name` between FIRST and LAST: (instant, offset before, offset after)."""
    zone = ZoneInfo(name)
    out = []
    day = FIRST.replace(tzinfo=timezone.utc)
    while day < LAST.replace(tzinfo=timezone.utc):
        following = day + timedelta(days=1)
        before, after = day.astimezone(zone).utcoffset(), following.astimezone(zone).utcoffset()
        if before != after:
            low, high = day, following  # bisect to the minute the offset changes
            while high - low > timedelta(minutes=1):
                middle = low + (high - low) / 2
                low, high = (middle, high) if middle.astimezone(zone).utcoffset() == before else (low, middle)
            out.append((high, before, after))
        day = following
    return tuple(out)


@st.composite
def local_times(draw: st.DrawFn) -> tuple[str, datetime]:
    """A zone and a naive wall time in 2000-2040: half of them within 90 minutes of a clock change."""
    name = draw(st.sampled_from(ZONES))
    changes = transitions(name)
    if changes and draw(st.booleans()):
        instant, before, after = draw(st.sampled_from(changes))
        wall = instant.replace(tzinfo=None) + min(before, after)
        span = abs(after - before) + timedelta(minutes=180)
        naive = wall - timedelta(minutes=90) + timedelta(minutes=draw(st.integers(0, span // timedelta(minutes=1))))
    else:
        naive = draw(st.datetimes(min_value=FIRST, max_value=LAST)).replace(fold=0)
    return name, naive


def parse_in(zone: str | None, text: str) -> tuple[datetime | None, str | None]:
    """iso_time(text) with the process in `zone`: (instant, None) or (None, the refusal's sentence)."""
    with local_zone(zone):
        try:
            return values.iso_time(text), None
        except ValueError as refused:
            return None, str(refused)


def test_the_zones_have_the_clock_changes_the_tests_rely_on() -> None:
    """The oracle has teeth: each DST zone changes its clocks in the range (else the property is vacuous)."""
    assert len(transitions("America/New_York")) == 82 and not transitions("UTC")
    assert {after - before for _, before, after in transitions("Australia/Lord_Howe")} == {
        timedelta(minutes=30), timedelta(minutes=-30)}
    assert any(after - before == timedelta(hours=24) for _, before, after in transitions("Pacific/Apia"))


@settings(max_examples=examples(400))
@given(local_times())
def test_a_naive_time_is_the_one_instant_it_names_or_is_refused(case: tuple[str, datetime]) -> None:
    name, naive = case
    expected = instants(naive, ZoneInfo(name))
    got, refused = parse_in(name, naive.isoformat())
    if len(expected) == 1:
        assert refused is None and got == expected.pop(), (name, naive, refused)
        assert got.tzinfo is timezone.utc  # type: ignore[union-attr]
    else:
        assert got is None, f"{naive} in {name} was guessed as {got}; the instants it could be: {expected}"
        assert ("is ambiguous" if len(expected) == 2 else "does not exist") in str(refused)
        assert "offset" in str(refused) and "\n" not in str(refused)


def test_the_repeated_hour_in_new_york_is_refused_naming_both_offsets() -> None:
    got, refused = parse_in("America/New_York", "2026-11-01T01:30")
    assert got is None
    assert refused == ("'2026-11-01T01:30' is ambiguous in this machine's local zone: that hour is repeated when "
                       "the clocks go back, so it could be UTC-04:00 or UTC-05:00; give the offset, e.g. "
                       "2026-11-01T01:30-04:00 (the first time) or 2026-11-01T01:30-05:00 (the second), or a UTC "
                       "time with Z")
    assert sentence(f"Invalid value for --at: {refused}").count(".") <= 3  # one sentence, however it is framed


def test_the_skipped_hour_in_new_york_does_not_exist() -> None:
    got, refused = parse_in("America/New_York", "2026-03-08T02:30")
    assert got is None
    assert refused == ("'2026-03-08T02:30' does not exist in this machine's local zone: the clocks went forward "
                       "over it (from UTC-05:00 to UTC-04:00); give the time with its offset, e.g. "
                       "2026-03-08T02:30-05:00, or a UTC time with Z")


@pytest.mark.parametrize("zone, text, kind, offsets", [
    ("Europe/London", "2026-10-25T01:30", "is ambiguous", ("+01:00", "+00:00")),
    ("Europe/London", "2026-03-29T01:00", "does not exist", ("+00:00", "+01:00")),
    ("Australia/Lord_Howe", "2026-04-05T01:45", "is ambiguous", ("+11:00", "+10:30")),  # a 30-minute change
    ("Australia/Lord_Howe", "2026-10-04T02:15", "does not exist", ("+10:30", "+11:00")),
    ("Pacific/Apia", "2011-12-30T12:00", "does not exist", ("-10:00", "+14:00")),  # the whole day skipped
])
def test_other_zones_refuse_their_own_repeated_and_skipped_times(zone: str, text: str, kind: str,
                                                                 offsets: tuple[str, str]) -> None:
    got, refused = parse_in(zone, text)
    assert got is None and kind in str(refused)
    assert all(f"UTC{offset}" in str(refused) for offset in offsets), refused


@pytest.mark.parametrize("zone, text, expected", [
    ("America/New_York", "2026-07-01T09:15", datetime(2026, 7, 1, 13, 15, tzinfo=timezone.utc)),
    ("America/New_York", "2026-11-01T00:59:59", datetime(2026, 11, 1, 4, 59, 59, tzinfo=timezone.utc)),
    ("America/New_York", "2026-11-01T02:00", datetime(2026, 11, 1, 7, 0, tzinfo=timezone.utc)),
    ("America/New_York", "2026-03-08T03:00", datetime(2026, 3, 8, 7, 0, tzinfo=timezone.utc)),
    ("Australia/Lord_Howe", "2026-04-05T02:00", datetime(2026, 4, 4, 15, 30, tzinfo=timezone.utc)),
    ("UTC", "2026-11-01T01:30", datetime(2026, 11, 1, 1, 30, tzinfo=timezone.utc)),
])
def test_an_unambiguous_naive_time_is_still_read_in_the_local_zone(zone: str, text: str, expected: datetime) -> None:
    assert parse_in(zone, text) == (expected, None)


def test_an_explicit_offset_settles_the_repeated_hour() -> None:
    assert parse_in("America/New_York", "2026-11-01T01:30-05:00") == (
        datetime(2026, 11, 1, 6, 30, tzinfo=timezone.utc), None)
    assert parse_in("America/New_York", "2026-11-01T01:30-04:00") == (
        datetime(2026, 11, 1, 5, 30, tzinfo=timezone.utc), None)
    assert parse_in("America/New_York", "2026-11-01T05:30Z")[0] == datetime(2026, 11, 1, 5, 30, tzinfo=timezone.utc)


def test_a_naive_datetime_object_gets_the_same_checks_as_text() -> None:
    with local_zone("America/New_York"):
        with pytest.raises(ValueError, match="is ambiguous"):
            values.iso_time(datetime(2026, 11, 1, 1, 30))
        assert values.iso_time(datetime(2026, 7, 1, 9, 15)) == datetime(2026, 7, 1, 13, 15, tzinfo=timezone.utc)


def _machine_zone() -> ZoneInfo | None:
    """The zone /etc/localtime names (a link into a zoneinfo tree), or None if it names none."""
    try:
        target = str(Path("/etc/localtime").resolve())
    except OSError:
        return None
    if "zoneinfo/" not in target:
        return None
    try:
        return ZoneInfo(target.split("zoneinfo/", 1)[1])
    except (ValueError, OSError):
        return None


@settings(max_examples=examples(100))
@given(st.datetimes(min_value=FIRST, max_value=LAST))
def test_with_tz_unset_the_machine_zone_decides(naive: datetime) -> None:
    naive = naive.replace(fold=0)
    got, refused = parse_in(None, naive.isoformat())
    zone = _machine_zone()
    if zone is not None:
        expected = instants(naive, zone)
        assert (got, refused is None) == ((expected.pop(), True) if len(expected) == 1 else (None, False))
    if got is not None:  # whatever the zone: the instant's local wall time is the input
        with local_zone(None):
            assert got.astimezone().replace(tzinfo=None) == naive


# -- the clinical time range ---------------------------------------------------------------------

@pytest.mark.parametrize("text", ["1900-01-01T00:00:00Z", "2200-01-01T00:00:00Z", "1900-01-01T01:00:00+01:00",
                                  "2199-12-31T19:00:00-05:00"])
def test_the_edges_of_the_clinical_time_range_are_accepted(text: str) -> None:
    assert EARLIEST_TIME <= values.iso_time(text) <= LATEST_TIME


@pytest.mark.parametrize("text", ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "0001-01-01", "1899-12-31T23:59:59Z",
                                  "2200-01-01T00:00:01Z", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00",
                                  "9999-12-31T23:59:59.999999"])
def test_times_outside_the_clinical_range_are_refused_naming_it(text: str) -> None:
    for zone in ("America/New_York", "Australia/Lord_Howe", None):
        got, refused = parse_in(zone, text)
        assert got is None
        assert refused == (f"{text!r} is outside the clinical time range crs accepts: give a time from 1900-01-01 to "
                           "2200-01-01 (UTC)")


@settings(max_examples=examples(300))
@given(st.datetimes(timezones=st.none() | st.builds(
    timezone, st.integers(-86_340, 86_340).map(lambda s: timedelta(seconds=s)))), st.sampled_from(ZONES))
def test_any_representable_time_is_accepted_in_range_or_refused_with_a_value_error(moment: datetime,
                                                                                   zone: str) -> None:
    got, refused = parse_in(zone, moment.isoformat())  # never OverflowError, OSError or anything else
    assert (got is None) != (refused is None)
    if got is not None:
        assert EARLIEST_TIME <= got <= LATEST_TIME
