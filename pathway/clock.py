"""Clinical time helpers. Nothing here reads the clock: time is always passed in."""

from datetime import datetime, timedelta, timezone

UTC = timezone.utc

#: The clinical times crs accepts from a person (`--at`, `--as-of`, `list --at`; cli/values.py iso_time):
#: no care episode is charted before 1900 or after 2200, and refusing such a time at the edge keeps every
#: deadline the core computes from it far inside what a datetime can hold (year 9999).
EARLIEST_TIME = datetime(1900, 1, 1, tzinfo=UTC)
LATEST_TIME = datetime(2200, 1, 1, tzinfo=UTC)

#: The last instant a datetime can hold: a deadline beyond it is one that never arrives.
END_OF_TIME = datetime.max.replace(tzinfo=UTC)
#: The longest interval a timedelta can hold, in hours (999,999,999 days).
_LONGEST_HOURS = timedelta.max.days * 24.0


def as_utc(value: datetime) -> datetime:
    """Return an aware UTC datetime; a naive one is refused (callers localise at the edge)."""
    if value.tzinfo is UTC:  # already UTC (every time inside the core): nothing to convert
        return value
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("time must carry a timezone (naive times are localised at the edge)")
    return value.astimezone(UTC)


def iso(value: datetime) -> str:
    """ISO 8601 in UTC with a `Z`, the form every output uses."""
    return as_utc(value).isoformat().replace("+00:00", "Z")


def span(hours: float) -> timedelta:
    """A policy's interval in hours as a timedelta, saturated at the longest one a timedelta holds.

    Policy intervals have a lower bound only, and an episode keeps the policy it was opened with, so an
    absurd figure (1e12 h) can be on record; it must read as "a very long time", never crash a status.
    """
    if not abs(hours) <= _LONGEST_HOURS:  # also NaN, which no comparison admits
        hours = -_LONGEST_HOURS if hours < 0 else _LONGEST_HOURS
    return timedelta(hours=hours)


def after(start: datetime, hours: float) -> datetime:
    """`start` plus a policy's interval, saturated at END_OF_TIME: a deadline past the last instant a
    datetime can hold never arrives, so it stays in the future of every time (never `None`, which would
    read as "no deadline", i.e. allowed now)."""
    try:
        return start + span(hours)
    except OverflowError:
        return END_OF_TIME if hours >= 0 else datetime.min.replace(tzinfo=UTC)
