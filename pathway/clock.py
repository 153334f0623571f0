"""Clinical time helpers. Nothing here reads the clock: time is always passed in."""

from datetime import datetime, timezone

UTC = timezone.utc


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
